"use strict";
// Browser test of the admin console: the real `stripe-double` and the real `ihost serve` (temp config, data
// and key ring; real plugin .so files), driven through Debian's chromium by playwright-core.
//   sign in with the admin token → switch tenant → "Connect with Stripe" (Stripe Connect OAuth through the
//   double's consent page): Deny once (the callback page says the owner declined), then Connect and come back
//   to the console showing the connected account → connect Stripe BYOK with a bad key (error shown) then a
//   good one → run the setup workflow answering its prompts in the page → a webhook that dies in the inbox is
//   replayed from the Webhooks page and ends processed → Sync "Run now" and the job's cursor shown → an
//   invoice turns "paid" live (SSE) without reload → Invoices: Generate, filter by the show's reference, View on
//   Stripe, Send link (the double sees /send), Copy link (clipboard, then the fallback field) → Catalog: sync,
//   inline mappings with their badges (unmapped, duplicate, archived, price without product, stale, deleted),
//   saved and checked against the mappings API → Analytics: per-currency totals equal to the records, uPlot
//   charts, source chips, empty states. The hub shows a "coming soon" tile for [coming_soon.paypal].
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
    // Isolated: its plugin runs in an `ihost plugin-runner` child (the Running versions table shows the runner).
    "[integrations.hooks]", 'plugin = "webhook_test"', 'isolation = "process"', `webhook_secret = "${HOOKS_SECRET}"`, "",
    "[integrations.ledger]", 'plugin = "ledger_sync"', "",  // configured, but no such plugin is installed
    "[integrations.stripe_connect]", 'plugin = "stripe_connect"', `client_id = "${CONNECT_CLIENT_ID}"`,
    `webhook_secret = "${endpoint.json.secret}"`, `connect_base_url = "${doubleUrl}"`, `api_base_url = "${doubleUrl}"`,
    `success_url = "${expectedBase}/admin"`, "",  // back to the console, which shows the result
    "[coming_soon.paypal]", 'name = "PayPal"', 'description = "Checkout and payouts through PayPal."', "",
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

    // Running versions and the hot reload: nothing changed on disk, so the Stripe plugins are "unchanged" and the
    // broken file is refused with its reason; the page says so and the host keeps serving.
    await page.waitForSelector("#running-versions [data-running=stripe] td:has-text('—')");
    await page.waitForSelector("#running-versions [data-running=stripe] [data-isolation=in_process]:has-text('in process')");
    await page.waitForSelector("#running-versions [data-running=hooks] [data-isolation=process]:has-text('runner pid')");
    await page.click("#reload-plugins");
    await page.waitForSelector("#reload-result [data-file='libstripe_byok.so'][data-reload-status=unchanged]");
    await page.waitForSelector("#reload-result [data-file='libbroken.so'][data-reload-status=refused]");
    const reloadText = await page.textContent("#reload-result [data-file='libbroken.so']");
    if (!reloadText.includes("ELF")) throw new Error("the refused reload says: " + reloadText);
    step("the hub lists running versions (an isolated one with its runner's pid); Reload changed plugins reports unchanged and refused files");

    // [coming_soon.paypal]: listed by the API with plugin null, shown as a disabled tile with nothing to press.
    const listed = await http(base, "GET", "/api/integrations", { token: adminToken, tenant: tenantId });
    const paypal = (listed.json.data || []).find((i) => i.id === "paypal");
    if (!paypal || paypal.plugin !== null || paypal.status !== "coming_soon") throw new Error("paypal in the API: " + listed.text);
    const paypalTile = "#integration-tiles [data-integration=paypal][data-coming-soon][aria-disabled=true]";
    await page.waitForSelector(paypalTile + " .badge:has-text('Coming soon')");
    const paypalText = await page.textContent(paypalTile);
    if (!paypalText.includes("PayPal") || !paypalText.includes("Checkout and payouts through PayPal."))
      throw new Error("the PayPal tile says: " + paypalText);
    if ((await page.$$(paypalTile + " button, " + paypalTile + " a")).length) throw new Error("the coming-soon tile has a control");
    step("the hub shows PayPal as a coming-soon tile (plugin null in the API), with no connect control");

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

    await invoiceActions(page, shot, { base, doubleUrl, adminToken, tenantId, paidInvoice: invoiceId, context });
    const mapped = await catalogPage(page, shot, { base, doubleUrl, adminToken, tenantId });
    await analyticsPage(page, shot, { base, doubleUrl, adminToken, tenantId, betaName: "beta", mapped });

    if (pageErrors.length) throw new Error("errors in the page: " + pageErrors.join(" | "));
    step("no script errors in the page");
  } catch (e) {
    await shot(page, "failure").catch(() => {});
    throw e;
  } finally {
    await browser.close();
  }
}

// ---- Invoices: Generate, filter by reference, View on Stripe, Send link, Copy link ----------------------------

// The Stripe double's API with the tenant's secret key (form-encoded, as Stripe takes it).
async function stripeCall(doubleUrl, method, urlPath, params) {
  const res = await http(doubleUrl, method, urlPath, {
    token: SECRET_KEY, headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: params ? new URLSearchParams(params).toString() : undefined,
  });
  if (res.status !== 200) throw new Error(method + " " + urlPath + ": " + res.status + " " + res.text);
  return res.json;
}

async function allRecordsOf(ctx, integration, model, query = "") {
  const out = [];
  for (let after = 0; ;) {
    const page = await http(ctx.base, "GET", `/api/records/${integration}/${model}?limit=1000&after=${after}${query}`, { token: ctx.adminToken, tenant: ctx.tenantId });
    if (page.status !== 200) throw new Error("records " + model + ": " + page.text);
    out.push(...page.json.data);
    if (!page.json.has_more) return out;
    after = page.json.next_after;
  }
}

async function invoiceActions(page, shot, ctx) {
  // Generate: one buyer, two items; the API then holds exactly that invoice for the reference.
  await page.fill("#gen-reference", "show-42");
  await page.fill("#gen-buyer", "b2");
  await page.fill("#gen-email", "b2@example.com");
  await page.fill("#gen-name", "Buyer Two");
  await page.fill("#gen-item-1-title", "Lot 9");
  await page.fill("#gen-item-1-quantity", "2");
  await page.fill("#gen-item-1-price", "12.50");
  await page.click("#gen-add-item");
  await page.fill("#gen-item-2-title", "Buyer's premium");
  await page.fill("#gen-item-2-price", "3.75");
  await page.click("#gen-submit");
  await page.waitForSelector("#generate-result:has-text('Created')");
  const show = (await allRecordsOf(ctx, "stripe", "invoice", "&data.reference=show-42")).filter((r) => !r.deleted);
  if (show.length !== 1) throw new Error("expected one show-42 invoice, the API has " + JSON.stringify(show));
  const inv = show[0].data;
  if (inv.amount_due !== 2875 || inv.buyer !== "b2" || inv.lines.length !== 2 || inv.status !== "open")
    throw new Error("the generated invoice is not what the form asked for: " + JSON.stringify(inv));
  const row = `tr[data-invoice="${inv.id}"]`;
  await page.waitForSelector(row + " .badge[data-status=open]");
  if (!(await page.textContent(row)).includes("28.75 USD")) throw new Error("row: " + (await page.textContent(row)));
  if (!(await page.textContent("#generate-result")).includes(inv.id)) throw new Error("result: " + (await page.textContent("#generate-result")));
  await page.click("#gen-submit");  // the same buyer and reference again: nothing new
  await page.waitForSelector("#generate-result:has-text('Already there')");
  if ((await allRecordsOf(ctx, "stripe", "invoice", "&data.reference=show-42")).length !== 1) throw new Error("a rerun made a second invoice");
  await shot(page, "11-invoice-generated");
  step("Generate made invoice " + inv.id + " (28.75 USD, 2 lines) for buyer b2 of show-42; a rerun created nothing");

  // Filter by the show's reference: only its invoices stay, the fragment keeps the filter.
  await page.fill("#inv-reference", "show-42");
  await page.click("#inv-filter-apply");
  await page.waitForSelector("#inv-filter-note:has-text('show-42')");
  await page.waitForSelector(row);
  const refs = await page.$$eval("#invoice-rows tr[data-invoice]", (rows) => rows.map((r) => r.dataset.reference));
  if (refs.length !== 1 || refs[0] !== "show-42") throw new Error("filtered rows have references " + JSON.stringify(refs));
  if (await page.$(`tr[data-invoice="${ctx.paidInvoice}"]`)) throw new Error("the console-1 invoice is still listed");
  if (!page.url().endsWith("#/invoices/stripe/show-42")) throw new Error("the filter is not in the URL: " + page.url());
  step("the reference filter lists only show-42's invoice");

  // View on Stripe: the dashboard's test-mode URL, in a new tab, no opener, no referrer.
  const view = await page.$eval(row + " a[data-action=view]", (a) => ({ href: a.href, target: a.target, rel: a.rel }));
  if (view.href !== "https://dashboard.stripe.com/test/invoices/" + inv.id || view.target !== "_blank" ||
      !/\bnoopener\b/.test(view.rel) || !/\bnoreferrer\b/.test(view.rel))
    throw new Error("View on Stripe link: " + JSON.stringify(view));
  step("View on Stripe links to " + view.href + " (target _blank, rel noopener noreferrer)");

  // Send link: the double receives POST /v1/invoices/{id}/send, the outcome is shown.
  const sendPath = "/v1/invoices/" + inv.id + "/send";
  const sendsBefore = (await http(ctx.doubleUrl, "GET", "/_double/requests?path=" + encodeURIComponent(sendPath))).json.data.length;
  await page.click(row + " button[data-action=send]");
  await page.waitForSelector("#invoice-outcome:has-text('emailed the payment link')");
  const sends = (await http(ctx.doubleUrl, "GET", "/_double/requests?path=" + encodeURIComponent(sendPath))).json.data;
  if (sends.length !== sendsBefore + 1 || sends[sends.length - 1].method !== "POST" || sends[sends.length - 1].status !== 200)
    throw new Error("the double saw these sends: " + JSON.stringify(sends.map((r) => [r.method, r.status])));
  step("Send link: the double received POST " + sendPath + " and the page says the link was emailed");

  // Copy link with the clipboard: what lands there is the invoice's hosted URL.
  await ctx.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: ctx.base });
  await page.click(row + " button[data-action=copy]");
  await page.waitForSelector("#invoice-outcome:has-text('Copied the payment link')");
  const clip = await page.evaluate(() => navigator.clipboard.readText());
  const hosted = (await stripeCall(ctx.doubleUrl, "GET", "/v1/invoices/" + inv.id)).hosted_invoice_url;
  if (!hosted || clip !== hosted) throw new Error("clipboard has " + clip + ", the invoice's link is " + hosted);
  // Without a clipboard: the link is put in a selected, labelled field instead.
  await page.evaluate(() => Object.defineProperty(navigator, "clipboard", { value: undefined, configurable: true }));
  await page.click(row + " button[data-action=copy]");
  await page.waitForSelector("#copy-fallback:not([hidden])");
  await page.waitForSelector("#invoice-outcome:has-text('clipboard is not available')");
  const field = await page.evaluate(() => {
    const f = document.getElementById("copy-fallback-url");
    return { value: f.value, focused: document.activeElement === f, start: f.selectionStart, end: f.selectionEnd,
      label: document.querySelector("label[for=copy-fallback-url]").textContent };
  });
  if (field.value !== hosted || !field.focused || field.start !== 0 || field.end !== hosted.length || !field.label.includes(inv.number || inv.id))
    throw new Error("fallback field: " + JSON.stringify(field));
  await shot(page, "12-invoice-copy-fallback");
  step("Copy link put " + hosted + " on the clipboard; without a clipboard it is selected in a labelled field");

  // Back to every invoice: the paid one offers no Send link (Stripe sends open invoices only).
  await page.click("#inv-filter-clear");
  await page.waitForSelector(`tr[data-invoice="${ctx.paidInvoice}"]`);
  if (!(await page.isDisabled(`tr[data-invoice="${ctx.paidInvoice}"] button[data-action=send]`)))
    throw new Error("Send link is enabled on a paid invoice");
  step("Show all lists every invoice again; a paid invoice's Send link is disabled");
}

// ---- Catalog: inline mappings with mismatch badges -------------------------------------------------------

// JSON with object keys sorted at every level (the API's key order is not the test's).
function canonical(value) {
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  if (value && typeof value === "object") return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
  return JSON.stringify(value);
}

async function catalogPage(page, shot, ctx) {
  const mappingsUrl = "/api/integrations/stripe/mappings";
  const probe = await http(ctx.base, "GET", mappingsUrl, { token: ctx.adminToken, tenant: ctx.tenantId });
  if (probe.status !== 200) throw new Error("GET " + mappingsUrl + ": " + probe.status + " " + probe.text);
  // The catalog at the double: two plans with a monthly price each, an archived product, one to delete later.
  const starter = await stripeCall(ctx.doubleUrl, "POST", "/v1/products", { name: "Starter" });
  const starterMonthly = await stripeCall(ctx.doubleUrl, "POST", "/v1/prices", { product: starter.id, unit_amount: "900", currency: "usd", "recurring[interval]": "month", nickname: "Starter monthly" });
  const pro = await stripeCall(ctx.doubleUrl, "POST", "/v1/products", { name: "Pro" });
  const proMonthly = await stripeCall(ctx.doubleUrl, "POST", "/v1/prices", { product: pro.id, unit_amount: "2900", currency: "usd", "recurring[interval]": "month", nickname: "Pro monthly" });
  const legacy = await stripeCall(ctx.doubleUrl, "POST", "/v1/products", { name: "Legacy", active: "false" });
  const temp = await stripeCall(ctx.doubleUrl, "POST", "/v1/products", { name: "Temp" });
  // A mapping saved through the API for an object that was never in the catalog: stale.
  const stale = await http(ctx.base, "PUT", mappingsUrl, { token: ctx.adminToken, tenant: ctx.tenantId, body: { mappings: { product: { prod_gone0001: "sku-gone" }, price: {} } } });
  if (stale.status !== 200) throw new Error("PUT mappings: " + stale.text);

  await page.click("nav a[data-page=catalog]");
  await page.waitForSelector("#catalog-sync");
  await page.click("#catalog-sync");
  const hints = (kind, id) => `[data-hints="${kind}:${id}"]`;
  await page.waitForSelector(`tr[data-kind=product][data-id="${temp.id}"]`, { timeout: 40000 });
  await page.waitForSelector(hints("product", starter.id) + " .badge[data-status=unmapped]");
  await page.waitForSelector(hints("price", starterMonthly.id) + " .badge[data-status=unmapped]");
  await page.waitForSelector(`tr[data-kind=product][data-id="${legacy.id}"] .badge[data-status=archived]`);
  await page.waitForSelector(`#catalog-orphans tr[data-id=prod_gone0001] .badge[data-status=stale]`);
  if (!(await page.textContent(`tr[data-kind=price][data-id="${starterMonthly.id}"]`)).includes("9.00 USD / month"))
    throw new Error("price row: " + (await page.textContent(`tr[data-kind=price][data-id="${starterMonthly.id}"]`)));
  step("Catalog: Sync catalog now lists the double's products and prices; unmapped, archived and a stale mapping are flagged");

  // Inline edits re-check every row as one types.
  await page.fill(`#map-product-${starter.id}`, "sku-starter");
  await page.fill(`#map-price-${starterMonthly.id}`, "sku-starter-monthly");
  await page.fill(`#map-price-${proMonthly.id}`, "sku-starter-monthly");
  await page.waitForSelector(hints("price", starterMonthly.id) + " .badge[data-status=duplicate]");
  await page.waitForSelector(hints("price", proMonthly.id) + " .badge[data-status=duplicate]");
  await page.waitForSelector(hints("price", proMonthly.id) + " .badge[data-status=product-unmapped]");
  await page.fill(`#map-price-${proMonthly.id}`, "sku-pro-monthly");
  await page.waitForSelector(hints("price", starterMonthly.id) + " .badge[data-status=mapped]");
  if (await page.$(hints("price", proMonthly.id) + " .badge[data-status=duplicate]")) throw new Error("duplicate badge stayed");
  await page.fill(`#map-product-${legacy.id}`, "sku-legacy");
  await page.waitForSelector(hints("product", legacy.id) + " .badge[data-status=archived]");
  await page.waitForSelector("#catalog-summary:has-text('Unsaved changes')");
  await shot(page, "13-catalog-editing");
  step("mapping inputs flag a duplicate id, a price whose product is unmapped and a mapped archived product as one types");

  // The server refuses a value over 200 bytes; its message is shown and nothing is stored.
  await page.fill(`#map-product-${temp.id}`, "x".repeat(201));
  await page.click("#catalog-save");
  await page.waitForSelector("#catalog-error:has-text('Not saved')");
  const unchanged = await http(ctx.base, "GET", mappingsUrl, { token: ctx.adminToken, tenant: ctx.tenantId });
  if (canonical(unchanged.json.mappings) !== canonical({ product: { prod_gone0001: "sku-gone" }, price: {} }))
    throw new Error("a refused save changed the mappings: " + unchanged.text);
  step("a 201-byte id is refused by the server: " + (await page.textContent("#catalog-error")));

  await page.fill(`#map-product-${temp.id}`, "sku-temp");
  await page.click("#catalog-save");
  await page.waitForSelector("#catalog-result:has-text('Saved 4 product and 2 price mappings')");
  const expected = {
    product: { prod_gone0001: "sku-gone", [starter.id]: "sku-starter", [legacy.id]: "sku-legacy", [temp.id]: "sku-temp" },
    price: { [starterMonthly.id]: "sku-starter-monthly", [proMonthly.id]: "sku-pro-monthly" },
  };
  const afterSave = await http(ctx.base, "GET", mappingsUrl, { token: ctx.adminToken, tenant: ctx.tenantId });
  if (canonical(afterSave.json.mappings) !== canonical(expected)) throw new Error("saved mappings: " + afterSave.text);
  if (typeof afterSave.json.updated_at !== "number") throw new Error("updated_at: " + afterSave.text);
  step("Save mappings stored exactly the typed ids (checked with GET /mappings)");

  // Deleted at Stripe after being mapped: the next catalog sync leaves a tombstone, the mapping is flagged.
  await stripeCall(ctx.doubleUrl, "DELETE", "/v1/products/" + temp.id);
  await page.click("#catalog-sync");
  await page.waitForSelector(`#catalog-orphans tr[data-id="${temp.id}"] .badge[data-status=deleted]`, { timeout: 40000 });
  await shot(page, "14-catalog-deleted");
  // Remove the stale mapping and save: it is gone from the API too.
  await page.click(`#catalog-orphans tr[data-id=prod_gone0001] button:has-text('Remove')`);
  await page.click("#catalog-save");
  await page.waitForSelector("#catalog-result:has-text('Saved 3 product and 2 price mappings')");
  const afterRemove = await http(ctx.base, "GET", mappingsUrl, { token: ctx.adminToken, tenant: ctx.tenantId });
  if ("prod_gone0001" in afterRemove.json.mappings.product || afterRemove.json.mappings.product[temp.id] !== "sku-temp")
    throw new Error("after removing the stale mapping: " + afterRemove.text);
  step("a product deleted at Stripe is flagged after the next sync; Remove + Save drops the stale mapping");
  return { product: starter.id, price: starterMonthly.id };
}

// ---- Analytics: per-currency totals, charts, chips, empty states --------------------------------------------

// The console's money(): minor units with the currency's decimals, then the upper-case code.
function money(minor, currency) {
  return (Number(minor) / 100).toFixed(2) + " " + currency.toUpperCase();
}

async function runJob(ctx, integration, job, body) {
  const started = await http(ctx.base, "POST", `/api/integrations/${integration}/jobs/${job}/run`, { token: ctx.adminToken, tenant: ctx.tenantId, body });
  if (started.status !== 200 && started.status !== 202) throw new Error("run " + job + ": " + started.text);
  let run = started.json.run;
  for (let i = 0; i < 120 && run.status === "running"; i++) {
    await new Promise((r) => setTimeout(r, 500));
    run = (await http(ctx.base, "GET", `/api/integrations/${integration}/jobs/${job}/runs/${run.id}`, { token: ctx.adminToken, tenant: ctx.tenantId })).json;
  }
  if (run.status !== "succeeded") throw new Error(job + " run: " + JSON.stringify(run));
}

// What the page should show: sums per currency of the transaction records `keep` accepts.
async function expectedTotals(ctx, keep) {
  const totals = {};
  const list = await http(ctx.base, "GET", "/api/integrations", { token: ctx.adminToken, tenant: ctx.tenantId });
  for (const i of list.json.data.filter((x) => x.plugin && /^stripe/.test(x.plugin.name) && x.status !== "unavailable")) {
    for (const r of await allRecordsOf(ctx, i.id, "transaction")) {
      if (r.deleted || !keep(r.data, i.id)) continue;
      const t = totals[r.data.currency] || (totals[r.data.currency] = { gross: 0, fee: 0, net: 0, count: 0, days: new Set() });
      t.gross += r.data.amount; t.fee += r.data.fee; t.net += r.data.net; t.count++;
      t.days.add(new Date(Math.floor(r.data.created / 86400) * 86400000).toISOString().slice(0, 10));
    }
  }
  return totals;
}

async function checkTotals(page, totals) {
  const shown = await page.$$eval("section[data-currency]", (sections) => sections.map((s) => s.dataset.currency));
  if (JSON.stringify(shown) !== JSON.stringify(Object.keys(totals).sort())) throw new Error("currencies shown " + JSON.stringify(shown) + ", expected " + JSON.stringify(Object.keys(totals)));
  for (const [cur, t] of Object.entries(totals)) {
    const text = async (key) => (await page.textContent(`section[data-currency=${cur}] [data-total=${key}] dd`)).trim();
    for (const key of ["gross", "fee", "net"]) {
      if ((await text(key)) !== money(t[key], cur)) throw new Error(`${cur} ${key}: the page shows ${await text(key)}, the records sum to ${money(t[key], cur)}`);
    }
    if ((await text("count")) !== String(t.count)) throw new Error(`${cur} count: ${await text("count")} vs ${t.count}`);
  }
}

async function analyticsPage(page, shot, ctx) {
  // More data: three older days in USD, a EUR payment, a USD payment partly refunded; then a full
  // transactions sync (the older days are behind the incremental cursor).
  const now = Math.floor(Date.now() / 1000);
  await http(ctx.doubleUrl, "POST", "/_double/seed/balance_transactions", { body: { count: 3, start: now - 3 * 86400, spacing_s: 86400, amount: 1000 } });
  const pay = async (amount, currency) => {
    const intent = await http(ctx.base, "POST", "/api/integrations/stripe/actions/create_payment_intent", { token: ctx.adminToken, tenant: ctx.tenantId, body: { amount, currency } });
    if (intent.status !== 200) throw new Error("create_payment_intent: " + intent.text);
    const paid = await http(ctx.base, "POST", "/api/integrations/stripe/actions/simulate_payment", { token: ctx.adminToken, tenant: ctx.tenantId, body: { payment_intent: intent.json.payment_intent_id } });
    if (paid.status !== 200 || paid.json.status !== "succeeded") throw new Error("simulate_payment: " + paid.text);
    return intent.json.payment_intent_id;
  };
  await pay(5000, "eur");
  const usdIntent = await pay(4000, "usd");
  await stripeCall(ctx.doubleUrl, "POST", "/v1/refunds", { payment_intent: usdIntent, amount: "1000" });
  // A payment tagged with the Starter product and price (charge metadata): its transaction carries the mapped ids.
  const tagged = await stripeCall(ctx.doubleUrl, "POST", "/v1/payment_intents", {
    amount: "900", currency: "usd", payment_method: "pm_card_visa", confirm: "true",
    "metadata[product]": ctx.mapped.product, "metadata[price]": ctx.mapped.price,
  });
  await runJob(ctx, "stripe", "transactions", { full: true });
  const all = await expectedTotals(ctx, () => true);
  if (!all.usd || !all.eur || all.usd.days.size < 4) throw new Error("test data: " + JSON.stringify(all, (k, v) => (v instanceof Set ? [...v] : v)));

  await page.click("nav a[data-page=analytics]");
  await page.waitForSelector("section[data-currency=eur] [data-total=gross]");
  await checkTotals(page, all);
  for (const cur of ["usd", "eur"]) await page.waitForSelector(`section[data-currency=${cur}] .uplot canvas`);
  const dayRows = await page.$$eval("section[data-currency=usd] details.per-day tbody tr", (rows) => rows.map((r) => r.dataset.day));
  if (JSON.stringify(dayRows) !== JSON.stringify([...all.usd.days].sort())) throw new Error("USD days " + JSON.stringify(dayRows) + " vs " + JSON.stringify([...all.usd.days]));
  await page.click("section[data-currency=usd] details.per-day summary");
  await shot(page, "15-analytics");
  step(`Analytics: USD ${money(all.usd.gross, "usd")} gross / ${money(all.usd.fee, "usd")} fee / ${money(all.usd.net, "usd")} net over ${all.usd.days.size} days and EUR ${money(all.eur.gross, "eur")} gross, as the records sum, each drawn by uPlot`);

  // The tagged payment's transaction shows your ids on the Transactions page (the records' "mapped").
  const taggedTxn = (await allRecordsOf(ctx, "stripe", "transaction")).find((r) => r.data.payment_intent === tagged.id);
  if (!taggedTxn || !taggedTxn.mapped || taggedTxn.mapped.product !== "sku-starter" || taggedTxn.mapped.price !== "sku-starter-monthly")
    throw new Error("the tagged transaction: " + JSON.stringify(taggedTxn));
  await page.click("nav a[data-page=transactions]");
  await page.waitForSelector(`#tx-table tr[data-id="${taggedTxn.id}"] td.mapped:has-text('product sku-starter, price sku-starter-monthly')`);
  step("Transactions shows the mapped ids of a payment tagged with the Starter product and price");
  await page.click("nav a[data-page=analytics]");
  await page.waitForSelector("section[data-currency=eur] [data-total=gross]");

  // Chips: refunds off, then every integration off; totals follow.
  await page.click("button[data-chip='type:refund']");
  await page.waitForSelector("button[data-chip='type:refund'][aria-pressed=false]");
  await checkTotals(page, await expectedTotals(ctx, (d) => d.type !== "refund"));
  const integrationChips = await page.$$eval("button[data-chip^='integration:']", (b) => b.map((x) => x.dataset.chip));
  for (const chip of integrationChips) await page.click(`button[data-chip='${chip}']`);
  await page.waitForSelector("#analytics-empty:has-text('Nothing to sum')");
  for (const chip of integrationChips) await page.click(`button[data-chip='${chip}']`);
  await page.click("button[data-chip='type:refund']");
  await checkTotals(page, all);
  await shot(page, "16-analytics-chips");
  step("the refund chip takes refunds out of the sums (checked against the records); all integration chips off shows nothing to sum");

  // A tenant without transactions sees the empty state.
  const beta = await page.$$eval("#tenant-switch option", (opts, name) => opts.find((o) => o.textContent.startsWith(name + " ")).value, ctx.betaName);
  await page.selectOption("#tenant-switch", beta);
  await page.waitForSelector("#analytics-empty:has-text('No transactions yet')");
  await shot(page, "17-analytics-empty");
  await page.selectOption("#tenant-switch", ctx.tenantId);
  await page.waitForSelector("section[data-currency=usd]");
  step("a tenant with no transaction records gets the Analytics empty state");
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
