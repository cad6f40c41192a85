#!/usr/bin/env bash
# benches/compare.sh — ringmq side by side with NATS JetStream and Redis
# Streams, and the machine's own ceilings, in one run on this machine.
#
# What one run measures (every server on 127.0.0.1, started and stopped here):
#   machine  sequential write with fdatasync (fio), fdatasync latency (fio),
#            loopback TCP (iperf3)
#   ringmq   `ringmq standalone` (async flush): single 1 KiB sends with 256
#            in flight, batched sends of 32, catch-up consume of a backlog,
#            e2e latency at 1 in flight, the independent rocketmq-client-rust
#            client's single sends; the same single sends on 1 shard; a
#            `ringmq broker --flush-mode sync` with `ringmq nameserver`; e2e
#            latency at half the single-send rate (`ringmq bench --rate`).
#            Broker CPU per message (/proc/<pid>/stat), bench client CPU per
#            message (GNU time), broker RssAnon (/proc/<pid>/status).
#   nats     nats-server -js (file store): publish with 256 acks in flight,
#            catch-up consume with a pull consumer (benches/peers, async-nats).
#   redis    redis-server with AOF appendfsync everysec, then always:
#            redis-benchmark -c 16 -P 16 XADD of 1 KiB values.
# Each figure is the median of --runs runs; ratios ringmq/peer come from the
# same run. Each ringmq and NATS run gets a fresh server, and every server's
# data is deleted when it stops: the disk holds one server's data at a time
# (up to ~8 GiB by default; the run refuses to start with less than 12 GiB
# free, RINGMQ_COMPARE_MIN_FREE_GIB). A full default run writes BENCHMARKS.md and
# benches/results/compare.json; --quick and --only write to a scratch
# directory (printed) unless --out is given.
#
# Usage: benches/compare.sh [--quick] [--runs N] [--only LIST] [--out DIR]
#                           [--no-install]
#   --quick       short runs and small backlogs (a smoke test of a few minutes)
#   --runs N      runs per figure (default 3; 1 with --quick)
#   --only LIST   comma-separated sections: machine, ringmq, sync, indep,
#                 nats, redis ("ringmq" alone skips the independent client
#                 and the sync broker: the fastest loop while tuning)
#   --out DIR     where BENCHMARKS.md and compare.json go
#   --no-install  do not apt-get install missing tools
# Environment: CARGO_TARGET_DIR (ringmq's build, and the peers' unless
# RINGMQ_PEERS_TARGET_DIR is set), RINGMQ_COMPARE_SECS (seconds per produce
# run), RINGMQ_COMPARE_BACKLOG (messages in each consume backlog).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
REPORT_PY="$REPO/benches/compare_report.py"

QUICK=0
RUNS=""
ONLY="machine,ringmq,sync,indep,nats,redis"
ONLY_GIVEN=0
OUT=""
INSTALL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS="$2"; shift ;;
    --only) ONLY="$2"; ONLY_GIVEN=1; shift ;;
    --out) OUT="$2"; shift ;;
    --no-install) INSTALL=0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$QUICK" = 1 ]; then
  RUNS="${RUNS:-1}"
  SECS="${RINGMQ_COMPARE_SECS:-4}"
  BATCH_SECS="${RINGMQ_COMPARE_BATCH_SECS:-6}"
  BACKLOG="${RINGMQ_COMPARE_BACKLOG:-200000}"
  REDIS_N="${RINGMQ_COMPARE_REDIS_N:-200000}"
  FIO_MIB=512
  FSYNC_SECS=3
  IPERF_SECS=2
else
  RUNS="${RUNS:-3}"
  SECS="${RINGMQ_COMPARE_SECS:-10}"
  BATCH_SECS="${RINGMQ_COMPARE_BATCH_SECS:-20}"
  BACKLOG="${RINGMQ_COMPARE_BACKLOG:-1000000}"
  REDIS_N="${RINGMQ_COMPARE_REDIS_N:-1000000}"
  FIO_MIB=2048
  FSYNC_SECS=5
  IPERF_SECS=3
fi
case "$RUNS" in ''|*[!0-9]*|0) echo "--runs must be a positive integer" >&2; exit 2 ;; esac

MODE=default
[ "$QUICK" = 1 ] && MODE=quick
[ "$ONLY_GIVEN" = 1 ] && MODE="$MODE-only-${ONLY//,/-}"
if [ -z "$OUT" ]; then
  if [ "$MODE" = default ]; then
    OUT="$REPO"
  else
    OUT="$(mktemp -d "${TMPDIR:-/tmp}/ringmq-compare-out.XXXXXX")"
  fi
fi
mkdir -p "$OUT"
if [ "$OUT" = "$REPO" ]; then
  MD_OUT="$REPO/BENCHMARKS.md"
  JSON_OUT="$REPO/benches/results/compare.json"
else
  MD_OUT="$OUT/BENCHMARKS.md"
  JSON_OUT="$OUT/compare.json"
fi
mkdir -p "$(dirname "$JSON_OUT")"

want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- scratch space and clean-up --------------------------------------------

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ringmq-compare.XXXXXX")"
RUNS_FILE="$WORK/runs.jsonl"
: > "$RUNS_FILE"
mkdir -p "$WORK/out"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
STARTED_AT=$(date +%s)

# --- tools ------------------------------------------------------------------

# Debian package of each tool the run needs.
declare -A PKG=(
  [nats-server]=nats-server [redis-server]=redis-server
  [redis-benchmark]=redis-tools [redis-cli]=redis-tools
  [fio]=fio [iperf3]=iperf3 [/usr/bin/time]=time [python3]=python3
)
install_missing() {
  local missing=() tool
  for tool in "${!PKG[@]}"; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${PKG[$tool]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$INSTALL" = 0 ]; then
    echo "missing packages: ${missing[*]} (run without --no-install)" >&2; exit 1
  fi
  log "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  local pkg candidate
  for pkg in "${missing[@]}"; do
    candidate=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}')
    if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
      echo "apt has no candidate for $pkg:" >&2
      apt-cache policy "$pkg" >&2
      exit 1
    fi
    log "  $pkg $candidate"
  done
  apt-get install -y -q "${missing[@]}" >/dev/null
}
install_missing

TCK=$(getconf CLK_TCK)
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
PEERS_TARGET_DIR="${RINGMQ_PEERS_TARGET_DIR:-$TARGET_DIR}"
RINGMQ="$TARGET_DIR/release/ringmq"
# The report writes these as $CARGO_TARGET_DIR, $RINGMQ_PEERS_TARGET_DIR and .
export COMPARE_TARGET_DIR="$TARGET_DIR" COMPARE_PEERS_TARGET_DIR="$PEERS_TARGET_DIR" COMPARE_REPO="$REPO"
NATS_LOAD="$PEERS_TARGET_DIR/release/nats_load"
RMQ_LOAD="$PEERS_TARGET_DIR/release/rocketmq_client_load"

if want ringmq || want sync || want indep; then
  log "building ringmq (release) into $TARGET_DIR"
  (cd "$REPO" && cargo build --release --locked --bin ringmq -q)
fi
if want nats || want indep; then
  log "building the peer load generators (benches/peers) into $PEERS_TARGET_DIR"
  (cd "$REPO/benches/peers" && cargo build --release --locked -q --target-dir "$PEERS_TARGET_DIR")
fi

# --- process helpers --------------------------------------------------------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# utime+stime of a process (all its threads), in clock ticks.
cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo $(( ${12} + ${13} ))
}

rss_anon_kib() {
  awk '/^RssAnon:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

wait_port() { # host port seconds
  local deadline=$(( $(date +%s) + $3 ))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

wait_log() { # file pattern seconds
  local deadline=$(( $(date +%s) + $3 ))
  until grep -q "$2" "$1" 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.2
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

record() { python3 "$REPORT_PY" record "$@" >> "$RUNS_FILE"; }

# measure ROW RUN KIND SERVER_PID -- command...: runs the command bounded in
# time, with the server's CPU ticks before and after and the command's own
# CPU time; appends one record. SHOWN (env) replaces the command shown; with
# MARK (env), the server's CPU is counted from when the command's stderr
# shows MARK (e.g. a consume run's end of filling).
measure() {
  local row=$1 run=$2 kind=$3 spid=$4; shift 5
  local out="$WORK/out/$row.$run" t0 t1 status=0 watcher=""
  t0=$(cpu_ticks "$spid")
  : > "$out.stderr"
  if [ -n "${MARK:-}" ]; then
    ( deadline=$(( $(date +%s) + ${LIMIT:-300} ))
      until grep -q "$MARK" "$out.stderr" 2>/dev/null; do
        [ "$(date +%s)" -lt "$deadline" ] || exit 0
        sleep 0.05
      done
      cpu_ticks "$spid" > "$out.mark" ) &
    watcher=$!
  fi
  /usr/bin/time -o "$out.time" -f '%e %U %S' \
    timeout --kill-after=10 "${LIMIT:-300}" "$@" > "$out.stdout" 2>> "$out.stderr" || status=$?
  t1=$(cpu_ticks "$spid")
  if [ -n "$watcher" ]; then
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
    [ -s "$out.mark" ] && t0=$(cat "$out.mark")
  fi
  if [ "$status" != 0 ]; then
    log "$row run $run exited $status: $(tail -3 "$out.stderr" | tr '\n' ' ')"
  fi
  record --row "$row" --run "$run" --kind "$kind" --stdout "$out.stdout" \
    --time "$out.time" --server-ticks $(( t1 - t0 )) --tck "$TCK" \
    --status "$status" --cmd "${SHOWN:-$*}"
}

note_rss() { # ROW RUN PID MESSAGES_RETAINED
  record --row "$1" --run "$2" --kind rss --rss-kib "$(rss_anon_kib "$3")" --retained "$4" \
    --cmd "grep RssAnon /proc/<pid>/status"
}

retained_by() { # RUN ROW...: messages acknowledged in run RUN by those rows
  local run=$1; shift
  python3 "$REPORT_PY" retained --runs "$RUNS_FILE" --run "$run" --rows "$@"
}

# Every server's data lives under $WORK and is deleted when the server
# stops, so the disk holds one server's data at a time.
need_free_space() {
  local want_gib=$1 free_kib
  free_kib=$(df -Pk "$WORK" | awk 'NR==2 {print $4}')
  if [ $(( free_kib / 1024 / 1024 )) -lt "$want_gib" ]; then
    echo "compare.sh needs ${want_gib} GiB free under $WORK; $(( free_kib / 1024 / 1024 )) GiB are (set RINGMQ_COMPARE_MIN_FREE_GIB to change)" >&2
    exit 1
  fi
}

# --- machine ceilings -------------------------------------------------------

machine() {
  local i dir="$WORK/fio" port
  mkdir -p "$dir"
  for i in $(seq 1 "$RUNS"); do
    log "machine run $i/$RUNS: sequential write + fdatasync, fdatasync latency, loopback TCP"
    measure disk_seq_write "$i" fio-write 0 -- fio --name=seqwrite --directory="$dir" \
      --rw=write --bs=1M --size="${FIO_MIB}M" --ioengine=psync --fdatasync=32 \
      --end_fsync=1 --output-format=json
    rm -f "$dir"/*
    measure disk_fdatasync "$i" fio-sync 0 -- fio --name=fdatasync --directory="$dir" \
      --rw=write --bs=4k --size=64M --ioengine=sync --fdatasync=1 \
      --runtime="$FSYNC_SECS" --time_based --output-format=json
    rm -f "$dir"/*
    port=$(free_port)
    # One-off server (-1): a probe connection would be its one client, so
    # wait for its log line instead.
    iperf3 -s -B 127.0.0.1 -p "$port" -1 > "$WORK/iperf.$i.log" 2>&1 &
    PIDS+=($!)
    wait_log "$WORK/iperf.$i.log" "listening" 10 || true
    measure loopback_tcp "$i" iperf3 0 -- iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECS" -J
  done
}

# --- ringmq -----------------------------------------------------------------

RINGMQ_PID=""
RINGMQ_NS=""
start_standalone() { # NAME [--shards N]
  local name=$1; shift
  local ns_port b_port
  ns_port=$(free_port); b_port=$(free_port)
  mkdir -p "$WORK/$name"
  "$RINGMQ" standalone --data-dir "$WORK/$name/data" --host 127.0.0.1 --no-dashboard \
    --namesrv-port "$ns_port" --broker-port "$b_port" "$@" > "$WORK/$name/log" 2>&1 &
  RINGMQ_PID=$!
  PIDS+=("$RINGMQ_PID")
  RINGMQ_NS="127.0.0.1:$ns_port"
  wait_log "$WORK/$name/log" "standalone is up" 30 || { cat "$WORK/$name/log" >&2; exit 1; }
  wait_port 127.0.0.1 "$b_port" 30
}

bench_produce() { # ROW RUN TOPIC extra flags...
  local row=$1 run=$2 topic=$3; shift 3
  measure "$row" "$run" bench "$RINGMQ_PID" -- "$RINGMQ" bench produce --namesrv "$RINGMQ_NS" \
    --topic "$topic" --queues 8 --message-size 1024 --in-flight 256 --json "$@"
}

ringmq_async() {
  local i
  for i in $(seq 1 "$RUNS"); do
    log "ringmq run $i/$RUNS: a fresh standalone (async flush, one shard per core): single sends, batched sends, catch-up consume, e2e"
    start_standalone "async$i"
    note_rss ringmq_rss_start "$i" "$RINGMQ_PID" 0
    bench_produce ringmq_single "$i" "Single$i" --duration "$SECS"
    bench_produce ringmq_batch "$i" "Batch$i" --batch-size 32 --duration "$BATCH_SECS"
    MARK="filled " measure ringmq_consume "$i" bench "$RINGMQ_PID" -- "$RINGMQ" bench consume \
      --namesrv "$RINGMQ_NS" --topic "Consume$i" --queues 8 --message-size 1024 \
      --batch-size 32 --in-flight 64 --messages "$BACKLOG" --duration 120 --json
    measure ringmq_e2e_1 "$i" bench "$RINGMQ_PID" -- "$RINGMQ" bench e2e --namesrv "$RINGMQ_NS" \
      --topic "E2e$i" --queues 8 --message-size 1024 --in-flight 1 --duration "$SECS" --json
    # e2e at half the rate this run's single sends reached.
    measure ringmq_e2e_half "$i" bench "$RINGMQ_PID" -- "$RINGMQ" bench e2e --namesrv "$RINGMQ_NS" \
      --topic "E2eHalf$i" --queues 8 --message-size 1024 --in-flight 256 --duration "$SECS" \
      --rate "$(python3 "$REPORT_PY" half-rate --runs "$RUNS_FILE" --row ringmq_single --run "$i")" --json
    if want indep; then
      indep_rows "$i"
    fi
    note_rss ringmq_rss_end "$i" "$RINGMQ_PID" "$(retained_by "$i" ringmq_single ringmq_batch \
      ringmq_consume ringmq_e2e_1 ringmq_e2e_half indep_single indep_topic)"
    stop_pid "$RINGMQ_PID"
    rm -rf "$WORK/async$i"
  done

  log "ringmq standalone with 1 shard: single sends"
  start_standalone shard1 --shards 1
  for i in $(seq 1 "$RUNS"); do
    bench_produce ringmq_single_1shard "$i" "Single$i" --duration "$SECS"
  done
  stop_pid "$RINGMQ_PID"
  rm -rf "$WORK/shard1"
}

indep_rows() { # RUN: the independent client's single sends (topic made by our client)
  LIMIT=60 measure indep_topic "$1" bench "$RINGMQ_PID" -- "$RINGMQ" bench produce \
    --namesrv "$RINGMQ_NS" --topic "Indep$1" --queues 8 --messages 1 --json
  measure indep_single "$1" bench "$RINGMQ_PID" -- "$RMQ_LOAD" --namesrv "$RINGMQ_NS" \
    --topic "Indep$1" --message-size 1024 --in-flight 256 --duration "$SECS"
}

ringmq_sync() {
  local i ns_port b_port ns_pid
  log "ringmq nameserver + broker --flush-mode sync: single sends"
  ns_port=$(free_port); b_port=$(free_port)
  mkdir -p "$WORK/sync"
  "$RINGMQ" nameserver --listen "127.0.0.1:$ns_port" --data-dir "$WORK/sync/ns" \
    > "$WORK/sync/ns.log" 2>&1 &
  ns_pid=$!
  PIDS+=("$ns_pid")
  wait_port 127.0.0.1 "$ns_port" 30
  "$RINGMQ" broker --listen-address 127.0.0.1 --listen-port "$b_port" \
    --advertised-address "127.0.0.1:$b_port" --nameservers "127.0.0.1:$ns_port" \
    --data-dir "$WORK/sync/broker" --flush-mode sync \
    --set auto_create_topic_enable=true --set auto_create_subscription_group=true \
    > "$WORK/sync/broker.log" 2>&1 &
  RINGMQ_PID=$!
  PIDS+=("$RINGMQ_PID")
  RINGMQ_NS="127.0.0.1:$ns_port"
  wait_port 127.0.0.1 "$b_port" 30
  sleep 1 # registration with the nameserver
  for i in $(seq 1 "$RUNS"); do
    bench_produce ringmq_sync_single "$i" "Sync$i" --duration "$SECS"
  done
  stop_pid "$RINGMQ_PID"
  stop_pid "$ns_pid"
  rm -rf "$WORK/sync"
}

# --- NATS JetStream -----------------------------------------------------------

nats() {
  local i port pid url
  for i in $(seq 1 "$RUNS"); do
    port=$(free_port)
    mkdir -p "$WORK/nats$i"
    log "nats run $i/$RUNS: a fresh nats-server -js (file store) on 127.0.0.1:$port: publish, fill, catch-up consume"
    nats-server -js -a 127.0.0.1 -p "$port" -sd "$WORK/nats$i" > "$WORK/nats$i.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port 127.0.0.1 "$port" 30
    url="nats://127.0.0.1:$port"
    measure nats_publish "$i" peer "$pid" -- "$NATS_LOAD" publish --url "$url" --stream "PUB$i" \
      --message-size 1024 --in-flight 256 --messages 100000000 --duration "$SECS"
    measure nats_fill "$i" peer "$pid" -- "$NATS_LOAD" publish --url "$url" --stream "CON$i" \
      --message-size 1024 --in-flight 256 --messages "$BACKLOG" --duration 120
    measure nats_consume "$i" peer "$pid" -- "$NATS_LOAD" consume --url "$url" --stream "CON$i" \
      --messages "$BACKLOG" --duration 120
    note_rss nats_rss_end "$i" "$pid" "$(retained_by "$i" nats_publish nats_fill)"
    stop_pid "$pid"
    rm -rf "$WORK/nats$i"
  done
}

# --- Redis Streams -------------------------------------------------------------

redis() {
  local fsync i port pid value
  value=$(python3 -c 'print("x" * 1024)')
  for fsync in everysec always; do
    port=$(free_port)
    mkdir -p "$WORK/redis-$fsync"
    log "redis-server (AOF appendfsync $fsync) on 127.0.0.1:$port"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/redis-$fsync" --save '' \
      --appendonly yes --appendfsync "$fsync" > "$WORK/redis-$fsync/log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_port 127.0.0.1 "$port" 30
    for i in $(seq 1 "$RUNS"); do
      SHOWN="redis-benchmark -h 127.0.0.1 -p $port -c 16 -P 16 -n $REDIS_N --csv XADD bench '*' field <1024 x>" \
        measure "redis_$fsync" "$i" redis "$pid" -- redis-benchmark -h 127.0.0.1 -p "$port" \
        -c 16 -P 16 -n "$REDIS_N" --csv XADD bench '*' field "$value"
    done
    note_rss "redis_${fsync}_rss_end" 1 "$pid" "$(retained_by all "redis_$fsync")"
    redis-cli -p "$port" shutdown nosave > /dev/null 2>&1 || true
    stop_pid "$pid"
    rm -rf "$WORK/redis-$fsync"
  done
}

# --- the run ---------------------------------------------------------------

need_free_space "${RINGMQ_COMPARE_MIN_FREE_GIB:-$([ "$QUICK" = 1 ] && echo 4 || echo 12)}"
record --row loadavg_start --run 1 --kind load --cmd "cat /proc/loadavg"
MEASURE_STARTED_AT=$(date +%s)

want machine && machine
want ringmq && ringmq_async
want sync && ringmq_sync
if want indep && ! want ringmq; then
  start_standalone indep
  for i in $(seq 1 "$RUNS"); do
    indep_rows "$i"
  done
  stop_pid "$RINGMQ_PID"
  rm -rf "$WORK/indep"
fi
want nats && nats
want redis && redis

ELAPSED=$(( $(date +%s) - MEASURE_STARTED_AT ))
log "all runs done in ${ELAPSED} s ($(( MEASURE_STARTED_AT - STARTED_AT )) s of install and builds before); writing $MD_OUT and $JSON_OUT"
python3 "$REPORT_PY" summarize --runs "$RUNS_FILE" --md "$MD_OUT" --json "$JSON_OUT" \
  --mode "$MODE" --runs-per-figure "$RUNS" --elapsed "$ELAPSED" --data-dir "$WORK" \
  --secs "$SECS" --batch-secs "$BATCH_SECS" --backlog "$BACKLOG" --redis-n "$REDIS_N" \
  --ringmq "$RINGMQ" --repo "$REPO"
python3 "$REPORT_PY" table --json "$JSON_OUT"
