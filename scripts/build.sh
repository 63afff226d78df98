#!/usr/bin/env bash
# Configures and builds policer into ./build (or $POLICER_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${POLICER_BUILD_DIR:-build}"
# clang: the libFuzzer targets need it (g++ builds everything else just as well).
export CC="${CC:-clang}" CXX="${CXX:-clang++}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
