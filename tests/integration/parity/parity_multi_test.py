#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity of transactions (MULTI, EXEC, DISCARD, WATCH, UNWATCH) and MSETNX with
redis-server 7.0.15, in RESP2 and RESP3.

Covered: +QUEUED, results inside EXEC's array (run-time errors included), EXECABORT after a
queue-time error (unknown command, wrong arity), nested MULTI, WATCH inside MULTI, EXEC and
DISCARD without MULTI, WATCH aborts by the client's own write, by a delete and by a creation,
the nil (`*-1` / `_`) of an aborted EXEC, UNWATCH, SELECT inside MULTI, RESET inside MULTI,
a pipelined transaction, and MSETNX (repeats, existing keys, arity).

Each case runs on one connection per server with keys of its own (prefix "pm:"); they are
deleted afterwards. Prints one line per case and a final "N passed, M failed"; exits 1 on any
failure, 77 when nats-server, the gateway or redis-server is missing (unless
RNG_REQUIRE_NATS=1).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402,F401
import parity_lib  # noqa: E402
from parity_lib import C, Pipe, mask_hello  # noqa: E402

PREFIX = "pm:"


def cases():
    out = []

    def case(name, steps, mask=None, known=None):
        out.append((name, steps, mask, known))

    def both(name, steps):
        case(name + "_resp2", steps)
        case(name + "_resp3", [C("HELLO", "3")] + steps, mask=mask_hello)

    k = lambda name: PREFIX + name  # noqa: E731
    both("queued_and_results", [C("MULTI"), C("SET", k("a"), "1"), C("INCR", k("a")),
                                C("GET", k("a")), C("INCRBYFLOAT", k("a"), "0.5"),
                                C("GET", k("none")), C("EXEC"), C("GET", k("a"))])
    both("runtime_error_inside_exec", [C("SET", k("s"), "text"), C("MULTI"),
                                       C("INCR", k("s")), C("SET", k("t"), "1"),
                                       C("EXEC"), C("GET", k("t"))])
    both("execabort_unknown_command", [C("MULTI"), C("SET", k("u"), "1"), C("NOSUCH", "x"),
                                       C("EXEC"), C("GET", k("u")), C("EXEC")])
    both("execabort_wrong_arity", [C("MULTI"), C("GET"), C("SET", k("v"), "1"), C("EXEC"),
                                   C("EXISTS", k("v"))])
    both("control_errors", [C("EXEC"), C("DISCARD"), C("MULTI"), C("MULTI"),
                            C("WATCH", k("w")), C("SET", k("w"), "1"), C("EXEC"),
                            C("UNWATCH"), C("WATCH")])
    both("discard", [C("MULTI"), C("SET", k("d"), "1"), C("DISCARD"), C("GET", k("d")),
                     C("DISCARD")])
    both("watch_own_write_aborts", [C("SET", k("w"), "1"), C("WATCH", k("w")),
                                    C("SET", k("w"), "2"), C("MULTI"), C("GET", k("w")),
                                    C("EXEC"), C("MULTI"), C("GET", k("w")), C("EXEC")])
    both("watch_delete_aborts", [C("SET", k("w"), "1"), C("WATCH", k("w")), C("DEL", k("w")),
                                 C("MULTI"), C("SET", k("w"), "x"), C("EXEC"),
                                 C("EXISTS", k("w"))])
    both("watch_creation_aborts", [C("WATCH", k("n")), C("SET", k("n"), "1"), C("MULTI"),
                                   C("INCR", k("n")), C("EXEC"), C("GET", k("n"))])
    both("watch_unchanged_runs", [C("SET", k("w"), "1"), C("WATCH", k("w"), k("missing")),
                                  C("WATCH", k("w")), C("GET", k("w")), C("MULTI"),
                                  C("INCR", k("w")), C("EXEC")])
    both("unwatch_forgets", [C("SET", k("w"), "1"), C("WATCH", k("w")), C("UNWATCH"),
                             C("SET", k("w"), "2"), C("MULTI"), C("GET", k("w")), C("EXEC")])
    case("select_inside_multi", [C("MULTI"), C("SELECT", "1"), C("SET", k("db"), "1"),
                                 C("SELECT", "0"), C("EXISTS", k("db")), C("EXEC"),
                                 C("SELECT", "1"), C("GET", k("db")), C("DEL", k("db"))])
    case("reset_inside_multi", [C("MULTI"), C("SET", k("r"), "1"), C("RESET"),
                                C("EXEC"), C("EXISTS", k("r"))])
    case("pipelined_transaction", [Pipe(["MULTI"], ["SET", k("p"), "1"], ["INCR", k("p")],
                                        ["EXEC"], ["GET", k("p")])])
    both("msetnx", [C("MSETNX", k("m1"), "a", k("m2"), "b", k("m1"), "c"),
                    C("MGET", k("m1"), k("m2")), C("MSETNX", k("m2"), "x", k("m3"), "y"),
                    C("EXISTS", k("m3")), C("MSETNX", k("m3")), C("MSETNX", k("m3"), "1", "2"),
                    C("MULTI"), C("MSETNX", k("m4"), "1"), C("EXEC")])
    return out


def main():
    parity_lib.set_prefix(PREFIX)
    sys.exit(parity_lib.run(cases, "rng-parity-multi-", "parity-multi"))


if __name__ == "__main__":
    main()
