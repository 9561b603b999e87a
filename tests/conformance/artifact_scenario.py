#!/usr/bin/env python3
# artifact_scenario.py - drive the official Python `wandb` SDK through the artifact calls
# SPDX-License-Identifier: MIT
#
# usage: artifact_scenario.py STEP --base-url URL --api-key KEY --project P --workdir DIR
#                             --out FILE [--distributed-id ID] [--shard N]
#
# Steps (each one process, each its own run; test_artifacts.py runs them in order):
#   log     log_artifact "dataset-a" (3 files, alias "best") -> v0; changed content -> v1;
#           the v1 content again (deduplicated: still v1); "inc-a" v0 (2 files) and an
#           incremental v1 (1 more file); log_model "model-a"
#   upsert  upsert_artifact "shards" with file shard-N.bin (run group = distributed id)
#   finish  finish_artifact "shards" with file finish.txt
#   use     use_artifact "dataset-a:latest", ":v0", "<entity>/<project>/dataset-a:best",
#           "shards:latest" and download each; use_model "model-a:latest"
#   link    link_artifact dataset-a:v1 to "{portfolio}", "{project}/{portfolio}",
#           "{entity}/{project}/{portfolio}"; use + download "portfolio-a:staging"; link_model
#   bad     invalid name, unknown version, unknown alias: each must raise; writes the messages
# Writes ONE JSON document to --out: what the server must now hold (names, versions, files
# with md5 and size, the downloaded files' md5, the error messages).
import argparse
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_scenario import client_env  # noqa: E402


def md5_of(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return {"md5": hashlib.md5(data).hexdigest(), "size": len(data)}


def tree(root):
    """{relative path: md5} of every file under root."""
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, root)] = md5_of(p)
    return out


def step_log(wandb, args, work, out):
    run = wandb.init(project=args.project, job_type="produce", name="producer")
    src = os.path.join(work, "src")
    files = {"a.txt": b"alpha\n", "sub/b.csv": b"x,y\n1,2\n", "big.bin": os.urandom(1 << 20)}
    art = wandb.Artifact("dataset-a", type="dataset", description="first",
                         metadata={"rows": 2, "source": "conformance"})
    want = {}
    for name, data in files.items():
        want[name] = write(os.path.join(src, "v0", name), data)
    art.add_dir(os.path.join(src, "v0"))
    run.log_artifact(art, aliases=["best"]).wait()
    out["v0"] = {"files": want, "digest": art.digest, "version": art.version}
    # v1: one file changed, the others the same (stored once)
    files["a.txt"] = b"alpha, changed\n"
    want1 = {}
    for name, data in files.items():
        want1[name] = write(os.path.join(src, "v1", name), data)
    art1 = wandb.Artifact("dataset-a", type="dataset", description="second")
    art1.add_dir(os.path.join(src, "v1"))
    run.log_artifact(art1).wait()
    out["v1"] = {"files": want1, "digest": art1.digest, "version": art1.version}
    # the same content again: no new version
    art2 = wandb.Artifact("dataset-a", type="dataset")
    art2.add_dir(os.path.join(src, "v1"))
    run.log_artifact(art2).wait()
    out["again"] = {"digest": art2.digest, "version": art2.version}
    # incremental: v1 sends only the added file; the server keeps v0's files in it
    inc = {}
    for step, names in enumerate((["a.txt", "b.txt"], ["c.txt"])):
        art_inc = wandb.Artifact("inc-a", type="dataset", incremental=step == 1)
        for name in names:
            inc[name] = write(os.path.join(src, "inc", name), name.encode() * 3)
            art_inc.add_file(os.path.join(src, "inc", name))
        run.log_artifact(art_inc).wait()
    out["inc"] = inc
    model = os.path.join(src, "model.pt")
    out["model"] = write(model, os.urandom(4096))
    run.log_model(model, name="model-a", aliases=["prod"])
    out["run"] = run.id
    run.finish()


def step_upsert(wandb, args, work, out):
    run = wandb.init(project=args.project, group=args.distributed_id, job_type="shard",
                     name="shard-%d" % args.shard)
    art = wandb.Artifact("shards", type="dataset")
    path = os.path.join(work, "shard-%d.bin" % args.shard)
    out["file"] = write(path, os.urandom(200000 + args.shard))
    out["name"] = "shard-%d.bin" % args.shard
    art.add_file(path)
    run.upsert_artifact(art, distributed_id=args.distributed_id)
    out["run"] = run.id
    run.finish()


def step_finish(wandb, args, work, out):
    run = wandb.init(project=args.project, group=args.distributed_id, job_type="finish",
                     name="finisher")
    art = wandb.Artifact("shards", type="dataset")
    path = os.path.join(work, "finish.txt")
    out["file"] = write(path, b"finished\n")
    art.add_file(path)
    run.finish_artifact(art, distributed_id=args.distributed_id)
    out["run"] = run.id
    run.finish()


def step_use(wandb, args, work, out):
    run = wandb.init(project=args.project, job_type="consume", name="consumer")
    entity = run.entity
    got = {}
    for ref in ["dataset-a:latest", "dataset-a:v0",
                "%s/%s/dataset-a:best" % (entity, args.project), "shards:latest",
                "inc-a:v1"]:
        art = run.use_artifact(ref)
        root = art.download(root=os.path.join(work, "dl", ref.replace("/", "_")))
        got[ref] = {"version": art.version, "files": tree(root), "digest": art.digest,
                    "type": art.type}
    model_path = run.use_model("model-a:latest")
    got["model-a:latest"] = {"path_md5": md5_of(model_path) if os.path.isfile(model_path)
                             else tree(model_path)}
    out["got"] = got
    out["entity"] = entity
    out["run"] = run.id
    run.finish()


def step_link(wandb, args, work, out):
    run = wandb.init(project=args.project, job_type="link", name="linker")
    art = run.use_artifact("dataset-a:v1")
    run.link_artifact(art, "portfolio-a", aliases=["staging"])
    run.link_artifact(art, "%s/portfolio-b" % args.project)
    run.link_artifact(art, "%s/%s/portfolio-c" % (run.entity, args.project))
    linked = run.use_artifact("portfolio-a:staging")
    out["linked_files"] = tree(linked.download(root=os.path.join(work, "dl-linked")))
    model = os.path.join(work, "linked-model.pt")
    out["model"] = write(model, b"weights" * 100)
    try:
        run.link_model(model, registered_model_name="reg-model", name="model-b")
        out["link_model"] = "ok"
    except Exception as e:  # noqa: BLE001 - reported, the test decides
        out["link_model"] = "error: %s" % e
    out["run"] = run.id
    run.finish()


def step_bad(wandb, args, work, out):
    run = wandb.init(project=args.project, job_type="bad", name="bad-input")
    errors = {}
    for ref in ["dataset-a:v99", "dataset-a:no-such-alias", "no-such-artifact:latest"]:
        try:
            run.use_artifact(ref)
            errors[ref] = None
        except Exception as e:  # noqa: BLE001
            errors[ref] = str(e)
    try:
        art = wandb.Artifact("bad name!", type="dataset")
        path = os.path.join(work, "x.txt")
        write(path, b"x")
        art.add_file(path)
        run.log_artifact(art).wait()
        errors["bad name!"] = None
    except Exception as e:  # noqa: BLE001
        errors["bad name!"] = str(e)
    out["errors"] = errors
    run.finish()


STEPS = {"log": step_log, "upsert": step_upsert, "finish": step_finish, "use": step_use,
         "link": step_link, "bad": step_bad}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=sorted(STEPS))
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--distributed-id", default="dist-1")
    ap.add_argument("--shard", type=int, default=0)
    args = ap.parse_args()
    work = os.path.join(args.workdir, args.step + str(args.shard))
    os.makedirs(work, exist_ok=True)
    os.environ.update(client_env(args.base_url, args.api_key, work, fast=True, silent=False))
    import wandb  # only after the environment is set

    out = {"step": args.step, "wandb_version": wandb.__version__}
    STEPS[args.step](wandb, args, work, out)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
