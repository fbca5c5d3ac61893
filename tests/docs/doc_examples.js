"use strict";
// What the doc runners share (tests/docs/*.test.js): the examples a Markdown file marks, and the comparison of
// a real answer with the shape the doc prints.
//
// Marking. An HTML comment `<!-- example: KIND [ARG ...] -->` alone on a line, right before a fenced block
// (``` or ~~~, indented or not: blocks inside list items work), marks that block as an example of KIND. Only
// marked blocks run, so prose and unmarked blocks can change freely; a marker that is not followed by a fenced
// block, or an unclosed fence, is an error (a prose edit cannot silently detach an example from its test).
// What each KIND means is up to the runner (see the top of each *.test.js).
//
// Shapes. A doc prints answers as JSON with elisions, e.g.
//   {"invoice_id":"in_…","created":[…],"kinds":{"product":{…}},"expires_at":…,"status":"a"|"b"}
//   {"identifier","event_name","duplicate"}          (keys only)
// matchShape(shapeText, actual) checks, recursively:
//   - an object: `actual` is an object with every key the shape names (extra keys are fine); `"key"` alone
//     only asks for presence, `"key": shape` also checks the value; a member `…` is allowed and ignored;
//   - an array: `actual` is an array with at least as many elements as the shape lists (`…` elements
//     aside), each matching in order; `[…]` is any array;
//   - `…` alone: anything (null included);
//   - a string: equal, or with `…` in it, a string with the same text around the `…` (`"in_…"` = starts
//     with in_, `"…"` = any string);
//   - a number: any number (amounts, times and counts vary; write the value you expect in the prose);
//   - true, false, null: equal;
//   - a | b: either.
// Errors name the path (`$.results[0].invoice_id`).
const ELLIPSIS = "…";

// -> [{kind, args, lang, code, line, indent}] in document order. Throws on a detached marker or an open fence.
function extractExamples(text, file = "doc") {
  const lines = text.split("\n");
  const out = [];
  const markerRe = /^(\s*)<!--\s*example:\s*([a-z-]+)((?:\s+[^\s]+)*)\s*-->\s*$/;
  for (let i = 0; i < lines.length; i++) {
    const m = markerRe.exec(lines[i]);
    if (!m) {
      if (/^\s*<!--\s*example\b/.test(lines[i])) throw new Error(`${file}:${i + 1}: malformed example marker: ${lines[i].trim()}`);
      continue;
    }
    const fence = /^(\s*)(```+|~~~+)\s*([^\s`]*)\s*$/.exec(lines[i + 1] || "");
    if (!fence) throw new Error(`${file}:${i + 1}: example marker "${m[2]}" is not followed by a fenced block`);
    const indent = fence[1].length;
    const body = [];
    let j = i + 2;
    for (; j < lines.length; j++) {
      const close = /^(\s*)(```+|~~~+)\s*$/.exec(lines[j]);
      if (close && close[2].startsWith(fence[2][0]) && close[2].length >= fence[2].length) break;
      // Remove the fence's indentation (blocks inside list items), never more than the line has.
      const lead = /^ */.exec(lines[j])[0].length;
      body.push(lines[j].slice(Math.min(lead, indent)));
    }
    if (j >= lines.length) throw new Error(`${file}:${i + 2}: the fenced block of example "${m[2]}" is not closed`);
    out.push({ kind: m[2], args: m[3].trim() ? m[3].trim().split(/\s+/) : [], lang: fence[3], code: body.join("\n") + "\n", line: i + 2 });
    i = j;
  }
  return out;
}

// ---- shapes -------------------------------------------------------------------------------------------------

// Parses shape text (JSON plus `…`, keys-only members and `|`) into a tree; throws with the offset on bad text.
function parseShape(text) {
  let i = 0;
  const fail = (what) => { throw new Error(`shape: ${what} at offset ${i}: ${JSON.stringify(text.slice(Math.max(0, i - 20), i + 20))}`); };
  const space = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const literal = (word) => text.startsWith(word, i) && ((i += word.length), true);
  function str() {
    if (text[i] !== '"') fail("expected a string");
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
    if (j >= text.length) fail("unterminated string");
    const value = JSON.parse(text.slice(i, j + 1));
    i = j + 1;
    return value;
  }
  function one() {
    space();
    const c = text[i];
    if (c === "{") {
      i++;
      const keys = {};
      space();
      if (text[i] === "}") { i++; return { t: "object", keys }; }
      for (;;) {
        space();
        if (literal(ELLIPSIS)) {
          // "…" as a member: more members allowed (always true)
        } else {
          const key = str();
          space();
          if (text[i] === ":") { i++; keys[key] = value(); } else keys[key] = { t: "any" };
        }
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "}") { i++; return { t: "object", keys }; }
        fail("expected , or }");
      }
    }
    if (c === "[") {
      i++;
      const items = [];
      let open = false;
      space();
      if (text[i] === "]") { i++; return { t: "array", items, open }; }
      for (;;) {
        space();
        if (literal(ELLIPSIS)) open = true; else items.push(value());
        space();
        if (text[i] === ",") { i++; continue; }
        if (text[i] === "]") { i++; return { t: "array", items, open }; }
        fail("expected , or ]");
      }
    }
    if (c === '"') return { t: "string", value: str() };
    if (literal(ELLIPSIS)) return { t: "any" };
    if (literal("true")) return { t: "literal", value: true };
    if (literal("false")) return { t: "literal", value: false };
    if (literal("null")) return { t: "literal", value: null };
    const num = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (num) { i += num[0].length; return { t: "number" }; }
    fail("unexpected text");
  }
  function value() {
    const alternatives = [one()];
    space();
    while (text[i] === "|") { i++; alternatives.push(one()); space(); }
    return alternatives.length === 1 ? alternatives[0] : { t: "either", alternatives };
  }
  const tree = value();
  space();
  if (i !== text.length) fail("text after the shape");
  return tree;
}

function describe(v) {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 120 ? s.slice(0, 117) + "..." : s;
}

// Appends to `errors` every way `actual` differs from `shape` (a parsed tree).
function compare(shape, actual, path, errors) {
  switch (shape.t) {
    case "any":
      return;
    case "literal":
      if (actual !== shape.value) errors.push(`${path}: expected ${describe(shape.value)}, got ${describe(actual)}`);
      return;
    case "number":
      if (typeof actual !== "number") errors.push(`${path}: expected a number, got ${describe(actual)}`);
      return;
    case "string": {
      if (typeof actual !== "string") { errors.push(`${path}: expected a string, got ${describe(actual)}`); return; }
      const parts = shape.value.split(ELLIPSIS);
      if (parts.length === 1) {
        if (actual !== shape.value) errors.push(`${path}: expected ${describe(shape.value)}, got ${describe(actual)}`);
        return;
      }
      let ok = actual.startsWith(parts[0]) && actual.length >= parts[0].length + parts[parts.length - 1].length;
      let at = parts[0].length;
      for (let k = 1; ok && k < parts.length - 1; k++) {
        const found = actual.indexOf(parts[k], at);
        if (found < 0) ok = false; else at = found + parts[k].length;
      }
      if (ok && !actual.slice(at).endsWith(parts[parts.length - 1])) ok = false;
      if (!ok) errors.push(`${path}: expected a string like ${describe(shape.value)}, got ${describe(actual)}`);
      return;
    }
    case "object":
      if (actual === null || typeof actual !== "object" || Array.isArray(actual)) {
        errors.push(`${path}: expected an object, got ${describe(actual)}`);
        return;
      }
      for (const [key, sub] of Object.entries(shape.keys)) {
        if (!(key in actual)) errors.push(`${path}: no member ${JSON.stringify(key)} (has ${Object.keys(actual).join(", ") || "none"})`);
        else compare(sub, actual[key], `${path}.${key}`, errors);
      }
      return;
    case "array":
      if (!Array.isArray(actual)) { errors.push(`${path}: expected an array, got ${describe(actual)}`); return; }
      if (actual.length < shape.items.length) errors.push(`${path}: expected at least ${shape.items.length} element(s), got ${actual.length}`);
      shape.items.forEach((sub, k) => { if (k < actual.length) compare(sub, actual[k], `${path}[${k}]`, errors); });
      return;
    case "either": {
      const tries = shape.alternatives.map((alt) => { const e = []; compare(alt, actual, path, e); return e; });
      if (!tries.some((e) => e.length === 0)) errors.push(...tries[0], `${path}: (nor any other alternative)`);
      return;
    }
    default:
      throw new Error("unknown shape node " + shape.t);
  }
}

// [] when `actual` (a parsed JSON value) has the shape `shapeText`; else the differences.
function matchShape(shapeText, actual) {
  const errors = [];
  compare(parseShape(shapeText.trim()), actual, "$", errors);
  return errors;
}

module.exports = { ELLIPSIS, extractExamples, parseShape, matchShape };
