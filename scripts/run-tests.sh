#!/usr/bin/env bash
# Builds tpm2emu twice and runs every test in both:
#   build/       RelWithDebInfo
#   build-asan/  RelWithDebInfo with ASan + UBSan (-DTPM2EMU_SANITIZE=ON)
# Exits non-zero if a build or a test fails; the last line is the ctest summary over both.
# Environment: JOBS (build jobs, default 2), CTEST_JOBS (default 2), SKIP_ASAN=1 to skip the
# sanitizer build, TPM2EMU_BUILD_DIR / TPM2EMU_ASAN_BUILD_DIR to build elsewhere.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=${JOBS:-2}
ctest_jobs=${CTEST_JOBS:-2}
status=0
passed=0
failed=0
summaries=()

# run_suite NAME BUILD_DIR [cmake options...]
run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "=== $name: configure and build ($dir)"
  if ! BUILD_DIR=$dir JOBS=$jobs "$root/scripts/build.sh" "$@"; then
    echo "=== $name: BUILD FAILED"
    summaries+=("$name: build failed")
    status=1
    return
  fi
  echo "=== $name: ctest"
  local log
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j "$ctest_jobs") 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if [[ $rc -ne 0 ]]; then
    status=1
  fi
  # "100% tests passed, 0 tests failed out of 42"
  local line
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -n $line ]]; then
    local f t
    f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
    t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    failed=$((failed + f))
    passed=$((passed + t - f))
    summaries+=("$name: $line")
  else
    summaries+=("$name: ctest gave no summary (exit $rc)")
    status=1
  fi
  rm -f "$log"
}

build_dir=${TPM2EMU_BUILD_DIR:-$root/build}
asan_build_dir=${TPM2EMU_ASAN_BUILD_DIR:-$root/build-asan}

run_suite "build" "$build_dir" -DTPM2EMU_SANITIZE=OFF
if [[ ${SKIP_ASAN:-0} != 1 ]]; then
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_suite "build-asan" "$asan_build_dir" -DTPM2EMU_SANITIZE=ON
fi

echo "=== summary"
for s in "${summaries[@]}"; do
  echo "$s"
done
total=$((passed + failed))
if [[ $total -gt 0 ]]; then
  pct=$((passed * 100 / total))
else
  pct=0
  status=1
fi
echo "$pct% tests passed, $failed tests failed out of $total"
exit $status
