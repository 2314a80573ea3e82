// mmdump serve: the live dashboard. Polls /api/v1/live once a second;
// no external resources, no frameworks.
"use strict";

const POLL_MS = 1000;
const KEEP_POINTS = 3600; // an hour of live points per field
const SPARK_POINTS = 60;
const RANGES = [["live", 0], ["1h", 3600], ["24h", 86400], ["7d", 604800]];

const state = {
  perFile: false,
  filter: "",
  changedOnly: false,
  paused: false,
  charts: [], // field keys, in the order opened
  ranges: new Map(), // chart key -> seconds of history (0: live only)
  info: null,
  descriptions: new Map(),
  buffers: new Map(), // key -> {t: [], v: [], r: []}
  history: new Map(), // key -> {range, fetched, points}
  rows: new Map(), // key -> {tr, cells, text}
  frame: null,
  failures: 0,
};

const $ = (id) => document.getElementById(id);

// ---------- the URL fragment keeps the view ----------

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  state.filter = params.get("filter") || "";
  state.perFile = params.get("view") === "per-file";
  state.changedOnly = params.get("changed") === "1";
  state.charts = (params.get("chart") || "").split(",").filter(Boolean);
  for (const entry of (params.get("range") || "").split(",").filter(Boolean)) {
    const [k, seconds] = entry.split("~");
    state.ranges.set(k, Number(seconds) || 0);
  }
}

function writeHash() {
  const params = new URLSearchParams();
  if (state.filter) params.set("filter", state.filter);
  if (state.perFile) params.set("view", "per-file");
  if (state.changedOnly) params.set("changed", "1");
  if (state.charts.length) params.set("chart", state.charts.join(","));
  const ranges = state.charts
    .filter((k) => state.ranges.has(k))
    .map((k) => k + "~" + state.ranges.get(k));
  if (ranges.length) params.set("range", ranges.join(","));
  const hash = params.toString();
  history.replaceState(null, "", hash ? "#" + hash : location.pathname);
}

// ---------- name filters, as mmdump's -I patterns ----------

function levelMatches(pattern, level) {
  const re = new RegExp(
    "^" +
      pattern
        .replace(/[.+^${}()|\\]/g, "\\$&")
        .replace(/\*/g, "[^.]*")
        .replace(/\?/g, "[^.]") +
      "$",
  );
  return re.test(level);
}

// Whether a dotted pattern selects a name (the name or one above it).
function selects(pattern, name) {
  const p = pattern.split(".");
  const n = name.split(".");
  const memo = new Map();
  const go = (i, j) => {
    const k = i * 1000 + j;
    if (memo.has(k)) return memo.get(k);
    let r;
    if (i === p.length) r = true; // a prefix of the name: its subtree
    else if (p[i] === "**") r = go(i + 1, j) || (j < n.length && go(i, j + 1));
    else r = j < n.length && levelMatches(p[i], n[j]) && go(i + 1, j + 1);
    memo.set(k, r);
    return r;
  };
  return go(0, 0);
}

function filterMatches(name) {
  const terms = state.filter.split(/[\s,]+/).filter(Boolean);
  const include = terms.filter((t) => !t.startsWith("-"));
  const exclude = terms.filter((t) => t.startsWith("-")).map((t) => t.slice(1));
  const one = (term) =>
    /[*?]/.test(term) || term.includes(".")
      ? selects(term, name)
      : name.toLowerCase().includes(term.toLowerCase());
  return (include.length === 0 || include.some(one)) && !exclude.some((t) => t && one(t));
}

// ---------- formatting ----------

const integer = new Intl.NumberFormat("en-US");

function formatNumber(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v; // "NaN", "+Inf"
  if (Number.isInteger(v)) return integer.format(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return v.toExponential(3);
  return v.toLocaleString("en-US", { maximumSignificantDigits: 6 });
}

function compact(v) {
  const a = Math.abs(v);
  for (const [limit, suffix] of [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"]]) {
    if (a >= limit) return (v / limit).toPrecision(3) + suffix;
  }
  return null;
}

const TIME_UNITS = { seconds: 1, milliseconds: 1e-3, microseconds: 1e-6, nanoseconds: 1e-9 };

// A duration in seconds, in the unit that reads best.
function formatDuration(seconds) {
  const a = Math.abs(seconds);
  if (a === 0) return "0 s";
  if (a < 1e-6) return (seconds * 1e9).toPrecision(3) + " ns";
  if (a < 1e-3) return (seconds * 1e6).toPrecision(3) + " µs";
  if (a < 1) return (seconds * 1e3).toPrecision(3) + " ms";
  if (a < 120) return seconds.toPrecision(3) + " s";
  if (a < 7200) return (seconds / 60).toPrecision(3) + " min";
  if (a < 172800) return (seconds / 3600).toPrecision(3) + " h";
  return (seconds / 86400).toPrecision(3) + " d";
}

function formatRate(r) {
  if (r === null || r === undefined) return "–";
  const a = Math.abs(r);
  if (a >= 1e6) return compact(r);
  if (a >= 100) return integer.format(Math.round(r));
  if (a >= 10) return r.toFixed(1);
  return r.toFixed(2);
}

function formatTime(ns) {
  if (!ns) return "unset";
  const d = new Date(ns / 1e6);
  return d.toISOString().slice(11, 23);
}

function formatValue(f) {
  switch (f.kind) {
    case "string":
      return f.value;
    case "bool":
      return f.value ? "true" : "false";
    case "timestamp":
      return formatTime(f.value);
    case "float":
    case "average":
    case "gauge":
      if (f.unit in TIME_UNITS && typeof f.value === "number") {
        return formatDuration(f.value * TIME_UNITS[f.unit]);
      }
      return formatNumber(f.value);
    default:
      return formatNumber(f.value);
  }
}

// The number a field charts: counters (and averages) their rate, the
// rest their value.
function rated(f) {
  return f.kind === "counter";
}

function numeric(f) {
  if (f.kind === "string") return null;
  if (f.kind === "bool") return f.value ? 1 : 0;
  if (f.kind === "timestamp") return f.value ? f.value / 1e9 : null;
  return typeof f.value === "number" ? f.value : null;
}

// ---------- data ----------

function keyOf(group, field) {
  return group.path ? field.name + "@" + group.path : field.name;
}

function remember(key, t, field) {
  let b = state.buffers.get(key);
  if (!b) {
    b = { t: [], v: [], r: [] };
    state.buffers.set(key, b);
  }
  if (b.t.length && b.t[b.t.length - 1] === t) return;
  b.t.push(t);
  b.v.push(numeric(field));
  b.r.push(field.rate === undefined ? null : field.rate);
  if (b.t.length > KEEP_POINTS) {
    b.t.shift();
    b.v.shift();
    b.r.shift();
  }
}

async function fetchJson(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 5000);
  try {
    const response = await fetch(url, { signal: controller.signal, cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  } finally {
    clearTimeout(timer);
  }
}

async function poll() {
  if (!state.paused) {
    try {
      const frame = await fetchJson("/api/v1/live" + (state.perFile ? "?aggregate=per-file" : ""));
      state.failures = 0;
      state.frame = frame;
      // How many frames this page has shown (tests read it).
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
      const t = frame.time_ns / 1e6;
      for (const group of frame.groups) {
        for (const field of group.fields) remember(keyOf(group, field), t, field);
      }
      render();
    } catch (error) {
      state.failures += 1;
      setStatus("down", "cannot reach the server (" + error.message + "); retrying");
    }
  }
  setTimeout(poll, POLL_MS);
}

async function loadDescriptions() {
  try {
    const doc = await fetchJson("/api/v1/stats");
    for (const file of doc.files) {
      for (const field of file.fields) {
        if (field.description) state.descriptions.set(field.name, field.description);
      }
    }
  } catch (_) {
    // Descriptions are a nicety.
  }
  setTimeout(loadDescriptions, 30000);
}

async function loadInfo() {
  try {
    state.info = await fetchJson("/api/v1/info");
    const i = state.info;
    $("footer").textContent =
      "mmdump serve " + i.version + " · files combined by " + i.mode +
      " (counters summed) · trend history " + (i.history ? "recorded" : "off") +
      " · /metrics · /api/v1/stats";
  } catch (_) {
    setTimeout(loadInfo, 5000);
  }
}

function historyRange(key) {
  if (!state.info || !state.info.history || key.includes("@")) return 0;
  return state.ranges.has(key) ? state.ranges.get(key) : 3600;
}

async function loadHistory(key) {
  const range = historyRange(key);
  if (!range) return;
  const known = state.history.get(key);
  if (known && known.range === range && Date.now() - known.fetched < 30000) return;
  state.history.set(key, { range, fetched: Date.now(), points: known ? known.points : [] });
  try {
    const doc = await fetchJson(
      "/api/v1/history?name=" + encodeURIComponent(key) + "&since=" + range + "s&points=" + Math.min(5000, Math.max(600, range)),
    );
    state.history.set(key, { range, fetched: Date.now(), points: doc.points || [] });
    drawCharts();
  } catch (_) {
    // Not recorded (yet): the live points are shown.
  }
}

// ---------- rendering ----------

function setStatus(kind, text) {
  const s = $("status");
  s.className = "status " + kind;
  s.textContent = text;
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function flash(cell) {
  cell.classList.remove("flash");
  void cell.offsetWidth;
  cell.classList.add("flash");
}

function render() {
  const frame = state.frame;
  if (!frame) return;
  const time = new Date(frame.time_ns / 1e6).toISOString().slice(11, 19);
  setStatus(
    state.paused ? "paused" : "live",
    (state.paused ? "paused" : "live") + " · " + frame.file_count + " file" +
      (frame.file_count === 1 ? "" : "s") +
      (frame.retired_files ? " (+" + frame.retired_files + " exited, kept in sums)" : "") +
      " · " + time + " UTC",
  );
  renderErrors(frame);
  renderTable(frame);
  drawCharts();
  $("empty").hidden = frame.file_count > 0;
}

function renderErrors(frame) {
  const box = $("errors");
  box.replaceChildren();
  const lines = frame.errors.map((e) => e.path + ": " + e.error);
  for (const g of frame.groups) if (g.error) lines.push(g.path + ": " + g.error);
  for (const line of lines) box.append(el("div", "", line));
  box.hidden = lines.length === 0;
}

function renderTable(frame) {
  const body = $("rows");
  const seen = new Set();
  const order = [];
  for (const group of frame.groups) {
    const fields = group.fields.filter(
      (f) => filterMatches(f.name) && (!state.changedOnly || f.changed),
    );
    if (group.path !== null && fields.length) {
      const key = "file:" + group.path;
      let row = state.rows.get(key);
      if (!row) {
        const tr = el("tr", "file");
        const td = el("td");
        td.colSpan = 6;
        tr.append(td);
        row = { tr, td, text: "" };
        state.rows.set(key, row);
      }
      const text = group.path + "|" + group.pid + "|" + group.writer;
      if (row.text !== text) {
        row.text = text;
        row.td.replaceChildren(
          el("b", "", group.path),
          " · pid " + (group.pid ?? "?") + " · writer ",
          el("span", "writer-" + group.writer, group.writer),
        );
      }
      seen.add(key);
      order.push(row.tr);
    }
    for (const field of fields) {
      const key = keyOf(group, field);
      seen.add(key);
      order.push(renderRow(key, field).tr);
    }
  }
  for (const [key, row] of state.rows) {
    if (!seen.has(key)) {
      row.tr.remove();
      state.rows.delete(key);
    }
  }
  // Re-order only when needed (keeps hover and animations).
  const current = Array.from(body.children);
  if (current.length !== order.length || current.some((tr, i) => tr !== order[i])) {
    body.replaceChildren(...order);
  }
}

function renderRow(key, field) {
  let row = state.rows.get(key);
  if (!row) {
    const tr = el("tr", "field");
    tr.dataset.key = key;
    const name = el("td", "name");
    const value = el("td", field.kind === "string" ? "text" : "num");
    const rate = el("td", "num");
    const avg = el("td", "num wide muted");
    const spark = el("td", "spark");
    const canvas = el("canvas");
    spark.append(canvas);
    const kind = el("td", "kind wide", field.kind);
    tr.append(name, value, rate, avg, spark, kind);
    tr.addEventListener("click", () => toggleChart(key));
    row = { tr, name, value, rate, avg, canvas, text: null };
    state.rows.set(key, row);
    name.append(field.name);
    if (field.unit) name.append(el("span", "unit", field.unit));
  }
  row.name.title = state.descriptions.get(field.name) || field.name;
  const text = formatValue(field);
  if (row.text !== null && row.text !== text) flash(row.value);
  row.text = text;
  row.value.textContent = text;
  row.value.title = field.kind === "timestamp" && field.value ? new Date(field.value / 1e6).toISOString() : "";
  row.rate.textContent = field.rate === undefined ? "" : formatRate(field.rate);
  row.avg.textContent = field.avg_rate === undefined ? "" : formatRate(field.avg_rate);
  row.tr.classList.toggle("charted", state.charts.includes(key));
  drawSpark(row.canvas, key, field);
  return row;
}

function sized(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (!w || !h) return null;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return { ctx, w, h };
}

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function drawSpark(canvas, key, field) {
  const b = state.buffers.get(key);
  const s = sized(canvas);
  if (!b || !s) return;
  const values = (rated(field) ? b.r : b.v).slice(-SPARK_POINTS);
  const known = values.filter((v) => typeof v === "number" && isFinite(v));
  if (known.length < 2) return;
  let lo = Math.min(...known);
  let hi = Math.max(...known);
  if (rated(field)) lo = Math.min(lo, 0);
  if (hi === lo) {
    hi += 1;
    lo -= 1;
  }
  const { ctx, w, h } = s;
  ctx.strokeStyle = color("--accent");
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  let started = false;
  values.forEach((v, i) => {
    if (typeof v !== "number" || !isFinite(v)) {
      started = false;
      return;
    }
    // Newest on the right.
    const x = w - 1 - ((values.length - 1 - i) / (SPARK_POINTS - 1)) * (w - 2);
    const y = h - 2 - ((v - lo) / (hi - lo)) * (h - 4);
    if (started) ctx.lineTo(x, y);
    else ctx.moveTo(x, y);
    started = true;
  });
  ctx.stroke();
}

// ---------- charts ----------

function toggleChart(key) {
  const at = state.charts.indexOf(key);
  if (at >= 0) state.charts.splice(at, 1);
  else state.charts.unshift(key);
  writeHash();
  renderCharts();
  render();
}

function fieldOf(key) {
  if (!state.frame) return null;
  for (const group of state.frame.groups) {
    for (const field of group.fields) if (keyOf(group, field) === key) return field;
  }
  return null;
}

function renderCharts() {
  const box = $("charts");
  const existing = new Map(Array.from(box.children).map((c) => [c.dataset.key, c]));
  const cards = state.charts.map((key) => existing.get(key) || makeCard(key));
  box.replaceChildren(...cards);
  $("hint").hidden = state.charts.length > 0;
  for (const key of state.charts) loadHistory(key);
}

function makeCard(key) {
  const card = el("div", "chart");
  card.dataset.key = key;
  const head = el("div", "chart-head");
  const title = el("div", "chart-title", key);
  const tools = el("div", "chart-tools");
  if (state.info && state.info.history && !key.includes("@")) {
    for (const [label, seconds] of RANGES) {
      const b = el("button", "", label);
      b.type = "button";
      b.dataset.range = String(seconds);
      b.addEventListener("click", () => {
        state.ranges.set(key, seconds);
        state.history.delete(key);
        writeHash();
        loadHistory(key);
        drawCharts();
      });
      tools.append(b);
    }
    const link = el("a", "", "svg");
    link.href = "/chart.svg?name=" + encodeURIComponent(key) + "&since=1h";
    link.target = "_blank";
    tools.append(link);
  }
  const close = el("button", "", "×");
  close.type = "button";
  close.title = "Close";
  close.addEventListener("click", () => toggleChart(key));
  tools.append(close);
  head.append(title, tools);
  const now = el("div", "chart-now", "");
  const sub = el("div", "chart-sub", "");
  const canvas = el("canvas");
  card.append(head, now, sub, canvas);
  return card;
}

function chartPoints(key, field) {
  const useRate = field ? rated(field) : false;
  const live = state.buffers.get(key);
  const points = [];
  const range = historyRange(key);
  const hist = state.history.get(key);
  let after = -Infinity;
  if (range && hist) {
    for (const p of hist.points) {
      const v = useRate ? p[4] : p[1];
      if (v !== null) points.push([p[0], v]);
    }
    if (points.length) after = points[points.length - 1][0];
  }
  if (live) {
    const from = range ? Date.now() - range * 1000 : -Infinity;
    for (let i = 0; i < live.t.length; i++) {
      const v = useRate ? live.r[i] : live.v[i];
      if (live.t[i] > after && live.t[i] >= from && typeof v === "number" && isFinite(v)) {
        points.push([live.t[i], v]);
      }
    }
  }
  return { points, useRate };
}

function niceStep(span, count) {
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const scaled = raw / power;
  return (scaled < 1.5 ? 1 : scaled < 3 ? 2 : scaled < 7 ? 5 : 10) * power;
}

function drawCharts() {
  for (const card of $("charts").children) {
    const key = card.dataset.key;
    const field = fieldOf(key);
    const { points, useRate } = chartPoints(key, field);
    const range = historyRange(key);
    for (const b of card.querySelectorAll("button[data-range]")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.range) === range));
    }
    const now = card.querySelector(".chart-now");
    const sub = card.querySelector(".chart-sub");
    if (field) {
      now.textContent = useRate ? formatRate(field.rate) + " /s" : formatValue(field);
      sub.textContent =
        (useRate ? "rate per second" : field.kind) + (field.unit ? " · " + field.unit : "") +
        (range ? " · last " + RANGES.find((r) => r[1] === range)?.[0] : " · since the page opened");
    } else {
      now.textContent = "–";
      sub.textContent = "not present now";
    }
    const factor = !useRate && field && field.unit in TIME_UNITS ? TIME_UNITS[field.unit] : null;
    drawChart(card.querySelector("canvas"), points, useRate, factor);
  }
}

// An axis label: durations for time units, else as many decimals as
// the step between labels needs.
function axisLabel(v, step, timeFactor) {
  if (timeFactor !== null) return formatDuration(v * timeFactor);
  if (Math.abs(v) >= 1e6) return compact(v);
  const decimals = Math.min(6, Math.max(0, Math.ceil(-Math.log10(step))));
  return v.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function drawChart(canvas, points, fromZero, timeFactor) {
  const s = sized(canvas);
  if (!s) return;
  const { ctx, w, h } = s;
  const left = 58;
  const bottom = 20;
  const top = 6;
  const right = 8;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = color("--muted");
  if (points.length < 2) {
    ctx.fillText("waiting for data…", left, h / 2);
    return;
  }
  const t0 = points[0][0];
  const t1 = Math.max(points[points.length - 1][0], t0 + 1);
  let lo = Math.min(...points.map((p) => p[1]));
  let hi = Math.max(...points.map((p) => p[1]));
  if (fromZero) lo = Math.min(lo, 0);
  if (hi === lo) {
    hi += Math.abs(hi) * 0.1 || 1;
    lo -= Math.abs(lo) * 0.1 || 1;
  }
  const step = niceStep(hi - lo, 4);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (w - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (h - top - bottom);
  ctx.strokeStyle = color("--line");
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let v = lo; v <= hi + step / 2; v += step) {
    ctx.beginPath();
    ctx.moveTo(left, Math.round(y(v)) + 0.5);
    ctx.lineTo(w - right, Math.round(y(v)) + 0.5);
    ctx.stroke();
    ctx.fillText(axisLabel(v, step, timeFactor), left - 6, y(v));
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  const span = t1 - t0;
  let previous = "";
  // As many time labels as fit (two on a phone).
  const slots = Math.max(1, Math.min(4, Math.floor((w - left - right) / 110)));
  for (let i = 0; i <= slots; i++) {
    const t = t0 + (span * i) / slots;
    const iso = new Date(t).toISOString();
    const label = span > 86400000 ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, span > 600000 ? 16 : 19);
    if (label === previous) continue;
    previous = label;
    ctx.textAlign = i === 0 ? "left" : i === slots ? "right" : "center";
    ctx.fillText(label, x(t), h - bottom + 5);
  }
  const accent = color("--accent");
  ctx.beginPath();
  points.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
  ctx.strokeStyle = accent;
  ctx.lineWidth = 2;
  ctx.stroke();
  ctx.lineTo(x(points[points.length - 1][0]), y(lo));
  ctx.lineTo(x(points[0][0]), y(lo));
  ctx.closePath();
  ctx.fillStyle = color("--accent-soft");
  ctx.fill();
}

// ---------- controls ----------

function setView(perFile) {
  state.perFile = perFile;
  $("view-combined").classList.toggle("on", !perFile);
  $("view-per-file").classList.toggle("on", perFile);
  state.frame = null;
  writeHash();
  $("rows").replaceChildren();
  state.rows.clear();
}

function start() {
  readHash();
  $("filter").value = state.filter;
  $("changed-only").checked = state.changedOnly;
  setView(state.perFile);
  $("filter").addEventListener("input", (e) => {
    state.filter = e.target.value;
    writeHash();
    render();
  });
  $("changed-only").addEventListener("change", (e) => {
    state.changedOnly = e.target.checked;
    writeHash();
    render();
  });
  $("view-combined").addEventListener("click", () => setView(false));
  $("view-per-file").addEventListener("click", () => setView(true));
  $("pause").addEventListener("click", (e) => {
    state.paused = !state.paused;
    e.target.setAttribute("aria-pressed", String(state.paused));
    e.target.textContent = state.paused ? "Resume" : "Pause";
    render();
  });
  window.addEventListener("resize", () => drawCharts());
  loadInfo().then(() => {
    $("charts").replaceChildren();
    renderCharts();
  });
  loadDescriptions();
  renderCharts();
  poll();
}

start();
