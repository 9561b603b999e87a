#!/usr/bin/env python3
"""test_dashboard_live.py - the run page in full, and live refresh, in Chromium over DevTools.

- a rich run (written with the W&B protocol: UpsertBucket with define_metric records,
  file_stream history/events/console/summary, an uploaded image, an alert): sections by "/"
  prefix, the hidden metric not drawn, the define_metric step metric as x axis, smoothing and
  log scale controls, the histogram and the image (decoded by the browser), system metrics
  with one series per node label, console lines, the alert, the file with its download link;
- live: a running run's page and its group's page take new rows without a reload (a marker
  set on the page survives, the chart's points grow), and stop polling once it finished;
- the runs table filters by group, state and tag and sorts by a summary column;
- the group page names the rank that failed first (the job run's mpi/first_failure/*);
- XSS: no dialog opens on the pages of a run named <img src=x onerror=alert(1)>.
Exit 77 when Chromium is not installed.
"""
import json
import os
import struct
import sys
import tempfile
import time
import urllib.request
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser as b  # noqa: E402
from browser import h  # noqa: E402

CHARTS = "JSON.stringify(window.__wandbCharts || {})"


def png(w=8, h_=8):
    raw = b"".join(b"\x00" + b"".join(bytes((x * 30 % 256, y * 30 % 256, 128))
                                       for x in range(w)) for y in range(h_))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h_, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload(srv, project, run, name, data):
    r = b.graphql(srv, "CreateRunFiles", {"entity": "local", "project": project, "run": run,
                                          "files": [name]})
    url = r["data"]["createRunFiles"]["files"][0]["uploadUrl"]
    path = url[url.index("/upload/"):]
    status, body = srv.request(path, auth="none", method="PUT", body=data)
    if status not in (200, 201):
        raise RuntimeError("upload -> %d %s" % (status, body[:200]))


def rich_run(srv):
    m = [{"1": "epoch", "6": [], "7": []},
         {"1": "val/loss", "5": 1, "6": [1, 3], "7": [1]},
         {"1": "secret", "6": [2, 3], "7": []}]
    b.upsert(srv, "ui-rich", "rich", displayName="rich run", groupName="rg", jobType="train",
             notes="notes *with* markdown", tags=["t1", "t2"],
             config={"lr": 0.1, "model": {"layers": 4, "act": "relu"}, "_wandb": {"m": m}})
    hist = {"_type": "histogram", "bins": [0, 1, 2, 3, 4], "values": [1, 5, 3, 2]}
    img = {"_type": "image-file", "path": "media/images/sample_3_ab12.png", "width": 8,
           "height": 8, "format": "png", "sha256": "x"}
    rows = []
    for i in range(40):
        row = {"_step": i, "_runtime": i * 0.5, "_timestamp": 1.7e9 + i,
               "train/loss": 2.0 / (i + 1), "train/acc": i / 40, "secret": 42}
        if i % 10 == 9:
            row.update({"val/loss": 1.0 / (i + 1), "epoch": i // 10})
        if i == 3:
            row.update({"weights": hist, "sample": img})
        rows.append(row)
    b.stream(srv, "ui-rich", "rich", rows)
    events = [json.dumps({"_wandb": True, "_runtime": t, "_timestamp": 1.7e9 + t,
                          "system.cpu/l:node0": 10 + t, "system.cpu/l:node1": 20 + t})
              for t in range(5)]
    b.stream(srv, "ui-rich", "rich", events, file="wandb-events.jsonl")
    b.stream(srv, "ui-rich", "rich", ["2026-01-01T00:00:00.000000 hello console",
                                      "2026-01-01T00:00:01.000000 ERROR <b>bad</b>"],
             file="output.log")
    summary = {"train/loss": rows[-1]["train/loss"], "weights": hist, "sample": img,
               "_step": 39}
    b.stream(srv, "ui-rich", "rich", [], offset=40, summary=summary)
    upload(srv, "ui-rich", "rich", "media/images/sample_3_ab12.png", png())
    b.graphql(srv, "NotifyScriptableRunAlert", {"entityName": "local", "projectName": "ui-rich",
                                               "runName": "rich", "title": "loss spike",
                                               "text": "loss went up", "severity": "WARN"})


def check_rich(ck, br, srv):
    br.navigate(srv.url + "/local/ui-rich/runs/rich")
    ck.check("rich: page ready", br.wait_for("document.body.dataset.ready", 30))
    charts = json.loads(br.eval(CHARTS))
    ck.check("rich: charts per metric", {"train/loss", "train/acc", "val/loss"} <= set(charts),
             str(sorted(charts)))
    ck.check("rich: the hidden metric is not drawn", "secret" not in charts)
    sections = br.eval("[...document.querySelectorAll('details.chart-section > summary')]"
                       ".map(e => e.textContent)")
    ck.check("rich: sections by '/' prefix", {"train", "val"} <= set(sections or []), sections)
    xl = br.eval("[...document.querySelectorAll('.chart')].filter(c => c.dataset.title == "
                 "'val/loss').map(c => c.textContent).join('')")
    ck.check("rich: val/loss is drawn against its step metric epoch", "epoch" in (xl or ""), xl)
    ck.equal("rich: val/loss points (one per epoch)", charts["val/loss"]["series"][0]["points"], 4)
    br.eval("(() => { const s = document.querySelector('select[name=x]'); s.value = '_runtime';"
            " s.dispatchEvent(new Event('change')); })()")
    ok = br.wait_for("[...document.querySelectorAll('.chart')].some(c => c.dataset.title == "
                     "'train/loss' && c.textContent.includes('_runtime'))", 10)
    ck.check("rich: the x axis can be _runtime", ok)
    br.eval("(() => { const s = document.querySelector('input[name=smoothing]'); s.value = '0.9';"
            " s.dispatchEvent(new Event('input')); })()")
    time.sleep(0.3)
    s = json.loads(br.eval(CHARTS))["train/loss"]["series"][0]
    ck.check("rich: smoothing changes the drawn data, not the data", s["drawn"] > s["last"] * 1.5,
             str(s))
    br.eval("(() => { const c = document.querySelector('input[name=log]'); c.checked = true;"
            " c.dispatchEvent(new Event('change')); })()")
    ck.check("rich: log scale redraws the charts",
             br.wait_for("document.querySelectorAll('.chart canvas').length >= 3", 10))
    ck.check("rich: the histogram is drawn as bars",
             "weights (histogram)" in json.loads(br.eval(CHARTS)))
    w = br.wait_for("(() => { const i = document.querySelector('figure.media-image img');"
                    " return i && i.complete && i.naturalWidth; })()", 10)
    ck.equal("rich: the image is shown (decoded from the uploaded file)", w, 8)
    sysc = json.loads(br.eval(CHARTS)).get("system.cpu", {"series": []})
    ck.equal("rich: system metrics, one series per node label",
             [s["label"] for s in sysc["series"]], ["node0", "node1"])
    text = br.eval("document.body.innerText")
    for want in ("hello console", "ERROR <b>bad</b>", "loss spike", "loss went up",
                 "notes *with* markdown", "model.layers", "relu"):
        ck.check("rich: page shows %r" % want, want in text)
    href = br.eval("(() => { const a = [...document.querySelectorAll('#files a')].find(a =>"
                   " a.textContent.includes('sample_3_ab12.png')); return a && a.href; })()")
    ck.check("rich: the uploaded file has a download link", href and "/files/media/images/" in href,
             str(href))
    if href:
        status, data = srv.request(href[len(srv.url):])
        ck.check("rich: the download link serves the file's bytes", status == 200 and
                 data == png())
        req = urllib.request.Request(href, headers={"Cookie": "wandb_mpi_key=" + srv.key})
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=20) as r:
            hd = r.headers
        ck.check("rich: a logged file is saved, never rendered as a page of the site",
                 hd.get("Content-Disposition") == "attachment" and
                 hd.get("X-Content-Type-Options") == "nosniff" and
                 "sandbox" in (hd.get("Content-Security-Policy") or ""), str(dict(hd)))


def check_live(ck, br, srv):
    b.upsert(srv, "ui-live", "live0", displayName="rank-0", groupName="lg", jobType="train")
    off = b.stream(srv, "ui-live", "live0", [{"_step": i, "loss": 1.0 / (i + 1)}
                                             for i in range(5)])
    for path, what in (("/local/ui-live/runs/live0", "run page"),
                       ("/local/ui-live/groups/lg", "group page")):
        br.navigate(srv.url + path)
        br.wait_for("document.body.dataset.ready", 30)
        br.eval("window.__marker = 'kept'")
        pts = lambda: (json.loads(br.eval(CHARTS)).get("loss") or  # noqa: E731
                       {"series": [{"points": 0}]})["series"][0]["points"]
        first = pts()
        ck.check("live %s: live marker shown" % what, br.eval(
            "document.getElementById('live').textContent") == "live")
        off = b.stream(srv, "ui-live", "live0", [{"_step": i, "loss": 1.0 / (i + 1)}
                                                 for i in range(off, off + 5)], offset=off)
        got = br.wait_for("((window.__wandbCharts.loss || {series: [{}]}).series[0].points || 0)"
                          " >= %d && window.__marker" % off, 15)
        ck.check("live %s: new rows appear without a reload (%d -> %d points)" %
                 (what, first, pts()), got == "kept" and first == off - 5)
    b.stream(srv, "ui-live", "live0", [], offset=off, complete=True)
    ok = br.wait_for("document.getElementById('live').textContent == ''", 15)
    ck.check("live: polling stops once the run finished", ok)


def check_first_failure(ck, br, srv):
    """The group page names the rank that failed first (the job run's summary)."""
    for r in range(2):
        b.upsert(srv, "ui-fail", "fr%d" % r, displayName="rank-%d" % r, groupName="fg",
                 jobType="train")
        b.stream(srv, "ui-fail", "fr%d" % r, [{"_step": 0, "loss": 1.0}], complete=True)
    b.upsert(srv, "ui-fail", "fjob", displayName="job", groupName="fg", jobType="mpi-job")
    b.stream(srv, "ui-fail", "fjob", [{"_step": 0, "loss": 1.0}], complete=True,
             summary={"mpi/first_failure/rank": 1, "mpi/first_failure/state": "failed",
                      "mpi/first_failure/exit_code": 3, "mpi/first_failure/last_step": 0,
                      "mpi/ranks_crashed": 0})
    br.navigate(srv.url + "/local/ui-fail/groups/fg")
    br.wait_for("document.body.dataset.ready", 30)
    text = br.eval("document.getElementById('first-failure').textContent")
    ck.check("first failure: the group page names rank 1, failed, exit code 3",
             "rank 1" in (text or "") and "failed" in text and "exit code 3" in text, str(text))
    link = br.eval("(document.querySelector('#first-failure a') || {}).href")
    ck.check("first failure: links to the rank's run", (link or "").endswith("/runs/fr1"),
             str(link))


def check_project_table(ck, br, srv):
    """The runs table: filters by group, state and tag; sorting by a summary column."""
    for name, group, tags, acc, done in (("ta", "g1", ["x"], 0.5, False),
                                         ("tb", "g2", ["y"], 0.9, True),
                                         ("tc", "g1", [], 0.7, True)):
        b.upsert(srv, "ui-tab", name, displayName=name, groupName=group, tags=tags)
        b.stream(srv, "ui-tab", name, [{"_step": 0, "acc": acc}], complete=done,
                 summary={"acc": acc, "_step": 0})
    br.navigate(srv.url + "/local/ui-tab")
    br.wait_for("document.body.dataset.ready", 30)
    names = "[...document.querySelectorAll('#runs tbody tr td:first-child')].map(e => e.textContent)"
    ck.equal("runs table: every run", sorted(br.eval(names)), ["ta", "tb", "tc"])

    def choose(sel, value):
        br.eval("(() => { const s = document.querySelector('select[name=%s]'); s.value = '%s';"
                " s.dispatchEvent(new Event('change')); })()" % (sel, value))
    choose("group", "g1")
    ck.equal("runs table: filter by group", sorted(br.eval(names)), ["ta", "tc"])
    choose("state", "finished")
    ck.equal("runs table: filter by group and state", br.eval(names), ["tc"])
    choose("group", "")
    choose("state", "")
    choose("tag", "y")
    ck.equal("runs table: filter by tag", br.eval(names), ["tb"])
    choose("tag", "")
    click = ("[...document.querySelectorAll('#runs th')].find(e => e.textContent.startsWith('acc'))"
             ".click()")
    br.eval(click)
    ck.equal("runs table: sorted by summary acc", br.eval(names), ["ta", "tc", "tb"])
    br.eval(click)
    ck.equal("runs table: sorted by summary acc, descending", br.eval(names), ["tb", "tc", "ta"])
    ck.check("runs table: the state is coloured", br.eval(
        "getComputedStyle(document.querySelector('#runs .state-running')).backgroundColor") ==
        "rgb(31, 119, 180)")


def check_wandb_tabs(ck, br, srv):
    """W&B's longer URL shapes: run tabs and a group's /workspace open the same pages."""
    br.navigate(srv.url + "/local/ui-rich/runs/rich/logs")
    br.wait_for("document.body.dataset.ready", 30)
    ck.check("/runs/<id>/logs: the run page, console in view",
             "train/loss" in json.loads(br.eval(CHARTS)) and
             br.eval("(() => { const t = document.getElementById('console')"
                     ".getBoundingClientRect().top; return t >= 0 && t < innerHeight; })()"))
    br.navigate(srv.url + "/local/ui-fail/groups/fg/workspace")
    br.wait_for("document.body.dataset.ready", 30)
    ck.check("/groups/<g>/workspace: the group page",
             "rank 1" in (br.eval("document.getElementById('first-failure').textContent") or ""))


def check_xss_dialogs(ck, br, srv):
    b.upsert(srv, "ui-xss2", "x2", displayName="<img src=x onerror=alert(1)>",
             groupName="<img src=y onerror=alert(2)>", config={"</script><script>alert(3)": 1})
    b.stream(srv, "ui-xss2", "x2", [{"_step": 0, "<img src=z onerror=alert(4)>": 1}])
    for path in ("/local/ui-xss2", "/local/ui-xss2/runs/x2",
                 b.page_path("local", "ui-xss2", "groups", "<img src=y onerror=alert(2)>"), "/"):
        br.navigate(srv.url + path)
        br.wait_for("document.body && document.body.dataset.ready", 20)
        time.sleep(0.5)
        br.eval("1")
        ck.check("xss %s: no dialog opened" % path, not br.dialogs, str(br.dialogs))
        ck.check("xss %s: no img element" % path,
                 br.eval("document.querySelectorAll('img').length") == 0)
    # The probe sees a dialog when there is one.
    br.eval("setTimeout(() => alert('probe'), 0)")
    time.sleep(0.5)
    br.eval("1")
    ck.equal("xss: the dialog probe works", br.dialogs, ["probe"])


def main():
    if not b.chromium():
        h.skip("no chromium (Debian package chromium)")
    import cdp
    ck = h.Checker("browser_dashboard_live")
    tmp = tempfile.mkdtemp(prefix="wandb-ui-live-")
    srv = b.Server(os.path.join(tmp, "srv"))
    try:
        rich_run(srv)
        with cdp.Browser() as br:
            br.navigate(b.login(srv, "/"))
            br.wait_for("document.body && document.body.dataset.ready", 30)
            ck.run(check_rich, ck, br, srv)
            ck.run(check_live, ck, br, srv)
            ck.run(check_first_failure, ck, br, srv)
            ck.run(check_project_table, ck, br, srv)
            ck.run(check_wandb_tabs, ck, br, srv)
            ck.run(check_xss_dialogs, ck, br, srv)
    finally:
        srv.stop()
    rc = ck.finish()
    h.cleanup(tmp, rc == 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
