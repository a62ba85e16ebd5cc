#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0 for the string and bitmap commands (issue 3).

Same method as parity_test.py (and the same harness): redis-server and the gateway (with its
own nats-server) are started on free loopback ports, the same raw RESP bytes are sent to both
and the replies are compared exactly. Raw sockets, not a client library, so every byte counts.

Covered: SET (EX PX EXAT PXAT KEEPTTL NX XX GET), SETNX, SETEX, PSETEX, GETSET, GETDEL, GETEX,
MGET, MSET, APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE, LCS, INCR, DECR, INCRBY, DECRBY,
INCRBYFLOAT, SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO: replies and every
error reply (arity, syntax, option conflicts, not an integer, overflow, invalid float, NaN or
Infinity results, invalid expire times, offsets out of range, the 512 MB limit provoked with
offsets only, bitfield types and overflow modes, BITFIELD_RO with writes, LCS options), in
RESP2 and, for the reply shapes that differ, in RESP3; also key names (':' and '.', empty,
binary), other databases, pipelines and inline commands, values larger than a NATS message
(1 MiB by default, built with offsets) and a proto-max-bulk-len lowered with CONFIG SET (the
case restores the default itself).

Not compared here:
  * WRONGTYPE: the gateway keeps the type in a header and has no other types yet, so it cannot
    be provoked the same way on both servers; unit tests cover it.
  * TTL values: the two servers run the case at different moments. Expiry is checked only
    through replies that do not depend on the clock: absolute deadlines far in the future or in
    the past (PXAT 1 is already expired), and short relative TTLs (PX 500) observed after a
    sleep of 1 s: the outcome does not depend on the clock, and 500 ms leaves a slow (sanitizer)
    build time for the commands that must run before the deadline. That is
    also how "keeps the TTL" (APPEND, SETRANGE, INCR, SETBIT, KEEPTTL, ...) and "clears the TTL"
    (SET, GETSET, MSET, BITOP, GETEX PERSIST) are checked.

Each case runs on a fresh connection per server and uses keys of its own (prefix "ps:<case>:");
afterwards every key a case named is deleted on both servers (not compared).

A case marked known= is a divergence that docs/compatibility.md documents (values larger than a
NATS message): it prints KNOWN with the differences and counts neither as passed nor failed,
and it fails as soon as it matches Redis, so the mark and the documentation get removed.

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

PREFIX = "ps:"


I64_MAX = "9223372036854775807"
I64_MIN = "-9223372036854775808"
U64_OVER = "9223372036854775808"
FAR_S = "9999999999"            # 2286-11-20, in seconds
FAR_MS = "9999999999000"
TTL_SHORT = "500"               # ms; observed after SLEEP
SLEEP = 1.0
MAX_BULK = 512 * 1024 * 1024    # proto-max-bulk-len default


def cases():
    """(name, steps, mask, known) where mask(redis_reply, gateway_reply) -> both masked, and
    known is None or the reason a documented divergence is expected."""
    out = []

    def case(name, steps, mask=None, known=None):
        out.append((name, steps, mask, known))

    def keys(name, n=1):
        ks = ["%s%s:%d" % (PREFIX, name, i) for i in range(n)]
        return ks[0] if n == 1 else ks

    # ==== SET ===================================================================================
    k = keys("set_basic")
    case("set_basic", [C("SET", k, "v"), C("GET", k), C("set", k, "w"), C("GET", k),
                       C("SET", k, ""), C("GET", k), C("STRLEN", k)])
    k = keys("set_nx_xx")
    case("set_nx_xx", [C("SET", k, "a", "XX"), C("GET", k), C("SET", k, "a", "NX"),
                       C("SET", k, "b", "NX"), C("SET", k, "c", "xx"), C("GET", k)])
    k = keys("set_get")
    case("set_get", [C("SET", k, "a", "GET"), C("SET", k, "b", "GET"), C("SET", k, "c", "get"),
                     C("GET", k)])
    k = keys("set_nx_get")
    case("set_nx_get", [C("SET", k, "a", "NX", "GET"), C("SET", k, "b", "NX", "GET"),
                        C("GET", k)])
    k = keys("set_xx_get")
    case("set_xx_get", [C("SET", k, "a", "XX", "GET"), C("EXISTS", k), C("SET", k, "a"),
                        C("SET", k, "b", "XX", "GET"), C("GET", k)])
    k = keys("set_ttl_options")
    case("set_ttl_options", [C("SET", k, "a", "EX", "100"), C("SET", k, "b", "PX", "100000"),
                             C("SET", k, "c", "EXAT", FAR_S), C("SET", k, "d", "PXAT", FAR_MS),
                             C("SET", k, "e", "KEEPTTL"), C("SET", k, "f", "ex", "100", "nx"),
                             C("SET", k, "g", "px", "100000", "XX", "GET"),
                             C("SET", k, "h", "KEEPTTL", "XX", "GET"),
                             C("SET", k, "i", "GET", "EXAT", FAR_S), C("GET", k)])
    k = keys("set_past_deadline")
    case("set_past_deadline", [C("SET", k, "a", "PXAT", "1"), C("GET", k), C("EXISTS", k),
                               C("SET", k, "b", "EXAT", "1"), C("GET", k),
                               C("SET", k, "c"), C("SET", k, "d", "PXAT", "1", "GET"),
                               C("GET", k), C("SET", k, "e", "EXAT", "1", "NX"), C("GET", k)])
    k = keys("set_px_expires")
    case("set_px_expires", [C("SET", k, "a", "PX", TTL_SHORT), C("GET", k), Sleep(SLEEP),
                            C("GET", k), C("EXISTS", k), C("SET", k, "b", "NX")])
    k = keys("set_keepttl_keeps")
    case("set_keepttl_keeps", [C("SET", k, "a", "PX", TTL_SHORT), C("SET", k, "b", "KEEPTTL"),
                               C("GET", k), Sleep(SLEEP), C("GET", k)])
    k = keys("set_clears_ttl")
    case("set_clears_ttl", [C("SET", k, "a", "PX", TTL_SHORT), C("SET", k, "b"), Sleep(SLEEP),
                            C("GET", k)])
    k = keys("set_keepttl_missing")
    case("set_keepttl_missing", [C("SET", k, "a", "KEEPTTL"), C("GET", k)])
    k = keys("set_syntax")
    case("set_syntax", [
        C("SET", k, "v", "NX", "XX"), C("SET", k, "v", "XX", "NX"),
        C("SET", k, "v", "EX", "10", "PX", "100"), C("SET", k, "v", "PX", "100", "EX", "10"),
        C("SET", k, "v", "EX", "10", "EXAT", FAR_S), C("SET", k, "v", "EXAT", FAR_S, "PXAT", FAR_MS),
        C("SET", k, "v", "KEEPTTL", "EX", "10"), C("SET", k, "v", "EX", "10", "KEEPTTL"),
        C("SET", k, "v", "PXAT", FAR_MS, "KEEPTTL"), C("SET", k, "v", "KEEPTTL", "PX", "5"),
        C("SET", k, "v", "EX", "10", "EX", "20"), C("SET", k, "v", "EX"), C("SET", k, "v", "PX"),
        C("SET", k, "v", "EXAT"), C("SET", k, "v", "PXAT"), C("SET", k, "v", "BOGUS"),
        C("SET", k, "v", "PERSIST"), C("SET", k, "v", "GET", "GET"), C("SET", k, "v", "NX", "NX"),
        C("SET", k, "v", "KEEPTTL", "KEEPTTL"), C("SET", k, "v", "EX", "10", "BOGUS"),
        C("SET", k, "v", "10"), C("SET", k, "v", ""), C("EXISTS", k)])
    k = keys("set_invalid_expire")
    case("set_invalid_expire", [
        C("SET", k, "v", "EX", "0"), C("SET", k, "v", "EX", "-1"), C("SET", k, "v", "PX", "0"),
        C("SET", k, "v", "PX", "-100"), C("SET", k, "v", "EXAT", "0"),
        C("SET", k, "v", "EXAT", "-1"), C("SET", k, "v", "PXAT", "0"),
        C("SET", k, "v", "PXAT", "-5"), C("SET", k, "v", "EX", "abc"),
        C("SET", k, "v", "EX", "1.5"), C("SET", k, "v", "EX", " 10"), C("SET", k, "v", "EX", ""),
        C("SET", k, "v", "EX", "10 "), C("SET", k, "v", "EX", "+10"),
        C("SET", k, "v", "EX", "010"),
        C("SET", k, "v", "EX", U64_OVER), C("SET", k, "v", "PX", I64_MAX),
        C("SET", k, "v", "EX", I64_MAX), C("SET", k, "v", "EX", "9223372036854775"),
        C("SET", k, "v", "EX", "9223372036854776"), C("SET", k, "v", "EXAT", "9223372036854776"),
        C("SET", k, "v", "PXAT", I64_MAX), C("SET", k, "v", "EX", I64_MIN),
        C("SET", k, "v", "NX", "EX", "0"), C("EXISTS", k)])
    case("set_wrong_arity", [C("SET"), C("SET", keys("set_arity")), C("set", "x")])

    # ==== SETNX / SETEX / PSETEX ================================================================
    k = keys("setnx")
    case("setnx", [C("SETNX", k, "a"), C("SETNX", k, "b"), C("GET", k), C("setnx", k, "")])
    k = keys("setnx_expired")
    case("setnx_expired", [C("SET", k, "a", "PXAT", "1"), C("SETNX", k, "b"), C("GET", k)])
    case("setnx_wrong_arity", [C("SETNX"), C("SETNX", "a"), C("SETNX", "a", "b", "c")])
    k = keys("setex")
    case("setex", [C("SETEX", k, "100", "a"), C("GET", k), C("SETEX", k, "100", "b"),
                   C("GET", k), C("setex", k, "1", "")])
    k = keys("setex_expires")
    case("setex_expires", [C("PSETEX", k, TTL_SHORT, "a"), C("GET", k), Sleep(SLEEP),
                           C("GET", k)])
    k = keys("setex_invalid")
    case("setex_invalid", [
        C("SETEX", k, "0", "v"), C("SETEX", k, "-1", "v"), C("SETEX", k, "abc", "v"),
        C("SETEX", k, "1.5", "v"), C("SETEX", k, "", "v"), C("SETEX", k, U64_OVER, "v"),
        C("SETEX", k, I64_MAX, "v"), C("SETEX", k, "9223372036854775", "v"),
        C("SETEX", k, "9223372036854776", "v"), C("SETEX", k, I64_MIN, "v"), C("EXISTS", k)])
    k = keys("psetex")
    case("psetex", [C("PSETEX", k, "100000", "a"), C("GET", k), C("psetex", k, "1000000", "b"),
                    C("GET", k)])
    k = keys("psetex_invalid")
    case("psetex_invalid", [
        C("PSETEX", k, "0", "v"), C("PSETEX", k, "-1", "v"), C("PSETEX", k, "abc", "v"),
        C("PSETEX", k, U64_OVER, "v"), C("PSETEX", k, I64_MAX, "v"),
        C("PSETEX", k, "9223372036854775000", "v"), C("PSETEX", k, I64_MIN, "v"),
        C("EXISTS", k)])
    case("setex_psetex_wrong_arity", [C("SETEX"), C("SETEX", "a", "10"),
                                      C("SETEX", "a", "10", "v", "x"), C("PSETEX", "a", "10"),
                                      C("PSETEX", "a", "10", "v", "EX")])

    # ==== GETSET / GETDEL / GETEX ===============================================================
    k = keys("getset")
    case("getset", [C("GETSET", k, "a"), C("GETSET", k, "b"), C("GET", k), C("getset", k, ""),
                    C("GET", k)])
    k = keys("getset_clears_ttl")
    case("getset_clears_ttl", [C("SET", k, "a", "PX", TTL_SHORT), C("GETSET", k, "b"),
                               Sleep(SLEEP), C("GET", k)])
    case("getset_wrong_arity", [C("GETSET"), C("GETSET", "a"), C("GETSET", "a", "b", "c")])
    k = keys("getdel")
    case("getdel", [C("GETDEL", k), C("SET", k, "a"), C("GETDEL", k), C("EXISTS", k),
                    C("GETDEL", k), C("SET", k, "b", "PXAT", "1"), C("GETDEL", k)])
    case("getdel_wrong_arity", [C("GETDEL"), C("GETDEL", "a", "b")])
    k = keys("getex")
    case("getex", [C("GETEX", k), C("GETEX", k, "EX", "100"), C("SET", k, "a"), C("GETEX", k),
                   C("GETEX", k, "EX", "100"), C("GETEX", k, "px", "100000"),
                   C("GETEX", k, "EXAT", FAR_S), C("GETEX", k, "PXAT", FAR_MS),
                   C("GETEX", k, "PERSIST"), C("getex", k, "persist"), C("GET", k)])
    k = keys("getex_past")
    case("getex_past", [C("SET", k, "a"), C("GETEX", k, "PXAT", "1"), C("EXISTS", k),
                        C("GET", k), C("SET", k, "b"), C("GETEX", k, "EXAT", "1"),
                        C("EXISTS", k)])
    k = keys("getex_px_expires")
    case("getex_px_expires", [C("SET", k, "a"), C("GETEX", k, "PX", TTL_SHORT), Sleep(SLEEP),
                              C("GET", k)])
    k = keys("getex_persist")
    case("getex_persist", [C("SET", k, "a", "PX", TTL_SHORT), C("GETEX", k, "PERSIST"),
                           Sleep(SLEEP), C("GET", k)])
    k = keys("getex_no_option_keeps_ttl")
    case("getex_no_option_keeps_ttl", [C("SET", k, "a", "PX", TTL_SHORT), C("GETEX", k),
                                       Sleep(SLEEP), C("GET", k)])
    k = keys("getex_syntax")
    case("getex_syntax", [
        C("SET", k, "a"), C("GETEX", k, "EX"), C("GETEX", k, "PX"), C("GETEX", k, "EXAT"),
        C("GETEX", k, "PXAT"), C("GETEX", k, "EX", "10", "PX", "100"),
        C("GETEX", k, "EX", "10", "PERSIST"), C("GETEX", k, "PERSIST", "EX", "10"),
        C("GETEX", k, "PERSIST", "PERSIST"), C("GETEX", k, "EX", "10", "EX", "10"),
        C("GETEX", k, "KEEPTTL"), C("GETEX", k, "NX"), C("GETEX", k, "XX"), C("GETEX", k, "GET"),
        C("GETEX", k, "BOGUS"), C("GETEX", k, "EX", "10", "BOGUS"), C("GETEX", k, "10"),
        C("GETEX", k, "PXAT", FAR_MS, "EXAT", FAR_S), C("GET", k)])
    k = keys("getex_invalid_expire")
    m = keys("getex_invalid_expire_missing")
    case("getex_invalid_expire", [
        C("SET", k, "a"), C("GETEX", k, "EX", "0"), C("GETEX", k, "EX", "-1"),
        C("GETEX", k, "PX", "0"), C("GETEX", k, "EXAT", "0"), C("GETEX", k, "PXAT", "-1"),
        C("GETEX", k, "EX", "abc"), C("GETEX", k, "EX", "1.5"), C("GETEX", k, "EX", U64_OVER),
        C("GETEX", k, "EX", I64_MAX), C("GETEX", k, "PX", I64_MAX),
        C("GETEX", k, "EX", "9223372036854776"), C("GETEX", k, "PXAT", I64_MAX),
        C("GETEX", m, "EX", "0"), C("GETEX", m, "EX", "abc"), C("GETEX", m, "BOGUS"),
        C("GET", k)])
    case("getex_wrong_arity", [C("GETEX")])

    # ==== MGET / MSET ===========================================================================
    a, b, c = keys("mget", 3)
    case("mget", [C("MGET", a), C("SET", a, "1"), C("SET", c, "3"), C("MGET", a, b, c, a),
                  C("SET", b, "x", "PXAT", "1"), C("mget", b, c)])
    case("mget_wrong_arity", [C("MGET")])
    a, b, c = keys("mset", 3)
    case("mset", [C("MSET", a, "1", b, "2"), C("MGET", a, b, c), C("MSET", a, "x", a, "y"),
                  C("GET", a), C("mset", c, "")])
    a, b = keys("mset_clears_ttl", 2)
    case("mset_clears_ttl", [C("SET", a, "1", "PX", TTL_SHORT), C("MSET", a, "2", b, "3"),
                             Sleep(SLEEP), C("MGET", a, b)])
    a, b = keys("mset_arity", 2)
    case("mset_wrong_arity", [C("MSET"), C("MSET", a), C("MSET", a, "1", b), C("EXISTS", a, b)])

    # ==== APPEND / STRLEN =======================================================================
    k = keys("append")
    case("append", [C("APPEND", k, "ab"), C("APPEND", k, "cd"), C("APPEND", k, ""),
                    C("GET", k), C("STRLEN", k), C("APPEND", k, bytes(range(256))), C("GET", k)])
    k = keys("append_empty_creates")
    case("append_empty_creates", [C("APPEND", k, ""), C("EXISTS", k), C("GET", k)])
    k = keys("append_integer")
    case("append_integer", [C("SET", k, "12"), C("APPEND", k, "34"), C("INCR", k), C("GET", k)])
    k = keys("append_keeps_ttl")
    case("append_keeps_ttl", [C("SET", k, "a", "PX", TTL_SHORT), C("APPEND", k, "b"),
                              Sleep(SLEEP), C("GET", k), C("APPEND", k, "c"), C("GET", k)])
    k = keys("append_expired")
    case("append_expired", [C("SET", k, "old", "PXAT", "1"), C("APPEND", k, "new"), C("GET", k)])
    case("append_wrong_arity", [C("APPEND"), C("APPEND", "a"), C("APPEND", "a", "b", "c")])
    k = keys("strlen")
    case("strlen", [C("STRLEN", k), C("SET", k, "hello"), C("STRLEN", k), C("SET", k, "-12345"),
                    C("STRLEN", k), C("SET", k, ""), C("STRLEN", k)])
    case("strlen_wrong_arity", [C("STRLEN"), C("STRLEN", "a", "b")])

    # ==== GETRANGE / SUBSTR =====================================================================
    k = keys("getrange")
    ranges = [("0", "3"), ("0", "-1"), ("-3", "-1"), ("5", "3"), ("-1", "-5"), ("3", "3"),
              ("0", "100"), ("100", "200"), ("-100", "-50"), ("-100", "2"), ("0", "-100"),
              ("-1", "-1"), ("9", "9"), ("10", "10"), ("0", I64_MAX), (I64_MIN, "-1"),
              (I64_MIN, I64_MAX), (I64_MAX, I64_MAX), ("-5", "-3"), ("1", "-2")]
    case("getrange", [C("SET", k, "Hello Worl")] + [C("GETRANGE", k, s, e) for s, e in ranges])
    k = keys("getrange_integer")
    case("getrange_integer", [C("SET", k, "1234567"), C("GETRANGE", k, "1", "3"),
                              C("GETRANGE", k, "-2", "-1"), C("SUBSTR", k, "0", "-1")])
    k = keys("getrange_empty_missing")
    case("getrange_empty_missing", [C("GETRANGE", k, "0", "-1"), C("GETRANGE", k, "0", "0"),
                                    C("SET", k, ""), C("GETRANGE", k, "0", "-1"),
                                    C("GETRANGE", k, "-1", "0"), C("SUBSTR", k, "0", "0")])
    k = keys("substr")
    case("substr", [C("SET", k, "abcdef")] + [C("SUBSTR", k, s, e) for s, e in ranges[:10]])
    k = keys("getrange_errors")
    case("getrange_errors", [C("SET", k, "abc"), C("GETRANGE", k, "a", "1"),
                             C("GETRANGE", k, "0", "1.5"), C("GETRANGE", k, U64_OVER, "1"),
                             C("GETRANGE", k, "", "1"), C("SUBSTR", k, "x", "y"),
                             C("GETRANGE", keys("getrange_errors_missing"), "a", "1")])
    case("getrange_wrong_arity", [C("GETRANGE"), C("GETRANGE", "a", "0"),
                                  C("GETRANGE", "a", "0", "1", "2"), C("SUBSTR", "a"),
                                  C("SUBSTR", "a", "0", "1", "2")])

    # ==== SETRANGE ==============================================================================
    k = keys("setrange")
    case("setrange", [C("SETRANGE", k, "0", "abc"), C("SETRANGE", k, "1", "XY"), C("GET", k),
                      C("SETRANGE", k, "6", "end"), C("GET", k), C("STRLEN", k),
                      C("SETRANGE", k, "0", ""), C("SETRANGE", k, "100", ""), C("GET", k),
                      C("setrange", k, "2", b"\x00\xff")])
    k = keys("setrange_missing_offset")
    case("setrange_missing_offset", [C("SETRANGE", k, "3", "x"), C("GET", k)])
    k = keys("setrange_missing_empty")
    case("setrange_missing_empty", [C("SETRANGE", k, "0", ""), C("EXISTS", k),
                                    C("SETRANGE", k, str(MAX_BULK), ""), C("EXISTS", k)])
    k = keys("setrange_integer")
    case("setrange_integer", [C("SET", k, "1234"), C("SETRANGE", k, "1", "9"), C("GET", k),
                              C("INCR", k)])
    k = keys("setrange_keeps_ttl")
    case("setrange_keeps_ttl", [C("SET", k, "abc", "PX", TTL_SHORT), C("SETRANGE", k, "1", "Z"),
                                Sleep(SLEEP), C("GET", k)])
    k = keys("setrange_errors")
    m = keys("setrange_errors_missing")
    case("setrange_errors", [
        C("SET", k, "abc"), C("SETRANGE", k, "-1", "x"), C("SETRANGE", k, "abc", "x"),
        C("SETRANGE", k, "1.5", "x"), C("SETRANGE", k, U64_OVER, "x"),
        C("SETRANGE", k, I64_MIN, "x"), C("SETRANGE", k, "-1", ""),
        C("SETRANGE", k, str(MAX_BULK), "x"), C("SETRANGE", k, str(MAX_BULK - 1), "xy"),
        C("SETRANGE", k, I64_MAX, "x"), C("SETRANGE", k, str(MAX_BULK), ""),
        C("SETRANGE", k, I64_MAX, ""),
        C("SETRANGE", m, "-1", "x"), C("SETRANGE", m, "abc", ""),
        C("SETRANGE", m, str(MAX_BULK), "x"), C("SETRANGE", m, I64_MAX, "x"),
        C("SETRANGE", m, "-1", ""), C("EXISTS", m), C("GET", k)])
    case("setrange_wrong_arity", [C("SETRANGE"), C("SETRANGE", "a", "0"),
                                  C("SETRANGE", "a", "0", "x", "y")])

    # ==== LCS ===================================================================================
    a, b = keys("lcs", 2)
    case("lcs", [C("MSET", a, "ohmytext", b, "mynewtext"), C("LCS", a, b), C("LCS", a, b, "LEN"),
                 C("LCS", a, b, "IDX"), C("LCS", a, b, "IDX", "MINMATCHLEN", "4"),
                 C("LCS", a, b, "IDX", "WITHMATCHLEN"),
                 C("LCS", a, b, "idx", "minmatchlen", "4", "withmatchlen"),
                 C("LCS", a, b, "IDX", "MINMATCHLEN", "-5"),
                 C("LCS", a, b, "IDX", "MINMATCHLEN", "100"), C("LCS", b, a),
                 C("LCS", a, a), C("LCS", a, b, "WITHMATCHLEN"), C("LCS", a, b, "MINMATCHLEN", "2"),
                 C("LCS", a, b, "LEN", "MINMATCHLEN", "2"),
                 C("LCS", a, b, "IDX", "MINMATCHLEN", "2", "MINMATCHLEN", "3")])
    a, b = keys("lcs_missing", 2)
    case("lcs_missing", [C("LCS", a, b), C("LCS", a, b, "LEN"), C("LCS", a, b, "IDX"),
                         C("SET", a, "abc"), C("LCS", a, b), C("LCS", b, a, "IDX", "WITHMATCHLEN"),
                         C("SET", b, "xyz"), C("LCS", a, b, "IDX"), C("LCS", a, b, "LEN")])
    a, b = keys("lcs_long", 2)
    case("lcs_long", [C("SET", a, "GATTACA" * 30 + "ACGT" * 20),
                      C("SET", b, "TTACG" * 30 + "GATTA" * 20),
                      C("LCS", a, b, "LEN"), C("LCS", a, b),
                      C("LCS", a, b, "IDX", "MINMATCHLEN", "3", "WITHMATCHLEN")])
    a, b = keys("lcs_errors", 2)
    case("lcs_errors", [
        C("SET", a, "abc"), C("SET", b, "abd"), C("LCS", a, b, "LEN", "IDX"),
        C("LCS", a, b, "IDX", "LEN"), C("LCS", a, b, "BOGUS"), C("LCS", a, b, "MINMATCHLEN"),
        C("LCS", a, b, "MINMATCHLEN", "abc"), C("LCS", a, b, "MINMATCHLEN", U64_OVER),
        C("LCS", a, b, "IDX", "MINMATCHLEN", "1.5"), C("LCS", a, b, "LEN", "BOGUS"),
        C("LCS", a, b, "IDX", "WITHMATCHLEN", "BOGUS")])
    case("lcs_wrong_arity", [C("LCS"), C("LCS", "a")])

    # ==== INCR / DECR / INCRBY / DECRBY =========================================================
    k = keys("incr")
    case("incr", [C("INCR", k), C("INCR", k), C("DECR", k), C("INCRBY", k, "10"),
                  C("DECRBY", k, "3"), C("INCRBY", k, "-100"), C("DECRBY", k, "-5"),
                  C("incr", k), C("GET", k), C("DECR", keys("decr_missing"))])
    k = keys("incr_values")
    steps = []
    for v in ["0", "-0", "01", "+1", " 1", "1 ", "1.0", "1e3", "", "abc", "0x10", I64_MAX,
              I64_MIN, U64_OVER, "-9223372036854775809", "1" * 30, "-1", "\x001"]:
        steps += [C("SET", k, v), C("INCR", k), C("GET", k)]
    case("incr_values", steps)
    k = keys("incrby_args")
    steps = [C("SET", k, "5")]
    for v in ["0", "-0", "01", "+1", " 1", "1.5", "", "abc", U64_OVER, "-9223372036854775809",
              I64_MAX, I64_MIN, "1" * 30]:
        steps += [C("INCRBY", k, v), C("SET", k, "5"), C("DECRBY", k, v), C("SET", k, "5")]
    case("incrby_args", steps)
    k = keys("incr_overflow")
    case("incr_overflow", [
        C("SET", k, "1"), C("INCRBY", k, I64_MAX), C("GET", k), C("SET", k, I64_MAX),
        C("INCR", k), C("INCRBY", k, "1"), C("DECRBY", k, "-1"), C("INCRBY", k, "-1"),
        C("SET", k, I64_MIN), C("DECR", k), C("DECRBY", k, "1"), C("INCRBY", k, "-1"),
        C("INCR", k), C("SET", k, "0"), C("DECRBY", k, I64_MIN), C("SET", k, "-1"),
        C("DECRBY", k, I64_MIN), C("SET", k, "1"), C("DECRBY", k, I64_MIN),
        C("SET", k, "-2"), C("INCRBY", k, I64_MIN), C("GET", k)])
    k = keys("incr_keeps_ttl")
    case("incr_keeps_ttl", [C("SET", k, "1", "PX", TTL_SHORT), C("INCR", k),
                            C("INCRBY", k, "5"), Sleep(SLEEP), C("GET", k), C("INCR", k)])
    k = keys("incr_expired")
    case("incr_expired", [C("SET", k, "41", "PXAT", "1"), C("INCR", k), C("GET", k)])
    case("incr_wrong_arity", [C("INCR"), C("INCR", "a", "b"), C("DECR"), C("DECR", "a", "1"),
                              C("INCRBY", "a"), C("INCRBY", "a", "1", "2"), C("DECRBY", "a"),
                              C("DECRBY", "a", "1", "2")])

    # ==== INCRBYFLOAT ===========================================================================
    k = keys("incrbyfloat")
    case("incrbyfloat", [C("INCRBYFLOAT", k, "1"), C("INCRBYFLOAT", k, "0.1"),
                         C("INCRBYFLOAT", k, "-1.1"), C("INCRBYFLOAT", k, "10.5"),
                         C("INCRBYFLOAT", k, "1.5e3"), C("INCRBYFLOAT", k, "-5000"),
                         C("incrbyfloat", k, "0"), C("GET", k)])
    k = keys("incrbyfloat_format")
    steps = []
    for start, incr in [("0", "0.1"), ("10.50", "0.1"), ("3.0e3", "200"), ("0", "1e17"),
                        ("0", "1.23e-5"), ("1.1", "2.2"), ("0", "5.0e3"), ("0", "0x10"),
                        ("0", "+5"), ("0", ".5"), ("0", "5."), ("0", "-0"), ("-0", "0"),
                        ("0", "1e-320"), ("1e308", "1e308"), ("0", "3.14159265358979323846"),
                        ("0", "123456789012345678901234567890"), ("1", "-1"), ("7", "0.0"),
                        ("12", "1"), ("0", "0.3333333333333333333333"), ("5", "-5.5"),
                        ("0", "1E2"), ("0", "   1"), ("0", "1e400"), ("0", "-1e400"),
                        ("0", "1e-400")]:
        steps += [C("SET", k, start), C("INCRBYFLOAT", k, incr), C("GET", k)]
    case("incrbyfloat_format", steps)
    k = keys("incrbyfloat_errors")
    steps = [C("SET", k, "1")]
    for incr in ["abc", "", " 1", "1 ", "1.5.5", "nan", "NaN", "-nan", "inf", "-inf", "Infinity",
                 "1e", "--1", "1x", "\x001"]:
        steps += [C("INCRBYFLOAT", k, incr), C("GET", k)]
    for start in ["abc", " 1", "1 ", "nan", "inf", "-inf", "", "1e400"]:
        steps += [C("SET", k, start), C("INCRBYFLOAT", k, "1"), C("GET", k)]
    steps += [C("SET", k, "1.7976931348623157e308"), C("INCRBYFLOAT", k, "1.7976931348623157e308"),
              C("GET", k)]
    case("incrbyfloat_errors", steps)
    k = keys("incrbyfloat_keeps_ttl")
    case("incrbyfloat_keeps_ttl", [C("SET", k, "1", "PX", TTL_SHORT),
                                   C("INCRBYFLOAT", k, "0.5"), Sleep(SLEEP), C("GET", k)])
    case("incrbyfloat_wrong_arity", [C("INCRBYFLOAT"), C("INCRBYFLOAT", "a"),
                                     C("INCRBYFLOAT", "a", "1", "2")])

    # ==== SETBIT / GETBIT =======================================================================
    k = keys("setbit")
    case("setbit", [C("SETBIT", k, "7", "1"), C("GET", k), C("SETBIT", k, "7", "1"),
                    C("SETBIT", k, "7", "0"), C("SETBIT", k, "100", "1"), C("GET", k),
                    C("STRLEN", k), C("GETBIT", k, "100"), C("GETBIT", k, "99"),
                    C("GETBIT", k, "1000"), C("GETBIT", k, "4294967295"),
                    C("setbit", k, "0", "1"), C("getbit", k, "0"), C("GET", k)])
    k = keys("setbit_integer")
    case("setbit_integer", [C("SET", k, "1"), C("SETBIT", k, "6", "1"), C("GET", k),
                            C("GETBIT", k, "2"), C("GETBIT", keys("getbit_missing"), "5")])
    k = keys("setbit_keeps_ttl")
    case("setbit_keeps_ttl", [C("SET", k, "a", "PX", TTL_SHORT), C("SETBIT", k, "0", "1"),
                              Sleep(SLEEP), C("GET", k)])
    k = keys("setbit_errors")
    m = keys("setbit_errors_missing")
    case("setbit_errors", [
        C("SET", k, "a"), C("SETBIT", k, "-1", "1"), C("SETBIT", k, "abc", "1"),
        C("SETBIT", k, "1.5", "1"), C("SETBIT", k, "4294967296", "1"),
        C("SETBIT", k, U64_OVER, "1"), C("SETBIT", k, I64_MAX, "1"), C("SETBIT", k, "", "1"),
        C("SETBIT", k, "0", "2"), C("SETBIT", k, "0", "-1"), C("SETBIT", k, "0", "abc"),
        C("SETBIT", k, "0", ""), C("SETBIT", k, "0", "01"), C("SETBIT", k, "0", " 1"),
        C("SETBIT", k, "-1", "2"), C("SETBIT", k, "4294967296", "x"),
        C("GETBIT", k, "-1"), C("GETBIT", k, "abc"), C("GETBIT", k, "4294967296"),
        C("GETBIT", k, U64_OVER), C("GETBIT", m, "-1"), C("SETBIT", m, "-1", "1"),
        C("SETBIT", m, "0", "5"), C("EXISTS", m), C("GET", k)])
    case("setbit_getbit_wrong_arity", [C("SETBIT"), C("SETBIT", "a", "0"),
                                       C("SETBIT", "a", "0", "1", "2"), C("GETBIT", "a"),
                                       C("GETBIT", "a", "0", "1")])

    # ==== BITCOUNT ==============================================================================
    k = keys("bitcount")
    m = keys("bitcount_missing")
    rng = [("0", "-1"), ("1", "1"), ("1", "-2"), ("-2", "-1"), ("5", "2"), ("-100", "100"),
           ("100", "200"), ("0", "0"), (I64_MIN, I64_MAX), ("-1", "-3"), (I64_MAX, I64_MAX)]
    steps = [C("SET", k, "foobar"), C("BITCOUNT", k), C("BITCOUNT", m)]
    for s, e in rng:
        steps += [C("BITCOUNT", k, s, e), C("BITCOUNT", k, s, e, "BIT"),
                  C("BITCOUNT", k, s, e, "byte")]
    steps += [C("BITCOUNT", k, "5", "30", "BIT"), C("BITCOUNT", k, "-5", "-1", "bit"),
              C("BITCOUNT", m, "0", "-1"), C("BITCOUNT", m, "0", "-1", "BIT")]
    case("bitcount", steps)
    k = keys("bitcount_errors")
    m = keys("bitcount_errors_missing")
    case("bitcount_errors", [
        C("SET", k, "foobar"), C("BITCOUNT", k, "0"), C("BITCOUNT", k, "0", "-1", "BOGUS"),
        C("BITCOUNT", k, "0", "-1", "BIT", "x"), C("BITCOUNT", k, "a", "1"),
        C("BITCOUNT", k, "0", "b"), C("BITCOUNT", k, U64_OVER, "1"),
        C("BITCOUNT", k, "a", "1", "BOGUS"), C("BITCOUNT", m, "0"),
        C("BITCOUNT", m, "a", "1"), C("BITCOUNT", m, "0", "1", "BOGUS"),
        C("BITCOUNT", m, "0", "1", "BIT", "x")])
    case("bitcount_wrong_arity", [C("BITCOUNT")])

    # ==== BITPOS ================================================================================
    k = keys("bitpos")
    f = keys("bitpos_ff")
    z = keys("bitpos_zero")
    m = keys("bitpos_missing")
    steps = [C("SET", k, b"\x00\x0f\xf0\x00"), C("SET", f, b"\xff\xff\xff"),
             C("SET", z, b"\x00\x00\x00")]
    for key in (k, f, z, m):
        for bit in ("0", "1"):
            steps += [C("BITPOS", key, bit), C("BITPOS", key, bit, "1"),
                      C("BITPOS", key, bit, "-1"), C("BITPOS", key, bit, "0", "-1"),
                      C("BITPOS", key, bit, "1", "2"), C("BITPOS", key, bit, "2", "1"),
                      C("BITPOS", key, bit, "0", "-1", "BIT"),
                      C("BITPOS", key, bit, "7", "15", "BIT"),
                      C("BITPOS", key, bit, "12", "-1", "bit"),
                      C("BITPOS", key, bit, "0", "-1", "BYTE"),
                      C("BITPOS", key, bit, "100"), C("BITPOS", key, bit, "-100", "100"),
                      C("BITPOS", key, bit, I64_MIN, I64_MAX),
                      C("BITPOS", key, bit, "-1", "-3")]
    case("bitpos", steps)
    k = keys("bitpos_errors")
    m = keys("bitpos_errors_missing")
    case("bitpos_errors", [
        C("SET", k, "abc"), C("BITPOS", k, "2"), C("BITPOS", k, "-1"), C("BITPOS", k, "abc"),
        C("BITPOS", k, ""), C("BITPOS", k, "1", "a"), C("BITPOS", k, "1", "0", "b"),
        C("BITPOS", k, "1", "0", "1", "BOGUS"), C("BITPOS", k, "1", "0", "1", "BIT", "x"),
        C("BITPOS", k, "1", U64_OVER), C("BITPOS", m, "2"), C("BITPOS", m, "1", "a"),
        C("BITPOS", m, "1", "0", "1", "BOGUS"), C("BITPOS", k, "2", "a")])
    case("bitpos_wrong_arity", [C("BITPOS"), C("BITPOS", "a")])

    # ==== BITOP =================================================================================
    a, b, c, d = keys("bitop", 4)
    m = keys("bitop_missing")
    steps = [C("SET", a, b"\xff\x0f\x55"), C("SET", b, b"\xf0\xf0"), C("SET", c, b"\x01")]
    for op in ("AND", "OR", "XOR"):
        steps += [C("BITOP", op, d, a, b), C("GET", d), C("BITOP", op, d, a, b, c), C("GET", d),
                  C("BITOP", op, d, a, m), C("GET", d), C("BITOP", op, d, a), C("GET", d)]
    steps += [C("BITOP", "NOT", d, a), C("GET", d), C("BITOP", "not", d, c), C("GET", d),
              C("bitop", "and", d, a, a), C("GET", d), C("BITOP", "Or", d, b, a), C("GET", d),
              C("BITOP", "AND", d, m), C("EXISTS", d), C("SET", d, "x"),
              C("BITOP", "OR", d, m, keys("bitop_missing2")), C("EXISTS", d),
              C("BITOP", "NOT", d, m), C("EXISTS", d), C("BITOP", "XOR", a, a, b), C("GET", a)]
    case("bitop", steps)
    a, d = keys("bitop_clears_ttl", 2)
    case("bitop_clears_ttl", [C("SET", a, "x"), C("SET", d, "y", "PX", TTL_SHORT),
                              C("BITOP", "OR", d, a), Sleep(SLEEP), C("GET", d)])
    a, b, d = keys("bitop_errors", 3)
    case("bitop_errors", [
        C("SET", a, "x"), C("SET", b, "y"), C("BITOP", "NOT", d, a, b),
        C("BITOP", "not", d, a, keys("bitop_errors_missing")), C("BITOP", "NAND", d, a, b),
        C("BITOP", "BOGUS", d, a), C("BITOP", "", d, a), C("EXISTS", d)])
    case("bitop_wrong_arity", [C("BITOP"), C("BITOP", "AND"), C("BITOP", "AND", "d"),
                               C("BITOP", "NOT", "d")])

    # ==== BITFIELD / BITFIELD_RO ================================================================
    k = keys("bitfield")
    m = keys("bitfield_missing")
    case("bitfield", [
        C("BITFIELD", m), C("EXISTS", m), C("BITFIELD", m, "GET", "u8", "0", "GET", "i5", "100"),
        C("BITFIELD", k, "SET", "u8", "0", "255", "GET", "u8", "0", "GET", "i8", "0",
          "GET", "u4", "4"),
        C("BITFIELD", k, "SET", "i8", "#1", "-2", "GET", "u8", "#1", "GET", "i16", "0"),
        C("BITFIELD", k, "INCRBY", "u2", "100", "1", "INCRBY", "i5", "#3", "-7"), C("GET", k),
        C("BITFIELD", k, "GET", "i64", "0", "GET", "u63", "0", "GET", "u1", "4294967295",
          "GET", "i1", "7"),
        C("BITFIELD", k, "set", "u16", "0", "65535", "get", "u16", "0", "incrby", "u16", "0", "1"),
        C("BITFIELD", k), C("GET", k)])
    k = keys("bitfield_overflow")
    case("bitfield_overflow", [
        C("BITFIELD", k, "SET", "u8", "0", "250"),
        C("BITFIELD", k, "INCRBY", "u8", "0", "10"),
        C("BITFIELD", k, "OVERFLOW", "WRAP", "INCRBY", "u8", "0", "10"),
        C("BITFIELD", k, "OVERFLOW", "SAT", "INCRBY", "u8", "0", "1000"),
        C("BITFIELD", k, "OVERFLOW", "SAT", "INCRBY", "u8", "0", "-1000"),
        C("BITFIELD", k, "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "300", "GET", "u8", "0"),
        C("BITFIELD", k, "OVERFLOW", "fail", "SET", "i8", "8", "200", "GET", "i8", "8"),
        C("BITFIELD", k, "OVERFLOW", "SAT", "SET", "i8", "8", "200", "GET", "i8", "8"),
        C("BITFIELD", k, "OVERFLOW", "SAT", "SET", "i8", "8", "-200", "GET", "i8", "8"),
        C("BITFIELD", k, "OVERFLOW", "WRAP", "SET", "i8", "8", "200", "GET", "i8", "8"),
        C("BITFIELD", k, "OVERFLOW", "FAIL", "INCRBY", "i8", "8", "-100",
          "OVERFLOW", "WRAP", "INCRBY", "i8", "8", "-100", "OVERFLOW", "SAT",
          "INCRBY", "i8", "8", "-100"),
        C("BITFIELD", k, "SET", "i64", "0", I64_MAX, "INCRBY", "i64", "0", "1",
          "OVERFLOW", "SAT", "INCRBY", "i64", "0", "1", "OVERFLOW", "FAIL", "INCRBY", "i64",
          "0", "1", "GET", "i64", "0"),
        C("BITFIELD", k, "SET", "u63", "0", I64_MAX, "INCRBY", "u63", "0", "1",
          "OVERFLOW", "SAT", "INCRBY", "u63", "0", "-5", "INCRBY", "u63", "0", I64_MAX),
        C("BITFIELD", k, "SET", "u8", "0", "-1", "SET", "u8", "0", "256", "GET", "u8", "0"),
        C("GET", k)])
    k = keys("bitfield_keeps_ttl")
    case("bitfield_keeps_ttl", [C("SET", k, "a", "PX", TTL_SHORT),
                                C("BITFIELD", k, "SET", "u8", "8", "66"), Sleep(SLEEP),
                                C("GET", k)])
    k = keys("bitfield_errors")
    m = keys("bitfield_errors_missing")
    steps = [C("SET", k, "abc")]
    for t in ["u64", "i65", "u0", "i0", "x8", "u", "i", "8", "U8", "u-1", "u8x", "", "i 8",
              "u99999999999999999999"]:
        steps += [C("BITFIELD", k, "GET", t, "0"), C("BITFIELD", k, "SET", t, "0", "1")]
    steps += [C("BITFIELD", k, "GET", "I8", "0"), C("BITFIELD", k, "GET", "u63", "0")]
    for off in ["-1", "abc", "4294967296", "#-1", "#abc", "#536870912", "#", "1.5", U64_OVER,
                "#" + U64_OVER, "#1152921504606846976"]:
        steps += [C("BITFIELD", k, "GET", "u8", off), C("BITFIELD", k, "SET", "u8", off, "1")]
    steps += [
        C("BITFIELD", k, "GET", "u1", "4294967295"), C("BITFIELD", k, "GET", "u2", "4294967295"),
        C("BITFIELD", k, "GET", "u8", "4294967288"), C("BITFIELD", k, "GET", "u8", "#536870911"),
        C("BITFIELD", k, "GET", "u8", "4294967289"),
        C("BITFIELD", k, "OVERFLOW", "BOGUS"), C("BITFIELD", k, "OVERFLOW"),
        C("BITFIELD", k, "OVERFLOW", "BOGUS", "GET", "u8", "0"),
        C("BITFIELD", k, "BOGUS"), C("BITFIELD", k, "GET"), C("BITFIELD", k, "GET", "u8"),
        C("BITFIELD", k, "SET", "u8", "0"), C("BITFIELD", k, "INCRBY", "u8", "0"),
        C("BITFIELD", k, "SET", "u8", "0", "abc"), C("BITFIELD", k, "SET", "u8", "0", "1.5"),
        C("BITFIELD", k, "SET", "u8", "0", U64_OVER),
        C("BITFIELD", k, "INCRBY", "u8", "0", "abc"),
        C("BITFIELD", k, "INCRBY", "u8", "0", ""),
        C("BITFIELD", k, "GET", "u8", "0", "BOGUS"), C("BITFIELD", k, "GET", "u8", "0", "GET"),
        C("BITFIELD", k, "GET", "u64", "0", "GET", "u8", "abc"),
        C("BITFIELD", k, "SET", "u8", "0", "120", "GET", "u99", "0"),
        C("BITFIELD", m, "GET", "u64", "0"), C("BITFIELD", m, "SET", "u8", "-1", "1"),
        C("BITFIELD", m, "BOGUS"), C("BITFIELD", m, "OVERFLOW", "BOGUS"), C("EXISTS", m),
        C("GET", k)]
    case("bitfield_errors", steps)
    k = keys("bitfield_ro")
    m = keys("bitfield_ro_missing")
    case("bitfield_ro", [
        C("SET", k, b"\xff\x00\x80"), C("BITFIELD_RO", k), C("BITFIELD_RO", m),
        C("BITFIELD_RO", k, "GET", "u8", "0", "GET", "i8", "#2", "GET", "u4", "20"),
        C("bitfield_ro", m, "get", "u8", "0"),
        C("BITFIELD_RO", k, "SET", "u8", "0", "1"), C("BITFIELD_RO", k, "INCRBY", "u8", "0", "1"),
        C("BITFIELD_RO", k, "GET", "u8", "0", "SET", "u8", "0", "1"),
        C("BITFIELD_RO", k, "OVERFLOW", "WRAP"),
        C("BITFIELD_RO", k, "OVERFLOW", "SAT", "GET", "u8", "0"),
        C("BITFIELD_RO", k, "OVERFLOW", "BOGUS", "GET", "u8", "0"),
        C("BITFIELD_RO", k, "GET", "u64", "0"), C("BITFIELD_RO", k, "GET", "u8", "-1"),
        C("BITFIELD_RO", k, "BOGUS"), C("BITFIELD_RO", k, "GET", "u8"),
        C("BITFIELD_RO", m, "SET", "u8", "0", "1"), C("EXISTS", m),
        C("BITFIELD_RO", k, "SET", "u64", "0", "1"), C("BITFIELD_RO", k, "SET", "u8", "0"),
        C("BITFIELD_RO", k, "SET", "u8", "-1", "1"), C("GET", k)])
    case("bitfield_wrong_arity", [C("BITFIELD"), C("BITFIELD_RO")])

    # ==== pipelines, inline commands, case ======================================================
    k, a = keys("pipeline", 2)
    case("pipeline_rmw_order", [Pipe(["SET", k, "1"], ["INCR", k], ["APPEND", k, "0"],
                                     ["INCRBY", k, "5"], ["GETSET", k, "x"], ["APPEND", k, "y"],
                                     ["SETRANGE", k, "0", "ab"], ["GETDEL", k], ["INCR", k],
                                     ["SETBIT", k, "0", "1"], ["GET", k],
                                     ["MSET", k, "7", a, "8"], ["INCRBYFLOAT", k, "0.5"],
                                     ["MGET", k, a], ["BITOP", "OR", a, a, k], ["GET", a])])
    k = keys("pipeline_incr")
    case("pipeline_incr_many", [Pipe(*[["INCR", k] for _ in range(100)]), C("GET", k)])
    k = keys("inline")
    case("inline_string_commands", [
        Raw(("INCR %s\r\nINCRBY %s 10\r\nAPPEND %s x\r\nGET %s\r\n" % (k, k, k, k)).encode(), 4,
            keys=[k]),
        Raw(("SETRANGE %s 0 \"a b\"\r\nGET %s\r\n" % (k, k)).encode(), 2, keys=[k])])

    # ==== key names, databases, argument forms ==================================================
    a, b = PREFIX + "names:a.b", PREFIX + "names:a:b"   # '.' and ':' must stay distinct keys
    w = PREFIX + "names: a\x00b\xff*>=2E"
    case("key_names", [C("SET", a, "dot"), C("SET", b, "colon"), C("INCR", w), C("APPEND", w, "x"),
                       C("MGET", a, b, w), C("MSET", a, "1", w, "2"), C("INCRBYFLOAT", a, "1"),
                       C("GETRANGE", w, "0", "-1"), C("SETRANGE", b, "1", "Z"), C("MGET", a, b, w)])
    case("empty_key_name", [C("SET", "", "e"), C("APPEND", "", "x"), C("STRLEN", ""),
                            C("SETRANGE", "", "0", "1"), C("INCR", ""), C("SET", "", "5"),
                            C("INCRBY", "", "5"), C("GETDEL", ""), C("EXISTS", "")])
    k = keys("select_db")
    case("select_db", [C("SELECT", "9"), C("SET", k, "1"), C("INCR", k), C("APPEND", k, "0"),
                       C("MSET", k + "b", "x", k, "7"), C("SELECT", "0"), C("MGET", k, k + "b"),
                       C("SELECT", "9"), C("MGET", k, k + "b"), C("GETDEL", k),
                       C("DEL", k + "b"), C("SELECT", "0")])
    k = keys("plus_sign_numbers")
    case("plus_sign_numbers", [C("SET", k, "abc"), C("SETRANGE", k, "+1", "x"),
                               C("GETRANGE", k, "+0", "+1"), C("SETBIT", k, "+1", "1"),
                               C("GETBIT", k, "+1"), C("BITCOUNT", k, "+0", "-1"),
                               C("BITPOS", k, "1", "+0"), C("BITFIELD", k, "GET", "u8", "+0"),
                               C("INCRBY", k, "+1"), C("SETEX", k, "+10", "v"),
                               C("SET", k, "v", "EX", "+10"), C("GETEX", k, "PX", "+100"),
                               C("LCS", k, k, "MINMATCHLEN", "+1"), C("GET", k)])
    k = keys("incrbyfloat_precision")
    case("incrbyfloat_precision", [
        C("INCRBYFLOAT", k, "1e-20"), C("GET", k), C("SET", k, "1e16"), C("INCRBYFLOAT", k, "1"),
        C("INCRBYFLOAT", k, "0.1"), C("SET", k, "0.1"), C("INCRBYFLOAT", k, "0.2"),
        C("SET", k, "1e4000"), C("INCRBYFLOAT", k, "1"), C("SET", k, "1e4933"),
        C("INCRBYFLOAT", k, "1"), C("SET", k, "0"), C("INCRBYFLOAT", k, "1e-4950"),
        C("INCRBYFLOAT", k, "123456789.123456789"), C("INCRBYFLOAT", k, "-123456789"),
        C("GET", k)])
    a, b = keys("lcs_transient_limit", 2)
    case("lcs_transient_memory_limit", [C("SET", a, "x" * 12000), C("SET", b, "y" * 12000),
                                        C("LCS", a, b, "LEN"), C("LCS", a, b, "IDX")])

    # ==== sizes the NATS message limit cannot hold, and a runtime proto-max-bulk-len ============
    # nats-server's default max_payload is 1 MiB; Redis strings may reach proto-max-bulk-len.
    # These are built with offsets, so nothing large is sent; past 1 MiB the values go to the
    # NATS Object Store (docs/design.md, "Large values"), and read-modify-writes of them work.
    k, b = keys("over_nats_payload", 2)
    case("value_over_nats_max_payload", [
        C("SETRANGE", k, str(1024 * 1024), "x"), C("STRLEN", k), C("GETRANGE", k, "-1", "-1"),
        C("APPEND", k, "y"), C("SETBIT", b, str(8 * 1024 * 1024), "1"), C("STRLEN", b),
        C("BITFIELD", b, "SET", "u8", str(8 * 1024 * 1024 + 8), "1"), C("BITCOUNT", b),
        C("GETRANGE", k, "1048570", "-1"), C("TYPE", k), C("EXPIRE", k, "100"), C("TTL", k),
        C("DEL", k, b)])
    k, b, la, lb = keys("bulk_len_runtime", 4)
    one_mib = str(1024 * 1024)
    case("proto_max_bulk_len_set_at_runtime", [
        C("CONFIG", "SET", "proto-max-bulk-len", one_mib),
        C("SETRANGE", k, str(1024 * 1024 - 1), "xy"), C("SETRANGE", k, one_mib, "x"),
        C("SETRANGE", k, one_mib, ""), C("EXISTS", k),
        C("SETBIT", b, str(8 * 1024 * 1024), "1"), C("GETBIT", b, str(8 * 1024 * 1024)),
        C("BITFIELD", b, "GET", "u8", str(8 * 1024 * 1024)), C("EXISTS", b),
        C("SET", la, "ab" * 300), C("SET", lb, "ba" * 300), C("LCS", la, lb, "LEN"),
        C("LCS", la, lb), C("CONFIG", "SET", "proto-max-bulk-len", str(MAX_BULK)),
        C("LCS", la, lb, "LEN")])

    # ==== RESP3 =================================================================================
    a, b, m = keys("resp3", 3)
    case("resp3_shapes", [
        C("HELLO", "3"), C("MSET", a, "ohmytext", b, "mynewtext"), C("MGET", a, m, b),
        C("GETEX", m), C("GETDEL", m), C("GETSET", m, "x"), C("SET", m, "y", "GET"),
        C("SET", m, "z", "NX", "GET"), C("SET", keys("resp3_nx"), "z", "NX"),
        C("INCRBYFLOAT", keys("resp3_float"), "1.5"), C("LCS", a, b, "IDX"),
        C("LCS", a, b, "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"), C("LCS", a, b, "LEN"),
        C("BITFIELD", keys("resp3_bf"), "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9",
          "GET", "u2", "0"),
        C("BITFIELD_RO", keys("resp3_bf"), "GET", "u8", "0"), C("BITFIELD", keys("resp3_bf")),
        C("SETBIT", keys("resp3_bit"), "1", "1"), C("BITCOUNT", keys("resp3_bit")),
        C("INCR", keys("resp3_bit")), C("HELLO", "2")],
        mask=mask_hello)
    return out


def main():
    parity_lib.set_prefix(PREFIX)
    return parity_lib.run(cases, "rng-parity-str-", "parity-strings")


if __name__ == "__main__":
    sys.exit(main())
