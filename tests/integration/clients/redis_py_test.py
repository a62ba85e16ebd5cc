#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""redis-py (Debian's python3-redis, 4.3.x) against the gateway, with its default handshake.

Run with /usr/bin/python3: the pyenv python3 that may be first on PATH has no redis module.
One nats-server and two gateways (one with --requirepass) serve the whole module.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover - depends on the interpreter
    redis = None

STACK = None
PORT = None
AUTH_PORT = None


def setUpModule():
    global STACK, PORT, AUTH_PORT
    STACK = harness.Stack(prefix="rng-redispy-")
    try:
        PORT = STACK.start_gateway("redispy")
        AUTH_PORT = STACK.start_gateway("redispy-auth", ["--requirepass", "pw"])
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


class RedisPyTest(unittest.TestCase):
    def client(self, **kwargs):
        c = redis.Redis(host="127.0.0.1", port=kwargs.pop("port", PORT), socket_timeout=10,
                        **kwargs)
        self.addCleanup(c.close)
        return c

    def test_ping(self):
        self.assertTrue(self.client().ping())

    def test_set_get(self):
        r = self.client()
        self.assertTrue(r.set("py:user:1", "hello"))
        self.assertEqual(r.get("py:user:1"), b"hello")
        self.assertIsNone(r.get("py:missing"))

    def test_binary_value(self):
        r = self.client()
        value = bytes(range(256))
        r.set(b"py:bin:\xff", value)
        self.assertEqual(r.get(b"py:bin:\xff"), value)

    def test_decode_responses(self):
        r = self.client(decode_responses=True)
        r.set("py:text", "h\u00e9llo")
        self.assertEqual(r.get("py:text"), "h\u00e9llo")
        self.assertEqual(r.echo("x"), "x")

    def test_set_options(self):
        r = self.client()
        self.assertTrue(r.set("py:nx", "a", nx=True))
        self.assertIsNone(r.set("py:nx", "b", nx=True))
        self.assertIsNone(r.set("py:xx", "a", xx=True))
        self.assertEqual(r.set("py:nx", "c", get=True), b"a")
        self.assertTrue(r.set("py:ex", "v", ex=100))
        self.assertTrue(r.set("py:ex", "w", px=100000, xx=True))
        self.assertTrue(r.set("py:ex", "z", keepttl=True))
        self.assertEqual(r.get("py:ex"), b"z")

    def test_string_commands_through_the_client_api(self):
        r = self.client(decode_responses=True)
        self.assertEqual(r.incr("py:counter"), 1)
        self.assertEqual(r.incrby("py:counter", 41), 42)
        self.assertEqual(r.decr("py:counter"), 41)
        self.assertAlmostEqual(r.incrbyfloat("py:float", 1.5), 1.5)
        self.assertEqual(r.append("py:append", "hello"), 5)
        self.assertEqual(r.append("py:append", " world"), 11)
        self.assertEqual(r.getrange("py:append", 0, 4), "hello")
        self.assertEqual(r.setrange("py:append", 6, "WORLD"), 11)
        self.assertEqual(r.strlen("py:append"), 11)
        self.assertTrue(r.mset({"py:m1": "a", "py:m2": "b"}))
        self.assertEqual(r.mget("py:m1", "py:nope", "py:m2"), ["a", None, "b"])
        self.assertEqual(r.getset("py:m1", "c"), "a")
        self.assertEqual(r.getdel("py:m1"), "c")
        self.assertIsNone(r.get("py:m1"))
        self.assertTrue(r.setnx("py:setnx", "1"))
        self.assertFalse(r.setnx("py:setnx", "2"))
        self.assertTrue(r.setex("py:ex", 100, "v"))
        self.assertEqual(r.getex("py:ex", persist=True), "v")
        self.assertEqual(r.setbit("py:bits", 7, 1), 0)
        self.assertEqual(r.getbit("py:bits", 7), 1)
        self.assertEqual(r.bitcount("py:bits"), 1)
        self.assertEqual(r.bitpos("py:bits", 1), 7)
        self.assertEqual(r.bitfield("py:bf").incrby("u8", 0, 200).incrby("u8", 0, 100).execute(),
                         [200, 44])
        self.assertEqual(r.bitop("OR", "py:bitop", "py:bits", "py:nope"), 1)
        with self.assertRaises(redis.ResponseError) as ctx:
            r.incr("py:append")
        self.assertIn("not an integer", str(ctx.exception))

    def test_delete_and_exists(self):
        r = self.client()
        r.set("py:d1", "1")
        r.set("py:d2", "2")
        self.assertEqual(r.exists("py:d1", "py:d2", "py:d3"), 2)
        self.assertEqual(r.delete("py:d1", "py:d2", "py:d3"), 2)
        self.assertEqual(r.exists("py:d1"), 0)

    def test_pipeline_of_100_ops(self):
        r = self.client()
        pipe = r.pipeline(transaction=False)
        for i in range(50):
            pipe.set("py:pipe:%d" % (i % 10), "v%d" % i)
            pipe.get("py:pipe:%d" % (i % 10))
        results = pipe.execute()
        self.assertEqual(len(results), 100)
        for i in range(50):
            self.assertIs(results[2 * i], True)
            self.assertEqual(results[2 * i + 1], b"v%d" % i)

    def test_errors_become_response_errors(self):
        r = self.client()
        with self.assertRaisesRegex(redis.ResponseError, "^syntax error$"):
            r.execute_command("SET", "py:e", "v", "NX", "XX")
        with self.assertRaisesRegex(redis.ResponseError, "unknown command 'NOSUCH'"):
            r.execute_command("NOSUCH", "a")
        self.assertTrue(r.ping(), "the connection survives errors")

    def test_connection_options_handshake(self):
        r = self.client(client_name="py-client", db=3)
        self.assertEqual(r.client_getname(), "py-client")
        r.set("py:db3", "three")
        self.assertIsNone(self.client().get("py:db3"), "db 3 is not db 0")
        self.assertEqual(r.get("py:db3"), b"three")

    def test_password(self):
        with self.assertRaises(redis.AuthenticationError):
            self.client(port=AUTH_PORT).get("py:auth")
        # redis-py 4.3 raises a plain ResponseError for WRONGPASS, against Redis too.
        with self.assertRaisesRegex(redis.ResponseError, "^WRONGPASS"):
            self.client(port=AUTH_PORT, password="wrong").ping()
        r = self.client(port=AUTH_PORT, password="pw")
        self.assertTrue(r.set("py:auth", "ok"))
        self.assertEqual(r.get("py:auth"), b"ok")

    def test_server_introspection(self):
        r = self.client()
        info = r.info()
        self.assertTrue(info["redis_version"].startswith("7.0"))
        self.assertIsInstance(r.time()[0], int)
        self.assertEqual(r.config_get("nonexistent"), {})


def main():
    if redis is None:
        print("SKIP: the redis module is not importable by %s (use /usr/bin/python3)"
              % sys.executable)
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    # Exit 77 (skip) when nats-server or the gateway is missing happens in setUpModule.
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
