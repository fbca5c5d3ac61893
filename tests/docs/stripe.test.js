"use strict";
// Runs the examples of docs/stripe.md against a real `ihost serve` (stripe_byok and stripe_connect loaded) and
// the Stripe test double (`stripe-double`), in document order, on a fresh host and double. Exit 0 = every
// example answered as the doc says, 1 = one did not.
//
// The doc marks its examples (tests/docs/doc_examples.js: `<!-- example: KIND -->` before a fenced block):
//   config  a TOML block of settings: appended to the server's ihost.toml before it starts (all of them,
//           whatever their place in the doc), with the URLs that must point at the double or this host
//           overridden from the environment, as an operator overrides settings (IHOST_INTEGRATIONS__<ID>__<KEY>):
//           api_base_url and connect_base_url -> the double; redirect_url -> this host's callback;
//           success_url -> this host's /admin. The Connect platform key comes from the environment, as the doc
//           says it should.
//   http    one or more requests in the doc's plain-HTTP notation, each sent with the tenant's key
//           (`Authorization: Bearer ihk_…`):
//               METHOD /path?query [{"json":"body"}]
//               {"json":"body"}                 optional (or on the request line), may span lines; `  # comment`
//                                               at a line's end is dropped
//               → STATUS SHAPE                  STATUS optional (default 200); SHAPE may span lines
//           The answer must have that status and match SHAPE (doc_examples.js matchShape: keys and types, `…`
//           for what varies). A GET that does not match yet is asked again for up to 10 s (records and events
//           arrive through webhooks, asynchronously).
// Placeholders in a request's path and body are resolved before it is sent:
//   sk_test_…   the tenant's Stripe test secret key, seeded in the double (kSecretKey below: it ends in "abcd",
//               so the masked key the doc prints, sk_test_****abcd, is the real answer)
//   pk_test_…   its publishable key (ends in "wxyz")
//   whsec_…     the signing secret of a webhook endpoint the runner creates at the double, before the first
//               example, for $IHOST/webhooks/stripe/<tenant id> (what `setup` would create): so Stripe's
//               webhooks reach the host and become records
//   ca_…        (in config blocks) the double's Connect client id
//   ten_…       the tenant's id; $IHOST the host's URL
//   <prefix>_…  any other (cus_…, in_…, pi_…, price_…, prod_…): the newest id with that prefix (then letters
//               and digits only: a client secret pi_…_secret_… is not a pi_ id) in an earlier answer (newest
//               answer first; in one answer, the first in document order)
// In answers, the double's own base URL (http://127.0.0.1:<port>, where it serves the hosted invoice, Checkout and
// portal pages) reads as https://stripe.double, so the doc's "https://…" matches it as it matches Stripe's URLs.
// A `…` left after that (e.g. `"idempotency_key":"…"`) fails the test: a marked example must be runnable as
// written. After an answer with a `url` to GET /api/integrations/stripe_connect/oauth/start, the runner does what
// the account owner's browser does: opens the url at the double, clicks "Connect", follows the redirect to the
// host's callback (so the Connect examples after it act on a connected account).
// The doc must hold config and http examples (deleting the markers cannot make the test pass vacuously).
//
// usage: node stripe.test.js --ihost BIN --double BIN --plugins DIR [--doc FILE] [--keep] [--verbose]
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { ELLIPSIS, extractExamples, matchShape } = require("./doc_examples");

const args = { keep: false, verbose: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, "");
  if (a === "keep" || a === "verbose") args[a] = true; else args[a] = process.argv[++i];
}
for (const k of ["ihost", "double", "plugins"]) if (!args[k]) { console.error("missing --" + k); process.exit(2); }
const docPath = path.resolve(args.doc || path.join(__dirname, "../../docs/stripe.md"));
const docName = path.basename(docPath);

const kSecretKey = "sk_test_ihostdocsexample00abcd";
const kPublishableKey = "pk_test_ihostdocsexample00wxyz";
const kPlatformKey = "sk_test_ihostdocsplatform0001";
const kClientId = "ca_ihostdocsplatform0001";
const kGetRetryMs = 10000;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ihost-doc-stripe-"));
fs.chmodSync(work, 0o700);
const children = [];

function where(ex) { return `${docName}:${ex.line}`; }

function startProcess(bin, argv, match, label, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.label = label;
    child.tail = [];
    children.push(child);
    let done = false;
    const timer = setTimeout(() => { if (!done) { done = true; reject(new Error(label + " did not start within 20 s")); } }, 20000);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        child.tail.push(line);
        if (child.tail.length > 200) child.tail.shift();
        if (done) return;
        const value = match(line);
        if (value) { done = true; clearTimeout(timer); resolve(value); }
      });
    }
    child.on("exit", (code) => {
      if (!done) { done = true; clearTimeout(timer); reject(new Error(`${label} exited with ${code}:\n${child.tail.join("\n")}`)); }
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// `value` with every string's leading `from` replaced by `to` (the double's URLs as the doc shows them).
function rebase(value, from, to) {
  if (typeof value === "string") return value.startsWith(from) ? to + value.slice(from.length) : value;
  if (Array.isArray(value)) return value.map((v) => rebase(v, from, to));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rebase(v, from, to)]));
  return value;
}

async function http(url, { method = "GET", headers = {}, body, redirect = "follow" } = {}) {
  const res = await fetch(url, { method, headers, body, redirect });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch (_) { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

// ---- the http notation --------------------------------------------------------------------------------------

const kRequestLine = /^(GET|POST|PUT|PATCH|DELETE)\s+(\/\S*)(?:\s+(\S.*))?$/;  // a body may follow on the line

// -> [{method, path, body (text or ""), status, shape (text or "")}]
function parseHttpBlock(ex) {
  const requests = [];
  let current = null;
  let inAnswer = false;
  for (const raw of ex.code.split("\n")) {
    const line = raw.replace(/\s{2,}#.*$/, "");
    const start = kRequestLine.exec(line.trim());
    if (start) {
      current = { method: start[1], path: start[2], body: start[3] || "", status: 200, shape: "", hasAnswer: false };
      requests.push(current);
      inAnswer = false;
      continue;
    }
    if (!line.trim()) continue;
    if (!current) throw new Error(`${where(ex)}: an http example starts with a request line (METHOD /path), not ${JSON.stringify(line)}`);
    const answer = /^\s*→\s*(?:(\d{3})\b)?\s*(.*)$/.exec(line);
    if (answer) {
      if (current.hasAnswer) throw new Error(`${where(ex)}: two answers for ${current.method} ${current.path}`);
      current.hasAnswer = true;
      inAnswer = true;
      if (answer[1]) current.status = Number(answer[1]);
      current.shape = answer[2];
    } else if (inAnswer) {
      current.shape += "\n" + line;
    } else {
      current.body += (current.body ? "\n" : "") + line;
    }
  }
  if (!requests.length) throw new Error(`${where(ex)}: an http example without a request`);
  for (const r of requests) {
    if (!r.hasAnswer) throw new Error(`${where(ex)}: ${r.method} ${r.path} has no "→ answer" line`);
  }
  return requests;
}

// ---- placeholders ---------------------------------------------------------------------------------------------

const answers = [];  // parsed JSON answers, oldest first
const fixed = {};    // prefix -> value (sk_test_, pk_test_, whsec_, ten_)

function firstIdWithPrefix(value, prefix) {
  if (typeof value === "string") return value.startsWith(prefix) && /^[A-Za-z0-9]+$/.test(value.slice(prefix.length)) ? value : null;
  if (Array.isArray(value)) { for (const v of value) { const f = firstIdWithPrefix(v, prefix); if (f) return f; } return null; }
  if (value && typeof value === "object") { for (const v of Object.values(value)) { const f = firstIdWithPrefix(v, prefix); if (f) return f; } }
  return null;
}

function resolve(text, ex, what) {
  let out = text.replace(/\$IHOST\b/g, fixed.IHOST);
  out = out.replace(/\b([a-z]+_(?:test_)?)…/g, (all, prefix) => {
    if (fixed[prefix]) return fixed[prefix];
    for (let k = answers.length - 1; k >= 0; k--) {
      const found = firstIdWithPrefix(answers[k], prefix);
      if (found) return found;
    }
    throw new Error(`${where(ex)}: ${what}: no earlier answer holds an id for ${all}`);
  });
  if (out.includes(ELLIPSIS)) throw new Error(`${where(ex)}: ${what} still has a "…" the runner cannot fill: ${out}`);
  return out;
}

// ---- the run --------------------------------------------------------------------------------------------------

async function main() {
  const examples = extractExamples(fs.readFileSync(docPath, "utf8"), docName);
  for (const kind of ["config", "http"]) {
    if (!examples.some((e) => e.kind === kind)) throw new Error(`${docName}: no example of kind "${kind}": the markers were removed?`);
  }
  for (const ex of examples) if (!["config", "http"].includes(ex.kind)) throw new Error(`${where(ex)}: unknown example kind "${ex.kind}"`);

  // 1. The double: the tenant's key, the Connect platform's key and client id.
  const doubleUrl = await startProcess(args.double, ["--port", "0", "--seed-key", kSecretKey, "--seed-key", kPlatformKey,
    "--client-id", kClientId, "--webhook-retry-ms", "300,1000"],
    (line) => { try { return JSON.parse(line).url; } catch (_) { return null; } }, "stripe-double");

  // 2. The host's config: the runner's own tables, then every config example of the doc.
  const port = await freePort();
  const base = "http://127.0.0.1:" + port;
  fixed.IHOST = base;
  const pluginDir = path.join(work, "plugins");
  fs.mkdirSync(pluginDir);
  for (const so of ["libstripe_byok.so", "libstripe_connect.so"]) fs.symlinkSync(path.resolve(args.plugins, so), path.join(pluginDir, so));
  const config = path.join(work, "ihost.toml");
  let toml = [
    "[server]", `listen = "127.0.0.1:${port}"`, "",
    "[storage]", `path = "${path.join(work, "ihost.db")}"`, "",
    "[vault]", `key_file = "${path.join(work, "vault.keys")}"`, "",
    "[plugins]", `dir = "${pluginDir}"`, "",
    "[log]", 'level = "info"', "",
    "[outbound]", 'allow_networks = ["127.0.0.0/8"]', "",  // the double listens on loopback
    "[inbox]", "retry_schedule_s = [1]", "", "",
  ].join("\n");
  const integrations = new Set();
  for (const ex of examples.filter((e) => e.kind === "config")) {
    toml += `# ${docName}:${ex.line}\n` + ex.code.replace(/\bca_…/g, kClientId) + "\n";
    for (const m of ex.code.matchAll(/^\[integrations\.([a-z0-9_]+)\]\s*$/gm)) integrations.add(m[1]);
  }
  // A "…" in a comment is prose; in a value it would be a setting nobody can use.
  const uncommented = toml.split("\n").map((line) => line.replace(/^((?:[^"#]|"(?:[^"\\]|\\.)*")*)#.*$/, "$1"));
  const unfilled = uncommented.find((line) => line.includes(ELLIPSIS));
  if (unfilled !== undefined) throw new Error(`${docName}: a config example still has a "…" after substitution: ${unfilled}`);
  fs.writeFileSync(config, toml);
  const env = {};
  for (const id of integrations) {
    const prefix = `IHOST_INTEGRATIONS__${id.toUpperCase()}__`;
    env[prefix + "API_BASE_URL"] = doubleUrl;
    if (id === "stripe_connect") {
      env[prefix + "CONNECT_BASE_URL"] = doubleUrl;
      env[prefix + "SECRET_KEY"] = kPlatformKey;
      env[prefix + "REDIRECT_URL"] = `${base}/oauth/${id}/callback`;
    }
    env[prefix + "SUCCESS_URL"] = `${base}/admin`;
  }
  const cli = (...argv) => execFileSync(args.ihost, [...argv, "--config", config], { encoding: "utf8", env: { ...process.env, ...env } });
  cli("vault", "init");
  const created = cli("tenants", "create", "acme");
  const key = /api key:\s+(\S+)/.exec(created)[1];
  const tenantId = /id:\s+(\S+)/.exec(created)[1];
  fixed.ten_ = tenantId;
  fixed.sk_test_ = kSecretKey;
  fixed.pk_test_ = kPublishableKey;

  // 3. The tenant's webhook endpoint at the double (what `setup` creates), whose secret the doc's connect passes.
  const endpoint = await http(doubleUrl + "/v1/webhook_endpoints", {
    method: "POST",
    headers: { Authorization: "Bearer " + kSecretKey, "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ url: `${base}/webhooks/stripe/${tenantId}`, "enabled_events[]": "*" }).toString(),
  });
  if (endpoint.status !== 200 || !endpoint.json || !endpoint.json.secret) throw new Error("creating the webhook endpoint at the double: " + endpoint.text);
  fixed.whsec_ = endpoint.json.secret;

  // 4. The host.
  await startProcess(args.ihost, ["serve", "--config", config],
    (line) => { try { return JSON.parse(line).msg === "ihost listening"; } catch (_) { return false; } }, "ihost", env);
  console.log(`# ihost at ${base}, double at ${doubleUrl}, tenant ${tenantId}, work dir ${work}`);

  // 5. The http examples, in order.
  let count = 0;
  for (const ex of examples.filter((e) => e.kind === "http")) {
    for (const req of parseHttpBlock(ex)) {
      count++;
      const target = resolve(req.path, ex, "path");
      const body = req.body.trim() ? resolve(req.body, ex, "body") : undefined;
      if (body !== undefined) {
        try { JSON.parse(body); } catch (e) { throw new Error(`${where(ex)}: the body of ${req.method} ${req.path} is not JSON: ${e.message}\n${body}`); }
      }
      const headers = { Authorization: "Bearer " + key };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const started = Date.now();
      let res;
      let errors;
      for (;;) {
        res = await http(base + target, { method: req.method, headers, body });
        errors = [];
        if (res.status !== req.status) errors.push(`status ${res.status}, the doc says ${req.status}`);
        else if (req.shape.trim()) {
          if (res.json === undefined) errors.push("the answer is not JSON");
          else errors = matchShape(req.shape, rebase(res.json, doubleUrl, "https://stripe.double"));
        }
        if (!errors.length || req.method !== "GET" || Date.now() - started > kGetRetryMs) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (errors.length) {
        throw new Error(`${where(ex)}: ${req.method} ${target}${body ? " " + body : ""}\n  ${errors.join("\n  ")}\n  got ${res.status} ${args.verbose ? res.text : res.text.slice(0, 2000)}`);
      }
      if (res.json !== undefined) answers.push(res.json);
      console.log(`ok ${count} - ${req.method} ${req.path} → ${res.status} (${docName}:${ex.line}, ${Date.now() - started} ms)`);
      if (args.verbose) console.log("  " + res.text.slice(0, 1000));
      if (req.method === "GET" && /\/oauth\/start$/.test(target.split("?")[0]) && res.json && res.json.url) await consent(res.json.url, ex);
    }
  }
  console.log(`PASS: ${count} requests of ${docName}`);
}

// The account owner's browser: the double's consent page, "Connect", the redirect to ihost's callback.
async function consent(authorizeUrl, ex) {
  const page = await http(authorizeUrl);
  const link = /id="connect" href="([^"]+)"/.exec(page.text);
  if (page.status !== 200 || !link) throw new Error(`${where(ex)}: the double's consent page: ${page.status} ${page.text.slice(0, 500)}`);
  const decided = await http(new URL(link[1].replace(/&amp;/g, "&"), authorizeUrl).toString(), { redirect: "manual" });
  const back = decided.headers.get("location");
  if (decided.status !== 302 || !back || !back.startsWith(fixed.IHOST + "/oauth/")) {
    throw new Error(`${where(ex)}: consent did not redirect to the host's callback: ${decided.status} ${back}`);
  }
  const done = await http(back, { redirect: "manual", headers: { Accept: "application/json" } });
  if (done.status >= 400) throw new Error(`${where(ex)}: the host's OAuth callback answered ${done.status}: ${done.text.slice(0, 500)}`);
  console.log(`ok - consent given at the double, callback answered ${done.status}`);
}

async function stopAll() {
  let clean = true;
  for (const child of children.reverse()) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    let timer;
    const code = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(() => resolve("timeout"), 10000); })]);
    clearTimeout(timer);
    if (code === "timeout") child.kill("SIGKILL");
    if (code !== 0 && child.label === "ihost") {
      console.error(`FAIL: ihost did not stop cleanly on SIGTERM (${code}):\n${child.tail.slice(-30).join("\n")}`);
      clean = false;
    }
  }
  return clean;
}

main().then(async () => {
  if (!(await stopAll())) process.exitCode = 1;
}, async (e) => {
  console.error("FAIL: " + e.message);
  const host = children.find((c) => c.label === "ihost");
  if (host) console.error("--- ihost log (last lines)\n" + host.tail.slice(-20).join("\n"));
  await stopAll();
  process.exitCode = 1;
}).finally(() => {
  if (args.keep) console.log("kept " + work); else fs.rmSync(work, { recursive: true, force: true });
});
