# SPDX-License-Identifier: Apache-2.0
"""The byte-for-byte parity framework shared by the parity_*_test.py scripts.

A case is a list of steps; each step sends bytes on a fresh raw connection and returns the reply
bytes, which run() compares between redis-server 7.0 and the gateway (each with its own
loopback servers, from harness.py). Steps: C (one command), Pipe (several in one write), Raw
(raw bytes, e.g. inline commands), Sleep, Window (a clock-dependent integer checked against a
range, then masked). A case may carry a mask function and a `known` reason: a documented
divergence, reported but not counted, and failed as soon as it matches Redis.

Keys a case names must start with the script's prefix (set_prefix); they are deleted on both
servers after the case.
"""

import re
import sys
import time

import harness

_prefix = ["p:"]


def set_prefix(prefix):
    """The key prefix of this script's cases (keys with it are cleaned up after each case)."""
    _prefix[0] = prefix


class C:
    """One command as a multibulk request; reads one reply."""

    def __init__(self, *args):
        self.args = args

    def run(self, conn):
        conn.send(harness.encode_command(self.args))
        return conn.read_reply()

    def keys(self):
        return [a for a in self.args if isinstance(a, str) and a.startswith(_prefix[0])]

    def __repr__(self):
        text = " ".join(a if isinstance(a, str) else repr(a) for a in self.args)
        return text if len(text) < 200 else text[:200] + "..."


class Pipe:
    """Several commands sent in one write; reads all their replies."""

    def __init__(self, *commands):
        self.commands = commands

    def run(self, conn):
        conn.send(b"".join(harness.encode_command(c) for c in self.commands))
        return b"".join(conn.read_reply() for _ in self.commands)

    def keys(self):
        return [a for c in self.commands for a in c
                if isinstance(a, str) and a.startswith(_prefix[0])]

    def __repr__(self):
        return "pipeline of %d: %s ..." % (len(self.commands), " ".join(self.commands[0]))


class Raw:
    """Raw bytes (inline commands); reads `replies` replies."""

    def __init__(self, data, replies=1, keys=()):
        self.data, self.replies, self._keys = data, replies, list(keys)

    def run(self, conn):
        conn.send(self.data)
        return b"".join(conn.read_reply() for _ in range(self.replies))

    def keys(self):
        return self._keys

    def __repr__(self):
        return "raw %r" % self.data[:60]


class Sleep:
    """Waits; replies nothing (the same empty bytes on both servers)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def run(self, conn):
        time.sleep(self.seconds)
        return b""

    def keys(self):
        return []

    def __repr__(self):
        return "sleep %.1f" % self.seconds


class Window(C):
    """One command whose integer reply depends on the clock: a reply within [lo, hi] becomes
    the placeholder ":<in-window>"; anything else is returned unchanged (and so differs)."""

    def __init__(self, lo, hi, *args):
        super().__init__(*args)
        self.lo, self.hi = lo, hi

    def run(self, conn):
        reply = super().run(conn)
        m = INTEGER.fullmatch(reply)
        if m and self.lo <= int(m.group(1)) <= self.hi:
            return b":<in-window>\r\n"
        return reply

    def __repr__(self):
        return "%s in [%d, %d]" % (super().__repr__(), self.lo, self.hi)


INTEGER = re.compile(rb":(-?\d+)\r\n")
HELLO_ID = re.compile(rb"(\$2\r\nid\r\n):\d+\r\n")


def mask_hello(r, g):
    return HELLO_ID.sub(rb"\1:<id>\r\n", r), HELLO_ID.sub(rb"\1:<id>\r\n", g)
def run_case(port, steps):
    conn = harness.RawConn(port)
    try:
        return [step.run(conn) for step in steps]
    finally:
        conn.close()


def cleanup(port, steps):
    """Deletes every key the case named (one DEL per key: not compared, errors ignored)."""
    names = []
    for step in steps:
        for key in step.keys():
            if key not in names:
                names.append(key)
    if not names:
        return
    conn = harness.RawConn(port)
    try:
        conn.send(b"".join(harness.encode_command(["DEL", key]) for key in names))
        for _ in names:
            conn.read_reply()
    finally:
        conn.close()


def run(cases, stack_prefix, gateway_name):
    """Runs every case of cases() against redis-server and the gateway; returns the exit code."""
    only = sys.argv[1:]  # optional case names (substring match) for local runs
    with harness.Stack(prefix=stack_prefix) as stack:
        if harness.find_binary("REDIS_SERVER_BIN", "redis-server") is None:
            stack.close()
            harness.skip_or_fail("redis-server not found; set REDIS_SERVER_BIN")
        redis_port = stack.start_redis()
        gateway_port = stack.start_gateway(gateway_name)
        passed = failed = 0
        known_divergences = []
        for name, steps, mask, known in cases():
            if only and not any(o in name for o in only):
                continue
            try:
                want = run_case(redis_port, steps)
                got = run_case(gateway_port, steps)
            except OSError as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
                continue
            finally:
                for port in (redis_port, gateway_port):
                    try:
                        cleanup(port, steps)
                    except OSError:
                        pass
            diffs = []
            for i, (step, r, g) in enumerate(zip(steps, want, got)):
                if mask is not None:
                    r, g = mask(r, g)
                if r != g:
                    diffs.append("  step %d (%r):\n    redis:   %r\n    gateway: %r"
                                 % (i + 1, step, r[:400], g[:400]))
            if known is not None:
                # Strict: a documented divergence that no longer diverges must be taken off
                # the list (and the documentation), so it fails.
                if diffs:
                    known_divergences.append(name)
                    print("KNOWN %s (%s)\n%s" % (name, known, "\n".join(diffs)))
                else:
                    failed += 1
                    print("FAIL %s: matches redis now; remove known= (%s)" % (name, known))
            elif diffs:
                failed += 1
                print("FAIL %s\n%s" % (name, "\n".join(diffs)))
            else:
                passed += 1
                print("PASS %s" % name)
        if failed:
            stack.dump_logs()
        problems = stack.close()
        for p in problems:
            print("FAIL gateway_clean_shutdown: %s" % p)
        failed += 1 if problems else 0
        passed += 0 if problems else 1
        if known_divergences:
            print("%d documented divergence(s), not counted: %s"
                  % (len(known_divergences), ", ".join(known_divergences)))
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0
