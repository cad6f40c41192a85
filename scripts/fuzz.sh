#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and reports, per
# target, the executions and whether it found anything. Works on the stable
# toolchain: cargo-fuzz's -Z flags are allowed with RUSTC_BOOTSTRAP=1, and
# ASan is used when its runtime is there (else --sanitizer none).
#
#   scripts/fuzz.sh                      every target, 30 s each
#   scripts/fuzz.sh --seconds 300        longer
#   scripts/fuzz.sh --target key_index_decode --seconds 600
#   scripts/fuzz.sh --sanitizer none     skip ASan (faster, finds only panics)
#   scripts/fuzz.sh --list               the targets
#
# Each target starts from its corpus (fuzz/corpus/<target>, kept between
# runs, not committed), its regression inputs (fuzz/regressions/<target>)
# and, for the frame targets, the captured frames in fixtures/wire/. A find
# lands in fuzz/artifacts/<target>/; fix the decoder, then copy the input to
# fuzz/regressions/<target>/ so the workspace tests replay it for ever.
#
# Builds go to $FUZZ_TARGET_DIR (default fuzz/target): never the main
# workspace's target dir, whose flags differ. Exit status: 0 if no target
# found anything, 1 otherwise, 2 on a usage or build error.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
only=""
sanitizer=""
list=false
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --target) only="${2:?--target needs a name}"; shift 2 ;;
    --sanitizer) sanitizer="${2:?--sanitizer needs address or none}"; shift 2 ;;
    --list) list=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$seconds" in ''|*[!0-9]*) echo "--seconds takes a whole number" >&2; exit 2 ;; esac

targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^ringmq-fuzz$')
if $list; then echo "$targets"; exit 0; fi
if [ -n "$only" ]; then
  if ! grep -qx "$only" <<<"$targets"; then
    echo "no fuzz target named $only; targets:" >&2; echo "$targets" >&2; exit 2
  fi
  targets="$only"
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: installing it from crates.io"
  cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
target_dir="${FUZZ_TARGET_DIR:-$PWD/fuzz/target}"
triple=$(rustc -vV | sed -n 's/^host: //p')
build() {
  (cd fuzz && cargo fuzz build --target-dir "$target_dir" --sanitizer "$1" $only)
}
if [ -z "$sanitizer" ]; then
  if build address; then
    sanitizer=address
  else
    echo "== the ASan build failed (no ASan runtime?): building with --sanitizer none"
    sanitizer=none
    build none || exit 2
  fi
else
  build "$sanitizer" || exit 2
fi
bin_dir="$target_dir/$triple/release"

# File-level targets write scratch files under TMPDIR: keep them in memory.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

found=0
summary=""
for target in $targets; do
  corpus="fuzz/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  seeds=()
  [ -d "fuzz/regressions/$target" ] && seeds+=("fuzz/regressions/$target")
  case "$target" in
    frame_decode|request_guard) seeds+=(fixtures/wire) ;;
  esac
  log="$artifacts/last-run.log"
  echo "== $target: $seconds s (sanitizer $sanitizer, seeds: ${seeds[*]:-none})"
  status=0
  "$bin_dir/$target" "$corpus" "${seeds[@]}" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" -eq 0 ]; then
    result="no crash"
  else
    found=1
    result="FOUND (exit $status): $(grep -m1 -E 'panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer' "$log" || echo 'see log')"
    grep -m1 'Test unit written to' "$log" || true
  fi
  echo "   ${runs:-?} executions, $result (log: $log)"
  summary+="| \`$target\` | ${runs:-?} | $result |"$'\n'
done

echo
echo "| target | executions in ${seconds} s | result |"
echo "|---|---|---|"
printf '%s' "$summary"
exit "$found"
