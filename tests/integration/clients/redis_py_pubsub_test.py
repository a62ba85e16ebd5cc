#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Pub/sub through redis-py (Debian's python3-redis, 4.3.x) and the raw NATS protocol.

One nats-server and two gateways on the same bucket (A and B) serve the module; the restart and
oversized-message tests start a gateway of their own. Covered:

  * r.pubsub(): subscribe / psubscribe / get_message / unsubscribe, PubSub.ping();
  * messages published on the same gateway (delivered once: the gateway's NATS connection does
    not echo) and on the other gateway (through NATS);
  * a message published right after the SUBSCRIBE confirmation is read is never lost (200
    times, on fresh channels);
  * patterns, one of them a glob NATS cannot express (ne?s:*, filtered by the gateway);
  * binary channel names and payloads, across gateways;
  * the RESP2 subscribed-mode error for GET (on a raw connection: redis-py hides it);
  * redis-py's reconnect after a gateway restart on the same port re-subscribes (on_connect),
    and messages published after the restart arrive;
  * native NATS: a raw PUB on redis.pubsub.news.tech reaches a Redis subscriber of news:tech,
    a raw SUB redis.pubsub.> sees Redis PUBLISHes under the subjects of the key codec (':' is
    '.', other bytes outside [A-Za-z0-9_/-] are '=XX'), and a subject that is not a canonical
    encoding is dropped.

Run with /usr/bin/python3: the pyenv python3 that may be first on PATH has no redis module.
"""

import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover - depends on the interpreter
    redis = None

STACK = None
PORT_A = None
PORT_B = None
BUCKET = "pubsub"


def setUpModule():
    global STACK, PORT_A, PORT_B
    STACK = harness.Stack(prefix="rng-redispy-pubsub-")
    try:
        PORT_A = STACK.start_gateway(BUCKET)
        PORT_B = STACK.start_gateway(BUCKET)
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


class NatsConn:
    """A plain-socket NATS client: CONNECT, PUB, SUB, PING/PONG and MSG parsing."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.msgs = []  # (subject, payload) received while waiting for something else
        info = self._line(timeout)
        if not info.startswith(b"INFO "):
            raise AssertionError("no INFO from nats-server: %r" % info)
        self.sock.sendall(b'CONNECT {"verbose":false}\r\n')
        self.flush()

    def close(self):
        self.sock.close()

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        if not chunk:
            raise AssertionError("nats-server closed the connection")
        self.buf += chunk

    def _line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            if time.monotonic() >= deadline:
                raise AssertionError("timed out reading from nats-server: %r" % self.buf[:200])
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _op(self, timeout):
        """The next operation: ("PONG",), ("MSG", subject, payload), ("-ERR", text), ..."""
        deadline = time.monotonic() + timeout
        line = self._line(timeout)
        if line.startswith(b"MSG "):
            parts = line.split(b" ")
            size = int(parts[-1])
            while len(self.buf) < size + 2:
                if time.monotonic() >= deadline:
                    raise AssertionError("timed out reading a MSG payload")
                self._fill(deadline)
            payload, self.buf = self.buf[:size], self.buf[size + 2:]
            return ("MSG", parts[1].decode(), payload)
        if line == b"PING":
            self.sock.sendall(b"PONG\r\n")
            return ("PING",)
        if line.startswith(b"-ERR"):
            raise AssertionError("nats-server: %r" % line)
        return (line.decode(),)

    def flush(self, timeout=5.0):
        """PING, then waits for the PONG: everything sent before was processed by the server."""
        self.sock.sendall(b"PING\r\n")
        deadline = time.monotonic() + timeout
        while True:
            op = self._op(max(0.01, deadline - time.monotonic()))
            if op[0] == "PONG":
                return
            if op[0] == "MSG":
                self.msgs.append(op[1:])

    def pub(self, subject, payload):
        self.sock.sendall(b"PUB %s %d\r\n%s\r\n" % (subject.encode(), len(payload), payload))

    def sub(self, subject, sid):
        self.sock.sendall(b"SUB %s %d\r\n" % (subject.encode(), sid))

    def next_msg(self, timeout=2.0):
        if self.msgs:
            return self.msgs.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            op = self._op(max(0.01, deadline - time.monotonic()))
            if op[0] == "MSG":
                return op[1:]


def next_message(p, timeout=2.0):
    """The next message of PubSub p within timeout (subscribe confirmations included), or None."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        m = p.get_message(timeout=left)
        if m is not None:
            return m


class PubSubTest(unittest.TestCase):
    def client(self, port=None, **kwargs):
        c = redis.Redis(host="127.0.0.1", port=port or PORT_A, socket_timeout=10, **kwargs)
        self.addCleanup(c.close)
        return c

    def pubsub(self, port=None, **kwargs):
        p = self.client(port, **kwargs).pubsub()
        self.addCleanup(p.close)
        return p

    def expect(self, p, kind, channel, data, pattern=None, timeout=2.0):
        m = next_message(p, timeout)
        self.assertIsNotNone(m, "no %s on %r within %.1f s" % (kind, channel, timeout))
        self.assertEqual((m["type"], m["pattern"], m["channel"], m["data"]),
                         (kind, pattern, channel, data))

    def confirm(self, p, kind, names):
        """Reads the (p)subscribe confirmations of `names`, counting from 1."""
        for i, name in enumerate(names):
            self.expect(p, kind, name, i + 1)

    # --- redis-py's PubSub -----------------------------------------------------------------------
    def test_subscribe_and_publish_on_the_same_gateway(self):
        p = self.pubsub()
        p.subscribe("py:same:1", "py:same:2")
        self.confirm(p, "subscribe", [b"py:same:1", b"py:same:2"])
        self.assertTrue(p.subscribed)
        r = self.client()
        self.assertEqual(r.publish("py:same:1", "hello"), 1)
        self.assertEqual(r.publish("py:same:2", "world"), 1)
        self.assertEqual(r.publish("py:same:none", "nobody"), 0)
        self.expect(p, "message", b"py:same:1", b"hello")
        self.expect(p, "message", b"py:same:2", b"world")
        # Delivered once: the gateway delivers its own PUBLISH locally, and its NATS connection
        # does not echo it back. A native NATS subscriber sees that the messages went out; a
        # sentinel published afterwards is then the very next message, with no duplicate before.
        nats = NatsConn(STACK.nats_port)
        self.addCleanup(nats.close)
        nats.sub("redis.pubsub.py.same.>", 1)
        nats.flush()
        self.assertEqual(r.publish("py:same:1", "once"), 1)
        self.expect(p, "message", b"py:same:1", b"once")
        self.assertEqual(nats.next_msg(), ("redis.pubsub.py.same.1", b"once"))
        self.assertEqual(self.client(PORT_B).publish("py:same:2", "sentinel"), 0)
        self.expect(p, "message", b"py:same:2", b"sentinel")
        p.unsubscribe("py:same:1")
        self.expect(p, "unsubscribe", b"py:same:1", 1)
        self.assertEqual(r.publish("py:same:1", "gone"), 0)
        p.unsubscribe()
        self.expect(p, "unsubscribe", b"py:same:2", 0)
        self.assertFalse(p.subscribed)

    def test_messages_from_the_second_gateway(self):
        p = self.pubsub(PORT_A)
        p.subscribe("py:cross")
        self.confirm(p, "subscribe", [b"py:cross"])
        b = self.client(PORT_B)
        # PUBLISH counts the receivers of the gateway it runs on: none on B.
        self.assertEqual(b.publish("py:cross", "from b"), 0)
        self.expect(p, "message", b"py:cross", b"from b")
        for i in range(20):  # order is kept from one publisher
            b.publish("py:cross", "n%d" % i)
        for i in range(20):
            self.expect(p, "message", b"py:cross", b"n%d" % i)
        # Both ways: a subscriber on B hears A.
        q = self.pubsub(PORT_B)
        q.subscribe("py:cross:back")
        self.confirm(q, "subscribe", [b"py:cross:back"])
        self.assertEqual(self.client(PORT_A).publish("py:cross:back", "from a"), 0)
        self.expect(q, "message", b"py:cross:back", b"from a")

    def test_publish_right_after_subscribe_is_never_lost(self):
        p = self.pubsub(PORT_A)
        b = self.client(PORT_B)
        started = time.monotonic()
        for i in range(200):
            channel = ("py:race:%d" % i).encode()
            p.subscribe(channel)
            self.expect(p, "subscribe", channel, 1)
            b.publish(channel, b"m%d" % i)
            self.expect(p, "message", channel, b"m%d" % i, timeout=2.0)
            p.unsubscribe(channel)
            self.expect(p, "unsubscribe", channel, 0)
        print("  200 subscribe/publish rounds in %.2f s" % (time.monotonic() - started))

    def test_pattern_subscriptions(self):
        p = self.pubsub(PORT_A)
        # news:* narrows to the subject redis.pubsub.news.>; ne?s:* cannot be expressed in NATS
        # (redis.pubsub.>), the gateway filters it.
        p.psubscribe("news:*", "ne?s:*")
        self.confirm(p, "psubscribe", [b"news:*", b"ne?s:*"])
        a, b = self.client(PORT_A), self.client(PORT_B)
        self.assertEqual(a.publish("news:local", "l"), 2)
        both = sorted([next_message(p), next_message(p)], key=lambda m: m["pattern"])
        self.assertEqual([(m["type"], m["pattern"], m["channel"], m["data"]) for m in both],
                         [("pmessage", b"ne?s:*", b"news:local", b"l"),
                          ("pmessage", b"news:*", b"news:local", b"l")])
        # From B: in publish order, the ones that match nothing never show up.
        for channel, data in [("news:tech", "t"), ("nexs:a", "x"), ("news", "no colon"),
                              ("newsy:a", "no"), ("other:x", "no"), ("news:end", "e")]:
            self.assertEqual(b.publish(channel, data), 0)
        got = [next_message(p) for _ in range(5)]
        self.assertNotIn(None, got)
        got = [(m["type"], m["pattern"], m["channel"], m["data"]) for m in got]
        self.assertEqual(sorted(got[0:2]), [("pmessage", b"ne?s:*", b"news:tech", b"t"),
                                            ("pmessage", b"news:*", b"news:tech", b"t")])
        self.assertEqual(got[2], ("pmessage", b"ne?s:*", b"nexs:a", b"x"))
        self.assertEqual(sorted(got[3:5]), [("pmessage", b"ne?s:*", b"news:end", b"e"),
                                            ("pmessage", b"news:*", b"news:end", b"e")])
        # A channel and a pattern subscription on one connection: two frames.
        p.subscribe("news:both")
        self.expect(p, "subscribe", b"news:both", 3)
        self.assertEqual(b.publish("news:both", "2x"), 0)
        got = sorted([next_message(p) for _ in range(3)], key=lambda m: m["type"])
        self.assertEqual([(m["type"], m["pattern"]) for m in got],
                         [("message", None), ("pmessage", b"ne?s:*"), ("pmessage", b"news:*")])
        p.punsubscribe("ne?s:*")
        self.expect(p, "punsubscribe", b"ne?s:*", 2)
        self.assertEqual(b.publish("nexs:b", "gone"), 0)
        self.assertEqual(b.publish("news:after", "a"), 0)
        self.expect(p, "pmessage", b"news:after", b"a", pattern=b"news:*")

    def test_binary_channel_and_payload(self):
        channel = b"py:bin:\x00\xff \r\n*\xc3\xa9"
        payload = bytes(range(256)) * 64 + b"\r\n$-1\r\n"
        p = self.pubsub(PORT_A)
        p.subscribe(channel)
        p.psubscribe(b"py:bin:\x00*")
        self.confirm(p, "subscribe", [channel])
        self.expect(p, "psubscribe", b"py:bin:\x00*", 2)
        self.assertEqual(self.client(PORT_B).publish(channel, payload), 0)
        got = sorted([next_message(p) for _ in range(2)], key=lambda m: m["type"])
        self.assertEqual([(m["type"], m["channel"], m["data"]) for m in got],
                         [("message", channel, payload), ("pmessage", channel, payload)])
        self.assertEqual(self.client(PORT_A).publish(channel, b""), 2)
        got = [next_message(p) for _ in range(2)]
        self.assertEqual([(m["type"], m["data"]) for m in got], [("message", b""),
                                                                 ("pmessage", b"")])
        # 512 KiB, within nats-server's default max_payload (1 MiB), across gateways.
        big = os.urandom(512 * 1024)
        self.assertEqual(self.client(PORT_B).publish(channel, big), 0)
        got = [next_message(p, 5.0) for _ in range(2)]
        self.assertEqual([m["data"] == big for m in got], [True, True])

    def test_pubsub_ping(self):
        p = self.pubsub()
        p.subscribe("py:ping")
        self.confirm(p, "subscribe", [b"py:ping"])
        p.ping("hi")
        self.expect(p, "pong", None, b"hi")
        p.ping()
        self.expect(p, "pong", None, b"")

    def test_resp2_subscribed_mode_rejects_get(self):
        conn = harness.RawConn(PORT_A)
        self.addCleanup(conn.close)
        self.assertEqual(conn.command("SUBSCRIBE", "py:mode"),
                         b"*3\r\n$9\r\nsubscribe\r\n$7\r\npy:mode\r\n:1\r\n")
        self.assertEqual(conn.command("GET", "py:mode:k"),
                         b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                         b"PING / QUIT / RESET are allowed in this context\r\n")
        self.assertEqual(conn.command("PING"), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n")
        self.assertEqual(conn.command("UNSUBSCRIBE"),
                         b"*3\r\n$11\r\nunsubscribe\r\n$7\r\npy:mode\r\n:0\r\n")
        self.assertEqual(conn.command("GET", "py:mode:k"), b"$-1\r\n")

    # --- gateway restart -------------------------------------------------------------------------
    def test_resubscribe_after_gateway_restart(self):
        port = STACK.start_gateway(BUCKET)
        child = STACK.children[-1]
        p = self.pubsub(port, socket_connect_timeout=1)
        p.subscribe("py:restart")
        p.psubscribe("py:restart:*")
        self.expect(p, "subscribe", b"py:restart", 1)
        self.expect(p, "psubscribe", b"py:restart:*", 2)
        b = self.client(PORT_B)
        b.publish("py:restart", "before")
        self.expect(p, "message", b"py:restart", b"before")

        how = child.stop()
        STACK.children.remove(child)  # stopped on purpose; close() would call it an early death
        self.assertEqual(how, "exit 0", child.log_tail())
        # The application's loop: get_message raises ConnectionError while the gateway is gone,
        # and reconnects (re-subscribing in PubSub.on_connect) on the next call.
        with self.assertRaises(redis.ConnectionError):
            next_message(p, 5.0)
        with self.assertRaises(redis.ConnectionError):
            p.get_message(timeout=0.1)  # connection refused

        again = STACK.start_gateway(BUCKET, ["--port", str(port)])
        self.assertEqual(again, port)
        confirmations, errors = [], 0
        deadline = time.monotonic() + 10.0
        while len(confirmations) < 2 and time.monotonic() < deadline:
            try:
                m = p.get_message(timeout=0.2)
            except redis.ConnectionError:
                errors += 1
                time.sleep(0.1)
                continue
            if m is not None:
                confirmations.append((m["type"], m["channel"], m["data"]))
        self.assertEqual(confirmations, [("subscribe", b"py:restart", 1),
                                         ("psubscribe", b"py:restart:*", 2)])
        # Published after the restart, from the other gateway and from the restarted one.
        self.assertEqual(b.publish("py:restart", "after"), 0)
        self.expect(p, "message", b"py:restart", b"after")
        self.assertEqual(b.publish("py:restart:x", "pattern after"), 0)
        self.expect(p, "pmessage", b"py:restart:x", b"pattern after", pattern=b"py:restart:*")
        self.assertEqual(self.client(port).publish("py:restart", "local"), 1)
        self.expect(p, "message", b"py:restart", b"local")

    # --- native NATS -----------------------------------------------------------------------------
    def test_native_nats_publisher_reaches_redis_subscriber(self):
        p = self.pubsub(PORT_A)
        p.subscribe("news:tech", b"weird ch:\xc3\xa9", "")
        p.psubscribe("*")
        self.confirm(p, "subscribe", [b"news:tech", b"weird ch:\xc3\xa9", b""])
        self.expect(p, "psubscribe", b"*", 4)
        # The brief's exact bytes: CONNECT, PUB, PING on a plain socket; PONG means processed.
        s = socket.create_connection(("127.0.0.1", STACK.nats_port), timeout=5)
        self.addCleanup(s.close)
        got = b""
        while b"\r\n" not in got:
            got += s.recv(4096)
        self.assertTrue(got.startswith(b"INFO "))
        s.sendall(b'CONNECT {"verbose":false}\r\nPUB redis.pubsub.news.tech 5\r\nhello\r\n'
                  b"PING\r\n")
        got = b""
        while b"PONG\r\n" not in got:
            chunk = s.recv(4096)
            self.assertTrue(chunk, "nats-server closed the connection: %r" % got)
            got += chunk
        self.assertNotIn(b"-ERR", got)
        m = [next_message(p) for _ in range(2)]
        self.assertNotIn(None, m)
        self.assertEqual(sorted((x["type"], x["channel"], x["data"]) for x in m),
                         [("message", b"news:tech", b"hello"),
                          ("pmessage", b"news:tech", b"hello")])
        nats = NatsConn(STACK.nats_port)
        self.addCleanup(nats.close)
        # A subject that is no canonical encoding (=41 is 'A', which is written as itself) is not
        # a channel: dropped. Then the encoded channels, in order.
        nats.pub("redis.pubsub.=41", b"dropped")
        nats.pub("redis.pubsub.weird=20ch.=C3=A9", b"\x00binary\xff")
        nats.pub("redis.pubsub.=", b"empty channel")
        nats.pub("redis.pubsub.x", b"last")
        nats.flush()
        got = []
        while not got or got[-1][1:] != (b"x", b"last"):
            m = next_message(p)
            self.assertIsNotNone(m, "after %r" % got)
            got.append((m["type"], m["channel"], m["data"]))
        # Redis's '*' does not match the empty channel, but the gateway's glob does (see
        # parity_pubsub_test.py, star_pattern_and_empty_channel): that pmessage is left out.
        got = [g for g in got if g[:2] != ("pmessage", b"")]
        self.assertEqual(len(got), 4, got)
        self.assertEqual(sorted(got[0:2]), [("message", b"weird ch:\xc3\xa9", b"\x00binary\xff"),
                                            ("pmessage", b"weird ch:\xc3\xa9",
                                             b"\x00binary\xff")])
        self.assertEqual(got[2:], [("message", b"", b"empty channel"),
                                   ("pmessage", b"x", b"last")])

    def test_redis_publish_reaches_native_nats_subscriber(self):
        nats = NatsConn(STACK.nats_port)
        self.addCleanup(nats.close)
        nats.sub("redis.pubsub.>", 1)
        nats.flush()
        a = self.client(PORT_A)
        for channel, subject in [("a:b", "redis.pubsub.a.b"),
                                 ("a b:c/d-e_f", "redis.pubsub.a=20b.c/d-e_f"),
                                 (b"\xff.*>", "redis.pubsub.=FF=2E=2A=3E"),
                                 ("x::y:", "redis.pubsub.x.=.y.="),
                                 ("", "redis.pubsub.=")]:
            payload = b"payload of " + (channel if isinstance(channel, bytes)
                                        else channel.encode()) + b"\r\n\x00"
            self.assertEqual(a.publish(channel, payload), 0)
            self.assertEqual(nats.next_msg(), (subject, payload), "channel %r" % channel)

    def test_publish_over_nats_max_payload_keeps_the_gateway_up(self):
        # A message over nats-server's max_payload (1 MiB) would make the server close the
        # connection; PUBLISH refuses it with an error and the connection stays up.
        port = STACK.start_gateway(BUCKET)
        child = STACK.children[-1]
        try:
            q = self.pubsub(PORT_B)
            q.subscribe("py:big")
            self.confirm(q, "subscribe", [b"py:big"])
            c = harness.RawConn(port)
            self.addCleanup(c.close)
            reply = c.command("PUBLISH", "py:big", b"x" * (1024 * 1024 + 1))
            self.assertTrue(reply.startswith(b"-ERR message too large for NATS"), reply)
            time.sleep(0.5)
            self.assertEqual(c.command("PING"), b"+PONG\r\n")
            self.assertFalse(child.exited(), child.log_tail())
            # Its NATS connection still works: a small message reaches gateway B.
            self.assertEqual(c.command("PUBLISH", "py:big", "small"), b":0\r\n")
            self.expect(q, "message", b"py:big", b"small")
            self.assertNotIn("connection lost", child.log_tail())
        finally:
            if child.exited():
                STACK.children.remove(child)


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
