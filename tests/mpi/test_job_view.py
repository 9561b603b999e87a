#!/usr/bin/env python3
"""test_job_view.py - the job run of real 4-rank jobs, checked against the rank runs.

- reductions: the job run has one row per step, and every declared reduction
  of loss (mean, min, max, std, argmin, argmax) and the mean of the other
  metrics equal values computed here from the four per-rank histories;
- a slow rank: the straggler figures name it at most steps;
- a crashed rank: its run is crashed with its last step just before the
  crash, the job run names it as the first failure with its exit code (from
  mpirun's report, through the launcher), and no run lost a row its rank had
  logged before the crash;
- per-rank runs off: the backend sees exactly one run, with the same rows;
- SIGTERM to the launcher: every run ends preempted, and each rank's rows are
  every step it logged, up to the few it logged while being killed.
"""
import math
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpi_job import BIN, NP, fail, get, mpi_env, start_server  # noqa: E402


def launch(env, *train_args, want_ok=True):
    cmd = [f"{BIN}/wandb-mpirun", "-np", str(NP), "--oversubscribe", f"{BIN}/mpi_train",
           *train_args]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if (p.returncode == 0) != want_ok:
        fail(f"launcher exited {p.returncode}\nstderr:\n{p.stderr}")
    return p


def runs_of(url, key, project):
    return get(f"{url}/api/v1/runs?project={project}", key)["runs"]


def history(url, key, project, run_id):
    return get(f"{url}/api/v1/runs/{run_id}/history?project={project}", key)["rows"]


def split(runs):
    jobs = [r for r in runs if r.get("job_type") == "mpi-job"]
    ranks = {int(r["display_name"].split("-")[1]): r for r in runs
             if r.get("job_type") != "mpi-job"}
    if len(jobs) != 1 or jobs[0]["display_name"] != "job":
        fail(f"want one job run, got {[r['display_name'] for r in jobs]}")
    return jobs[0], ranks


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_reductions(url, key):
    steps = 40
    env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "jv-reduce"})
    launch(env, "--steps", str(steps), "--step-ms", "2")
    job, ranks = split(runs_of(url, key, "jv-reduce"))
    if len(ranks) != NP or job["state"] != "finished":
        fail(f"want {NP} rank runs and a finished job run: {job['state']}, {sorted(ranks)}")
    per = {r: {row["_step"]: row for row in history(url, key, "jv-reduce", run["name"])}
           for r, run in ranks.items()}
    rows = history(url, key, "jv-reduce", job["name"])
    if [row["_step"] for row in rows] != list(range(steps)):
        fail(f"job run steps {[row['_step'] for row in rows][:10]}... ({len(rows)})")
    checked = 0
    for row in rows:
        s = row["_step"]
        loss = [per[r][s]["loss"] for r in range(NP)]
        mean = sum(loss) / NP
        std = math.sqrt(sum((v - mean) ** 2 for v in loss) / NP)
        want = {"loss": mean, "loss/min": min(loss), "loss/max": max(loss), "loss/std": std,
                "loss/min_rank": loss.index(min(loss)), "loss/max_rank": loss.index(max(loss)),
                "accuracy": sum(per[r][s]["accuracy"] for r in range(NP)) / NP,
                "epoch": sum(per[r][s]["epoch"] for r in range(NP)) / NP,
                "mpi/ranks": NP}
        for k, v in want.items():
            if k not in row or not close(row[k], v):
                fail(f"step {s}: {k} = {row.get(k)}, computed {v}")
            checked += 1
        if "loss/sum" in row or "accuracy/min" in row:
            fail(f"step {s}: an undeclared reduction: {sorted(row)}")
    print(f"ok: job run of {steps} steps; {checked} reduced values equal the rank histories")


def test_slow_rank(url, key):
    steps = 40
    env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "jv-slow"})
    launch(env, "--steps", str(steps), "--step-ms", "2", "--slow-rank", "2", "--slow-ms", "30")
    job, _ = split(runs_of(url, key, "jv-slow"))
    rows = history(url, key, "jv-slow", job["name"])
    named = sum(1 for row in rows if row.get("mpi/slowest_rank") == 2)
    last = rows[-1]
    lags = {r: last.get(f"mpi_lag/rank-{r}", 0) for r in range(NP)}
    if named < 0.8 * len(rows) or max(lags, key=lags.get) != 2:
        fail(f"slowest rank 2 at {named}/{len(rows)} steps; final lags {lags}")
    print(f"ok: slow rank 2 named at {named}/{len(rows)} steps; final lag {lags[2]:.0f} ms")


def test_crash_rank(url, key, tmp):
    steps, crash = 100, 30
    progress = tempfile.mkdtemp(dir=tmp)
    env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "jv-crash"})
    launch(env, "--steps", str(steps), "--step-ms", "20", "--crash-rank", "2", "--crash-step",
           str(crash), "--progress-dir", progress, want_ok=False)
    deadline = time.time() + 30
    while True:
        job, ranks = split(runs_of(url, key, "jv-crash"))
        states = {r: run["state"] for r, run in ranks.items()}
        if "running" not in states.values() and job["state"] != "running":
            break
        if time.time() > deadline:
            fail(f"runs still running 30 s after the job: {states}, job {job['state']}")
        time.sleep(0.5)
    if states.get(2) != "crashed" or job["state"] != "crashed":
        fail(f"want rank 2 and the job run crashed: {states}, job {job['state']}")
    worst = 0
    for r, run in sorted(ranks.items()):
        got = [row["_step"] for row in history(url, key, "jv-crash", run["name"])]
        logged = int(open(os.path.join(progress, f"rank-{r}")).read()) + 1
        if got != list(range(len(got))):
            fail(f"rank {r}: stored steps are not 0..n-1: {got[:5]}...")
        if r == 2 and got[-1] not in (crash - 1, crash):
            fail(f"rank 2: last stored step {got[-1]}, crashed at {crash}")
        if r != 2 and run["state"] == "finished" and len(got) != steps:
            fail(f"rank {r} finished with {len(got)} rows")
        if len(got) > logged:
            fail(f"rank {r}: {len(got)} rows stored, {logged} logged")
        if r == 2 and len(got) != logged:
            fail(f"rank 2 logged {logged} rows before it crashed, {len(got)} stored")
        # The others logged on until mpirun killed them: every row up to the
        # crash is there; of the rows logged while being killed, a few may not be.
        if r != 2 and len(got) < crash:
            fail(f"rank {r}: {len(got)} rows stored, the crash came at step {crash}")
        worst = max(worst, logged - len(got))
    if worst > 3:
        fail(f"a rank lost {worst} row(s) it logged while mpirun tore the job down")
    s = job["summary"]
    if s.get("mpi/first_failure/rank") != 2 or s.get("mpi/first_failure/last_step") not in (
            crash - 1, crash) or s.get("mpi/first_failure/exit_code") != 3 or not (
            time.time() - 600 < (s.get("mpi/first_failure/time") or 0) <= time.time()):
        fail(f"job run first failure: {({k: v for k, v in s.items() if 'failure' in k})}")
    print(f"ok: crashed rank 2 (last step {crash - 1}), job run names it, no row logged before "
          f"the crash lost (at most {worst} logged during the teardown); states {states}")


def test_rank_runs_off(url, key, data):
    steps = 30
    env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "jv-off",
                   "WANDB_PER_RANK_RUNS": "false"})
    launch(env, "--steps", str(steps), "--step-ms", "2")
    runs = runs_of(url, key, "jv-off")
    if len(runs) != 1 or runs[0]["display_name"] != "job" or runs[0]["state"] != "finished":
        fail(f"per-rank runs off: want exactly the job run, got "
             f"{[(r['display_name'], r['state']) for r in runs]}")
    rows = history(url, key, "jv-off", runs[0]["name"])
    if [row["_step"] for row in rows] != list(range(steps)) or any(
            row.get("mpi/ranks") != NP for row in rows):
        fail(f"per-rank runs off: job rows {[(r['_step'], r.get('mpi/ranks')) for r in rows][:5]}")
    # The verdict counts the ranks from the job run when no rank run exists.
    v = subprocess.run([f"{BIN}/wandb-mpi", "job", "--dir", data, "--project", "jv-off",
                        "--group", runs[0]["group"]], capture_output=True, text=True, timeout=30)
    want = f"its {NP} rank(s) (per-rank runs off): {NP} finished, 0 crashed, 0 preempted"
    if v.returncode != 0 or want not in v.stdout:
        fail(f"wandb-mpi job with per-rank runs off: exit {v.returncode}, want '{want}':\n"
             f"{v.stdout}{v.stderr}")
    print(f"ok: per-rank runs off: the backend saw 1 run with {steps} rows of {NP} ranks")


def test_sigterm(url, key, tmp):
    progress = tempfile.mkdtemp(dir=tmp)
    env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "jv-term"})
    cmd = [f"{BIN}/wandb-mpirun", "-np", str(NP), "--oversubscribe", f"{BIN}/mpi_train",
           "--steps", "100000", "--step-ms", "5", "--progress-dir", progress]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        runs = [r for r in runs_of(url, key, "jv-term") if r.get("job_type") != "mpi-job"]
        if len(runs) == NP and all(r["history_count"] >= 100 for r in runs):
            break
        time.sleep(0.2)
    else:
        p.kill()
        fail("the job did not get going")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=120)
    if p.returncode != 143:
        fail(f"launcher exit {p.returncode} after SIGTERM, want 143\n{err}")
    deadline = time.time() + 30
    while True:
        job, ranks = split(runs_of(url, key, "jv-term"))
        states = {r: run["state"] for r, run in ranks.items()}
        if all(st == "preempted" for st in states.values()) and job["state"] == "preempted":
            break
        if time.time() > deadline:
            fail(f"want every run preempted: {states}, job {job['state']}")
        time.sleep(0.5)
    lost = {}
    for r, run in sorted(ranks.items()):
        got = [row["_step"] for row in history(url, key, "jv-term", run["name"])]
        logged = int(open(os.path.join(progress, f"rank-{r}")).read()) + 1
        if got != list(range(len(got))) or len(got) > logged:
            fail(f"rank {r}: {len(got)} rows stored of {logged} logged, not a prefix")
        lost[r] = logged - len(got)
    if max(lost.values()) > 3:
        fail(f"rows logged but not stored per rank: {lost}")
    summary = job["summary"]
    if summary.get("mpi/first_failure/rank") is not None:
        fail(f"a preempted job names a failed rank: {summary}")
    if summary.get("mpi/ranks_preempted") != NP or summary.get("mpi/ranks_crashed") != 0:
        fail(f"want {NP} ranks preempted, 0 crashed in the job summary: {summary}")
    print(f"ok: SIGTERM: every run preempted; rows lost per rank while being killed: {lost}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = tempfile.mkdtemp(dir=tmp)
        server, url, key = start_server(data, "--heartbeat-timeout-s", "2")
        try:
            test_reductions(url, key)
            test_slow_rank(url, key)
            test_crash_rank(url, key, tmp)
            test_rank_runs_off(url, key, data)
            test_sigterm(url, key, tmp)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print("5 passed, 0 failed")


if __name__ == "__main__":
    main()
