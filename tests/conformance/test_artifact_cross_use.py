#!/usr/bin/env python3
# test_artifact_cross_use.py - our C side uses what the official Python client logged
# SPDX-License-Identifier: MIT
#
# usage: test_artifact_cross_use.py PATH/TO/wandb-mpi-server PATH/TO/c_use_artifact
#
# The official Python client (tests/conformance/.venv) logs a dataset (two files, one in a
# subdirectory) and a model into a real wandb-mpi-server. Then c_use_artifact (our C API,
# in-process aggregator with its own empty WANDB_DIR: the version is only in the server)
# uses "py-data:latest", downloads it and use_models "py-model:v0": the bytes must be the
# ones Python logged, the type and version the server's, and the server must record the C
# run as a consumer of both. Exit: 0 passed, 1 failed, 77 skipped (no .venv).
import hashlib
import json
import os
import subprocess
import sys

import harness as h

VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
PY = r'''
import os, sys, wandb
src = sys.argv[1]
run = wandb.init(project="art-cross-use", job_type="produce", name="py-producer")
art = wandb.Artifact("py-data", type="dataset")
art.add_file(os.path.join(src, "a.bin"), name="a.bin")
art.add_file(os.path.join(src, "b.txt"), name="sub/b.txt")
run.log_artifact(art)
run.log_model(os.path.join(src, "model.pt"), name="py-model")
run.finish()
'''
FILES = {"a.bin": bytes((i * 7919) & 0xFF for i in range(300000)), "sub/b.txt": b"from python\n"}
MODEL = b"python weights\n"


def main():
    if len(sys.argv) < 3 or not os.path.exists(VENV_PY) or not os.access(sys.argv[2], os.X_OK):
        print("SKIP: no official client (tests/conformance/install.sh) or no driver")
        return 77
    tmp = h.make_tmp("wbt-artcruse-")
    ok = False
    srv = h.Server(sys.argv[1], tmp)
    try:
        src = os.path.join(tmp, "src")
        os.makedirs(src)
        with open(os.path.join(src, "a.bin"), "wb") as f:
            f.write(FILES["a.bin"])
        with open(os.path.join(src, "b.txt"), "wb") as f:
            f.write(FILES["sub/b.txt"])
        with open(os.path.join(src, "model.pt"), "wb") as f:
            f.write(MODEL)
        script = os.path.join(tmp, "produce.py")
        with open(script, "w") as f:
            f.write(PY)
        env_py = h.client_env(tmp)
        env_py.update({"WANDB_BASE_URL": srv.url, "WANDB_API_KEY": srv.key})
        rc, out, err = h.run_client([VENV_PY, script, src], env_py, tmp, 240,
                                    os.path.join(tmp, "py"))
        if rc != 0:
            print("FAIL: the official client exited %s:\n%s" % (rc, err[-3000:]))
            return 1
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "WANDB_BASE_URL": srv.url,
               "WANDB_API_KEY": srv.key, "WANDB_PROJECT": "art-cross-use",
               "WANDB_DIR": os.path.join(tmp, "wd")}
        p = subprocess.run([sys.argv[2], "py-data:latest", "py-model:v0",
                            os.path.join(tmp, "dl"), "a.bin", "sub/b.txt"],
                           env=env, capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            print("FAIL: c_use_artifact exited %s: %s%s" % (p.returncode, p.stdout, p.stderr))
            return 1
        got = json.loads(p.stdout.strip().splitlines()[-1])
        problems = []
        for name, data in FILES.items():
            path = got["files"].get(name)
            have = open(path, "rb").read() if path and os.path.exists(path) else None
            if have != data:
                problems.append("%s: %s bytes, want %d" % (
                    name, None if have is None else len(have), len(data)))
        model = got["model"]
        if not model or open(model, "rb").read() != MODEL:
            problems.append("use_model gave %r, not the Python model's bytes" % model)
        if got["type"] != "dataset" or got["version"] != "v0":
            problems.append("type/version %s %s" % (got["type"], got["version"]))
        arts = srv.get("/api/v1/artifacts?project=art-cross-use")
        for name in ("py-data", "py-model"):
            seq = [a for a in arts["artifacts"] if a["name"] == name and a["kind"] == "SEQUENCE"]
            used = [u["name"] for v in seq[0]["versions"] for u in v["used_by"]] if seq else []
            if got["run"] not in used:
                problems.append("the C run %s is not a consumer of %s: %s" % (
                    got["run"], name, used))
        if problems:
            print("FAIL:\n  " + "\n  ".join(problems))
            return 1
        ok = True
        print("ok: our C side used what the official client logged, byte for byte")
        return 0
    finally:
        srv.stop()
        h.cleanup(tmp, ok)


if __name__ == "__main__":
    sys.exit(main())
