#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0 for the keyspace-wide commands (issue 4).

Same method and harness as parity_strings_test.py: redis-server and the gateway (with its own
nats-server) are started on free loopback ports, the same raw RESP bytes are sent to both and
the replies are compared exactly.

Covered: DBSIZE, KEYS (every glob rule: *, ?, [a-z], [^a], backslash escapes), SCAN (MATCH,
COUNT, TYPE, every argument error; a whole iteration's set of keys), RANDOMKEY, EXISTS with
repeats, FLUSHDB and FLUSHALL (ASYNC, SYNC, errors), SELECT and expired keys left out.

KEYS and SCAN return keys in no particular order, and SCAN cursors are positions in each
server's own order: Sorted steps compare the set of keys of a KEYS reply, and ScanAll steps
run a whole SCAN iteration and compare the set of keys it returned.

Clock-dependent replies (TTL and PTTL after a relative deadline) are checked by Window steps:
the reply must be an integer inside a window the case states, and is then replaced by the
placeholder ":<in-window>" before the comparison (a reply outside the window is compared as
is, so it shows up as a difference). Absolute deadlines (EXPIREAT, PEXPIREAT with fixed
timestamps) are compared exactly through EXPIRETIME and PEXPIRETIME. Expiry itself is observed
after a sleep, as in parity_strings_test.py.

Not compared: TYPE of non-string keys (the gateway has no other types yet; unit tests cover
it), keyspace hit/miss statistics.

Each case runs on a fresh connection per server and uses keys of its own (prefix "pks:<case>:");
afterwards every key a case named is deleted on both servers (not compared).

Prints one line per case and a final "N passed, M failed"; exits 1 on any failure, 77 when
nats-server, the gateway or redis-server is missing (unless RNG_REQUIRE_NATS=1).
"""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import parity_lib  # noqa: E402
from parity_lib import C, INTEGER, Pipe, Raw, Sleep, Window, mask_hello  # noqa: E402,F401

PREFIX = "pks:"



ARRAY_ITEM = re.compile(rb"\$(\d+)\r\n")


def bulk_items(reply):
    """The bulk strings of a flat RESP array reply (b"*N\r\n$..."), in order."""
    items, pos = [], reply.index(b"\r\n") + 2
    while pos < len(reply):
        m = ARRAY_ITEM.match(reply, pos)
        if not m:
            break
        n = int(m.group(1))
        start = m.end()
        items.append(reply[start:start + n])
        pos = start + n + 2
    return items


class Sorted(C):
    """A command whose reply is an array of keys in no particular order: compared sorted."""

    def run(self, conn):
        reply = super().run(conn)
        if not reply.startswith(b"*"):
            return reply
        return b"sorted:" + b",".join(sorted(bulk_items(reply)))


class ScanAll(C):
    """SCAN from cursor 0 until it returns 0, with the given options; the set of keys seen."""

    def __init__(self, *options):
        super().__init__("SCAN", "0", *options)
        self.options = options

    def run(self, conn):
        cursor, seen, calls = b"0", set(), 0
        while True:
            conn.send(harness.encode_command(("SCAN", cursor.decode()) + self.options))
            reply = conn.read_reply()
            if not reply.startswith(b"*2\r\n"):
                return reply
            rest = reply[4:]
            m = ARRAY_ITEM.match(rest)
            cursor = rest[m.end():m.end() + int(m.group(1))]
            keys_part = rest[m.end() + int(m.group(1)) + 2:]
            seen.update(bulk_items(keys_part))
            calls += 1
            if cursor == b"0" or calls > 100000:
                return b"scan:" + b",".join(sorted(seen))

I64_MAX = "9223372036854775807"
I64_MIN = "-9223372036854775808"
U64_OVER = "9223372036854775808"
FAR_S = "9999999999"            # 2286-11-20, in seconds
FAR_MS = "9999999999000"
TTL_SHORT = "500"               # ms; observed after SLEEP
SLEEP = 1.0
EXPIRE_CMDS = ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT")



def cases():
    """(name, steps, mask, known) where mask(redis_reply, gateway_reply) -> both masked, and
    known is None or the reason a documented divergence is expected."""
    out = []

    def case(name, steps, mask=None, known=None):
        out.append((name, steps, mask, known))

    def keys(name, n=1):
        ks = ["%s%s:%d" % (PREFIX, name, i) for i in range(n)]
        return ks[0] if n == 1 else ks

    # Each case starts from an empty database: the cases share one database per server.
    a, b, c = keys("dbsize", 3)
    case("dbsize", [C("FLUSHALL"), C("DBSIZE"), C("SET", a, "1"), C("SET", b, "2"), C("DBSIZE"),
                    C("SET", a, "3"), C("DBSIZE"), C("DEL", a), C("DBSIZE"),
                    C("MSET", a, "1", c, "3"), C("DBSIZE"), C("DBSIZE", "x"), C("FLUSHDB"),
                    C("DBSIZE")])
    case("dbsize_pipelined_after_psetex", [C("FLUSHALL"), Pipe(("PSETEX", a, "100000", "v"),
                                                              ("DBSIZE",), ("SET", b, "x"),
                                                              ("DBSIZE",))])
    names = ["pks:g:" + n for n in ("hello", "hallo", "hxllo", "hllo", "heeeello", "hbllo",
                                     "h?llo", "h*llo", "h[llo", "h]llo", "h\\llo", "x", "xy")]
    setup = [C("FLUSHALL")] + [C("SET", n, "v") for n in names]
    pats = ["pks:g:*", "pks:g:h?llo", "pks:g:h*llo", "pks:g:h[ae]llo", "pks:g:h[^e]llo",
            "pks:g:h[a-b]llo", "pks:g:h[b-a]llo", "pks:g:h\\?llo", "pks:g:h\\*llo",
            "pks:g:h\\[llo", "pks:g:h[\\]]llo", "pks:g:x?", "pks:g:x*", "pks:g:[x]",
            "pks:g:*llo", "pks:g:h[", "nomatch*", "*"]
    case("keys_glob_rules", setup + [Sorted("KEYS", p) for p in pats] + [C("KEYS")])
    k = keys("exp", 3)
    case("keys_and_scan_skip_expired", [C("FLUSHALL"), C("SET", k[0], "v", "PX", "300"),
                                        C("SET", k[1], "v"), Sleep(1.0),
                                        Sorted("KEYS", "pks:exp:*"), ScanAll("COUNT", "5")])
    many = keys("scan", 120)
    setup = [C("FLUSHALL")] + [C("SET", n, "v") for n in many]
    case("scan_whole_iteration", setup + [ScanAll(), ScanAll("COUNT", "7"),
                                          ScanAll("MATCH", "pks:scan:1*"),
                                          ScanAll("MATCH", "pks:scan:?", "COUNT", "1000"),
                                          ScanAll("TYPE", "string"), ScanAll("TYPE", "list"),
                                          ScanAll("type", "STRING", "match", "*7")])
    case("scan_errors", [C("SCAN"), C("SCAN", "abc"), C("SCAN", "-1"), C("SCAN", "1.5"),
                         C("SCAN", "0", "COUNT"), C("SCAN", "0", "COUNT", "0"),
                         C("SCAN", "0", "COUNT", "-1"), C("SCAN", "0", "COUNT", "x"),
                         C("SCAN", "0", "MATCH"), C("SCAN", "0", "TYPE"),
                         C("SCAN", "0", "BOGUS", "1"), C("SCAN", "18446744073709551616")])
    r = keys("random", 1)
    case("randomkey", [C("FLUSHALL"), C("RANDOMKEY"), C("SET", r, "v"), C("RANDOMKEY"),
                       C("RANDOMKEY", "x")])
    e = keys("exists", 2)
    case("exists_repeats", [C("SET", e[0], "v"), C("EXISTS", e[0], e[0], e[1], e[0]),
                            C("EXISTS"), C("EXISTS", e[1])])
    f = keys("flush", 2)
    case("flush_options", [C("SET", f[0], "v"), C("FLUSHDB", "ASYNC"), C("EXISTS", f[0]),
                           C("SET", f[0], "v"), C("FLUSHDB", "sync"), C("EXISTS", f[0]),
                           C("FLUSHDB", "now"), C("FLUSHDB", "ASYNC", "SYNC"),
                           C("FLUSHALL", "ASYNC"), C("FLUSHALL", "sync"),
                           C("FLUSHALL", "x"), C("FLUSHALL", "ASYNC", "SYNC")])
    case("flushall_every_database", [C("SET", f[0], "v"), C("SELECT", "9"), C("SET", f[1], "v"),
                                     C("DBSIZE"), C("FLUSHALL"), C("DBSIZE"), C("SELECT", "0"),
                                     C("DBSIZE"), C("EXISTS", f[0])])
    s = keys("select", 1)
    case("select_databases", [C("SELECT", "9"), C("SET", s, "nine"), C("SELECT", "0"),
                              C("GET", s), C("SELECT", "9"), C("GET", s), C("DEL", s),
                              C("SELECT", "15"), C("SELECT", "16"), C("SELECT", "-1"),
                              C("SELECT", "x"), C("SELECT")])
    return out

def main():
    parity_lib.set_prefix(PREFIX)
    return parity_lib.run(cases, "rng-parity-keyspace-", "parity-keyspace")


if __name__ == "__main__":
    sys.exit(main())
