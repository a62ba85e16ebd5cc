#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Latency of GET through --fallback (issue 10), driven by bench/e2e/fallback.sh.

One raw RESP connection per target; every GET is sent alone and its reply read before the next
(the latency of one request, not a pipeline). The keys are loaded into the old Redis first.

Measured, N GETs each, medians and p99 in microseconds (plain_hit and fb_hit in turns, and
plain_miss and fb_absent in turns, so each pair sees the same moments of a noisy machine):
  old         GET on the old Redis itself: one old-Redis round trip
  plain_hit   the gateway without --fallback, keys present in NATS
  plain_miss  the gateway without --fallback, keys NATS has never held (a 404)
  fb_miss     the gateway with --fallback, keys only in the old Redis: first read = copy
  fb_hit      the same keys again: now in NATS
  fb_absent   the gateway with --fallback, keys in neither store
The old Redis's INFO commandstats is read around fb_hit and fb_miss: old-Redis calls per GET.
"""

import argparse
import json
import socket
import statistics
import time


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if line[:1] == b"*":
            return [self.reply() for _ in range(int(line[1:]))]
        if line[:1] == b"-":
            raise RuntimeError(line.decode())
        return line[1:]

    def command(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self.reply()


def timed_gets(conn, keys, expect):
    lat = []
    for k in keys:
        t = time.perf_counter_ns()
        v = conn.command(b"GET", k)
        lat.append((time.perf_counter_ns() - t) / 1000)
        if expect is not None and v != expect(k):
            raise RuntimeError("GET %r returned %r" % (k, v))
    lat.sort()
    return {"median_us": round(statistics.median(lat), 1),
            "p99_us": round(lat[int(len(lat) * 0.99)], 1), "n": len(lat)}


def interleaved(a, keys_a, b, keys_b, expect_a, expect_b):
    """Times GETs on two targets in turns (the first to go alternates), so that both see the
    same moments of a noisy machine."""
    la, lb = [], []
    for i, (ka, kb) in enumerate(zip(keys_a, keys_b)):
        order = [(a, ka, expect_a, la), (b, kb, expect_b, lb)]
        if i % 2:
            order.reverse()
        for conn, k, expect, out in order:
            t = time.perf_counter_ns()
            v = conn.command(b"GET", k)
            out.append((time.perf_counter_ns() - t) / 1000)
            if v != expect(k):
                raise RuntimeError("GET %r returned %r" % (k, v))

    def stats(lat):
        lat.sort()
        return {"median_us": round(statistics.median(lat), 1),
                "p99_us": round(lat[int(len(lat) * 0.99)], 1), "n": len(lat)}
    return stats(la), stats(lb)


def old_calls(conn):
    text = conn.command(b"INFO", b"commandstats").decode()
    calls = 0
    for line in text.splitlines():
        if line.startswith("cmdstat_get:") or line.startswith("cmdstat_pttl:"):
            calls += int(line.split("calls=")[1].split(",")[0])
    return calls


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", type=int, required=True)
    ap.add_argument("--plain", type=int, required=True)
    ap.add_argument("--fallback", type=int, required=True)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    old, plain, fb = Conn(a.old), Conn(a.plain), Conn(a.fallback)
    value = lambda k: b"value-" + k  # noqa: E731
    keys = [b"fb:%d" % i for i in range(a.n)]
    for i in range(0, a.n, 1000):  # load the old Redis (pipelined MSET)
        args = [b"MSET"]
        for k in keys[i:i + 1000]:
            args += [k, value(k)]
        old.command(*args)
    for i in range(0, a.n, 1000):  # the plain gateway's keys: present in its own bucket
        args = [b"MSET"]
        for k in keys[i:i + 1000]:
            args += [k, value(k)]
        plain.command(*args)
    r = {}
    none = [b"none:%d" % i for i in range(a.n)]
    r["old"] = timed_gets(old, keys, value)
    c0 = old_calls(old)
    r["fb_miss"] = timed_gets(fb, keys, value)
    c1 = old_calls(old)
    # Hits and plain misses in turns with the fallback gateway's, on the same keys.
    r["plain_hit"], r["fb_hit"] = interleaved(plain, keys, fb, keys, value, value)
    c2 = old_calls(old)
    r["plain_miss"], r["fb_absent"] = interleaved(plain, none, fb, none, lambda k: None,
                                                  lambda k: None)
    # GET and PTTL, sent together: 2 calls, one round trip (INFO itself is not a counted call).
    r["old_calls_per_miss"] = round((c1 - c0) / a.n, 3)
    r["old_calls_per_hit"] = round((c2 - c1) / a.n, 3)
    with open(a.out, "w") as f:
        json.dump(r, f)


if __name__ == "__main__":
    main()
