#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0 for keyspace notifications (notify-keyspace-events
KEAn): the events every string and generic command sends, their names, their order, and the
channels they go to, plus CONFIG SET/GET of the setting.

Same method as the other parity_*_test.py scripts (parity_lib.py). Each case subscribes its
connection to every keyspace and keyevent channel, then runs commands on a second connection
(Events steps): the step's bytes are the command's reply followed by every pmessage frame the
subscriber received until QUIET_S passed without one. On the gateway the events come from the
bucket follower, a few milliseconds after the reply; the quiet window covers that.

Known divergence (docs/compatibility.md): RENAME, RENAMENX and MOVE notify the destination before
the source, because the gateway writes the destination first. Not covered, because it depends on
timing: a write overwritten before the follower reads it (one MSET naming a key twice) gives no
events, as the bucket keeps one message per key. Each step here waits for quiet before the next.

Prints one line per case and a final "N passed, M failed"; exits 1 on any failure, 77 when
nats-server, the gateway or redis-server is missing (unless RNG_REQUIRE_NATS=1).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import parity_lib  # noqa: E402
from parity_lib import C  # noqa: E402

PREFIX = "pn:"
QUIET_S = 0.2


def _port(conn):
    return conn.sock.getpeername()[1]


def _frames_until_quiet(conn):
    frames = b""
    while True:
        frame = conn.read_reply(timeout=QUIET_S)
        if frame.endswith(b"<timeout>"):
            return frames + frame[:-len(b"<timeout>")]
        frames += frame


class Subscribe:
    """Turns notifications on (KEAn), subscribes the case's connection to every keyspace and
    keyevent channel, and drops events still in flight from earlier cases."""

    def run(self, conn):
        reply = conn.command("CONFIG", "SET", "notify-keyspace-events", "KEAn")
        conn.send(harness.encode_command(["PSUBSCRIBE", "__key*__:*"]))
        reply += conn.read_reply()
        _frames_until_quiet(conn)
        return reply

    def keys(self):
        return []

    def __repr__(self):
        return "psubscribe __key*__:*"


class Events(C):
    """One command on another connection: its reply, then the events the case's connection
    received."""

    def run(self, conn):
        other = harness.RawConn(_port(conn))
        try:
            reply = other.command(*self.args)
        finally:
            other.close()
        return reply + _frames_until_quiet(conn)


def cases():
    """(name, steps, mask, known), as parity_lib.run expects."""
    out = []
    moved_first = "the destination's events come before the source's (docs/compatibility.md)"

    def case(name, *commands, known=None):
        out.append((name, [Subscribe()] + [Events(*c) for c in commands], None, known))

    k, k2, src = PREFIX + "k", PREFIX + "k2", PREFIX + "src"
    # --- SET and friends ------------------------------------------------------------------------
    case("set", ("SET", k, "v"), ("SET", k, "w"))
    case("set_with_expiry", ("SET", k, "v", "EX", "100"), ("SET", k, "v", "PX", "100000"),
         ("SET", k, "v", "EXAT", "99999999999"), ("SET", k, "v", "PXAT", "99999999999000"))
    case("set_keepttl", ("SET", k, "v", "EX", "100"), ("SET", k, "w", "KEEPTTL"))
    case("set_nx_xx", ("SET", k, "v", "XX"), ("SET", k, "v", "NX"), ("SET", k, "w", "NX"),
         ("SET", k, "w", "XX", "EX", "100"))
    case("set_get", ("SET", k, "v", "GET"), ("SET", k, "w", "EX", "100", "GET"))
    case("setex_psetex_setnx", ("SETEX", k, "100", "v"), ("PSETEX", k, "100000", "v"),
         ("SETNX", k, "v"), ("SETNX", k2, "v"))
    case("mset", ("MSET", k, "1", k2, "2"), ("MSET", k, "3"))
    case("getset_getdel", ("GETSET", k, "v"), ("GETSET", k, "w"), ("GETDEL", k), ("GETDEL", k))
    case("getex", ("SET", k, "v"), ("GETEX", k), ("GETEX", k, "EX", "100"),
         ("GETEX", k, "PERSIST"), ("GETEX", k, "PERSIST"), ("GETEX", k, "PXAT", "1"),
         ("GETEX", k, "EX", "100"))
    # --- values ---------------------------------------------------------------------------------
    case("append", ("APPEND", k, "x"), ("APPEND", k, "y"), ("APPEND", k, ""))
    case("counters", ("INCR", k), ("DECR", k), ("INCRBY", k, "5"), ("DECRBY", k, "2"),
         ("INCRBYFLOAT", k, "1.5"), ("INCRBY", k2, "0"), ("SET", k2, "x"), ("INCR", k2))
    case("setrange", ("SETRANGE", k, "2", "ab"), ("SETRANGE", k, "0", "z"),
         ("SETRANGE", k, "0", ""), ("SETRANGE", k2, "5", ""))
    case("setbit", ("SETBIT", k, "7", "1"), ("SETBIT", k, "7", "1"), ("SETBIT", k, "7", "0"),
         ("SETBIT", k, "100", "0"))
    case("bitfield", ("BITFIELD", k, "GET", "u8", "0"), ("BITFIELD", k, "SET", "u8", "0", "255"),
         ("BITFIELD", k, "SET", "u8", "0", "255"), ("BITFIELD", k, "INCRBY", "u8", "0", "1"),
         ("BITFIELD", k, "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1000"))
    case("bitop", ("SET", src, "abc"), ("BITOP", "NOT", k, src), ("BITOP", "NOT", k, src),
         ("BITOP", "AND", k, PREFIX + "none"), ("BITOP", "AND", k, PREFIX + "none"))
    # --- generic --------------------------------------------------------------------------------
    case("del_unlink", ("MSET", k, "1", k2, "2"), ("DEL", k, PREFIX + "none", k2),
         ("SET", k, "1"), ("UNLINK", k), ("DEL", k))
    case("expire_family", ("EXPIRE", k, "100"), ("SET", k, "v"), ("EXPIRE", k, "100"),
         ("PEXPIRE", k, "100000", "GT"), ("EXPIREAT", k, "99999999999", "NX"),
         ("PEXPIREAT", k, "99999999999000"), ("PERSIST", k), ("PERSIST", k),
         ("EXPIRE", k, "-1"), ("SET", k, "v"), ("PEXPIREAT", k, "1"))
    case("copy", ("SET", src, "v", "EX", "100"), ("COPY", src, k), ("COPY", src, k),
         ("COPY", src, k, "REPLACE"), ("COPY", src, PREFIX + "c1", "DB", "1"))
    case("rename", ("SET", src, "v"), ("RENAME", src, k), known=moved_first)
    case("rename_over_a_key", ("SET", src, "v"), ("SET", k, "old"), ("RENAME", src, k),
         known=moved_first)
    case("renamenx", ("SET", src, "v"), ("SET", k2, "x"), ("RENAMENX", src, k2),
         ("RENAMENX", src, k), known=moved_first)
    case("rename_missing_and_same", ("RENAME", src, k), ("SET", k, "v"), ("RENAME", k, k))
    case("move", ("SET", PREFIX + "m1", "v"), ("MOVE", PREFIX + "m1", "1"), known=moved_first)
    # --- the setting ----------------------------------------------------------------------------
    out.append(("config_notify_keyspace_events",
                [C("CONFIG", "SET", "notify-keyspace-events", "KEAnm"),
                 C("CONFIG", "GET", "notify-keyspace-events"),
                 C("CONFIG", "SET", "notify-keyspace-events", "E$"),
                 C("CONFIG", "GET", "notify-keyspace-events"),
                 C("CONFIG", "SET", "notify-keyspace-events", "xyz"),
                 C("CONFIG", "SET", "notify-keyspace-events", "K", "notify-keyspace-events", "E"),
                 C("CONFIG", "GET", "notify-keyspace-events"),
                 C("CONFIG", "SET", "notify-keyspace-events", ""),
                 C("CONFIG", "GET", "notify-keyspace-events")], None, None))
    return out


def main():
    parity_lib.set_prefix(PREFIX)
    return parity_lib.run(cases, "rng-parity-notify-", "parity-notify")


if __name__ == "__main__":
    sys.exit(main())
