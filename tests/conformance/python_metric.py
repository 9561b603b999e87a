#!/usr/bin/env python3
# python_metric.py - the official client's define_metric sequence of test_metric_conformance.py
# SPDX-License-Identifier: MIT
#
# usage: python_metric.py BASE_URL API_KEY PROJECT RUN_ID WORKDIR   (run with the pinned venv)
# The same calls as c_metric.c: definitions merged (overwrite unset), one replaced
# (overwrite=True), a glob, summary none; then four rows. Exit 0 when every call returned.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_scenario import client_env  # noqa: E402

base_url, api_key, project, run_id, workdir = sys.argv[1:6]
os.environ.update(client_env(base_url, api_key, workdir, fast=True))
import wandb  # noqa: E402  (after the environment is set)

run = wandb.init(project=project, id=run_id)
run.define_metric("epoch")
run.define_metric("val/loss", step_metric="epoch", summary="min", hidden=True)
run.define_metric("val/loss", summary="max")
run.define_metric("acc", step_metric="epoch", summary="mean,first")
run.define_metric("acc", summary="last", overwrite=True)
run.define_metric("train/*", summary="max")
run.define_metric("gone", summary="none")
run.define_metric("lr", summary="mean,first,min")
LOSS, ACC = [0.5, 0.2, 0.4, 0.3], [0.1, 0.6, 0.3, 0.5]
for i in range(4):
    run.log({"epoch": i, "val/loss": LOSS[i], "acc": ACC[i], "train/x": float(i), "gone": i,
             "lr": 0.1 * (i + 1)})
run.finish()
