#!/usr/bin/env python3
# test_resume_conformance.py - resume across clients: the official Python client continues a
# run our C API created, and our C API continues a run the official client created
# SPDX-License-Identifier: MIT
#
# usage: test_resume_conformance.py PATH/TO/wandb-mpi-server PATH/TO/c_resume
#
# Into one real server: C logs steps 0..9 of run "c-first" and finishes, then the official
# client opens it with resume="must" and logs 10..19; the official client logs 0..9 of
# "py-first", then our C API opens it with resume="must" and logs 10..19. Both sides must
# report resumed and starting_step 10, the stored history must hold steps 0..19 once each
# with `_runtime` never going back, and the config must keep both sides' keys. Then
# resume="never" on an existing run must fail on both sides and change nothing, and our
# RunResumeStatus request must be the official one (query text, variables, their types).
# Exit: 0 passed, 1 failed, 77 skipped (no venv).
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

VENV_PY = os.path.join(h.HERE, ".venv", "bin", "python")
PROJECT = "resumeconf"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: %s SERVER C_RESUME" % sys.argv[0])
    server_bin, c_bin = sys.argv[1:3]
    if not os.path.exists(VENV_PY):
        h.skip("no official client: run tests/conformance/install.sh")
    tmp = h.make_tmp("resumeconf-")
    ck = h.Checker("test_resume_conformance")
    srv = h.Server(server_bin, tmp)
    env = h.client_env(tmp)

    def py(run_id, resume, first, last):
        return h.run_client([VENV_PY, os.path.join(h.HERE, "python_resume.py"), srv.url, srv.key,
                             PROJECT, run_id, resume, str(first), str(last), tmp], env, tmp, 200,
                            os.path.join(tmp, "py-%s-%s" % (run_id, resume)))

    def c(run_id, resume, first, last):
        return h.run_client([c_bin, srv.url, srv.key, PROJECT, run_id, resume, str(first),
                             str(last)], env, tmp, 120,
                            os.path.join(tmp, "c-%s-%s" % (run_id, resume)))

    def reported(out):
        lines = [line for line in out.splitlines() if line.startswith("{")]
        return json.loads(lines[-1]) if lines else {}

    def check_history(run_id, cfg_keys):
        q = "?project=%s" % PROJECT
        rows = srv.get("/api/v1/runs/%s/history%s" % (run_id, q))["rows"]
        ck.equal("%s: steps 0..19 once each" % run_id, [r.get("_step") for r in rows],
                 list(range(20)))
        ck.equal("%s: loss = step" % run_id, [r.get("loss") for r in rows],
                 [float(k) for k in range(20)])
        rts = [r.get("_runtime") for r in rows]
        ck.check("%s: _runtime never goes back" % run_id,
                 all(isinstance(x, (int, float)) for x in rts) and
                 all(b >= a for a, b in zip(rts, rts[1:])), h.show(rts))
        run = srv.get("/api/v1/runs/%s%s" % (run_id, q))
        for k in cfg_keys:
            ck.check("%s: config keeps %s" % (run_id, k), k in run["config"], h.show(run["config"]))
        ck.equal("%s: state" % run_id, run["state"], "finished")

    try:
        for first, second, name in ((c, py, "c-first"), (py, c, "py-first")):
            rc, out, err = first(name, "none", 0, 10)
            ck.check("%s: first run" % name, rc == 0, "rc %s: %s" % (rc, err[-1500:]))
            rc, out, err = second(name, "must", 10, 20)
            ck.check("%s: resumed by the other client" % name, rc == 0,
                     "rc %s: %s" % (rc, err[-1500:]))
            got = reported(out)
            ck.equal("%s: resumed" % name, got.get("resumed"), True)
            ck.equal("%s: starting_step" % name, got.get("starting_step"), 10)
            check_history(name, ("c", "py"))
            rc, out, err = second(name, "never", 20, 21)
            ck.check("%s: resume=never refused" % name, rc != 0, "rc %s" % rc)
            rows = srv.get("/api/v1/runs/%s/history?project=%s" % (name, PROJECT))["rows"]
            ck.equal("%s: unchanged after never" % name, len(rows), 20)
        # After RunResumeStatus, both clients put the first new history line at offset 10
        # (historyLineCount), in file_stream.
        recs = srv.recorded()
        for name in ("c-first", "py-first"):
            at = next((i for i, r in enumerate(recs) if r.get("operationName") ==
                       "RunResumeStatus" and ((r.get("body") or {}).get("variables") or {})
                       .get("name") == name), None)
            offsets = []
            for r in recs[at + 1:] if at is not None else []:
                if r["path"].endswith("/%s/file_stream" % name):
                    hist = ((r.get("body") or {}).get("files") or {}).get("wandb-history.jsonl")
                    if hist and hist.get("content"):
                        offsets.append(hist.get("offset"))
            ck.check("%s: first history offset after resume is 10" % name,
                     offsets[:1] == [10], h.show(offsets))
        # Our RunResumeStatus request: the official text, the same variables and types.
        mine, theirs = [], []
        for r in srv.recorded():
            if r.get("operationName") != "RunResumeStatus":
                continue
            ua = next((v for k, v in r.get("headers", {}).items() if k.lower() == "user-agent"),
                      "")
            (mine if ua.startswith("wandb-mpi") else theirs).append(r["body"])
        ck.check("both clients asked RunResumeStatus", mine and theirs,
                 "ours %d, official %d" % (len(mine), len(theirs)))
        if mine and theirs:
            ck.equal("RunResumeStatus query text", mine[0].get("query"), theirs[0].get("query"))
            mv, tv = mine[0].get("variables") or {}, theirs[0].get("variables") or {}
            ck.equal("RunResumeStatus variables", sorted(mv), sorted(tv))
            ck.equal("RunResumeStatus variable types",
                     {k: type(v).__name__ for k, v in mv.items()},
                     {k: type(v).__name__ for k, v in tv.items()})
    finally:
        srv.stop()
    h.cleanup(tmp, ck.failed == 0)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
