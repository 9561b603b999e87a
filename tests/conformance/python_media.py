#!/usr/bin/env python3
# python_media.py - log the media scenario with the official Python `wandb` SDK
# SPDX-License-Identifier: MIT
#
# usage: python_media.py --base-url URL --api-key KEY --project P --run-id ID --workdir DIR
#                        --png FILE
#
# Needs wandb, numpy and Pillow (tests/conformance/.venv). Logs, one row each:
#   step 0  hist: wandb.Histogram([1, 2, 2, 3, 4], num_bins=4)
#           hist_np: wandb.Histogram(np_histogram=([3, 1], [0.0, 0.5, 1.0]))
#           hist64: wandb.Histogram(the 1000 values of media_values(), default 64 bins)
#           hist32: the same values as np.float32, 33 bins; hist32_same: [0.1] * 3 as float32
#   step 1  img: RGB 4x3, caption "four by three"
#   step 2  grey: grey 5x2;  rgba: RGBA 2x2
#   step 3  imgs: [grey 5x2 caption "grey", RGBA 2x2 caption "rgba"]
#   step 4  table: columns id, label, score, ok, none; rows [1, "cat", 0.75, True, None],
#           [2, "dog", 1e-7, False, None]
#   step 5  tricky: the TRICKY rows below (number and string layout)
#   step 6  hists: [Histogram([1, 2, 3], num_bins=2), Histogram(np_histogram=([1], [0, 1]))]
#           tables: [Table(a, b: [1, "x"]), Table(a: [2.5])]
#   step 7  file_img: wandb.Image(--png), a PNG file logged as it is
# c_media.c logs the same values with the C API; test_media_conformance.py compares them.
# Pixels: byte i of an image with seed s is (i * 37 + s * 11) mod 256, rows packed.
import argparse
import os
import sys


def pixels(np, w, h, c, seed):
    """The scenario's pixels as a uint8 array (h, w[, c])."""
    data = np.array([(i * 37 + seed * 11) % 256 for i in range(w * h * c)], dtype=np.uint8)
    return data.reshape((h, w) if c == 1 else (h, w, c))


def media_values():
    """1000 deterministic values, the same as c_media.c's."""
    return [((i * 7919) % 1000) / 37.0 - 10.0 for i in range(1000)]


# Step 5: numbers and strings whose JSON layout is easy to get wrong.
TRICKY = [
    [1e16, "caf\u00e9 \u65e5\u672c", [1, 2.5, "x"]],
    [1e15, "quote \" backslash \\ nl \n tab \t", {"a": 1, "b": None}],
    [0.00001, "ctl \x01 del \x7f", True],
    [-0.0, "", None],
    [123456.789, "emoji \U0001F600", [[]]],
    [float("nan"), "nan", 0],
    [float("inf"), "inf", -1],
    [-float("inf"), "-inf", 2 ** 53],
    [2.5e-300, "tiny", 1.0],
    [1.7976931348623157e308, "max", 0.1],
]


def main():
    ap = argparse.ArgumentParser()
    for a in ("--base-url", "--api-key", "--project", "--run-id", "--workdir", "--png"):
        ap.add_argument(a, required=True)
    args = ap.parse_args()
    os.environ.update({
        "WANDB_BASE_URL": args.base_url, "WANDB_API_KEY": args.api_key, "WANDB_MODE": "online",
        "WANDB_SILENT": "true", "WANDB_QUIET": "true", "WANDB_ERROR_REPORTING": "false",
        "WANDB_X_DISABLE_STATS": "true", "WANDB_X_DISABLE_META": "true",
        "WANDB_X_DISABLE_MACHINE_INFO": "true", "WANDB_DISABLE_CODE": "true",
        "WANDB_SAVE_CODE": "false", "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off",
        "WANDB_INIT_TIMEOUT": "60", "WANDB_DIR": args.workdir,
    })
    import numpy as np
    import wandb

    run = wandb.init(project=args.project, id=args.run_id)
    run.log({"hist": wandb.Histogram([1, 2, 2, 3, 4], num_bins=4),
             "hist_np": wandb.Histogram(np_histogram=([3, 1], [0.0, 0.5, 1.0])),
             "hist64": wandb.Histogram(media_values()),
             "hist32": wandb.Histogram(np.array(media_values(), dtype=np.float32), num_bins=33),
             "hist32_same": wandb.Histogram(np.array([0.1, 0.1, 0.1], dtype=np.float32))})
    run.log({"img": wandb.Image(pixels(np, 4, 3, 3, 1), caption="four by three")})
    run.log({"grey": wandb.Image(pixels(np, 5, 2, 1, 2)),
             "rgba": wandb.Image(pixels(np, 2, 2, 4, 3))})
    run.log({"imgs": [wandb.Image(pixels(np, 5, 2, 1, 2), caption="grey"),
                      wandb.Image(pixels(np, 2, 2, 4, 3), caption="rgba")]})
    run.log({"table": wandb.Table(columns=["id", "label", "score", "ok", "none"],
                                  data=[[1, "cat", 0.75, True, None],
                                        [2, "dog", 1e-7, False, None]])})
    run.log({"tricky": wandb.Table(columns=["x", "s", "j"], data=TRICKY, allow_mixed_types=True)})
    run.log({"hists": [wandb.Histogram([1, 2, 3], num_bins=2),
                       wandb.Histogram(np_histogram=([1], [0.0, 1.0]))],
             "tables": [wandb.Table(columns=["a", "b"], data=[[1, "x"]]),
                        wandb.Table(columns=["a"], data=[[2.5]])]})
    run.log({"file_img": wandb.Image(args.png)})
    run.finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
