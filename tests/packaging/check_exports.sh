#!/bin/sh
# check_exports.sh - fails when a shared library exports a symbol outside the public API.
# Usage: check_exports.sh LIB.so...
# Only wandb_* (the functions marked WANDB_EXPORT in include/wandb.h and wandb_mpi.h) and
# the linker's own _init, _fini, _edata, _end and __bss_start may be defined in the
# dynamic symbol table. Prints each offender; exit 0 clean, 1 offenders, 77 no nm.
set -eu

if ! command -v nm >/dev/null 2>&1
then
    echo "SKIP: nm not found (Debian: binutils)"
    exit 77
fi
if [ $# -eq 0 ]
then
    echo "usage: check_exports.sh LIB.so..." >&2
    exit 2
fi

status=0
for lib in "$@"
do
    if ! syms=$(nm -D --defined-only "$lib")
    then
        echo "$lib: nm failed"
        status=1
        continue
    fi
    # nm prints "address type name"; versioned names end in @VERSION.
    names=$(printf '%s\n' "$syms" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }')
    bad=$(printf '%s\n' "$names" | grep -vE '^(wandb_[A-Za-z0-9_]+|_init|_fini|_edata|_end|__bss_start)$' |
        grep -v '^$' || true)
    total=$(printf '%s\n' "$names" | grep -c . || true)
    if [ -n "$bad" ]
    then
        count=$(printf '%s\n' "$bad" | grep -c .)
        echo "$lib: $count of $total exported symbols are not wandb_*:"
        printf '%s\n' "$bad" | sed 's/^/  /'
        status=1
    else
        echo "$lib: $total exported symbols, all wandb_* (or linker-defined)"
    fi
done
exit "$status"
