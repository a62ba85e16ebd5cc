#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0 for the key moving and introspection commands
(issue 4): RENAME, RENAMENX, COPY (DB, REPLACE), MOVE, SWAPDB and OBJECT ENCODING/FREQ/
IDLETIME/REFCOUNT/HELP.

Same method and harness as parity_keys_test.py: redis-server and the gateway (with its own
nats-server) are started on free loopback ports, the same raw RESP bytes are sent to both and
the replies are compared exactly.

OBJECT IDLETIME depends on the clock (Redis's LRU clock has a 1 s resolution): it is checked
by a Window step, which must answer 0..2 on both servers.

Covered: every error these commands give (no such key, same object, DB index out of range, not
an integer, int range, syntax errors, SWAPDB's index errors, unknown OBJECT subcommands, arity),
TTLs carried by RENAME, COPY and MOVE (compared through PEXPIRETIME with fixed deadlines),
RENAME onto itself, REPLACE, other databases, pipelines and RESP3.

Documented divergences (known=): SWAPDB of two different databases (refused by the gateway),
OBJECT ENCODING of an APPEND result (Redis keeps it raw).

Each case runs on a fresh connection per server and uses keys of its own (prefix "pk2:<case>:");
afterwards every key a case named is deleted in database 0 on both servers (not compared);
cases that use another database delete their keys there themselves.

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

PREFIX = "pk2:"


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

    # ==== RENAME / RENAMENX =====================================================================
    a, b, c = keys("rename", 3)
    case("rename", [C("RENAME", a, b), C("RENAMENX", a, b), C("RENAME", a, a),
                    C("RENAMENX", a, a), C("SET", a, "1"), C("RENAME", a, a),
                    C("RENAMENX", a, a), C("GET", a), C("RENAME", a, b), C("EXISTS", a),
                    C("GET", b), C("SET", c, "x"), C("rename", b, c), C("GET", c),
                    C("EXISTS", b), C("RENAME", b, c)])
    a, b, c = keys("renamenx", 3)
    case("renamenx", [C("SET", a, "1"), C("SET", b, "2"), C("RENAMENX", a, b), C("GET", a),
                      C("GET", b), C("renamenx", a, c), C("EXISTS", a), C("GET", c),
                      C("SET", b, "3", "PXAT", "1"), C("RENAMENX", c, b), C("GET", b)])
    a, b = keys("rename_ttl", 2)
    case("rename_ttl", [C("SET", a, "1", "PXAT", FAR_MS), C("SET", b, "2", "PXAT",
                                                            "9999999998000"),
                        C("RENAME", a, b), C("PEXPIRETIME", b), C("PEXPIRETIME", a),
                        C("SET", a, "3"), C("RENAME", a, b), C("PEXPIRETIME", b),
                        C("SET", a, "4", "PXAT", "1"), C("RENAME", a, b), C("GET", b),
                        C("SET", a, "5", "EXAT", FAR_S), C("RENAMENX", a, b),
                        C("RENAMENX", b, a), C("EXPIRETIME", a), C("TTL", b)])
    case("rename_wrong_arity", [C("RENAME"), C("RENAME", "a"), C("RENAME", "a", "b", "c"),
                                C("RENAMENX", "a"), C("RENAMENX", "a", "b", "c")])

    # ==== COPY ==================================================================================
    a, b, m = keys("copy", 3)
    case("copy", [C("COPY", m, b), C("SET", a, "1", "PXAT", FAR_MS), C("COPY", a, b),
                  C("GET", b), C("PEXPIRETIME", b), C("COPY", a, b), C("SET", a, "2"),
                  C("copy", a, b, "replace"), C("GET", b), C("PEXPIRETIME", b),
                  C("COPY", a, b, "REPLACE", "REPLACE"), C("GET", a), C("COPY", m, b, "REPLACE"),
                  C("GET", b)])
    a, b = keys("copy_errors", 2)
    case("copy_errors", [C("SET", a, "1"), C("COPY", a, a), C("COPY", m, m),
                         C("COPY", a, a, "DB", "0"), C("COPY", a, b, "DB"),
                         C("COPY", a, b, "db", "x"), C("COPY", a, b, "DB", "16"),
                         C("COPY", a, b, "DB", "-1"), C("COPY", a, b, "DB", "3000000000"),
                         C("COPY", a, b, "DB", "-3000000000"), C("COPY", a, b, "DB", "1.5"),
                         C("COPY", a, b, "DB", ""), C("COPY", a, b, "foo"),
                         C("COPY", a, b, "REPLACE", "DB", "16"),
                         C("COPY", a, b, "DB", "16", "foo"), C("COPY", a, b, "DB", "1", "foo"),
                         C("COPY", a, b, "REPLACE", "x"), C("COPY", a, b, "db", "db"),
                         C("COPY", m, b, "DB", "16"), C("EXISTS", b), C("COPY"),
                         C("COPY", a)])
    a, b = keys("copy_db", 2)
    case("copy_db", [C("SET", a, "1", "PXAT", FAR_MS), C("COPY", a, a, "DB", "1"),
                     C("COPY", a, a, "db", "1"), C("COPY", a, b, "DB", "1", "REPLACE"),
                     C("SET", a, "2"), C("COPY", a, a, "REPLACE", "DB", "1"),
                     C("SELECT", "1"), C("GET", a), C("GET", b), C("PEXPIRETIME", a),
                     C("PEXPIRETIME", b), C("COPY", a, a, "DB", "1"), C("COPY", b, a, "DB", "0"),
                     C("COPY", b, b, "DB", "0"), C("DEL", a, b), C("SELECT", "0"), C("GET", a),
                     C("GET", b), C("PEXPIRETIME", b)])

    # ==== MOVE ==================================================================================
    a, m = keys("move", 2)
    case("move", [C("MOVE", m, "1"), C("SET", a, "1", "PXAT", FAR_MS), C("MOVE", a, "0"),
                  C("MOVE", a, "16"), C("MOVE", a, "-1"), C("MOVE", a, "x"),
                  C("MOVE", a, "3000000000"), C("MOVE", a, ""), C("MOVE", a, "1"),
                  C("EXISTS", a), C("SET", a, "2"), C("move", a, "1"), C("GET", a),
                  C("SELECT", "1"), C("GET", a), C("PEXPIRETIME", a), C("MOVE", a, "1"),
                  C("MOVE", a, "0"), C("DEL", a), C("MOVE", a, "0"), C("SELECT", "0"),
                  C("MOVE", m, "3"), C("MOVE"), C("MOVE", a), C("MOVE", a, "1", "2")])
    a = keys("move_expired")
    case("move_expired", [C("SET", a, "1", "PXAT", "1"), C("MOVE", a, "2"), C("SELECT", "2"),
                          C("EXISTS", a), C("SELECT", "0")])

    # ==== SWAPDB ================================================================================
    case("swapdb_errors", [C("SWAPDB", "x", "1"), C("SWAPDB", "0", "x"),
                           C("SWAPDB", "x", "y"), C("SWAPDB", "0", "16"),
                           C("SWAPDB", "16", "x"), C("SWAPDB", "-1", "0"),
                           C("SWAPDB", "3000000000", "0"), C("SWAPDB", "0", "3000000000"),
                           C("SWAPDB", "1.5", "0"), C("SWAPDB", "", "0"), C("swapdb", "3", "3"),
                           C("SWAPDB"), C("SWAPDB", "0"), C("SWAPDB", "0", "1", "2")])
    case("swapdb_two_databases", [C("SWAPDB", "14", "15")],
         known="SWAPDB is refused: each database is its own NATS bucket")

    # ==== OBJECT ================================================================================
    k, m = keys("object", 2)
    steps = []
    for sub in ("ENCODING", "FREQ", "IDLETIME", "REFCOUNT", "encoding"):
        steps.append(C("OBJECT", sub, m))
    for v in ("123", "0", "9999", "10000", "12345", "-1", "-0", "0123", "+1", " 1",
              "9223372036854775807", "-9223372036854775808", "9223372036854775808",
              "123456789012345678901", "", "1.5", "x" * 44, "x" * 45, "12345678901234567890" * 3):
        steps += [C("SET", k, v), C("OBJECT", "ENCODING", k), C("OBJECT", "REFCOUNT", k),
                  Window(0, 2, "OBJECT", "IDLETIME", k), C("OBJECT", "FREQ", k)]
    steps += [C("SET", k, "5"), C("INCR", k), C("OBJECT", "ENCODING", k),
              C("OBJECT", "REFCOUNT", k), C("INCRBY", k, "100000"), C("OBJECT", "ENCODING", k),
              C("OBJECT", "REFCOUNT", k), C("SET", k, "1", "PXAT", "1"),
              C("OBJECT", "ENCODING", k)]
    case("object", steps)
    case("object_help_and_errors", [C("OBJECT", "HELP"), C("object", "help"),
                                    C("OBJECT", "HELP", "x"), C("OBJECT", "foo"),
                                    C("OBJECT", "foo", "bar"), C("OBJECT", "ENCODING"),
                                    C("OBJECT", "encoding", "a", "b"), C("OBJECT"),
                                    C("OBJECT", "REFCOUNT"), C("OBJECT", "freq", "a", "b")])
    k = keys("object_append")
    case("object_append", [C("SET", k, "ab"), C("APPEND", k, "c"), C("OBJECT", "ENCODING", k)],
         known="OBJECT ENCODING is derived from the value: an APPEND result reads embstr")

    # ==== pipelines, RESP3 ======================================================================
    a, b = keys("pipeline", 2)
    case("pipeline_order", [Pipe(["SET", a, "1"], ["RENAME", a, b], ["GET", b], ["EXISTS", a],
                                 ["COPY", b, a], ["RENAMENX", a, b], ["OBJECT", "ENCODING", a],
                                 ["MOVE", a, "1"], ["EXISTS", a], ["RENAME", b, a],
                                 ["GET", a], ["SELECT", "1"], ["DEL", a], ["SELECT", "0"])])
    a, b = keys("resp3", 2)
    case("resp3_shapes", [C("HELLO", "3"), C("OBJECT", "ENCODING", a), C("SET", a, "1"),
                          C("OBJECT", "ENCODING", a), C("OBJECT", "REFCOUNT", a),
                          C("RENAME", a, b), C("RENAMENX", b, a), C("COPY", a, b),
                          C("RENAME", b, b), C("OBJECT", "HELP"), C("HELLO", "2")],
         mask=mask_hello)
    return out


def main():
    parity_lib.set_prefix(PREFIX)
    return parity_lib.run(cases, "rng-parity-keys2-", "parity-keys2")


if __name__ == "__main__":
    sys.exit(main())
