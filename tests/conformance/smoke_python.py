#!/usr/bin/env python3
# smoke_python.py - the official Python `wandb` client logs into wandb-mpi-server
# SPDX-License-Identifier: MIT
#
# usage: smoke_python.py PATH/TO/wandb-mpi-server
# Needs `wandb` importable (e.g. a venv: python3 -m venv v && v/bin/pip install wandb).
# Starts the server on an ephemeral port in a temp dir, runs init(project, group,
# config) + a few log() calls (with NaN/Infinity) + summary + alert + finish in a
# child process, then checks what the read API returns. Exit 0 on success;
# prints "N passed, 0 failed" like the C tests.
import base64
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import urllib.request

CLIENT = textwrap.dedent(
    """
    import math, wandb
    run = wandb.init(project="smoke", group="grp", job_type="train", name="display-1",
                     config={"lr": 0.01, "model": {"depth": 4}}, tags=["t1"],
                     settings=wandb.Settings(x_disable_stats=True, x_disable_meta=True,
                                             console="off"))
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "acc": i * 0.1})
    run.log({"weird": float("nan"), "big": float("inf")})
    run.config.update({"extra": "yes"})
    run.summary["best"] = 0.2
    run.alert(title="smoke alert", text="hello")
    print("RUN_ID=" + run.id, flush=True)
    run.finish()
    """
)


def fail(msg):
    print("smoke_python: " + msg, file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)


def get(url, key):
    req = urllib.request.Request(url)
    req.add_header("Authorization", "Basic " + base64.b64encode(("api:" + key).encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        # The history may hold bare NaN/Infinity: Python's json accepts them.
        return json.loads(r.read().decode())


def main():
    if len(sys.argv) != 2:
        fail("usage: smoke_python.py PATH/TO/wandb-mpi-server")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        srv = subprocess.Popen([sys.argv[1], "--dir", data, "--port", "0", "--record-requests"],
                               stdout=subprocess.PIPE, stderr=open(os.path.join(tmp, "srv.log"), "w"),
                               text=True)
        try:
            line = srv.stdout.readline().strip()
            if "listening on " not in line:
                fail("server did not start: " + line)
            base = line.split("listening on ")[1]
            key = open(os.path.join(data, "api_key")).read().strip()
            env = dict(os.environ, WANDB_BASE_URL=base, WANDB_API_KEY=key, WANDB_MODE="online",
                       WANDB_SILENT="true", WANDB_DISABLE_CODE="true", WANDB_DISABLE_GIT="true",
                       WANDB_ERROR_REPORTING="false", WANDB_DIR=tmp,
                       WANDB_CONFIG_DIR=os.path.join(tmp, "cfg"), WANDB_CACHE_DIR=os.path.join(tmp, "cache"))
            p = subprocess.run([sys.executable, "-c", CLIENT], env=env, capture_output=True,
                               text=True, timeout=240)
            if p.returncode != 0:
                fail("client failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr))
            run_id = [l for l in p.stdout.splitlines() if l.startswith("RUN_ID=")][0][7:]
            runs = get(base + "/api/v1/runs?project=smoke", key)["runs"]
            run = [r for r in runs if r["id"] == run_id]
            if not run:
                fail("run %s not listed: %s" % (run_id, runs))
            run = run[0]
            checks = [
                ("state finished", run["state"] == "finished"),
                ("group", run["group"] == "grp"),
                ("job_type", run["job_type"] == "train"),
                ("display name", run["display_name"] == "display-1"),
                ("config lr", run["config"].get("lr") == 0.01),
                ("config nested", run["config"].get("model") == {"depth": 4}),
                ("config update", run["config"].get("extra") == "yes"),
                ("tags", run["tags"] == ["t1"]),
                ("summary best", run["summary"].get("best") == 0.2),
                ("history count", run["history_count"] == 6),
            ]
            rows = get(base + "/api/v1/runs/%s/history?project=smoke" % run_id, key)["rows"]
            checks.append(("history rows", [r.get("_step") for r in rows] == list(range(6))))
            checks.append(("loss logged", abs(rows[1]["loss"] - 0.5) < 1e-12))
            checks.append(("NaN kept", rows[5]["weird"] != rows[5]["weird"]))
            checks.append(("Infinity kept", rows[5]["big"] == float("inf")))
            alerts = get(base + "/api/v1/runs/%s/alerts?project=smoke" % run_id, key)["alerts"]
            checks.append(("alert", [a["title"] for a in alerts] == ["smoke alert"]))
            stats = get(base + "/api/v1/stats", key)
            checks.append(("upsert counted", stats["operations"].get("UpsertBucket", 0) >= 1))
            bad = [name for name, ok in checks if not ok]
            if bad:
                fail("failed checks: %s\nrun: %s\nrows: %s\nstats: %s"
                     % (bad, json.dumps(run), rows, stats))
            print("python client: run %s ok; stats %s" % (run_id, json.dumps(stats)), file=sys.stderr)
            print("%d passed, 0 failed" % len(checks))
        finally:
            srv.terminate()
            try:
                srv.wait(timeout=10)
            except subprocess.TimeoutExpired:
                srv.kill()


if __name__ == "__main__":
    main()
