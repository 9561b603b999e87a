// run.js - wandb-mpi dashboard: the run page (/<entity>/<project>/runs/<id>)
// SPDX-License-Identifier: MIT
//
// Charts per metric in sections by "/" prefix, x axis from _step, _runtime,
// _timestamp or each metric's define_metric step metric, smoothing, log
// scale; metrics defined hidden are not drawn. Then media (histograms and
// images from the summary), system metrics per node label, config, summary,
// files, console, alerts and artifacts. Loaded before app.js, which supplies
// the shared page helpers on window.WBRun.
"use strict";
(function () {
  const { el, api, qp, seg, fmt } = WB;
  window.WBRun = window.WBRun || {};

  // define_metric records (config._wandb.m): {name: {hidden, step}}.
  function metricDefs(config) {
    const m = (config && config._wandb && config._wandb.m) || [];
    const out = {};
    if (!Array.isArray(m)) return out;
    for (const d of m) {
      if (!d || typeof d["1"] !== "string") continue;
      const step = d["5"] && m[d["5"] - 1] ? m[d["5"] - 1]["1"] : null;
      out[d["1"]] = { hidden: Array.isArray(d["6"]) && d["6"].includes(2), step };
    }
    return out;
  }

  WBRun.page = async function (entity, project, id) {
    const { section, stateBadge, runtime, poll, chartGrid, setCrumbs, href, fail } = WBRun;
    const main = document.getElementById("main");
    const q = qp({ project, entity });
    const base = "/api/v1/runs/" + seg(id);
    let run = await api(base + "?" + q);
    if (!run) { main.textContent = ""; fail("No run '" + id + "' in " + entity + "/" + project + "."); return; }
    setCrumbs([[entity, null], [project, href(entity, project)],
      ...(run.group ? [["group " + run.group, href(entity, project, "groups", run.group)]] : []),
      [run.display_name || run.name, null]]);
    main.textContent = "";
    const head = section(run.display_name || run.name, "run");
    const headInfo = el("div", { class: "run-info" });
    head.appendChild(headInfo);
    function drawHead() {
      headInfo.textContent = "";
      const dl = el("dl");
      const add = (k, v) => { if (v !== null && v !== undefined && v !== "") dl.append(el("dt", { text: k }), el("dd", null, v)); };
      add("id", run.name);
      add("state", stateBadge(run.state));
      add("group", run.group ? el("a", { href: href(entity, project, "groups", run.group), text: run.group }) : null);
      add("job_type", run.job_type);
      add("created", WB.date(run.created_at));
      add("runtime", WB.dur(runtime(run)));
      add("rows", String(run.history_count));
      add("host", run.host);
      add("program", run.program);
      add("tags", (run.tags || []).join(", "));
      add("exit code", run.exit_code === null || run.exit_code === undefined ? null : String(run.exit_code));
      headInfo.appendChild(dl);
      if (run.notes) headInfo.appendChild(el("div", { class: "notes" }, el("h3", { text: "Notes" }), el("pre", { text: run.notes })));
    }
    drawHead();

    // Chart controls.
    const defs = metricDefs(run.config);
    const steps = [...new Set(Object.values(defs).map((d) => d.step).filter((s) => s))];
    const xSel = el("select", { name: "x" }, ["_step", "_runtime", "_timestamp", ...(steps.length ? ["define_metric"] : [])]
      .map((v) => el("option", { value: v, text: v === "define_metric" ? "step metric (define_metric)" : v })));
    if (steps.length) xSel.value = "define_metric";
    const smooth = el("input", { type: "range", min: 0, max: 0.99, step: 0.01, value: 0, name: "smoothing" });
    const logc = el("input", { type: "checkbox", name: "log" });
    const charts = section("Charts", "charts");
    charts.appendChild(el("div", { class: "controls" }, el("label", null, "x axis ", xSel),
      el("label", null, "smoothing ", smooth), el("label", null, logc, " log scale")));
    const chartsBox = el("div");
    charts.appendChild(chartsBox);
    let sections = new Map();
    let lastSeries = {}, lastX = {};

    async function loadSeries() {
      const mode = xSel.value;
      const series = {}, xname = {};
      if (mode !== "define_metric") {
        const d = await api("/api/v1/sample?" + qp({ project, entity, runs: id, x: mode, samples: 1000 }));
        const r = d && d.runs[0];
        for (const k of Object.keys((r && r.series) || {})) { series[k] = r.series[k]; xname[k] = mode; }
      } else {
        // One request per step metric, for the metrics that use it; _step for the rest.
        const byStep = {};
        for (const k of Object.keys(defs)) if (defs[k].step) (byStep[defs[k].step] = byStep[defs[k].step] || []).push(k);
        const d = await api("/api/v1/sample?" + qp({ project, entity, runs: id, x: "_step", samples: 1000 }));
        const r = d && d.runs[0];
        for (const k of Object.keys((r && r.series) || {})) if (!defs[k] || !defs[k].step) { series[k] = r.series[k]; xname[k] = "_step"; }
        for (const st of Object.keys(byStep)) {
          const e = await api("/api/v1/sample?" + qp({ project, entity, runs: id, x: st, keys: byStep[st].join(","), samples: 1000 }));
          const s = e && e.runs[0];
          for (const k of Object.keys((s && s.series) || {})) { series[k] = s.series[k]; xname[k] = st; }
        }
      }
      lastSeries = series; lastX = xname;
    }
    function drawCharts(rebuild) {
      if (rebuild) { chartsBox.textContent = ""; sections = new Map(); }
      const keys = Object.keys(lastSeries).filter((k) => !(defs[k] && defs[k].hidden)).sort();
      if (!keys.length && !chartsBox.childNodes.length) chartsBox.appendChild(el("p", { class: "muted", text: "No numeric history yet." }));
      for (const k of keys) {
        const name = k.includes("/") ? k.slice(0, k.indexOf("/")) : "Charts";
        if (!sections.has(name)) {
          const box = el("div", { class: "charts" });
          chartsBox.appendChild(el("details", { open: true, class: "chart-section" }, el("summary", { text: name }), box));
          sections.set(name, chartGrid(box));
        }
        sections.get(name)(k, [{ label: run.display_name || run.name, x: lastSeries[k].x, y: lastSeries[k].y, color: "#1f77b4" }],
          { xlabel: lastX[k], log: logc.checked, smoothing: +smooth.value });
      }
    }
    xSel.addEventListener("change", async () => { await loadSeries(); drawCharts(true); });
    smooth.addEventListener("input", () => drawCharts(false));
    logc.addEventListener("change", () => drawCharts(true));
    await loadSeries();
    drawCharts(true);

    // Media from the summary: the latest histogram / image of each key.
    const media = section("Media", "media");
    const mediaBox = el("div", { class: "charts" });
    media.appendChild(mediaBox);
    function drawMedia() {
      mediaBox.textContent = "";
      const flat = WB.flatten(run.summary || {});
      for (const k of Object.keys(flat).sort()) {
        const v = flat[k];
        if (!v || typeof v !== "object" || !v._type) continue;
        if (v._type === "histogram") mediaBox.appendChild(WB.histogram(k, v));
        else if (v._type === "image-file" && typeof v.path === "string")
          mediaBox.appendChild(el("figure", { class: "media-image" },
            el("img", { src: base + "/files/" + v.path.split("/").map(seg).join("/") + "?" + q, alt: k }),
            el("figcaption", { text: k })));
      }
      if (!mediaBox.childNodes.length) mediaBox.appendChild(el("p", { class: "muted", text: "No histograms or images." }));
    }
    drawMedia();

    // System metrics (events): one chart per metric, one series per node label.
    const sys = section("System", "system");
    const sysBox = el("div", { class: "charts" });
    sys.appendChild(sysBox);
    const drawSys = chartGrid(sysBox);
    async function loadSystem() {
      const d = await api(base + "/events?" + qp({ project, entity, offset: Math.max(0, (run.events_count || 0) - 2000) }));
      const rows = (d && d.rows) || [];
      const per = {};
      for (const row of rows) {
        if (!row || typeof row !== "object") continue;
        const flat = WB.flatten(row);
        for (const k of Object.keys(flat)) {
          if (!k.startsWith("system") || typeof flat[k] !== "number") continue;
          const m = k.match(/^(.*)\/l:(.*)$/);
          const metric = m ? m[1] : k, label = m ? m[2] : "node";
          const s = ((per[metric] = per[metric] || {})[label] = per[metric][label] || { x: [], y: [] });
          s.x.push(row._runtime); s.y.push(flat[k]);
        }
      }
      for (const metric of Object.keys(per).sort())
        drawSys(metric, Object.keys(per[metric]).sort().map((l, i) => ({ label: l, x: per[metric][l].x, y: per[metric][l].y, color: WB.color(i) })), { xlabel: "_runtime" });
      if (!Object.keys(per).length && !sysBox.childNodes.length) sysBox.appendChild(el("p", { class: "muted", text: "No system metrics." }));
    }
    await loadSystem().catch(fail);

    const cfg = section("Config", "config");
    const sum = section("Summary", "summary");
    function drawTables() {
      const c = Object.assign({}, run.config || {}); delete c._wandb;
      const s = Object.assign({}, run.summary || {}); delete s._wandb;
      cfg.replaceChildren(el("h2", { text: "Config" }), WB.kv(c, "config"));
      sum.replaceChildren(el("h2", { text: "Summary" }), WB.kv(s, "summary"));
    }
    drawTables();

    const files = section("Files", "files");
    async function loadFiles() {
      const d = await api(base + "/files?" + q);
      const list = (d && d.files) || [];
      files.replaceChildren(el("h2", { text: "Files" }), list.length ? WB.table([
        { name: "name", get: (f) => f.name, render: (f) => f.uploaded ? el("a", { href: base + "/files/" + f.name.split("/").map(seg).join("/") + "?" + q, download: f.name.split("/").pop(), text: f.name }) : f.name },
        { name: "size", get: (f) => f.size },
        { name: "updated", get: (f) => f.updated_at, render: (f) => WB.date(f.updated_at) },
      ], list) : el("p", { class: "muted", text: "No files." }));
    }
    const con = section("Console", "console");
    const pre = el("pre", { class: "console" });
    con.appendChild(pre);
    async function loadLogs() {
      const d = await api(base + "/logs?" + qp({ project, entity, offset: Math.max(0, (run.log_count || 0) - 2000) }));
      pre.textContent = ((d && d.lines) || []).join("\n");
    }
    const al = section("Alerts", "alerts");
    async function loadAlerts() {
      const d = await api(base + "/alerts?" + q);
      const list = (d && d.alerts) || [];
      al.replaceChildren(el("h2", { text: "Alerts" }), list.length ? WB.table([
        { name: "time", get: (a) => a.created_at, render: (a) => WB.date(a.created_at) },
        { name: "severity", get: (a) => a.severity },
        { name: "title", get: (a) => a.title },
        { name: "text", get: (a) => a.text },
      ], list) : el("p", { class: "muted", text: "No alerts." }));
    }
    const art = section("Artifacts", "artifacts");
    async function loadArtifacts() {
      let d = null;
      try { d = await api("/api/v1/artifacts?" + q); } catch (e) { d = null; }
      const list = (d && (d.artifacts || d.items)) || [];
      art.replaceChildren(el("h2", { text: "Artifacts" }), list.length ? WB.table([
        { name: "name", get: (a) => a.name },
        { name: "type", get: (a) => a.type },
        { name: "version", get: (a) => a.version || a.versionIndex },
        { name: "digest", get: (a) => a.digest },
      ], list) : el("p", { class: "muted", text: "No artifacts." }));
    }
    await Promise.all([loadFiles(), loadLogs(), loadAlerts(), loadArtifacts()].map((p) => p.catch(fail)));

    async function refresh() {
      try {
        const r = await api(base + "?" + q);
        if (r) run = r;
        drawHead();
        await loadSeries();
        drawCharts(false);
        drawMedia();
        drawTables();
        await Promise.all([loadSystem(), loadLogs(), loadFiles(), loadAlerts()]);
      } catch (e) { fail(e); }
      poll(refresh, run.state === "running");
    }
    poll(refresh, run.state === "running");
    void fmt;
  };
})();
