"use strict";
// Analytics overview (#/analytics): gross / fee / net per day from the `transaction` records (balance
// transactions, synced by each Stripe integration's transactions job) of every Stripe integration of the
// tenant. Source chips (one per integration, one per transaction type) choose what is summed. Amounts are never
// added across currencies: each currency gets its own totals, chart and table. Charts are drawn by uPlot
// (vendor/uPlot.iife.min.js, pinned and vendored by scripts/vendor-uplot.sh); every figure is also text.

pages.analytics = pageAnalytics;

const ANALYTICS_SERIES = [
  { key: "gross", label: "Gross", color: "#3346c8" },
  { key: "fee", label: "Fee", color: "#b4540a" },
  { key: "net", label: "Net", color: "#17663a" },
];
const DAY = 86400;

const dayOf = (created) => Math.floor(Number(created) / DAY) * DAY;  // UTC day start, unix seconds
const dayText = (day) => new Date(day * 1000).toISOString().slice(0, 10);
const emptySums = () => ({ gross: 0, fee: 0, net: 0, count: 0 });

// Sums the chosen rows per currency, then per UTC day: Map currency -> {gross, fee, net, count, days: Map}.
function sumTransactions(rows) {
  const out = new Map();
  for (const r of rows) {
    const c = out.get(r.currency) || Object.assign(emptySums(), { days: new Map() });
    out.set(r.currency, c);
    const day = c.days.get(r.day) || emptySums();
    c.days.set(r.day, day);
    for (const sums of [c, day]) {
      sums.gross += r.gross; sums.fee += r.fee; sums.net += r.net; sums.count++;
    }
  }
  return out;
}

async function pageAnalytics(root) {
  const integrations = stripeIntegrations(await api("/api/integrations"));
  if (!integrations.length) {
    put(root, el("h2", {}, "Analytics"), el("p", { id: "analytics-empty" }, "No Stripe integration is configured."));
    return;
  }
  const loaded = await Promise.all(integrations.map((i) => allRecords(i.id, "transaction").then((records) => [i.id, records])));
  const rows = [];
  for (const [integration, records] of loaded) {
    for (const r of records) {
      if (r.deleted || !r.data) continue;
      const d = r.data;
      const gross = Number(d.amount || 0), fee = Number(d.fee || 0);
      rows.push({
        integration, type: d.type || sourceType(d) || "other", currency: String(d.currency || "").toLowerCase(),
        day: dayOf(d.created || r.updated_at), gross, fee, net: d.net !== undefined && d.net !== null ? Number(d.net) : gross - fee,
      });
    }
  }

  const off = new Set();  // chips switched off: "integration:<id>", "type:<type>"
  const charts = [];
  const onResize = () => { for (const { chart, box } of charts) chart.setSize({ width: chartWidth(box), height: 240 }); };
  window.addEventListener("resize", onResize);
  pageCleanup = () => { window.removeEventListener("resize", onResize); for (const { chart } of charts) chart.destroy(); };

  const count = (pred) => rows.filter(pred).length;
  const chip = (key, label, n) => el("button", {
    type: "button", class: "chip", "data-chip": key, "aria-pressed": "true",
    onclick: (e) => {
      const button = e.currentTarget;
      if (off.has(key)) off.delete(key); else off.add(key);
      button.setAttribute("aria-pressed", off.has(key) ? "false" : "true");
      render();
    },
  }, label, el("span", { class: "chip-count" }, " (" + n + ")"));
  const types = [...new Set(rows.map((r) => r.type))].sort();
  const chips = el("div", { class: "chip-groups" },
    el("div", { role: "group", "aria-labelledby": "chips-integrations", class: "chips" },
      el("span", { id: "chips-integrations", class: "chips-label" }, "Integrations"),
      integrations.map((i) => chip("integration:" + i.id, i.id, count((r) => r.integration === i.id)))),
    types.length ? el("div", { role: "group", "aria-labelledby": "chips-types", class: "chips" },
      el("span", { id: "chips-types", class: "chips-label" }, "Transaction types"),
      types.map((t) => chip("type:" + t, t, count((r) => r.type === t)))) : null);

  const summary = el("p", { id: "analytics-summary", role: "status", "aria-live": "polite" });
  const body = el("div", { id: "analytics-body" });

  function render() {
    for (const { chart } of charts.splice(0)) chart.destroy();
    const chosen = rows.filter((r) => !off.has("integration:" + r.integration) && !off.has("type:" + r.type));
    const on = (prefix, all) => all.filter((k) => !off.has(prefix + k));
    summary.textContent = chosen.length
      ? "Summing " + chosen.length + " of " + rows.length + " transactions from " + on("integration:", integrations.map((i) => i.id)).join(", ") +
        "; types " + on("type:", types).join(", ") + "."
      : "";
    if (!rows.length) {
      put(body, el("div", { class: "card empty-state", id: "analytics-empty" },
        el("h3", {}, "No transactions yet"),
        el("p", {}, "The figures come from the transaction records of " + integrations.map((i) => i.id).join(", ") +
          ". Run the transactions sync on the ", el("a", { href: "#/sync" }, "Sync page"), " (it also runs on its schedule) and come back.")));
      return;
    }
    if (!chosen.length) {
      put(body, el("div", { class: "card empty-state", id: "analytics-empty" },
        el("h3", {}, "Nothing to sum"), el("p", {}, "Every transaction is filtered out: switch a source chip back on.")));
      return;
    }
    const sums = sumTransactions(chosen);
    const currencies = [...sums.keys()].sort();
    put(body, currencies.map((cur) => currencySection(cur, sums.get(cur))));
    for (const section of body.querySelectorAll("section[data-currency]")) drawChart(section, sums.get(section.dataset.currency));
  }

  function currencySection(cur, s) {
    const label = cur ? cur.toUpperCase() : "(no currency)";
    const days = [...s.days.keys()].sort((a, b) => a - b);
    const first = days[0], last = days[days.length - 1];
    return el("section", { class: "card", "data-currency": cur, "aria-labelledby": "an-" + cur },
      el("h3", { id: "an-" + cur }, label),
      el("dl", { class: "totals" },
        ANALYTICS_SERIES.map((x) => el("div", { "data-total": x.key }, el("dt", {}, x.label), el("dd", {}, money(s[x.key], cur)))),
        el("div", { "data-total": "count" }, el("dt", {}, "Transactions"), el("dd", {}, String(s.count)))),
      el("div", { class: "chart", role: "img", "aria-label": "Chart of gross, fee and net per day in " + label + " from " + dayText(first) +
        " to " + dayText(last) + "; the table below lists the same figures." }),
      el("details", { class: "per-day" },
        el("summary", {}, "Per day (" + days.length + (days.length === 1 ? " day" : " days") + ")"),
        el("table", {},
          el("caption", { class: "visually-hidden" }, "Gross, fee and net per day in " + label),
          el("thead", {}, el("tr", {}, ["Day (UTC)", "Gross", "Fee", "Net", "Transactions"].map((h, k) => el("th", { scope: "col", class: k ? "num" : null }, h)))),
          el("tbody", {}, days.map((day) => {
            const d = s.days.get(day);
            return el("tr", { "data-day": dayText(day) }, el("th", { scope: "row" }, dayText(day)),
              ANALYTICS_SERIES.map((x) => el("td", { class: "num" }, money(d[x.key], cur))), el("td", { class: "num" }, String(d.count)));
          })))));
  }

  // One uPlot chart per currency, in major units, with a point for every day between the first and the last
  // (days without transactions are 0, so the lines do not pretend a trend between far-apart days).
  function drawChart(section, s) {
    const box = section.querySelector(".chart");
    if (typeof uPlot !== "function") {
      box.append(el("p", { class: "hint" }, "The chart library did not load; the figures are in the table."));
      return;
    }
    const cur = section.dataset.currency;
    const scale = Math.pow(10, ZERO_DECIMAL.has(cur) ? 0 : 2);
    const known = [...s.days.keys()].sort((a, b) => a - b);
    const xs = [];
    if (known.length && (known[known.length - 1] - known[0]) / DAY <= 400) {
      for (let day = known[0]; day <= known[known.length - 1]; day += DAY) xs.push(day);
    } else xs.push(...known);
    const data = [xs, ...ANALYTICS_SERIES.map((x) => xs.map((day) => (s.days.has(day) ? s.days.get(day)[x.key] : 0) / scale))];
    const opts = {
      width: chartWidth(box), height: 240,
      // Days are plain numbers (UTC day starts): ticks on whole days, half a day of margin on each side (a
      // single day would otherwise stretch over years).
      scales: { x: { time: false, range: (u, min, max) => [min - DAY / 2, max + DAY / 2] } },
      series: [{ label: "Day", value: (u, v) => (v === null || v === undefined ? "" : dayText(v)) },
        ...ANALYTICS_SERIES.map((x) => ({
          label: x.label, stroke: x.color, width: 2, points: { show: true, size: 6 },
          value: (u, v) => (v === null || v === undefined ? "" : money(Math.round(v * scale), cur)),
        }))],
      axes: [
        { incrs: [1, 2, 7, 14, 28, 91, 182, 364].map((n) => n * DAY), values: (u, splits) => splits.map(dayText),
          splits: xs.length <= 10 ? () => xs : undefined },  // a tick per day while they fit
        { values: (u, splits) => splits.map((v) => v.toLocaleString("en-US")), size: 60 },
      ],
    };
    charts.push({ chart: new uPlot(opts, data, box), box });
  }

  put(root, el("h2", {}, "Analytics"),
    el("p", { class: "muted" }, "Gross, fee and net per day (UTC) of the synced Stripe balance transactions. Choose the sources to sum:"),
    chips, summary, body);
  render();
}

function chartWidth(box) {
  return Math.max(320, Math.min(1100, (box.clientWidth || box.parentElement.clientWidth || 800) - 8));
}
