#!/usr/bin/env python3
"""test_dashboard.py - the dashboard of wandb-mpi-server in headless Chromium.

- a 4-rank job through launcher/wandb-mpirun: the group page has one chart per
  metric with the 4 rank series and the job series (mean, min-max band), whose
  points and last values equal the read API's history; straggler charts; the
  run page's config and summary tables equal the read API; the launcher prints
  the group page's link; screenshots in build/browser-artifacts/;
- the link the official Python client prints ("View run at ...") and the one
  wandb_run_url returns open their run page;
- wandb-mpi ui serves a data directory and prints the link with the key;
- XSS: a run named <img src=x onerror=alert(1)>, a config key with </script>,
  a group, notes and a metric name with markup render as text, no element
  comes from them;
- without the key every page and data route answers 401 (pages: the key form)
  and shows no data; the login sets an HttpOnly, SameSite=Strict cookie and
  never redirects off the site; pages carry a strict Content-Security-Policy; the request
  log (--record-requests) never holds the key.
Exit 77 when Chromium is not installed.
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser as b  # noqa: E402
from browser import h  # noqa: E402

BIN = os.path.join(b.BIN_DIR, "bin")
ART = os.path.join(b.BIN_DIR, "browser-artifacts")
VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
NP, STEPS = 4, 30


def num_eq(text, want):
    """The page's text of a value equals the API's value (numbers to 5 significant digits)."""
    if isinstance(want, bool) or want is None or isinstance(want, str):
        return text == ("" if want is None else str(want).lower() if isinstance(want, bool)
                        else str(want))
    if isinstance(want, (int, float)):
        try:
            got = float(text)
        except ValueError:
            return False
        return math.isclose(got, want, rel_tol=1e-5, abs_tol=1e-12)
    return text == json.dumps(want, separators=(",", ":"))


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and "_type" not in v:
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def check_tables(ck, what, dom, run):
    for table, src in (("config", run["config"]), ("summary", run["summary"])):
        want = flatten({k: v for k, v in src.items() if k != "_wandb"})
        got = dom.tables.get(table, {})
        ck.equal("%s: %s table has the API's keys" % (what, table), sorted(got), sorted(want))
        bad = [k for k in want if k in got and not num_eq(got[k], want[k])]
        ck.check("%s: %s values equal the API's" % (what, table), not bad,
                 "; ".join("%s: page %r api %r" % (k, got[k], want[k]) for k in bad[:5]))


def mpi_job(ck, srv, tmp):
    """A real 4-rank job; the group and run pages against the read API."""
    if not (os.path.exists(os.path.join(BIN, "mpi_train")) and shutil.which("mpirun")):
        print("note: no mpi_train or mpirun: the 4-rank job case is not run", flush=True)
        return
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", WANDB_BASE_URL=srv.url,
               WANDB_API_KEY=srv.key, WANDB_PROJECT="ui-job", WANDB_FLUSH_INTERVAL_MS="200",
               WANDB_DIR=os.path.join(tmp, "journals"))
    env.pop("WANDB_RUN_GROUP", None)
    p = subprocess.run([os.path.join(BIN, "wandb-mpirun"), "-np", str(NP), "--oversubscribe",
                        os.path.join(BIN, "mpi_train"), "--steps", str(STEPS), "--step-ms", "2"],
                       env=env, capture_output=True, text=True, timeout=240)
    if not ck.check("4-rank job ran", p.returncode == 0, p.stderr[-2000:]):
        return
    runs = srv.get("/api/v1/runs?project=ui-job")["runs"]
    job = [r for r in runs if r.get("job_type") == "mpi-job"]
    ranks = sorted((r for r in runs if r.get("job_type") != "mpi-job"),
                   key=lambda r: r["display_name"])
    ck.check("the job has 4 rank runs and a job run", len(ranks) == NP and len(job) == 1)
    group = ranks[0]["group"]
    gpath = b.page_path("local", "ui-job", "groups", group)
    ck.check("the launcher prints the group page's link at start and at the end",
             p.stderr.count(srv.url + gpath) >= 2, p.stderr[-1500:])
    dom = b.Dom(b.dump(b.login(srv, gpath)))
    hist = {r["display_name"]: srv.get("/api/v1/runs/%s/history?project=ui-job" % r["name"])["rows"]
            for r in ranks + job}
    metrics = sorted(k for k in hist["rank-0"][0] if not k.startswith("_"))
    ck.check("the rank runs logged metrics", metrics, str(hist["rank-0"][0]))
    for m in metrics:
        chart = dom.charts.get(m)
        if not ck.check("group page: a chart for %s" % m, chart is not None, sorted(dom.charts)):
            continue
        labels = [s["label"] for s in chart["series"]]
        ck.check("group page: %s has the 4 rank series and the job mean" % m,
                 labels[:NP + 1] == ["rank-%d" % i for i in range(NP)] + ["job (mean)"], labels)
        for s in chart["series"][:NP + 1]:
            rows = hist["job" if s["label"] == "job (mean)" else s["label"]]
            want = [r[m] for r in rows if m in r]
            ck.check("group page: %s/%s has every point, last value as the API" % (m, s["label"]),
                     s["points"] == len(want) and math.isclose(s["last"], want[-1], rel_tol=1e-9),
                     "%s vs %d points, last %s" % (s, len(want), want[-1]))
    ck.check("group page: loss has the job's min-max band",
             [s["label"] for s in dom.charts.get("loss", {"series": []})["series"]][-2:] ==
             ["job min", "job max"])
    strag = [k for k in dom.charts if k.startswith("mpi/") or k.startswith("mpi_lag/")]
    ck.check("group page: straggler figures have their own charts",
             "mpi/skew_ms" in strag and "mpi_lag/rank-0" in strag, str(strag))
    ck.check("group page: no chart for the job's reductions (loss/min ...)",
             not any(k.endswith("/min") or k.endswith("/std") for k in dom.charts))
    ck.check("screenshot of the group page", b.screenshot(b.login(srv, gpath),
                                                          os.path.join(ART, "group.png")))
    r0 = ranks[0]
    rpath = b.page_path("local", "ui-job", "runs", r0["name"])
    dom = b.Dom(b.dump(b.login(srv, rpath)))
    check_tables(ck, "run page", dom, srv.get("/api/v1/runs/%s?project=ui-job" % r0["name"]))
    ck.check("run page: a chart per metric with every row",
             all(dom.charts.get(m, {"series": [{}]})["series"][0].get("points") == STEPS
                 for m in metrics), str({k: v["series"][0]["points"] for k, v in dom.charts.items()}))
    ck.check("screenshot of the run page",
             b.screenshot(b.login(srv, rpath), os.path.join(ART, "run.png"), size="1300,2200"))


PY_SCRIPT = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import python_scenario as ps
os.environ.update(ps.client_env(sys.argv[2], sys.argv[3], sys.argv[4], fast=True, silent=False))
os.chdir(sys.argv[4])
import wandb
run = wandb.init(project="ui-py", name="py-run", config={"lr": 0.5, "arch": "mlp"})
for i in range(6):
    run.log({"loss": 1.0 / (i + 1), "acc": i / 6})
run.finish()
"""


def open_link(ck, srv, who, url, run_id, project, want_points, want_config):
    ck.check("%s: the link is on this server" % who, url.startswith(srv.url + "/"), url)
    path = url[len(srv.url):]
    ck.equal("%s: the link has W&B's run shape" % who, path,
             b.page_path("local", project, "runs", run_id))
    dom = b.Dom(b.dump(b.login(srv, path)))
    ck.check("%s: the page shows the run" % who, run_id in dom.all_text())
    ck.check("%s: the page charts loss with every row" % who,
             dom.charts.get("loss", {"series": [{}]})["series"][0].get("points") == want_points,
             str(dom.charts.get("loss")))
    for k, v in want_config.items():
        ck.check("%s: config %s shown" % (who, k), num_eq(dom.tables.get("config", {}).get(k), v),
                 str(dom.tables.get("config")))


def python_client(ck, srv, tmp):
    if not os.path.exists(VENV_PY):
        print("note: no tests/conformance/.venv: the official client's link is not checked")
        return
    wd = os.path.join(tmp, "py")
    os.makedirs(wd, exist_ok=True)
    rc, out, err = h.run_client([VENV_PY, "-c", PY_SCRIPT, h.HERE, srv.url, srv.key, wd],
                                h.client_env(wd), wd, 120, os.path.join(tmp, "py-client"))
    m = re.search(r"View run \S+ at:? (\S+)", out + err)
    if not ck.check("python client printed 'View run at <url>'", rc == 0 and m,
                    "rc=%s %s" % (rc, (out + err)[-1500:])):
        return
    url = re.sub(r"\x1b\[[0-9;]*m", "", m.group(1))
    run_id = url.rstrip("/").split("/")[-1]
    open_link(ck, srv, "python client link", url, run_id, "ui-py", 6, {"lr": 0.5, "arch": "mlp"})


def c_client(ck, srv, tmp):
    tool = next((p for p in (os.path.join(BIN, "run_url"), os.path.join(b.BIN_DIR, "tests",
                                                                         "run_url"))
                 if os.path.exists(p)), None)
    if not ck.check("the run_url tool is built", tool is not None):
        return
    env = dict(os.environ, WANDB_BASE_URL=srv.url, WANDB_API_KEY=srv.key, WANDB_PROJECT="ui-c",
               WANDB_DIR=os.path.join(tmp, "c"))
    p = subprocess.run([tool], env=env, capture_output=True, text=True, timeout=60)
    m = re.search(r"^URL (\S+)$", p.stdout, re.M)
    i = re.search(r"^ID (\S+)$", p.stdout, re.M)
    if ck.check("wandb_run_url returned a URL", p.returncode == 0 and m and i, p.stderr[-800:]):
        open_link(ck, srv, "wandb_run_url", m.group(1), i.group(1), "ui-c", 8, {"lr": 0.25})


XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_KEY = "</script><script>alert(2)</script>"


def xss(ck, srv):
    b.upsert(srv, "ui-xss", "xss1", displayName=XSS_NAME, groupName="<b>g</b>'\"&",
             notes="<script>alert(3)</script> **md**", tags=["<i>t</i>"],
             config={XSS_KEY: "<svg onload=alert(4)>", "plain": 1})
    b.stream(srv, "ui-xss", "xss1", [{"_step": i, "<img src=y onerror=alert(5)>": i * 2.0,
                                      "ok": i} for i in range(5)])
    pages = [b.page_path("local", "ui-xss"), b.page_path("local", "ui-xss", "runs", "xss1"),
             b.page_path("local", "ui-xss", "groups", "<b>g</b>'\"&"), "/"]
    for path in pages:
        dom = b.Dom(b.dump(b.login(srv, path)))
        ours = {"html", "head", "meta", "title", "link", "script", "body", "header", "a", "nav",
                "span", "main", "section", "h2", "h3", "p", "div", "table", "thead", "tbody",
                "tr", "th", "td", "select", "option", "label", "input", "details", "summary",
                "canvas", "pre", "dl", "dt", "dd", "strong", "u", "style", "figure"}
        bad = [(t, a) for t, a in dom.tags if any(k.startswith("on") for k in a) or
               t in ("img", "svg", "b", "i") or (t == "script" and not
                                                 (a.get("src") or "").startswith("/static/"))]
        ck.check("xss %s: no element or handler from logged strings" % path, not bad, str(bad[:5]))
        ck.check("xss %s: only the app's own elements" % path,
                 {t for t, _ in dom.tags} <= ours, str({t for t, _ in dom.tags} - ours))
        text = dom.all_text()
        if path.endswith("xss1"):
            for s in (XSS_NAME, XSS_KEY, "<svg onload=alert(4)>", "<script>alert(3)</script>"):
                ck.check("xss run page: %r is shown as text" % s, s in text)
            ck.check("xss run page: the metric with markup in its name is charted as text",
                     "<img src=y onerror=alert(5)>" in dom.charts)
        elif path.endswith("ui-xss"):
            ck.check("xss runs table: the name is shown as text", XSS_NAME in text)


def request(url, headers=None, data=None):
    req = urllib.request.Request(url, headers=headers or {}, data=data)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    try:
        with opener.open(req, timeout=20) as r:
            return r.status, dict(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode("utf-8", "replace")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def no_key(ck, srv):
    secret_words = ["xss1", "ui-xss", "loss", "plain", XSS_NAME]
    routes = ["/", "/local/ui-xss", "/local/ui-xss/runs/xss1", "/local/ui-xss/groups/g",
              "/local/ui-xss/groups/a%2Fb",
              "/api/v1/projects", "/api/v1/runs?project=ui-xss", "/api/v1/runs/xss1",
              "/api/v1/runs/xss1?project=ui-xss", "/api/v1/runs/xss1/history?project=ui-xss",
              "/api/v1/runs/xss1/events?project=ui-xss", "/api/v1/runs/xss1/logs?project=ui-xss",
              "/api/v1/runs/xss1/files?project=ui-xss",
              "/api/v1/runs/xss1/files/output.log?project=ui-xss",
              "/api/v1/runs/xss1/alerts?project=ui-xss",
              "/api/v1/sample?project=ui-xss&runs=xss1", "/api/v1/stats"]
    wrong = [{}, {"Cookie": "wandb_mpi_key=local-wrong"}, {"Authorization": "Bearer nope"},
             {"Cookie": "wandb_mpi_key="}]
    for path in routes:
        for hd in wrong:
            st, hdrs, body = request(srv.url + path, hd)
            leaks = [w for w in secret_words if w in body and w not in path]
            ck.check("no key %s %s: 401, nothing leaks" % (path, hd), st == 401 and not leaks,
                     "%d %s" % (st, leaks))
        st, hdrs, body = request(srv.url + path)
        if not path.startswith("/api/"):
            ck.check("no key %s: the key form" % path, 'action="/login"' in body and
                     "script-src 'self'" in hdrs.get("Content-Security-Policy", ""), body[:200])
        st, _, body = request(srv.url + path, {"Cookie": "wandb_mpi_key=" + srv.key})
        want = (200, 404) if "/files/" in path else (200,)  # no such file: 404, not 401
        ck.check("with the cookie %s: %s" % (path, want), st in want, "%d %s" % (st, body[:200]))
    st, hdrs, _ = request(srv.url + "/login?" + urllib.parse.urlencode(
        {"key": srv.key, "next": "//evil.example/x"}))
    ck.check("login never redirects off the site", st == 303 and hdrs.get("Location") == "/",
             str(hdrs.get("Location")))
    st, hdrs, _ = request(srv.url + "/login", data=urllib.parse.urlencode(
        {"key": srv.key, "next": "/local/ui-xss"}).encode())
    cookie = hdrs.get("Set-Cookie", "")
    ck.check("POST /login sets an HttpOnly SameSite=Strict cookie and returns to the page",
             st == 303 and "HttpOnly" in cookie and "SameSite=Strict" in cookie and
             hdrs.get("Location") == "/local/ui-xss", "%d %s %s" % (st, cookie, hdrs))
    st, _, body = request(srv.url + "/login", data=b"key=wrong&next=/")
    ck.check("a wrong key gets the form again", st == 401 and "Wrong key" in body)
    st, hdrs, body = request(srv.url + "/static/app.js")
    ck.check("the app's code is served without the key, with no data in it",
             st == 200 and "xss1" not in body and hdrs.get("X-Content-Type-Options") == "nosniff")
    st, _, _ = request(srv.url + "/healthz")
    ck.check("/healthz stays open", st == 200)


def key_not_recorded(ck, tmp):
    """With --record-requests, the dashboard's key (login link, form, cookie) is redacted."""
    srv = h.Server(b.SERVER, os.path.join(tmp, "rec"))
    try:
        request(srv.url + "/login?" + urllib.parse.urlencode({"key": srv.key, "next": "/"}))
        request(srv.url + "/login", data=urllib.parse.urlencode({"key": srv.key}).encode())
        request(srv.url + "/", {"Cookie": "wandb_mpi_key=" + srv.key})
        request(srv.url + "/api/v1/projects", {"Cookie": "wandb_mpi_key=" + srv.key})
        with open(os.path.join(srv.dir, "requests.jsonl")) as f:
            text = f.read()
        ck.check("the request log recorded the dashboard's requests", text.count("\n") >= 4)
        ck.check("the request log never holds the key", srv.key not in text and
                 srv.key.split("-", 1)[1] not in text)
    finally:
        srv.stop()


def ui_command(ck, tmp):
    """wandb-mpi ui serves a data directory: its printed link logs in and opens the pages;
    SIGTERM stops it and its server."""
    import signal
    data = os.path.join(tmp, "rec", "server")  # key_not_recorded's directory, server stopped
    p = subprocess.Popen([os.path.join(BIN, "wandb-mpi"), "ui", "--dir", data, "--port", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        line = ""
        for _ in range(5):  # the server's own "listening on" line may come first
            line = p.stdout.readline()
            if "login?key=" in line:
                break
        m = re.search(r"open (http://127\.0\.0\.1:\d+)(/login\?\S+)", line)
        if not ck.check("wandb-mpi ui prints the link with the key", m, line):
            return
        st, hdrs, _ = request(m.group(1) + m.group(2))
        cookie = hdrs.get("Set-Cookie", "").split(";")[0]
        ck.check("wandb-mpi ui: the link sets the cookie", st == 303 and cookie.startswith(
            "wandb_mpi_key=local-"), "%d %s" % (st, hdrs))
        st, _, body = request(m.group(1) + "/api/v1/projects", {"Cookie": cookie})
        ck.check("wandb-mpi ui: the data directory's projects are served", st == 200 and
                 '"projects"' in body, body[:200])
        p.send_signal(signal.SIGTERM)
        rc = p.wait(20)
        ck.check("wandb-mpi ui: SIGTERM stops it (exit 0)", rc == 0, str(rc))
        try:
            request(m.group(1) + "/healthz")
            stopped = False
        except OSError:
            stopped = True
        ck.check("wandb-mpi ui: its server stopped too", stopped)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)
        p.stdout.close()
        p.stderr.close()


def main():
    if not b.chromium():
        h.skip("no chromium (Debian package chromium; .ci/install installs it)")
    ck = h.Checker("browser_dashboard")
    tmp = tempfile.mkdtemp(prefix="wandb-ui-test-")
    srv = b.Server(os.path.join(tmp, "srv"))
    try:
        ck.run(mpi_job, ck, srv, tmp)
        ck.run(python_client, ck, srv, tmp)
        ck.run(c_client, ck, srv, tmp)
        ck.run(xss, ck, srv)
        ck.run(no_key, ck, srv)
        ck.run(key_not_recorded, ck, tmp)
        ck.run(ui_command, ck, tmp)
    finally:
        srv.stop()
    rc = ck.finish()
    h.cleanup(tmp, rc == 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
