#!/usr/bin/env python3
# test_artifacts.py - the official Python client's artifact calls against wandb-mpi-server
# SPDX-License-Identifier: MIT
#
# usage: test_artifacts.py [PATH/TO/wandb-mpi-server]   (default: $WANDB_TEST_BIN_DIR/...)
#
# Runs artifact_scenario.py (tests/conformance/.venv) step by step against one server:
#   log (v0, v1, the same content again, log_model), upsert x2 in parallel + finish (one
#   distributed_id), use (latest, v0, entity/project/name:alias, the distributed one,
#   use_model), link (three target forms, link_model), bad (unknown version/alias/name)
# then checks what the SERVER holds (read API, blob store, recorded requests): versions,
# aliases, digests, file counts, bytes equal after download, producer and consumer runs,
# portfolios, deduplicated uploads; and raw GraphQL bad input: an invalid name, a commit
# with a file never uploaded (the version stays PENDING, not listed as committed).
# WANDB_UPDATE_CAPTURES=1 copies the recorded requests to captures/python_artifacts.jsonl and
# the artifact operations' texts to captures/graphql/python/ (docs/artifacts.md).
# Exit: 0 passed, 1 failed, 77 skipped (no .venv: run tests/conformance/install.sh).
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys

import harness as h

PROJECT = "art-conf"
VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
ART_OPS = {"ArtifactType", "CreateArtifact", "CreateArtifactManifest", "CreateArtifactFiles",
           "UpdateArtifactManifest", "CommitArtifact", "ArtifactByID", "UseArtifact",
           "LinkArtifact", "ArtifactMembershipByName", "FetchArtifactManifest",
           "GetArtifactMembershipFileUrls"}


def wandb_digest(files):
    """The W&B artifact digest (WANDB_PROTOCOL.md 7.1) of {path: md5 hex}."""
    text = "wandb-artifact-manifest-v1\n"
    for path in sorted(files):
        text += "%s:%s\n" % (path, base64.b64encode(bytes.fromhex(files[path])).decode())
    return hashlib.md5(text.encode()).hexdigest()


def step(srv, tmp, name, *extra, background=False):
    argv = [VENV_PY, os.path.join(h.HERE, "artifact_scenario.py"), name, "--base-url", srv.url,
            "--api-key", srv.key, "--project", PROJECT, "--workdir", os.path.join(tmp, "client"),
            "--out", os.path.join(tmp, "%s%s.json" % (name, "".join(extra)))] + list(extra)
    if background:
        return subprocess.Popen(argv, env=h.client_env(tmp), cwd=tmp, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
    return h.run_client(argv, h.client_env(tmp), tmp, 240, os.path.join(tmp, name))


def load(tmp, name):
    with open(os.path.join(tmp, name + ".json")) as f:
        return json.load(f)


def gql(srv, op, query, variables):
    body = json.dumps({"operationName": op, "query": query, "variables": variables}).encode()
    status, data = srv.request("/graphql", method="POST", body=body)
    return status, json.loads(data.decode())


def scenario(ck):
    binary = h.server_binary()
    if not os.access(VENV_PY, os.X_OK):
        h.skip("the pinned Python client is not installed (%s missing)" % VENV_PY)
    tmp = h.make_tmp("wbconf-art-")
    srv = h.Server(binary, tmp)
    ok = False
    try:
        rc, _, err = step(srv, tmp, "log")
        if not ck.equal("log step exit status", rc, 0):
            print(err[-3000:] + srv.stderr()[-2000:])
            return
        procs = [step(srv, tmp, "upsert", "--shard", str(i), background=True) for i in (0, 1)]
        for i, p in enumerate(procs):
            try:
                p.wait(180)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait(5)
            ck.equal("upsert shard %d exit status" % i, p.returncode, 0)
        for name in ("finish", "use", "link", "bad"):
            rc, _, err = step(srv, tmp, name)
            if not ck.equal("%s step exit status" % name, rc, 0):
                print(err[-3000:] + srv.stderr()[-2000:])
                return
        check_all(ck, srv, tmp)
        ok = ck.failed == 0
    finally:
        rc = srv.stop()
        ck.equal("server exits 0 on SIGTERM", rc, 0)
        h.cleanup(tmp, ok and ck.failed == 0)


def check_all(ck, srv, tmp):
    log, use, link, bad = (load(tmp, n) for n in ("log", "use", "link", "bad"))
    shards = [load(tmp, "upsert--shard%d" % i) for i in (0, 1)]
    fin = load(tmp, "finish")
    arts = srv.get("/api/v1/artifacts?project=" + PROJECT)["artifacts"]
    by = {(a["project"], a["name"]): a for a in arts}
    ck.check("read API lists dataset-a, model-a, shards, inc-a", all(
        (PROJECT, n) in by for n in ("dataset-a", "model-a", "shards", "inc-a")), sorted(by))
    # log_artifact: two versions, aliases, digests as the client computed, producer run
    ds = by.get((PROJECT, "dataset-a"), {"versions": []})
    vs = ds["versions"]
    ck.equal("dataset-a: versions", [v["version"] for v in vs], ["v0", "v1"])
    ck.equal("dataset-a: states", [v["state"] for v in vs], ["COMMITTED"] * 2)
    ck.equal("dataset-a: aliases", [v["aliases"] for v in vs], [["best"], ["latest"]])
    ck.equal("dataset-a: type", ds.get("type"), "dataset")
    for i, key in enumerate(("v0", "v1")):
        if i >= len(vs):
            break
        files = log[key]["files"]
        ck.equal("dataset-a:%s digest == the client's" % key, vs[i]["digest"], log[key]["digest"])
        ck.equal("dataset-a:%s digest == W&B rule" % key, vs[i]["digest"],
                 wandb_digest({p: f["md5"] for p, f in files.items()}))
        ck.equal("dataset-a:%s file count" % key, vs[i]["file_count"], 3)
        ck.equal("dataset-a:%s size" % key, vs[i]["size"],
                 sum(f["size"] for f in files.values()))
        ck.equal("dataset-a:%s producer" % key, vs[i]["created_by"], log["run"])
        ck.check("dataset-a:%s consumer is the use run" % key,
                 use["run"] in [u["name"] for u in vs[i]["used_by"]], vs[i]["used_by"])
    ck.equal("same content again: no new version", log["again"]["version"], "v1")
    # deduplication: big.bin (same bytes in v0 and v1) uploaded once, stored once
    recs = srv.recorded()
    big = log["v0"]["files"]["big.bin"]["md5"]
    puts = [r for r in recs if r["method"] == "PUT" and r["path"].endswith("/file/" + big)]
    ck.equal("big.bin uploaded once for v0 and v1", len(puts), 1)
    blob = os.path.join(srv.dir, "artifacts", "blobs", big[:2], big)
    ck.check("big.bin stored once, content-addressed", os.path.isfile(blob), blob)
    # the distributed artifact: one version with every process's files
    sh = by.get((PROJECT, "shards"), {"versions": []})["versions"]
    ck.equal("shards: one committed version", [(v["version"], v["state"]) for v in sh],
             [("v0", "COMMITTED")])
    want = {s["name"]: s["file"]["md5"] for s in shards}
    want["finish.txt"] = fin["file"]["md5"]
    files = srv.get("/api/v1/artifacts/shards/v0/files?project=" + PROJECT)
    ck.equal("shards:v0 files", {f["path"]: f["md5"] for f in files["files"]}, want)
    if sh:
        ck.equal("shards:v0 digest == W&B rule over the merged files", sh[0]["digest"],
                 wandb_digest(want))
        ck.equal("shards:v0 distributed id", sh[0]["distributed_id"], "dist-1")
    for f in files["files"]:
        status, data = srv.request(f["url"][len(srv.url):])
        ck.check("read API download of %s: bytes equal" % f["path"],
                 status == 200 and hashlib.md5(data).hexdigest() == f["md5"], status)
    status, _ = srv.request("/api/v1/artifacts?project=" + PROJECT, auth="none")
    ck.equal("read API without a key", status, 401)
    # use_artifact + download: bytes equal, versions resolved
    got = use["got"]
    ck.equal("use dataset-a:latest -> v1", got["dataset-a:latest"]["version"], "v1")
    ck.equal("use dataset-a:v0 -> v0", got["dataset-a:v0"]["version"], "v0")
    full = "%s/%s/dataset-a:best" % (use["entity"], PROJECT)
    ck.equal("use entity/project/dataset-a:best -> v0", got[full]["version"], "v0")
    for ref, key in (("dataset-a:latest", "v1"), ("dataset-a:v0", "v0"), (full, "v0")):
        ck.equal("download %s: bytes equal" % ref, got[ref]["files"],
                 {p: f["md5"] for p, f in log[key]["files"].items()})
    ck.equal("download shards:latest: bytes equal", got["shards:latest"]["files"], want)
    inc = {p: f["md5"] for p, f in log["inc"].items()}
    ck.equal("incremental inc-a:v1 holds v0's files and its own",
             {f["path"]: f["md5"] for f in srv.get("/api/v1/artifacts/inc-a/v1/files?project="
                                                   + PROJECT)["files"]}, inc)
    ck.equal("download inc-a:v1: bytes equal", got["inc-a:v1"]["files"], inc)
    ck.equal("use_model: bytes equal", got["model-a:latest"]["path_md5"], log["model"]["md5"])
    # link_artifact: three target forms, link_model
    for p in ("portfolio-a", "portfolio-b", "portfolio-c"):
        members = by.get((PROJECT, p), {"versions": []})["versions"]
        ck.equal("%s: dataset-a:v1 linked as v0" % p,
                 [(m["version"], m["source"], m["source_version"]) for m in members],
                 [("v0", "dataset-a", "v1")])
    pa = by.get((PROJECT, "portfolio-a"), {"versions": [{}]})["versions"]
    ck.equal("portfolio-a aliases", pa[0].get("aliases") if pa else None, ["latest", "staging"])
    ck.equal("download of the linked portfolio-a:staging: bytes of dataset-a:v1",
             link["linked_files"], {p: f["md5"] for p, f in log["v1"]["files"].items()})
    ck.equal("link_model returned", link["link_model"], "ok")
    reg = [a for a in srv.get("/api/v1/artifacts")["artifacts"]
           if a["name"] == "reg-model" and a["kind"] == "PORTFOLIO"]
    ck.equal("link_model: reg-model portfolio holds model-b:v0",
             [(m["source"], m["source_version"]) for a in reg for m in a["versions"]],
             [("model-b", "v0")])
    # bad input from the client
    for ref, msg in bad["errors"].items():
        ck.check("bad input '%s' raised" % ref, msg is not None and msg != "", msg)
    for ref in ("dataset-a:v99", "dataset-a:no-such-alias"):
        ck.check("'%s': error names it" % ref, ref in (bad["errors"][ref] or ""),
                 bad["errors"][ref])
    check_cli(ck, srv, arts)
    check_raw_bad_input(ck, srv)
    save_captures(recs, tmp)


def check_cli(ck, srv, arts):
    """`wandb-mpi artifacts --json` prints what the read API answers; the table names them."""
    cli = os.path.join(os.path.dirname(h.server_binary()), "..", "cli", "wandb-mpi")
    if not os.access(cli, os.X_OK):
        ck.check("wandb-mpi CLI built", False, cli)
        return
    out = subprocess.run([cli, "artifacts", "--dir", srv.dir, "--project", PROJECT, "--json"],
                         capture_output=True, text=True, timeout=30)
    ck.equal("wandb-mpi artifacts --json exit status", out.returncode, 0)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    ck.equal("wandb-mpi artifacts --json == GET /api/v1/artifacts", lines, arts)
    table = subprocess.run([cli, "artifacts", "--dir", srv.dir, "--project", PROJECT],
                           capture_output=True, text=True, timeout=30).stdout
    ck.check("wandb-mpi artifacts table shows dataset-a v0 and v1",
             "%s/dataset-a" % PROJECT in table and " v1 " in table and " best " in table, table)


def check_raw_bad_input(ck, srv):
    """GraphQL without the client: invalid names, a commit with a file never uploaded."""
    create = ("mutation CreateArtifact($input: CreateArtifactInput!) { createArtifact(input: "
              "$input) { artifact { id state } } }")
    base = {"entityName": "local", "projectName": PROJECT, "artifactTypeName": "dataset",
            "digest": "0" * 32, "aliases": [{"artifactCollectionName": "x", "alias": "latest"}]}
    for bad in ("a/b/c", "bad name", "x" * 129, "semi;colon"):
        _, r = gql(srv, "CreateArtifact", create, {"input": dict(base,
                                                                 artifactCollectionName=bad)})
        msg = (r.get("errors") or [{}])[0].get("message", "")
        ck.check("CreateArtifact refuses name %r with a clear error" % bad[:20],
                 "invalid artifact name" in msg and r.get("data") is None, msg)
    _, r = gql(srv, "CreateArtifact", create, {"input": dict(base,
                                                             artifactCollectionName="half")})
    art = (((r.get("data") or {}).get("createArtifact") or {}).get("artifact") or {})
    ck.equal("CreateArtifact 'half' is PENDING", art.get("state"), "PENDING")
    man = ("mutation CreateArtifactManifest($artifactID: ID!, $name: String!, $digest: String!,"
           " $includeUpload: Boolean!) { createArtifactManifest(input: {artifactID: $artifactID,"
           " name: $name, digest: $digest, includeUpload: $includeUpload}) { artifactManifest {"
           " id file { uploadUrl } } } }")
    _, r = gql(srv, "CreateArtifactManifest", man, {"artifactID": art.get("id"), "name":
                                                    "wandb_manifest.json", "digest": "",
                                                    "includeUpload": True})
    url = r["data"]["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    manifest = {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                "storagePolicyConfig": {"storageLayout": "V2"},
                "contents": {"never.bin": {"digest": base64.b64encode(
                    hashlib.md5(b"never uploaded").digest()).decode(), "size": 14}}}
    status, _ = srv.request(url[len(srv.url):], auth="none", method="PUT",
                            body=json.dumps(manifest).encode())
    ck.equal("manifest PUT", status, 200)
    commit = ("mutation CommitArtifact($artifactID: ID!) { commitArtifact(input: {artifactID: "
              "$artifactID}) { artifact { id digest } } }")
    _, r = gql(srv, "CommitArtifact", commit, {"artifactID": art.get("id")})
    msg = (r.get("errors") or [{}])[0].get("message", "")
    ck.check("commit with a file never uploaded fails, naming it",
             "never.bin" in msg and "never uploaded" in msg, msg)
    half = [a for a in srv.get("/api/v1/artifacts?project=" + PROJECT)["artifacts"]
            if a["name"] == "half"]
    ck.equal("'half' stays PENDING without a version",
             [(v["state"], v["version"]) for a in half for v in a["versions"]],
             [("PENDING", None)])
    # An upload whose bytes do not match its MD5: 400, nothing stored; a wrong token: 403.
    files = ("mutation CreateArtifactFiles($artifactFiles: [CreateArtifactFileSpecInput!]!) {"
             " createArtifactFiles(input: {}) { files { edges { node { uploadUrl } } } } }")
    want_md5 = hashlib.md5(b"the announced bytes").digest()
    _, r = gql(srv, "CreateArtifactFiles", files, {"artifactFiles": [{
        "artifactID": art.get("id"), "name": "x.bin",
        "md5": base64.b64encode(want_md5).decode()}]})
    up = r["data"]["createArtifactFiles"]["files"]["edges"][0]["node"]["uploadUrl"]
    status, data = srv.request(up[len(srv.url):], auth="none", method="PUT", body=b"other bytes")
    ck.check("PUT of bytes that do not match the MD5: 400 naming both digests",
             status == 400 and want_md5.hex().encode() in data, (status, data[:200]))
    blob = os.path.join(srv.dir, "artifacts", "blobs", want_md5.hex()[:2], want_md5.hex())
    ck.check("mismatched upload not stored", not os.path.exists(blob), blob)
    parts = up[len(srv.url):].split("/")
    parts[2] = "x" * len(parts[2])
    status, _ = srv.request("/".join(parts), auth="none", method="PUT", body=b"x")
    ck.equal("PUT with a wrong upload token", status, 403)
    status, _ = srv.request("/api/v1/artifacts/dataset-a/v99/files?project=" + PROJECT)
    ck.equal("read API: files of an unknown version", status, 404)
    _, r = gql(srv, "ArtifactMembershipByName", "query ArtifactMembershipByName($entity: String!,"
               " $project: String!, $name: String!) { project(name: $project, entityName: $entity)"
               " { artifactCollectionMembership(name: $name) { id } } }",
               {"entity": "local", "project": PROJECT, "name": "half:latest"})
    ck.check("a PENDING version is not found by alias", bool(r.get("errors")), r)


def save_captures(recs, tmp):
    """The recorded requests of the scenario (capture for the C side's comparison)."""
    path = os.path.join(tmp, "python_artifacts.jsonl")
    with open(path, "w") as f:
        for r in recs:
            agent = {k.lower(): v for k, v in (r.get("headers") or {}).items()}.get(
                "user-agent", "")
            if not agent.startswith("Python-urllib"):  # the client's requests only
                f.write(json.dumps(r, sort_keys=True) + "\n")
    if os.environ.get("WANDB_UPDATE_CAPTURES") != "1":
        return
    dest = os.path.join(h.HERE, "captures")
    shutil.copy(path, os.path.join(dest, "python_artifacts.jsonl"))
    seen = set()
    for r in recs:
        op = r.get("operationName")
        body = r.get("body")
        if op in ART_OPS and op not in seen and isinstance(body, dict):
            seen.add(op)
            with open(os.path.join(dest, "graphql", "python", op + ".graphql"), "w") as f:
                f.write(body.get("query", "").strip() + "\n")
    print("captures updated in %s" % dest, flush=True)


def main():
    ck = h.Checker("test_artifacts")
    ck.run(scenario, ck)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
