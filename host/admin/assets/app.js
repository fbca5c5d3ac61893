"use strict";
// ihost admin console. Plain JS, no build step. The operator signs in with the admin token (kept in
// sessionStorage for this tab only) and acts as one tenant at a time: tenant API calls carry
// "X-Ihost-Tenant: <tenant id>". Every DOM update goes through el()/text nodes, never innerHTML.
// This file holds the shell (session, routing, helpers) and the operator pages; invoices.js, catalog.js and
// analytics.js add their pages to `pages` (classic scripts share these top-level names; all run before
// DOMContentLoaded, which starts the console).

const store = {
  get token() { return sessionStorage.getItem("ihost.admin_token") || ""; },
  set token(v) { v ? sessionStorage.setItem("ihost.admin_token", v) : sessionStorage.removeItem("ihost.admin_token"); },
  get tenant() { return sessionStorage.getItem("ihost.tenant") || ""; },
  set tenant(v) { v ? sessionStorage.setItem("ihost.tenant", v) : sessionStorage.removeItem("ihost.tenant"); },
};

const $ = (id) => document.getElementById(id);

// el("tag", {attr: value, onclick: fn, class: "x"}, child, "text", ...)
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v === true) node.setAttribute(k, "");
    else node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

// Replaces a node's children, skipping null/undefined/false (optional parts of a view).
function put(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function badge(status, label) {
  const cls = String(status || "").toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return el("span", { class: "badge " + cls, "data-status": status }, label || status);
}

function notify(message) {
  $("notice").textContent = message;
}

class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error;
    super(err && err.message ? err.message : "HTTP " + status);
    this.status = status;
    this.code = err && err.code;
  }
}

// Calls the ihost API. `tenant: false` for operator routes (/api/admin/...).
async function api(path, { method = "GET", body, tenant = true, signal } = {}) {
  const headers = { Authorization: "Bearer " + store.token };
  if (tenant) headers["X-Ihost-Tenant"] = store.tenant;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (res.status === 401 && !tenant) { signOut("Your admin token was refused. Sign in again."); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// ---- money and time --------------------------------------------------------------------------------------
const ZERO_DECIMAL = new Set(["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
  "vuv", "xaf", "xof", "xpf"]);
function money(minor, currency) {
  if (minor === undefined || minor === null || minor === "") return "";
  const cur = String(currency || "").toLowerCase();
  const digits = ZERO_DECIMAL.has(cur) ? 0 : 2;
  const value = Number(minor) / Math.pow(10, digits);
  return value.toFixed(digits) + (cur ? " " + cur.toUpperCase() : "");
}
function when(value) {
  if (value === undefined || value === null || value === "") return "";
  if (typeof value === "number") value = new Date(value < 1e12 ? value * 1000 : value).toISOString();
  return String(value).replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
}

// ---- session ---------------------------------------------------------------------------------------------
let tenants = [];
let pageCleanup = null;  // stops polling/streams of the page being left
let pendingNotice = "";  // shown once the next page has rendered (e.g. back from a provider's consent page)

// Back from "Connect with Stripe": the host's OAuth callback redirects to the integration's success_url
// (this console) with ?integration=<id>&status=connected. Shows the result on the Stripe page and drops the
// query so a reload does not repeat it.
function takeOAuthReturn() {
  const q = new URLSearchParams(location.search);
  const id = q.get("integration");
  if (!id || !q.get("status")) return;
  pendingNotice = q.get("status") === "connected" ? id + ": Stripe account connected."
    : q.get("status") === "failed" ? id + ": the connection was declined or failed; nothing was stored."
    : id + ": " + q.get("status") + ".";
  history.replaceState(null, "", location.pathname + "#/stripe");
}

async function signIn(token) {
  store.token = token;
  const list = await api("/api/admin/tenants", { tenant: false });
  tenants = list.data || [];
  if (!tenants.some((t) => t.id === store.tenant)) store.tenant = tenants.length ? tenants[0].id : "";
  const sw = $("tenant-switch");
  put(sw, ...tenants.map((t) => el("option", { value: t.id }, t.name + " (" + t.id + ")")));
  sw.value = store.tenant;
  takeOAuthReturn();
  $("sign-in").hidden = true;
  $("session").hidden = false;
  $("nav").hidden = false;
  $("page").hidden = false;
  if (!location.hash || location.hash === "#") location.hash = "#/integrations";
  else route();
}

function signOut(message) {
  store.token = "";
  if (pageCleanup) pageCleanup();
  pageCleanup = null;
  $("session").hidden = true;
  $("nav").hidden = true;
  $("page").hidden = true;
  put($("page"));
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  $("admin-token").value = "";
  $("admin-token").focus();
}

// ---- routing ---------------------------------------------------------------------------------------------
// Page name (the first fragment segment) -> async (root, segments) renderer. The other files add theirs.
const pages = {
  integrations: pageIntegrations,
  stripe: pageStripe,
  webhooks: pageWebhooks,
  sync: pageSync,
  transactions: pageTransactions,
};

async function route() {
  if (!store.token) return;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = pages[name] ? name : "integrations";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (pageCleanup) pageCleanup();
  pageCleanup = null;
  notify("");
  const root = $("page");
  put(root, el("p", { class: "muted" }, "Loading…"));
  if (!store.tenant) {
    put(root, el("div", { class: "card" }, el("h2", {}, "No tenant yet"),
      el("p", {}, "Create one with ", el("code", {}, "ihost tenants create <name>"), " and reload.")));
    return;
  }
  try {
    await pages[page](root, rest.map(decodeURIComponent));
    if (pendingNotice) notify(pendingNotice);
    pendingNotice = "";
  } catch (e) {
    put(root, el("div", { class: "card" }, el("h2", {}, "Could not load this page"),
      el("p", { class: "error", role: "alert" }, e.message)));
  }
}

// Integrations of this tenant whose plugin is `plugin` (ids), from GET /api/integrations.
async function integrationsOf(plugin) {
  const list = await api("/api/integrations");
  return (list.data || []).filter((i) => i.plugin && i.plugin.name === plugin && i.status !== "unavailable");
}

// The usable Stripe integrations (stripe_byok, stripe_connect) of a GET /api/integrations answer. Placeholder
// ("coming soon") entries have plugin null and are never usable.
function stripeIntegrations(list) {
  return (list.data || []).filter((i) => i.plugin && /^stripe/.test(i.plugin.name || "") &&
    i.status !== "unavailable" && i.status !== "coming_soon");
}

// Every record of a model (all pages, deleted ones included: the caller decides).
async function allRecords(integration, model, query) {
  const out = [];
  let after = 0;
  for (;;) {
    const page = await api("/api/records/" + encodeURIComponent(integration) + "/" + model + "?limit=1000&after=" + after +
      (query ? "&" + query : ""));
    out.push(...page.data);
    if (!page.has_more || page.next_after === after) break;
    after = page.next_after;
  }
  return out;
}

// Runs a sync job now and waits until it ends (the run API answers 202 while it is still going). Returns the run.
async function runJobAndWait(integration, job, body) {
  const base = "/api/integrations/" + encodeURIComponent(integration) + "/jobs/" + encodeURIComponent(job);
  let { run } = await api(base + "/run", { method: "POST", body: body || {} });
  for (let i = 0; i < 240 && (run.status === "running" || run.status === undefined); i++) {
    await new Promise((r) => setTimeout(r, 500));
    run = await api(base + "/runs/" + run.id);
  }
  return run;
}

function integrationPicker(ids, current, onChange) {
  if (ids.length < 2) return null;
  const select = el("select", { id: "integration-pick", onchange: (e) => onChange(e.target.value) },
    ids.map((id) => el("option", { value: id, selected: id === current }, id)));
  return el("div", {}, el("label", { for: "integration-pick" }, "Integration"), select);
}

// ---- Integrations hub ------------------------------------------------------------------------------------
async function pageIntegrations(root) {
  const [plugins, list] = await Promise.all([api("/api/admin/plugins", { tenant: false }), api("/api/integrations")]);
  const tiles = el("div", { class: "tiles", id: "integration-tiles" });
  // OAuth plugins (Stripe Connect) take no connect body (connect_schema null) but still need a connection.
  const capabilities = new Map((plugins.loaded || []).map((p) => [p.name, p.capabilities || []]));
  const needsConnection = (i) => i.connect_schema !== null ||
    (capabilities.get(i.plugin && i.plugin.name) || []).some((c) => c === "oauth" || c === "connect");
  const comingSoon = (list.data || []).filter((i) => i.status === "coming_soon");
  for (const i of (list.data || []).filter((i) => i.status !== "coming_soon")) {
    const notInstalled = i.status === "unavailable" && /not installed/.test(i.reason || "");
    const state = i.status === "unavailable" ? (notInstalled ? "not installed" : "unavailable")
      : i.connected ? "connected" : needsConnection(i) ? "not connected" : "no connection needed";
    const tile = el("article", { class: "tile", "data-integration": i.id, "aria-label": "Integration " + i.id },
      el("h3", {}, i.id),
      el("p", {}, (i.plugin && (i.plugin.display_name || i.plugin.name)) || "", i.plugin && i.plugin.version ? " " + i.plugin.version : ""),
      el("p", {}, badge(state.replace(/ /g, "-"), state)),
      i.reason ? el("p", { class: "error" }, i.reason) : null,
      i.last_check && i.last_check.at ? el("p", {}, "Last check: ", when(i.last_check.at), " ", i.last_check.ok ? "ok" : "failed") : null);
    if (i.plugin && i.plugin.name === "stripe_byok" && i.status !== "unavailable")
      tile.append(el("a", { href: "#/stripe/" + encodeURIComponent(i.id) }, "Manage Stripe keys"));
    if (i.plugin && i.plugin.name === "stripe_connect" && i.status !== "unavailable")
      tile.append(connectButton(i));
    tiles.append(tile);
  }
  // Providers configured as placeholders ([coming_soon.<id>] in the TOML): shown, but nothing to connect.
  for (const i of comingSoon) {
    tiles.append(el("article", { class: "tile coming-soon", "data-integration": i.id, "data-coming-soon": "",
      "aria-disabled": "true", "aria-label": (i.name || i.id) + ", coming soon" },
      el("h3", {}, i.name || i.id),
      el("p", {}, badge("coming-soon", "Coming soon")),
      i.description ? el("p", {}, i.description) : null));
  }
  const loaded = el("div", { class: "tiles" }, (plugins.loaded || []).map((p) =>
    el("article", { class: "tile", "data-plugin": p.name },
      el("h3", {}, p.display_name || p.name),
      el("p", {}, p.name + " " + p.version + " · ABI " + p.abi),
      el("p", {}, badge("loaded")),
      el("p", {}, (p.capabilities || []).join(", ")))));
  const refused = (plugins.refused || []).map((r) =>
    el("article", { class: "tile", "data-refused": r.file },
      el("h3", {}, r.file.split("/").pop()), el("p", {}, badge("refused")), el("p", { class: "error" }, r.reason)));
  // Where each plugin runs: in the host, or in its own runner process (isolation = "process"), with the
  // runner's pid, restarts and why the last one ended.
  const isolation = (r) => {
    if (r.isolation !== "process") return "in process";
    const runner = r.runner || {};
    const parts = ["process", runner.up ? "runner pid " + runner.pid : "runner down",
      "restarts " + (runner.restarts || 0)];
    if (runner.last_exit) parts.push("last exit: " + runner.last_exit + (runner.last_exit_at ? " at " + when(runner.last_exit_at) : ""));
    return parts.join(" · ");
  };
  // The version each integration serves now (hot reloads change it without a restart).
  const running = el("table", { id: "running-versions" },
    el("thead", {}, el("tr", {}, ["Integration", "Plugin", "Version", "Loaded", "Previous", "Reloads", "Isolation"].map((h) => el("th", {}, h)))),
    el("tbody", {}, (plugins.integrations || []).map((r) =>
      el("tr", { "data-running": r.integration },
        el("td", {}, r.integration), el("td", {}, r.plugin), el("td", {}, r.version),
        el("td", {}, when(r.loaded_at)), el("td", {}, r.previous_version || "—"), el("td", {}, String(r.reloads)),
        el("td", { "data-isolation": r.isolation || "in_process" }, isolation(r))))));
  const reloadResult = el("ul", { id: "reload-result", "aria-live": "polite" });
  const reloadButton = el("button", {
    type: "button", id: "reload-plugins",
    onclick: async () => {
      reloadButton.disabled = true;
      reloadResult.replaceChildren();
      try {
        const answer = await api("/api/admin/plugins/reload", { method: "POST", body: {}, tenant: false });
        for (const f of answer.files || []) {
          const what = f.status === "reloaded" ? f.plugin + " " + f.from_version + " → " + f.to_version
            : f.status === "refused" ? f.reason : (f.plugin || "") + (f.to_version ? " " + f.to_version : "");
          reloadResult.append(el("li", { "data-reload-status": f.status, "data-file": f.file.split("/").pop() },
            badge(f.status), " ", f.file.split("/").pop(), " ", what));
        }
        if (!(answer.files || []).length) reloadResult.append(el("li", {}, "No plugin file in the plugins directory."));
        if ((answer.files || []).some((f) => f.status === "reloaded")) running.replaceWith(
          el("p", { class: "muted" }, "Reloaded: open this page again to see the running versions."));
      } catch (e) {
        reloadResult.append(el("li", { class: "error", role: "alert" }, e.message));
      }
      reloadButton.disabled = false;
    },
  }, "Reload changed plugins");
  put(root,
    el("h2", {}, "Integrations"),
    el("p", { class: "muted" }, "Configured integrations for this tenant, then the plugin files the host found."),
    tiles.childElementCount ? tiles : el("p", {}, "No integration is configured."),
    el("h2", {}, "Plugins"),
    loaded,
    refused.length ? el("h3", {}, "Refused plugin files") : null,
    refused.length ? el("div", { class: "tiles" }, refused) : null,
    el("h3", {}, "Running versions"),
    running,
    el("p", {}, reloadButton, " ", el("span", { class: "muted" },
      "Loads every changed .so of the plugins directory; calls in flight finish on the old version.")),
    reloadResult);
}

// "Connect with Stripe": asks the host for the provider's authorization URL, then goes there.
function connectButton(integration) {
  const info = integration.info || {};
  const account = info.account || info.stripe_user_id || info.account_id;
  const error = el("p", { class: "error", role: "alert" });
  const button = el("button", {
    type: "button",
    onclick: async () => {
      button.disabled = true;
      error.textContent = "";
      try {
        const start = await api("/api/integrations/" + encodeURIComponent(integration.id) + "/oauth/start");
        location.assign(start.url);
      } catch (e) {
        error.textContent = e.message;
        button.disabled = false;
      }
    },
  }, integration.connected ? "Reconnect with Stripe" : "Connect with Stripe");
  const details = [info.livemode === undefined ? null : info.livemode ? "LIVE mode" : "test mode",
    info.email, info.country].filter(Boolean).join(" · ");
  return el("div", { class: "connect", "data-connect": integration.id },
    integration.connected ? el("p", {}, "Connected account: ", el("code", { class: "connected-account" }, account || "(unknown)"),
      details ? " · " + details : "") : null,
    button, error);
}

// ---- Stripe BYOK -----------------------------------------------------------------------------------------
const KEY_SECRET = /^(sk|rk)_(test|live)_[A-Za-z0-9]{6,}$/;
const KEY_PUBLISHABLE = /^pk_(test|live)_[A-Za-z0-9]{6,}$/;

// Client-side format feedback only; the server (and Stripe) decide.
function keyFeedback(secret, publishable) {
  const out = { secret: "", publishable: "", ok: true };
  if (secret) {
    const m = KEY_SECRET.exec(secret);
    if (!m) { out.secret = "A secret key starts with sk_test_, sk_live_, rk_test_ or rk_live_."; out.ok = false; }
    else out.secret = (m[1] === "rk" ? "Restricted" : "Secret") + " key, " + m[2] + " mode.";
  }
  if (publishable) {
    const m = KEY_PUBLISHABLE.exec(publishable);
    if (!m) { out.publishable = "A publishable key starts with pk_test_ or pk_live_."; out.ok = false; }
    else {
      out.publishable = "Publishable key, " + m[1] + " mode.";
      const s = KEY_SECRET.exec(secret || "");
      if (s && s[2] !== m[1]) { out.publishable = "Mode mismatch: the secret key is " + s[2] + ", this one is " + m[1] + "."; out.ok = false; }
    }
  }
  return out;
}

async function pageStripe(root, [wanted]) {
  const [byok, connect] = await Promise.all([integrationsOf("stripe_byok"), integrationsOf("stripe_connect")]);
  const parts = [el("h2", {}, "Stripe")];
  if (!byok.length && !connect.length) {
    put(root, ...parts, el("p", {}, "No Stripe integration is configured for this host."));
    return;
  }
  for (const c of connect) {
    parts.push(el("section", { class: "card", "aria-labelledby": "connect-" + c.id },
      el("h3", { id: "connect-" + c.id }, "Stripe Connect: " + c.id), el("p", {}, badge(c.connected ? "connected" : "not-connected", c.connected ? "connected" : "not connected")),
      connectButton(c)));
  }
  if (!byok.length) { put(root, ...parts); return; }
  const id = byok.some((i) => i.id === wanted) ? wanted : byok[0].id;
  const picker = integrationPicker(byok.map((i) => i.id), id, (v) => { location.hash = "#/stripe/" + encodeURIComponent(v); });
  const base = "/api/integrations/" + encodeURIComponent(id);

  const status = el("div", { id: "byok-status", "aria-live": "polite" });
  async function refresh() {
    const i = await api(base);
    const info = i.info || {};
    put(status,
      el("p", {}, "Status: ", badge(i.connected ? "connected" : "not-connected", i.connected ? "connected" : "not connected")),
      i.connected ? el("p", {}, "Key: ", el("code", {}, info.secret_key || info.key || info.masked_key || "(stored)"),
        info.livemode === undefined ? "" : info.livemode ? " · LIVE mode" : " · test mode") : null,
      i.last_check && i.last_check.at ? el("p", {}, "Last check ", when(i.last_check.at), ": ",
        i.last_check.ok ? "ok" : "failed" + (i.last_check.error ? " (" + i.last_check.error + ")" : "")) : null);
    testButton.disabled = disconnectButton.disabled = setupButton.disabled = !i.connected;
    return i;
  }

  const secret = el("input", { id: "secret-key", type: "password", autocomplete: "off", spellcheck: "false", "aria-describedby": "secret-key-hint" });
  const publishable = el("input", { id: "publishable-key", type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": "publishable-key-hint" });
  const whsec = el("input", { id: "webhook-secret", type: "password", autocomplete: "off", spellcheck: "false", "aria-describedby": "webhook-secret-hint" });
  const secretHint = el("p", { id: "secret-key-hint", class: "hint", "aria-live": "polite" });
  const publishableHint = el("p", { id: "publishable-key-hint", class: "hint", "aria-live": "polite" });
  const formError = el("p", { id: "connect-error", class: "error", role: "alert" });
  const result = el("p", { id: "byok-result", role: "status" });
  const check = () => {
    const f = keyFeedback(secret.value.trim(), publishable.value.trim());
    secretHint.textContent = f.secret;
    secretHint.className = "hint " + (f.secret && KEY_SECRET.test(secret.value.trim()) ? "good" : f.secret ? "bad" : "");
    publishableHint.textContent = f.publishable;
    publishableHint.className = "hint " + (f.ok && f.publishable ? "good" : f.publishable ? "bad" : "");
    return f.ok;
  };
  secret.addEventListener("input", check);
  publishable.addEventListener("input", check);

  const form = el("form", {
    id: "connect-form", novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      formError.textContent = "";
      result.textContent = "";
      if (!check() || !secret.value.trim() || !publishable.value.trim()) {
        formError.textContent = "Enter a secret key and a publishable key of the same mode.";
        return;
      }
      const body = { secret_key: secret.value.trim(), publishable_key: publishable.value.trim() };
      if (whsec.value.trim()) body.webhook_secret = whsec.value.trim();
      connectSubmit.disabled = true;
      try {
        await api(base + "/connect", { method: "POST", body });
        secret.value = ""; whsec.value = "";
        result.textContent = "Connected.";
        await refresh();
      } catch (err) {
        formError.textContent = err.message;  // the server's message, verbatim
      } finally {
        connectSubmit.disabled = false;
      }
    },
  },
  el("div", { class: "row" },
    el("div", {}, el("label", { for: "secret-key" }, "Secret key"), secret, secretHint),
    el("div", {}, el("label", { for: "publishable-key" }, "Publishable key"), publishable, publishableHint),
    el("div", {}, el("label", { for: "webhook-secret" }, "Webhook signing secret (optional)"), whsec,
      el("p", { id: "webhook-secret-hint", class: "hint" }, "whsec_…; Run setup can create the endpoint and store it."))),
  formError);
  const connectSubmit = el("button", { type: "submit", id: "connect" }, "Connect");
  form.append(connectSubmit);

  const testButton = el("button", {
    type: "button", class: "secondary", id: "test-connection",
    onclick: async () => {
      result.textContent = "Testing…";
      try {
        const t = await api(base + "/test");
        result.textContent = t.ok ? "Connection test passed." : "Connection test failed: " + (t.error || "");
      } catch (err) { result.textContent = "Connection test failed: " + err.message; }
      await refresh();
    },
  }, "Test connection");
  const disconnectButton = el("button", {
    type: "button", class: "danger", id: "disconnect",
    onclick: async () => {
      if (!confirm("Disconnect " + id + "? Stored keys are wiped.")) return;
      try { await api(base, { method: "DELETE" }); result.textContent = "Disconnected."; }
      catch (err) { result.textContent = err.message; }
      await refresh();
    },
  }, "Disconnect");

  const workflow = el("div", { id: "workflow" });
  const setupButton = el("button", {
    type: "button", id: "run-setup",
    onclick: () => runWorkflow(workflow, id, "setup", setupButton),
  }, "Run setup");

  parts.push(
    picker,
    el("section", { class: "card", "aria-labelledby": "byok-title" },
      el("h3", { id: "byok-title" }, "Your own keys: " + id), status, form,
      el("div", {}, testButton, disconnectButton), result),
    el("section", { class: "card", "aria-labelledby": "setup-title" },
      el("h3", { id: "setup-title" }, "Setup workflow"),
      el("p", { class: "muted" }, "Checks the key, provisions the catalog and creates the webhook endpoint; the plugin's questions appear here."),
      setupButton, workflow));
  put(root, ...parts);
  await refresh();
}

// Starts a workflow run and renders it until it ends: prompts as a form, the live log, the result.
async function runWorkflow(container, integration, action, startButton) {
  startButton.disabled = true;
  let run;
  try {
    run = await api("/api/integrations/" + encodeURIComponent(integration) + "/workflows/" + action, { method: "POST", body: {} });
  } catch (e) {
    put(container, el("p", { class: "error", role: "alert" }, e.message));
    startButton.disabled = false;
    return;
  }
  const statusLine = el("p", { id: "workflow-status", "aria-live": "polite" });
  const promptBox = el("div", { id: "workflow-prompt" });
  const log = el("ol", { class: "log", id: "workflow-log", "aria-live": "polite", "aria-label": "Workflow log" });
  const resultBox = el("div", { id: "workflow-result" });
  const cancel = el("button", {
    type: "button", class: "secondary", id: "workflow-cancel",
    onclick: async () => { try { await api("/api/workflows/" + run.id, { method: "DELETE" }); } catch (_) { /* shown by polling */ } },
  }, "Cancel");
  put(container, statusLine, promptBox, log, cancel, resultBox);
  let shownPrompt = "";
  let stopped = false;
  const previous = pageCleanup;
  pageCleanup = () => { stopped = true; if (previous) previous(); };

  function render(state) {
    put(statusLine, "Run ", el("code", {}, state.id), ": ", badge(state.status));
    put(log, ...state.log.map((l) => el("li", { class: l.level }, when(l.at).slice(11, 19) + "  " + l.message)));
    const p = state.pending_prompt;
    const key = p ? p.key + "|" + p.message : "";
    if (key !== shownPrompt) {
      shownPrompt = key;
      put(promptBox, p ? promptForm(run.id, p) : "");
      const first = promptBox.querySelector("input, select, button");
      if (first) first.focus();
    }
    if (["succeeded", "failed", "cancelled"].includes(state.status)) {
      cancel.remove();
      put(resultBox,
        state.error ? el("p", { class: "error", role: "alert" }, state.error.message) : null,
        state.result ? el("pre", {}, JSON.stringify(state.result, null, 2)) : null);
      startButton.disabled = false;
      return true;
    }
    return false;
  }
  while (!stopped) {
    let state;
    try { state = await api("/api/workflows/" + run.id); } catch (e) { statusLine.textContent = e.message; break; }
    if (render(state)) break;
    await new Promise((r) => setTimeout(r, 400));
  }
}

function promptForm(runId, p) {
  const error = el("p", { class: "error", role: "alert" });
  const inputId = "prompt-" + p.key;
  const send = async (value) => {
    error.textContent = "";
    try { await api("/api/workflows/" + runId + "/answer", { method: "POST", body: { key: p.key, value } }); }
    catch (e) { error.textContent = e.message; }
  };
  let field;
  let buttons;
  if (p.kind === "confirm") {
    buttons = [el("button", { type: "button", id: "prompt-yes", onclick: () => send("yes") }, "Yes"),
      el("button", { type: "button", class: "secondary", id: "prompt-no", onclick: () => send("no") }, "No")];
  } else {
    if (p.kind === "choice" && Array.isArray(p.choices)) {
      field = el("select", { id: inputId, name: p.key },
        p.choices.map((c) => el("option", { value: c, selected: c === p.default }, c)));
    } else {
      field = el("input", { id: inputId, name: p.key, type: p.kind === "secret" ? "password" : "text", autocomplete: "off", value: p.default || "" });
    }
    buttons = [el("button", { type: "submit", id: "prompt-submit" }, "Answer")];
  }
  return el("form", {
    class: "prompt", "aria-label": "Question from the workflow",
    onsubmit: (e) => { e.preventDefault(); if (field) send(field.value); },
  },
  el("label", field ? { for: inputId } : {}, p.message),
  field || null,
  p.default && p.kind !== "secret" ? el("p", { class: "hint" }, "Default: " + p.default) : null,
  buttons, error);
}

// ---- Webhooks --------------------------------------------------------------------------------------------
async function pageWebhooks(root) {
  const statusSel = el("select", { id: "wh-status" }, ["", "pending", "processing", "processed", "failed", "dead", "unroutable"]
    .map((s) => el("option", { value: s }, s || "any")));
  const typeInput = el("input", { id: "wh-type", type: "text", placeholder: "e.g. invoice.paid" });
  const table = el("div", { id: "wh-table" });
  const detail = el("div", { id: "wh-detail" });
  let cursor = null;
  async function load(append) {
    const q = new URLSearchParams({ limit: "50" });
    if (statusSel.value) q.set("status", statusSel.value);
    if (typeInput.value.trim()) q.set("type", typeInput.value.trim());
    if (append && cursor) q.set("cursor", cursor);
    const page = await api("/api/webhooks?" + q);
    cursor = page.next_cursor;
    const rows = page.data.map((w) => el("tr", { "data-id": w.id, "data-event": w.event_id },
      el("td", {}, String(w.id)), el("td", {}, w.integration), el("td", {}, w.type), el("td", {}, el("code", {}, w.event_id)),
      el("td", {}, badge(w.status)), el("td", { class: "num" }, String(w.attempts)), el("td", {}, when(w.received_at)),
      el("td", {}, w.last_error || ""),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => showDetail(w.id) }, "Details"),
        ["failed", "dead", "unroutable"].includes(w.status) ? el("button", { type: "button", class: "replay", onclick: () => replay(w.id) }, "Replay") : null)));
    const body = append ? table.querySelector("tbody") : null;
    if (body) { body.append(...rows); } else {
      put(table, rows.length ? el("table", {},
        el("thead", {}, el("tr", {}, ["#", "Integration", "Type", "Event", "Status", "Attempts", "Received", "Last error", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows)) : el("p", {}, "No webhook events match."));
    }
    more.hidden = !cursor;
  }
  async function showDetail(id) {
    const w = await api("/api/webhooks/" + id);
    put(detail, el("section", { class: "card", "aria-labelledby": "wh-detail-title", id: "wh-detail-card" },
      el("h3", { id: "wh-detail-title", tabindex: "-1" }, "Event " + w.event_id + " (" + w.type + ")"),
      el("p", {}, "Status ", badge(w.status), " · attempts ", String(w.attempts), " · payload sha256 ", el("code", {}, w.payload_sha256)),
      ["failed", "dead", "unroutable"].includes(w.status) ? el("button", { type: "button", id: "wh-replay", onclick: () => replay(w.id) }, "Replay") : null,
      el("h4", {}, "Attempts"),
      w.attempt_log.length ? el("table", {}, el("thead", {}, el("tr", {}, ["#", "Started", "Duration", "Result", "Error"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, w.attempt_log.map((a) => el("tr", {}, el("td", {}, String(a.attempt)), el("td", {}, when(a.started_at)),
          el("td", { class: "num" }, a.duration_ms + " ms"), el("td", {}, badge(a.ok ? "ok" : "failed")), el("td", {}, a.error || ""))))) : el("p", {}, "No attempt yet."),
      el("h4", {}, "Headers (secrets masked)"), el("pre", {}, JSON.stringify(w.headers, null, 2)),
      el("h4", {}, "Raw payload (secrets masked)"), el("pre", { id: "wh-payload" }, prettyJson(w.payload))));
    detail.querySelector("h3").focus();
  }
  async function replay(id) {
    try {
      await api("/api/webhooks/" + id + "/replay", { method: "POST" });
      notify("Event " + id + " queued for replay.");
    } catch (e) { notify("Replay failed: " + e.message); return; }
    // Follow it until it leaves pending/processing.
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, 500));
      const w = await api("/api/webhooks/" + id);
      if (!["pending", "processing"].includes(w.status)) {
        notify("Event " + id + " replayed: " + w.status + ".");
        break;
      }
    }
    await load(false);
    if (detail.childElementCount) await showDetail(id);
  }
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(true) }, "Load more");
  put(root, el("h2", {}, "Webhooks"),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(false); } },
      el("div", {}, el("label", { for: "wh-status" }, "Status"), statusSel),
      el("div", {}, el("label", { for: "wh-type" }, "Type"), typeInput),
      el("button", { type: "submit", id: "wh-filter" }, "Filter")),
    table, more, detail);
  statusSel.addEventListener("change", () => load(false));
  await load(false);
}

function prettyJson(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (_) { return text; }
}

// ---- Sync ------------------------------------------------------------------------------------------------
async function pageSync(root) {
  const list = await api("/api/integrations");
  const withJobs = (list.data || []).filter((i) => i.status !== "unavailable" && (i.jobs || []).length);
  const sections = [];
  let timer = null;
  let stopped = false;
  pageCleanup = () => { stopped = true; clearTimeout(timer); };
  for (const i of withJobs) {
    const box = el("div", { "data-integration": i.id });
    sections.push(el("section", { class: "card", "aria-labelledby": "sync-" + i.id },
      el("h3", { id: "sync-" + i.id }, i.id), i.connected ? null : el("p", { class: "muted" }, "Not connected: jobs run once the tenant connects."), box));
    const render = async () => {
      const jobs = await api("/api/integrations/" + encodeURIComponent(i.id) + "/jobs");
      put(box, el("table", {},
        el("thead", {}, el("tr", {}, ["Job", "Every", "Last run", "Status", "Pages", "Rows", "Duration", "Next run", "Cursor", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, jobs.data.map((j) => {
          const r = j.last_run || {};
          return el("tr", { "data-job": j.name },
            el("td", {}, j.name, el("div", { class: "hint" }, j.description || "")),
            el("td", {}, j.every || "manual", j.enabled ? "" : " (disabled)"),
            el("td", {}, when(r.started_at)), el("td", {}, r.status ? badge(r.status) : "never",
              r.error ? el("div", { class: "hint bad" }, r.error) : null),
            el("td", { class: "num" }, r.pages ?? ""), el("td", { class: "num" }, r.rows ?? ""),
            el("td", { class: "num" }, r.duration_ms != null ? r.duration_ms + " ms" : ""), el("td", {}, when(j.next_run_at)),
            el("td", { class: "cursor" }, stateView(j.state)),
            el("td", {}, el("button", { type: "button", disabled: !i.connected || !j.enabled, onclick: (e) => runNow(i.id, j.name, e.target) }, "Run now")));
        }))));
      return jobs.data.some((j) => j.last_run && j.last_run.status === "running");
    };
    i.render = render;
  }
  async function runNow(id, job, button) {
    button.disabled = true;
    try {
      const out = await api("/api/integrations/" + encodeURIComponent(id) + "/jobs/" + encodeURIComponent(job) + "/run", { method: "POST", body: {} });
      notify("Run " + out.run.id + " of " + job + ": " + out.run.status + ".");
    } catch (e) { notify("Run now failed: " + e.message); }
    await refreshAll();
  }
  async function refreshAll() {
    let running = false;
    for (const i of withJobs) running = (await i.render()) || running;
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(refreshAll, running ? 1000 : 5000);  // progress while a run is going
  }
  put(root, el("h2", {}, "Sync"), ...(sections.length ? sections : [el("p", {}, "No integration has sync jobs.")]));
  await refreshAll();
}

// A job's plugin state (its cursor) as the jobs API returns it: {key: JSON value | text | null}. Read-only.
function stateView(state) {
  const keys = Object.keys(state || {});
  if (!keys.length) return "";
  return keys.map((k) => el("div", { "data-state-key": k }, el("span", { class: "hint" }, k + ": "),
    state[k] === null ? el("span", { class: "muted" }, "not set")
      : el("code", {}, typeof state[k] === "string" ? state[k] : JSON.stringify(state[k]))));
}

// ---- Transactions ----------------------------------------------------------------------------------------
function sourceType(d) {
  if (d.source_type) return d.source_type;
  if (d.type) return d.type;
  const src = typeof d.source === "string" ? d.source : d.source && d.source.id;
  return src ? src.split("_")[0] : "";
}

async function pageTransactions(root, [wanted]) {
  const ids = stripeIntegrations(await api("/api/integrations")).map((i) => i.id);
  if (!ids.length) { put(root, el("h2", {}, "Transactions"), el("p", {}, "No Stripe integration is configured.")); return; }
  const id = ids.includes(wanted) ? wanted : ids[0];
  const rows = [];
  let after = 0;
  let hasMore = false;
  const filter = el("select", { id: "tx-source" }, el("option", { value: "" }, "all"));
  const table = el("div", { id: "tx-table", "aria-live": "polite" });
  const more = el("button", { type: "button", class: "secondary", onclick: () => load() }, "Load more");
  async function load() {
    const page = await api("/api/records/" + encodeURIComponent(id) + "/transaction?limit=100&after=" + after);
    for (const r of page.data) if (!r.deleted) rows.push(r);
    after = page.next_after;
    hasMore = page.has_more;
    const kinds = [...new Set(rows.map((r) => sourceType(r.data)).filter(Boolean))].sort();
    const chosen = filter.value;
    put(filter, el("option", { value: "" }, "all"), ...kinds.map((k) => el("option", { value: k, selected: k === chosen }, k)));
    render();
  }
  function render() {
    const shown = rows.filter((r) => !filter.value || sourceType(r.data) === filter.value);
    const totals = {};
    for (const r of shown) {
      const d = r.data;
      const cur = String(d.currency || "").toLowerCase();
      const t = totals[cur] || (totals[cur] = { gross: 0, fee: 0, net: 0, count: 0 });
      t.gross += Number(d.amount || 0); t.fee += Number(d.fee || 0); t.net += Number(d.net ?? (Number(d.amount || 0) - Number(d.fee || 0))); t.count++;
    }
    // Your own ids of the product and price (Catalog page mappings), when the records carry them.
    const mapped = shown.some((r) => r.mapped);
    const yourIds = (m) => [m && m.product ? "product " + m.product : "", m && m.price ? "price " + m.price : ""].filter(Boolean).join(", ");
    put(table,
      shown.length ? el("table", {},
        el("thead", {}, el("tr", {}, ["Created", "ID", "Source type", "Source", "Description", "Gross", "Fee", "Net", "Currency", "Status",
          mapped ? "Your ids" : null].filter(Boolean).map((h) =>
          el("th", { scope: "col", class: ["Gross", "Fee", "Net"].includes(h) ? "num" : null }, h)))),
        el("tbody", {}, shown.map((r) => {
          const d = r.data;
          const net = d.net ?? (Number(d.amount || 0) - Number(d.fee || 0));
          return el("tr", { "data-id": r.id },
            el("td", {}, when(d.created)), el("td", {}, el("code", {}, r.id)), el("td", {}, sourceType(d)),
            el("td", {}, typeof d.source === "object" && d.source ? d.source.id : d.source || ""), el("td", {}, d.description || ""),
            el("td", { class: "num" }, money(d.amount, d.currency)), el("td", { class: "num" }, money(d.fee, d.currency)),
            el("td", { class: "num" }, money(net, d.currency)), el("td", {}, String(d.currency || "").toUpperCase()), el("td", {}, d.status ? badge(d.status) : ""),
            mapped ? el("td", { class: "mapped" }, yourIds(r.mapped)) : null);
        })),
        el("tfoot", {}, Object.entries(totals).map(([cur, t]) => el("tr", { "data-currency": cur },
          el("td", { colspan: "5" }, "Total " + cur.toUpperCase() + " (" + t.count + ")"),
          el("td", { class: "num" }, money(t.gross, cur)), el("td", { class: "num" }, money(t.fee, cur)),
          el("td", { class: "num" }, money(t.net, cur)), el("td", {}, cur.toUpperCase()), el("td", {}, ""), mapped ? el("td", {}) : null))))
        : el("p", {}, rows.length ? "No transaction of this source type." : "No transactions synced yet (see Sync)."));
    more.hidden = !hasMore;
  }
  filter.addEventListener("change", render);
  put(root, el("h2", {}, "Transactions"),
    el("div", { class: "filters" },
      integrationPicker(ids, id, (v) => { location.hash = "#/transactions/" + encodeURIComponent(v); }),
      el("div", {}, el("label", { for: "tx-source" }, "Source type"), filter)),
    table, more);
  await load();
}

// Server-Sent Events over fetch(): EventSource cannot send the Authorization and X-Ihost-Tenant headers.
// Reconnects with Last-Event-ID, so no event is missed across a dropped connection.
function openEventStream(onEvent, onState) {
  let lastId = "";
  let closed = false;
  let controller = null;
  async function connect() {
    while (!closed) {
      controller = new AbortController();
      try {
        const headers = { Authorization: "Bearer " + store.token, "X-Ihost-Tenant": store.tenant, Accept: "text/event-stream" };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const res = await fetch("/api/events/stream", { headers, signal: controller.signal });
        if (!res.ok) throw new Error("HTTP " + res.status);
        onState("Live: receiving updates.");
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let id = "", data = "";
            for (const line of frame.split("\n")) {
              if (line.startsWith("id:")) id = line.slice(3).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trimStart();
            }
            if (id) lastId = id;
            if (data) { try { onEvent(JSON.parse(data)); } catch (_) { /* not JSON: ignore */ } }
          }
        }
      } catch (e) {
        if (closed) return;
        onState("Live updates interrupted (" + e.message + "); reconnecting…");
      }
      if (!closed) await new Promise((r) => setTimeout(r, 2000));
    }
  }
  connect();
  return { close() { closed = true; if (controller) controller.abort(); } };
}

// ---- start -----------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("admin-token").value.trim();
    $("sign-in-error").textContent = "";
    if (!token) { $("sign-in-error").textContent = "Enter the admin token."; return; }
    try { await signIn(token); } catch (err) {
      store.token = "";
      $("sign-in-error").textContent = err.status === 401 ? "That admin token was refused: " + err.message : err.message;
    }
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("tenant-switch").addEventListener("change", (e) => { store.tenant = e.target.value; route(); });
  window.addEventListener("hashchange", route);
  if (store.token) signIn(store.token).catch(() => signOut("Sign in again."));
});
