#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/e2e/follower_lag.py: how far a gateway's bucket follower lags behind writes made
elsewhere, under a write load (issue 4 target: keep up with >= 50k puts/s, lag p99 < 10 ms).

Method. One nats-server -js and two gateways, A and B, on the same bucket (the harness of
tests/integration/harness.py: free loopback ports, one temp dir, everything stopped on exit).

  * Load: redis-benchmark against A in the background,
    `redis-benchmark -t set -c $CLIENTS -P $PIPELINE -r $KEYSPACE -n $N -d $DATA_SIZE`.
    B's follower has to apply every one of those puts. The rate reached is redis-benchmark's own
    figure (and N over the wall-clock time of the run), reported as it is: on a 2-core machine
    nats-server, both gateways, redis-benchmark and this script share the cores.
  * Probes, every $INTERVAL_MS ms while the load runs: `SET lag:<i> x` through A; t0 is when the
    +OK arrives (JetStream has stored the put). Then `KEYS lag:<i>` on B in a tight loop until the
    key is listed; t1 is when that reply arrives. KEYS answers from B's follower index, and B
    has written nothing itself, so it does not wait for anything: the key shows up exactly when
    B's follower has applied the put. t1 - t0 is an upper bound of the lag (it includes one
    KEYS round trip); the start of the last KEYS that missed gives a lower bound.
  * The same probes with no load, first, as a baseline (the KEYS round trip on an idle machine).

A KEYS call walks B's whole index (about 0.8 us a key) on B's event loop, the loop its follower
runs on too, so with 100000 keys each poll costs tens of milliseconds and hides the lag. The load
therefore rewrites a small keyspace ($KEYSPACE keys, 1000 by default): B's follower still applies
every put, and a poll costs well under a millisecond. The median KEYS round trip is reported next
to the lag; KEYSPACE=100000 shows the coarse version.

PROBE=cache measures the staleness of --read-cache instead (issue 7): B runs with
`--read-cache 64mb`; each probe sets `lag:<i>` to `old` through A, reads it through B (now
cached in B), sets it to `new` through A (t0 at the +OK) and polls GET on B until it answers
`new` (t1). Every poll that misses is a cache hit on the stale entry, so t1 - t0 is what a
client of B sees: the time until B's follower applies A's put and drops the entry.

Environment (defaults in brackets): PROBE [keys] or cache, N [1500000] puts of the load, CLIENTS [50], PIPELINE [16],
KEYSPACE [1000], DATA_SIZE [16], PROBES [1000], IDLE_PROBES [200], INTERVAL_MS [10],
GATEWAY_BIN [build/release/gateway/redis-nats-gateway], NATS_SERVER_BIN, RNG_KEEP_TMP=1.
Exit status: 0 when both targets are met, 1 when not, 2 on a set-up problem.
"""

import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("GATEWAY_BIN", os.path.join(ROOT, "build", "release", "gateway",
                                                  "redis-nats-gateway"))
import harness  # noqa: E402
import redis  # noqa: E402

N = int(os.environ.get("N", "1500000"))
CLIENTS = int(os.environ.get("CLIENTS", "50"))
PIPELINE = int(os.environ.get("PIPELINE", "16"))
KEYSPACE = int(os.environ.get("KEYSPACE", "1000"))
DATA_SIZE = int(os.environ.get("DATA_SIZE", "16"))
PROBES = int(os.environ.get("PROBES", "1000"))
IDLE_PROBES = int(os.environ.get("IDLE_PROBES", "200"))
INTERVAL = float(os.environ.get("INTERVAL_MS", "10")) / 1000.0
PROBE_TIMEOUT = 5.0
TARGET_RATE = 50000
TARGET_P99_MS = 10.0
PROBE = os.environ.get("PROBE", "keys")


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def version(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip() \
            .splitlines()[0]
    except Exception:  # noqa: BLE001
        return "unknown"


class Prober:
    def __init__(self, port_a, port_b):
        self.a = redis.Redis(host="127.0.0.1", port=port_a, socket_timeout=10)
        self.b = redis.Redis(host="127.0.0.1", port=port_b, socket_timeout=10)
        self.seq = 0
        self.keys_rtt = []

    def probe(self):
        """One probe; returns (upper_ms, lower_ms) or None on a timeout."""
        self.seq += 1
        key = "lag:%d" % self.seq
        if PROBE == "cache":
            self.a.set(key, "old")
            while self.b.get(key) != b"old":  # cached in B once B has seen it
                pass
        self.a.set(key, "new" if PROBE == "cache" else "x")
        t0 = time.monotonic()
        last_miss_start = None
        while True:
            start = time.monotonic()
            found = self.b.get(key) == b"new" if PROBE == "cache" else self.b.keys(key)
            t1 = time.monotonic()
            self.keys_rtt.append(t1 - start)
            if found:
                lower = 0.0 if last_miss_start is None else max(0.0, last_miss_start - t0)
                return (t1 - t0) * 1000.0, lower * 1000.0
            if t1 - t0 > PROBE_TIMEOUT:
                return None
            last_miss_start = start

    def run(self, count, keep_going=lambda: True):
        upper, lower, timeouts = [], [], 0
        next_at = time.monotonic()
        while len(upper) + timeouts < count and keep_going():
            now = time.monotonic()
            if now < next_at:
                time.sleep(next_at - now)
            next_at = max(next_at + INTERVAL, time.monotonic())
            r = self.probe()
            if r is None:
                timeouts += 1
            else:
                upper.append(r[0])
                lower.append(r[1])
        return upper, lower, timeouts


def summary(name, upper, lower, timeouts):
    if not upper:
        return "| %s | 0 | - | - | - | - | %d |" % (name, timeouts)
    return "| %s | %d | %.2f | %.2f | %.2f | %.2f | %d |" % (
        name, len(upper), statistics.median(upper), pct(upper, 99), max(upper),
        pct(lower, 99), timeouts)


def main():
    bench_bin = harness.find_binary(None, "redis-benchmark")
    if bench_bin is None:
        print("redis-benchmark not found", file=sys.stderr)
        return 2
    with harness.Stack(prefix="rng-follower-lag-") as stack:
        stack.start_nats()
        port_a = stack.start_gateway("lag")
        port_b = stack.start_gateway(
            "lag", extra_args=["--read-cache", "64mb"] if PROBE == "cache" else [])
        prober = Prober(port_a, port_b)
        prober.a.set("lag:warm", "x")
        prober.b.dbsize()  # B's follower has replayed the bucket

        print("follower_lag: %d idle probes" % IDLE_PROBES, file=sys.stderr, flush=True)
        idle = prober.run(IDLE_PROBES)
        idle_rtt = statistics.median(prober.keys_rtt) * 1000.0 if prober.keys_rtt else 0.0
        prober.keys_rtt = []

        argv = [bench_bin, "-h", "127.0.0.1", "-p", str(port_a), "-t", "set", "-c", str(CLIENTS),
                "-P", str(PIPELINE), "-r", str(KEYSPACE), "-n", str(N), "-d", str(DATA_SIZE),
                "-e", "--csv"]
        print("follower_lag: load: %s" % " ".join(argv[1:]), file=sys.stderr, flush=True)
        log_path = os.path.join(stack.dir, "redis-benchmark.csv")
        with open(log_path, "w") as out:
            load = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        load_t0 = time.monotonic()
        try:
            time.sleep(1.0)  # let the load reach its pace
            dbsize0, probe_t0 = prober.b.dbsize(), time.monotonic()
            loaded = prober.run(PROBES, keep_going=lambda: load.poll() is None)
            probe_t1 = time.monotonic()
            still_loading = load.poll() is None
            load_rtt = statistics.median(prober.keys_rtt) * 1000.0 if prober.keys_rtt else 0.0
            load.wait(timeout=600)
            load_t1 = time.monotonic()
        finally:
            if load.poll() is None:
                load.kill()
                load.wait()
        text = open(log_path).read()
        m = re.search(r'^"SET","([0-9.]+)"', text, re.M)
        if load.returncode != 0 or m is None:
            print("redis-benchmark failed (exit %s):\n%s" % (load.returncode, text[-2000:]),
                  file=sys.stderr)
            return 2
        rate = float(m.group(1))
        wall_rate = N / (load_t1 - load_t0)
        # After the load: B must hold exactly what A holds.
        time.sleep(0.5)
        size_a, size_b = prober.a.dbsize(), prober.b.dbsize()
        problems = stack.close()
        for p in problems:
            print(p, file=sys.stderr)

    commit = version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD"]).returncode != 0:
        commit += "+dirty"
    nats_bin = harness.find_binary("NATS_SERVER_BIN", "nats-server")
    print("## Machine")
    print("- date: %s" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    print("- kernel: %s" % " ".join(os.uname()[i] for i in (0, 2, 4)))
    print("- nproc: %d" % os.cpu_count())
    with open("/proc/cpuinfo") as f:
        cpu = re.search(r"^model name\s*: (.*)$", f.read(), re.M)
    print("- cpu: %s" % (cpu.group(1) if cpu else "unknown"))
    with open("/proc/meminfo") as f:
        mem = re.search(r"^MemTotal:\s*(\d+)", f.read(), re.M)
    print("- memory: %.1f GiB" % (int(mem.group(1)) / 1048576.0 if mem else 0))
    with open("/proc/loadavg") as f:
        print("- load average at the end: %s" % " ".join(f.read().split()[:3]))
    print("- nats-server: %s" % version([nats_bin, "--version"]))
    print("- redis-benchmark: %s" % version([bench_bin, "--version"]))
    print("- gateway: %s (commit %s), two instances on one bucket" %
          (os.environ["GATEWAY_BIN"], commit))
    print("- load: redis-benchmark -t set -c %d -P %d -r %d -n %d -d %d against gateway A" %
          (CLIENTS, PIPELINE, KEYSPACE, N, DATA_SIZE))
    if PROBE == "cache":
        print("- probes: SET lag:<i> old on A, GET on B (cached), SET lag:<i> new on A, then GET "
              "on B (--read-cache 64mb) until new; every %.0f ms" % (INTERVAL * 1000))
    else:
        print("- probes: SET lag:<i> on A, then KEYS lag:<i> on B until listed; every %.0f ms" %
              (INTERVAL * 1000))
    print()
    print("## Results")
    print("- put rate of the load: %.0f puts/s (redis-benchmark), %.0f puts/s (wall clock incl. "
          "start-up); target >= %d: %s" % (rate, wall_rate, TARGET_RATE,
                                           "reached" if rate >= TARGET_RATE else "NOT reached"))
    print("- probe window: %.1f s, %s" % (probe_t1 - probe_t0,
                                           "inside the load" if still_loading or
                                           len(loaded[0]) + loaded[2] >= PROBES
                                           else "the load ended before all probes were sent"))
    print("- median %s round trip on B: %.2f ms idle, %.2f ms under load" % (
        "GET" if PROBE == "cache" else "KEYS", idle_rtt, load_rtt))
    print("- DBSIZE after the load: A %d, B %d (%s); B at the start of the probes: %d" %
          (size_a, size_b, "equal" if size_a == size_b else "DIFFERENT", dbsize0))
    print()
    print("| phase | probes | lag p50 ms | lag p99 ms | max ms | lower bound p99 ms | timeouts |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(summary("idle (no load)", *idle))
    print(summary("under load", *loaded))
    print()
    p99 = pct(loaded[0], 99) if loaded[0] else float("inf")
    lag_ok = p99 < TARGET_P99_MS and loaded[2] == 0
    rate_ok = rate >= TARGET_RATE
    print("target lag p99 < %.0f ms under load: %s; target rate >= %d puts/s: %s" %
          (TARGET_P99_MS, "met" if lag_ok else "NOT met", TARGET_RATE,
           "met" if rate_ok else "NOT met (this machine's load generator did not reach it)"))
    return 0 if lag_ok and rate_ok and size_a == size_b else 1


if __name__ == "__main__":
    sys.exit(main())
