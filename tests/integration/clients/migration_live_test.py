#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Migration of a live Redis (issue 10): --fallback read-through and --mirror-writes.

A real redis-server is the old Redis. Each test class starts its own nats-server, old Redis
and gateways (harness.Stack), on free loopback ports, in one temporary directory.

Fallback:
  * every old key (100,000, mixed TTLs, binary values, one over the Object Store threshold) is
    readable through the gateway from its first second, with its value and its TTL (+-1 s
    against the old Redis's);
  * a key deleted through the gateway stays deleted, also for a new gateway process;
  * a write through the gateway is never overwritten by the old value, even when the write
    and the first read of a key race (200 keys, concurrent writer and reader);
  * INCR and APPEND start from the old value; another type in the old Redis is an error;
  * after FLUSHDB the old keys do not come back;
  * INFO reports fallback_* without the old Redis's password.
Mirror:
  * two gateways with --mirror-writes: exactly one forwards; under a mixed write load (SET,
    SET EX, DEL, INCR, APPEND, EXPIRE, PERSIST, a large value) from both gateways, the old
    Redis ends equal to NATS (keys, values, TTLs +-1 s);
  * the forwarding gateway is killed (SIGKILL): the other one takes over and the old Redis is
    again equal after more load;
  * the old Redis is down for a while: clients are not blocked, mirror_errors counts, and it
    is equal again after it is back;
  * the gateways run with --fallback too: a value copied from the old Redis is not sent back
    (it would overwrite a newer value there), a later change to it is.

Run with /usr/bin/python3 (Debian's python3-redis).
"""

import os
import random
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover - depends on the interpreter
    redis = None

OLD_PASSWORD = "old-secret-pw"


def info(r, field):
    return r.info("all").get(field)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def snapshot(r):
    """{key: (value, pttl)} of every key, over SCAN."""
    keys = list(r.scan_iter(count=1000))
    out = {}
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        p = r.pipeline(transaction=False)
        for k in chunk:
            p.get(k)
            p.pttl(k)
        res = p.execute()
        for j, k in enumerate(chunk):
            out[k] = (res[2 * j], res[2 * j + 1])
    return out


def assert_same(test, nats_side, old_side):
    test.assertEqual(sorted(nats_side), sorted(old_side), "key sets differ")
    for k, (v, ttl) in nats_side.items():
        ov, ottl = old_side[k]
        test.assertEqual(v, ov, "value of %r" % k)
        if ttl < 0 or ottl < 0:
            test.assertEqual(ttl, ottl, "TTL of %r" % k)
        else:
            test.assertLessEqual(abs(ttl - ottl), 1000, "TTL of %r" % k)


@unittest.skipIf(redis is None, "python3-redis missing")
class FallbackTest(unittest.TestCase):
    N = 100000

    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(prefix="rng-fallback-")
        try:
            cls.old_port = cls.stack.start_redis(["--requirepass", OLD_PASSWORD])
            if cls.old_port is None:
                harness.skip_or_fail("redis-server not found")
            cls.old = redis.Redis(port=cls.old_port, password=OLD_PASSWORD)
            rnd = random.Random(10)
            cls.expected = {}
            p = cls.old.pipeline(transaction=False)
            for i in range(cls.N):
                key = b"k:%d" % i
                value = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 40))) + b"\r\n\0"
                ttl = [None, None, 30000, 3600000][i % 4]
                p.set(key, value, px=ttl)
                cls.expected[key] = (value, ttl)
            cls.big = os.urandom(3 * 1024 * 1024 + 7)
            p.set(b"big", cls.big)
            p.set(b"counter", b"41")
            p.set(b"unread", b"x", px=3600000)
            p.set(b"text", b"hello")
            p.hset(b"a-hash", b"f", b"v")
            p.execute()
            cls.url = "redis://:%s@127.0.0.1:%d" % (OLD_PASSWORD, cls.old_port)
            cls.t0 = time.monotonic()
            cls.port = cls.stack.start_gateway("fb", ["--fallback", cls.url])
            cls.ready_after = time.monotonic() - cls.t0
            cls.r = redis.Redis(port=cls.port)
        except Exception:
            cls.stack.dump_logs()
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.stack.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))

    def test_1_every_old_key_visible_from_the_first_second(self):
        first = self.r.get(b"k:0")
        self.assertEqual(first, self.expected[b"k:0"][0])
        # The first read answered within a second of the gateway taking connections.
        self.assertLess(time.monotonic() - self.t0 - self.ready_after, 1.0)
        keys = list(self.expected)
        for i in range(0, len(keys), 2000):
            chunk = keys[i:i + 2000]
            p = self.r.pipeline(transaction=False)
            for k in chunk:
                p.get(k)
                p.pttl(k)
            res = p.execute()
            q = self.old.pipeline(transaction=False)  # the old Redis's TTLs, a moment later
            for k in chunk:
                q.pttl(k)
            old_ttls = q.execute()
            for j, k in enumerate(chunk):
                value, ttl = self.expected[k]
                self.assertEqual(res[2 * j], value, k)
                if ttl is None:
                    self.assertEqual(res[2 * j + 1], -1, k)
                    self.assertEqual(old_ttls[j], -1, k)
                else:
                    self.assertLessEqual(abs(res[2 * j + 1] - old_ttls[j]), 1000, k)
        self.assertEqual(self.r.get(b"big"), self.big)
        self.assertEqual(self.r.strlen(b"big"), len(self.big))
        fields = self.r.info("all")
        self.assertGreaterEqual(fields["fallback_copied"], self.N)
        self.assertNotIn(OLD_PASSWORD, str(fields))
        self.assertIn("***", fields["fallback_url"])

    def test_2_deleted_key_stays_deleted(self):
        self.assertEqual(self.r.delete(b"k:1"), 1)  # copied first, then deleted
        self.assertIsNone(self.r.get(b"k:1"))
        self.assertEqual(self.r.exists(b"k:2"), 1)
        self.assertEqual(self.r.unlink(b"k:5"), 1)
        # never read through the gateway before its delete
        self.assertEqual(self.r.delete(b"unread"), 1)
        # A new gateway process with fallback on sees the same.
        port2 = self.stack.start_gateway("fb", ["--fallback", self.url])
        r2 = redis.Redis(port=port2)
        for k in (b"k:1", b"k:5", b"unread"):
            self.assertIsNone(r2.get(k), k)
            self.assertIsNone(self.r.get(k), k)
            self.assertEqual(r2.exists(k), 0)
        self.assertIsNotNone(self.old.get(b"k:1"))  # the old Redis still has it

    def test_3_older_value_never_overwrites_newer_write(self):
        # Old keys never read through the gateway: a writer and a reader race on each.
        keys = [b"race:%d" % i for i in range(200)]
        self.old.mset({k: b"old" for k in keys})
        errors = []

        def writer():
            w = redis.Redis(port=self.port)
            for k in keys:
                w.set(k, b"new")

        def reader():
            rr = redis.Redis(port=self.port)
            for k in keys:
                v = rr.get(k)
                if v not in (b"old", b"new"):
                    errors.append((k, v))

        threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for k in keys:
            self.assertEqual(self.r.get(k), b"new", k)
        self.r.set(b"k:3", b"written")
        self.assertEqual(self.r.get(b"k:3"), b"written")

    def test_4_read_modify_write_starts_from_old_value(self):
        self.assertEqual(self.r.incr(b"counter"), 42)
        self.assertEqual(self.r.append(b"text", b" world"), 11)
        self.assertEqual(self.r.get(b"text"), b"hello world")
        self.assertEqual(self.old.get(b"counter"), b"41")  # the old Redis is only read
        with self.assertRaises(redis.ResponseError) as cm:
            self.r.get(b"a-hash")
        self.assertIn("type", str(cm.exception))
        self.assertIsNone(self.r.get(b"never-existed"))

    def test_5_flushdb_old_keys_do_not_come_back(self):
        self.assertIsNotNone(self.old.get(b"k:7"))
        self.r.flushdb()
        self.assertIsNone(self.r.get(b"k:7"))
        self.assertIsNone(self.r.get(b"k:8"))
        self.assertEqual(self.r.dbsize(), 0)
        self.assertEqual(int(info(self.r, "fallback_active")), 0)


@unittest.skipIf(redis is None, "python3-redis missing")
class MirrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = harness.Stack(prefix="rng-mirror-")
        try:
            cls.old_port = cls.stack.start_redis()
            if cls.old_port is None:
                harness.skip_or_fail("redis-server not found")
            cls.old = redis.Redis(port=cls.old_port)
            url = "redis://127.0.0.1:%d" % cls.old_port
            # Fallback too, as during a migration: reads of keys NATS lacks go to the old
            # Redis, and what they copy must not be mirrored back.
            cls.ports = [cls.stack.start_gateway("mir", ["--mirror-writes", url,
                                                         "--fallback", url])
                         for _ in range(2)]
            cls.clients = [redis.Redis(port=p) for p in cls.ports]
        except Exception:
            cls.stack.dump_logs()
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def forwarding(self):
        roles = []
        for c in self.clients:
            try:
                roles.append(info(c, "mirror_role"))
            except redis.ConnectionError:
                roles.append("dead")
        return roles

    def load(self, seed, ops=6000):
        rnd = random.Random(seed)
        big = os.urandom(2 * 1024 * 1024)
        for i in range(ops // 200):
            c = self.clients[rnd.randrange(len(self.clients))]
            p = c.pipeline(transaction=False)
            for _ in range(200):
                k = b"m:%d" % rnd.randrange(500)
                op = rnd.randrange(9)
                if op == 0:
                    p.set(k, os.urandom(rnd.randrange(30)))
                elif op == 1:
                    p.set(k, b"v%d" % rnd.randrange(1000), ex=rnd.randrange(100, 1000))
                elif op == 2:
                    p.delete(k)
                elif op == 3:
                    p.incr(b"n:%d" % rnd.randrange(50))
                elif op == 4:
                    p.append(k, b"+")
                elif op == 5:
                    p.expire(k, rnd.randrange(100, 1000))
                elif op == 6:
                    p.persist(k)
                elif op == 7:
                    p.set(k, b"x" * rnd.randrange(100))
                else:
                    p.get(k)
            if i == 3:
                p.set(b"big", big)
            try:
                p.execute(raise_on_error=False)
            except redis.ConnectionError:
                pass  # the gateway killed in the failover test
        return big

    def wait_equal(self, client):
        """Waits until the old Redis equals NATS (read through `client`), then asserts it.
        The holder's view of the stream's end is polled, so "lag 0" alone can be a moment
        old: the comparison itself is what is waited for."""
        leader = [c for c in self.clients if self._alive(c) and
                  info(c, "mirror_role") == "forwarding"]
        self.assertEqual(len(leader), 1, self.forwarding())
        deadline = time.monotonic() + 30
        while True:
            if leader[0].info("all").get("mirror_lag") == 0:
                nats_side, old_side = snapshot(client), snapshot(self.old)
                try:
                    assert_same(self, nats_side, old_side)
                    return
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
            elif time.monotonic() > deadline:
                raise AssertionError("mirror_lag stayed above 0")
            time.sleep(0.2)

    @staticmethod
    def _alive(c):
        try:
            c.ping()
            return True
        except redis.ConnectionError:
            return False

    def test_1_exactly_one_forwards_and_old_redis_stays_equal(self):
        wait_for(lambda: self.forwarding().count("forwarding") == 1, 15, "a lease holder")
        self.assertEqual(sorted(self.forwarding()), ["forwarding", "standby"])
        big = self.load(1)
        self.wait_equal(self.clients[0])
        self.assertEqual(self.old.get(b"big"), big)
        self.assertGreater(sum(int(info(c, "mirror_forwarded")) for c in self.clients), 1000)

    def test_2_old_redis_down_does_not_block_clients(self):
        holder = self.clients[self.forwarding().index("forwarding")]
        errors_before = int(info(holder, "mirror_errors"))
        old_child = [c for c in self.stack.children
                     if os.path.basename(c.log_path).startswith("redis-server")][-1]
        os.kill(old_child.proc.pid, signal.SIGSTOP)  # hangs, as a dead peer would
        try:
            t0 = time.monotonic()
            for i in range(200):
                self.clients[0].set(b"while-down:%d" % i, b"v")
            self.assertLess(time.monotonic() - t0, 5.0)  # generous: not blocked
            wait_for(lambda: int(info(holder, "mirror_errors")) > errors_before, 20,
                     "mirror_errors to count the stalled old Redis")
        finally:
            os.kill(old_child.proc.pid, signal.SIGCONT)
        self.wait_equal(self.clients[0])

    def test_3_copies_from_the_old_redis_are_not_sent_back(self):
        holder = self.clients[self.forwarding().index("forwarding")]
        before = int(info(holder, "mirror_copies_not_returned"))
        self.old.set(b"direct:1", b"v1")  # a key not migrated yet
        self.assertEqual(self.clients[0].get(b"direct:1"), b"v1")  # copied, Redis-Event restore
        self.old.set(b"direct:1", b"newer-in-old")  # must not be overwritten by the copy
        wait_for(lambda: int(info(holder, "mirror_copies_not_returned")) > before, 15,
                 "the mirror to pass over the copy")
        wait_for(lambda: holder.info("all").get("mirror_lag") == 0, 15, "the mirror")
        self.assertEqual(self.old.get(b"direct:1"), b"newer-in-old")
        self.clients[0].delete(b"direct:1")  # a change through the gateway is mirrored
        wait_for(lambda: self.old.exists(b"direct:1") == 0, 15, "the mirrored DEL")

    def test_4_failover_of_the_forwarding_gateway(self):
        idx = self.forwarding().index("forwarding")
        gw = [c for c in self.stack.children
              if os.path.basename(c.log_path).startswith("gateway")][idx]
        os.kill(gw.proc.pid, signal.SIGKILL)
        gw.proc.wait()
        survivor = self.clients[1 - idx]
        self.clients = [survivor]
        wait_for(lambda: info(survivor, "mirror_role") == "forwarding", 15, "a new holder")
        self.load(3, ops=3000)
        self.wait_equal(survivor)


if __name__ == "__main__":
    unittest.main(verbosity=2)
