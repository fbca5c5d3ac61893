"use strict";
// Invoices page (#/invoices[/<integration>[/<show reference>]]): the `invoice` records of a Stripe integration,
// optionally only one show's (`data.reference=`), with badges kept live from `invoice.updated` events, per-buyer
// actions on each row (Send link, Copy link, View on Stripe) and a form that generates a buyer's invoice
// (the create_invoices action). Uses el(), put(), api(), badge(), money() from app.js.

pages.invoices = pageInvoices;

// The invoice in Stripe's dashboard. Test-mode objects live under /test/; a record without `livemode` is
// treated as test mode (the dashboard redirects a live invoice from /test/ anyway, not the other way round).
function stripeInvoiceUrl(d) {
  return "https://dashboard.stripe.com/" + (d.livemode === true ? "" : "test/") + "invoices/" + encodeURIComponent(d.id);
}

// "12.50" in a currency's major unit -> 1250 minor units (0 decimals for zero-decimal currencies such as JPY).
// Returns null for anything but a plain non-negative amount with at most the currency's decimals.
function minorUnits(text, currency) {
  const digits = ZERO_DECIMAL.has(String(currency || "").toLowerCase()) ? 0 : 2;
  const m = /^(\d{1,12})(?:[.,](\d+))?$/.exec(String(text).trim());
  if (!m || (m[2] || "").length > digits) return null;
  const fraction = ((m[2] || "") + "00").slice(0, digits);
  return Number(m[1]) * Math.pow(10, digits) + (digits ? Number(fraction) : 0);
}

async function pageInvoices(root, [wanted, wantedReference]) {
  const ids = stripeIntegrations(await api("/api/integrations")).map((i) => i.id);
  if (!ids.length) { put(root, el("h2", {}, "Invoices"), el("p", {}, "No Stripe integration is configured.")); return; }
  const id = ids.includes(wanted) ? wanted : ids[0];
  const base = "/api/integrations/" + encodeURIComponent(id);
  const reference = wantedReference || "";
  const hashFor = (ref) => "#/invoices/" + encodeURIComponent(id) + (ref ? "/" + encodeURIComponent(ref) : "");

  const invoices = new Map();
  async function load() {
    const records = await allRecords(id, "invoice", reference ? "data.reference=" + encodeURIComponent(reference) : "");
    invoices.clear();
    for (const r of records) { if (r.deleted) invoices.delete(r.id); else invoices.set(r.id, r.data); }
  }
  await load();

  // Outcome of the row actions: one status line (announced) and one alert line.
  const outcome = el("p", { id: "invoice-outcome", role: "status", "aria-live": "polite" });
  const failure = el("p", { id: "invoice-error", class: "error", role: "alert" });
  const say = (text) => { failure.textContent = ""; outcome.textContent = text; };
  const fail = (text) => { outcome.textContent = ""; failure.textContent = text; };
  // Where "Copy link" puts the link when the clipboard cannot be written (no permission, insecure origin).
  const fallbackUrl = el("input", { id: "copy-fallback-url", type: "text", readonly: true, spellcheck: "false" });
  const fallbackLabel = el("label", { for: "copy-fallback-url" }, "Payment link");
  const fallback = el("div", { id: "copy-fallback", class: "card", hidden: true }, fallbackLabel, fallbackUrl,
    el("p", { class: "hint" }, "Selected: copy it with Ctrl+C (⌘C on a Mac)."));

  const labelOf = (d) => d.number || d.id;
  async function sendLink(d, button) {
    button.disabled = true;
    say("Sending the link of invoice " + labelOf(d) + "…");
    try {
      const out = await api(base + "/actions/send_invoice", { method: "POST", body: { invoice: d.id, email: true } });
      say("Invoice " + labelOf(d) + ": Stripe emailed the payment link to " + (d.buyer ? "buyer " + d.buyer : "the buyer") +
        " (invoice " + (out.status || d.status) + ").");
    } catch (e) {
      fail("Sending invoice " + labelOf(d) + " failed: " + e.message);
    } finally { button.disabled = false; }
  }
  async function copyLink(d, button) {
    button.disabled = true;
    try {
      const out = await api(base + "/actions/send_invoice", { method: "POST", body: { invoice: d.id, email: false } });
      const url = out.hosted_invoice_url;
      let copied = false;
      if (navigator.clipboard && navigator.clipboard.writeText) {
        try { await navigator.clipboard.writeText(url); copied = true; } catch (_) { copied = false; }
      }
      if (copied) {
        fallback.hidden = true;
        say("Copied the payment link of invoice " + labelOf(d) + " to the clipboard.");
      } else {
        fallbackLabel.textContent = "Payment link of invoice " + labelOf(d);
        fallbackUrl.value = url;
        fallback.hidden = false;
        fallbackUrl.focus();
        fallbackUrl.select();
        say("The clipboard is not available: the payment link of invoice " + labelOf(d) + " is selected in the field below.");
      }
    } catch (e) {
      fail("Copying the link of invoice " + labelOf(d) + " failed: " + e.message);
    } finally { button.disabled = false; }
  }
  function actions(d) {
    const label = labelOf(d);
    const send = el("button", {
      type: "button", class: "secondary small", "data-action": "send", disabled: d.status !== "open",
      title: d.status === "open" ? "Stripe emails the payment link to the buyer" : "Only an open invoice can be sent",
      onclick: () => sendLink(d, send),
    }, "Send link", el("span", { class: "visually-hidden" }, " of invoice " + label));
    const copy = el("button", {
      type: "button", class: "secondary small", "data-action": "copy", disabled: !d.status || d.status === "draft",
      title: d.status === "draft" ? "A draft has no payment link yet" : "Copies the hosted payment link",
      onclick: () => copyLink(d, copy),
    }, "Copy link", el("span", { class: "visually-hidden" }, " of invoice " + label));
    const view = el("a", { href: stripeInvoiceUrl(d), target: "_blank", rel: "noopener noreferrer", class: "external", "data-action": "view" },
      "View on Stripe", el("span", { class: "visually-hidden" }, " (invoice " + label + ", opens in a new tab)"));
    return [send, copy, view];
  }

  const columns = ["Number", "Invoice", "Buyer", "Customer", "Reference", "Amount due", "Paid", "Status", "Actions"];
  const tbody = el("tbody", { id: "invoice-rows" });
  const table = el("table", { "aria-describedby": "invoices-live" },
    el("thead", {}, el("tr", {}, columns.map((h) =>
      el("th", { scope: "col", class: h.startsWith("Amount") || h === "Paid" ? "num" : null }, h)))), tbody);
  function row(d) {
    return el("tr", { "data-invoice": d.id, "data-reference": d.reference || "" },
      el("td", {}, d.number || ""), el("td", {}, el("code", {}, d.id)), el("td", {}, d.buyer || ""), el("td", {}, d.customer || ""),
      el("td", {}, d.reference || ""),
      el("td", { class: "num" }, money(d.amount_due, d.currency)), el("td", { class: "num" }, money(d.amount_paid, d.currency)),
      el("td", { class: "status" }, badge(d.status || "unknown")),
      el("td", { class: "actions" }, actions(d)));
  }
  function renderAll() {
    put(tbody, ...[...invoices.values()].map(row));
    if (!invoices.size) {
      tbody.append(el("tr", { class: "empty" }, el("td", { colspan: String(columns.length) },
        reference ? "No invoice for the reference \u201c" + reference + "\u201d." : "No invoices yet.")));
    }
  }
  renderAll();

  // Filter by the show's reference (the `reference` given to create_invoices). The fragment keeps it.
  const referenceInput = el("input", { id: "inv-reference", type: "search", value: reference, spellcheck: "false" });
  const filterForm = el("form", {
    class: "filters", id: "inv-filter", role: "search",
    onsubmit: (e) => { e.preventDefault(); location.hash = hashFor(referenceInput.value.trim()); },
  },
  integrationPicker(ids, id, (v) => { location.hash = "#/invoices/" + encodeURIComponent(v); }),
  el("div", {}, el("label", { for: "inv-reference" }, "Show reference"), referenceInput),
  el("button", { type: "submit", id: "inv-filter-apply" }, "Filter"),
  reference ? el("button", { type: "button", class: "secondary", id: "inv-filter-clear", onclick: () => { location.hash = hashFor(""); } }, "Show all") : null);

  const liveState = el("p", { class: "live", id: "invoices-live", "aria-live": "polite" }, "Connecting to live updates…");
  const announce = el("p", { class: "live", role: "status", id: "invoice-announce" });
  put(root, el("h2", {}, "Invoices"),
    filterForm,
    reference ? el("p", { class: "muted", id: "inv-filter-note" }, "Showing the invoices of reference \u201c" + reference + "\u201d (" + invoices.size + ").") : null,
    liveState, table, outcome, failure, fallback, announce,
    generateForm(id, base, reference, async (made) => {
      await load();
      renderAll();
      return !reference || made === reference;
    }));

  const stream = openEventStream((event) => {
    if (event.type !== "invoice.updated" || event.integration !== id) return;
    const d = event.data || {};
    if (!d.id) return;
    if (reference && d.reference !== reference && !invoices.has(d.id)) return;  // another show's invoice
    const before = invoices.get(d.id);
    invoices.set(d.id, Object.assign({}, before || {}, d));
    const existing = tbody.querySelector('tr[data-invoice="' + CSS.escape(d.id) + '"]');
    if (existing) existing.replaceWith(row(invoices.get(d.id)));
    else { const empty = tbody.querySelector("tr.empty"); if (empty) empty.remove(); tbody.append(row(invoices.get(d.id))); }
    announce.textContent = "Invoice " + (d.number || d.id) + " is now " + d.status + ".";
  }, (state) => { liveState.textContent = state; });
  pageCleanup = () => stream.close();
}

// "Generate": one buyer's invoice through create_invoices (customer found or created by the buyer's reference,
// one line per item, finalized; a rerun for the same reference and buyer creates nothing new). `reload(ref)`
// refreshes the list and returns whether an invoice of `ref` is shown under the current filter.
function generateForm(integration, base, reference, reload) {
  const field = (id, label, attrs, hint) => el("div", {}, el("label", { for: id }, label),
    el("input", Object.assign({ id, type: "text", spellcheck: "false" }, attrs || {})), hint ? el("p", { class: "hint" }, hint) : null);
  const items = el("div", { id: "gen-items" });
  let itemCount = 0;
  function addItem() {
    const n = ++itemCount;
    const line = el("fieldset", { class: "item", "data-item": String(n) },
      el("legend", {}, "Item " + n),
      el("div", { class: "row" },
        field("gen-item-" + n + "-title", "Title", { class: "item-title" }),
        field("gen-item-" + n + "-quantity", "Quantity", { class: "item-quantity", type: "number", min: "1", max: "10000", value: "1" }),
        field("gen-item-" + n + "-price", "Unit price", { class: "item-price", inputmode: "decimal", placeholder: "12.50" })),
      n > 1 ? el("button", { type: "button", class: "secondary small", onclick: () => line.remove() }, "Remove item " + n) : null);
    items.append(line);
  }
  addItem();
  const result = el("div", { id: "generate-result", role: "status", "aria-live": "polite" });
  const error = el("p", { id: "generate-error", class: "error", role: "alert" });
  const submit = el("button", { type: "submit", id: "gen-submit" }, "Generate invoice");
  const value = (id) => document.getElementById(id).value.trim();

  async function onSubmit(e) {
    e.preventDefault();
    put(result);
    error.textContent = "";
    const currency = (value("gen-currency") || "usd").toLowerCase();
    const buyer = { reference: value("gen-buyer"), currency, items: [] };
    if (value("gen-email")) buyer.email = value("gen-email");
    if (value("gen-name")) buyer.name = value("gen-name");
    if (!buyer.reference) { error.textContent = "Enter the buyer's reference (your own id of the buyer)."; return; }
    if (!/^[a-z]{3}$/.test(currency)) { error.textContent = "The currency is a three-letter code such as usd or eur."; return; }
    for (const line of items.querySelectorAll("fieldset.item")) {
      const n = line.dataset.item;
      const title = line.querySelector(".item-title").value.trim();
      const quantity = Number(line.querySelector(".item-quantity").value);
      const price = minorUnits(line.querySelector(".item-price").value, currency);
      if (!Number.isInteger(quantity) || quantity < 1 || quantity > 10000) { error.textContent = "Item " + n + ": the quantity is a whole number from 1 to 10000."; return; }
      if (price === null) { error.textContent = "Item " + n + ": the unit price is an amount like 12.50 (" + currency.toUpperCase() + ")."; return; }
      buyer.items.push(Object.assign(title ? { title } : {}, { quantity, price }));
    }
    const body = { buyers: [buyer] };
    const show = value("gen-reference");
    if (show) body.reference = show;
    submit.disabled = true;
    try {
      const out = await api(base + "/actions/create_invoices", { method: "POST", body });
      const r = (out.results || [])[0] || {};
      if (!r.ok) {
        error.textContent = "Stripe refused the invoice for buyer " + buyer.reference + ": " + ((r.error && r.error.message) || "unknown error");
        return;
      }
      const shown = await reload(show);
      put(result, el("p", {}, (r.created ? "Created" : "Already there (nothing new created):") + " invoice ",
        el("code", {}, r.invoice_id), r.number ? " (" + r.number + ")" : "", " for buyer " + buyer.reference + ", ",
        money(r.amount_due, r.currency), ", ", r.status || "", "."),
      shown ? null : el("p", { class: "hint" }, "It is not in the list: the list shows reference \u201c" + reference + "\u201d only."));
    } catch (err) {
      error.textContent = err.message;  // the server's message (e.g. which field is invalid), verbatim
    } finally { submit.disabled = false; }
  }

  return el("section", { class: "card", "aria-labelledby": "generate-title" },
    el("h3", { id: "generate-title" }, "Generate an invoice for a buyer"),
    el("p", { class: "muted" }, "Runs create_invoices on " + integration + ": finds or creates the buyer's Stripe customer, adds the items and finalizes the invoice. Generating again for the same reference and buyer returns the existing invoice."),
    el("form", { id: "generate-form", novalidate: true, onsubmit: onSubmit },
      el("div", { class: "row" },
        field("gen-reference", "Show reference", { value: reference }, "Groups invoices (the filter above)."),
        field("gen-buyer", "Buyer reference", { required: true }, "Your own id of the buyer."),
        field("gen-email", "Buyer email", { type: "email", autocomplete: "off" }),
        field("gen-name", "Buyer name", { autocomplete: "off" }),
        field("gen-currency", "Currency", { value: "usd", maxlength: "3", class: "short" })),
      items,
      el("button", { type: "button", class: "secondary", id: "gen-add-item", onclick: addItem }, "Add item"),
      submit, error),
    result);
}
