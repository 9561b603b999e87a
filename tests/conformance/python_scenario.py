#!/usr/bin/env python3
# python_scenario.py - drive the official Python `wandb` SDK through the conformance scenario
# SPDX-License-Identifier: MIT
#
# usage: python_scenario.py --base-url http://127.0.0.1:PORT --api-key KEY --project NAME
#                           [--entity E] [--workdir DIR] [--out FILE] [--fast]
#                           [--save-wait S] [--no-silent]
#
# Needs `wandb` importable (tests/conformance/.venv, see requirements.txt). Sets every WANDB_*
# variable the client needs to talk ONLY to --base-url (no telemetry, no system metrics, no
# code/git capture, short retries, bounded init/finish) before importing wandb, then runs:
#
#   run 1: init(project, group, job_type, tags, notes, name, nested config), define_metric
#          (step metric, summary min/max), log() in all step/commit forms incl. NaN,
#          +/-Infinity and nested dicts, a dropped lower-step log, summary overrides,
#          config.update, alert, save() with policies now/live/end, console lines (one
#          rewritten in place with "\r"), mark_preempting,
#          finish(exit_code=0)
#   run 2: a second run in the same group, finish(exit_code=1)
#   run 3: resume="must" of run 1, one more row, finish()
#
# and writes to --out (or prints as the LAST line of stdout) ONE JSON document describing what a
# server must now hold:
# run ids, display names, group/job_type/tags/notes, user config, expected history rows
# (user keys + _step; _runtime/_timestamp are client-generated and left out), expected
# summary (user keys), saved files (name, md5, size), alerts, exit codes and final states.
# NaN/Infinity appear as the bare tokens NaN / Infinity / -Infinity (extended JSON, as on the
# wire). Exit status 0 when the SDK calls returned normally.
import argparse
import hashlib
import json
import math
import os
import sys
import tempfile
import time


def client_env(base_url, api_key, workdir, fast=False, silent=True):
    """Environment for the official Python client talking only to a local server.

    silent=False leaves WANDB_SILENT/WANDB_QUIET unset: the client then prints its banner,
    warnings and errors to stderr (what the conformance tests scan) and sends `Viewer`.
    """
    env = {
        "WANDB_BASE_URL": base_url,
        "WANDB_API_KEY": api_key,
        "WANDB_MODE": "online",
        # quiet: no banner, no run summary, no hints
        "WANDB_SILENT": "true",
        "WANDB_QUIET": "true",
        # no OpenTelemetry/error reporting from wandb-core (--no-observability)
        "WANDB_ERROR_REPORTING": "false",
        # no system metrics (wandb-symon; also the CoreWeave 169.254.169.254 probe), no metadata
        "WANDB_X_DISABLE_STATS": "true",
        "WANDB_X_DISABLE_META": "true",
        "WANDB_X_DISABLE_MACHINE_INFO": "true",
        # no code or git capture
        "WANDB_DISABLE_CODE": "true",
        "WANDB_SAVE_CODE": "false",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_JOB_CREATION": "true",
        # keep everything inside workdir, nothing in ~
        "WANDB_DIR": workdir,
        "WANDB_CONFIG_DIR": os.path.join(workdir, "config"),
        "WANDB_CACHE_DIR": os.path.join(workdir, "cache"),
        "WANDB_DATA_DIR": os.path.join(workdir, "data"),
        "WANDB_ARTIFACT_DIR": os.path.join(workdir, "artifacts"),
        # never hang: bounded init, short retry budgets, bounded finish
        "WANDB_INIT_TIMEOUT": "60",
        "WANDB_X_GRAPHQL_RETRY_MAX": "3",
        "WANDB_X_GRAPHQL_RETRY_WAIT_MAX_SECONDS": "2",
        "WANDB_X_GRAPHQL_TIMEOUT_SECONDS": "20",
        "WANDB_X_FILE_STREAM_RETRY_MAX": "3",
        "WANDB_X_FILE_STREAM_RETRY_WAIT_MAX_SECONDS": "2",
        "WANDB_X_FILE_STREAM_TIMEOUT_SECONDS": "20",
        "WANDB_X_FILE_TRANSFER_RETRY_MAX": "3",
        "WANDB_X_FILE_TRANSFER_RETRY_WAIT_MAX_SECONDS": "2",
        "WANDB_X_FILE_TRANSFER_TIMEOUT_SECONDS": "20",
        "WANDB_FINISH_TIMEOUT": "120",
    }
    if not silent:
        del env["WANDB_SILENT"], env["WANDB_QUIET"]
    if fast:
        # shorter filestream batching interval (default 15 s); changes request batching only
        env["WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL"] = "1"
    return env


NAN, INF = float("nan"), float("inf")


def md5_file(path):
    with open(path, "rb") as f:
        data = f.read()
    return hashlib.md5(data).hexdigest(), len(data)


def run_scenario(args, workdir):
    import wandb  # imported only after the environment is set

    out = {"client": "python", "wandb_version": wandb.__version__, "project": args.project,
           "entity": args.entity, "runs": []}
    common = dict(project=args.project, entity=args.entity)

    # ---------------- run 1 ----------------
    cfg1 = {"lr": 0.01, "batch": 32, "model": {"depth": 4, "act": "relu", "sizes": [64, 32]}}
    run = wandb.init(group="grp", job_type="train", tags=["t1", "t2"], notes="conformance notes",
                     name="display-1", config=cfg1, **common)
    rows = []  # expected history rows (user keys + _step)
    run.define_metric("epoch")
    run.define_metric("val/loss", step_metric="epoch", summary="min")
    run.define_metric("acc", summary="max")  # 0.31: no goal= any more

    run.log({"loss": 1.0, "acc": 0.1})                       # step 0
    rows.append({"_step": 0, "loss": 1.0, "acc": 0.1})
    run.log({"loss": 0.9}, commit=False)                     # step 1, accumulated
    run.log({"acc": 0.2})                                    # step 1 committed
    rows.append({"_step": 1, "loss": 0.9, "acc": 0.2})
    run.log({"loss": 0.8}, step=2)                           # explicit step
    run.log({"acc": 0.3}, step=2)                            # same step: merged
    run.log({"lr_now": 0.01}, step=3)                        # higher step flushes step 2
    rows.append({"_step": 2, "loss": 0.8, "acc": 0.3})
    run.log({"loss": 0.7}, step=3, commit=True)              # commit=True flushes step 3
    rows.append({"_step": 3, "lr_now": 0.01, "loss": 0.7})
    run.log({"nested": {"a": 1, "b": {"c": 2.5}}, "weird": NAN, "big": INF, "small": -INF,
             "flag": True, "label": "text"})                 # step 4
    rows.append({"_step": 4, "nested": {"a": 1, "b": {"c": 2.5}}, "weird": NAN, "big": INF,
                 "small": -INF, "flag": True, "label": "text"})
    for s, (ep, vl) in enumerate([(1, 0.5), (2, 0.3), (3, 0.4)], start=5):
        run.log({"epoch": ep, "val/loss": vl})               # steps 5..7
        rows.append({"_step": s, "epoch": ep, "val/loss": vl})
    run.log({"loss": 0.6}, step=1)                           # lower step: dropped by the client
    print("epoch 3 done", flush=True)                        # console line (output.log)
    # A line rewritten in place: "progress 1/3" goes out first (the save waits below are
    # longer than the filestream interval), then the same output.log offset is sent again
    # holding "progress 3/3".
    print("progress 1/3", end="\r", flush=True)

    run.summary["best"] = 0.2                                # new summary key
    run.summary["loss"] = 0.123                              # override a logged key
    run.summary.update({"final": {"x": 1, "y": "z"}})
    run.config.update({"extra": "yes", "lr": 0.02}, allow_val_change=True)
    alert = {"title": "conformance alert", "text": "hello from python", "level": "WARN",
             "wait_duration_ms": 120000}
    run.alert(title=alert["title"], text=alert["text"], level=wandb.AlertLevel.WARN,
              wait_duration=120)

    fdir = os.path.join(workdir, "files")
    os.makedirs(os.path.join(fdir, "sub"), exist_ok=True)
    files = {"now.txt": b"saved with policy now\n", "live.txt": b"live v1\n",
             "sub/end.txt": b"saved with policy end\n"}
    for name, data in files.items():
        with open(os.path.join(fdir, name), "wb") as f:
            f.write(data)
    run.save(os.path.join(fdir, "now.txt"), base_path=fdir, policy="now")
    run.save(os.path.join(fdir, "live.txt"), base_path=fdir, policy="live")
    run.save(os.path.join(fdir, "sub/end.txt"), base_path=fdir, policy="end")
    time.sleep(args.save_wait)  # let the 5 s CreateRunFiles batch go out before finish
    print("progress 3/3", flush=True)                        # rewrites the line above
    with open(os.path.join(fdir, "live.txt"), "wb") as f:      # live: changed after save
        f.write(b"live v2, changed after save\n")
    time.sleep(args.save_wait)  # live policy: the change is uploaded again
    run.mark_preempting()
    summary1 = {"loss": 0.123, "acc": {"max": 0.3}, "lr_now": 0.01,
                "nested": {"a": 1, "b": {"c": 2.5}}, "weird": NAN, "big": INF, "small": -INF,
                "flag": True, "label": "text", "epoch": 3, "val/loss": {"min": 0.3},
                "best": 0.2, "final": {"x": 1, "y": "z"}}
    sdk_summary1 = {k: run.summary[k] for k in run.summary.keys() if not k.startswith("_")}
    run_path = (run.entity, run.project, run.id)
    run.finish(exit_code=0)
    saved = []
    for name in files:
        md5, size = md5_file(os.path.join(fdir, name))  # final content is what must be stored
        saved.append({"name": name, "md5": md5, "size": size})
    cfg1_final = dict(cfg1, extra="yes", lr=0.02)
    out["runs"].append({
        "key": "run1", "id": run_path[2], "entity": run_path[0], "project": run_path[1],
        "display_name": "display-1", "group": "grp", "job_type": "train", "tags": ["t1", "t2"],
        "notes": "conformance notes", "config": cfg1_final, "history": rows,
        "history_count": len(rows), "summary": summary1, "sdk_summary": _jsonable(sdk_summary1),
        "files": saved, "alerts": [alert], "exit_code": 0, "state": "finished",
        "console_contains": ["epoch 3 done", "progress 3/3"],
        "console_absent": ["progress 1/3"],
        "metrics": [{"name": "epoch"},
                    {"name": "val/loss", "step_metric": "epoch", "summary": ["min"]},
                    {"name": "acc", "summary": ["max"]}],
        "dropped": [{"_step": 1, "loss": 0.6}],
    })

    # ---------------- run 2 ----------------
    cfg2 = {"a": 1, "b": [1, 2, 3]}
    run = wandb.init(group="grp", job_type="eval", name="display-2", config=cfg2, **common)
    run.log({"m": 1})
    run.log({"m": 2})
    run_path2 = (run.entity, run.project, run.id)
    run.finish(exit_code=1)
    out["runs"].append({
        "key": "run2", "id": run_path2[2], "entity": run_path2[0], "project": run_path2[1],
        "display_name": "display-2", "group": "grp", "job_type": "eval", "tags": [],
        "notes": None, "config": cfg2,
        "history": [{"_step": 0, "m": 1}, {"_step": 1, "m": 2}], "history_count": 2,
        "summary": {"m": 2}, "files": [], "alerts": [], "exit_code": 1, "state": "failed",
    })

    # ---------------- run 3: resume run 1 ----------------
    run = wandb.init(id=run_path[2], resume="must", **common)
    sdk_step_at_resume = run.step  # note: 0.31.0 reports 0 here; the wire uses last+1
    resumed_step = out["runs"][0]["history"][-1]["_step"] + 1
    run.log({"loss": 0.5, "resumed": 1})
    run.finish()
    r1 = out["runs"][0]
    r1_resumed = dict(r1)
    r1_resumed.update({
        "key": "run1_resumed", "resumed": True, "first_step_after_resume": resumed_step,
        "sdk_step_at_resume": sdk_step_at_resume,
        "history": r1["history"] + [{"_step": resumed_step, "loss": 0.5, "resumed": 1}],
        "history_count": r1["history_count"] + 1, "alerts": r1["alerts"], "exit_code": 0,
        "state": "finished",
        # summary: old keys kept; logged keys get their new value (loss is 0.5 now). The
        # client re-sends the restored summary, but 0.31.0 drops NaN-valued keys when it
        # restores it from RunResumeStatus, so "weird" (NaN) is gone after the resume.
        "summary": {k: v for k, v in dict(r1["summary"], loss=0.5, resumed=1).items()
                    if k != "weird"},
    })
    r1_resumed.pop("sdk_summary", None)
    out["runs"].append(r1_resumed)
    out["final"] = {"run1": r1_resumed, "run2": out["runs"][1]}
    wandb.teardown()
    return out


def _jsonable(v):
    if isinstance(v, dict) or hasattr(v, "keys"):
        return {k: _jsonable(v[k]) for k in v.keys()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--entity", default=None)
    ap.add_argument("--workdir", default=None, help="WANDB_DIR etc. (default: a temp dir)")
    ap.add_argument("--out", default=None,
                    help="write the JSON summary here (default: last line of stdout)")
    ap.add_argument("--save-wait", type=float, default=7.0,
                    help="seconds to wait after save() and after changing the live file")
    ap.add_argument("--fast", action="store_true",
                    help="1 s filestream transmit interval (default 15 s)")
    ap.add_argument("--no-silent", action="store_true",
                    help="let the client print banner, warnings and errors (and send Viewer)")
    args = ap.parse_args()
    tmp = None
    workdir = args.workdir
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="wbconf-py-")
        workdir = tmp.name
    os.makedirs(workdir, exist_ok=True)
    os.environ.update(client_env(args.base_url.rstrip("/"), args.api_key, workdir, args.fast,
                                 silent=not args.no_silent))
    os.chdir(workdir)  # the SDK resolves relative paths (program, code) from here
    out = run_scenario(args, workdir)
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(out, indent=1, allow_nan=True) + "\n")
    else:
        # one line, and the LAST line of stdout: run 1 prints a console line of its own
        sys.stdout.write(json.dumps(out, allow_nan=True) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
