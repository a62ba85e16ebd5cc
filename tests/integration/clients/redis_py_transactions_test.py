#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""redis-py transactions against two gateways on one bucket: optimistic locking with WATCH is
exact across gateways, and redis-py's default pipeline (MULTI/EXEC) works.

Run with /usr/bin/python3 (Debian's python3-redis 4.3.x).
"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover - depends on the interpreter
    redis = None

STACK = None
PORTS = []


def setUpModule():
    global STACK
    STACK = harness.Stack(prefix="rng-redispy-tx-")
    try:
        PORTS.append(STACK.start_gateway("redispy-tx"))
        PORTS.append(STACK.start_gateway("redispy-tx"))  # the same bucket
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


class TransactionsTest(unittest.TestCase):
    def client(self, port):
        c = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
        self.addCleanup(c.close)
        return c

    def test_watch_retry_loops_on_two_gateways_are_exact(self):
        key = "tx:counter"
        threads, per_thread = 4, 150
        retries = [0] * threads
        errors = []

        def worker(i):
            r = redis.Redis(host="127.0.0.1", port=PORTS[i % 2], socket_timeout=10)
            try:
                done = 0
                while done < per_thread:
                    with r.pipeline() as p:
                        try:
                            p.watch(key)
                            value = int(p.get(key) or 0)
                            p.multi()
                            p.set(key, value + 1)
                            p.execute()
                            done += 1
                        except redis.WatchError:
                            retries[i] += 1
            except Exception as e:  # surfaced by the assertion below
                errors.append(repr(e))
            finally:
                r.close()

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(int(self.client(PORTS[0]).get(key)), threads * per_thread)
        self.assertEqual(int(self.client(PORTS[1]).get(key)), threads * per_thread)
        # The loops did race: some EXECs were aborted and retried.
        print("WATCH retries per worker: %s" % retries, flush=True)

    def test_transaction_helper(self):
        r = self.client(PORTS[0])
        r.set("tx:balance", 100)

        def move(pipe):
            balance = int(pipe.get("tx:balance"))
            pipe.multi()
            pipe.set("tx:balance", balance - 30)
            pipe.incrby("tx:moved", 30)

        r.transaction(move, "tx:balance")
        self.assertEqual(r.get("tx:balance"), b"70")
        self.assertEqual(r.get("tx:moved"), b"30")

    def test_default_pipeline_is_a_transaction(self):
        r = self.client(PORTS[1])
        p = r.pipeline()  # transaction=True: MULTI ... EXEC
        p.set("tx:p", "1").incr("tx:p").get("tx:p").incr("tx:p:s")
        self.assertEqual(p.execute(), [True, 2, b"2", 1])
        p = r.pipeline()
        p.set("tx:text", "x").incr("tx:text").set("tx:after", "y")
        results = p.execute(raise_on_error=False)
        self.assertTrue(results[0])
        self.assertIsInstance(results[1], redis.ResponseError)
        self.assertTrue(results[2])

    def test_write_on_the_other_gateway_aborts(self):
        a, b = self.client(PORTS[0]), self.client(PORTS[1])
        a.set("tx:w", "1")
        with a.pipeline() as p:
            p.watch("tx:w")
            b.set("tx:w", "2")  # another gateway
            p.multi()
            p.set("tx:w", "3")
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(a.get("tx:w"), b"2")

    def test_msetnx(self):
        r = self.client(PORTS[0])
        self.assertTrue(r.msetnx({"tx:m1": "a", "tx:m2": "b"}))
        self.assertFalse(r.msetnx({"tx:m2": "x", "tx:m3": "y"}))
        self.assertEqual(r.mget("tx:m1", "tx:m2", "tx:m3"), [b"a", b"b", None])


def main():
    if redis is None:
        print("SKIP: the redis module is not importable by %s (use /usr/bin/python3)"
              % sys.executable)
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
