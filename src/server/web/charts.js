// charts.js - wandb-mpi dashboard: DOM, data and chart helpers (window.WB)
// SPDX-License-Identifier: MIT
//
// Every string from the server goes into the page through textContent or an
// attribute set with setAttribute on a fixed name: never innerHTML. Charts are
// uPlot (vendor/uPlot.iife.min.js). Each chart drawn is registered on
// window.__wandbCharts (title -> series labels and point counts) and mirrored
// into <pre id="wandb-charts"> so a headless browser's --dump-dom can read it;
// the first chart's time (performance.now(), ms since navigation) goes to
// <body data-first-chart-ms>.
"use strict";
(function () {
  const WB = {};
  window.WB = WB;
  window.__wandbCharts = {};

  // Extended JSON (bare NaN / Infinity / -Infinity, as W&B writes them) to
  // JS values: those tokens outside strings become null.
  WB.parse = function (text) {
    if (!/NaN|Infinity/.test(text)) return JSON.parse(text);
    let out = "", i = 0, start = 0;
    const n = text.length;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 34) { // a string: skip to its end
        i++;
        while (i < n && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
        i++;
      } else if (c === 78 && text.startsWith("NaN", i)) {
        out += text.slice(start, i) + "null"; i += 3; start = i;
      } else if (c === 73 && text.startsWith("Infinity", i)) {
        out += text.slice(start, i) + "null"; i += 8; start = i;
      } else if (c === 45 && text.startsWith("-Infinity", i)) {
        out += text.slice(start, i) + "null"; i += 9; start = i;
      } else i++;
    }
    return JSON.parse(out + text.slice(start));
  };

  // GET a read-API path; null on 404; to the key form on 401.
  WB.api = async function (path) {
    const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (r.status === 401) { // the cookie expired or was cleared: back to the key form
      location.href = "/login?next=" + encodeURIComponent(location.pathname);
      throw new Error("unauthorized");
    }
    if (r.status === 404) return null;
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return WB.parse(await r.text());
  };

  // el("div", {class: "x", href: ...}, child, "text", ...): text children are
  // text nodes; attributes go through setAttribute.
  WB.el = function (tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid === undefined || kid === null || kid === false) continue;
      e.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  };

  const qp = (o) => Object.keys(o).filter((k) => o[k] !== undefined && o[k] !== null)
    .map((k) => encodeURIComponent(k) + "=" + encodeURIComponent(o[k])).join("&");
  WB.qp = qp;
  WB.seg = (s) => encodeURIComponent(s);

  WB.fmt = function (v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") {
      if (Number.isInteger(v)) return String(v);
      const a = Math.abs(v);
      return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(+v.toPrecision(6));
    }
    if (typeof v === "object" && v._type) // media: its kind and file, drawn under Media
      return v._type + (typeof v.path === "string" ? " " + v.path : "");
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  };
  WB.date = (s) => (s ? new Date(s * 1000).toISOString().replace("T", " ").slice(0, 19) : "");
  WB.dur = function (s) {
    if (!(s >= 0)) return "";
    s = Math.round(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), x = s % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + x + "s";
  };

  // Flattens nested objects to dotted names (media objects stay whole).
  WB.flatten = function (obj, prefix, out) {
    out = out || {};
    for (const k of Object.keys(obj || {})) {
      const v = obj[k];
      if (v && typeof v === "object" && !Array.isArray(v) && !v._type)
        WB.flatten(v, (prefix || "") + k + ".", out);
      else out[(prefix || "") + k] = v;
    }
    return out;
  };

  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf"];
  WB.color = (i) => PALETTE[i % PALETTE.length];

  // TensorBoard's debiased exponential moving average (0 = off).
  WB.smooth = function (ys, w) {
    if (!w) return ys;
    let last = 0, n = 0;
    return ys.map((y) => {
      if (y === null || !isFinite(y)) return y;
      last = last * w + (1 - w) * y; n++;
      return last / (1 - Math.pow(w, n));
    });
  };

  function publish() {
    let pre = document.getElementById("wandb-charts");
    if (!pre) {
      pre = WB.el("pre", { id: "wandb-charts", hidden: true });
      document.body.appendChild(pre);
    }
    pre.textContent = JSON.stringify(window.__wandbCharts);
  }
  WB.publish = publish;

  // Merges [{x, y}] series onto one sorted x axis (null where a series has no point).
  function align(list) {
    const xs = new Set();
    for (const s of list) for (const x of s.x) xs.add(x);
    const X = Float64Array.from(xs).sort();
    const pos = new Map();
    X.forEach((x, i) => pos.set(x, i));
    const cols = list.map((s) => {
      const col = new Array(X.length).fill(null);
      for (let i = 0; i < s.x.length; i++) col[pos.get(s.x[i])] = s.y[i];
      return col;
    });
    return [Array.from(X), ...cols];
  }

  // A chart card: series = [{label, x, y, color?, width?, dash?, band?: "lo"|"hi"}].
  // opts: {xlabel, log, smoothing, id}. Returns the card; redraws in place when
  // called again with the same card (live refresh).
  WB.chart = function (card, title, series, opts) {
    opts = opts || {};
    const shown = series.filter((s) => s.x.length > 0);
    const data = align(shown);
    for (let i = 0; i < shown.length; i++)
      if (!shown[i].band) data[i + 1] = WB.smooth(data[i + 1], opts.smoothing || 0);
    const lastOf = (col) => { for (let i = col.length - 1; i >= 0; i--) if (col[i] !== null) return col[i]; return null; };
    window.__wandbCharts[title] = {
      series: shown.map((s, i) => ({ label: s.label, points: s.x.length,
        first: s.y[0], last: s.y[s.y.length - 1], drawn: lastOf(data[i + 1]) })),
    };
    const sig = shown.map((s) => s.label).join("\u0001") + "|" + !!opts.log;
    if (card && card.__u && card.__sig === sig) {
      card.__u.setData(data);
      publish();
      return card;
    }
    if (!card) card = WB.el("div", { class: "chart", "data-title": title });
    if (card.__u) card.__u.destroy();
    card.textContent = "";
    card.appendChild(WB.el("div", { class: "chart-title", text: title }));
    const useries = [{ label: opts.xlabel || "x" }];
    const bands = [];
    const lo = shown.findIndex((s) => s.band === "lo"), hi = shown.findIndex((s) => s.band === "hi");
    shown.forEach((s, i) => {
      useries.push({
        label: s.label, stroke: s.band ? "rgba(0,0,0,0)" : s.color || WB.color(i),
        width: s.width || 1.25, dash: s.dash, spanGaps: true, points: { show: false },
        value: (u, v) => WB.fmt(v),
      });
    });
    if (lo >= 0 && hi >= 0) bands.push({ series: [hi + 1, lo + 1], fill: "rgba(31,119,180,0.15)" });
    const avail = document.getElementById("main") ? document.getElementById("main").clientWidth : 900;
    const width = Math.max(300, Math.min(560, Math.floor(avail / 3) - 40));
    const u = new uPlot({
      width, height: 240, series: useries, bands,
      scales: { x: { time: false }, y: opts.log ? { distr: 3 } : {} },
      axes: [{ label: opts.xlabel || "" }, { size: 60 }],
      legend: { show: shown.length <= 16, live: true }, // 64 ranks: the lines speak, not a legend
      cursor: { drag: { x: true, y: false } },
    }, data, card);
    card.__u = u;
    card.__sig = sig;
    if (!document.body.dataset.firstChartMs)
      document.body.dataset.firstChartMs = String(Math.round(performance.now()));
    publish();
    return card;
  };

  // A bar chart of a W&B histogram ({_type: "histogram", bins|packedBins, values}).
  WB.histogram = function (title, h) {
    let edges = h.bins;
    if (!edges && h.packedBins) {
      const p = h.packedBins;
      edges = [];
      for (let i = 0; i <= p.count; i++) edges.push(p.min + i * p.size);
    }
    const vals = h.values || [];
    const card = WB.el("div", { class: "chart media-histogram", "data-title": title });
    card.appendChild(WB.el("div", { class: "chart-title", text: title + " (histogram)" }));
    if (!edges || edges.length < 2) return card;
    const xs = vals.map((_, i) => (edges[i] + edges[Math.min(i + 1, edges.length - 1)]) / 2);
    const u = new uPlot({
      width: 420, height: 200, scales: { x: { time: false } },
      series: [{ label: "bin" }, { label: "count", fill: "rgba(31,119,180,0.5)",
        stroke: "#1f77b4", paths: uPlot.paths.bars({ size: [0.95, 100] }), points: { show: false } }],
    }, [xs, vals], card);
    card.__u = u;
    window.__wandbCharts[title + " (histogram)"] = { series: [{ label: "count", points: vals.length }] };
    publish();
    return card;
  };

  // A sortable table: cols = [{name, get(row) -> value, render?(row) -> Node}].
  WB.table = function (cols, rows, opts) {
    opts = opts || {};
    let sortCol = opts.sort || null, dir = opts.dir || 1;
    const wrap = WB.el("div", { class: "table-wrap" });
    function draw() {
      const sorted = rows.slice();
      if (sortCol !== null) {
        const c = cols[sortCol];
        sorted.sort((a, b) => {
          const x = c.get(a), y = c.get(b);
          if (x === y) return 0;
          if (x === null || x === undefined || x === "") return 1;
          if (y === null || y === undefined || y === "") return -1;
          return (x < y ? -1 : 1) * dir;
        });
      }
      const head = WB.el("tr", null, cols.map((c, i) => WB.el("th", {
        class: "sortable" + (i === sortCol ? (dir > 0 ? " asc" : " desc") : ""),
        onclick: () => { dir = sortCol === i ? -dir : 1; sortCol = i; draw(); },
      }, c.name)));
      const body = sorted.map((r) => WB.el("tr", null, cols.map((c) => WB.el("td",
        { class: c.cls ? c.cls(r) : null }, c.render ? c.render(r) : WB.fmt(c.get(r))))));
      wrap.textContent = "";
      wrap.appendChild(WB.el("table", { class: opts.cls || "grid" },
        WB.el("thead", null, head), WB.el("tbody", null, body)));
    }
    draw();
    return wrap;
  };

  // A key/value table (config, summary).
  WB.kv = function (obj, cls) {
    const flat = WB.flatten(obj);
    const keys = Object.keys(flat).sort();
    return WB.el("table", { class: "kv " + (cls || "") }, WB.el("tbody", null, keys.map((k) =>
      WB.el("tr", null, WB.el("th", { text: k }), WB.el("td", { text: WB.fmt(flat[k]) })))));
  };
})();
