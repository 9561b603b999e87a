#!/usr/bin/env python3
"""test_cpp_mpi.py - examples/cpp_train.cpp built with MPI (cpp_train_mpi), a real 3-rank
job through the launcher into the real server.

wandb::mpi_init gives every rank a scoped wandb::Run; leaving the scope calls
wandb_mpi_finish. Checks that each rank's run holds every row, the config and the
summary the example logged and is finished, and that the job run came along.
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
STEPS = 30
NP = 3


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def get(url, key):
    req = urllib.request.Request(url)
    token = base64.b64encode(f"api:{key}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    tmp = tempfile.mkdtemp(prefix="wandb-cpp-mpi-")
    ready = os.path.join(tmp, "ready.url")
    server = subprocess.Popen([f"{BIN}/wandb-mpi-server", "--dir", tmp, "--port", "0",
                               "--ready-file", ready], stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while not (os.path.exists(ready) and open(ready).read().strip()):
            if time.time() > deadline or server.poll() is not None:
                fail("server did not start within 15 s")
            time.sleep(0.05)
        url = open(ready).read().strip()
        key = open(os.path.join(tmp, "api_key")).read().strip()
        env = dict(os.environ)
        env.update({"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
                    "WANDB_PROJECT": "cpp-mpi", "WANDB_BASE_URL": url, "WANDB_API_KEY": key,
                    "WANDB_DIR": os.path.join(tmp, "journals")})
        env.pop("WANDB_RUN_GROUP", None)
        cmd = [f"{BIN}/wandb-mpirun", "-np", str(NP), "--oversubscribe",
               f"{BIN}/cpp_train_mpi", str(STEPS)]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        if p.returncode != 0:
            fail(f"launcher exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        runs = get(f"{url}/api/v1/runs?project=cpp-mpi", key)["runs"]
        ranks = [r for r in runs if r.get("job_type") != "mpi-job"]
        jobs = [r for r in runs if r.get("job_type") == "mpi-job"]
        if len(ranks) != NP or len(jobs) != 1:
            fail(f"want {NP} rank runs and one job run, got {[r.get('name') for r in runs]}")
        for r in ranks:
            if r["state"] != "finished" or r["history_count"] != STEPS:
                fail(f"run {r['name']}: state {r['state']}, {r['history_count']} rows")
            if r["job_type"] != "train" or r["config"].get("model") != "linear" \
                    or r["config"].get("steps") != STEPS:
                fail(f"run {r['name']}: job_type {r['job_type']}, config {r['config']}")
            if "best_loss" not in r["summary"] or not isinstance(r["summary"].get("converged"),
                                                                    bool):
                fail(f"run {r['name']}: summary {r['summary']}")
        if jobs[0]["history_count"] != STEPS:
            fail(f"job run has {jobs[0]['history_count']} rows, want {STEPS}")
        print(f"cpp_train_mpi: {NP} rank runs and the job run, {STEPS} rows each, finished")
    finally:
        server.terminate()
        server.wait(timeout=15)
        subprocess.run(["rm", "-rf", tmp], check=False)


if __name__ == "__main__":
    main()
