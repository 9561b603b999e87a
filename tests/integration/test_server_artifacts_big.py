#!/usr/bin/env python3
# test_server_artifacts_big.py - a 1 GiB artifact file through wandb-mpi-server, bounded memory
# SPDX-License-Identifier: MIT
#
# usage: test_server_artifacts_big.py [PATH/TO/wandb-mpi-server] [--mib N]
#
# Label `slow` (GiB-sized, not under the sanitizers). Generates an N MiB file (default 1024) in
# chunks, then through the server's HTTP API as the official client does it:
#   CreateArtifact -> CreateArtifactManifest -> CreateArtifactFiles -> PUT (streamed) ->
#   manifest PUT -> CommitArtifact; a second version with the same file: CreateArtifactFiles
#   answers uploadUrl null (not uploaded again); a forced second PUT of the same bytes is read
#   and dropped (the blob keeps its inode and mtime); the download via directUrl streams back
#   the same MD5.
# The server's VmRSS is sampled every 50 ms during the transfers and its VmHWM read from
# /proc/<pid>/status at the end; both must stay under 256 MiB (the file is 1 GiB). Prints
# "peak RSS ..." lines. Exit: 0 passed, 1 failed.
import base64
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))
import harness as h  # noqa: E402

CHUNK = 1 << 20
RSS_LIMIT_KIB = 256 * 1024


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


class Sampler(threading.Thread):
    """Samples a process's VmRSS every 50 ms; max_kib is the largest seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.max_kib, self.stop = pid, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.max_kib = max(self.max_kib, status_kib(self.pid, "VmRSS"))
            except OSError:
                return
            self.stop.wait(0.05)


def gen_file(path, mib):
    """Writes mib MiB of pseudo-random bytes in chunks; returns the MD5 digest."""
    md5 = hashlib.md5()
    block = os.urandom(CHUNK)
    with open(path, "wb") as f:
        for i in range(mib):
            chunk = bytes([i & 0xff]) + block[1:]  # every MiB differs
            md5.update(chunk)
            f.write(chunk)
    return md5.digest()


def gql(srv, op, query, variables):
    body = json.dumps({"operationName": op, "query": query, "variables": variables}).encode()
    status, data = srv.request("/graphql", method="POST", body=body)
    out = json.loads(data.decode())
    if status != 200 or out.get("errors"):
        raise RuntimeError("%s -> %d %s" % (op, status, data[:300]))
    return out["data"]


def put_file(url, path):
    """PUT of a file streamed from disk (no credentials, as the clients upload)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        conn.request("PUT", u.path, body=f, headers={"Content-Length": str(size)})
        resp = conn.getresponse()
        data = resp.read()
    conn.close()
    return resp.status, data


def get_md5(url):
    """GET streamed into an MD5; returns (status, hexdigest, bytes)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    conn.request("GET", u.path)
    resp = conn.getresponse()
    md5, n = hashlib.md5(), 0
    while True:
        chunk = resp.read(CHUNK)
        if not chunk:
            break
        md5.update(chunk)
        n += len(chunk)
    conn.close()
    return resp.status, md5.hexdigest(), n


CREATE = "mutation CreateArtifact($input: CreateArtifactInput!) { createArtifact(input: $input) {" \
         " artifact { id state } } }"
MANIFEST = "mutation CreateArtifactManifest($artifactID: ID!, $name: String!, $digest: String!," \
           " $includeUpload: Boolean!) { createArtifactManifest(input: {}) { artifactManifest {" \
           " id file { uploadUrl } } } }"
FILES = "mutation CreateArtifactFiles($artifactFiles: [CreateArtifactFileSpecInput!]!) {" \
        " createArtifactFiles(input: {}) { files { edges { node { uploadUrl directUrl } } } } }"
COMMIT = "mutation CommitArtifact($artifactID: ID!) { commitArtifact(input: {}) { artifact { id" \
         " digest } } }"


def log_version(ck, srv, path, md5, size, tag):
    """One version with the big file; returns the CreateArtifactFiles node."""
    b64 = base64.b64encode(md5).decode()
    digest = hashlib.md5(("wandb-artifact-manifest-v1\nbig.bin:%s\n" % b64).encode()).hexdigest()
    art = gql(srv, "CreateArtifact", CREATE, {"input": {
        "entityName": "local", "projectName": "big", "artifactCollectionName": "big-" + tag,
        "artifactTypeName": "dataset", "digest": digest,
        "aliases": [{"artifactCollectionName": "big-" + tag, "alias": "latest"}]}})
    aid = art["createArtifact"]["artifact"]["id"]
    gql(srv, "CreateArtifactManifest", MANIFEST, {"artifactID": aid, "name":
                                                  "wandb_manifest.json", "digest": "",
                                                  "includeUpload": False})
    node = gql(srv, "CreateArtifactFiles", FILES, {"artifactFiles": [{
        "artifactID": aid, "name": "big.bin", "md5": b64}]})
    node = node["createArtifactFiles"]["files"]["edges"][0]["node"]
    if node["uploadUrl"]:
        t0 = time.monotonic()
        status, _ = put_file(node["uploadUrl"], path)
        dt = time.monotonic() - t0
        ck.equal("%s: PUT of %d MiB" % (tag, size >> 20), status, 200)
        print("upload %s: %.1f s, %.0f MiB/s" % (tag, dt, (size >> 20) / max(dt, 1e-6)),
              flush=True)
    manifest = json.dumps({"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                           "storagePolicyConfig": {"storageLayout": "V2"},
                           "contents": {"big.bin": {"digest": b64, "size": size}}}).encode()
    m = gql(srv, "CreateArtifactManifest", MANIFEST, {
        "artifactID": aid, "name": "wandb_manifest.json",
        "digest": base64.b64encode(hashlib.md5(manifest).digest()).decode(),
        "includeUpload": True})
    url = m["createArtifactManifest"]["artifactManifest"]["file"]["uploadUrl"]
    status, _ = srv.request(url[len(srv.url):], auth="none", method="PUT", body=manifest)
    ck.equal("%s: manifest PUT" % tag, status, 200)
    c = gql(srv, "CommitArtifact", COMMIT, {"artifactID": aid})
    ck.equal("%s: committed digest" % tag, c["commitArtifact"]["artifact"]["digest"], digest)
    return node


def scenario(ck, mib):
    binary = h.server_binary()
    tmp = h.make_tmp("wbt-artbig-")
    srv = h.Server(binary, tmp)
    ok = False
    try:
        path = os.path.join(tmp, "big.bin")
        t0 = time.monotonic()
        md5 = gen_file(path, mib)
        size = os.path.getsize(path)
        print("generated %d MiB in %.1f s" % (mib, time.monotonic() - t0), flush=True)
        rss0 = status_kib(srv.proc.pid, "VmRSS")
        sampler = Sampler(srv.proc.pid)
        sampler.start()
        node = log_version(ck, srv, path, md5, size, "a")
        ck.check("first version: an upload URL", bool(node["uploadUrl"]), node)
        hexmd5 = md5.hex()
        blob = os.path.join(srv.dir, "artifacts", "blobs", hexmd5[:2], hexmd5)
        st1 = os.stat(blob)
        ck.equal("blob size", st1.st_size, size)
        node2 = log_version(ck, srv, path, md5, size, "b")
        ck.equal("same file in a second artifact: uploadUrl null (not uploaded again)",
                 node2["uploadUrl"], None)
        # A client that uploads anyway: read and dropped, the blob is not written again.
        status, data = put_file(node["uploadUrl"], path)
        ck.equal("forced second PUT answered", status, 200)
        ck.equal("forced second PUT: not stored again", json.loads(data).get("stored"), False)
        st2 = os.stat(blob)
        ck.equal("blob inode and mtime unchanged", (st2.st_ino, st2.st_mtime_ns),
                 (st1.st_ino, st1.st_mtime_ns))
        blobs = [n for d, _, ns in os.walk(os.path.join(srv.dir, "artifacts", "blobs"))
                 for n in ns if os.path.getsize(os.path.join(d, n)) == size]
        ck.equal("one blob of the big size on disk", len(blobs), 1)
        t0 = time.monotonic()
        status, got, n = get_md5(node["directUrl"])
        dt = time.monotonic() - t0
        ck.equal("download status", status, 200)
        ck.equal("download: bytes equal (MD5)", (got, n), (hexmd5, size))
        print("download: %.1f s, %.0f MiB/s" % (dt, (size >> 20) / max(dt, 1e-6)), flush=True)
        sampler.stop.set()
        sampler.join(2)
        hwm = status_kib(srv.proc.pid, "VmHWM")
        print("peak RSS of wandb-mpi-server: VmHWM %d KiB (%.1f MiB), sampled VmRSS max %d KiB,"
              " at start %d KiB, file %d MiB" % (hwm, hwm / 1024, sampler.max_kib, rss0, mib),
              flush=True)
        ck.check("server VmHWM under %d MiB with a %d MiB file" % (RSS_LIMIT_KIB >> 10, mib),
                 0 < hwm < RSS_LIMIT_KIB, hwm)
        arts = srv.get("/api/v1/artifacts?project=big")["artifacts"]
        ck.equal("two artifacts, one committed version each",
                 [(a["name"], [v["state"] for v in a["versions"]]) for a in arts],
                 [("big-a", ["COMMITTED"]), ("big-b", ["COMMITTED"])])
        ok = ck.failed == 0
    finally:
        rc = srv.stop()
        ck.equal("server exits 0 on SIGTERM", rc, 0)
        h.cleanup(tmp, ok and ck.failed == 0)


def main():
    mib = 1024
    if "--mib" in sys.argv:
        i = sys.argv.index("--mib")
        mib = int(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    ck = h.Checker("test_server_artifacts_big")
    ck.run(scenario, ck, mib)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
