// Signs a delivery with the public `standardwebhooks` package, for ihost's inbound Standard Webhooks plugin
// to verify (tests/integration/standard_webhooks_test.cpp): the verdicts come from an implementation nobody here
// wrote.
//
//   node sign-standard-webhook.js <whsec_ secret> <msg id> <unix seconds> <body file>
//
// Prints the webhook-signature header value ("v1,<base64>").
"use strict";

const fs = require("fs");
const { Webhook } = require("standardwebhooks");

const [secret, msgId, seconds, bodyFile] = process.argv.slice(2);
if (!secret || !msgId || !seconds || !bodyFile) {
  console.error("usage: node sign-standard-webhook.js <secret> <msg id> <unix seconds> <body file>");
  process.exit(2);
}
const body = fs.readFileSync(bodyFile, "utf8");
process.stdout.write(new Webhook(secret).sign(msgId, new Date(Number(seconds) * 1000), body));
