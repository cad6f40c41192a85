#!/usr/bin/env python3
"""benches/compare.sh's bookkeeping: turns each measured run into one JSON
record (`record`), sums retained messages (`retained`), and writes the medians,
ratios against the issue's targets, the machine and the exact commands as
BENCHMARKS.md and a JSON file (`summarize`); `table` prints the summary.

Only the standard library: compare.sh runs it with the system python3.
"""

import argparse
import json
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time

# --- record ------------------------------------------------------------------


def first_json(text):
    """The JSON document in a tool's stdout (fio may print lines before it)."""
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON in the output")
    return json.loads(text[start:])


def read_time(path):
    """GNU time's '%e %U %S' (its last line; a line before tells the status)."""
    try:
        lines = [l for l in open(path).read().splitlines() if l.strip()]
        wall, user, sys_ = (float(x) for x in lines[-1].split())
        return wall, user + sys_
    except (OSError, ValueError, IndexError):
        return None, None


def parse_bench(text):
    """`ringmq bench --json` and benches/peers reports share these fields."""
    doc = first_json(text)
    lat = doc.get("latency") or {}
    return {
        "messages": doc.get("messages"),
        "errors": doc.get("errors"),
        "msgs_per_sec": doc.get("msgs_per_sec"),
        "mb_per_sec": doc.get("mb_per_sec"),
        "p50_us": lat.get("p50_us"),
        "p99_us": lat.get("p99_us"),
        "first_error": doc.get("first_error"),
        "missing": doc.get("missing"),
    }


def parse_redis(text, cmd):
    """redis-benchmark --csv: a header line, then one line per test."""
    import csv

    rows = list(csv.reader(text.splitlines()))
    data = [r for r in rows if r and r[0] != "test"]
    if not data:
        raise ValueError("no redis-benchmark result line")
    row = data[-1]
    header = next((r for r in rows if r and r[0] == "test"), [])
    col = {name: i for i, name in enumerate(header)}
    rps = float(row[col.get("rps", 1)])
    n = re.search(r"-n (\d+)", cmd)
    out = {
        "messages": int(n.group(1)) if n else None,
        "errors": 0,
        "msgs_per_sec": rps,
        "mb_per_sec": rps * 1024 / 1e6,
    }
    for key, name in (("p50_us", "p50_latency_ms"), ("p99_us", "p99_latency_ms")):
        if name in col:
            out[key] = float(row[col[name]]) * 1000.0
    return out


def parse_fio_write(text):
    job = first_json(text)["jobs"][0]["write"]
    return {"mb_per_sec": job["bw_bytes"] / 1e6}


def parse_fio_sync(text):
    job = first_json(text)["jobs"][0]
    lat = job["sync"]["lat_ns"]
    pct = lat.get("percentile", {})

    def at(q):
        for key, value in pct.items():
            if abs(float(key) - q) < 1e-6:
                return value / 1000.0
        return None

    return {"p50_us": at(50.0), "p99_us": at(99.0), "mean_us": lat["mean"] / 1000.0}


def parse_iperf(text):
    doc = first_json(text)
    if "error" in doc:
        raise ValueError(f"iperf3: {doc['error']}")
    return {"gbit_per_sec": doc["end"]["sum_received"]["bits_per_second"] / 1e9}


def portable(cmd):
    """The command as a reader can rerun it: the build directories and the
    repository are written as the variables compare.sh reads, so the report
    names no path of the machine it ran on."""
    for var, name in (("COMPARE_PEERS_TARGET_DIR", "$RINGMQ_PEERS_TARGET_DIR"),
                      ("COMPARE_TARGET_DIR", "$CARGO_TARGET_DIR"),
                      ("COMPARE_REPO", ".")):
        value = os.environ.get(var)
        if value:
            cmd = cmd.replace(value, name)
    return cmd


def cmd_record(args):
    rec = {"row": args.row, "run": args.run, "kind": args.kind, "cmd": portable(args.cmd),
           "status": args.status}
    text = ""
    if args.stdout:
        try:
            text = open(args.stdout, errors="replace").read()
        except OSError:
            text = ""
    try:
        if args.kind in ("bench", "peer"):
            rec.update(parse_bench(text))
        elif args.kind == "redis":
            rec.update(parse_redis(text, args.cmd))
        elif args.kind == "fio-write":
            rec.update(parse_fio_write(text))
        elif args.kind == "fio-sync":
            rec.update(parse_fio_sync(text))
        elif args.kind == "iperf3":
            rec.update(parse_iperf(text))
        elif args.kind == "rss":
            rec["rss_anon_mib"] = args.rss_kib / 1024.0
            rec["retained"] = args.retained
        elif args.kind == "load":
            rec["loadavg"] = open("/proc/loadavg").read().split()[:3]
    except (ValueError, KeyError, IndexError, TypeError) as e:
        rec["parse_error"] = f"{type(e).__name__}: {e}"
    wall, cpu = read_time(args.time) if args.time else (None, None)
    messages = rec.get("messages") or 0
    if wall is not None:
        rec["wall_secs"] = wall
    if args.server_ticks and messages:
        rec["server_cpu_us_per_msg"] = args.server_ticks / args.tck * 1e6 / messages
    if cpu is not None and messages:
        rec["client_cpu_us_per_msg"] = cpu * 1e6 / messages
    print(json.dumps(rec))


def load_runs(path):
    out = []
    for line in open(path):
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out


def cmd_retained(args):
    total = 0
    for rec in load_runs(args.runs):
        if rec["row"] in args.rows and args.run in ("all", str(rec["run"])):
            total += rec.get("messages") or 0
    print(total)


def cmd_half_rate(args):
    """Half the msg/s of `row`'s run `run` (at least 1), for a paced run."""
    rate = 0.0
    for rec in load_runs(args.runs):
        if rec["row"] == args.row and rec["run"] == args.run:
            rate = rec.get("msgs_per_sec") or 0.0
    print(max(1, int(rate / 2)))


# --- summarize -----------------------------------------------------------------

# (row, what it measures, server CPU per message meaningful)
ROWS = [
    ("disk_seq_write", "machine: sequential write 1 MiB blocks, fdatasync every 32 MiB (fio)", False),
    ("disk_fdatasync", "machine: 4 KiB write + fdatasync latency (fio)", False),
    ("loopback_tcp", "machine: loopback TCP throughput (iperf3)", False),
    ("ringmq_single", "ringmq standalone, async flush: single 1 KiB sends, 256 in flight", True),
    ("ringmq_batch", "ringmq standalone, async flush: batches of 32 x 1 KiB, 256 in flight", True),
    ("ringmq_consume", "ringmq standalone: catch-up consume of the backlog by a fresh group (push consumer); server CPU from the end of filling, client CPU covers filling too", True),
    ("ringmq_e2e_1", "ringmq standalone: e2e send->receive, 1 in flight", False),
    ("ringmq_e2e_half", "ringmq standalone: e2e send->receive at half the single-send rate (--rate), 256 in flight", False),
    ("ringmq_single_1shard", "ringmq standalone --shards 1: single 1 KiB sends, 256 in flight", True),
    ("ringmq_sync_single", "ringmq broker --flush-mode sync: single 1 KiB sends, 256 in flight", True),
    ("indep_single", "rocketmq-client-rust 1.0.0 -> ringmq standalone: single 1 KiB sends, 256 tasks", True),
    ("nats_publish", "NATS JetStream (file store): publish 1 KiB, 256 acks in flight", True),
    ("nats_fill", "NATS JetStream: filling the consume backlog (same publish load)", True),
    ("nats_consume", "NATS JetStream: catch-up consume, pull consumer (batch 1000)", True),
    ("redis_everysec", "Redis Streams, AOF appendfsync everysec: XADD 1 KiB, -c 16 -P 16", True),
    ("redis_always", "Redis Streams, AOF appendfsync always: XADD 1 KiB, -c 16 -P 16", True),
]
RSS_ROWS = [
    ("ringmq_rss_start", "ringmq standalone just started"),
    ("ringmq_rss_end", "ringmq standalone after one run's rows"),
    ("nats_rss_end", "nats-server after one run's publish, fill and consume"),
    ("redis_everysec_rss_end", "redis-server (everysec) after its runs"),
    ("redis_always_rss_end", "redis-server (always) after its runs"),
]
METRICS = ["msgs_per_sec", "mb_per_sec", "p50_us", "p99_us", "mean_us", "gbit_per_sec",
           "server_cpu_us_per_msg", "client_cpu_us_per_msg", "messages", "errors"]


def median(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(values) if values else None


def summarize_rows(runs):
    by_row = {}
    for rec in runs:
        by_row.setdefault(rec["row"], []).append(rec)
    out = {}
    for row, what, cpu_ok in ROWS:
        recs = by_row.get(row, [])
        if not recs:
            continue
        fig = {"what": what, "runs": len(recs), "command": recs[0].get("cmd")}
        for m in METRICS:
            v = median([r.get(m) for r in recs])
            if v is not None:
                fig[m] = v
        if not cpu_ok:
            fig.pop("server_cpu_us_per_msg", None)
        fig["per_run_msgs_per_sec"] = [r.get("msgs_per_sec") for r in recs
                                       if r.get("msgs_per_sec") is not None]
        problems = [f"run {r['run']}: exit {r['status']}" for r in recs if r.get("status")]
        problems += [f"run {r['run']}: {r['parse_error']}" for r in recs if r.get("parse_error")]
        problems += [f"run {r['run']}: {r['errors']} errors, first: {r.get('first_error')}"
                     for r in recs if r.get("errors")]
        problems += [f"run {r['run']}: {r['missing']} missing" for r in recs if r.get("missing")]
        if problems:
            fig["problems"] = problems
        out[row] = fig
    for row, what in RSS_ROWS:
        recs = by_row.get(row, [])
        if recs:
            out[row] = {"what": what, "runs": len(recs),
                        "rss_anon_mib": median([r.get("rss_anon_mib") for r in recs]),
                        "retained": median([r.get("retained") for r in recs]),
                        "per_run_rss_anon_mib": [r.get("rss_anon_mib") for r in recs],
                        "command": recs[-1].get("cmd")}
    return out, by_row


def ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def get(figs, row, metric):
    return figs.get(row, {}).get(metric)


def targets(figs):
    """(number, target, measured text, value, threshold, higher_is_better)."""
    t = []
    single = get(figs, "ringmq_single", "msgs_per_sec")
    t.append(("1", "single async sends >= 2x NATS JetStream publish", "ringmq/NATS",
              ratio(single, get(figs, "nats_publish", "msgs_per_sec")), 2.0, True))
    t.append(("1", "single async sends >= 2x Redis XADD (everysec)", "ringmq/Redis",
              ratio(single, get(figs, "redis_everysec", "msgs_per_sec")), 2.0, True))
    t.append(("1", "broker CPU per single send <= 5 us", "us/msg",
              get(figs, "ringmq_single", "server_cpu_us_per_msg"), 5.0, False))
    t.append(("2", "sync flush single sends >= 1.5x Redis appendfsync always", "ringmq/Redis",
              ratio(get(figs, "ringmq_sync_single", "msgs_per_sec"),
                    get(figs, "redis_always", "msgs_per_sec")), 1.5, True))
    t.append(("2", "sync flush p99 ack <= 2 ms", "p99 us",
              get(figs, "ringmq_sync_single", "p99_us"), 2000.0, False))
    t.append(("3", "batched async produce >= 70 % of the disk's sequential write", "ringmq/disk",
              ratio(get(figs, "ringmq_batch", "mb_per_sec"),
                    get(figs, "disk_seq_write", "mb_per_sec")), 0.7, True))
    t.append(("4", "catch-up consume >= 1.5x NATS JetStream consume", "ringmq/NATS",
              ratio(get(figs, "ringmq_consume", "msgs_per_sec"),
                    get(figs, "nats_consume", "msgs_per_sec")), 1.5, True))
    t.append(("5", "e2e at 1 in flight p99 <= 500 us", "p99 us",
              get(figs, "ringmq_e2e_1", "p99_us"), 500.0, False))
    t.append(("5", "e2e at 50 % of the maximum rate p99 <= 2 ms", "p99 us",
              get(figs, "ringmq_e2e_half", "p99_us"), 2000.0, False))
    t.append(("6", "broker RssAnon <= 200 MiB (after the messages this run retained)", "MiB",
              get(figs, "ringmq_rss_end", "rss_anon_mib"), 200.0, False))
    t.append(("8", "our client CPU per single send <= 5 us", "us/msg",
              get(figs, "ringmq_single", "client_cpu_us_per_msg"), 5.0, False))
    t.append(("8", "independent rocketmq-client-rust single sends >= 24k msg/s", "msg/s",
              get(figs, "indep_single", "msgs_per_sec"), 24000.0, True))
    t.append(("9", "1 shard vs 2 shards, single sends (reported, no threshold)", "1/2 shards",
              ratio(get(figs, "ringmq_single_1shard", "msgs_per_sec"), single), None, True))
    return t


def machine_info(data_dir, ringmq, repo):
    def run(cmd):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else ""
        except (OSError, subprocess.SubprocessError):
            return ""

    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    source = run(["findmnt", "-no", "SOURCE,FSTYPE,OPTIONS", "-T", data_dir])
    dev = source.split()[0] if source else ""
    disk = run(["lsblk", "-dno", "NAME,SIZE,ROTA,MODEL", dev]) if dev.startswith("/dev/") else ""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "memory_gib": mem_gib,
        "filesystem": source,
        "disk": disk + (" (ROTA 0 = not rotational)" if disk else ""),
        "loadavg_end": open("/proc/loadavg").read().split()[:3],
        "rustc": run(["rustc", "--version"]),
        "ringmq_commit": run(["git", "-C", repo, "rev-parse", "HEAD"]),
        "ringmq_dirty": bool(run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"])),
        "nats_server": run(["nats-server", "--version"]),
        "redis_server": run(["redis-server", "--version"]),
        "fio": run(["fio", "--version"]),
        "iperf3": run(["iperf3", "--version"]),
    }


def fmt(v, metric=None):
    if v is None:
        return "—"
    if metric in ("msgs_per_sec",):
        return f"{v / 1000:.1f}k"
    if metric in ("p50_us", "p99_us", "mean_us"):
        return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"
    if metric in ("server_cpu_us_per_msg", "client_cpu_us_per_msg"):
        return f"{v:.1f} µs"
    if metric == "mb_per_sec":
        return f"{v:.0f}"
    if metric == "gbit_per_sec":
        return f"{v:.1f} Gbit/s"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def render_md(doc):
    figs, m, p = doc["figures"], doc["machine"], doc["parameters"]
    lines = []
    lines.append("# ringmq side by side with NATS JetStream and Redis Streams")
    lines.append("")
    lines.append(f"Written by `benches/compare.sh` ({p['mode']} run, {p['runs_per_figure']} run(s) per figure, "
                 f"medians; {p['elapsed_secs'] // 60} min {p['elapsed_secs'] % 60} s) on "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(doc['written_at']))}, "
                 f"ringmq commit `{(m['ringmq_commit'] or '?')[:12]}`{' (with local changes)' if m['ringmq_dirty'] else ''}. "
                 "Every server ran on 127.0.0.1 on this machine, started and stopped by the script; "
                 "the load generators ran on the same cores.")
    lines.append("")
    lines.append(f"**Noise:** load average at the start {' '.join(doc.get('loadavg_start') or ['?'])}, "
                 f"at the end {' '.join(m['loadavg_end'])} on {m['nproc']} cores. "
                 "Other builds sharing the cores make every figure noisy; compare figures of one run, "
                 "not across runs.")
    lines.append("")
    lines.append("To run it: `benches/compare.sh` (about 15 min; `--quick` for a few minutes; "
                 "`--only ringmq` for the ringmq rows alone; `--runs N`; `--help`).")
    lines.append("")
    lines.append("## The issue's targets")
    lines.append("")
    lines.append("| # | target | measured | met |")
    lines.append("|---|---|---|---|")
    for num, text, unit, value, threshold, higher in doc["targets"]:
        if value is None:
            shown, met = "not measured in this run", "—"
        else:
            shown = f"{value:.2f} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
            if threshold is None:
                met = "(report)"
            else:
                met = "yes" if (value >= threshold if higher else value <= threshold) else "**no**"
        lines.append(f"| {num} | {text} | {shown} | {met} |")
    lines.append("")
    lines.append("Not measured by this script: target 3's *60 s sustained* run (the batched row runs "
                 f"{p['batch_secs']} s), target 6 at 20 million messages (each run's standalone retains "
                 f"{get(figs, 'ringmq_rss_end', 'retained') or 0:,.0f}), target 7 (restart time). "
                 f"The consume backlogs ({p['backlog']:,} x 1 KiB) fit in the page cache: they measure "
                 "catch-up from memory, not from disk.")
    lines.append("")
    lines.append("## Figures (medians)")
    lines.append("")
    lines.append("| row | what | msg/s | MB/s | p50 | p99 | server CPU/msg | client CPU/msg | per run msg/s |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for row, _, _ in ROWS:
        f = figs.get(row)
        if not f:
            continue
        if row == "disk_fdatasync":
            cells = ["—", "—", fmt(f.get("p50_us"), "p50_us"), fmt(f.get("p99_us"), "p99_us")]
        elif row == "loopback_tcp":
            gbit = f.get("gbit_per_sec")
            mb = f"{gbit * 125:.0f} ({gbit:.1f} Gbit/s)" if gbit is not None else "—"
            cells = ["—", mb, "—", "—"]
        else:
            cells = [fmt(f.get("msgs_per_sec"), "msgs_per_sec"), fmt(f.get("mb_per_sec"), "mb_per_sec"),
                     fmt(f.get("p50_us"), "p50_us"), fmt(f.get("p99_us"), "p99_us")]
        per_run = ", ".join(f"{v / 1000:.1f}k" for v in f.get("per_run_msgs_per_sec", []))
        lines.append(f"| `{row}` | {f['what']} | " + " | ".join(cells) +
                     f" | {fmt(f.get('server_cpu_us_per_msg'), 'server_cpu_us_per_msg')}"
                     f" | {fmt(f.get('client_cpu_us_per_msg'), 'client_cpu_us_per_msg')} | {per_run} |")
    lines.append("")
    lines.append("Server CPU/msg is the server process's utime+stime (all its threads, io-wq workers "
                 "included; `/proc/<pid>/stat`) over the run divided by the messages it acknowledged or "
                 "delivered; client CPU/msg is the load generator's user+system time (GNU time) divided "
                 "the same way. Latencies: send→ack (produce), send→receive (e2e), per-request for "
                 "redis-benchmark (16 pipelined commands per request).")
    lines.append("")
    lines.append("### Anonymous memory (RssAnon)")
    lines.append("")
    lines.append("| process | RssAnon | messages retained |")
    lines.append("|---|---|---|")
    for row, _ in RSS_ROWS:
        f = figs.get(row)
        if f:
            lines.append(f"| {f['what']} | {f['rss_anon_mib']:.0f} MiB | {f['retained']:,.0f} |")
    growth = doc.get("ringmq_rss_growth_bytes_per_msg")
    if growth is not None:
        lines.append("")
        lines.append(f"ringmq's RssAnon grew {growth:.0f} bytes per retained message (medians of "
                     "each run's fresh standalone, start to end).")
    problems = [(row, f["problems"]) for row, f in figs.items() if f.get("problems")]
    if problems:
        lines.append("")
        lines.append("### Problems seen")
        lines.append("")
        for row, items in problems:
            for item in items:
                lines.append(f"- `{row}` {item}")
    lines.append("")
    lines.append("## Machine")
    lines.append("")
    for key in ("nproc", "cpu_model", "kernel", "memory_gib", "filesystem", "disk", "rustc",
                "nats_server", "redis_server", "fio", "iperf3"):
        lines.append(f"- {key}: {m.get(key)}")
    lines.append("")
    lines.append("## Commands (run 1 of each row; later runs differ in topic/stream names)")
    lines.append("")
    lines.append("```")
    for row, _, _ in ROWS + [(r, w, False) for r, w in RSS_ROWS]:
        f = figs.get(row)
        if f and f.get("command"):
            cmd = f["command"].replace(doc["parameters"]["data_dir"], "$WORK")
            lines.append(f"# {row}")
            lines.append(cmd)
    lines.append("```")
    lines.append("")
    lines.append("Servers: `ringmq standalone --data-dir $WORK/async/data --host 127.0.0.1 "
                 "--namesrv-port P --broker-port Q` (and `--shards 1`); `ringmq nameserver --listen "
                 "127.0.0.1:P` + `ringmq broker --listen-address 127.0.0.1 --listen-port Q "
                 "--nameservers 127.0.0.1:P --flush-mode sync`; `nats-server -js -a 127.0.0.1 -p P "
                 "-sd $WORK/nats`; `redis-server --bind 127.0.0.1 --port P --save '' --appendonly yes "
                 "--appendfsync everysec|always`. Load generators for NATS and the independent client: "
                 "`benches/peers` (built by compare.sh only).")
    lines.append("")
    return "\n".join(lines)


def cmd_summarize(args):
    runs = load_runs(args.runs)
    figs, by_row = summarize_rows(runs)
    start = figs.get("ringmq_rss_start", {}).get("rss_anon_mib")
    end = figs.get("ringmq_rss_end", {})
    growth = None
    if start is not None and end.get("rss_anon_mib") is not None and end.get("retained"):
        growth = (end["rss_anon_mib"] - start) * 1024 * 1024 / end["retained"]
    load = by_row.get("loadavg_start", [{}])[0].get("loadavg")
    doc = {
        "written_at": int(time.time()),
        "parameters": {
            "mode": args.mode, "runs_per_figure": args.runs_per_figure,
            "elapsed_secs": args.elapsed, "produce_secs": args.secs,
            "batch_secs": args.batch_secs, "backlog": args.backlog, "redis_n": args.redis_n,
            "data_dir": args.data_dir,
        },
        "machine": machine_info(args.data_dir, args.ringmq, args.repo),
        "loadavg_start": load,
        "figures": figs,
        "ringmq_rss_growth_bytes_per_msg": growth,
        "targets": targets(figs),
        "runs": runs,
    }
    with open(args.json, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    with open(args.md, "w") as f:
        f.write(render_md(doc))


def cmd_table(args):
    doc = json.load(open(args.json))
    md = render_md(doc)
    # The two tables are what a person reads in a terminal.
    keep, on = [], False
    for line in md.splitlines():
        if line.startswith("## The issue") or line.startswith("## Figures") or line.startswith("### Anon"):
            on = True
        elif line.startswith("## Machine"):
            on = False
        if on:
            keep.append(line)
    print("\n".join(keep))
    print(f"\n(written: {args.json})")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record")
    r.add_argument("--row", required=True)
    r.add_argument("--run", type=int, required=True)
    r.add_argument("--kind", required=True)
    r.add_argument("--stdout")
    r.add_argument("--time")
    r.add_argument("--server-ticks", type=int, default=0)
    r.add_argument("--tck", type=int, default=100)
    r.add_argument("--status", type=int, default=0)
    r.add_argument("--cmd", default="")
    r.add_argument("--rss-kib", type=int, default=0)
    r.add_argument("--retained", type=int, default=0)
    t = sub.add_parser("retained")
    t.add_argument("--runs", required=True)
    t.add_argument("--run", default="all")
    t.add_argument("--rows", nargs="+", required=True)
    s = sub.add_parser("summarize")
    for name in ("--runs", "--md", "--json", "--mode", "--data-dir", "--ringmq", "--repo"):
        s.add_argument(name, required=True)
    for name in ("--runs-per-figure", "--elapsed", "--secs", "--batch-secs", "--backlog", "--redis-n"):
        s.add_argument(name, type=int, required=True)
    h = sub.add_parser("half-rate")
    h.add_argument("--runs", required=True)
    h.add_argument("--row", required=True)
    h.add_argument("--run", type=int, required=True)
    tb = sub.add_parser("table")
    tb.add_argument("--json", required=True)
    args = ap.parse_args()
    {"record": cmd_record, "retained": cmd_retained, "summarize": cmd_summarize,
     "half-rate": cmd_half_rate,
     "table": cmd_table}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
