// Independent check of ihost's outbound webhook signatures with the public `standardwebhooks` package.
//
//   node verify-standard-webhook.js <capture-dir>
//
// <capture-dir> holds one delivery captured by a receiver: `body` (the exact bytes received),
// `headers.json` ({"webhook-id": ..., "webhook-timestamp": ..., "webhook-signature": ...}) and `secrets`
// (one whsec_ secret per line; the delivery must verify with EACH of them, e.g. the new and the previous secret
// during a rotation). Exits 0 only when every secret verifies and a tampered body is rejected.
"use strict";

const fs = require("fs");
const path = require("path");
const { Webhook } = require("standardwebhooks");

function fail(message) {
  console.error("verify-standard-webhook: " + message);
  process.exit(1);
}

const dir = process.argv[2];
if (!dir) fail("usage: node verify-standard-webhook.js <capture-dir>");

const body = fs.readFileSync(path.join(dir, "body"), "utf8");
const headers = JSON.parse(fs.readFileSync(path.join(dir, "headers.json"), "utf8"));
const secrets = fs.readFileSync(path.join(dir, "secrets"), "utf8").split("\n").map((s) => s.trim()).filter(Boolean);
if (secrets.length === 0) fail("no secret given");

for (const secret of secrets) {
  try {
    const payload = new Webhook(secret).verify(body, headers);
    if (!payload || typeof payload !== "object") fail("verified payload is not an object");
  } catch (e) {
    fail("signature rejected for secret " + secret.slice(0, 10) + "…: " + e.message);
  }
  let tamperedAccepted = true;
  try {
    new Webhook(secret).verify(body + " ", headers);
  } catch (e) {
    tamperedAccepted = false;
  }
  if (tamperedAccepted) fail("a tampered body was accepted: the check is vacuous");
}
console.log("standardwebhooks verified " + headers["webhook-id"] + " with " + secrets.length + " secret(s)");
