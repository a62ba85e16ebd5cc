#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0.

Starts redis-server and the gateway (with its own nats-server), twice each: once without a
password and once with --requirepass, then sends the same raw RESP bytes to both and compares
the replies exactly. Raw sockets, not a client library, so every byte counts.

Each case runs on a fresh connection per server and uses its own key prefix. FLUSHALL is not
available on the gateway and both servers start empty, so no cleanup is needed between cases.

Masks (applied to both replies before comparing; everything else must match exactly):
  * HELLO: the `id` field is the connection id, which depends on how many connections each
    server has accepted; it is replaced with :<id>. The version is NOT masked: the gateway
    claims the Redis version it matches, and that must be the one this redis-server runs.
  * TIME: the two servers read their clocks at different moments, so both replies are reduced
    to their shape (an array of two digit strings, microseconds below 1,000,000) after
    checking that the two clocks agree within 5 s.
Not compared at all: COMMAND COUNT (the gateway implements a subset of the commands), INFO,
CLIENT LIST/INFO (addresses, ids, memory figures).

Prints one line per case and a final "N passed, M failed"; exits 1 on any failure, 77 when
nats-server or the gateway binary is missing (unless RNG_REQUIRE_NATS=1), and also 77 when
redis-server is missing (unless RNG_REQUIRE_NATS=1).
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402


class C:
    """One command as a multibulk request; reads one reply."""

    def __init__(self, *args):
        self.args = args

    def run(self, conn):
        conn.send(harness.encode_command(self.args))
        return conn.read_reply()

    def __repr__(self):
        return " ".join(a if isinstance(a, str) else repr(a) for a in self.args)


class Raw:
    """Raw bytes; reads `replies` replies."""

    def __init__(self, data, replies=1):
        self.data, self.replies = data, replies

    def run(self, conn):
        conn.send(self.data)
        return b"".join(conn.read_reply() for _ in range(self.replies))

    def __repr__(self):
        return "raw %r" % self.data[:60]


class Close:
    """Raw bytes after which the server must close: reads everything until it does."""

    def __init__(self, data, timeout=3.0):
        self.data, self.timeout = data, timeout

    def run(self, conn):
        conn.send(self.data)
        return conn.read_until_close(self.timeout)

    def __repr__(self):
        return "raw+close %r" % self.data[:60]


class Quiet:
    """Raw bytes that get no reply yet: waits briefly and returns whatever arrived."""

    def __init__(self, data, wait=0.3):
        self.data, self.wait = data, wait

    def run(self, conn):
        conn.send(self.data)
        return conn.read_reply(timeout=self.wait)

    def __repr__(self):
        return "raw (no reply) %r" % self.data[:60]


HELLO_ID = re.compile(rb"(\$2\r\nid\r\n):\d+\r\n")
TIME_REPLY = re.compile(rb"^\*2\r\n\$\d+\r\n(\d+)\r\n\$\d+\r\n(\d+)\r\n$")


def mask_hello(reply):
    return HELLO_ID.sub(rb"\1:<id>\r\n", reply)


def check_time(redis_reply, gateway_reply):
    """Both are TIME-shaped and agree within 5 s; returns masked replies."""
    shapes = []
    for reply in (redis_reply, gateway_reply):
        m = TIME_REPLY.match(reply)
        if not m or int(m.group(2)) >= 1000000:
            return redis_reply, gateway_reply  # compared raw, so the mismatch is reported
        shapes.append(int(m.group(1)))
    if abs(shapes[0] - shapes[1]) > 5:
        return redis_reply, gateway_reply
    return b"<time>", b"<time>"


LONG = "x" * 200
P = "parity"  # key prefix; each case adds its own name


def cases():
    """(name, auth, steps, mask) where mask(redis_reply, gateway_reply) -> both masked."""
    out = []

    def case(name, steps, auth=False, mask=None):
        out.append((name, auth, steps, mask))

    k = lambda name: "%s:%s" % (P, name)  # noqa: E731

    # --- connection commands --------------------------------------------------------------
    case("ping", [C("PING"), C("ping"), C("PING", "hello world")])
    case("ping_wrong_arity", [C("PING", "a", "b")])
    case("echo", [C("ECHO", "x y"), C("ECHO", b"\x00\xff\r\n"), C("ECHO", "")])
    case("echo_wrong_arity", [C("ECHO"), C("ECHO", "a", "b")])
    case("hello_2", [C("HELLO", "2")], mask=lambda r, g: (mask_hello(r), mask_hello(g)))
    case("hello_3", [C("HELLO", "3"), C("GET", k("hello3:missing")), C("PING"),
                     C("HELLO", "2")],
         mask=lambda r, g: (mask_hello(r), mask_hello(g)))
    case("hello_no_args", [C("HELLO")], mask=lambda r, g: (mask_hello(r), mask_hello(g)))
    case("hello_4", [C("HELLO", "4")])
    case("hello_not_integer", [C("HELLO", "abc")])
    case("hello_setname", [C("HELLO", "2", "SETNAME", "parity-client"), C("CLIENT", "GETNAME")],
         mask=lambda r, g: (mask_hello(r), mask_hello(g)))
    case("hello_auth_missing_args", [C("HELLO", "3", "AUTH", "default")])
    case("auth_without_password_configured", [C("AUTH", "x")])
    case("auth_user_without_password_configured", [C("AUTH", "nouser", "x")])
    case("auth_wrong_arity", [C("AUTH"), C("AUTH", "a", "b", "c")])
    case("select", [C("SELECT", "0"), C("SELECT", "15")])
    case("select_out_of_range", [C("SELECT", "16"), C("SELECT", "-1")])
    case("select_not_integer", [C("SELECT", "abc"), C("SELECT", "1.5")])
    case("client_setname_with_spaces", [C("CLIENT", "SETNAME", "a b"),
                                        C("CLIENT", "SETNAME", "a\nb")])
    case("client_setname_getname", [C("CLIENT", "GETNAME"), C("CLIENT", "SETNAME", "parity"),
                                     C("CLIENT", "GETNAME"), C("CLIENT", "SETNAME", ""),
                                     C("CLIENT", "GETNAME")])
    case("client_unknown_subcommand", [C("CLIENT", "NOPE")])
    case("quit", [Close(harness.encode_command(["QUIT"]))])
    case("reset", [C("CLIENT", "SETNAME", "x"), C("RESET"), C("CLIENT", "GETNAME")])

    # --- server commands ------------------------------------------------------------------
    case("config_set_nonexistent", [C("CONFIG", "SET", "nonexistent", "x")])
    case("config_get_nonexistent", [C("CONFIG", "GET", "nonexistent")])
    case("config_unknown_subcommand", [C("CONFIG", "NOPE")])
    case("time", [C("TIME")], mask=check_time)
    case("cluster_disabled", [C("CLUSTER", "INFO")])
    case("function_flush", [C("FUNCTION", "FLUSH")])
    case("command_info_unknown", [C("COMMAND", "INFO", "nosuchcmd")])
    case("command_docs_unknown", [C("COMMAND", "DOCS", "nosuchcmd")])

    # --- SET / GET ------------------------------------------------------------------------
    key = k("setget")
    case("set_get", [C("SET", key, "v"), C("GET", key), C("GET", key + ":missing"),
                     C("SET", key, ""), C("GET", key)])
    key = k("binary")
    case("set_get_binary", [C("SET", key, bytes(range(256))), C("GET", key)])
    key = k("nx")
    case("set_nx", [C("SET", key, "a", "NX"), C("SET", key, "b", "nx"), C("GET", key)])
    key = k("xx")
    case("set_xx", [C("SET", key, "a", "XX"), C("GET", key), C("SET", key, "b"),
                    C("SET", key, "c", "XX"), C("GET", key)])
    key = k("get")
    case("set_get_option", [C("SET", key, "a", "GET"), C("SET", key, "b", "GET"),
                            C("SET", key, "c", "NX", "GET"), C("SET", key + "2", "d", "XX",
                                                                  "GET"),
                            C("GET", key), C("EXISTS", key + "2")])
    key = k("ttl")
    case("set_ex_px_keepttl_valid", [C("SET", key, "a", "EX", "100"),
                                     C("SET", key, "b", "PX", "100000"),
                                     C("SET", key, "c", "KEEPTTL"),
                                     C("SET", key, "d", "EXAT", "9999999999"),
                                     C("SET", key, "e", "PXAT", "9999999999000"),
                                     C("GET", key)])
    key = k("conflicts")
    case("set_option_conflicts", [
        C("SET", key, "v", "NX", "XX"),
        C("SET", key, "v", "XX", "NX"),
        C("SET", key, "v", "EX", "10", "PX", "100"),
        C("SET", key, "v", "PX", "100", "EX", "10"),
        C("SET", key, "v", "KEEPTTL", "EX", "10"),
        C("SET", key, "v", "EX", "10", "KEEPTTL"),
        C("SET", key, "v", "EXAT", "10", "PXAT", "100"),
        C("SET", key, "v", "EX", "10", "EX", "20"),
        C("SET", key, "v", "EX"),
        C("SET", key, "v", "BOGUS"),
        C("SET", key, "v", "GET", "GET"),
        C("EXISTS", key)])
    case("set_invalid_expire", [
        C("SET", key, "v", "EX", "0"),
        C("SET", key, "v", "EX", "-1"),
        C("SET", key, "v", "PX", "0"),
        C("SET", key, "v", "EXAT", "0"),
        C("SET", key, "v", "PXAT", "-5"),
        C("SET", key, "v", "EX", "abc"),
        C("SET", key, "v", "EX", "1.5"),
        C("SET", key, "v", "EX", " 10"),
        C("SET", key, "v", "EX", "9223372036854775808"),
        C("SET", key, "v", "PX", "9223372036854775807"),
        C("SET", key, "v", "EX", "9223372036854775807"),
        C("SET", key, "v", "EX", "9223372036854775"),
        C("SET", key, "v", "PXAT", "9223372036854775807"),
        C("EXISTS", key)])

    # --- wrong arity, unknown commands ----------------------------------------------------
    case("get_wrong_arity", [C("GET"), C("GET", "a", "b")])
    case("set_wrong_arity", [C("SET"), C("SET", k("arity"))])
    case("del_wrong_arity", [C("DEL")])
    case("exists_wrong_arity", [C("EXISTS")])
    case("unknown_command", [C("NOSUCHCMD"), C("NOSUCHCMD", "a", "b"), C("nosuchcmd", "A")])
    case("unknown_command_long_args", [C("NOSUCHCMD", LONG, "y"), C("NOSUCHCMD", "a" * 126, "bc")])
    case("unknown_command_long_name", [C("X" * 200)])

    # --- DEL / EXISTS ---------------------------------------------------------------------
    a, b = k("del:a"), k("del:b")
    case("del_exists", [C("SET", a, "1"), C("SET", b, "2"), C("EXISTS", a, b, a, k("none")),
                        C("DEL", a, b, k("none")), C("DEL", a), C("EXISTS", a, b)])

    # --- inline commands ------------------------------------------------------------------
    key = k("inline")
    case("inline_commands", [Raw(b"PING\r\n"), Raw(b"ECHO hello\r\n"),
                             Raw(("set %s v\r\nget %s\r\n" % (key, key)).encode(), 2),
                             Raw(b"PING\n")])
    case("inline_quotes", [Raw(b'ECHO "a\\x41b\\n"\r\n'), Raw(b"ECHO 'it''s'\r\n"),
                           Raw(b'ECHO "a b" c\r\n')])
    case("inline_empty_lines", [Raw(b"\r\n\r\nPING\r\n")])
    case("empty_multibulk_ignored", [Raw(b"*0\r\n*-1\r\nPING\r\n")])
    case("inline_dollar_is_a_command", [Raw(b"$5\r\n")])

    # --- protocol errors ------------------------------------------------------------------
    case("protocol_invalid_bulk_length", [Close(b"*1\r\n$abc\r\n")])
    case("protocol_negative_bulk_length", [Close(b"*1\r\n$-1\r\n")])
    case("protocol_bulk_too_big", [Close(b"*1\r\n$600000000\r\n")])
    case("protocol_invalid_multibulk_length", [Close(b"*abc\r\n")])
    case("protocol_expected_dollar", [Close(b"*1\r\n+foo\r\n")])
    case("protocol_unbalanced_quotes", [Close(b'SET "abc\r\n')])
    case("protocol_unbalanced_single_quote", [Close(b"ECHO 'a\r\n")])
    case("protocol_quote_not_followed_by_space", [Close(b'ECHO "a"b\r\n')])
    case("protocol_too_big_inline", [Close(b"x" * 70000)])
    case("protocol_replies_before_error", [
        Close(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$x\r\n")])
    case("protocol_incomplete_frame_waits", [Quiet(b"*2\r\n$4\r\nECHO\r\n$5\r\nab"),
                                             Raw(b"cde\r\n")])

    # --- with requirepass -----------------------------------------------------------------
    case("noauth_before_auth", [C("GET", k("auth")), C("PING"), C("SET", k("auth"), "v")],
         auth=True)
    case("auth_wrong_password", [C("AUTH", "wrong"), C("AUTH", "default", "wrong"),
                                 C("GET", k("auth"))], auth=True)
    case("auth_then_commands", [C("AUTH", "p4ss"), C("SET", k("auth2"), "v"),
                                C("GET", k("auth2"))], auth=True)
    case("hello_before_auth", [C("HELLO", "3")], auth=True)
    case("hello_with_auth", [C("HELLO", "2", "AUTH", "default", "p4ss"), C("PING")], auth=True,
         mask=lambda r, g: (mask_hello(r), mask_hello(g)))
    case("hello_with_wrong_auth", [C("HELLO", "2", "AUTH", "default", "nope")], auth=True)
    case("unauthenticated_multibulk_limit", [Close(b"*20\r\n")], auth=True)
    case("unauthenticated_bulk_limit", [Close(b"*2\r\n$3\r\nGET\r\n$20000\r\n")], auth=True)
    case("authenticated_has_no_small_limits",
         [C("AUTH", "p4ss"), Raw(harness.encode_command(["DEL"] + [k("m%d" % i)
                                                                   for i in range(20)]))],
         auth=True)
    return out


def run_case(port, steps):
    conn = harness.RawConn(port)
    try:
        return [step.run(conn) for step in steps]
    finally:
        conn.close()


def main():
    with harness.Stack(prefix="rng-parity-") as stack:
        if harness.find_binary("REDIS_SERVER_BIN", "redis-server") is None:
            stack.close()
            harness.skip_or_fail("redis-server not found; set REDIS_SERVER_BIN")
        servers = {
            False: (stack.start_redis(), stack.start_gateway("parity")),
            True: (stack.start_redis(["--requirepass", "p4ss"]),
                   stack.start_gateway("parity-auth", ["--requirepass", "p4ss"])),
        }
        passed = failed = 0
        for name, auth, steps, mask in cases():
            redis_port, gateway_port = servers[auth]
            try:
                want = run_case(redis_port, steps)
                got = run_case(gateway_port, steps)
            except OSError as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
                continue
            diffs = []
            for i, (step, r, g) in enumerate(zip(steps, want, got)):
                if mask is not None:
                    r, g = mask(r, g)
                if r != g:
                    diffs.append("  step %d (%r):\n    redis:   %r\n    gateway: %r"
                                 % (i + 1, step, r[:400], g[:400]))
            if diffs:
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
        print("%d passed, %d failed" % (passed, failed))
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
