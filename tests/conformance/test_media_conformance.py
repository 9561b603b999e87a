#!/usr/bin/env python3
# test_media_conformance.py - histograms, images and a table logged by the official Python
# client and by our C API into the same wandb-mpi-server, compared field by field
# SPDX-License-Identifier: MIT
#
# usage: test_media_conformance.py PATH/TO/wandb-mpi-server PATH/TO/c_media
#
# 1. Starts the real server (harness.Server), runs python_media.py with the pinned client
#    (tests/conformance/.venv: wandb, numpy, Pillow) as run "py-media", then c_media (our C
#    API, in-process aggregator) as run "c-media": the same values, row by row.
# 2. Compares the two stored histories: every history object field by field. Histograms:
#    equal values and bins. Images: equal _type, format, width, height, caption, count,
#    captions, path up to the digest (media/images/<key>_<step>_); each file is fetched back
#    (GET /api/v1/runs/<id>/files/<path>), its size and SHA-256 must be the row's, and its
#    pixels (decoded here with zlib: PNG filters 0-4) equal to the other client's (the PNG
#    bytes differ: Pillow compresses, we store). Tables: every field equal, sha256 and path
#    too (the same file bytes), except artifact_path/_latest_artifact_path (the official
#    client's run_table artifact, not made by the C API). Lists of histograms and tables
#    item by item. An image from a PNG file (written here with zlib): every field equal.
# 3. Summaries: the same media keys; each is the last value logged, histograms equal.
# Exit: 0 passed, 1 failed, 77 skipped (no .venv with numpy and Pillow).
import hashlib
import os
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PROJECT = "media"
VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
ARTIFACT_ONLY = {"artifact_path", "_latest_artifact_path"}


def png_pixels(data):
    """(width, height, channels, pixel bytes) of an 8-bit non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        crc = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0]
        assert zlib.crc32(typ + body) == crc, "bad CRC in chunk %r" % typ
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    w, hgt, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0, "unsupported PNG"
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(idat)
    stride = w * ch
    out = bytearray()
    prev = bytearray(stride)
    for y in range(hgt):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b = prev[i]
            c = prev[i - ch] if i >= ch else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xff
            elif f == 2:
                line[i] = (line[i] + b) & 0xff
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xff
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xff
        out += line
        prev = line
    return [w, hgt, ch, bytes(out).hex()]


def fetch(srv, run_id, name):
    status, data = srv.request("/api/v1/runs/%s/files/%s?project=%s" % (run_id, name, PROJECT))
    if status != 200:
        raise RuntimeError("GET %s of %s -> %d" % (name, run_id, status))
    return data


def path_prefix(path):
    """media/images/<key>_<step>_ of a media path (the digest and extension cut)."""
    return path[:path.rindex("_") + 1]


def check_file(ck, srv, run_id, what, obj):
    """The file of obj: fetched back, its size and SHA-256 as obj says. Returns its bytes."""
    data = fetch(srv, run_id, obj["path"])
    ck.equal(what + ": size is the file's", obj.get("size"), len(data))
    ck.equal(what + ": sha256 is the file's", obj.get("sha256"), hashlib.sha256(data).hexdigest())
    return data


def compare_image(ck, srv, key, py, c):
    for f in ("_type", "format", "width", "height", "caption"):
        ck.equal("%s.%s" % (key, f), c.get(f), py.get(f))
    ck.equal(key + ": fields", sorted(c), sorted(py))
    ck.equal(key + ": path up to the digest", path_prefix(c["path"]), path_prefix(py["path"]))
    pyd = check_file(ck, srv, "py-media", key + " (python)", py)
    cd = check_file(ck, srv, "c-media", key + " (C)", c)
    ck.equal(key + ": decoded pixels", png_pixels(cd), png_pixels(pyd))


def compare_list(ck, srv, key, py, c):
    ck.equal(key + ": fields", sorted(c), sorted(py))
    for f in ("_type", "width", "height", "format", "count", "captions"):
        ck.equal("%s.%s" % (key, f), c.get(f), py.get(f))
    for i, (pn, cn) in enumerate(zip(py.get("filenames", []), c.get("filenames", []))):
        ck.equal("%s[%d]: name up to the digest" % (key, i), path_prefix(cn), path_prefix(pn))
        ck.equal("%s[%d]: decoded pixels" % (key, i), png_pixels(fetch(srv, "c-media", cn)),
                 png_pixels(fetch(srv, "py-media", pn)))


def compare_table(ck, srv, key, py, c):
    py_fields = {k: v for k, v in py.items() if k not in ARTIFACT_ONLY}
    ck.equal(key + ": every field but the artifact's", c, py_fields)
    pyd = check_file(ck, srv, "py-media", key + " (python)", py)
    cd = check_file(ck, srv, "c-media", key + " (C)", c)
    ck.equal(key + ": table file bytes", cd.decode("utf-8", "replace"), pyd.decode("utf-8", "replace"))


def write_png(path, w, hgt):
    """A compressed RGB PNG (filter 1 on every row) as Pillow or any encoder might write."""
    rows = b"".join(b"\x01" + bytes((x * 40 + y * 7) % 256 for x in range(w * 3))
                    for y in range(hgt))

    def chunk(typ, body):
        return struct.pack(">I", len(body)) + typ + body + struct.pack(">I", zlib.crc32(typ + body))

    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, hgt, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def compare_value(ck, srv, key, pv, cv):
    """One history value of the two runs."""
    if isinstance(pv, list):
        if ck.equal(key + ": list length", len(cv) if isinstance(cv, list) else None, len(pv)):
            for i, (p, c) in enumerate(zip(pv, cv)):
                compare_value(ck, srv, "%s[%d]" % (key, i), p, c)
        return
    if not isinstance(cv, dict):
        ck.check("%s: an object" % key, False, repr(cv))
        return
    kind = pv.get("_type")
    if kind == "histogram":
        ck.equal(key + ": histogram object", cv, pv)
    elif kind == "image-file":
        compare_image(ck, srv, key, pv, cv)
        if key == "file_img":  # the same PNG file: the same bytes, digest and name
            ck.equal(key + ": every field", cv, pv)
    elif kind == "images/separated":
        compare_list(ck, srv, key, pv, cv)
    elif kind == "table-file":
        compare_table(ck, srv, key, pv, cv)
    else:
        ck.check("%s: known _type" % key, False, repr(kind))


def scenario(ck):
    binary = sys.argv[1] if len(sys.argv) > 1 else h.server_binary()
    c_media = sys.argv[2] if len(sys.argv) > 2 else None
    if not os.access(VENV_PY, os.X_OK):
        h.skip("the pinned Python client is not installed; run tests/conformance/install.sh")
    probe = subprocess.run([VENV_PY, "-c", "import numpy, PIL, wandb"], capture_output=True)
    if probe.returncode != 0:
        h.skip("the .venv lacks numpy or Pillow; run tests/conformance/install.sh")
    if not c_media or not os.access(c_media, os.X_OK):
        h.skip("c_media not built")
    tmp = h.make_tmp("wbconf-media-")
    env = h.client_env(tmp)
    srv = h.Server(binary, tmp)
    ok = False
    try:
        workdir = os.path.join(tmp, "client")
        os.makedirs(workdir)
        png = os.path.join(tmp, "input.png")
        write_png(png, 6, 4)
        rc, out, err = h.run_client(
            [VENV_PY, os.path.join(h.HERE, "python_media.py"), "--base-url", srv.url,
             "--api-key", srv.key, "--project", PROJECT, "--run-id", "py-media",
             "--workdir", workdir, "--png", png], env, tmp, 240,
            os.path.join(tmp, "python_media"))
        if not ck.equal("python_media.py exit status", rc, 0):
            print("---- client stderr (tail)\n" + err[-4000:], flush=True)
            return
        rc, out, err = h.run_client([c_media, srv.url, srv.key, PROJECT, "c-media", png], env, tmp,
                                    120, os.path.join(tmp, "c_media"))
        if not ck.equal("c_media exit status", rc, 0):
            print("---- c_media stderr (tail)\n" + err[-4000:], flush=True)
            return
        py_rows = srv.get("/api/v1/runs/py-media/history?project=" + PROJECT)["rows"]
        c_rows = srv.get("/api/v1/runs/c-media/history?project=" + PROJECT)["rows"]
        ck.equal("rows", len(c_rows), len(py_rows))
        for step, (py, c) in enumerate(zip(py_rows, c_rows)):
            ck.equal("row %d: keys" % step, sorted(h.user_keys(c)), sorted(h.user_keys(py)))
            ck.equal("row %d: _step" % step, c.get("_step"), py.get("_step"))
            for key in sorted(h.user_keys(py)):
                compare_value(ck, srv, key, py[key], c.get(key))
        # Summaries: every media key, its last value, as the official client keeps it.
        py_sum = srv.get("/api/v1/runs/py-media?project=" + PROJECT).get("summary") or {}
        c_sum = srv.get("/api/v1/runs/c-media?project=" + PROJECT).get("summary") or {}
        ck.equal("summary keys", sorted(h.user_keys(c_sum)), sorted(h.user_keys(py_sum)))
        for key in sorted(h.user_keys(py_sum)):
            pv, cv = py_sum[key], c_sum.get(key)
            last = [r[key] for r in c_rows if key in r][-1:]
            ck.equal("summary %s: the last value logged" % key, [cv], last)
            if isinstance(pv, dict) and pv.get("_type") == "histogram":
                ck.equal("summary %s" % key, cv, pv)
            elif isinstance(pv, dict):
                ck.equal("summary %s: _type" % key, (cv or {}).get("_type"), pv.get("_type"))
        ok = True
    finally:
        srv.stop()
        h.cleanup(tmp, ok and ck.failed == 0)


def main():
    ck = h.Checker("test_media_conformance")
    ck.run(scenario, ck)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
