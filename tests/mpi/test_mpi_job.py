#!/usr/bin/env python3
"""test_mpi_job.py - a real 4-rank job through the launcher into the real server.

Checks what a user sees: 4 runs in one automatically named group, each with
every step and state finished, and that the whole job used exactly ONE TCP
connection to the backend (the aggregator's). Then the launcher's default
path: without WANDB_BASE_URL it starts the local server itself, and the CLI
shows the runs from the data directory afterwards.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = os.environ.get("WANDB_TEST_BIN_DIR", "build") + "/bin"
STEPS = 60
NP = 4


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def start_server(data_dir, *extra):
    ready = os.path.join(data_dir, "ready.url")
    proc = subprocess.Popen([f"{BIN}/wandb-mpi-server", "--dir", data_dir, "--port", "0",
                             "--ready-file", ready, *extra], stdout=subprocess.DEVNULL)
    deadline = time.time() + 15
    while time.time() < deadline:
        if os.path.exists(ready) and open(ready).read().strip():
            key = open(os.path.join(data_dir, "api_key")).read().strip()
            return proc, open(ready).read().strip(), key
        if proc.poll() is not None:
            fail("server exited at start")
        time.sleep(0.05)
    proc.kill()
    fail("server did not start within 15 s")


def get(url, key):
    req = urllib.request.Request(url)
    token = base64.b64encode(f"api:{key}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def mpi_env(extra):
    env = dict(os.environ)
    env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                "WANDB_PROJECT": "mpi-test", "WANDB_FLUSH_INTERVAL_MS": "200"})
    env.pop("WANDB_RUN_GROUP", None)
    env.setdefault("WANDB_DIR", os.path.join(tempfile.gettempdir(), "wandb-mpi-test-journals"))
    env.update(extra)
    return env


def run_launcher(env, *launcher_args, train_args=(str(STEPS), "0.2"), want_ok=True):
    cmd = [f"{BIN}/wandb-mpirun", *launcher_args, "-np", str(NP), "--oversubscribe",
           f"{BIN}/mpi_train", *train_args]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if (p.returncode == 0) != want_ok:
        fail(f"launcher exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def rank_runs(runs):
    """The per-rank runs: everything but the job run (docs/job-view.md)."""
    return [r for r in runs if r.get("job_type") != "mpi-job"]


def check_runs(runs):
    jobs = [r for r in runs if r.get("job_type") == "mpi-job"]
    if len(jobs) != 1 or jobs[0].get("display_name") != "job":
        fail(f"want one job run named job, got {[r.get('display_name') for r in jobs]}")
    runs = rank_runs(runs)
    if len(runs) != NP:
        fail(f"want {NP} runs, got {len(runs)}: {[r.get('name') for r in runs]}")
    groups = {r["group"] for r in runs}
    if len(groups) != 1 or not next(iter(groups)).startswith("mpi_train-"):
        fail(f"want one group named mpi_train-<id>, got {groups}")
    names = sorted(r["display_name"] for r in runs)
    if names != [f"rank-{i}" for i in range(NP)]:
        fail(f"display names {names}")
    for r in runs:
        if r["state"] != "finished":
            fail(f"run {r['name']} state {r['state']}")
        if r["history_count"] != STEPS:
            fail(f"run {r['name']} has {r['history_count']} rows, want {STEPS}")
        if r["config"].get("lr") != 0.01 or r["config"].get("optimizer", {}).get("name") != "sgd":
            fail(f"run {r['name']} config {r['config']}")
        if r["summary"].get("status") != "done" or "loss" not in r["summary"]:
            fail(f"run {r['name']} summary {r['summary']}")
    return next(iter(groups))


def test_job_into_running_server(tmp, *launcher_args):
    data = tempfile.mkdtemp(dir=tmp)
    server, url, key = start_server(data)
    try:
        before = get(f"{url}/api/v1/stats", key)["connections"]
        run_launcher(mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key}), *launcher_args)
        after = get(f"{url}/api/v1/stats", key)["connections"]
        job_connections = after - before - 1  # the second stats request is one too
        if job_connections != 1:
            fail(f"the job opened {job_connections} TCP connections to the backend, want 1")
        runs = get(f"{url}/api/v1/runs?project=mpi-test", key)["runs"]
        check_runs(runs)
        for r in rank_runs(runs):
            rows = get(f"{url}/api/v1/runs/{r['name']}/history?project=mpi-test", key)["rows"]
            steps = [row["_step"] for row in rows]
            if steps != list(range(STEPS)):
                fail(f"run {r['name']} steps {steps[:5]}... ({len(steps)})")
            if not all("loss" in row and "accuracy" in row and "_runtime" in row for row in rows):
                fail(f"run {r['name']} rows lack loss/accuracy/_runtime")
        mode = " ".join(launcher_args) or "--aggregator process (default)"
        print(f"ok ({mode}): {NP} runs, {STEPS} steps each, 1 backend connection")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_crashed_rank(tmp):
    """A rank dies halfway; the aggregator process outlives it. Its run ends
    as crashed; the others end finished (or crashed, if mpirun kills them):
    none stays running and none is marked finished wrongly."""
    data = tempfile.mkdtemp(dir=tmp)
    server, url, key = start_server(data, "--heartbeat-timeout-s", "2")
    try:
        steps = 100
        run_launcher(mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key,
                              "WANDB_PROJECT": "mpi-crash"}),
                     "--aggregator", "process", train_args=(str(steps), "10", "2"),
                     want_ok=False)
        deadline = time.time() + 30
        while True:
            runs = rank_runs(get(f"{url}/api/v1/runs?project=mpi-crash", key)["runs"])
            states = {r["display_name"]: r["state"] for r in runs}
            if (len(runs) == NP and states.get("rank-2") == "crashed"
                    and all(st in ("finished", "crashed") for st in states.values())):
                break
            if time.time() > deadline:
                fail(f"want rank-2 crashed and no run left running 30 s after the job: {states}")
            time.sleep(0.5)
        crashed = [r for r in runs if r["display_name"] == "rank-2"]
        if not crashed or crashed[0]["history_count"] > steps // 2:
            fail(f"rank-2's run: {crashed}")
        for r in runs:
            if r["state"] == "finished" and r["history_count"] != steps:
                fail(f"run {r['display_name']} finished with {r['history_count']} rows")
        print(f"ok: crashed rank; states {states}; rank-2 rows {crashed[0]['history_count']}")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_launcher_starts_local_server(tmp):
    data = os.path.join(tmp, "local")
    env = mpi_env({})
    env.pop("WANDB_BASE_URL", None)
    env.pop("WANDB_API_KEY", None)
    run_launcher(env, "--dir", data)
    out = subprocess.run([f"{BIN}/wandb-mpi", "runs", "--dir", data, "--json"],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        fail(f"wandb-mpi runs failed: {out.stderr}")
    runs = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    group = check_runs(runs)
    hist = subprocess.run([f"{BIN}/wandb-mpi", "history", rank_runs(runs)[0]["name"], "--dir", data,
                           "--json"], capture_output=True, text=True, timeout=30)
    rows = [json.loads(line) for line in hist.stdout.splitlines() if line.strip()]
    if len(rows) != STEPS:
        fail(f"wandb-mpi history shows {len(rows)} rows, want {STEPS}")
    print(f"ok: launcher started the local server; group {group}")

    # A rank that dies: once the launcher returns, its run is crashed and no
    # run of the job is left running.
    crash = os.path.join(tmp, "local-crash")
    env = mpi_env({"WANDB_PROJECT": "crash-local"})
    env.pop("WANDB_BASE_URL", None)
    env.pop("WANDB_API_KEY", None)
    run_launcher(env, "--dir", crash,
                 train_args=(str(STEPS), "10", "2"), want_ok=False)
    out = subprocess.run([f"{BIN}/wandb-mpi", "runs", "--dir", crash, "--json"],
                         capture_output=True, text=True, timeout=30)
    runs = rank_runs([json.loads(line) for line in out.stdout.splitlines() if line.strip()])
    states = {r["display_name"]: r["state"] for r in runs}
    if states.get("rank-2") != "crashed" or "running" in states.values():
        fail(f"after a crashed rank, want rank-2 crashed and none running: {states}")
    print(f"ok: launcher's own server settles a crashed rank: {states}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_job_into_running_server(tmp, "--aggregator", "thread")
        test_job_into_running_server(tmp)
        test_crashed_rank(tmp)
        test_launcher_starts_local_server(tmp)
    print("4 passed, 0 failed")


if __name__ == "__main__":
    main()
