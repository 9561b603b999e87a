#!/bin/sh
# check_headers.sh - compiles every public header on its own, the C++ example and the
# C++ test with -Wall -Wextra -Werror -pedantic: the C++ ones as C++17 and C++20, the C
# headers also as C11. MPI headers only when MPI include directories are given.
# Usage: check_headers.sh CXX CC SOURCE_DIR GENERATED_INCLUDE_DIR [MPI_INCLUDE_DIR...]
set -eu

[ $# -ge 4 ] || { echo "usage: check_headers.sh CXX CC SOURCE_DIR GEN_DIR [MPI_DIR...]" >&2; exit 2; }
cxx=$1
cc=$2
src=$3
gen=$4
shift 4
mpi=""
for d in "$@"
do
    mpi="$mpi -isystem $d"
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wandb-headers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
warn="-Wall -Wextra -Werror -pedantic -Wshadow"
inc="-I$src/include -I$gen -I$src/tests"
count=0
failed=0

# compile LABEL COMPILER FLAGS... FILE: one compilation, reported when it fails.
compile()
{
    label=$1
    shift
    if "$@" -c -o "$tmp/out.o" >"$tmp/log" 2>&1
    then
        count=$((count + 1))
    else
        echo "check_headers: FAILED: $label"
        cat "$tmp/log"
        failed=$((failed + 1))
    fi
}

for h in wandb.h wandb_media.h wandb_mpi.h wandb.hpp wandb_mpi.hpp
do
    case $h in
    *mpi*) [ -n "$mpi" ] || continue ;;
    esac
    printf '#include "%s"\n' "$h" >"$tmp/alone.cpp"
    for std in c++17 c++20
    do
        # shellcheck disable=SC2086 # word lists
        compile "$h as $std" "$cxx" -std=$std $warn $inc $mpi "$tmp/alone.cpp"
    done
    case $h in
    *.h)
        printf '#include "%s"\n' "$h" >"$tmp/alone.c"
        # shellcheck disable=SC2086
        compile "$h as c11" "$cc" -std=c11 $warn -Wstrict-prototypes -Wmissing-prototypes $inc \
            $mpi "$tmp/alone.c"
        ;;
    esac
done
for std in c++17 c++20
do
    # shellcheck disable=SC2086
    compile "examples/cpp_train.cpp as $std" "$cxx" -std=$std $warn $inc \
        "$src/examples/cpp_train.cpp"
    if [ -n "$mpi" ]
    then
        # shellcheck disable=SC2086
        compile "examples/cpp_train.cpp (MPI) as $std" "$cxx" -std=$std $warn $inc $mpi \
            -DWANDB_EXAMPLE_MPI "$src/examples/cpp_train.cpp"
    fi
    # shellcheck disable=SC2086
    compile "tests/integration/test_cpp_run.cpp as $std" "$cxx" -std=$std $warn $inc \
        "$src/tests/integration/test_cpp_run.cpp"
done
# wandb.hpp refuses C++14 with a message, not with a cascade of errors.
printf '#include "wandb.hpp"\n' >"$tmp/old.cpp"
# shellcheck disable=SC2086
if "$cxx" -std=c++14 $inc -c -o "$tmp/old.o" "$tmp/old.cpp" >"$tmp/log" 2>&1 ||
    ! grep -q "wandb.hpp needs C++17" "$tmp/log"
then
    echo "check_headers: FAILED: wandb.hpp under C++14 should stop with 'wandb.hpp needs C++17'"
    cat "$tmp/log"
    failed=$((failed + 1))
fi
echo "check_headers: $count compilations clean, $failed failed"
[ "$failed" = 0 ]
