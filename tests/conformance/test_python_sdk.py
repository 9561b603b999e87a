#!/usr/bin/env python3
# test_python_sdk.py - the official Python client (pinned wandb) against wandb-mpi-server
# SPDX-License-Identifier: MIT
#
# usage: test_python_sdk.py [PATH/TO/wandb-mpi-server]   (default: $WANDB_TEST_BIN_DIR/...)
#
# 1. Starts the real server binary on 127.0.0.1, port 0, in a temp --dir.
# 2. Runs python_scenario.py with tests/conformance/.venv/bin/python (three runs: the full
#    scenario, a failing run, a resume="must" of run 1) with the client's banner and warnings
#    on, and fails on any client output line about errors, warnings, failures or retries
#    (stderr and wandb's own debug logs), except the two the scenario provokes on purpose.
# 3. Compares the driver's JSON summary with the server's read API field by field: runs,
#    configs, every history row, summaries with define_metric min/max objects, files and
#    their bytes, the alert, states, preempting, the resumed history offset and step, the
#    console log with its in-place rewrite.
# 4. A fourth run is killed (SIGKILL, client and wandb-core) on a second server with a 2 s
#    heartbeat timeout: it must become "crashed".
# Exit: 0 passed, 1 failed, 77 skipped (no .venv: run tests/conformance/install.sh).
import glob
import hashlib
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PROJECT = "conf"
VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")

# Client lines the scenario provokes on purpose (nothing to do with the server):
ALLOW_STDERR = [
    # log(..., step=1) at step 8: the scenario checks that lower steps are dropped
    r"^wandb: WARNING Tried to log to step 1 that is less than the current step 8\.",
    # run.save() of a file outside the run dir symlinks it (one line per save() call)
    r"^wandb: WARNING Symlinked 1 file into the W&B run directory; call wandb\.save again",
]
ALLOW_DEBUG = [r"handler: ignoring partial history record"]  # the same dropped step


def pinned_version():
    """The wandb version pinned in requirements.txt."""
    with open(os.path.join(h.HERE, "requirements.txt")) as f:
        for line in f:
            m = re.match(r"\s*wandb==(\S+)", line)
            if m:
                return m.group(1)
    return None


# wandb-core logs retries at INFO ("api: retrying HTTP error", status 500): such messages count.
DEBUG_SUSPICIOUS = re.compile(r"(?i)retry|retrying|error|fail|giving up|timed out|refused")


def debug_log_problems(workdir):
    """Records in wandb's debug logs (wandb-core JSON lines, Python logging lines) at WARN or
    ERROR level, or at any level when they mention a retry, error or failure or carry an HTTP
    status >= 400."""
    bad = []
    for path in glob.glob(os.path.join(workdir, "**", "*.log"), recursive=True):
        if os.path.basename(path) == "output.log":
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("{"):
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        rec = {"level": "ERROR", "msg": "unparsable log line"}
                    status = str(rec.get("status", ""))
                    hit = (rec.get("level") in ("WARN", "ERROR", "FATAL") or
                           DEBUG_SUSPICIOUS.search(str(rec.get("msg", ""))) is not None or
                           re.match(r"^[45]\d\d", status) is not None)
                else:
                    m = re.match(r"^\S+ \S+ (\w+)\s+\S+ \[[^]]*\] ?(.*)$", line)
                    hit = m is not None and (m.group(1) in ("WARNING", "ERROR", "CRITICAL") or
                                             DEBUG_SUSPICIOUS.search(m.group(2)) is not None)
                if hit and not any(re.search(a, line) for a in ALLOW_DEBUG):
                    bad.append("%s: %s" % (os.path.relpath(path, workdir), line[:300]))
    return bad


def md5(data):
    return hashlib.md5(data).hexdigest()


def check_run(ck, srv, want, got, recs):
    """Compares one expected run (driver summary) with the server's run object and routes."""
    rid = want["id"]
    tag = "%s (%s)" % (want["key"], rid)
    q = "?project=%s&entity=%s" % (PROJECT, want["entity"])
    ck.equal(tag + ": entity", got["entity"], want["entity"])
    ck.equal(tag + ": project", got["project"], want["project"])
    for field, key in (("display_name", "display_name"), ("group", "group"),
                       ("job_type", "job_type"), ("tags", "tags"), ("notes", "notes"),
                       ("state", "state"), ("exit_code", "exit_code")):
        ck.equal("%s: %s" % (tag, field), got[field], want[key])

    # Config: exactly the user's keys (after config.update), plus the client's _wandb.
    cfg = dict(got["config"])
    wb = cfg.pop("_wandb", None)
    ck.equal(tag + ": config (user keys)", cfg, want["config"])
    ck.check(tag + ": config._wandb kept as sent", isinstance(wb, dict) and
             wb.get("cli_version") == pinned_version(), h.show(wb))

    # History: every row, in line order, with its step; NaN/Infinity preserved.
    h.check_history(ck, srv, tag, "/api/v1/runs/%s/history%s" % (rid, q), got, want)

    # Summary: the user's keys exactly (define_metric min/max objects, overrides), last step.
    summ = got["summary"]
    ck.equal(tag + ": summary (user keys)", h.user_keys(summ), want["summary"])
    ck.equal(tag + ": summary._step", summ.get("_step"), want["history"][-1]["_step"])
    ck.check(tag + ": summary._wandb.runtime present",
             isinstance(summ.get("_wandb"), dict) and "runtime" in summ["_wandb"], h.show(summ))

    # Files: user files of every policy with their final bytes, plus the automatic ones.
    files = {f["name"]: f for f in srv.get("/api/v1/runs/%s/files%s" % (rid, q))["files"]}
    auto = ["config.yaml", "requirements.txt", "wandb-summary.json"]
    for name in [f["name"] for f in want["files"]] + auto:
        ck.check("%s: file %s listed and uploaded" % (tag, name),
                 files.get(name, {}).get("uploaded") is True, h.show(sorted(files)))
    for f in want["files"]:
        meta = files.get(f["name"], {})
        ck.equal("%s: file %s size" % (tag, f["name"]), meta.get("size"), f["size"])
        status, data = srv.request("/api/v1/runs/%s/files/%s%s" % (
            rid, urllib.parse.quote(f["name"]), q))
        ck.equal("%s: file %s content (md5)" % (tag, f["name"]),
                 md5(data) if status == 200 else "HTTP %d" % status, f["md5"])
    status, data = srv.request("/api/v1/runs/%s/files/wandb-summary.json%s" % (rid, q))
    uploaded_summary = json.loads(data.decode()) if status == 200 else {}
    ck.equal(tag + ": uploaded wandb-summary.json (user keys)", h.user_keys(uploaded_summary),
             want["summary"])
    status, data = srv.request("/api/v1/runs/%s/files/config.yaml%s" % (rid, q))
    text = data.decode("utf-8", "replace")
    ck.check(tag + ": uploaded config.yaml holds the user keys", status == 200 and all(
        re.search(r"(?m)^%s:" % re.escape(k), text) for k in want["config"]), text[:200])
    user_files = set(files) - set(auto) - {"output.log"}
    ck.equal(tag + ": no other files", sorted(user_files), sorted(f["name"] for f in want["files"]))

    # Alerts.
    alerts = srv.get("/api/v1/runs/%s/alerts%s" % (rid, q))["alerts"]
    ck.equal(tag + ": alerts", [{k: a[k] for k in ("title", "text", "severity", "wait_ms")}
                                for a in alerts],
             [{"title": a["title"], "text": a["text"], "severity": a["level"],
               "wait_ms": a["wait_duration_ms"]} for a in want["alerts"]])

    # Console log (output.log lines): the rewritten line holds its final text only.
    lines = srv.get("/api/v1/runs/%s/logs%s" % (rid, q))["lines"]
    ck.equal(tag + ": log_count", got["log_count"], len(lines))
    for text in want.get("console_contains", []):
        ck.check("%s: console line '%s'" % (tag, text),
                 any(re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+ %s$" % re.escape(text), ln)
                     for ln in lines), h.show(lines))
    if want.get("console_contains"):
        status, data = srv.request("/api/v1/runs/%s/files/output.log%s" % (rid, q))
        text = data.decode("utf-8", "replace")
        ck.check(tag + ": uploaded output.log holds the console lines", status == 200 and all(
            t in text for t in want["console_contains"]), text[:300])
    for text in want.get("console_absent", []):
        ck.check("%s: console line '%s' was rewritten in place" % (tag, text),
                 not any(text in ln for ln in lines), h.show(lines))
    ev = srv.get("/api/v1/runs/%s/events%s" % (rid, q))
    ck.equal(tag + ": events (system metrics off in the client)", ev["rows"], [])


def file_stream_writes(recs, run_id, fname):
    """[(seq, offset, content)] of every file_stream write of fname for run_id."""
    out = []
    for seq, r in enumerate(recs):
        if r["method"] == "POST" and r["path"].endswith("/%s/file_stream" % run_id):
            f = ((r.get("body") or {}).get("files") or {}).get(fname)
            if f:
                out.append((seq, f.get("offset", 0), f["content"]))
    return out


def check_wire(ck, recs, run1, resumed_step):
    """What the recorded requests show about the parts the read API cannot: the resumed
    history went to the right offset, and the console line was really rewritten in place."""
    rid = run1["id"]
    resume_seq = [i for i, r in enumerate(recs) if r.get("operationName") == "RunResumeStatus"]
    ck.equal("RunResumeStatus sent once (run 3)", len(resume_seq), 1)
    hist = file_stream_writes(recs, rid, "wandb-history.jsonl")
    after = [(off, c) for seq, off, c in hist if resume_seq and seq > resume_seq[0]]
    ck.check("resumed history written at offset %d (the stored line count)" % resumed_step,
             len(after) >= 1 and after[0][0] == resumed_step, h.show(after))
    logs = file_stream_writes(recs, rid, "output.log")
    by_off = {}
    for _, off, content in logs:
        for i, line in enumerate(content):
            by_off.setdefault(off + i, []).append(line)
    rewritten = [v for v in by_off.values()
                 if len(v) > 1 and "progress 1/3" in v[0] and "progress 3/3" in v[-1]]
    ck.check("output.log: the same offset was sent again with the rewritten line",
             len(rewritten) == 1, h.show(by_off))
    pre = [r for r in recs if r["method"] == "POST" and r["path"].endswith("/%s/file_stream" %
                                                                          rid)]
    ck.check("preempting: true was sent", any((r.get("body") or {}).get("preempting") is True
                                              for r in pre))
    ups = [u for r in pre for u in (r.get("body") or {}).get("uploaded", [])]
    ck.check("'uploaded' lists were sent for the user files",
             all(n in ups for n in ("now.txt", "live.txt", "sub/end.txt")), h.show(ups))


CRASH_SCRIPT = r"""
import os, signal, sys, time
sys.path.insert(0, sys.argv[1])
import python_scenario as ps
os.environ.update(ps.client_env(sys.argv[2], sys.argv[3], sys.argv[4], fast=True))
os.chdir(sys.argv[4])
import wandb
run = wandb.init(project="crash", name="crash-1")
run.log({"x": 1})
print("RUN_ID " + run.id, flush=True)
time.sleep(3)                 # the row goes out (1 s filestream interval)
os.killpg(0, signal.SIGKILL)  # client and wandb-core die without a word
"""


def crash_test(ck, binary, tmp, env):
    """A run whose client dies is marked crashed after the heartbeat timeout."""
    srv = h.Server(binary, os.path.join(tmp, "crash"), heartbeat_timeout_s=2)
    try:
        wd = os.path.join(tmp, "crash", "client")
        os.makedirs(wd, exist_ok=True)
        rc, out, err = h.run_client([VENV_PY, "-c", CRASH_SCRIPT, h.HERE, srv.url, srv.key, wd],
                                    env, wd, 90, os.path.join(tmp, "crash", "client"))
        m = re.search(r"RUN_ID (\w+)", out)
        ck.check("crash run: client started and was killed", m is not None and rc == -9,
                 "rc=%s stderr=%s" % (rc, err[-800:]))
        if not m:
            return
        state, deadline = None, time.monotonic() + 20
        while time.monotonic() < deadline:
            runs = srv.get("/api/v1/runs?project=crash")["runs"]
            state = runs[0]["state"] if runs else None
            if state == "crashed":
                break
            time.sleep(0.25)
        ck.equal("crash run: state after the 2 s heartbeat timeout", state, "crashed")
        rows = srv.get("/api/v1/runs/%s/history?project=crash" % m.group(1))["rows"]
        ck.equal("crash run: the row logged before the crash", [h.user_keys(r) for r in rows],
                 [{"x": 1}])
    finally:
        srv.stop()


def main():
    ck = h.Checker("test_python_sdk")
    ck.run(scenario, ck)
    return ck.finish()


def scenario(ck):
    binary = h.server_binary()
    if not os.access(VENV_PY, os.X_OK):
        h.skip("the pinned Python client is not installed (%s missing); run "
               "tests/conformance/install.sh" % VENV_PY)
    tmp = h.make_tmp("wbconf-py-")
    env = h.client_env(tmp)
    srv = h.Server(binary, tmp)
    ok = False
    try:
        ck.check("server key has the generated local-<40> form",
                 re.match(r"^local-[a-z0-9]{40}$", srv.key) is not None, srv.key)
        workdir = os.path.join(tmp, "client")
        out_json = os.path.join(tmp, "python_sdk.json")
        t0 = time.monotonic()
        rc, out, err = h.run_client(
            [VENV_PY, os.path.join(h.HERE, "python_scenario.py"), "--base-url", srv.url,
             "--api-key", srv.key, "--project", PROJECT, "--fast", "--no-silent",
             "--save-wait", "7", "--workdir", workdir, "--out", out_json],
            env, tmp, 240, os.path.join(tmp, "python_client"))
        print("python scenario: %.1f s" % (time.monotonic() - t0), flush=True)
        if not ck.equal("python_scenario.py exit status", rc, 0):
            print("---- client stderr (tail)\n" + err[-4000:], flush=True)
            print("---- server stderr (tail)\n" + srv.stderr()[-4000:], flush=True)
            return
        with open(out_json) as f:
            summary = json.load(f)
        ck.equal("wandb version is the pinned one", summary["wandb_version"], pinned_version())

        bad = h.scan_lines(err, ALLOW_STDERR)
        ck.check("client stderr has no error/warning/failure/retry line", not bad,
                 "\n    " + "\n    ".join(bad))
        ck.check("client stderr shows the runs synced", err.count("wandb: Synced ") == 3,
                 err[-1500:])
        bad = debug_log_problems(workdir)
        ck.check("wandb debug logs have no WARN/ERROR record", not bad,
                 "\n    " + "\n    ".join(bad[:20]))

        recs = h.check_server_side(ck, srv, ["Viewer", "ServerFeaturesQuery", "UpsertBucket",
                                             "RunResumeStatus", "CreateRunFiles",
                                             "NotifyScriptableRunAlert"])
        run1, run2 = summary["final"]["run1"], summary["final"]["run2"]
        # The three read-API credential forms.
        runs = srv.get("/api/v1/runs?project=" + PROJECT, auth="bearer")["runs"]
        runs_q = srv.get("/api/v1/runs?project=%s&api_key=%s" % (PROJECT, srv.key), auth="none")
        ck.equal("runs (Bearer) == runs (?api_key=)", runs_q["runs"], runs)
        status, _ = srv.request("/api/v1/runs?project=" + PROJECT, auth="none")
        ck.equal("read API without a key", status, 401)
        ck.equal("runs in the project, oldest first", [r["id"] for r in runs],
                 [run1["id"], run2["id"]])
        by_id = {r["id"]: r for r in runs}
        if run1["id"] in by_id:
            check_run(ck, srv, run1, by_id[run1["id"]], recs)
            ck.equal("run1: preempting flag", by_id[run1["id"]]["preempting"], True)
            ck.equal("run1: resumed history continues at step",
                     by_id[run1["id"]]["history_count"] - 1, run1["first_step_after_resume"])
        if run2["id"] in by_id:
            check_run(ck, srv, run2, by_id[run2["id"]], recs)
            ck.equal("run2: preempting flag", by_id[run2["id"]]["preempting"], False)
        check_wire(ck, recs, run1, run1["first_step_after_resume"])
        # A single-run lookup without project/entity finds the same run.
        one = srv.get("/api/v1/runs/" + run2["id"])
        ck.equal("GET /api/v1/runs/<id> == list entry", one, by_id.get(run2["id"]))
        crash_test(ck, binary, tmp, env)
        ok = ck.failed == 0
    finally:
        rc = srv.stop()
        ck.equal("server exits 0 on SIGTERM", rc, 0)
        h.cleanup(tmp, ok and ck.failed == 0)


if __name__ == "__main__":
    sys.exit(main())
