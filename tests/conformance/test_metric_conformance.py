#!/usr/bin/env python3
# test_metric_conformance.py - define_metric: our `_wandb.m` and summary against the official client
# SPDX-License-Identifier: MIT
#
# usage: test_metric_conformance.py PATH/TO/wandb-mpi-server PATH/TO/c_metric
#
# The official Python client (tests/conformance/.venv) runs python_metric.py and our C API runs
# c_metric.c, the same define_metric calls (a merge without overwrite, a replacement with
# overwrite, a glob, summary "none") and the same rows, each into the real server. Then the
# stored config's `_wandb.m` (entries by name, the step reference "5" resolved to a name, as
# wandb-core lists them in map order) and the stored summary's user keys must be equal field
# by field. Exit: 0 passed, 1 failed, 77 skipped (no venv).
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
PROJECT = "metricconf"


def norm_metrics(m):
    """(entries keyed by name, glob entries keyed by pattern): "5" replaced by the step
    metric's name, the flag lists "6"/"7" sorted (wandb-core's order is not stable)."""
    out, globs = {}, {}
    for e in m or []:
        e = dict(e)
        if isinstance(e.get("5"), int) and 0 < e["5"] <= len(m):
            e["5"] = m[e["5"] - 1].get("1") or m[e["5"] - 1].get("2")
        for f in ("6", "7"):
            if isinstance(e.get(f), list):
                e[f] = sorted(e[f])
        if "2" in e:
            globs[e.pop("2")] = e
        else:
            out[e.get("1")] = e
    return out, globs


def user_summary(s):
    return {k: v for k, v in (s or {}).items() if not k.startswith("_")}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: %s SERVER C_METRIC" % sys.argv[0])
    server_bin, c_bin = sys.argv[1:3]
    if not os.path.exists(VENV_PY):
        h.skip("no official client: run tests/conformance/install.sh")
    tmp = h.make_tmp("metricconf-")
    ck = h.Checker("test_metric_conformance")
    srv = h.Server(server_bin, tmp)
    try:
        env = h.client_env(tmp)
        rc, out, err = h.run_client([VENV_PY, os.path.join(h.HERE, "python_metric.py"), srv.url,
                                     srv.key, PROJECT, "py-metric", tmp], env, tmp, 200,
                                    os.path.join(tmp, "python"))
        ck.check("official client ran", rc == 0, "rc %s: %s" % (rc, err[-2000:]))
        rc, out, err = h.run_client([c_bin, srv.url, srv.key, PROJECT, "c-metric"], env, tmp, 120,
                                    os.path.join(tmp, "c"))
        ck.check("c_metric ran", rc == 0, "rc %s: %s" % (rc, err[-2000:]))
        q = "?project=%s" % PROJECT
        py = srv.get("/api/v1/runs/py-metric" + q)
        c = srv.get("/api/v1/runs/c-metric" + q)
        pm, pglobs = norm_metrics(((py.get("config") or {}).get("_wandb") or {}).get("m"))
        cm, cglobs = norm_metrics(((c.get("config") or {}).get("_wandb") or {}).get("m"))
        ck.check("official _wandb.m has entries", len(pm) > 0, h.show(py.get("config")))
        # Allowed difference: our server advertises EXPAND_DEFINED_METRIC_GLOBS, so wandb-core
        # sends the glob itself ("2"); we expand globs client-side (valid for any server) and
        # send the concrete metric each created, with the glob's options (docs/decisions.md).
        ck.equal("no glob entries from us", cglobs, {})
        for pattern, g in sorted(pglobs.items()):
            made = {n: e for n, e in cm.items() if n not in pm and n.startswith(pattern[:-1])}
            ck.check("glob %s expanded by us" % pattern, len(made) > 0, h.show(sorted(cm)))
            for n, e in made.items():
                cm.pop(n)
                for field in ("5", "6", "7", "8"):
                    ck.equal("_wandb.m %s (from %s) field %s" % (n, pattern, field),
                             e.get(field), g.get(field))
        ck.equal("_wandb.m names", sorted(cm), sorted(pm))
        for name in sorted(set(pm) & set(cm)):
            for field in sorted(set(pm[name]) | set(cm[name])):
                ck.equal("_wandb.m %s field %s" % (name, field), cm[name].get(field),
                         pm[name].get(field))
        ps, cs = user_summary(py.get("summary")), user_summary(c.get("summary"))
        ck.equal("summary keys", sorted(cs), sorted(ps))
        for k in sorted(set(ps) & set(cs)):
            ck.equal("summary %s" % k, cs[k], ps[k])
    finally:
        srv.stop()
    h.cleanup(tmp, ck.failed == 0)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
