#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0 for the generic key commands (issue 4).

Same method and harness as parity_strings_test.py: redis-server and the gateway (with its own
nats-server) are started on free loopback ports, the same raw RESP bytes are sent to both and
the replies are compared exactly.

Covered: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX XX GT LT and every error: conflicting
options, unsupported options as Redis formats them, not an integer, invalid expire times,
deadlines in the past that delete the key), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, TYPE,
UNLINK and TOUCH, with the string commands that set or keep deadlines (SET EX/KEEPTTL, SETEX,
GETEX, INCR); arity errors, other databases, pipelines, inline commands and RESP3.

Clock-dependent replies (TTL and PTTL after a relative deadline) are checked by Window steps:
the reply must be an integer inside a window the case states, and is then replaced by the
placeholder ":<in-window>" before the comparison (a reply outside the window is compared as
is, so it shows up as a difference). Absolute deadlines (EXPIREAT, PEXPIREAT with fixed
timestamps) are compared exactly through EXPIRETIME and PEXPIRETIME. Expiry itself is observed
after a sleep, as in parity_strings_test.py.

Not compared: TYPE of non-string keys (the gateway has no other types yet; unit tests cover
it), keyspace hit/miss statistics.

Each case runs on a fresh connection per server and uses keys of its own (prefix "pk:<case>:");
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

PREFIX = "pk:"


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

    # ==== EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT ===============================================
    k, m = keys("expire", 2)
    case("expire", [C("EXPIRE", m, "100"), C("SET", k, "v"), C("EXPIRE", k, "100"),
                    Window(99, 100, "TTL", k), Window(95000, 100000, "PTTL", k),
                    C("expire", k, "200"), Window(199, 200, "TTL", k), C("GET", k)])
    k, m = keys("pexpire", 2)
    case("pexpire", [C("PEXPIRE", m, "100000"), C("SET", k, "v"), C("PEXPIRE", k, "100000"),
                     Window(95000, 100000, "PTTL", k), Window(99, 100, "TTL", k),
                     C("pexpire", k, "1500"), Window(1, 2, "TTL", k), C("GET", k)])
    k, m = keys("expireat", 2)
    case("expireat", [C("EXPIREAT", m, FAR_S), C("SET", k, "v"), C("EXPIREAT", k, FAR_S),
                      C("EXPIRETIME", k), C("PEXPIRETIME", k), C("expireat", k, "9999999998"),
                      C("EXPIRETIME", k), C("GET", k), C("EXPIRETIME", m), C("PEXPIRETIME", m)])
    k, m = keys("pexpireat", 2)
    case("pexpireat", [C("PEXPIREAT", m, FAR_MS), C("SET", k, "v"),
                       C("PEXPIREAT", k, "9999999999123"), C("PEXPIRETIME", k),
                       C("EXPIRETIME", k), C("PEXPIREAT", k, "9999999999500"),
                       C("EXPIRETIME", k), C("PEXPIREAT", k, "9999999999499"),
                       C("EXPIRETIME", k), C("PEXPIREAT", k, I64_MAX), C("PEXPIRETIME", k),
                       C("EXPIREAT", k, "9223372036854775"), C("PEXPIRETIME", k),
                       C("EXPIRETIME", k), C("GET", k)])
    k = keys("expire_past")
    case("expire_past", [
        C("SET", k, "v"), C("EXPIRE", k, "0"), C("EXISTS", k), C("GET", k), C("TTL", k),
        C("SET", k, "v"), C("EXPIRE", k, "-1"), C("EXISTS", k),
        C("SET", k, "v"), C("PEXPIRE", k, "-100"), C("EXISTS", k),
        C("SET", k, "v"), C("EXPIREAT", k, "1"), C("EXISTS", k),
        C("SET", k, "v"), C("PEXPIREAT", k, "0"), C("EXISTS", k),
        C("SET", k, "v"), C("PEXPIREAT", k, I64_MIN), C("EXISTS", k),
        C("SET", k, "v"), C("EXPIRE", k, "-9223372036854775"), C("EXISTS", k),
        C("EXPIRE", k, "-1"), C("PEXPIREAT", k, "1"), C("SET", k, "w"), C("GET", k)])
    k = keys("expire_expires")
    case("expire_expires", [C("SET", k, "v"), C("PEXPIRE", k, TTL_SHORT), C("GET", k),
                            Sleep(SLEEP), C("GET", k), C("TTL", k), C("EXPIRE", k, "100"),
                            C("PERSIST", k), C("TYPE", k), C("EXISTS", k)])
    k = keys("expire_value_kept")
    case("expire_value_kept", [C("SET", k, "12"), C("EXPIREAT", k, FAR_S), C("INCR", k),
                               C("EXPIRETIME", k), C("APPEND", k, "x"), C("GET", k),
                               C("EXPIRETIME", k), C("SET", k, "y"), C("EXPIRETIME", k)])

    # ==== NX / XX / GT / LT =====================================================================
    k = keys("opt_nx")
    case("opt_nx", [C("EXPIREAT", k, FAR_S, "NX"), C("SET", k, "v"),
                    C("PEXPIREAT", k, "9999999998000", "NX"), C("PEXPIRETIME", k),
                    C("PEXPIREAT", k, FAR_MS, "nx"), C("PEXPIRETIME", k),
                    C("PEXPIREAT", k, FAR_MS, "NX", "NX"), C("PERSIST", k),
                    C("EXPIREAT", k, FAR_S, "Nx"), C("PEXPIRETIME", k)])
    k = keys("opt_xx")
    case("opt_xx", [C("EXPIRE", k, "100", "XX"), C("SET", k, "v"), C("EXPIRE", k, "100", "XX"),
                    C("TTL", k), C("PEXPIREAT", k, FAR_MS), C("PEXPIREAT", k, "9999999998000",
                                                             "xx"),
                    C("PEXPIRETIME", k), C("PEXPIREAT", k, "9999999997000", "XX", "XX"),
                    C("PEXPIRETIME", k)])
    k = keys("opt_gt")
    case("opt_gt", [C("EXPIRE", k, "100", "GT"), C("SET", k, "v"), C("EXPIRE", k, "100", "GT"),
                    C("TTL", k), C("PEXPIREAT", k, "9999999998000"),
                    C("PEXPIREAT", k, "9999999997000", "GT"),
                    C("PEXPIREAT", k, "9999999998000", "gt"), C("PEXPIRETIME", k),
                    C("PEXPIREAT", k, "9999999998001", "GT"), C("PEXPIRETIME", k),
                    C("EXPIRE", k, "-1", "GT"), C("EXISTS", k),
                    C("PEXPIREAT", k, FAR_MS, "XX", "GT"), C("PEXPIRETIME", k)])
    k = keys("opt_lt")
    case("opt_lt", [C("EXPIRE", k, "100", "LT"), C("SET", k, "v"),
                    C("PEXPIREAT", k, FAR_MS, "LT"), C("PEXPIRETIME", k),
                    C("PEXPIREAT", k, "9999999999001", "LT"),
                    C("PEXPIREAT", k, FAR_MS, "lt"), C("PEXPIRETIME", k),
                    C("PEXPIREAT", k, "9999999998999", "LT", "XX"), C("PEXPIRETIME", k),
                    C("EXPIRE", k, "-1", "LT"), C("EXISTS", k)])
    k = keys("opt_lt_no_deadline_past")
    case("opt_lt_no_deadline_past", [C("SET", k, "v"), C("PEXPIREAT", k, "1", "LT"),
                                     C("EXISTS", k), C("SET", k, "v"), C("EXPIRE", k, "-1", "XX"),
                                     C("EXISTS", k), C("EXPIRE", k, "-1", "NX"), C("EXISTS", k)])

    # ==== EXPIRE errors =========================================================================
    k, m = keys("expire_errors", 2)
    steps = [C("SET", k, "v")]
    for cmd in EXPIRE_CMDS:
        for key in (k, m):
            steps += [C(cmd, key, "100", "NX", "XX"), C(cmd, key, "100", "xx", "nx"),
                      C(cmd, key, "100", "NX", "GT"), C(cmd, key, "100", "LT", "NX"),
                      C(cmd, key, "100", "NX", "GT", "LT"), C(cmd, key, "100", "GT", "LT"),
                      C(cmd, key, "100", "XX", "lt", "gt"), C(cmd, key, "100", "BOGUS"),
                      C(cmd, key, "100", "NX", "keepttl"), C(cmd, key, "100", ""),
                      C(cmd, key, "100", "NX", "XX", "x", "y"), C(cmd, key, "abc", "BOGUS"),
                      C(cmd, key, "abc", "NX", "XX"), C(cmd, key, "abc", "NX"),
                      C(cmd, key, "100", "a\x00b"), C(cmd, key, "100", "a\r\n"),
                      C(cmd, key, "100", "a\nb\rc"), C(cmd, key, "100", "\r\n"),
                      C(cmd, key, "100", "EX", "10")]
            for t in ["abc", "1.5", "", " 1", "1 ", "+1", "01", "-0", U64_OVER,
                      "-9223372036854775809", "0x10"]:
                steps.append(C(cmd, key, t))
    steps += [C("TTL", k), C("EXISTS", m)]
    case("expire_errors", steps)
    k, m = keys("expire_invalid_time", 2)
    steps = [C("SET", k, "v")]
    for key in (k, m):
        steps += [C("EXPIRE", key, "9223372036854776"), C("EXPIRE", key, "-9223372036854776"),
                  C("EXPIRE", key, "9223372036854775"), C("EXPIRE", key, I64_MAX),
                  C("EXPIRE", key, I64_MIN), C("PEXPIRE", key, I64_MAX),
                  C("PEXPIRE", key, "9223372036854775000"), C("EXPIREAT", key, "9223372036854776"),
                  C("EXPIREAT", key, "-9223372036854776"), C("EXPIREAT", key, I64_MAX),
                  C("expire", key, I64_MAX, "NX"), C("Pexpire", key, I64_MAX, "XX")]
    steps += [C("TTL", k), C("EXISTS", m)]
    case("expire_invalid_time", steps)
    case("expire_wrong_arity", [C(cmd, *args) for cmd in EXPIRE_CMDS
                                for args in ((), ("a",))])

    # ==== TTL / PTTL / EXPIRETIME / PEXPIRETIME ==================================================
    k, p, m = keys("ttl", 3)
    steps = [C("SET", k, "v"), C("SET", p, "v", "PXAT", "1")]
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "ttl", "pexpiretime"):
        steps += [C(cmd, k), C(cmd, m), C(cmd, p)]
    case("ttl_no_deadline_and_missing", steps)
    k = keys("ttl_from_set")
    case("ttl_from_set", [C("SET", k, "v", "EX", "100"), Window(99, 100, "TTL", k),
                          C("SET", k, "v", "PX", "5000"), Window(4, 5, "TTL", k),
                          Window(4000, 5000, "PTTL", k), C("SET", k, "w", "KEEPTTL"),
                          Window(4, 5, "TTL", k), C("SETEX", k, "300", "x"),
                          Window(299, 300, "TTL", k), C("PSETEX", k, "2500", "x"),
                          Window(2, 3, "TTL", k), C("GETEX", k, "EX", "7"), Window(6, 7, "TTL", k),
                          C("GETEX", k, "PERSIST"), C("TTL", k), C("SET", k, "v", "EXAT", FAR_S),
                          C("EXPIRETIME", k), C("SET", k, "v", "PXAT", "9999999999777"),
                          C("PEXPIRETIME", k), C("EXPIRETIME", k), C("SET", k, "v"), C("TTL", k)])
    case("ttl_wrong_arity", [C(cmd, *args)
                             for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME")
                             for args in ((), ("a", "b"))])

    # ==== PERSIST ===============================================================================
    k, m = keys("persist", 2)
    case("persist", [C("PERSIST", m), C("SET", k, "v"), C("PERSIST", k), C("EXPIREAT", k, FAR_S),
                     C("PERSIST", k), C("TTL", k), C("PERSIST", k), C("GET", k),
                     C("SET", k, "v", "PX", TTL_SHORT), C("persist", k), Sleep(SLEEP),
                     C("GET", k), C("TTL", k), C("SET", k, "v", "PXAT", "1"), C("PERSIST", k),
                     C("EXISTS", k)])
    case("persist_wrong_arity", [C("PERSIST"), C("PERSIST", "a", "b")])

    # ==== TYPE ==================================================================================
    k, m = keys("type", 2)
    case("type", [C("TYPE", m), C("SET", k, "v"), C("TYPE", k), C("type", k),
                  C("SET", k, "1"), C("INCR", k), C("TYPE", k), C("EXPIRE", k, "-1"),
                  C("TYPE", k), C("SET", k, "v", "PXAT", "1"), C("TYPE", k), C("SET", k, ""),
                  C("TYPE", k)])
    case("type_wrong_arity", [C("TYPE"), C("TYPE", "a", "b")])

    # ==== UNLINK / TOUCH ========================================================================
    a, b, c = keys("unlink", 3)
    case("unlink", [C("UNLINK", a), C("MSET", a, "1", b, "2"), C("SET", c, "3", "PXAT", "1"),
                    C("UNLINK", a, b, c, a), C("EXISTS", a, b, c), C("SET", a, "x"),
                    C("unlink", a), C("GET", a)])
    a, b, c = keys("touch", 3)
    case("touch", [C("TOUCH", a), C("MSET", a, "1", b, "2"), C("SET", c, "3", "PXAT", "1"),
                   C("TOUCH", a, b, c, a), C("touch", c), C("GET", a), C("TTL", a)])
    case("unlink_touch_wrong_arity", [C("UNLINK"), C("TOUCH")])

    # ==== pipelines, inline commands, databases, key names, RESP3 ===============================
    k = keys("pipeline")
    case("pipeline_order", [Pipe(["SET", k, "1"], ["EXPIREAT", k, FAR_S], ["EXPIRETIME", k],
                                 ["PERSIST", k], ["TTL", k], ["PEXPIREAT", k, "9999999998000"],
                                 ["PEXPIRETIME", k], ["INCR", k], ["PEXPIRETIME", k],
                                 ["PEXPIREAT", k, FAR_MS, "GT"], ["PEXPIRETIME", k],
                                 ["EXPIRE", k, "-1"], ["EXISTS", k], ["TTL", k], ["TYPE", k],
                                 ["SET", k, "2"], ["TOUCH", k, k], ["UNLINK", k], ["TYPE", k])])
    k = keys("inline")
    case("inline_commands", [
        Raw(("SET %s v\r\nEXPIREAT %s %s nx\r\nEXPIRETIME %s\r\nPERSIST %s\r\nTYPE %s\r\n"
             "TTL %s\r\nEXPIRE %s 1 BOGUS\r\n" % (k, k, FAR_S, k, k, k, k, k)).encode(), 8,
            keys=[k])])
    k = keys("select_db")
    case("select_db", [C("SELECT", "9"), C("SET", k, "v"), C("EXPIREAT", k, FAR_S),
                       C("SELECT", "0"), C("EXPIRETIME", k), C("TYPE", k), C("PERSIST", k),
                       C("TOUCH", k), C("SELECT", "9"), C("EXPIRETIME", k), C("PERSIST", k),
                       C("TTL", k), C("TYPE", k), C("UNLINK", k), C("SELECT", "0")])
    a, b = PREFIX + "names:a.b", PREFIX + "names:a:b"
    w = PREFIX + "names: a\x00b\xff*>=2E"
    case("key_names", [C("SET", a, "dot"), C("SET", w, "bin"), C("EXPIREAT", a, FAR_S),
                       C("EXPIRETIME", b), C("EXPIRETIME", a), C("PEXPIREAT", w, FAR_MS),
                       C("PEXPIRETIME", w), C("TYPE", w), C("TOUCH", a, b, w), C("PERSIST", w),
                       C("TTL", w), C("UNLINK", a, b, w)])
    case("empty_key_name", [C("SET", "", "e"), C("EXPIREAT", "", FAR_S), C("EXPIRETIME", ""),
                            C("PERSIST", ""), C("TYPE", ""), C("TOUCH", ""), C("UNLINK", ""),
                            C("TYPE", "")])
    k, m = keys("resp3", 2)
    case("resp3_shapes", [C("HELLO", "3"), C("SET", k, "v"), C("EXPIREAT", k, FAR_S),
                          C("TTL", m), C("EXPIRETIME", k), C("PERSIST", k), C("TYPE", k),
                          C("TYPE", m), C("TOUCH", k, m), C("EXPIRE", k, "1", "NX", "XX"),
                          C("UNLINK", k), C("HELLO", "2")],
         mask=mask_hello)
    return out


def main():
    parity_lib.set_prefix(PREFIX)
    return parity_lib.run(cases, "rng-parity-keys-", "parity-keys")


if __name__ == "__main__":
    sys.exit(main())
