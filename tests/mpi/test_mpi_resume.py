#!/usr/bin/env python3
"""test_mpi_resume.py - a real 3-rank job resumed through the launcher, into the real server.

Job 1 runs with WANDB_RUN_ID=<id>: every rank logs 10 steps into its own run <id>-<rank>.
Job 2 is the same command with WANDB_RESUME=allow: every rank continues its own run, so each
run holds steps 0..19 exactly once, and no other rank run appears. Job 3 with
WANDB_RESUME=never fails at init (the runs exist) and changes nothing; job 4 with
WANDB_RESUME=must and an unknown id fails and creates no run. Job 5 crashes (rank 2 dies at
step 50, mpirun ends the others wherever they are) and job 6 resumes it: every rank goes on
after the last step the server holds for it, so each history is 0..N without a gap or a
repeated step. Jobs 7 and 8 use WANDB_RESUME=auto without a run id in their own directory:
job 7 crashes, so the ranks that did not finish leave their run id in
wandb-resume-<rank>.json, and job 8 continues exactly those runs (the others start new ones).
"""
import glob
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mpi_job as mj  # noqa: E402

NP = 3
STEPS = 10
RUN_ID = "rjob"


def runs_of(url, key):
    return mj.rank_runs(mj.get(f"{url}/api/v1/runs?project=mpi-resume", key)["runs"])


def steps_of(url, key, name):
    rows = mj.get(f"{url}/api/v1/runs/{name}/history?project=mpi-resume", key)["rows"]
    return [row["_step"] for row in rows]


def job(url, key, run_id, resume, want_ok, train_args=(str(STEPS), "0.2"), more=None):
    extra = {"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "mpi-resume",
             "WANDB_RUN_GROUP": "resume-job", "WANDB_INIT_TIMEOUT_MS": "30000"}
    if run_id:
        extra["WANDB_RUN_ID"] = run_id
    extra.update(more or {})
    if resume:
        extra["WANDB_RESUME"] = resume
    env = mj.mpi_env(extra)
    cmd = [f"{mj.BIN}/wandb-mpirun", "-np", str(NP), "--oversubscribe", f"{mj.BIN}/mpi_train",
           *train_args]
    p = mj.subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if (p.returncode == 0) != want_ok:
        mj.fail(f"{resume}: launcher exited {p.returncode}\nstdout:\n{p.stdout}\n"
                f"stderr:\n{p.stderr}")
    return p


def main():
    tmp = tempfile.mkdtemp(prefix="wandb-mpi-resume-")
    server, url, key = mj.start_server(tmp)
    try:
        names = [f"{RUN_ID}-{r}" for r in range(NP)]
        job(url, key, RUN_ID, None, True)
        got = sorted(r["name"] for r in runs_of(url, key))
        if got != names:
            mj.fail(f"job 1: rank runs {got}, want {names}")
        job(url, key, RUN_ID, "allow", True)
        runs = runs_of(url, key)
        if sorted(r["name"] for r in runs) != names:
            mj.fail(f"job 2: rank runs {sorted(r['name'] for r in runs)}, want {names}")
        for r in runs:
            steps = steps_of(url, key, r["name"])
            if steps != list(range(2 * STEPS)):
                mj.fail(f"job 2: run {r['name']} steps {steps}, want 0..{2 * STEPS - 1} once")
            if r["state"] != "finished" or r["summary"].get("_step") != 2 * STEPS - 1:
                mj.fail(f"job 2: run {r['name']} state {r['state']} summary {r['summary']}")
        print(f"ok: {NP} ranks resumed their own runs, steps 0..{2 * STEPS - 1} once each")
        p = job(url, key, RUN_ID, "never", False)
        if "already exists" not in p.stderr:
            mj.fail(f"job 3: no 'already exists' in the launcher's output:\n{p.stderr}")
        for name in names:
            if steps_of(url, key, name) != list(range(2 * STEPS)):
                mj.fail(f"job 3: run {name} changed")
        p = job(url, key, "nojob", "must", False)
        if "does not exist" not in p.stderr:
            mj.fail(f"job 4: no 'does not exist' in the launcher's output:\n{p.stderr}")
        if any(r["name"].startswith("nojob") for r in runs_of(url, key)):
            mj.fail("job 4: a run was created for resume=must of an unknown id")
        print("ok: resume=never and resume=must refused at init, nothing changed")

        job(url, key, "cjob", None, False, train_args=("100", "10", "2"))
        before = {f"cjob-{r}": len(steps_of(url, key, f"cjob-{r}")) for r in range(NP)}
        if before["cjob-2"] < 40:
            mj.fail(f"job 5: the crashed rank stored {before['cjob-2']} steps, want about 50")
        job(url, key, "cjob", "allow", True)
        for name, n in sorted(before.items()):
            steps = steps_of(url, key, name)
            if steps != list(range(n + STEPS)):
                mj.fail(f"job 6: run {name} held {n} steps, now {steps}, want 0..{n + STEPS - 1}")
        print(f"ok: a crashed job resumed, each rank after its own last stored step {before}")

        auto_dir = tempfile.mkdtemp(dir=tmp)
        job(url, key, None, "auto", False, train_args=("100", "10", "2"),
            more={"WANDB_DIR": auto_dir, "WANDB_RUN_GROUP": "auto-a"})
        left = {}
        for path in glob.glob(os.path.join(auto_dir, "wandb-resume-*.json")):
            with open(path) as f:
                left[path] = json.load(f)["run_id"]
        if not any(p.endswith("wandb-resume-2.json") for p in left):
            mj.fail(f"job 7: the crashed rank 2 left no resume file: {sorted(left)}")
        held = {rid: len(steps_of(url, key, rid)) for rid in left.values()}
        job(url, key, None, "auto", True, more={"WANDB_DIR": auto_dir, "WANDB_RUN_GROUP": "auto-b"})
        names = {r["name"] for r in runs_of(url, key) if r["group"] == "auto-b"}
        if len(names) != NP or not set(held) <= names:
            mj.fail(f"job 8: runs {sorted(names)}, want {NP} including {sorted(held)}")
        for rid, n in held.items():
            if steps_of(url, key, rid) != list(range(n + STEPS)):
                mj.fail(f"job 8: run {rid} held {n} steps, now {steps_of(url, key, rid)}")
        rest = glob.glob(os.path.join(auto_dir, "wandb-resume-*.json"))
        if rest:
            mj.fail(f"job 8 finished, yet resume files are left: {rest}")
        print(f"ok: auto continued the {len(held)} runs that did not finish {held}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
