"use strict";
// Runs the examples of docs/plugin-authoring.md as a third party would follow them: install the SDK alone, write
// the plugin's files, build it out of tree, run its fake-host test and `ihost plugins check`, deploy it into a
// real `ihost serve` and call its route. Exit 0 = every example did what the doc says, 1 = one did not.
//
// The doc marks its examples (tests/docs/doc_examples.js: `<!-- example: KIND [ARG] -->` before a fenced block).
// They run in document order; the kinds:
//   file PATH        the block is the content of PATH (`~/` = the temporary $HOME below)
//   sh               the block's commands, one bash shell (`cd` carries over to the next line), in the ihost
//                    checkout, with the environment below; a command line that exits non-zero fails the test,
//                    including `a && b` when `a` fails (which `bash -e` would let pass)
//   output           what the previous `sh` block printed (stdout): a JSON shape (doc_examples.js matchShape:
//                    `…` elides ids) when the block parses as one, else the exact text
//   output contains  every non-empty line of the block is a line of what the previous `sh` block printed (in
//                    any order, among others), where a run of spaces matches any run and `…` any text
//   config           the block is appended to the server's ihost.toml ($IHOST_CONFIG)
//   serve            the block starts the server (e.g. `ihost serve`): run in the background until the end, the
//                    test waits for its "ihost listening" log line and sets $IHOST to its URL
// The environment of `sh` and `serve` blocks, the names the doc uses:
//   HOME          a fresh temporary directory (so `~/src/myplugin` and `$HOME/.local/ihost-sdk` are private)
//   PATH          a directory holding only `ihost` (the binary under test) first, then the caller's PATH
//   IHOST_CONFIG  the server's ihost.toml: [server] on a free loopback port, [storage], [vault] and [plugins]
//                 in the temp dir (ihost's commands read it when --config is not given)
//   PLUGINS_DIR   that config's [plugins] dir (empty at the start)
//   KEY           the API key of a tenant `acme` created before the first block (`ihost tenants create`)
//   IHOST         the server's URL, once a `serve` block started it
// The doc must contain at least one example of each kind but `config` and `output contains`, so deleting the
// markers cannot make the test pass vacuously.
//
// usage: node plugin_authoring.test.js --ihost BIN --repo DIR [--doc FILE] [--keep]
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { extractExamples, matchShape } = require("./doc_examples");

const args = { keep: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^--/, "");
  if (a === "keep") args.keep = true; else args[a] = process.argv[++i];
}
for (const k of ["ihost", "repo"]) if (!args[k]) { console.error("missing --" + k); process.exit(2); }
const repo = path.resolve(args.repo);
const docPath = path.resolve(args.doc || path.join(repo, "docs/plugin-authoring.md"));
const docName = path.relative(repo, docPath);

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ihost-doc-plugin-"));
const home = path.join(work, "home");
const bin = path.join(work, "bin");
const server = path.join(work, "server");
const pluginsDir = path.join(server, "plugins");
for (const d of [home, bin, server, pluginsDir]) fs.mkdirSync(d, { recursive: true });
fs.chmodSync(server, 0o700);
fs.symlinkSync(path.resolve(args.ihost), path.join(bin, "ihost"));
const config = path.join(server, "ihost.toml");
fs.writeFileSync(config, [
  "[server]", 'listen = "127.0.0.1:0"', "",
  "[storage]", `path = "${path.join(server, "ihost.db")}"`, "",
  "[vault]", `key_file = "${path.join(server, "vault.keys")}"`, "",
  "[plugins]", `dir = "${pluginsDir}"`, "",
  "[log]", 'level = "info"', "", "",
].join("\n"));

const env = {
  ...process.env,
  HOME: home,
  PATH: bin + ":" + process.env.PATH,
  IHOST_CONFIG: config,
  PLUGINS_DIR: pluginsDir,
  CMAKE_BUILD_PARALLEL_LEVEL: process.env.CMAKE_BUILD_PARALLEL_LEVEL || "2",
};
delete env.CMAKE_PREFIX_PATH;  // the doc's own -DCMAKE_PREFIX_PATH must be what finds the SDK
let serverProcess = null;
let serverTail = [];

function fail(example, message) {
  const where = example ? `${docName}:${example.line} (example: ${example.kind}${example.args.length ? " " + example.args.join(" ") : ""})` : docName;
  throw new Error(`${where}: ${message}`);
}

// One line of an `output contains` block against one printed line (both trimmed).
function lineMatches(want, line) {
  const pattern = want.split(/\s+/).map((word) => word.split("…").map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*"));
  return new RegExp("^" + pattern.join("\\s+") + "$").test(line);
}

// The block as a script that stops at the first command line (continuation lines joined) that exits non-zero.
function checkedScript(code) {
  const lines = code.replace(/\\\n/g, " ").split("\n");
  const out = ["set -o pipefail"];
  lines.forEach((line, k) => {
    out.push(line);
    if (line.trim() && !line.trim().startsWith("#")) {
      out.push(`__rc=$?; if [ $__rc -ne 0 ]; then echo "doc example: line ${k + 1} exited with $__rc: ${line.replace(/[^A-Za-z0-9 _./$-]/g, "")}" >&2; exit $__rc; fi`);
    }
  });
  return out.join("\n") + "\n";
}

function run(bashArgs, example) {
  const r = spawnSync("bash", bashArgs, { cwd: repo, env, encoding: "utf8", timeout: 300000, maxBuffer: 64 << 20 });
  if (r.error) fail(example, "could not run bash: " + r.error.message);
  return r;
}

function startServer(example) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", "exec " + example.code.trim()], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
    serverProcess = child;
    let done = false;
    const finish = (err, url) => { if (!done) { done = true; clearTimeout(timer); err ? reject(err) : resolve(url); } };
    const timer = setTimeout(() => finish(new Error("the server did not log \"ihost listening\" within 20 s")), 20000);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        serverTail.push(line);
        if (serverTail.length > 100) serverTail.shift();
        try {
          const j = JSON.parse(line);
          if (j.msg === "ihost listening" && j.url) finish(null, j.url);
        } catch (_) { /* not a JSON log line */ }
      });
    }
    child.on("exit", (code) => finish(new Error(`the server exited with ${code}:\n${serverTail.join("\n")}`)));
  });
}

async function main() {
  const examples = extractExamples(fs.readFileSync(docPath, "utf8"), docName);
  for (const kind of ["file", "sh", "output", "serve"]) {
    if (!examples.some((e) => e.kind === kind)) fail(null, `no example of kind "${kind}": the markers were removed?`);
  }

  // The tenant whose key the doc calls $KEY.
  const init = spawnSync(args.ihost, ["vault", "init"], { env, encoding: "utf8" });
  if (init.status !== 0) throw new Error("ihost vault init: " + init.stderr + init.stdout);
  const created = spawnSync(args.ihost, ["tenants", "create", "acme"], { env, encoding: "utf8" });
  const key = /api key:\s+(\S+)/.exec(created.stdout || "");
  const tenantId = /id:\s+(\S+)/.exec(created.stdout || "");
  if (created.status !== 0 || !key || !tenantId) throw new Error("ihost tenants create acme: " + created.stderr + created.stdout);
  env.KEY = key[1];

  let last = null;  // {example, stdout} of the last sh block
  let n = 0;
  for (const ex of examples) {
    n++;
    const label = `${n}/${examples.length} ${ex.kind}${ex.args.length ? " " + ex.args.join(" ") : ""} (line ${ex.line})`;
    switch (ex.kind) {
      case "file": {
        if (ex.args.length !== 1) fail(ex, "a file example names one path");
        const target = ex.args[0].replace(/^~\//, home + "/");
        if (!path.isAbsolute(target) || !path.resolve(target).startsWith(home + "/")) fail(ex, "a file example must be under ~/");
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, ex.code);
        break;
      }
      case "sh": {
        const started = Date.now();
        const r = run(["-c", checkedScript(ex.code)], ex);
        if (r.status !== 0) {
          fail(ex, `exited with ${r.status ?? r.signal}:\n$ ${ex.code.trim()}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
        }
        last = { example: ex, stdout: r.stdout };
        console.log(`ok ${label} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${ex.code.trim().split("\n").pop()}`);
        continue;
      }
      case "output": {
        if (!last) fail(ex, "an output example needs an sh example before it");
        const got = last.stdout;
        if (ex.args[0] === "contains") {
          const gotLines = got.split("\n").map((l) => l.trim());
          for (const want of ex.code.split("\n").map((l) => l.trim()).filter(Boolean)) {
            if (!gotLines.some((l) => lineMatches(want, l))) fail(ex, `the output of line ${last.example.line} has no line like ${JSON.stringify(want)}:\n${got}`);
          }
        } else if (ex.args.length) {
          fail(ex, "unknown output mode " + ex.args[0]);
        } else {
          let actual;
          try { actual = JSON.parse(got); } catch (_) { actual = undefined; }
          if (actual === undefined) {
            if (got.trim() !== ex.code.trim()) fail(ex, `expected the output\n${ex.code}\ngot\n${got}`);
          } else {
            const errors = matchShape(ex.code, actual);
            if (errors.length) fail(ex, `the answer differs from the doc:\n  ${errors.join("\n  ")}\ngot ${got}`);
            // The doc prints "ten_…" for the tenant id: the real one must be the caller's.
            if (got.includes("ten_") && !got.includes(tenantId[1])) fail(ex, `the answer names another tenant than ${tenantId[1]}: ${got}`);
          }
        }
        break;
      }
      case "config":
        fs.appendFileSync(config, "\n" + ex.code);
        break;
      case "serve": {
        if (serverProcess) fail(ex, "a second serve example");
        env.IHOST = await startServer(ex);
        console.log(`ok ${label}: ${ex.code.trim()} -> ${env.IHOST}`);
        continue;
      }
      default:
        fail(ex, "unknown example kind");
    }
    console.log(`ok ${label}`);
  }
  console.log(`PASS: ${examples.length} examples of ${docName}`);
}

async function stopServer() {
  if (!serverProcess || serverProcess.exitCode !== null) return;
  const exited = new Promise((resolve) => serverProcess.on("exit", (code) => resolve(code)));
  serverProcess.kill("SIGTERM");
  let timer;
  const code = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(() => resolve("timeout"), 10000); })]);
  clearTimeout(timer);
  if (code === "timeout") serverProcess.kill("SIGKILL");
  return code;
}

main().then(async () => {
  const code = await stopServer();
  if (code !== undefined && code !== 0) {
    console.error(`FAIL: the server did not stop cleanly on SIGTERM (${code}):\n${serverTail.join("\n")}`);
    process.exitCode = 1;
  }
}, async (e) => {
  console.error("FAIL: " + e.message);
  await stopServer();
  process.exitCode = 1;
}).finally(() => {
  if (args.keep) console.log("kept " + work); else fs.rmSync(work, { recursive: true, force: true });
});
