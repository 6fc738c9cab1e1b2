/**
 * The demo's dashboard: one HTML page with inline CSS, JS and SVG, no build
 * step. It polls `/api/state` and draws each breaker's state over the last
 * minute, the rate limiter's tokens per client, the bulkhead's occupancy,
 * idempotency hits and the heartbeat's age. Its controls change the flaky
 * upstream (`POST /api/upstream`) and switch a load generator on and off;
 * the load generator runs in the page, so it works the same against every
 * runtime, Workers included.
 */

/** What the page needs from the server. */
export interface DashboardOptions {
  /** Ms between two polls of `/api/state`. */
  pollMs: number;
  /** Shown in the title bar. */
  runtime: string;
}

/** The dashboard page. */
export function dashboardHtml(options: DashboardOptions): string {
  const config = JSON.stringify({ pollMs: options.pollMs, runtime: options.runtime });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bulwark demo gateway</title>
<style>
  :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f4f6f9; }
  body { margin: 0 auto; max-width: 1040px; padding: 16px; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 14px; text-transform: uppercase; letter-spacing: .05em; color: #5b6575; margin: 0 0 8px; }
  .sub { color: #5b6575; margin: 0 0 16px; font-size: 13px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
  .card { background: #fff; border-radius: 8px; padding: 12px 14px; box-shadow: 0 1px 3px #0002; }
  .wide { grid-column: 1 / -1; }
  .state { font-weight: 700; padding: 1px 8px; border-radius: 10px; color: #fff; }
  .closed { background: #2e9d5b; } .open { background: #d64545; } .half-open { background: #e0a526; }
  .forced-open { background: #7a1f1f; } .disabled { background: #888; }
  .row { display: flex; align-items: center; gap: 8px; margin: 6px 0; font-size: 13px; }
  .row label { min-width: 92px; }
  .num { font-variant-numeric: tabular-nums; }
  .bar { height: 12px; background: #e6e9ef; border-radius: 6px; overflow: hidden; flex: 1; }
  .bar > div { height: 100%; background: #4a78d0; }
  td .bar { min-width: 90px; }
  .axis { display: flex; justify-content: space-between; color: #8a93a3; font-size: 11px; }
  button { font: inherit; font-size: 13px; padding: 4px 10px; border-radius: 6px; border: 1px solid #b8c0cc; background: #fff; cursor: pointer; }
  button.on { background: #2e9d5b; color: #fff; border-color: #2e9d5b; }
  svg { display: block; width: 100%; height: 28px; }
  table { border-collapse: collapse; font-size: 13px; width: 100%; }
  td, th { text-align: left; padding: 2px 6px; } th { color: #5b6575; font-weight: 500; }
  #error { color: #d64545; font-size: 13px; }
</style>
</head>
<body>
<h1>bulwark demo gateway</h1>
<p class="sub">Runtime <b id="runtime"></b> · up <span id="uptime" class="num"></span> · heartbeat age
<b id="heartbeat-age" class="num">–</b> <span id="error"></span></p>
<div class="grid">
  <section class="card wide"><h2>Circuit breakers (last 60 s)</h2><div id="breakers"></div>
    <div class="axis"><span>60 s ago</span><span>closed <b style="color:#2e9d5b">■</b> open <b style="color:#d64545">■</b> half-open <b style="color:#e0a526">■</b></span><span>now</span></div></section>
  <section class="card" id="controls"><h2>Flaky upstream</h2></section>
  <section class="card"><h2>Load generator</h2>
    <div class="row"><button id="load-toggle" data-on="false">Start load</button>
      <label for="load-rps">requests/s</label><input id="load-rps" type="number" min="1" max="200" value="20" style="width:60px"></div>
    <div class="row">sent <span id="load-sent" class="num">0</span> · answers
      <span id="load-answers" class="num"></span></div>
  </section>
  <section class="card"><h2>Rate limiter tokens</h2><table id="limiter"></table></section>
  <section class="card"><h2>Bulkhead</h2>
    <div class="row"><label>active</label><div class="bar"><div id="bulkhead-active-bar"></div></div><span id="bulkhead-active" class="num"></span></div>
    <div class="row"><label>queued</label><div class="bar"><div id="bulkhead-queued-bar"></div></div><span id="bulkhead-queued" class="num"></span></div>
    <div class="row">rejected <span id="bulkhead-rejected" class="num"></span></div>
  </section>
  <section class="card"><h2>Idempotency and refusals</h2><table id="counters"></table></section>
</div>
<script>
"use strict";
const CONFIG = ${config};
const COLORS = { closed: "#2e9d5b", open: "#d64545", "half-open": "#e0a526", "forced-open": "#7a1f1f", disabled: "#888" };
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};
const post = (path, body) => fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
$("runtime").textContent = CONFIG.runtime;

// One card row per breaker, built on the first state.
function breakerRow(b) {
  let row = $("breaker-" + b.service);
  if (row) return row;
  row = el("div", { id: "breaker-" + b.service, "data-testid": "breaker" });
  const head = el("div", { class: "row" });
  head.append(el("b", {}, b.service), el("span", { class: "state", "data-role": "state" }), el("span", { class: "num", "data-role": "detail" }));
  row.append(head, document.createElementNS("http://www.w3.org/2000/svg", "svg"));
  $("breakers").append(row);
  return row;
}

// The breaker's states over the last minute: one rectangle per state held.
function drawTimeline(svg, history, now) {
  const width = svg.clientWidth || 600, from = now - 60000;
  svg.setAttribute("viewBox", "0 0 " + width + " 28");
  svg.replaceChildren();
  history.forEach((point, i) => {
    const start = Math.max(point.at, from), end = i + 1 < history.length ? history[i + 1].at : now;
    if (end < from) return;
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const x = ((start - from) / 60000) * width;
    rect.setAttribute("x", x.toFixed(1));
    rect.setAttribute("y", "4");
    rect.setAttribute("width", Math.max(1, ((end - start) / 60000) * width).toFixed(1));
    rect.setAttribute("height", "20");
    rect.setAttribute("fill", COLORS[point.state] || "#888");
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = point.state + " from " + new Date(point.at).toLocaleTimeString();
    rect.append(title);
    svg.append(rect);
  });
}

// Sliders for each service, built once from the first state.
function buildControls(settings) {
  const box = $("controls");
  if (box.dataset.built) return;
  box.dataset.built = "1";
  for (const [service, s] of Object.entries(settings)) {
    const wrap = el("div", { "data-service": service });
    const rate = el("input", { type: "range", min: "0", max: "1", step: "0.05", value: String(s.errorRate), id: "error-rate-" + service });
    const latency = el("input", { type: "range", min: "0", max: "3000", step: "10", value: String(s.latencyMs), id: "latency-" + service });
    const rateOut = el("span", { class: "num" }), latencyOut = el("span", { class: "num" });
    const show = () => { rateOut.textContent = Math.round(rate.value * 100) + "% errors"; latencyOut.textContent = latency.value + " ms"; };
    const send = () => { show(); post("/api/upstream", { service, errorRate: Number(rate.value), latencyMs: Number(latency.value) }); };
    rate.addEventListener("change", send);
    latency.addEventListener("change", send);
    const fail = el("button", { id: "fail-" + service }, "Fail");
    const heal = el("button", { id: "heal-" + service }, "Heal");
    fail.addEventListener("click", () => { rate.value = "1"; send(); });
    heal.addEventListener("click", () => { rate.value = "0"; send(); });
    const r1 = el("div", { class: "row" }); r1.append(el("label", {}, service), fail, heal);
    const r2 = el("div", { class: "row" }); r2.append(el("label", {}, "error rate"), rate, rateOut);
    const r3 = el("div", { class: "row" }); r3.append(el("label", {}, "latency"), latency, latencyOut);
    wrap.append(r1, r2, r3);
    box.append(wrap);
    show();
  }
}

function render(state) {
  $("uptime").textContent = Math.round(state.uptimeMs / 1000) + " s";
  $("heartbeat-age").textContent = state.heartbeat ? (state.heartbeat.ageMs / 1000).toFixed(1) + " s" : "no beat yet";
  for (const b of state.breakers) {
    const row = breakerRow(b);
    const badge = row.querySelector("[data-role=state]");
    badge.textContent = b.state;
    badge.className = "state " + b.state;
    row.dataset.state = b.state;
    row.querySelector("[data-role=detail]").textContent = b.failureCount + " failures in a row" +
      (b.state === "open" ? " · probe in " + (b.remainingMs / 1000).toFixed(1) + " s" : "") +
      " · calls " + b.stats.totalCalls + ", rejected " + b.stats.rejectedCalls;
    drawTimeline(row.querySelector("svg"), b.history, state.now);
  }
  buildControls(state.upstream);
  const limiter = $("limiter");
  limiter.replaceChildren(el("tr"));
  limiter.firstChild.append(el("th", {}, "client"), el("th", {}, "tokens"), el("th", {}, ""));
  for (const l of state.limiter) {
    const tr = el("tr"), bar = el("div", { class: "bar" }), fill = el("div");
    fill.style.width = Math.max(0, Math.min(100, (l.tokens / l.limit) * 100)) + "%";
    bar.append(fill);
    const td = el("td"); td.append(bar);
    tr.append(el("td", {}, l.key), el("td", { class: "num" }, l.tokens.toFixed(1) + " / " + l.limit), td);
    limiter.append(tr);
  }
  const bh = state.bulkhead;
  $("bulkhead-active").textContent = bh.active + " / " + bh.maxConcurrent;
  $("bulkhead-queued").textContent = bh.queued + " / " + bh.maxQueue;
  $("bulkhead-active-bar").style.width = (bh.active / bh.maxConcurrent) * 100 + "%";
  $("bulkhead-queued-bar").style.width = (bh.maxQueue ? (bh.queued / bh.maxQueue) * 100 : 0) + "%";
  $("bulkhead-rejected").textContent = bh.rejected;
  const counters = $("counters");
  counters.replaceChildren();
  const labels = { idempotencyHits: "idempotency hits (replays)", idempotentRequests: "requests with Idempotency-Key",
    requests: "guarded requests", rateLimited: "429 rate limited", circuitOpen: "503 circuit open",
    bulkheadRejected: "503 bulkhead full", timeouts: "504 timed out" };
  const values = { ...state.counters, bulkheadRejected: state.bulkhead.rejected };
  for (const [key, label] of Object.entries(labels)) {
    const tr = el("tr", { "data-counter": key });
    tr.append(el("td", {}, label), el("td", { class: "num" }, String(values[key])));
    counters.append(tr);
  }
}

async function poll() {
  try {
    const response = await fetch("/api/state", { cache: "no-store" });
    render(await response.json());
    $("error").textContent = "";
    document.body.dataset.ready = "true";
  } catch (error) {
    $("error").textContent = "gateway unreachable: " + error;
  }
  setTimeout(poll, CONFIG.pollMs);
}
poll();

// The load generator: GETs of inventory, and orders whose Idempotency-Key
// repeats now and then (as a client retrying would), so replays show up.
const load = { timer: 0, sent: 0, answers: {} };
// The same order (key and body) twice in a row: the second is a replay.
function order(id, headers) {
  return fetch("/api/orders", {
    method: "POST",
    headers: { ...headers, "idempotency-key": '"order-' + id + '"', "content-type": "application/json" },
    body: JSON.stringify({ order: id, sku: "sku-" + (id % 10), qty: 1 }),
  });
}
function fire() {
  load.sent++;
  const n = load.sent;
  const headers = { "x-client-id": "load-generator" };
  const request = n % 4 === 0
    ? order(Math.floor(n / 8), headers)
    : fetch("/api/inventory/sku-" + (n % 10), { headers });
  request.then((r) => { load.answers[r.status] = (load.answers[r.status] || 0) + 1; return r.body?.cancel(); }, () => { load.answers.error = (load.answers.error || 0) + 1; })
    .finally(() => {
      $("load-sent").textContent = load.sent;
      $("load-answers").textContent = Object.entries(load.answers).map(([k, v]) => k + ": " + v).join(" · ");
    });
}
$("load-toggle").addEventListener("click", () => {
  const button = $("load-toggle");
  if (load.timer) {
    clearInterval(load.timer);
    load.timer = 0;
  } else {
    const rps = Math.max(1, Math.min(200, Number($("load-rps").value) || 20));
    load.timer = setInterval(fire, 1000 / rps);
  }
  button.dataset.on = String(Boolean(load.timer));
  button.className = load.timer ? "on" : "";
  button.textContent = load.timer ? "Stop load" : "Start load";
});
</script>
</body>
</html>
`;
}
