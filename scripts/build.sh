#!/usr/bin/env bash
# Configures and builds tpm2emu in build/ (RelWithDebInfo).
#   scripts/build.sh [extra cmake -D options]
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo), JOBS (default 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
build_type=${BUILD_TYPE:-RelWithDebInfo}
jobs=${JOBS:-2}

generator=()
if command -v ninja >/dev/null 2>&1; then
  generator=(-G Ninja)
fi
# An existing build directory keeps the generator it was configured with.
if [[ -f $build_dir/CMakeCache.txt ]]; then
  generator=()
fi

cmake -S "$root" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" "$@"
cmake --build "$build_dir" -j "$jobs"
