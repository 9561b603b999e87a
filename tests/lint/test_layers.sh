#!/bin/sh
# test_layers.sh - the layer check (.ci/check-layers, table .ci/layers) passes the real
# tree and rejects, in a copy of it, each kind of crossing: an upward arrow, a sideways
# arrow, an include that climbs with "../", and a component missing from the table.
# Usage: test_layers.sh [REPO_ROOT]. Exit 0 pass, 1 fail, 77 skip (no bash).
set -eu
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
check="$root/.ci/check-layers"
table="$root/.ci/layers"
if ! command -v bash >/dev/null 2>&1
then
    echo "SKIP: bash not found"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# expect_reject NAME PATTERN: the check of $tmp/src fails and prints PATTERN.
expect_reject()
{
    if bash "$check" "$tmp/src" "$table" >"$tmp/out" 2>&1
    then
        echo "FAIL: $1: accepted"
        fails=$((fails + 1))
    elif ! grep -q -- "$2" "$tmp/out"
    then
        echo "FAIL: $1: no line matching '$2' in:"
        cat "$tmp/out"
        fails=$((fails + 1))
    else
        echo "ok: $1: $(grep -- "$2" "$tmp/out" | head -n 1)"
    fi
}

# fresh: a pristine copy of the real src/ in $tmp/src.
fresh()
{
    rm -rf "$tmp/src"
    cp -R "$root/src" "$tmp/src"
}

if bash "$check" "$root/src" "$table"
then
    echo "ok: the real tree passes"
else
    echo "FAIL: the real tree crosses the layers (above)"
    fails=$((fails + 1))
fi

fresh
printf '#include "aggregator/aggregator.h"\n' >>"$tmp/src/logger/run.c"
line=$(wc -l <"$tmp/src/logger/run.c" | tr -d ' ')
expect_reject "logger -> aggregator" "src/logger/run.c:$line: logger -> aggregator"

fresh
printf '#include "logger/run.h"\n' >>"$tmp/src/common/buf.h"
expect_reject "common -> logger (upward)" "src/common/buf.h:[0-9]*: common -> logger"

fresh
printf '#include <backend/backend.h>\n' >>"$tmp/src/aggregator/run.h"
expect_reject "aggregator -> backend (angle brackets)" "src/aggregator/run.h:[0-9]*: aggregator -> backend"

fresh
printf '#include "../server/server.h"\n' >>"$tmp/src/cli/main.c"
expect_reject "cli -> ../server" "src/cli/main.c:[0-9]*: cli -> \"../server/server.h\" climbs"

fresh
mkdir "$tmp/src/newpart"
printf '#include "common/buf.h"\n' >"$tmp/src/newpart/x.c"
expect_reject "a component missing from the table" "src/newpart is not in"

if [ "$fails" -ne 0 ]
then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all layer checks passed"
