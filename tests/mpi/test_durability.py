#!/usr/bin/env python3
"""test_durability.py - nothing accepted is lost: the journal and wandb-mpi sync.

Real mpirun jobs through the launcher, the real aggregator process and the real
server. Every check counts rows: rows logged against rows stored.
- offline job, then sync: the same runs (config, summary, history row for row,
  states) as the same job online; a second sync uploads nothing;
- wrong API key: the launcher fails and names the sync command; sync with the
  right key stores everything;
- the backend SIGKILLed for 60 s in the middle of the job, then restarted:
  every row of every run stored, states finished, no duplicates;
- the aggregator process SIGKILLed mid-job: sync stores every row the journal
  had, and the loss is within the journal flush window;
- a damaged segment: sync names the file and offset and uploads the rest.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpi_job import BIN, NP, fail, get, mpi_env, start_server  # noqa: E402

STEPS = 60
VOLATILE = ("_runtime", "_timestamp")


def launcher(env, *args, steps=STEPS, step_ms="5", timeout=400, background=False):
    cmd = [f"{BIN}/wandb-mpirun", *args, "-np", str(NP), "--oversubscribe",
           f"{BIN}/mpi_train", str(steps), step_ms]
    if background:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def sync(*args, want=0):
    p = subprocess.run([f"{BIN}/wandb-mpi", "sync", *args], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != want:
        fail(f"wandb-mpi sync {args} exited {p.returncode}, want {want}\n"
             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def journals(root):
    found = []
    for dirpath, _, files in os.walk(root):
        if any(f.endswith(".wjl") for f in files):
            found.append(dirpath)
    return sorted(found)


def runs_of(url, key, project):
    """The per-rank runs of project by display name (the job run is left out)."""
    return {r["display_name"]: r for r in get(f"{url}/api/v1/runs?project={project}", key)["runs"]
            if r.get("job_type") != "mpi-job"}


def history(url, key, project, run_id):
    return get(f"{url}/api/v1/runs/{run_id}/history?project={project}", key)["rows"]


def stable(row):
    return {k: v for k, v in row.items() if k not in VOLATILE}


def check_complete(url, key, project, steps, state="finished"):
    runs = runs_of(url, key, project)
    if len(runs) != NP:
        fail(f"{project}: want {NP} runs, got {sorted(runs)}")
    total = 0
    for name, r in sorted(runs.items()):
        rows = history(url, key, project, r["name"])
        got = [row["_step"] for row in rows]
        if got != list(range(steps)):
            fail(f"{project}/{name}: steps {got[:3]}...{got[-3:]} ({len(got)} rows), want "
                 f"0..{steps - 1} exactly once")
        if r["state"] != state:
            fail(f"{project}/{name}: state {r['state']}, want {state}")
        total += len(rows)
    return runs, total


def test_offline_then_sync(tmp, url, key):
    jdir = os.path.join(tmp, "offline-journal")
    env = mpi_env({"WANDB_DIR": jdir, "WANDB_PROJECT": "dur-offline"})
    p = launcher(env, "--offline")
    if p.returncode != 0 or "wandb-mpi sync" not in p.stderr:
        fail(f"offline job: exit {p.returncode}, stderr:\n{p.stderr}")
    if runs_of(url, key, "dur-offline"):
        fail("an offline job reached the backend")
    found = journals(jdir)
    if len(found) != 1:
        fail(f"want one journal under {jdir}, got {found}")
    out = sync("--base-url", url, "--api-key", key, found[0]).stdout
    n = NP + 1  # the rank runs and the job run, each with every step
    if f"{n}/{n} runs, {n * STEPS}/{n * STEPS} rows" not in out:
        fail(f"sync summary: {out}")
    off, total = check_complete(url, key, "dur-offline", STEPS)
    again = sync("--base-url", url, "--api-key", key, jdir).stdout
    if "nothing to upload" not in again:
        fail(f"a second sync uploaded again: {again}")

    # The same job online: the same runs, row for row.
    p = launcher(mpi_env({"WANDB_DIR": os.path.join(tmp, "online-journal"),
                          "WANDB_PROJECT": "dur-online", "WANDB_BASE_URL": url,
                          "WANDB_API_KEY": key}))
    if p.returncode != 0:
        fail(f"online job: exit {p.returncode}\n{p.stderr}")
    on, _ = check_complete(url, key, "dur-online", STEPS)
    for name in sorted(on):
        a, b = on[name], off[name]
        if a["config"] != b["config"]:
            fail(f"{name}: config online {a['config']} offline {b['config']}")
        sa = {k: v for k, v in a["summary"].items() if k not in VOLATILE}
        sb = {k: v for k, v in b["summary"].items() if k not in VOLATILE}
        if sa != sb:
            fail(f"{name}: summary online {sa} offline {sb}")
        ha = [stable(r) for r in history(url, key, "dur-online", a["name"])]
        hb = [stable(r) for r in history(url, key, "dur-offline", b["name"])]
        if ha != hb:
            fail(f"{name}: history differs online/offline")
    print(f"ok: offline job + sync = online job ({total} rows, {NP} runs); second sync: nothing")


def test_wrong_key(tmp, url, key, mode):
    project = f"dur-key-{mode}"
    jdir = os.path.join(tmp, f"key-{mode}")
    env = mpi_env({"WANDB_DIR": jdir, "WANDB_PROJECT": project, "WANDB_BASE_URL": url,
                   "WANDB_API_KEY": "wrong-key", "WANDB_FINISH_TIMEOUT_MS": "10000"})
    p = launcher(env, "--aggregator", mode)
    if p.returncode == 0:
        fail(f"wrong key ({mode}): the job reported success\n{p.stderr}")
    if "wandb-mpi sync" not in p.stderr or "401" not in p.stderr:
        fail(f"wrong key ({mode}): stderr does not name the refusal and the sync command:\n"
             f"{p.stderr}")
    sync("--base-url", url, "--api-key", key, jdir)
    _, total = check_complete(url, key, project, STEPS)
    print(f"ok ({mode}): wrong key fails the job, names the sync; sync stored {total} rows")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_backend_outage(tmp):
    """The backend dies (SIGKILL) for 60 s in the middle of a 4-rank job."""
    data = tempfile.mkdtemp(dir=tmp)
    port = str(free_port())
    server, url, key = start_server(data, "--port", port)
    steps, step_ms = 300, "100"  # 30 s of training
    env = mpi_env({"WANDB_DIR": os.path.join(tmp, "outage"), "WANDB_PROJECT": "dur-outage",
                   "WANDB_BASE_URL": url, "WANDB_API_KEY": key,
                   "WANDB_FINISH_TIMEOUT_MS": "180000"})
    t0 = time.time()
    job = launcher(env, steps=steps, step_ms=step_ms, background=True)
    time.sleep(8)
    server.kill()
    server.wait()
    killed_at = time.time() - t0
    time.sleep(60)
    server, url2, _ = start_server(data, "--port", port)
    try:
        out, err = job.communicate(timeout=300)
        if job.returncode != 0:
            fail(f"outage: launcher exited {job.returncode}\n{err}")
        _, total = check_complete(url, key, "dur-outage", steps)
        print(f"ok: backend down {killed_at:.0f}..{killed_at + 60:.0f} s of a "
              f"{time.time() - t0:.0f} s job: {total}/{NP * steps} rows, all finished, "
              "no duplicates")
    finally:
        server.terminate()
        server.wait(timeout=10)


def aggregator_pids(marker):
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"wandb-mpi-aggregator") and marker.encode() in cmd:
            pids.append(int(pid))
    return pids


def test_aggregator_killed(tmp, url, key):
    """SIGKILL of the aggregator process: sync stores what the journal had."""
    jdir = os.path.join(tmp, "agg-kill")
    steps, step_ms = 200, 50.0  # 10 s
    env = mpi_env({"WANDB_DIR": jdir, "WANDB_PROJECT": "dur-aggkill", "WANDB_BASE_URL": url,
                   "WANDB_API_KEY": key, "WANDB_FINISH_TIMEOUT_MS": "3000"})
    job = launcher(env, steps=steps, step_ms=str(step_ms), background=True)
    deadline = time.time() + 30
    pids = []
    while not pids and time.time() < deadline:
        pids = aggregator_pids(jdir)
        time.sleep(0.1)
    if not pids:
        fail("the aggregator process was not found")
    time.sleep(5)
    killed = time.time()
    for pid in pids:
        os.kill(pid, 9)
    job.communicate(timeout=120)
    if job.returncode == 0:
        fail("the launcher reported success after its aggregator was killed")
    found = journals(jdir)
    sync("--base-url", url, "--api-key", key, *found)
    runs = runs_of(url, key, "dur-aggkill")
    worst = 0
    for name, r in sorted(runs.items()):
        rows = history(url, key, "dur-aggkill", r["name"])
        got = [row["_step"] for row in rows]
        if got != list(range(len(got))):
            fail(f"{name}: stored steps are not a prefix: {got[:5]}... ({len(got)})")
        # Steps the rank had logged when the aggregator died, from its first row's time.
        logged = int((killed - rows[0]["_timestamp"]) * 1000 / step_ms) if rows else steps
        lost = max(0, min(logged, steps) - len(got))
        worst = max(worst, lost)
    window_rows = int(1.5 * 1000 / step_ms)  # the 1 s journal flush window, with slack
    if len(runs) != NP or worst > window_rows:
        fail(f"aggregator killed: {len(runs)} runs, worst loss {worst} rows, window "
             f"{window_rows}")
    print(f"ok: aggregator SIGKILLed 5 s into a 10 s job; sync stored every journaled row; "
          f"worst loss {worst} rows per rank (window: {window_rows} rows = 1 s flush + slack)")


def test_damaged_segment(tmp, url, key):
    jdir = os.path.join(tmp, "damaged")
    env = mpi_env({"WANDB_DIR": jdir, "WANDB_PROJECT": "dur-damage"})
    p = launcher(env, "--offline", steps=400)
    if p.returncode != 0:
        fail(f"offline job for the damage test: {p.stderr}")
    seg = sorted(os.path.join(d, f) for d in journals(jdir) for f in os.listdir(d)
                 if f.endswith(".wjl"))[0]
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.seek(size * 2 // 3)
        b = f.read(1)
        f.seek(size * 2 // 3)
        f.write(bytes([b[0] ^ 0xFF]))
    p = sync("--base-url", url, "--api-key", key, jdir, want=1)
    if seg not in p.stderr or "offset" not in p.stderr:
        fail(f"sync does not name the damaged file and offset:\n{p.stderr}")
    runs = runs_of(url, key, "dur-damage")
    stored = sum(len(history(url, key, "dur-damage", r["name"])) for r in runs.values())
    if len(runs) != NP or not 0 < stored < NP * 400:
        fail(f"damaged journal: {len(runs)} runs, {stored} rows stored")
    print(f"ok: flipped byte at {size * 2 // 3} of {size}: named; {stored} rows before it stored")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        data = tempfile.mkdtemp(dir=tmp)
        server, url, key = start_server(data)
        try:
            test_offline_then_sync(tmp, url, key)
            test_wrong_key(tmp, url, key, "process")
            test_wrong_key(tmp, url, key, "thread")
            test_aggregator_killed(tmp, url, key)
            test_damaged_segment(tmp, url, key)
        finally:
            server.terminate()
            server.wait(timeout=10)
        test_backend_outage(tmp)
    print("6 passed, 0 failed")


if __name__ == "__main__":
    main()
