#!/usr/bin/env python3
# python_resume.py - the official client's side of test_resume_conformance.py
# SPDX-License-Identifier: MIT
#
# usage: python_resume.py BASE_URL API_KEY PROJECT RUN_ID RESUME FROM TO WORKDIR
#   (run with the pinned venv). Opens RUN_ID with resume=RESUME ("none": unset), logs
#   loss=step for FROM..TO-1 and finishes; prints one JSON line {"resumed", "starting_step",
#   "step"} as the client reported them after init.
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from python_scenario import client_env  # noqa: E402

base_url, api_key, project, run_id, resume, first, last, workdir = sys.argv[1:9]
os.environ.update(client_env(base_url, api_key, workdir, fast=True))
import wandb  # noqa: E402  (after the environment is set)

kw = {} if resume == "none" else {"resume": resume}
run = wandb.init(project=project, id=run_id, config={"py": 1}, **kw)
print(json.dumps({"resumed": bool(run.resumed), "starting_step": run.starting_step,
                  "step": run.step}), flush=True)
for k in range(int(first), int(last)):
    run.log({"loss": float(k)})
run.finish()
