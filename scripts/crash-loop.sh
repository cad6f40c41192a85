#!/usr/bin/env bash
# Crash loop of a real broker: producers (the ringmq client, raw
# SEND_MESSAGE frames and the independent rocketmq-client-rust 1.0.0) send
# while the broker is kill -9ed at random moments and restarted, CYCLES
# times; then every acknowledged message is read back. Prints acknowledged /
# lost / duplicated / corrupt in all and for each producer
# (tests/tests/crash_loop.rs).
#
#   scripts/crash-loop.sh [CYCLES] [--sync] [--seed N]
#
# CYCLES defaults to 1000 (CI runs 20). Builds the ringmq binary first.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --sync) export RINGMQ_CRASH_LOOP_SYNC=1 ;;
    --seed) shift; export RINGMQ_CRASH_LOOP_SEED="$1" ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) cycles="$1" ;;
  esac
  shift
done
export RINGMQ_CRASH_LOOP_CYCLES="$cycles"
cargo build --bin ringmq
# cargo test, not nextest: a long loop must not hit nextest's 5-minute bound.
cargo test -p ringmq-tests --test crash_loop -- --nocapture 2>&1 |
  grep -E '\[crash-loop\]|test result|panicked|lost'
