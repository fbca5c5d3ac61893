"use strict";
// The doc runners' own machinery (doc_examples.js): marker extraction and shape matching, on fixed inputs, so a
// runner cannot pass because its comparison accepts everything. usage: node doc_examples.test.js
const assert = require("node:assert/strict");
const { extractExamples, matchShape } = require("./doc_examples");

let passed = 0;
function test(name, fn) {
  fn();
  passed++;
  console.log("ok " + passed + " - " + name);
}
const ok = (shape, value) => assert.deepEqual(matchShape(shape, value), [], `${shape} should accept ${JSON.stringify(value)}`);
const bad = (shape, value, pattern) => {
  const errors = matchShape(shape, value);
  assert.ok(errors.length > 0, `${shape} should refuse ${JSON.stringify(value)}`);
  if (pattern) assert.match(errors.join("\n"), pattern);
};

test("marked blocks are extracted in order, indentation removed; unmarked ones are not", () => {
  const doc = [
    "# t", "```sh", "echo unmarked", "```",
    "<!-- example: sh -->", "```sh", "echo one", "```", "text",
    "1. item", "   <!-- example: file ~/a.txt -->", "   ```", "   line", "     indented", "   ```",
    "<!-- example: output contains -->", "~~~", "x", "~~~",
  ].join("\n");
  const ex = extractExamples(doc);
  assert.deepEqual(ex.map((e) => [e.kind, e.args, e.code]), [
    ["sh", [], "echo one\n"], ["file", ["~/a.txt"], "line\n  indented\n"], ["output", ["contains"], "x\n"],
  ]);
  assert.equal(ex[0].line, 6);
});

test("a marker without a block, an unclosed block or a malformed marker is an error", () => {
  assert.throws(() => extractExamples("<!-- example: sh -->\ntext\n```sh\necho\n```\n"), /not followed by a fenced block/);
  assert.throws(() => extractExamples("<!-- example: sh -->\n```sh\necho\n"), /not closed/);
  assert.throws(() => extractExamples("<!-- example sh -->\n```sh\necho\n```\n"), /malformed/);
});

test("objects: named keys required, extra keys allowed, keys-only members", () => {
  ok('{"a":1,"b":"x"}', { a: 5, b: "x", c: true });
  ok('{"identifier","value"}', { identifier: "u1", value: null });
  bad('{"identifier","value"}', { identifier: "u1" }, /no member "value"/);
  bad('{"a":{"b":"x"}}', { a: { b: "y" } }, /\$\.a\.b: expected "x"/);
  bad('{"a":1}', [1], /expected an object/);
  ok('{"kinds":{"product":{"description":…,"applies_to":[…]},"price":{…}}}', { kinds: { product: { description: "d", applies_to: [] }, price: {} } });
  bad('{"kinds":{"product":{"applies_to":[…]}}}', { kinds: { product: { applies_to: "x" } } }, /expected an array/);
});

test("strings with … match by the text around it; others exactly", () => {
  ok('"in_…"', "in_123");
  bad('"in_…"', "cus_123", /like "in_…"/);
  ok('"pi_…_secret_…"', "pi_1_secret_2");
  bad('"pi_…_secret_…"', "pi_12", /like/);
  ok('"https://…"', "https://x.test/a");
  ok('"…"', "");
  bad('"…"', 3, /expected a string/);
  bad('"open"', "draft", /expected "open"/);
  ok('"sk_test_****abcd"', "sk_test_****abcd");
});

test("numbers by type, literals exactly, … anything, alternatives", () => {
  ok("1500", 7);
  bad("1500", "1500", /expected a number/);
  ok("false", false);
  bad("false", true, /expected false/);
  bad("null", 0);
  ok("…", null);
  ok('{"x":"a"|"b"}', { x: "b" });
  bad('{"x":"a"|"b"}', { x: "c" }, /nor any other/);
});

test("arrays: elements in order, at least as many as shown", () => {
  ok('[{"ok":true,"invoice_id":"in_…"}]', [{ ok: true, invoice_id: "in_1" }, { ok: false }]);
  bad('[{"ok":true}]', [], /at least 1/);
  bad('[{"ok":true}]', [{ ok: false }], /\$\[0\]\.ok/);
  ok("[…]", []);
  ok('["a",…]', ["a", "b", "c"]);
});

test("a malformed shape is an error, not a match", () => {
  assert.throws(() => matchShape('{"a":', {}), /shape/);
  assert.throws(() => matchShape('{"a" 1}', {}), /shape/);
  assert.throws(() => matchShape("{} trailing", {}), /after the shape/);
});

console.log(`PASS: ${passed} cases`);
