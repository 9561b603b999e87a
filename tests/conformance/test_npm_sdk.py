#!/usr/bin/env python3
# test_npm_sdk.py - the official npm client (pinned @wandb/sdk) against wandb-mpi-server
# SPDX-License-Identifier: MIT
#
# usage: test_npm_sdk.py [PATH/TO/wandb-mpi-server]   (default: $WANDB_TEST_BIN_DIR/...)
#
# Starts the real server binary on 127.0.0.1, port 0, in a temp --dir, runs npm_scenario.mjs
# with node and tests/conformance/node_modules (init, log in the forms the client has, finish
# with exit code 0 and 1: everything this client supports), fails on any client output line
# about errors, warnings, failures or retries, then compares the driver's JSON summary with
# the server's read API: runs, display names, raw configs, every history row (the client's own
# _step rules, NaN/Infinity sent as null), summaries, states and exit codes.
# Exit: 0 passed, 1 failed, 77 skipped (no node_modules or no node: run install.sh).
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

PROJECT = "npmconf"
NODE_MODULES = os.path.join(h.HERE, "node_modules", "@wandb", "sdk")


def pinned_version():
    """The @wandb/sdk version pinned in package.json."""
    with open(os.path.join(h.HERE, "package.json")) as f:
        return json.load(f)["dependencies"]["@wandb/sdk"]


def check_run(ck, srv, want, got):
    """Compares one expected run (driver summary) with the server's run object and routes."""
    rid = want["id"]
    tag = "%s (%s)" % (want["key"], rid)
    q = "?project=%s&entity=%s" % (PROJECT, want["entity"])
    ck.equal(tag + ": entity", got["entity"], want["entity"])
    ck.equal(tag + ": project", got["project"], want["project"])
    ck.equal(tag + ": display_name", got["display_name"], want["display_name"])
    ck.equal(tag + ": state", got["state"], want["state"])
    ck.equal(tag + ": exit_code", got["exit_code"], want["exit_code"])
    ck.equal(tag + ": preempting", got["preempting"], False)
    # The npm client sends the raw config (no value wrapping, no _wandb): stored as sent.
    ck.equal(tag + ": config", got["config"], want["config"])
    h.check_history(ck, srv, tag, "/api/v1/runs/%s/history%s" % (rid, q), got, want)
    summ = got["summary"]
    ck.equal(tag + ": summary (user keys)", h.user_keys(summ), h.user_keys(want["summary"]))
    ck.equal(tag + ": summary._step", summ.get("_step"), want["summary"]["_step"])
    files = srv.get("/api/v1/runs/%s/files%s" % (rid, q))["files"]
    ck.equal(tag + ": files (the npm client uploads none)", files, [])
    alerts = srv.get("/api/v1/runs/%s/alerts%s" % (rid, q))["alerts"]
    ck.equal(tag + ": alerts (none)", alerts, [])


def scenario(ck):
    binary = h.server_binary()
    node = shutil.which("node")
    if not os.path.isdir(NODE_MODULES):
        h.skip("the pinned npm client is not installed (%s missing); run "
               "tests/conformance/install.sh" % NODE_MODULES)
    if not node:
        h.skip("node is not on PATH (needed to run the npm client)")
    tmp = h.make_tmp("wbconf-npm-")
    env = h.client_env(tmp)
    srv = h.Server(binary, tmp)
    ok = False
    try:
        out_json = os.path.join(tmp, "npm_sdk.json")
        t0 = time.monotonic()
        rc, out, err = h.run_client(
            [node, os.path.join(h.HERE, "npm_scenario.mjs"), "--base-url", srv.url,
             "--api-key", srv.key, "--project", PROJECT, "--out", out_json],
            env, tmp, 150, os.path.join(tmp, "npm_client"))
        print("npm scenario: %.1f s" % (time.monotonic() - t0), flush=True)
        if not ck.equal("npm_scenario.mjs exit status", rc, 0):
            print("---- client stderr (tail)\n" + err[-4000:], flush=True)
            print("---- server stderr (tail)\n" + srv.stderr()[-4000:], flush=True)
            return
        with open(out_json) as f:
            summary = json.load(f)
        ck.equal("@wandb/sdk version is the pinned one", summary["sdk_version"], pinned_version())
        for name, text in (("stderr", err), ("stdout", out)):
            bad = h.scan_lines(text, [])
            ck.check("client %s has no error/warning/failure/retry line" % name, not bad,
                     "\n    " + "\n    ".join(bad))
        recs = h.check_server_side(ck, srv, ["Viewer", "UpsertBucket"])
        # finish(code) sends {"complete": true, "exitcode": code} on its own.
        ends = [r["body"] for r in recs if r["path"].endswith("/file_stream") and
                (r.get("body") or {}).get("complete") is True]
        ck.equal("complete/exitcode requests", sorted(b.get("exitcode") for b in ends), [0, 1])
        runs = srv.get("/api/v1/runs?project=" + PROJECT, auth="bearer")["runs"]
        want_runs = summary["runs"]
        ck.equal("runs in the project, oldest first", [r["id"] for r in runs],
                 [w["id"] for w in want_runs])
        by_id = {r["id"]: r for r in runs}
        for want in want_runs:
            if want["id"] in by_id:
                check_run(ck, srv, want, by_id[want["id"]])
        ok = ck.failed == 0
    finally:
        rc = srv.stop()
        ck.equal("server exits 0 on SIGTERM", rc, 0)
        h.cleanup(tmp, ok and ck.failed == 0)


def main():
    ck = h.Checker("test_npm_sdk")
    ck.run(scenario, ck)
    return ck.finish()


if __name__ == "__main__":
    sys.exit(main())
