#!/usr/bin/env bash
# install.sh - installs the pinned official W&B clients the conformance tests drive
# SPDX-License-Identifier: MIT
#
# tests/conformance/.venv         python3 -m venv, then pip install -r requirements.txt (wandb)
# tests/conformance/node_modules  npm ci (package-lock.json: @wandb/sdk)
# Idempotent and quiet: pip runs only when the venv is new or requirements.txt changed since
# the last install (its hash is kept in .venv/.requirements.sha256; an already satisfied pin
# needs no download); npm ci runs only when node_modules has no @wandb/sdk. Without python3 or
# npm it says so and exits 0: the tests then skip themselves (exit 77).
set -euo pipefail
cd "$(dirname "$0")"

if command -v python3 >/dev/null 2>&1; then
    if [ ! -x .venv/bin/python ]; then
        echo "conformance: creating tests/conformance/.venv" >&2
        python3 -m venv .venv
    fi
    want=$(sha256sum requirements.txt | cut -d' ' -f1)
    have=$(cat .venv/.requirements.sha256 2>/dev/null || true)
    if [ "$want" != "$have" ]; then
        echo "conformance: pip install -r tests/conformance/requirements.txt" >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
        echo "$want" > .venv/.requirements.sha256
    fi
else
    echo "conformance: no python3; test_python_sdk will be skipped" >&2
fi

if command -v npm >/dev/null 2>&1; then
    if [ ! -f node_modules/@wandb/sdk/package.json ]; then
        echo "conformance: npm ci in tests/conformance" >&2
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
    fi
else
    echo "conformance: no npm; test_npm_sdk will be skipped" >&2
fi
