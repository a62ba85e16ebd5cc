#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/e2e/large_values_client.py: times SET and GET of one large value on several Redis
protocol servers, and the servers' peak resident memory while they do it.

  large_values_client.py run --size BYTES --rounds N \
      --target NAME:PORT:PID[,PID...] [--target ...] [--client raw|redis-py] [--out FILE]
  large_values_client.py report RESULT.json [NATS.json]

`run` makes one random value (os.urandom) and, for every round, SETs it on each target and GETs
it back (the targets alternate, and their order flips every round, so a noisy machine penalises
all of them alike). Every GET is compared with the value. Only 127.0.0.1 is contacted.

The client must not be the bottleneck: with `--client raw` (the default) the SET request is
built once, outside the timing, and written with one sendall; the GET reply is read with
recv_into into a preallocated bytearray (no parser, no copies). `--client redis-py` uses
redis-py's r.set / r.get instead, to compare.

Memory: before each operation the peak-RSS counter of every PID of the target is reset by
writing "5" to /proc/PID/clear_refs (Linux >= 4.0); VmHWM read after the operation is then the
peak during it. If the kernel refuses, a thread samples VmRSS every 5 ms instead (the method is
reported). The first PID is the server itself; others (nats-server) are reported separately.

`report` prints the Markdown summary of a `run` result, with the raw NATS object store reference
of bench/e2e/large_values_nats.js if given.
"""

import argparse
import hashlib
import json
import os
import socket
import statistics
import sys
import threading
import time

HOST = "127.0.0.1"
KEY = b"bench:large"


def log(msg):
    print("large_values: %s" % msg, file=sys.stderr, flush=True)


# --- /proc ---------------------------------------------------------------------------------------

def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def clear_peak(pid):
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMeter:
    """Peak VmRSS of some PIDs during a block: clear_refs + VmHWM, else a 5 ms sampler."""

    def __init__(self, pids, method):
        self.pids = pids
        self.method = method
        self.base = {}
        self.peak = {}
        self._stop = None
        self._thread = None

    def __enter__(self):
        for pid in self.pids:
            self.base[pid] = status_kb(pid, "VmRSS")
            self.peak[pid] = self.base[pid] or 0
        if self.method == "clear_refs":
            for pid in self.pids:
                clear_peak(pid)
        else:
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            for pid in self.pids:
                v = status_kb(pid, "VmRSS")
                if v is not None and v > self.peak[pid]:
                    self.peak[pid] = v

    def __exit__(self, *exc):
        if self.method == "clear_refs":
            for pid in self.pids:
                v = status_kb(pid, "VmHWM")
                if v is not None:
                    self.peak[pid] = v
        else:
            self._stop.set()
            self._thread.join()
            for pid in self.pids:
                v = status_kb(pid, "VmRSS")
                if v is not None and v > self.peak[pid]:
                    self.peak[pid] = v
        return False


def peak_method(pids):
    """clear_refs if the kernel lets us reset every PID's VmHWM, else sampling."""
    for pid in pids:
        if not clear_peak(pid):
            return "sampled VmRSS every 5 ms"
    return "clear_refs"


# --- raw RESP client -----------------------------------------------------------------------------

class RawClient:
    def __init__(self, port, size):
        self.sock = socket.create_connection((HOST, port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.small = bytearray(65536)
        self.big = bytearray(size + 64)  # "$<size>\r\n" + value + "\r\n"
        self.big_view = memoryview(self.big)

    def close(self):
        self.sock.close()

    def _line(self):
        """One short reply line (+OK, -ERR ..., :1), read byte-exactly."""
        n = 0
        while True:
            got = self.sock.recv_into(memoryview(self.small)[n:])
            if got == 0:
                raise ConnectionError("server closed the connection")
            n += got
            if self.small[:n].endswith(b"\r\n"):
                return bytes(self.small[:n])

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._line()

    @staticmethod
    def set_request(key, value):
        return b"".join([b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(key), key, len(value)),
                         value, b"\r\n"])

    def set(self, request):
        self.sock.sendall(request)
        reply = self._line()
        if reply != b"+OK\r\n":
            raise RuntimeError("SET answered %r" % reply[:200])

    def get(self, key):
        """Returns a memoryview of the value inside self.big (valid until the next get)."""
        self.sock.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
        view, n, need, start = self.big_view, 0, None, 0
        while need is None or n < need:
            if n == len(self.big):
                raise RuntimeError("reply larger than expected")
            got = self.sock.recv_into(view[n:])
            if got == 0:
                raise ConnectionError("server closed the connection")
            n += got
            if need is None:
                nl = self.big.find(b"\r\n", 0, n)
                if nl < 0:
                    continue
                if self.big[0:1] != b"$":
                    raise RuntimeError("GET answered %r" % bytes(self.big[:min(n, 200)]))
                length = int(self.big[1:nl])
                if length < 0:
                    raise RuntimeError("GET answered nil")
                start = nl + 2
                need = start + length + 2
                if need > len(self.big):
                    raise RuntimeError("value of %d bytes is larger than expected" % length)
        return view[start:need - 2]


class RedisPyClient:
    def __init__(self, port, size):
        import redis  # python3-redis (Debian), importable by /usr/bin/python3
        self.r = redis.Redis(host=HOST, port=port, socket_timeout=120)
        self.r.ping()

    def close(self):
        self.r.close()

    def command(self, *args):
        return self.r.execute_command(*args)

    @staticmethod
    def set_request(key, value):
        return (key, value)

    def set(self, request):
        if self.r.set(*request) is not True:
            raise RuntimeError("SET failed")

    def get(self, key):
        v = self.r.get(key)
        if v is None:
            raise RuntimeError("GET answered nil")
        return v


# --- run -----------------------------------------------------------------------------------------

def parse_target(text):
    name, port, pids = text.split(":", 2)
    return {"name": name, "port": int(port), "pids": [int(p) for p in pids.split(",") if p]}


def cmd_run(args):
    size = args.size
    targets = [parse_target(t) for t in args.target]
    cls = RawClient if args.client == "raw" else RedisPyClient
    log("making a %d-byte random value" % size)
    value = os.urandom(size)
    digest = hashlib.sha256(value).hexdigest()
    request = cls.set_request(KEY, value)
    all_pids = [p for t in targets for p in t["pids"]]
    method = peak_method(all_pids)
    log("peak RSS by %s" % method)

    clients = {}
    res = {}
    for t in targets:
        clients[t["name"]] = cls(t["port"], size)
        clients[t["name"]].command("DEL", KEY)
        res[t["name"]] = {"port": t["port"], "pids": t["pids"], "set_ms": [], "get_ms": [],
                          "set_peak_kb": [], "get_peak_kb": [], "set_base_kb": [],
                          "get_base_kb": [], "other_set_peak_kb": [], "other_get_peak_kb": [],
                          "other_set_base_kb": [], "other_get_base_kb": []}

    for rnd in range(args.rounds):
        order = targets if rnd % 2 == 0 else list(reversed(targets))
        for t in order:
            c, r, pid = clients[t["name"]], res[t["name"]], t["pids"][0]
            others = t["pids"][1:]
            with PeakMeter(t["pids"], method) as m:
                t0 = time.perf_counter()
                c.set(request)
                dt = time.perf_counter() - t0
            r["set_ms"].append(dt * 1000)
            r["set_base_kb"].append(m.base[pid])
            r["set_peak_kb"].append(m.peak[pid])
            r["other_set_peak_kb"].append([m.peak[p] for p in others])
            r["other_set_base_kb"].append([m.base[p] for p in others])
            time.sleep(args.pause)
            with PeakMeter(t["pids"], method) as m:
                t0 = time.perf_counter()
                got = c.get(KEY)
                dt = time.perf_counter() - t0
            r["get_ms"].append(dt * 1000)
            r["get_base_kb"].append(m.base[pid])
            r["get_peak_kb"].append(m.peak[pid])
            r["other_get_peak_kb"].append([m.peak[p] for p in others])
            r["other_get_base_kb"].append([m.base[p] for p in others])
            if len(got) != size or hashlib.sha256(got).hexdigest() != digest:
                raise RuntimeError("%s: GET returned %d bytes that differ from the value"
                                   % (t["name"], len(got)))
            del got
            log("round %d/%d %s: SET %.1f ms, GET %.1f ms, peak RSS %d / %d MiB" % (
                rnd + 1, args.rounds, t["name"], r["set_ms"][-1], r["get_ms"][-1],
                r["set_peak_kb"][-1] // 1024, r["get_peak_kb"][-1] // 1024))
            time.sleep(args.pause)
    for t in targets:
        clients[t["name"]].command("DEL", KEY)
        clients[t["name"]].close()
    out = {"size": size, "rounds": args.rounds, "client": args.client, "peak_method": method,
           "targets": res, "order": [t["name"] for t in targets]}
    text = json.dumps(out, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


# --- report --------------------------------------------------------------------------------------

def mbps(size, ms):
    return size / 1e6 / (ms / 1000.0) if ms > 0 else float("inf")


def cmd_report(args):
    with open(args.result) as f:
        res = json.load(f)
    nats = None
    if args.nats:
        with open(args.nats) as f:
            nats = json.load(f)
    size = res["size"]
    mb = size / 1e6
    print("## Large values: %d bytes (%.1f MB, %.1f MiB), %d rounds, client %s" % (
        size, mb, size / 1048576, res["rounds"], res["client"]))
    print()
    print("| target | SET median ms | SET min ms | SET MB/s (median) | GET median ms | "
          "GET min ms | GET MB/s (median) | SET+GET median ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    med = {}
    rows = [(name, t["set_ms"], t["get_ms"]) for name, t in res["targets"].items()]
    if nats:
        rows.append(("raw NATS object store (nats.js %s)" % nats.get("nats_js", "?"),
                     nats["put_ms"], nats["get_ms"]))
    for name, s, g in rows:
        sg = [a + b for a, b in zip(s, g)]
        med[name] = (statistics.median(s), statistics.median(g), statistics.median(sg))
        print("| %s | %.1f | %.1f | %.0f | %.1f | %.1f | %.0f | %.1f |" % (
            name, med[name][0], min(s), mbps(size, med[name][0]), med[name][1], min(g),
            mbps(size, med[name][1]), med[name][2]))
    print()
    names = list(res["targets"].keys())
    if "gateway" in med:
        refs = [n for n in names if n != "gateway"]
        if nats:
            refs.append(rows[-1][0])
        print("| ratio (gateway time / reference time) | SET | GET | SET+GET |")
        print("|---|---:|---:|---:|")
        for ref in refs:
            g, r = med["gateway"], med[ref]
            print("| gateway / %s | %.2f | %.2f | %.2f |" % (
                ref, g[0] / r[0], g[1] / r[1], g[2] / r[2]))
        print()
    print("Peak RSS during the operation (%s); base = VmRSS just before it. "
          "x value = (peak - base) / value size." % res["peak_method"])
    print()
    print("| process | phase | base MiB (median) | peak MiB (median) | peak MiB (max) | "
          "peak - base, x value (max) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, t in res["targets"].items():
        for phase in ("set", "get"):
            base = t["%s_base_kb" % phase]
            peak = t["%s_peak_kb" % phase]
            growth = max(p - b for p, b in zip(peak, base)) * 1024 / size
            print("| %s | %s | %.1f | %.1f | %.1f | %.2f |" % (
                name, phase.upper(), statistics.median(base) / 1024,
                statistics.median(peak) / 1024, max(peak) / 1024, growth))
        if t["pids"][1:]:
            for phase in ("set", "get"):
                peaks = [p[0] for p in t["other_%s_peak_kb" % phase] if p]
                bases = [b[0] for b in t["other_%s_base_kb" % phase] if b]
                if peaks and bases:
                    growth = max(p - b for p, b in zip(peaks, bases)) * 1024 / size
                    print("| %s's nats-server | %s | %.1f | %.1f | %.1f | %.2f |" % (
                        name, phase.upper(), statistics.median(bases) / 1024,
                        statistics.median(peaks) / 1024, max(peaks) / 1024, growth))
    if nats:
        print()
        print("raw NATS reference: %s" % nats.get("note", ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--size", type=int, default=50 * 1000 * 1000)
    r.add_argument("--rounds", type=int, default=5)
    r.add_argument("--target", action="append", required=True,
                   help="NAME:PORT:PID[,PID...] (first PID: the server; others: e.g. nats-server)")
    r.add_argument("--client", choices=("raw", "redis-py"), default="raw")
    r.add_argument("--pause", type=float, default=0.2, help="seconds of quiet between operations")
    r.add_argument("--out")
    p = sub.add_parser("report")
    p.add_argument("result")
    p.add_argument("nats", nargs="?")
    args = ap.parse_args()
    if args.cmd == "run":
        cmd_run(args)
    else:
        cmd_report(args)


if __name__ == "__main__":
    main()
