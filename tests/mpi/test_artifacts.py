#!/usr/bin/env python3
"""test_artifacts.py - one artifact from every rank of a real job, used by a second job.

Default (label mpi): a 4-rank job through the launcher (offline: the aggregator
process keeps its artifact store under $WANDB_DIR/artifacts); every rank writes
its own shard and upserts it, rank 0 finishes after a barrier. Checks ONE version
with exactly the 4 shards, each digest the base64 MD5 of the shard's bytes, the
stored blobs byte for byte; then a second job uses "shards:latest", downloads it
byte for byte and is recorded as the version's consumer.

Both run online: the aggregator also saves the version in a real wandb-mpi-server (the
files streamed from its store) and the server must show the same version, files, digest
and consumer.

--big (label slow): 2 ranks with a 512 MiB shard each (1 GiB in all): the same
checks, the blobs stored once (a second identical job adds no version and no
blob), and the peak RSS (VmHWM) of every rank and of the aggregator process,
which must stay far below the data size.
"""
import base64
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_mpi_job import BIN, fail, get, mpi_env, start_server  # noqa: E402


def md5_b64(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return base64.b64encode(h.digest()).decode()


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


class AggregatorHwm(threading.Thread):
    """Polls the VmHWM of the wandb-mpi-aggregator processes whose command line names dir."""

    def __init__(self, wandb_dir):
        super().__init__(daemon=True)
        self.dir, self.hwm_kb, self.stop = wandb_dir, 0, False

    def run(self):
        while not self.stop:
            for status in glob.glob("/proc/[0-9]*/status"):
                pid_dir = os.path.dirname(status)
                try:
                    cmd = open(f"{pid_dir}/cmdline", "rb").read().split(b"\0")
                    if not cmd or not cmd[0].endswith(b"wandb-mpi-aggregator"):
                        continue
                    if self.dir.encode() not in b" ".join(cmd):
                        continue
                    for line in open(status):
                        if line.startswith("VmHWM:"):
                            self.hwm_kb = max(self.hwm_kb, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.2)


def launch(env, np, *args, timeout=600):
    offline = [] if env.get("WANDB_BASE_URL") else ["--offline"]
    cmd = [f"{BIN}/wandb-mpirun", *offline, "-np", str(np), "--oversubscribe",
           f"{BIN}/mpi_artifact", *args]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        fail(f"{' '.join(args)}: launcher exited {p.returncode}\nstderr:\n{p.stderr}")
    return p


def rank_hwm(stderr):
    return {int(l.split()[2]): int(l.split()[4]) for l in stderr.splitlines()
            if l.startswith("mpi_artifact: rank ") and "VmHWM" in l}


def check_version(store, work, np):
    vdir = os.path.join(store, "uncategorized", "shards")
    versions = sorted(d for d in os.listdir(vdir) if d.startswith("v"))
    if versions != ["v0"]:
        fail(f"want exactly one version, got {versions}")
    manifest = json.load(open(os.path.join(vdir, "v0", "manifest.json")))
    contents = manifest["contents"]
    want = {f"shard-{r}.bin" for r in range(np)}
    if set(contents) != want:
        fail(f"manifest holds {sorted(contents)}, want {sorted(want)}")
    for name, entry in contents.items():
        local = os.path.join(work, name)
        if entry["digest"] != md5_b64(local) or entry["size"] != os.path.getsize(local):
            fail(f"{name}: manifest {entry}, file {md5_b64(local)} {os.path.getsize(local)}")
        blob = os.path.join(store, "blobs", entry["digest"].rstrip("=").replace("/", "_")
                            .replace("+", "-"))
        if not same_bytes(blob, local):
            fail(f"{name}: the stored blob differs from the rank's file")
    info = json.load(open(os.path.join(vdir, "v0", "info.json")))
    if len(info["producers"]) != np or info.get("incomplete"):
        fail(f"producers {info['producers']}, incomplete {info.get('incomplete')}")
    return vdir, contents, info


def main():
    big = "--big" in sys.argv
    np, shard_mib = (2, 512) if big else (4, 0)
    tmp = tempfile.mkdtemp(prefix="wbt-mpi-art-")
    wandb_dir, work, out = (os.path.join(tmp, d) for d in ("wd", "work", "out"))
    os.makedirs(work)
    env = mpi_env({"WANDB_DIR": wandb_dir})
    for k in ("WANDB_BASE_URL", "WANDB_PROJECT"):
        env.pop(k, None)
    # online: the version also goes to the real server (streamed from the store), the use too
    os.makedirs(os.path.join(tmp, "srv"))
    server, url, key = start_server(os.path.join(tmp, "srv"))
    env.update({"WANDB_BASE_URL": url, "WANDB_API_KEY": key})
    store = os.path.join(wandb_dir, "artifacts")
    hwm = AggregatorHwm(wandb_dir)
    hwm.start()
    t0 = time.time()
    p = launch(env, np, "produce", work, str(shard_mib))
    produce_s = time.time() - t0
    vdir, contents, info = check_version(store, work, np)
    # the second job: uses and downloads it, and is its consumer
    p2 = launch(env, 1, "consume", out)
    for name in contents:
        if not same_bytes(os.path.join(out, name), os.path.join(work, name)):
            fail(f"download of {name} differs from the rank's file")
    consumers = open(os.path.join(vdir, "v0", "consumers.txt")).read().split()
    if len(consumers) != 1 or consumers[0] in info["producers"]:
        fail(f"consumers {consumers}, producers {info['producers']}")
    journals = sorted(glob.glob(os.path.join(wandb_dir, "journal-*")))
    if not any(consumers[0].encode() in open(f, "rb").read()
               for f in glob.glob(os.path.join(journals[-1], "*"))):
        fail(f"consumer {consumers[0]} is not a run of the second job")
    # the server has the same version, its producers and its consumer
    arts = get(f"{url}/api/v1/artifacts?project=uncategorized", key)["artifacts"]
    seq = [a for a in arts if a["name"] == "shards" and a["kind"] == "SEQUENCE"]
    if len(seq) != 1 or len(seq[0]["versions"]) != 1:
        fail(f"the server's artifacts: {arts}")
    v = seq[0]["versions"][0]
    used = [u["name"] for u in v["used_by"]]
    if (v["state"] != "COMMITTED" or v["file_count"] != np or v["digest"] != info["digest"]
            or used != consumers):
        fail(f"the server's version: {v}, consumers {consumers}, local digest {info['digest']}")
    files = get(f"{url}/api/v1/artifacts/shards/v0/files?project=uncategorized", key)["files"]
    if {f["path"]: f["digest"] for f in files} != {n: e["digest"] for n, e in contents.items()}:
        fail(f"the server's files {files}")
    if big:
        blobs_before = sorted(os.listdir(os.path.join(store, "blobs")))
        launch(env, np, "produce", work, str(shard_mib))  # the same bytes again
        versions = [d for d in os.listdir(vdir) if d.startswith("v")]
        blobs = sorted(os.listdir(os.path.join(store, "blobs")))
        if versions != ["v0"] or blobs != blobs_before or len(blobs) != np:
            fail(f"stored once: versions {versions}, blobs {len(blobs_before)} -> {len(blobs)}")
        if os.listdir(os.path.join(store, "tmp")):
            fail("temporary files left behind")
        arts = get(f"{url}/api/v1/artifacts?project=uncategorized", key)["artifacts"]
        seq = [a for a in arts if a["name"] == "shards" and a["kind"] == "SEQUENCE"]
        if len(seq[0]["versions"]) != 1:
            fail(f"the server made another version of the same bytes: {seq[0]['versions']}")
    hwm.stop = True
    hwm.join()
    server.terminate()
    server.wait(timeout=15)
    ranks = rank_hwm(p.stderr)
    total_mib = np * max(shard_mib, 1)
    print(f"artifact of {np} shards ({total_mib} MiB) committed in {produce_s:.1f} s; "
          f"peak RSS: ranks {ranks} kB, aggregator {hwm.hwm_kb} kB; consumer {consumers[0]}")
    if big and (max(ranks.values()) > 200 * 1024 or hwm.hwm_kb > 200 * 1024):
        fail(f"memory not bounded: ranks {ranks} kB, aggregator {hwm.hwm_kb} kB")
    subprocess.run(["rm", "-rf", tmp])
    print("ok")


if __name__ == "__main__":
    main()
