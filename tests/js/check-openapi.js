#!/usr/bin/env node
// Independent checks of docs/openapi.yaml with public npm packages (pinned by package-lock.json):
//   node check-openapi.js DOC                      validates DOC with @apidevtools/swagger-parser (OpenAPI 3.1
//                                                  schema, $refs resolve)
//   node check-openapi.js DOC --responses FILE     also validates real responses recorded by the host's tests
//                                                  (JSON lines: {"method","path","status","content_type","body"})
//                                                  against the operation's response schema, with ajv (JSON
//                                                  Schema 2020-12, the dialect of OpenAPI 3.1)
// Exit 0 when everything holds, 1 with one line per problem otherwise, 2 on usage errors.
'use strict';

const fs = require('fs');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;

function usage() {
  console.error('usage: check-openapi.js DOC [--responses FILE]');
  process.exit(2);
}

// Path templates of the document as matchers: "{name}" is one segment, except a final parameter whose
// description says it spans segments (x-ihost-rest: true on the parameter), which matches the rest.
function compilePaths(doc) {
  const out = [];
  for (const [template, item] of Object.entries(doc.paths || {})) {
    const segments = template.split('/').filter((s) => s.length > 0);
    const rest = new Set();
    for (const op of Object.values(item)) {
      for (const p of (op && op.parameters) || []) if (p['x-ihost-rest']) rest.add(p.name);
    }
    for (const p of item.parameters || []) if (p['x-ihost-rest']) rest.add(p.name);
    const literal = segments.filter((s) => !s.startsWith('{')).length;
    out.push({ template, item, segments, rest, literal });
  }
  return out;
}

function matchPath(paths, path) {
  const parts = path.split('/').filter((s) => s.length > 0);
  let best = null;
  for (const p of paths) {
    let ok = true;
    let i = 0;
    for (; i < p.segments.length && ok; ++i) {
      const seg = p.segments[i];
      const isParam = seg.startsWith('{') && seg.endsWith('}');
      if (isParam && p.rest.has(seg.slice(1, -1)) && i === p.segments.length - 1) {
        ok = parts.length > i;
        i = parts.length;
        break;
      }
      if (i >= parts.length) ok = false;
      else if (!isParam && seg !== parts[i]) ok = false;
    }
    if (ok && i === p.segments.length && parts.length !== p.segments.length) {
      ok = p.segments.length > 0 && p.rest.has(p.segments[p.segments.length - 1].slice(1, -1));
    }
    if (ok && (best === null || p.literal > best.literal)) best = p;
  }
  return best;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length !== 1 && !(args.length === 3 && args[1] === '--responses')) usage();
  const docPath = args[0];
  const problems = [];

  // validate() checks against the OpenAPI 3.1 JSON schema and dereferences; it mutates its input, so parse
  // a second copy for the response checks.
  try {
    await SwaggerParser.validate(docPath);
  } catch (err) {
    console.error(`${docPath}: not a valid OpenAPI document: ${err.message}`);
    process.exit(1);
  }
  const api = await SwaggerParser.dereference(docPath);
  if (!String(api.openapi).startsWith('3.1')) problems.push(`${docPath}: openapi is ${api.openapi}, expected 3.1.x`);
  let operations = 0;
  for (const item of Object.values(api.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'delete', 'patch', 'head', 'options'].includes(method)) continue;
      ++operations;
      if (!op.operationId) problems.push(`${method.toUpperCase()} operation without operationId`);
      if (!op.responses || Object.keys(op.responses).length === 0)
        problems.push(`${op.operationId || method}: no responses`);
    }
  }

  if (args.length === 3) {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    const paths = compilePaths(api);
    // No file: no case that records ran (a ctest subset without the integration or hostile suites).
    const text = fs.existsSync(args[2]) ? fs.readFileSync(args[2], 'utf8') : '';
    const lines = text.split('\n').filter((l) => l.trim().length > 0);
    const compiled = new Map();
    const errorSchema = api.components && api.components.schemas && api.components.schemas.Error;
    if (!errorSchema) problems.push(`${docPath}: no components.schemas.Error (the error envelope)`);
    const errorEnvelope = errorSchema ? ajv.compile(errorSchema) : null;
    const isJson = (r) => {
      try {
        JSON.parse(r.body);
        return true;
      } catch (err) {
        return false;
      }
    };
    let unrouted = 0;
    let checked = 0;
    const seen = new Set();
    for (const line of lines) {
      const r = JSON.parse(line);
      const where = `${r.method} ${r.path} -> ${r.status}`;
      const p = matchPath(paths, r.path);
      const op = p ? p.item[r.method.toLowerCase()] : undefined;
      if (!op) {
        // No route: the server's own 404/405 (or a refusal before routing: 400, 408, 413, 431, 503), which
        // must still be the error envelope.
        if (r.status >= 400 && errorEnvelope && isJson(r) && errorEnvelope(JSON.parse(r.body))) {
          ++checked;
          ++unrouted;
        } else if (!p) {
          problems.push(`${where}: no path in the document matches, and the answer is not an error envelope`);
        } else {
          problems.push(`${where}: ${p.template} has no ${r.method} operation, and the answer is not an error envelope`);
        }
        continue;
      }
      const response = op.responses[String(r.status)] || op.responses[`${String(r.status)[0]}XX`] || op.responses.default;
      if (!response) {
        problems.push(`${where}: ${op.operationId} documents no ${r.status} response`);
        continue;
      }
      const contentType = (r.content_type || '').split(';')[0].trim();
      if (!response.content) {
        if (r.body && r.body.length > 0 && r.status !== 204)
          problems.push(`${where}: ${op.operationId} documents no body for ${r.status}, got ${contentType}`);
        ++checked;
        continue;
      }
      const media = response.content[contentType] || response.content[`${contentType.split('/')[0]}/*`] ||
                    response.content['*/*'];
      if (!media) {
        problems.push(`${where}: ${op.operationId} ${r.status} has no ${contentType} content`);
        continue;
      }
      seen.add(`${op.operationId} ${r.status}`);
      ++checked;
      if (contentType !== 'application/json' || !media.schema || r.truncated) continue;
      const key = `${op.operationId} ${r.status}`;
      if (!compiled.has(key)) compiled.set(key, ajv.compile(media.schema));
      const validate = compiled.get(key);
      let body;
      try {
        body = JSON.parse(r.body);
      } catch (err) {
        problems.push(`${where}: body is not JSON: ${err.message}`);
        continue;
      }
      if (!validate(body)) {
        const errs = validate.errors.slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
        problems.push(`${where}: body does not match ${op.operationId}'s ${r.status} schema: ${errs}: ${r.body.slice(0, 300)}`);
      }
    }
    console.log(`responses: ${checked} checked against the document (${seen.size} operation/status pairs, ` +
                `${unrouted} error answers outside any documented operation)`);
  }

  const unique = [...new Set(problems)];
  for (const p of unique) console.log(`FAIL ${p}`);
  console.log(`${docPath}: OpenAPI ${api.openapi}, ${Object.keys(api.paths || {}).length} paths, ${operations} operations, ${unique.length} problems`);
  process.exit(unique.length === 0 ? 0 : 1);
}

main().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
