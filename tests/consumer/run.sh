#!/bin/sh
# run.sh - installs a wandb-mpi build into a temporary prefix and builds a project outside
# the tree against it, with find_package(wandb) (CMakeLists.txt) and with pkg-config
# (Makefile), then runs what it built without a server (WANDB_MODE=disabled).
# Usage: tests/consumer/run.sh [BUILD_DIR]   (default: build; run from anywhere)
# Also checks that `DESTDIR=... cmake --build BUILD_DIR --target install` stages the files.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
build=$(CDPATH='' cd -- "${1:-$here/../../build}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/wandb-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

fail()
{
    echo "consumer: $*" >&2
    exit 1
}

cache_value()
{
    sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"
}

version=$(cache_value CMAKE_PROJECT_VERSION)
with_mpi=no
[ -e "$build/src/mpi/libwandb_mpi.so" ] && with_mpi=yes

# 1. cmake --install into a fresh prefix: libraries, headers, programs, package files, docs.
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install failed"; }
pc=$(find "$prefix" -name wandb.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no wandb.pc installed"
libdir=$(dirname -- "$(dirname -- "$pc")")
expect="$libdir/libwandb.so include/wandb.h include/wandb.hpp include/wandb_version.h bin/wandb-mpi
    bin/wandb-mpi-server bin/wandb-mpi-aggregator bin/wandb-mpirun
    $libdir/cmake/wandb/wandbConfig.cmake $libdir/cmake/wandb/wandbConfigVersion.cmake
    share/doc/wandb-mpi/README.md"
[ "$with_mpi" = no ] || expect="$expect $libdir/libwandb_mpi.so include/wandb_mpi.h include/wandb_mpi.hpp
    $libdir/pkgconfig/wandb_mpi.pc"
for f in $expect
do
    case $f in
    /*) path=$f ;;
    *) path=$prefix/$f ;;
    esac
    [ -e "$path" ] || fail "not installed: ${path#"$prefix"/}"
done
echo "consumer: installed into a temporary prefix ($(find "$prefix" -type f | wc -l) files)"

# 2. DESTDIR staging through the build tool (make install DESTDIR=... with Makefiles).
DESTDIR=$tmp/stage cmake --build "$build" --target install >"$tmp/stage.log" 2>&1 ||
    { cat "$tmp/stage.log"; fail "install with DESTDIR failed"; }
staged=$(find "$tmp/stage" -name wandb.h -path '*/include/*' | head -n 1)
[ -n "$staged" ] || fail "DESTDIR install staged no include/wandb.h"
echo "consumer: DESTDIR install staged ${staged#"$tmp/stage"}"

run_hello()
{
    how=$1
    bin=$2
    ldd "$bin" | grep -q "$libdir/libwandb.so" || fail "$how: $bin does not load the installed libwandb"
    out=$(WANDB_MODE=disabled "$bin") || fail "$how: $bin failed"
    printf '%s\n' "$out" | grep -q "^wandb $version " || fail "$how: unexpected output: $out"
    echo "consumer: $how: hello ran: $(printf '%s' "$out" | tr '\n' ' ')"
}

run_mpi()
{
    how=$1
    bin=$2
    ldd "$bin" | grep -q "$libdir/libwandb_mpi.so" ||
        fail "$how: $bin does not load the installed libwandb_mpi"
    # A singleton MPI job (no mpirun) with logging disabled: no aggregator, no server.
    WANDB_MODE=disabled "$bin" --steps 3 --step-ms 0 >"$tmp/mpi.out" 2>&1 ||
        { cat "$tmp/mpi.out"; fail "$how: $bin failed"; }
    echo "consumer: $how: mpi_train ran as a singleton"
}

# 3. find_package(wandb) with CMAKE_PREFIX_PATH.
cmake -S "$here" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DWANDB_WANT_VERSION="$version" \
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; fail "find_package(wandb) failed"; }
cmake --build "$tmp/cmake" >>"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log"; fail "CMake build failed"; }
run_hello find_package "$tmp/cmake/hello"
# A C++ compiler is optional: without one the consumer builds only the C programs.
with_cxx=no
command -v "${CXX:-c++}" >/dev/null 2>&1 && with_cxx=yes
if [ "$with_cxx" = yes ]
then
    [ -x "$tmp/cmake/hello_cpp" ] || fail "find_package: hello_cpp (wandb.hpp) was not built"
    run_hello find_package "$tmp/cmake/hello_cpp"
fi
if [ "$with_mpi" = yes ]
then
    [ -x "$tmp/cmake/mpi_train" ] || fail "find_package: no wandb::wandb_mpi"
    run_mpi find_package "$tmp/cmake/mpi_train"
fi

# 4. pkg-config with PKG_CONFIG_PATH (the binaries find the library by LD_LIBRARY_PATH).
command -v pkg-config >/dev/null 2>&1 || fail "pkg-config not found (Debian: pkg-config)"
PKG_CONFIG_PATH=$libdir/pkgconfig
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_PATH LD_LIBRARY_PATH
[ "$(pkg-config --modversion wandb)" = "$version" ] || fail "pkg-config: wandb is not version $version"
mkdir -p "$tmp/pc"
targets=hello
[ "$with_cxx" = no ] || targets="$targets hello_cpp"
[ "$with_mpi" = no ] || targets="$targets mpi_train"
# shellcheck disable=SC2086 # targets is a word list
make -s -C "$here" O="$tmp/pc" CXX="${CXX:-c++}" CFLAGS='-O2 -Wall -Wextra -Werror' \
    CXXFLAGS='-O2 -Wall -Wextra -Werror -pedantic' $targets >"$tmp/pc.log" 2>&1 ||
    { cat "$tmp/pc.log"; fail "pkg-config build failed"; }
run_hello pkg-config "$tmp/pc/hello"
[ "$with_cxx" = no ] || run_hello pkg-config "$tmp/pc/hello_cpp"
[ "$with_mpi" = no ] || run_mpi pkg-config "$tmp/pc/mpi_train"
echo "consumer: ok"
