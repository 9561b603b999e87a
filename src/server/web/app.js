// app.js - wandb-mpi dashboard: the router and the four pages
// SPDX-License-Identifier: MIT
//
// URL shapes as W&B's: / (projects), /<entity>/<project> (runs table),
// /<entity>/<project>/groups/<group> (a job: every rank overlaid, the job
// run's mean and min-max band, straggler figures, first failure),
// /<entity>/<project>/runs/<id> (one run). Data comes from the read API
// (/api/v1/...) with the cookie; charts from /api/v1/sample (downsampled on
// the server). Pages of running runs poll every few seconds.
"use strict";
(function () {
  const { el, api, qp, seg, fmt } = WB;
  const POLL_MS = 3000;
  const main = document.getElementById("main");
  const crumbs = document.getElementById("crumbs");
  const live = document.getElementById("live");
  let timer = null;

  const parts = location.pathname.split("/").filter((s) => s).map(decodeURIComponent);
  const href = (...p) => "/" + p.map(seg).join("/");

  function setCrumbs(list) {
    crumbs.textContent = "";
    list.forEach(([label, link]) => {
      crumbs.appendChild(el("span", { class: "sep", text: "/" }));
      crumbs.appendChild(link ? el("a", { href: link, text: label }) : el("span", { text: label }));
    });
  }
  function section(title, id) {
    const s = el("section", { id }, el("h2", { text: title }));
    main.appendChild(s);
    return s;
  }
  function stateBadge(state) {
    return el("span", { class: "state state-" + String(state).replace(/[^a-z]/g, ""), text: state });
  }
  function runtime(r) {
    if (r.summary && typeof r.summary._runtime === "number") return r.summary._runtime;
    const w = r.summary && r.summary._wandb;
    if (w && typeof w.runtime === "number") return w.runtime;
    return r.heartbeat_at - r.created_at;
  }
  function poll(fn, running) {
    clearTimeout(timer);
    live.textContent = running ? "live" : "";
    live.className = running ? "on" : "";
    if (running) timer = setTimeout(fn, POLL_MS);
  }
  function fail(e) {
    main.appendChild(el("p", { class: "error", text: String(e && e.message ? e.message : e) }));
  }

  // ---- / : projects
  async function projectsPage() {
    setCrumbs([]);
    const d = await api("/api/v1/projects");
    main.textContent = "";
    const s = section("Projects", "projects");
    const rows = (d && d.projects) || [];
    if (!rows.length) s.appendChild(el("p", { class: "muted", text: "No runs yet." }));
    else s.appendChild(WB.table([
      { name: "project", get: (p) => p.project, render: (p) => el("a", { href: href(p.entity, p.project), text: p.project }) },
      { name: "entity", get: (p) => p.entity },
      { name: "runs", get: (p) => p.runs },
      { name: "running", get: (p) => p.running },
      { name: "last created", get: (p) => p.last_created, render: (p) => WB.date(p.last_created) },
    ], rows, { sort: 4, dir: -1 }));
  }

  // ---- /<e>/<p> : runs table with filters and summary columns
  async function projectPage(entity, project) {
    setCrumbs([[entity, null], [project, href(entity, project)]]);
    const state = { group: "", state: "", tag: "", cols: null };
    const filters = el("div", { class: "filters" });
    const tableBox = el("div");
    main.textContent = "";
    const s = section("Runs", "runs");
    s.append(filters, tableBox);
    async function load() {
      const d = await api("/api/v1/runs?" + qp({ project, entity }));
      const runs = (d && d.runs) || [];
      const summaryKeys = [...new Set(runs.flatMap((r) => Object.keys(WB.flatten(r.summary || {}))
        .filter((k) => !k.startsWith("_") && typeof WB.flatten(r.summary)[k] === "number")))].sort();
      // (keys of every run: the table can show any of them)
      if (!state.cols) // by default the plain metrics, not the job run's reductions or mpi/*
        state.cols = summaryKeys.filter((k) => !/\/(min|max|std|min_rank|max_rank)$/.test(k) &&
          !k.startsWith("mpi")).slice(0, 4);
      const opts = (vals) => [el("option", { value: "", text: "all" }),
        ...[...new Set(vals)].filter((v) => v).sort().map((v) => el("option", { value: v, text: v }))];
      const sel = (name, vals) => {
        const x = el("select", { name, onchange: () => { state[name] = x.value; draw(runs); } }, opts(vals));
        x.value = state[name];
        return el("label", null, name + " ", x);
      };
      const colSel = el("select", { multiple: true, size: 4, name: "columns",
        onchange: () => { state.cols = [...colSel.selectedOptions].map((o) => o.value); draw(runs); } },
      summaryKeys.map((k) => el("option", { value: k, text: k, selected: state.cols.includes(k) })));
      filters.textContent = "";
      filters.append(sel("group", runs.map((r) => r.group)), sel("state", runs.map((r) => r.state)),
        sel("tag", runs.flatMap((r) => r.tags || [])), el("label", null, "summary columns ", colSel));
      draw(runs);
      poll(load, runs.some((r) => r.state === "running"));
    }
    function draw(runs) {
      const shown = runs.filter((r) => (!state.group || r.group === state.group) &&
        (!state.state || r.state === state.state) && (!state.tag || (r.tags || []).includes(state.tag)));
      const cols = [
        { name: "name", get: (r) => r.display_name || r.name, render: (r) => el("a", { href: href(entity, project, "runs", r.name), text: r.display_name || r.name }) },
        { name: "group", get: (r) => r.group, render: (r) => r.group ? el("a", { href: href(entity, project, "groups", r.group), text: r.group }) : "" },
        { name: "job_type", get: (r) => r.job_type },
        { name: "state", get: (r) => r.state, render: (r) => stateBadge(r.state) },
        { name: "rows", get: (r) => r.history_count },
        { name: "created", get: (r) => r.created_at, render: (r) => WB.date(r.created_at) },
        { name: "runtime", get: (r) => runtime(r), render: (r) => WB.dur(runtime(r)) },
        ...state.cols.map((k) => ({ name: k, get: (r) => WB.flatten(r.summary || {})[k] })),
      ];
      tableBox.textContent = "";
      tableBox.appendChild(el("p", { class: "muted", text: shown.length + " of " + runs.length + " runs" }));
      tableBox.appendChild(WB.table(cols, shown, { sort: 5, dir: -1 }));
    }
    await load();
  }

  // Charts of a set of series per metric, drawn into box (kept across refreshes).
  function chartGrid(box) {
    const cards = new Map();
    return function draw(title, series, opts) {
      const card = WB.chart(cards.get(title), title, series, opts);
      if (!cards.has(title)) { cards.set(title, card); box.appendChild(card); }
    };
  }
  const isReduction = (k) => /\/(min|max|std|min_rank|max_rank|mean|sum|count)$/.test(k);
  const isStraggler = (k) => k.startsWith("mpi/") || k.startsWith("mpi_lag/");

  // ---- /<e>/<p>/groups/<g> : the job
  async function groupPage(entity, project, group) {
    setCrumbs([[entity, null], [project, href(entity, project)], ["group " + group, null]]);
    main.textContent = "";
    const info = section("Job " + group, "job");
    const failBox = el("div", { id: "first-failure" });
    const runsBox = el("div");
    const runsSummary = el("summary", { text: "Runs" });
    const runsDetails = el("details", { class: "chart-section" }, runsSummary, runsBox);
    info.append(failBox, runsDetails);
    let firstLoad = true;
    const metrics = section("Metrics (every rank, job mean, min-max band)", "metrics");
    const mbox = el("div", { class: "charts" });
    metrics.appendChild(mbox);
    const strag = section("Stragglers", "stragglers");
    const sbox = el("div", { class: "charts" });
    strag.appendChild(sbox);
    const drawM = chartGrid(mbox), drawS = chartGrid(sbox);
    async function load() {
      const d = await api("/api/v1/runs?" + qp({ project, entity }));
      const runs = ((d && d.runs) || []).filter((r) => r.group === group);
      const job = runs.find((r) => r.job_type === "mpi-job");
      const ranks = runs.filter((r) => r !== job).sort((a, b) =>
        (a.display_name || a.name).localeCompare(b.display_name || b.name, undefined, { numeric: true }));
      runsSummary.textContent = "Runs (" + runs.length + ")";
      if (firstLoad) runsDetails.open = runs.length <= 16; // a big job: charts first
      firstLoad = false;
      runsBox.textContent = "";
      runsBox.appendChild(WB.table([
        { name: "run", get: (r) => r.display_name || r.name, render: (r) => el("a", { href: href(entity, project, "runs", r.name), text: r.display_name || r.name }) },
        { name: "job_type", get: (r) => r.job_type },
        { name: "state", get: (r) => r.state, render: (r) => stateBadge(r.state) },
        { name: "rows", get: (r) => r.history_count },
        { name: "runtime", get: (r) => runtime(r), render: (r) => WB.dur(runtime(r)) },
      ], job ? [job, ...ranks] : ranks));
      failBox.textContent = "";
      const ff = job ? WB.flatten(job.summary || {}) : {};
      const ffv = (k) => ff["mpi/first_failure/" + k];
      if (ffv("rank") !== undefined && ffv("rank") !== null) {
        failBox.className = "banner fail";
        failBox.dataset.rank = String(ffv("rank"));
        const rankRun = ranks.find((r) => (r.display_name || "") === "rank-" + ffv("rank"));
        failBox.append(el("strong", { text: "First failure: " }),
          rankRun ? el("a", { href: href(entity, project, "runs", rankRun.name), text: "rank " + ffv("rank") })
            : el("span", { text: "rank " + ffv("rank") }),
          el("span", { text: [" " + (ffv("state") || "failed"),
            ffv("exit_code") !== undefined && ffv("exit_code") !== null ? "exit code " + ffv("exit_code") : null,
            ffv("last_step") !== undefined ? "last step " + ffv("last_step") : null,
            ffv("time") ? "at " + WB.date(ffv("time")) : null].filter((x) => x).join(", ") }));
      } else failBox.className = "";
      const names = runs.map((r) => r.name);
      // Batches of 32 runs in parallel: the server's workers read them at once.
      const batches = [];
      for (let i = 0; i < names.length; i += 32) batches.push(names.slice(i, i + 32));
      const parts = await Promise.all(batches.map((b) =>
        api("/api/v1/sample?" + qp({ project, entity, runs: b.join(","), samples: 600 }))));
      const byName = new Map(parts.flatMap((p) => (p ? p.runs : [])).map((r) => [r.name, r]));
      const jobS = job && byName.get(job.name) ? byName.get(job.name).series : {};
      const keys = new Set();
      for (const r of ranks) for (const k of Object.keys((byName.get(r.name) || {}).series || {})) if (!isStraggler(k)) keys.add(k);
      for (const k of Object.keys(jobS)) if (!isStraggler(k) && !isReduction(k)) keys.add(k);
      for (const k of [...keys].sort()) {
        const series = ranks.map((r, i) => {
          const s = ((byName.get(r.name) || {}).series || {})[k] || { x: [], y: [] };
          return { label: r.display_name || r.name, x: s.x, y: s.y, color: WB.color(i), width: 1 };
        });
        if (jobS[k]) series.push({ label: "job (mean)", x: jobS[k].x, y: jobS[k].y, color: "#000", width: 1.5, dash: [6, 4] });
        if (jobS[k + "/min"] && jobS[k + "/max"]) {
          series.push({ label: "job min", x: jobS[k + "/min"].x, y: jobS[k + "/min"].y, band: "lo" });
          series.push({ label: "job max", x: jobS[k + "/max"].x, y: jobS[k + "/max"].y, band: "hi" });
        }
        drawM(k, series, { xlabel: "_step" });
      }
      const sk = Object.keys(jobS).filter(isStraggler).sort();
      if (!sk.length && !sbox.childNodes.length) sbox.appendChild(el("p", { class: "muted", text: "No straggler figures (no job run, or it logged none)." }));
      for (const k of sk) drawS(k, [{ label: "job", x: jobS[k].x, y: jobS[k].y, color: "#d62728" }], { xlabel: "_step" });
      poll(load, runs.some((r) => r.state === "running"));
    }
    await load();
  }

  if (!window.WBRun) window.WBRun = {};
  Object.assign(window.WBRun, { section, stateBadge, runtime, poll, chartGrid, setCrumbs, href, fail });

  async function route() {
    try {
      if (parts.length === 0) await projectsPage();
      else if (parts.length === 2) await projectPage(parts[0], parts[1]);
      else if (parts.length >= 4 && parts[2] === "groups") // W&B adds /workspace; "/" is %2F
        await groupPage(parts[0], parts[1], (parts.length > 4 && parts[parts.length - 1] === "workspace"
          ? parts.slice(3, -1) : parts.slice(3)).join("/"));
      else if ((parts.length === 4 || parts.length === 5) && parts[2] === "runs") {
        // W&B's run tabs (/overview, /logs, /files, /system, ...) open the run page there.
        await window.WBRun.page(parts[0], parts[1], parts[3]);
        const tab = { logs: "console", files: "files", system: "system", overview: "run",
          artifacts: "artifacts", workspace: "charts" }[parts[4]];
        const target = tab && document.getElementById(tab);
        if (target) target.scrollIntoView();
      }
      else { main.textContent = ""; fail("No such page."); }
    } catch (e) {
      fail(e);
    }
    document.body.dataset.readyMs = String(Math.round(performance.now()));
    document.body.dataset.ready = "1";
  }
  route();
})();
