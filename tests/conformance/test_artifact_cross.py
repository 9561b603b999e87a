#!/usr/bin/env python3
# test_artifact_cross.py - the official Python client uses what our C side produced
# SPDX-License-Identifier: MIT
#
# usage: test_artifact_cross.py PATH/TO/wandb-mpi-server PATH/TO/model_registry
#
# examples/model_registry (our C API, in-process aggregator, online) writes weights.bin and
# logs it with log_model / link_model into a real wandb-mpi-server. Then the official Python
# client (tests/conformance/.venv) does run.use_artifact("demo-weights:candidate").download()
# and run.use_model("demo-weights:latest"): the bytes must be the ones our side wrote, the
# type "model", the digest the one our aggregator computed; and the server records the
# Python run as a consumer. Exit: 0 passed, 1 failed, 77 skipped (no .venv).
import hashlib
import json
import os
import subprocess
import sys

import harness as h

VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
PY = r'''
import hashlib, json, os, sys, wandb
run = wandb.init(project="art-cross", job_type="consume", name="py-consumer")
art = run.use_artifact("demo-weights:candidate")
root = art.download(root=sys.argv[1])
files = {}
for d, _, names in os.walk(root):
    for n in names:
        p = os.path.join(d, n)
        files[os.path.relpath(p, root)] = hashlib.md5(open(p, "rb").read()).hexdigest()
model = run.use_model("demo-weights:latest")
out = {"type": art.type, "version": art.version, "digest": art.digest, "files": files,
       "model_md5": hashlib.md5(open(model, "rb").read()).hexdigest(), "run": run.id}
run.finish()
print(json.dumps(out))
'''


def main():
    if len(sys.argv) < 3 or not os.path.exists(VENV_PY) or not os.access(sys.argv[2], os.X_OK):
        print("SKIP: no official client (tests/conformance/install.sh) or no driver")
        return 77
    tmp = h.make_tmp("wbt-artcross-")
    ok = False
    srv = h.Server(sys.argv[1], tmp)
    try:
        work = os.path.join(tmp, "c")
        os.makedirs(work)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "WANDB_BASE_URL": srv.url,
               "WANDB_API_KEY": srv.key, "WANDB_PROJECT": "art-cross",
               "WANDB_DIR": os.path.join(tmp, "wd")}
        p = subprocess.run([sys.argv[2], work], env=env, capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            print("FAIL: model_registry: %s" % p.stderr)
            return 1
        want = hashlib.md5(open(os.path.join(work, "weights.bin"), "rb").read()).hexdigest()
        script = os.path.join(tmp, "consume.py")
        with open(script, "w") as f:
            f.write(PY)
        env_py = h.client_env(tmp)
        env_py.update({"WANDB_BASE_URL": srv.url, "WANDB_API_KEY": srv.key})
        rc, out, err = h.run_client([VENV_PY, script, os.path.join(tmp, "dl")], env_py, tmp, 240,
                                    os.path.join(tmp, "py"))
        if rc != 0:
            print("FAIL: the official client exited %s:\n%s" % (rc, err[-3000:]))
            return 1
        got = json.loads(out.strip().splitlines()[-1])
        info = json.load(open(os.path.join(tmp, "wd", "artifacts", "art-cross", "demo-weights",
                                           "v0", "info.json")))
        problems = []
        if got["files"] != {"weights.bin": want}:
            problems.append("downloaded %s, want weights.bin %s" % (got["files"], want))
        if got["model_md5"] != want:
            problems.append("use_model gave other bytes")
        if got["type"] != "model" or got["version"] != "v0" or got["digest"] != info["digest"]:
            problems.append("type/version/digest %s %s %s, ours %s" % (
                got["type"], got["version"], got["digest"], info["digest"]))
        arts = srv.get("/api/v1/artifacts?project=art-cross")
        seq = [a for a in arts["artifacts"] if a["name"] == "demo-weights"
               and a["kind"] == "SEQUENCE"]
        used = [u["name"] for v in seq[0]["versions"] for u in v["used_by"]] if seq else []
        if got["run"] not in used:
            problems.append("the Python run %s is not a consumer: %s" % (got["run"], used))
        if problems:
            print("FAIL:\n  " + "\n  ".join(problems))
            return 1
        ok = True
        print("ok: the official client downloaded what our C side logged, byte for byte")
        return 0
    finally:
        srv.stop()
        h.cleanup(tmp, ok)


if __name__ == "__main__":
    sys.exit(main())
