#!/usr/bin/env python3
"""test_system_console.py - system metrics per node and console capture in a real MPI job.

Four ranks through the launcher into a real wandb-mpi-server, simulating two
nodes: a wrapper gives rank r the node label "node<r % 2>" (WANDB_NODE_LABEL)
and the local rank r // 2 (WANDB_LOCAL_RANK), so ranks 0 and 1 are their
nodes' local rank 0 and sample every second (WANDB_SYSTEM_METRICS_INTERVAL_S).

- system metrics: only the runs of ranks 0 and 1 have wandb-events.jsonl
  lines (with system.cpu in 0..100, _wandb, _timestamp, _runtime); the job
  run has one series per node: keys system.cpu/l:node0 and /l:node1 and
  no other label;
- console: every rank's run holds exactly its own stdout line and its stderr
  line ("ERROR " after the timestamp), none of another rank's; rank 0's also
  holds mpi_train's summary line, printed after wandb_finish; the terminal
  still shows the lines (mpirun copies them).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpi_job import BIN, NP, fail, get, mpi_env, start_server  # noqa: E402

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} ")


def main():
    tmp = tempfile.mkdtemp(prefix="wbt-sysc-")
    data = os.path.join(tmp, "server")
    os.mkdir(data)
    server, url, key = start_server(data)
    try:
        wrapper = os.path.join(tmp, "rank.sh")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "r=$OMPI_COMM_WORLD_RANK\n"
                    "export WANDB_NODE_LABEL=node$((r % 2)) WANDB_LOCAL_RANK=$((r / 2))\n"
                    "echo \"hello from rank $r\"\n"
                    "echo \"warn from rank $r\" >&2\n"
                    f"exec {BIN}/mpi_train --steps 30 --step-ms 100\n")
        os.chmod(wrapper, 0o755)
        env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": "sysc",
                       "WANDB_SYSTEM_METRICS_INTERVAL_S": "1"})
        cmd = [f"{BIN}/wandb-mpirun", "-np", str(NP), "--oversubscribe",
               "-x", "WANDB_SYSTEM_METRICS_INTERVAL_S", wrapper]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        if p.returncode != 0:
            fail(f"launcher exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        for r in range(NP):
            if f"hello from rank {r}" not in p.stdout or f"warn from rank {r}" not in p.stderr:
                fail(f"the terminal lacks rank {r}'s lines:\n{p.stdout}\n{p.stderr}")
        runs = get(f"{url}/api/v1/runs?project=sysc", key)["runs"]
        jobs = [r for r in runs if r.get("job_type") == "mpi-job"]
        ranks = {int(r["display_name"].split("-")[1]): r for r in runs
                 if r.get("job_type") != "mpi-job"}
        if len(jobs) != 1 or sorted(ranks) != list(range(NP)):
            fail(f"want one job run and {NP} rank runs: {[r.get('display_name') for r in runs]}")
        for r, run in ranks.items():
            ev = get(f"{url}/api/v1/runs/{run['name']}/events?project=sysc", key)["rows"]
            if r < 2:
                if not ev:
                    fail(f"rank {r} sampled for its node but its run has no events")
                for row in ev:
                    cpu = row.get("system.cpu")
                    if not (isinstance(cpu, (int, float)) and 0 <= cpu <= 100) or \
                            row.get("_wandb") is not True or "_timestamp" not in row or \
                            "_runtime" not in row or not 0 < row["system.memory_percent"] < 100:
                        fail(f"rank {r}: bad events line {row}")
            elif ev:
                fail(f"rank {r} is not a local rank 0 but its run has {len(ev)} events lines")
            logs = get(f"{url}/api/v1/runs/{run['name']}/logs?project=sysc", key)["lines"]
            texts = sorted(STAMP.sub("", line) for line in logs if STAMP.match(line))
            if len(texts) != len(logs):
                fail(f"rank {r}: console lines without the timestamp prefix: {logs}")
            want = [f"hello from rank {r}", f"ERROR warn from rank {r}"]
            # rank 0 also prints mpi_train's last line after wandb_finish (stderr)
            extra = [t for t in texts if t not in want and
                     not (r == 0 and t.startswith("ERROR mpi_train: 30 steps logged"))]
            if any(w not in texts for w in want) or extra or len(texts) != 2 + (r == 0):
                fail(f"rank {r}: output.log {texts}, want {want}")
        job = jobs[0]
        ev = get(f"{url}/api/v1/runs/{job['name']}/events?project=sysc", key)["rows"]
        labels = {}
        for row in ev:
            for k in row:
                m = re.match(r"^system\.cpu/l:(.*)$", k)
                if m:
                    labels[m.group(1)] = labels.get(m.group(1), 0) + 1
            if "system.cpu" in row:
                fail(f"job run events line without a node label: {row}")
        if sorted(labels) != ["node0", "node1"]:
            fail(f"job run: want one series per node (node0, node1), got {labels}")
        logs = get(f"{url}/api/v1/runs/{job['name']}/logs?project=sysc", key)["lines"]
        if logs:
            fail(f"job run has console lines: {logs}")
        print(f"ok: events per node {labels}, console lines in every rank's run")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
