#!/usr/bin/env python3
"""test_sample_api.py - the dashboard's chart data routes against the real server binary.

GET /api/v1/sample: every point when a series is short (values equal to the history); a long
series cut to about N points that keep the spike, the minimum and the last point; sparse
metrics, nested names, media and strings left out, NaN as null, rows without the x key
skipped, a define_metric step metric as x, a keys filter; several runs in one answer, unknown
ones listed as missing; bad arguments 400. The cache: rows written after a first request
appear in the next one, also while 8 clients ask at once (the server's stderr must then hold
no sanitizer report). GET /api/v1/projects counts runs per project.
Runs under ASan and TSan in CI (label integration): WANDB_TEST_BIN_DIR picks the build.
"""
import json
import math
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "browser"))
import browser as b  # noqa: E402
from browser import h  # noqa: E402


def sample(srv, query):
    status, data = srv.request("/api/v1/sample?" + query)
    return status, (json.loads(data) if status == 200 else data)


def series(d, run, key):
    r = [x for x in d["runs"] if x["name"] == run][0]
    return r["series"].get(key)


def test_points(ck, srv):
    rows = []
    for i in range(50):
        row = {"_step": i, "_runtime": i * 0.5, "loss": 1.0 / (i + 1), "nested": {"a": i * 2},
               "text": "s%d" % i, "img": {"_type": "image-file", "path": "x.png", "width": 4}}
        if i % 10 == 0:
            row["val"] = i / 10
        if i == 7:
            row["loss"] = float("nan")
        rows.append(row)
    rows.append({"_runtime": 99, "loss": 5})  # no _step: skipped for x=_step
    b.upsert(srv, "smp", "short", displayName="short")
    b.stream(srv, "smp", "short", [json.dumps(r) for r in rows])  # NaN stays bare
    st, d = sample(srv, "project=smp&runs=short")
    ck.equal("short: 200", st, 200)
    loss = series(d, "short", "loss")
    ck.equal("short: every x of loss (row without _step skipped)", loss["x"], list(range(50)))
    ck.check("short: loss values as logged, NaN as null",
             loss["y"][7] is None and all(math.isclose(loss["y"][i], 1.0 / (i + 1))
                                          for i in range(50) if i != 7), str(loss["y"][:9]))
    ck.equal("short: sparse val", series(d, "short", "val"), {"x": [0, 10, 20, 30, 40],
                                                              "y": [0, 1, 2, 3, 4]})
    ck.equal("short: nested name dotted", series(d, "short", "nested.a")["y"][:3], [0, 2, 4])
    keys = sorted(d["runs"][0]["series"])
    ck.equal("short: no media, strings or _-keys", keys, ["loss", "nested.a", "val"])
    ck.equal("short: rows", d["runs"][0]["rows"], 51)
    st, d = sample(srv, "project=smp&runs=short&x=_runtime&keys=loss")
    loss = series(d, "short", "loss")
    ck.check("short: x=_runtime, keys filter", sorted(d["runs"][0]["series"]) == ["loss"] and
             loss["x"][:3] == [0, 0.5, 1.0] and loss["x"][-1] == 99, str(loss["x"][-3:]))
    st, d = sample(srv, "project=smp&runs=short&x=val")
    ck.equal("short: a step metric as x (rows without it skipped)",
             series(d, "short", "loss")["x"], [0, 1, 2, 3, 4])


def test_downsampling(ck, srv):
    n = 20000
    b.upsert(srv, "smp", "long", displayName="long")
    rows = [{"_step": i, "m": math.sin(i / 100.0) + (50.0 if i == 12345 else 0.0) -
             (60.0 if i == 777 else 0.0)} for i in range(n)]
    off = 0
    for k in range(0, n, 5000):
        off = b.stream(srv, "smp", "long", rows[k:k + 5000], offset=off)
    st, d = sample(srv, "project=smp&runs=long&samples=200")
    m = series(d, "long", "m")
    ck.check("long: cut to about 200 points", 100 <= len(m["x"]) <= 202, str(len(m["x"])))
    ck.check("long: the spike is kept", 12345 in m["x"] and max(m["y"]) > 49)
    ck.check("long: the dip is kept", 777 in m["x"] and min(m["y"]) < -58)
    ck.check("long: the last point is kept", m["x"][-1] == n - 1)
    ck.check("long: x in order", m["x"] == sorted(m["x"]))
    st, d = sample(srv, "project=smp&runs=long&samples=100000")
    ck.equal("long: samples above the length: every point", len(series(d, "long", "m")["x"]), n)


def test_many_and_errors(ck, srv):
    st, d = sample(srv, "project=smp&runs=short,long,nope,short")
    ck.check("several runs in one answer, each once",
             st == 200 and [r["name"] for r in d["runs"]] == ["short", "long"], str(st))
    ck.equal("unknown runs listed as missing", d.get("missing"), ["nope"])
    for q in ("runs=short", "project=smp", "project=smp&runs=short&samples=2",
              "project=smp&runs=short&samples=x"):
        st, _ = sample(srv, q)
        ck.equal("bad arguments (%s): 400" % q, st, 400)
    d = srv.get("/api/v1/projects")
    smp = [p for p in d["projects"] if p["project"] == "smp"]
    ck.check("projects: smp with its 2 runs, both running",
             len(smp) == 1 and smp[0]["runs"] == 2 and smp[0]["running"] == 2 and
             smp[0]["entity"] == "local", str(d))


def test_incremental(ck, srv):
    b.upsert(srv, "smp", "live", displayName="live")
    off = b.stream(srv, "smp", "live", [{"_step": i, "v": i} for i in range(100)])
    st, d = sample(srv, "project=smp&runs=live&samples=1000")
    ck.equal("live: first read", series(d, "live", "v")["x"][-1], 99)
    errors, results = [], []
    stop = threading.Event()

    def writer():
        nonlocal off
        for k in range(20):
            off = b.stream(srv, "smp", "live", [{"_step": i, "v": i}
                                                for i in range(off, off + 50)], offset=off)
        stop.set()

    def reader():
        while not stop.is_set():
            st, d = sample(srv, "project=smp&runs=live&samples=100000")
            if st != 200:
                errors.append(st)
                return
            x = series(d, "live", "v")["x"]
            results.append(x == list(range(len(x))))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    w = threading.Thread(target=writer)
    for t in threads + [w]:
        t.start()
    for t in threads + [w]:
        t.join(60)
    ck.check("live: 8 readers while rows arrive: every answer 200 and a gapless prefix",
             not errors and results and all(results), "%s %d" % (errors, len(results)))
    st, d = sample(srv, "project=smp&runs=live&samples=100000")
    ck.equal("live: the last answer has every row written", series(d, "live", "v")["x"],
             list(range(off)))


def main():
    ck = h.Checker("test_sample_api")
    tmp = tempfile.mkdtemp(prefix="wandb-sample-api-")
    srv = b.Server(os.path.join(tmp, "srv"))
    try:
        for fn in (test_points, test_downsampling, test_many_and_errors, test_incremental):
            ck.run(fn, ck, srv)
    finally:
        srv.stop()
    with open(srv.stderr_path, encoding="utf-8", errors="replace") as f:
        log = f.read()
    bad = [line for line in log.splitlines()
           if "Sanitizer" in line or "runtime error" in line]
    ck.check("server stderr has no sanitizer report", not bad, "\n".join(bad[:20]))
    rc = ck.finish()
    h.cleanup(tmp, rc == 0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
