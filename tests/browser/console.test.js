"use strict";
// Browser test of the admin console: the real `stripe-double` and the real `ihost serve` (temp config, data
// and key ring; real plugin .so files), driven through Debian's chromium by playwright-core.
//   sign in with the admin token → switch tenant → "Connect with Stripe" (Stripe Connect OAuth through the
//   double's consent page): Deny once (the callback page says the owner declined), then Connect and come back
//   to the console showing the connected account → connect Stripe BYOK with a bad key (error shown) then a
//   good one → run the setup workflow answering its prompts in the page → a webhook that dies in the inbox is
//   replayed from the Webhooks page and ends processed → Sync "Run now" and the job's cursor shown → an
//   invoice turns "paid" live (SSE) without reload.
// Screenshots go to --screenshots. Exit 0 = passed, 1 = failed, 77 = skipped (no chromium).
//
// usage: node console.test.js --ihost BIN --double BIN --plugins DIR --test-plugins DIR --screenshots DIR
//                             [--chromium /usr/bin/chromium]

const { spawn, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");

const SKIP = 77;
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];
const chromiumPath = args.chromium || "/usr/bin/chromium";
if (!fs.existsSync(chromiumPath)) {
  console.log("SKIP: " + chromiumPath + " not found (scripts/setup.sh installs Debian's chromium)");
  process.exit(SKIP);
}
let chromium;
try {
  ({ chromium } = require("playwright-core"));
} catch (e) {
  console.error("playwright-core is missing: run `npm ci --prefix tests/browser` (scripts/setup.sh does)");
  process.exit(1);
}
for (const k of ["ihost", "double", "plugins", "test-plugins", "screenshots"]) {
  if (!args[k]) { console.error("missing --" + k); process.exit(2); }
}

const SECRET_KEY = "sk_test_ihostconsolebrowser0001";
const PUBLISHABLE_KEY = "pk_test_ihostconsolebrowser0001";
const HOOKS_SECRET = "browser_test_hooks_secret_0001";
// Stripe Connect: the platform's key (another key of the double's primary account) and the double's default
// Connect client id (stripe-double --client-id; the plugin sends redirect_uri on each authorize URL).
const PLATFORM_KEY = "sk_test_ihostconsoleplatform0001";
const CONNECT_CLIENT_ID = "ca_ihostdoubleplatform0001";
process.env.IHOST_INTEGRATIONS__STRIPE_CONNECT__SECRET_KEY = PLATFORM_KEY;  // operators pass it by env too
const children = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ihost-console-"));
let passed = 0;

function step(name) {
  passed++;
  console.log("ok " + passed + " - " + name);
}

// Starts a process and resolves with the first stdout/stderr line `match` accepts (its return value).
function startProcess(bin, argv, match, label, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, argv, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.label = label;
    child.tail = [];  // the last lines it printed, shown if it does not stop cleanly
    children.push(child);
    const log = fs.createWriteStream(path.join(work, label + ".log"));
    let done = false;
    const timer = setTimeout(() => { if (!done) reject(new Error(label + " did not start within 20 s")); }, 20000);
    for (const stream of [child.stdout, child.stderr]) {
      readline.createInterface({ input: stream }).on("line", (line) => {
        log.write(line + "\n");
        child.tail.push(line);
        if (child.tail.length > 200) child.tail.shift();
        if (done) return;
        const value = match(line);
        if (value) { done = true; clearTimeout(timer); resolve(value); }
      });
    }
    child.on("exit", (code) => {
      if (!done) { done = true; clearTimeout(timer); reject(new Error(label + " exited with " + code + " (see " + label + ".log)")); }
    });
  });
}

// A free loopback port: ihost's address must be known before it starts (success_url and the Connect webhook
// endpoint name it).
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

function ihostCli(config, ...argv) {
  return execFileSync(args.ihost, [...argv, "--config", config], { encoding: "utf8" });
}

async function http(base, method, urlPath, { token, tenant, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = "Bearer " + token;
  if (tenant) h["X-Ihost-Tenant"] = tenant;
  if (body !== undefined && !h["Content-Type"]) h["Content-Type"] = "application/json";
  const res = await fetch(base + urlPath, { method, headers: h, body: typeof body === "string" || body === undefined ? body : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (_) { json = null; }
  return { status: res.status, json, text };
}

async function main() {
  fs.mkdirSync(args.screenshots, { recursive: true });
  const shot = (page, name) => page.screenshot({ path: path.join(args.screenshots, name + ".png"), fullPage: true });

  // 1. The Stripe double.
  const doubleUrl = await startProcess(args.double, ["--port", "0", "--seed-key", SECRET_KEY, "--seed-key", PLATFORM_KEY,
    "--client-id", CONNECT_CLIENT_ID, "--webhook-retry-ms", "300,1000"],
    (line) => { try { return JSON.parse(line).url; } catch (_) { return null; } }, "stripe-double");

  // 2. Plugins: the real stripe_byok .so plus the test-only webhook_test .so (whose handler fails until its
  //    "fixed" state is set: how this test makes an event die in the inbox and be fixed).
  const pluginDir = path.join(work, "plugins");
  fs.mkdirSync(pluginDir);
  fs.symlinkSync(path.join(args.plugins, "libstripe_byok.so"), path.join(pluginDir, "libstripe_byok.so"));
  fs.symlinkSync(path.join(args.plugins, "libstripe_connect.so"), path.join(pluginDir, "libstripe_connect.so"));
  fs.symlinkSync(path.join(args["test-plugins"], "webhook_test", "libwebhook_test.so"), path.join(pluginDir, "libwebhook_test.so"));
  fs.writeFileSync(path.join(pluginDir, "libbroken.so"), "not an ELF library\n");  // refused, with the reason
  const port = await freePort();
  const expectedBase = "http://127.0.0.1:" + port;
  // The platform's Connect webhook endpoint ("Listen to events on Connected accounts") and its secret.
  const endpoint = await http(doubleUrl, "POST", "/v1/webhook_endpoints", {
    token: PLATFORM_KEY, headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ url: expectedBase + "/webhooks/stripe_connect", connect: "true", "enabled_events[]": "*" }).toString(),
  });
  if (endpoint.status !== 200) throw new Error("creating the Connect webhook endpoint: " + endpoint.text);
  const config = path.join(work, "ihost.toml");
  const db = path.join(work, "ihost.db");
  fs.writeFileSync(config, [
    "[server]", `listen = "127.0.0.1:${port}"`, "worker_threads = 16", "",
    "[storage]", `path = "${db}"`, "",
    "[vault]", `key_file = "${path.join(work, "vault.keys")}"`, "",
    "[plugins]", `dir = "${pluginDir}"`, "",
    "[log]", 'level = "info"', "",
    "[outbound]", 'allow_networks = ["127.0.0.0/8"]', "",  // the Stripe double and the test receivers
    "[inbox]", "retry_schedule_s = [1]", "",  // one retry, then the dead letter
    "[integrations.stripe]", 'plugin = "stripe_byok"', `api_base_url = "${doubleUrl}"`, "",
    "[integrations.hooks]", 'plugin = "webhook_test"', `webhook_secret = "${HOOKS_SECRET}"`, "",
    "[integrations.ledger]", 'plugin = "ledger_sync"', "",  // configured, but no such plugin is installed
    "[integrations.stripe_connect]", 'plugin = "stripe_connect"', `client_id = "${CONNECT_CLIENT_ID}"`,
    `webhook_secret = "${endpoint.json.secret}"`, `connect_base_url = "${doubleUrl}"`, `api_base_url = "${doubleUrl}"`,
    `success_url = "${expectedBase}/admin"`, "",  // back to the console, which shows the result
  ].join("\n"));
  const adminToken = ihostCli(config, "vault", "init").trim().split("\n").pop().trim();
  const created = ihostCli(config, "tenants", "create", "acme");
  const tenantId = /id:\s+(\S+)/.exec(created)[1];
  ihostCli(config, "tenants", "create", "beta");

  // 3. The real server.
  const base = await startProcess(args.ihost, ["serve", "--config", config],
    (line) => { try { const j = JSON.parse(line); return j.msg === "ihost listening" ? j.url : null; } catch (_) { return null; } },
    "ihost");
  console.log("# ihost at " + base + ", double at " + doubleUrl + ", work dir " + work);

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  // Script errors and CSP violations; failed requests are expected (the wrong token, the refused key).
  page.on("console", (m) => { if (m.type() === "error" && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
  page.setDefaultTimeout(20000);
  try {
    // Sign in: a wrong token is refused with a message, the right one opens the console.
    await page.goto(base + "/admin");
    await page.fill("#admin-token", "iha_wrong_token");
    await page.click("#sign-in-form button[type=submit]");
    await page.waitForSelector("#sign-in-error:has-text('refused')");
    await page.fill("#admin-token", adminToken);
    await page.click("#sign-in-form button[type=submit]");
    await page.waitForSelector("#nav:not([hidden])");
    await page.waitForSelector("#integration-tiles [data-integration=stripe]");
    step("signed in with the admin token");

    // Tenant switcher: act as acme.
    await page.selectOption("#tenant-switch", tenantId);
    await page.waitForSelector("#integration-tiles [data-integration=stripe] .badge:has-text('not connected')");
    await page.waitForSelector("[data-plugin=stripe_byok]");
    await page.waitForSelector("#integration-tiles [data-integration=ledger] .badge:has-text('not installed')");
    await page.waitForSelector("[data-refused$='libbroken.so'] .error");
    await shot(page, "01-integrations");
    step("switched to tenant acme; hub shows integrations, loaded and refused plugins, a missing one as not installed");

    // Stripe Connect, declined: the hub's "Connect with Stripe" goes to the double's consent page; Deny lands
    // on ihost's callback page, which says the owner declined; nothing is connected.
    const connectTile = "#integration-tiles [data-integration=stripe_connect]";
    await page.waitForSelector(connectTile + " .badge:has-text('not connected')");
    await page.click(connectTile + " button:has-text('Connect with Stripe')");
    await page.waitForURL((u) => u.href.startsWith(doubleUrl + "/oauth/authorize"));
    await page.waitForSelector("a#deny");
    await shot(page, "01a-connect-consent");
    await page.click("a#deny");
    await page.waitForURL((u) => u.href.startsWith(base + "/oauth/stripe_connect/callback"));
    const declined = await page.textContent("body");
    if (!/declined/i.test(declined)) throw new Error("the declined page does not say so: " + declined);
    await shot(page, "01b-connect-declined");
    const afterDeny = await http(base, "GET", "/api/integrations/stripe_connect", { token: adminToken, tenant: tenantId });
    if (afterDeny.status !== 200 || afterDeny.json.connected) throw new Error("connected after Deny: " + afterDeny.text);
    step("Deny on the consent page: the callback page says the owner declined, nothing connected");

    // Stripe Connect, approved from the Stripe page: back in the console (success_url) with the account shown.
    await page.goto(base + "/admin#/stripe");  // the token and tenant are kept in this tab (sessionStorage)
    const connectCard = "[data-connect=stripe_connect]";
    await page.click(connectCard + " button:has-text('Connect with Stripe')");
    await page.waitForSelector("a#connect");
    await page.click("a#connect");
    await page.waitForURL((u) => u.href.startsWith(base + "/admin"));
    await page.waitForSelector("#notice:has-text('Stripe account connected')");
    const accountShown = (await page.textContent(connectCard + " .connected-account")).trim();
    const afterConnect = await http(base, "GET", "/api/integrations/stripe_connect", { token: adminToken, tenant: tenantId });
    if (!afterConnect.json || !afterConnect.json.connected) throw new Error("not connected: " + afterConnect.text);
    if (!/^acct_/.test(accountShown) || accountShown !== afterConnect.json.info.account)
      throw new Error("console shows account " + accountShown + ", the API says " + afterConnect.text);
    await page.waitForSelector("section:has(" + connectCard + ") .badge[data-status=connected]");
    await page.waitForSelector(connectCard + " button:has-text('Reconnect with Stripe')");
    if (/[?&]status=/.test(page.url())) throw new Error("the OAuth return query stayed in the URL: " + page.url());
    await shot(page, "01c-connect-connected");
    step("Connect on the consent page: back in the console, connected account " + accountShown + " shown");

    // Stripe BYOK: client-side format feedback, then a key Stripe refuses, then a good one.
    await page.click("nav a[data-page=stripe]");
    await page.waitForSelector("#connect-form");
    await page.fill("#secret-key", "xk_test_123456");
    await page.waitForSelector("#secret-key-hint.bad");
    await page.fill("#secret-key", "sk_test_notaknownkey000001");
    await page.fill("#publishable-key", PUBLISHABLE_KEY);
    await page.click("#connect");
    const error = await page.waitForSelector("#connect-error:has-text('Stripe')");
    const message = await error.textContent();
    if (!/rejected/i.test(message)) throw new Error("bad key error not shown verbatim: " + message);
    await shot(page, "02-bad-key");
    step("a bad key shows the server's error: " + message);

    await page.fill("#secret-key", SECRET_KEY);
    await page.fill("#publishable-key", PUBLISHABLE_KEY);
    await page.click("#connect");
    await page.waitForSelector("#byok-status .badge[data-status=connected]");
    await page.click("#test-connection");
    await page.waitForSelector("#byok-result:has-text('passed')");
    await shot(page, "03-connected");
    step("a good key connects and the connection test passes");

    // Setup workflow: the plugin's prompts are answered in the page; the webhook endpoint points at ihost.
    await page.click("#run-setup");
    await page.click("#prompt-yes");
    await page.waitForSelector("#prompt-catalog");
    await page.selectOption("#prompt-catalog", "none");
    await page.click("#prompt-submit");
    await page.waitForSelector("#prompt-public_url");
    await page.fill("#prompt-public_url", base);
    await page.click("#prompt-submit");
    await page.waitForSelector("#workflow-status .badge[data-status=succeeded]");
    await page.waitForSelector("#workflow-log li:has-text('webhook endpoint created')");
    await shot(page, "04-setup");
    step("setup workflow answered in the page and succeeded");

    // A dead webhook: webhook_test fails while its "fixed" state is unset; one retry, then dead.
    const t = Math.floor(Date.now() / 1000);
    const body = JSON.stringify({ id: "evt_console_dead", type: "order.created", fail: 5 });
    const sig = crypto.createHmac("sha256", HOOKS_SECRET).update(t + "." + body).digest("hex");
    const intake = await http(base, "POST", "/webhooks/hooks/" + tenantId, { body, headers: { "Content-Type": "application/json", "X-Test-Signature": `t=${t},v1=${sig}` } });
    if (intake.status !== 200) throw new Error("webhook intake: " + intake.status + " " + intake.text);
    await page.click("nav a[data-page=webhooks]");
    await page.selectOption("#wh-status", "dead");
    const deadRow = "tr[data-event=evt_console_dead]";
    for (let i = 0; i < 40 && !(await page.$(deadRow + " .badge[data-status=dead]")); i++) {
      await page.waitForTimeout(500);
      await page.click("#wh-filter");  // reload the list with the same filters
    }
    await page.waitForSelector(deadRow + " .badge[data-status=dead]");
    await page.click(deadRow + " button:has-text('Details')");
    await page.waitForSelector("#wh-payload:has-text('evt_console_dead')");
    await shot(page, "05-dead-webhook");
    step("the failing webhook is dead in the Webhooks log, with its attempts and payload");

    // "Fix the plugin" (the test plugin's stand-in: its plugin state "fixed"), then Replay from the page.
    execFileSync("sqlite3", [db, ".timeout 10000",
      `INSERT OR REPLACE INTO plugin_state(tenant_id, integration_id, key, value, updated_at) VALUES ('${tenantId}', 'hooks', 'fixed', '1', ${Date.now()})`]);
    await page.click("#wh-replay");
    await page.waitForSelector("#notice:has-text('replayed: processed')", { timeout: 40000 });
    await page.waitForSelector("#wh-detail-card .badge[data-status=processed]");
    await shot(page, "06-replayed");
    step("Replay from the page processed the dead webhook");

    // Sync: run the transactions job now from the page, then see the rows with totals on Transactions.
    const seeded = await http(doubleUrl, "POST", "/_double/seed/balance_transactions", { body: { count: 12, amount: 2500 } });
    if (seeded.status !== 200) throw new Error("seeding the double: " + seeded.text);
    await page.click("nav a[data-page=sync]");
    const jobRow = "[data-integration=stripe] tr[data-job=transactions]";
    await page.click(jobRow + " button:has-text('Run now')");
    await page.waitForSelector(jobRow + " .badge[data-status=succeeded]", { timeout: 40000 });
    const cursorCell = jobRow + " td.cursor [data-state-key=transactions] code";
    await page.waitForSelector(cursorCell + ":has-text('incremental')");
    const cursorText = await page.textContent(cursorCell);
    const jobsApi = await http(base, "GET", "/api/integrations/stripe/jobs", { token: adminToken, tenant: tenantId });
    const txJob = jobsApi.json.data.find((j) => j.name === "transactions");
    if (JSON.stringify(txJob.state.transactions) !== cursorText)
      throw new Error("the page shows cursor " + cursorText + ", the API " + JSON.stringify(txJob.state));
    await shot(page, "07-sync");
    step("Run now on the Sync page ran the transactions job; its cursor is shown: " + cursorText);
    await page.click("nav a[data-page=transactions]");
    await page.waitForSelector("#tx-table tbody tr");
    const rowCount = await page.$$eval("#tx-table tbody tr", (rows) => rows.length);
    if (rowCount < 12) throw new Error("expected at least 12 transactions, saw " + rowCount);
    await page.waitForSelector("#tx-table tfoot tr[data-currency]");
    await shot(page, "08-transactions");
    step("Transactions lists the synced rows (" + rowCount + ") with gross/fee/net totals per currency");

    // Invoices: create one through the API, watch it on the page, pay it at the double: the badge turns paid live.
    const made = await http(base, "POST", "/api/integrations/stripe/actions/create_invoices", {
      token: adminToken, tenant: tenantId,
      body: { reference: "console-1", buyers: [{ reference: "b1", email: "b1@example.com", name: "Buyer One", items: [{ title: "Lot 7", quantity: 1, price: 4200 }] }] },
    });
    if (made.status !== 200 || !made.json.results[0].ok) throw new Error("create_invoices: " + made.text);
    const invoiceId = made.json.results[0].invoice_id;
    await page.click("nav a[data-page=invoices]");
    const badge = `tr[data-invoice="${invoiceId}"] .badge`;
    await page.waitForSelector(badge + "[data-status=open]");
    await page.waitForSelector("#invoices-live:has-text('Live')");
    await page.evaluate(() => { window.__noReload = true; });
    await shot(page, "09-invoice-open");
    const paid = await http(base, "POST", "/api/integrations/stripe/actions/simulate_payment", { token: adminToken, tenant: tenantId, body: { invoice: invoiceId } });
    if (paid.status !== 200) throw new Error("simulate_payment: " + paid.text);
    await page.waitForSelector(badge + "[data-status=paid]", { timeout: 30000 });
    if (!(await page.evaluate(() => window.__noReload === true))) throw new Error("the page reloaded");
    await page.waitForSelector("#invoice-announce:has-text('paid')");
    await shot(page, "10-invoice-paid");
    step("the invoice badge turned paid live from the event stream, without a reload");

    if (pageErrors.length) throw new Error("errors in the page: " + pageErrors.join(" | "));
    step("no script errors in the page");
  } catch (e) {
    await shot(page, "failure").catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}

// Stops every child with SIGTERM and waits for it (output included). Each must exit 0 within 20 s: a crash, a
// hang or a sanitizer report at shutdown (scripts/sanitize.sh runs this test against sanitized binaries) is a
// failure, returned as a message that ends with the child's last lines.
async function stopChildren() {
  const problems = [];
  await Promise.all(children.map((c) => new Promise((resolve) => {
    const report = (why) => problems.push(c.label + " " + why + "; its last lines:\n  " + c.tail.join("\n  "));
    const timer = setTimeout(() => { report("did not exit within 20 s of SIGTERM"); c.kill("SIGKILL"); resolve(); }, 20000);
    const closed = (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) report("exited with " + (signal ? "signal " + signal : "status " + code));
      resolve();
    };
    if (c.exitCode !== null || c.signalCode !== null) {
      closed(c.exitCode, c.signalCode);
      return;
    }
    c.once("close", closed);
    c.kill("SIGTERM");
  })));
  return problems;
}

main().then(async () => {
  const problems = await stopChildren();
  if (problems.length) {
    console.error("FAILED: a process did not stop cleanly:\n" + problems.join("\n"));
    console.error("logs kept in " + work);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  step("ihost and the Stripe double stop cleanly on SIGTERM");
  console.log(`${passed} passed, 0 failed`);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(0);
}, async (e) => {
  console.error("FAILED: " + (e && e.stack ? e.stack : e));
  for (const problem of await stopChildren()) console.error(problem);
  console.error("logs kept in " + work);
  console.log(`${passed} passed, 1 failed`);
  process.exit(1);
});
