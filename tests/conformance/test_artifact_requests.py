#!/usr/bin/env python3
# test_artifact_requests.py - our artifact requests against the official Python client's
# SPDX-License-Identifier: MIT
#
# usage: test_artifact_requests.py PATH/TO/wandb-mpi-server PATH/TO/model_registry
#
# 1. Starts the real server (--record-requests) and runs examples/model_registry (our public C
#    API, in-process aggregator, online): log_model with an alias, link_model, use_model. The
#    aggregator's backend client saves the version, links it and records the use with the
#    official requests.
# 2. Compares them field by field with the official client's captured artifact requests
#    (captures/python_artifacts.jsonl, recorded by test_artifacts.py): for every operation both
#    send, the same variables (recursively inside `input` objects and lists), each with the same
#    JSON type (null where the official client sends null); every variable the official client
#    always sends is there and none it never sends; uploads carry no credentials.
# 3. Proves that the comparison bites: a mutated copy of our requests (a variable dropped, a
#    type changed, an unknown one added) must fail it.
# Exit: 0 passed, 1 failed, 77 skipped (no server or driver).
import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from test_compare_requests import Server, load_requests  # noqa: E402

SKIP = 77
CAPTURE = os.path.join(HERE, "captures", "python_artifacts.jsonl")
OPS = ["CreateArtifact", "CreateArtifactManifest", "CreateArtifactFiles", "CommitArtifact",
       "ArtifactMembershipByName", "UseArtifact", "LinkArtifact"]
# Differences that stay, with the reason (docs/artifacts.md, "From the ranks").
ALLOWED = {
    ("ArtifactMembershipByName", "includeAliases"):
        "the official public API may ask for aliases; we only need the version's id",
}


def jtype(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
            float: "number", type(None): "null"}[type(v)]


def shapes(reqs):
    """Per operation: {path: set of JSON types} over every request, and the paths per request."""
    out = {}
    for r in reqs:
        if r["op"] not in OPS or not isinstance(r["body"], dict):
            continue
        per = out.setdefault(r["op"], {"types": {}, "each": []})
        seen = set()

        def walk(v, path):
            per["types"].setdefault(path, set()).add(jtype(v))
            seen.add(path)
            if isinstance(v, dict):
                for k, x in v.items():
                    walk(x, f"{path}.{k}")
            elif isinstance(v, list):
                for x in v:
                    walk(x, f"{path}[]")

        for k, v in (r["body"].get("variables") or {}).items():
            walk(v, k)
        per["each"].append(seen)
    return out


def compare(ours, theirs):
    """Differences between our request shapes and the official ones, as text lines."""
    diffs = []
    for op in OPS:
        if op not in theirs:
            continue
        if op not in ours:
            diffs.append(f"{op}: never sent by us")
            continue
        t, o = theirs[op], ours[op]
        always = set.intersection(*t["each"])
        for path in sorted(always - set(o["types"])):
            if (op, path.split(".")[-1]) not in ALLOWED:
                diffs.append(f"{op}: variable {path} missing")
        for path in sorted(set(o["types"]) - set(t["types"])):
            diffs.append(f"{op}: variable {path} is not one the official client sends")
        for path in sorted(set(o["types"]) & set(t["types"])):
            bad = o["types"][path] - t["types"][path] - ({"null"} if "null" in t["types"][path]
                                                          else set())
            # an empty list is a list of nothing: its elements' types are not known
            if bad and not (bad == {"null"} and "string" in t["types"][path]):
                diffs.append(f"{op}: {path} is {sorted(bad)}, the official client sends "
                             f"{sorted(t['types'][path])}")
    return diffs


def main():
    if len(sys.argv) < 3 or not os.access(sys.argv[1], os.X_OK) or \
            not os.access(sys.argv[2], os.X_OK):
        print("SKIP: server or driver not built")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="wbt-artreq-")
    srv = Server(sys.argv[1], tmp, "srv")
    try:
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": tmp, "WANDB_BASE_URL": srv.url,
               "WANDB_API_KEY": srv.key, "WANDB_PROJECT": "art-conf",
               "WANDB_DIR": os.path.join(tmp, "wd")}
        p = subprocess.run([sys.argv[2], work], env=env, capture_output=True, text=True,
                           timeout=120)
        if p.returncode != 0:
            print(f"FAIL: model_registry exited {p.returncode}: {p.stderr}")
            return 1
    finally:
        srv.stop()
    ours_reqs = srv.requests()
    theirs = shapes(load_requests(CAPTURE))
    ours = shapes(ours_reqs)
    diffs = compare(ours, theirs)
    for op in OPS:
        print(f"{op}: ours {len(ours.get(op, {}).get('each', []))}, "
              f"official {len(theirs.get(op, {}).get('each', []))}")
    for r in ours_reqs:
        if r["method"] == "PUT" and any(k.lower() == "authorization" for k in r["headers"]):
            diffs.append(f"upload {r['path']} carries credentials")
    puts = [r for r in ours_reqs if r["method"] == "PUT" and "/artifact-blobs/" in r["path"]]
    if len(puts) < 2:
        diffs.append(f"want the file and the manifest uploads, got {len(puts)}")
    if diffs:
        print("FAIL:\n  " + "\n  ".join(diffs))
        return 1
    # the comparison bites
    for mutate, what in ((lambda v: v["input"].pop("digest"), "a variable dropped"),
                         (lambda v: v["input"].update(digestAlgorithm=5), "a type changed"),
                         (lambda v: v.update(extra=1), "an unknown variable")):
        bad = copy.deepcopy(ours_reqs)
        for r in bad:
            if r["op"] == "CreateArtifact":
                mutate(r["body"]["variables"])
        if not compare(shapes(bad), theirs):
            print(f"FAIL: the comparison did not notice {what}")
            return 1
    subprocess.run(["rm", "-rf", tmp])
    print("ok: our artifact requests match the official client's, field by field")
    return 0


if __name__ == "__main__":
    sys.exit(main())
