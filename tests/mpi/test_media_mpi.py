#!/usr/bin/env python3
"""test_media_mpi.py - media from every rank of a real MPI job.

Four ranks run examples/media_images and examples/media_watch through the
launcher (its own aggregator process) into a real wandb-mpi-server:

- every rank's run holds one "examples" row (images/separated, three
  100x100 PNGs with their captions) and its three files, fetched back from
  the server: PNG signature, the size the server lists, distinct per rank
  (the pixels come from the same seed, so the names agree: each run has
  its own copy);
- media_watch: every rank's run has the watch histograms at steps 9, 19, ...
  49 and only there; the job run reduces the numeric "loss" and carries no
  media (histograms and images are per-rank values, not reduced).
"""
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpi_job import BIN, NP, fail, get, mpi_env, start_server  # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(BIN), "examples")


def get_bytes(url, key):
    req = urllib.request.Request(url)
    token = base64.b64encode(f"api:{key}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def launch(url, key, project, program):
    env = mpi_env({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_PROJECT": project})
    cmd = [f"{BIN}/wandb-mpirun", "-np", str(NP), "--oversubscribe", program]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if p.returncode != 0:
        fail(f"launcher exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    runs = get(f"{url}/api/v1/runs?project={project}", key)["runs"]
    jobs = [r for r in runs if r.get("job_type") == "mpi-job"]
    ranks = [r for r in runs if r.get("job_type") != "mpi-job"]
    if len(jobs) != 1 or len(ranks) != NP:
        fail(f"want one job run and {NP} rank runs: {[r.get('display_name') for r in runs]}")
    return jobs[0], ranks


def check_images(url, key):
    _, ranks = launch(url, key, "mimg", os.path.join(EXAMPLES, "media_images"))
    for run in ranks:
        name = run["name"]
        rows = get(f"{url}/api/v1/runs/{name}/history?project=mimg", key)["rows"]
        if len(rows) != 1:
            fail(f"{name}: {len(rows)} rows, want 1")
        v = rows[0].get("examples") or {}
        if v.get("_type") != "images/separated" or v.get("count") != 3 or \
                v.get("captions") != [f"random field {i}" for i in range(3)]:
            fail(f"{name}: bad examples value {v}")
        listed = {f["name"]: f for f in
                  get(f"{url}/api/v1/runs/{name}/files?project=mimg", key)["files"]}
        for fname in v["filenames"]:
            data = get_bytes(f"{url}/api/v1/runs/{name}/files/{fname}?project=mimg", key)
            if not data.startswith(b"\x89PNG\r\n\x1a\n") or fname not in listed or \
                    listed[fname]["size"] != len(data) or not listed[fname]["uploaded"]:
                fail(f"{name}: file {fname} missing, not a PNG or not as listed")
            if hashlib.sha256(data).hexdigest()[:20] not in fname:
                fail(f"{name}: {fname} is not named by its digest")


def check_watch(url, key):
    job, ranks = launch(url, key, "mwatch", os.path.join(EXAMPLES, "media_watch"))
    for run in ranks:
        rows = get(f"{url}/api/v1/runs/{run['name']}/history?project=mwatch", key)["rows"]
        steps = [r["_step"] for r in rows if "gradients/linear.weight" in r]
        if len(rows) != 50 or steps != [9, 19, 29, 39, 49]:
            fail(f"{run['name']}: {len(rows)} rows, watch histograms at {steps}")
    rows = get(f"{url}/api/v1/runs/{job['name']}/history?project=mwatch", key)["rows"]
    if not rows or any("loss" not in r for r in rows):
        fail("the job run lacks the reduced loss")
    if any(k.startswith(("gradients/", "parameters/")) for r in rows for k in r):
        fail("the job run carries watch histograms")


def main():
    if not os.access(os.path.join(EXAMPLES, "media_images"), os.X_OK):
        print("SKIP: examples/media_images is not built")
        return 77
    tmp = tempfile.mkdtemp(prefix="wbt-mmpi-")
    data = os.path.join(tmp, "server")
    os.mkdir(data)
    server, url, key = start_server(data)
    try:
        check_images(url, key)
        check_watch(url, key)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_media_mpi: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
