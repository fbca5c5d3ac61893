"use strict";
// Catalog page (#/catalog[/<integration>]): the `product` and `price` records of a Stripe integration (filled by
// its catalog sync) next to the tenant's own ids for them (GET/PUT /api/integrations/{id}/mappings), edited
// inline and saved as one set. Badges point at what needs a look: an active object nobody mapped, a mapping to
// an archived or deleted object, a mapping whose Stripe id is not in the catalog at all (stale), a price mapped
// while its product is not, two Stripe objects mapped to the same id.

pages.catalog = pageCatalog;

const MAPPING_KINDS = ["product", "price"];

// What is wrong with the mapping of one Stripe object, given the edited set: [[badge class, text], ...].
// `catalog` holds the live objects by kind (Map id -> data), `deleted` the ids deleted at Stripe by kind.
function mappingProblems(kind, stripeId, draft, catalog, deleted) {
  const value = (draft[kind][stripeId] || "").trim();
  const object = catalog[kind].get(stripeId);
  const out = [];
  if (!object) {
    if (value) out.push(deleted[kind].has(stripeId) ? ["deleted", "mapped but deleted at Stripe"] : ["stale", "not in the catalog (stale)"]);
    return out;
  }
  if (!value && object.active !== false) out.push(["unmapped", "unmapped"]);
  if (value && object.active === false) out.push(["archived", "mapped but archived"]);
  if (kind === "price" && value) {
    const product = typeof object.product === "object" && object.product ? object.product.id : object.product;
    if (product && !(draft.product[product] || "").trim()) out.push(["product-unmapped", "its product " + product + " is not mapped"]);
  }
  if (value) {
    const twins = Object.keys(draft[kind]).filter((k) => k !== stripeId && (draft[kind][k] || "").trim() === value);
    if (twins.length) out.push(["duplicate", "same id as " + twins.join(", ")]);
  }
  return out;
}

function priceAmount(p) {
  const amount = p.unit_amount !== undefined && p.unit_amount !== null ? money(p.unit_amount, p.currency) : "custom amount";
  const recurring = p.recurring && p.recurring.interval
    ? " / " + (p.recurring.interval_count > 1 ? p.recurring.interval_count + " " + p.recurring.interval + "s" : p.recurring.interval)
    : " one-time";
  return amount + recurring;
}

async function pageCatalog(root, [wanted]) {
  const ids = stripeIntegrations(await api("/api/integrations")).map((i) => i.id);
  if (!ids.length) { put(root, el("h2", {}, "Catalog"), el("p", {}, "No Stripe integration is configured.")); return; }
  const id = ids.includes(wanted) ? wanted : ids[0];
  const base = "/api/integrations/" + encodeURIComponent(id);

  const catalog = { product: new Map(), price: new Map() };
  const deleted = { product: new Set(), price: new Set() };
  let saved = { product: {}, price: {} };  // what the server holds
  let draft = { product: {}, price: {} };  // what the page shows (edited)
  let updatedAt = null;
  let mappingsError = "";

  async function loadCatalog() {
    const [products, prices] = await Promise.all([allRecords(id, "product"), allRecords(id, "price")]);
    for (const [kind, records] of [["product", products], ["price", prices]]) {
      catalog[kind].clear();
      deleted[kind].clear();
      for (const r of records) {
        if (r.deleted) { catalog[kind].delete(r.id); deleted[kind].add(r.id); }
        else { catalog[kind].set(r.id, r.data || {}); deleted[kind].delete(r.id); }
      }
    }
  }
  async function loadMappings() {
    try {
      const m = await api(base + "/mappings");
      saved = { product: Object.assign({}, (m.mappings || {}).product), price: Object.assign({}, (m.mappings || {}).price) };
      updatedAt = m.updated_at;
      mappingsError = "";
    } catch (e) {
      if (e.status !== 404 && e.status !== 405) throw e;
      mappingsError = "This host does not keep mappings for " + id + " (" + e.message + ").";
    }
    draft = { product: Object.assign({}, saved.product), price: Object.assign({}, saved.price) };
  }
  await Promise.all([loadCatalog(), loadMappings()]);

  const summary = el("p", { id: "catalog-summary", role: "status", "aria-live": "polite" });
  const saveResult = el("p", { id: "catalog-result", role: "status", "aria-live": "polite" });
  const saveError = el("p", { id: "catalog-error", class: "error", role: "alert" });
  const body = el("div", { id: "catalog-body" });
  const updatedLine = el("p", { class: "hint", id: "catalog-updated" });
  const dirty = () => MAPPING_KINDS.some((k) => {
    const a = draft[k], b = saved[k];
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].some((key) => (a[key] || "").trim() !== (b[key] || ""));
  });

  // The edited value of one object: an input whose changes re-check every row (duplicates and "product not
  // mapped" depend on the others).
  function mappingInput(kind, stripeId, name) {
    const inputId = "map-" + kind + "-" + stripeId;
    return [el("label", { for: inputId, class: "visually-hidden" }, "Your id for " + kind + " " + (name ? name + " (" + stripeId + ")" : stripeId)),
      el("input", {
        id: inputId, class: "mapping", type: "text", spellcheck: "false", autocomplete: "off", value: draft[kind][stripeId] || "",
        disabled: !!mappingsError, "data-kind": kind, "data-stripe-id": stripeId,
        oninput: (e) => { draft[kind][stripeId] = e.target.value; refreshHints(); },
      })];
  }
  const hintCell = (kind, stripeId) => el("td", { class: "hints", "data-hints": kind + ":" + stripeId });
  function refreshHints() {
    const counts = {};
    for (const cell of body.querySelectorAll("td.hints")) {
      const [kind, stripeId] = cell.dataset.hints.split(/:(.*)/s);
      const problems = mappingProblems(kind, stripeId, draft, catalog, deleted);
      for (const [cls] of problems) counts[cls] = (counts[cls] || 0) + 1;
      put(cell, problems.length ? problems.map(([cls, text]) => badge(cls, text))
        : (draft[kind][stripeId] || "").trim() ? badge("mapped") : badge("inactive", "archived, not mapped"));
    }
    const parts = [catalog.product.size + " products", catalog.price.size + " prices"];
    const labels = { unmapped: "unmapped", archived: "mapped but archived", deleted: "mapped but deleted", stale: "stale",
      "product-unmapped": "price mapped without its product", duplicate: "same id twice" };
    const issues = Object.keys(labels).filter((k) => counts[k]).map((k) => counts[k] + " " + labels[k]);
    summary.textContent = parts.join(", ") + (issues.length ? ". Needs a look: " + issues.join(", ") + "." : ". Every mapping checks out.") +
      (dirty() ? " Unsaved changes." : "");
  }

  function render() {
    const products = [...catalog.product.entries()].sort((a, b) => String(a[1].name || a[0]).localeCompare(String(b[1].name || b[0])));
    const prices = [...catalog.price.entries()].sort((a, b) => {
      const pa = catalog.product.get(a[1].product) || {}, pb = catalog.product.get(b[1].product) || {};
      return String(pa.name || a[1].product).localeCompare(String(pb.name || b[1].product)) || (a[1].unit_amount || 0) - (b[1].unit_amount || 0);
    });
    const orphans = [];
    for (const kind of MAPPING_KINDS) {
      for (const key of Object.keys(draft[kind])) if (!catalog[kind].has(key)) orphans.push([kind, key]);
    }
    const status = (o) => badge(o.active === false ? "archived" : "active", o.active === false ? "archived" : "active");
    put(body,
      el("h3", {}, "Products"),
      products.length ? el("table", { id: "catalog-products" },
        el("thead", {}, el("tr", {}, ["Product", "Stripe id", "Status", "Your id", "Checks"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, products.map(([pid, p]) => el("tr", { "data-kind": "product", "data-id": pid },
          el("td", {}, p.name || ""), el("td", {}, el("code", {}, pid)), el("td", {}, status(p)),
          el("td", {}, mappingInput("product", pid, p.name)), hintCell("product", pid)))))
        : el("p", { id: "catalog-empty" }, "No products synced for " + id + " yet: run the catalog sync (the button below, or the Sync page)."),
      el("h3", {}, "Prices"),
      prices.length ? el("table", { id: "catalog-prices" },
        el("thead", {}, el("tr", {}, ["Price", "Product", "Amount", "Stripe id", "Status", "Your id", "Checks"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, prices.map(([pid, p]) => {
          const product = catalog.product.get(p.product);
          return el("tr", { "data-kind": "price", "data-id": pid },
            el("td", {}, p.nickname || p.lookup_key || ""), el("td", {}, product ? product.name : el("code", {}, String(p.product || ""))),
            el("td", {}, priceAmount(p)), el("td", {}, el("code", {}, pid)), el("td", {}, status(p)),
            el("td", {}, mappingInput("price", pid, p.nickname || p.lookup_key)), hintCell("price", pid));
        })))
        : el("p", {}, "No prices synced yet."),
      orphans.length ? el("h3", {}, "Mappings without a catalog object") : null,
      orphans.length ? el("p", { class: "muted" }, "Saved mappings whose Stripe object is deleted or was never in this catalog. Remove them, or leave them if the object comes back.") : null,
      orphans.length ? el("table", { id: "catalog-orphans" },
        el("thead", {}, el("tr", {}, ["Kind", "Stripe id", "Your id", "Checks", ""].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, orphans.map(([kind, key]) => el("tr", { "data-kind": kind, "data-id": key },
          el("td", {}, kind), el("td", {}, el("code", {}, key)), el("td", {}, mappingInput(kind, key)), hintCell(kind, key),
          el("td", {}, el("button", {
            type: "button", class: "secondary small", disabled: !!mappingsError,
            onclick: () => { delete draft[kind][key]; render(); },
          }, "Remove", el("span", { class: "visually-hidden" }, " the mapping of " + key))))))) : null);
    updatedLine.textContent = updatedAt ? "Mappings last saved " + when(updatedAt) + "." : "No mappings saved yet.";
    refreshHints();
  }

  const save = el("button", {
    type: "button", id: "catalog-save", disabled: !!mappingsError,
    onclick: async () => {
      saveError.textContent = "";
      saveResult.textContent = "Saving…";
      const mappings = { product: {}, price: {} };
      for (const kind of MAPPING_KINDS) {
        for (const [key, value] of Object.entries(draft[kind])) if ((value || "").trim()) mappings[kind][key] = value.trim();
      }
      save.disabled = true;
      try {
        const out = await api(base + "/mappings", { method: "PUT", body: { mappings } });
        saved = { product: Object.assign({}, (out.mappings || mappings).product), price: Object.assign({}, (out.mappings || mappings).price) };
        draft = { product: Object.assign({}, saved.product), price: Object.assign({}, saved.price) };
        updatedAt = out.updated_at;
        render();
        saveResult.textContent = "Saved " + Object.keys(saved.product).length + " product and " + Object.keys(saved.price).length +
          " price mappings" + (updatedAt ? " at " + when(updatedAt) : "") + ".";
      } catch (e) {
        saveResult.textContent = "";
        saveError.textContent = "Not saved: " + e.message;  // the server's reason, verbatim
      } finally { save.disabled = !!mappingsError; }
    },
  }, "Save mappings");
  const revert = el("button", {
    type: "button", class: "secondary", id: "catalog-revert", disabled: !!mappingsError,
    onclick: () => { draft = { product: Object.assign({}, saved.product), price: Object.assign({}, saved.price) }; saveError.textContent = ""; render(); },
  }, "Undo changes");
  const sync = el("button", {
    type: "button", class: "secondary", id: "catalog-sync",
    onclick: async () => {
      sync.disabled = true;
      saveResult.textContent = "Running the catalog sync…";
      try {
        const run = await runJobAndWait(id, "catalog");
        await loadCatalog();  // the edits stay
        render();
        saveResult.textContent = "Catalog sync " + run.status + (run.rows !== undefined ? " (" + run.rows + " rows)" : "") + (run.error ? ": " + run.error : ".");
      } catch (e) {
        saveResult.textContent = "";
        saveError.textContent = "Catalog sync failed: " + e.message;
      } finally { sync.disabled = false; }
    },
  }, "Sync catalog now");

  put(root, el("h2", {}, "Catalog"),
    integrationPicker(ids, id, (v) => { location.hash = "#/catalog/" + encodeURIComponent(v); }),
    el("p", { class: "muted" }, "Products and prices of " + id + " as last synced, and your own id for each. Transactions carry the mapped ids."),
    mappingsError ? el("p", { class: "error", id: "catalog-unavailable" }, mappingsError) : null,
    updatedLine,
    summary, body,
    el("div", { class: "actions-bar" }, save, revert, sync),
    saveResult, saveError);
  render();
}
