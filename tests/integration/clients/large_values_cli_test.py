#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Large values (issue 9) with unchanged clients: a 50 MB fake PDF through redis-cli (-x set,
--raw get, strlen, getrange across a 128 KiB chunk boundary, expire/ttl, overwrite with a small
value, del) and a 10 MB value through redis-py. The values go to the NATS object store
`redis-objects` of the bucket `redis`: the KV entry of doc:123 (KV key doc.123) is a pointer with
a Redis-Object header, checked over a raw NATS connection ($JS.API.STREAM.MSG.GET).

Run with /usr/bin/python3 (Debian's python3-redis). One nats-server and one gateway with the
default --object-threshold serve the module.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
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
PORT = None
CLI = harness.find_binary("REDIS_CLI_BIN", "redis-cli")
BUCKET = "redis"
OBJ_BUCKET = BUCKET + "-objects"
CHUNK = 128 * 1024
PDF_SIZE = 50 * 1024 * 1024
PY_SIZE = 10 * 1024 * 1024


def setUpModule():
    global STACK, PORT
    STACK = harness.Stack(prefix="rng-large-")
    try:
        PORT = STACK.start_gateway(BUCKET)
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


def cli(*args, stdin=None):
    """redis-cli with stdout not a terminal; returns (exit code, stdout bytes)."""
    p = subprocess.run([CLI, "-p", str(PORT)] + list(args), stdin=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout


def raw_value(out):
    """--raw prints a bulk string followed by exactly one newline."""
    assert out.endswith(b"\n"), out[-40:]
    return out[:-1]


def nats_request(subject, payload, timeout=10.0):
    """One request/reply over a plain NATS connection to the test's nats-server."""
    with socket.create_connection(("127.0.0.1", STACK.nats_port), timeout=timeout) as s:
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("nats-server closed the connection")
                buf += chunk
            first, buf = buf.split(b"\r\n", 1)
            return first

        def exactly(n):
            nonlocal buf
            while len(buf) < n:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("nats-server closed the connection")
                buf += chunk
            out, buf = buf[:n], buf[n:]
            return out

        assert line().startswith(b"INFO ")
        body = payload.encode()
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                  b'"no_responders":true,"name":"large-values-test"}\r\n'
                  b"SUB _INBOX.large 1\r\n"
                  b"PUB %s _INBOX.large %d\r\n%s\r\nPING\r\n" % (subject.encode(), len(body),
                                                                 body))
        while True:
            head = line()
            if head in (b"PONG", b"+OK") or head.startswith(b"INFO "):
                continue
            if head == b"PING":
                s.sendall(b"PONG\r\n")
                continue
            parts = head.split()
            if parts[0] == b"MSG":
                data = exactly(int(parts[-1]) + 2)[:-2]
                return json.loads(data)
            if parts[0] == b"HMSG":
                data = exactly(int(parts[-1]) + 2)[:-2]
                raise AssertionError("no answer to %s: %r" % (subject, data[:200]))
            raise AssertionError("unexpected from nats-server: %r" % head[:200])


def kv_pointer(kv_key):
    """The Redis-Object header of the KV entry kv_key (None if absent) and its payload size."""
    reply = nats_request("$JS.API.STREAM.MSG.GET.KV_" + BUCKET,
                         json.dumps({"last_by_subj": "$KV.%s.%s" % (BUCKET, kv_key)}))
    assert "message" in reply, reply
    msg = reply["message"]
    data = base64.b64decode(msg.get("data") or "")
    headers = base64.b64decode(msg.get("hdrs") or "").decode("latin-1")
    for h in headers.split("\r\n"):
        name, _, value = h.partition(":")
        if name.strip().lower() == "redis-object":
            fields = dict(f.split("=", 1) for f in value.split())
            return fields, len(data)
    return None, len(data)


def adr20_digest(data):
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


class LargeValuesTest(unittest.TestCase):
    def check_pointer(self, kv_key, value):
        fields, payload = kv_pointer(kv_key)
        self.assertIsNotNone(fields, "the KV entry of %s has no Redis-Object header" % kv_key)
        self.assertEqual(payload, 0)
        self.assertEqual(fields.get("bucket"), OBJ_BUCKET)
        self.assertEqual(fields.get("name"), kv_key)
        self.assertEqual(int(fields.get("size", -1)), len(value))
        self.assertEqual(int(fields.get("chunks", -1)), -(-len(value) // CHUNK))
        self.assertEqual(fields.get("digest"), adr20_digest(value))
        return fields

    def test_redis_cli_50mb_pdf(self):
        path = os.path.join(STACK.dir, "doc.pdf")
        data = b"%PDF-1.7\n" + os.urandom(PDF_SIZE - 9)
        with open(path, "wb") as f:
            f.write(data)
        t0 = time.monotonic()
        with open(path, "rb") as f:
            self.assertEqual(cli("-x", "set", "doc:123", stdin=f), (0, b"OK\n"))
        t_set = time.monotonic() - t0

        t0 = time.monotonic()
        code, out = cli("--raw", "get", "doc:123")
        t_get = time.monotonic() - t0
        self.assertEqual(code, 0)
        got = raw_value(out)
        self.assertEqual(len(got), len(data))
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())
        print("redis-cli 50 MiB: SET %.2f s, GET %.2f s" % (t_set, t_get), flush=True)
        del got, out

        ptr = self.check_pointer("doc.123", data)
        info = nats_request("$JS.API.STREAM.INFO.OBJ_" + OBJ_BUCKET, "")
        self.assertIn("config", info, info)
        self.assertGreaterEqual(info["state"]["bytes"], len(data))
        self.assertEqual(sorted(info["config"]["subjects"]),
                         ["$O.%s.C.>" % OBJ_BUCKET, "$O.%s.M.>" % OBJ_BUCKET])
        self.assertTrue(ptr.get("nuid"))

        self.assertEqual(cli("strlen", "doc:123"), (0, b"%d\n" % len(data)))
        self.assertEqual(cli("--raw", "getrange", "doc:123", "0", "8"), (0, b"%PDF-1.7\n\n"))
        for start, end in ((131000, 131200), (CHUNK - 1, CHUNK), (CHUNK, CHUNK),
                           (3 * CHUNK - 5, 5 * CHUNK + 5), (len(data) - 1000, len(data) + 50)):
            code, out = cli("--raw", "getrange", "doc:123", str(start), str(end))
            self.assertEqual(code, 0)
            self.assertEqual(raw_value(out), data[start:end + 1], "getrange %d %d" % (start, end))
        code, out = cli("--raw", "getrange", "doc:123", "-10", "-1")
        self.assertEqual(raw_value(out), data[-10:])

        self.assertEqual(cli("expire", "doc:123", "100"), (0, b"1\n"))
        code, out = cli("ttl", "doc:123")
        self.assertEqual(code, 0)
        self.assertIn(int(out), range(95, 101), out)
        self.assertEqual(cli("strlen", "doc:123"), (0, b"%d\n" % len(data)))
        self.assertEqual(cli("--raw", "getrange", "doc:123", "0", "8"), (0, b"%PDF-1.7\n\n"))

        self.assertEqual(cli("set", "doc:123", "small"), (0, b"OK\n"))
        self.assertEqual(cli("get", "doc:123"), (0, b"small\n"))
        self.assertEqual(cli("ttl", "doc:123"), (0, b"-1\n"))
        fields, payload = kv_pointer("doc.123")
        self.assertIsNone(fields, "a small value is stored inline again")
        self.assertEqual(payload, 5)

        self.assertEqual(cli("del", "doc:123"), (0, b"1\n"))
        self.assertEqual(cli("exists", "doc:123"), (0, b"0\n"))
        self.assertEqual(cli("get", "doc:123"), (0, b"\n"))

    @unittest.skipIf(redis is None, "redis-py is not importable (use /usr/bin/python3)")
    def test_redis_py_10mb(self):
        r = redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=60)
        self.addCleanup(r.close)
        value = os.urandom(PY_SIZE)
        self.assertTrue(r.set("doc:py", value))
        self.assertEqual(r.get("doc:py"), value)
        self.assertEqual(r.strlen("doc:py"), PY_SIZE)
        self.check_pointer("doc.py", value)
        self.assertEqual(r.getrange("doc:py", CHUNK - 3, CHUNK + 3), value[CHUNK - 3:CHUNK + 4])
        value2 = os.urandom(PY_SIZE // 2)
        self.assertTrue(r.set("doc:py", value2))
        self.assertEqual(r.get("doc:py"), value2)
        self.assertEqual(r.delete("doc:py"), 1)
        self.assertIsNone(r.get("doc:py"))

    def test_concurrent_writers_interleave_chunks(self):
        # Four clients write 12 MB values at once, so their chunk windows interleave in the
        # stream: some objects' chunks are not contiguous, and reads must then find each chunk
        # by subject (docs/design.md, "Large values"). Every GET and GETRANGE must still match.
        import random
        import threading
        values = {"inter:%d" % i: os.urandom(12_000_000 + i * 1000) for i in range(4)}
        errors = []

        def put(key):
            try:
                c = redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=60)
                c.set(key, values[key])
                c.close()
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=put, args=(k,)) for k in values]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        r = redis.Redis(host="127.0.0.1", port=PORT, socket_timeout=60)
        self.addCleanup(r.close)
        rng = random.Random(9)
        interleaved = 0
        for key, v in values.items():
            self.assertEqual(r.get(key), v, key)
            for _ in range(25):
                a = rng.randrange(-len(v), len(v))
                b = rng.randrange(-len(v), len(v))
                if a < 0 and b < 0 and a > b:
                    want = b""
                else:
                    s = max(a if a >= 0 else len(v) + a, 0)
                    e = min(max(b if b >= 0 else len(v) + b, 0), len(v) - 1)
                    want = b"" if s > e else v[s:e + 1]
                self.assertEqual(r.getrange(key, a, b), want, (key, a, b))
            fields, _ = kv_pointer(key.replace(":", "."))
            self.assertIsNotNone(fields, key)
            if int(fields["last"]) - int(fields["seq"]) + 1 != int(fields["chunks"]):
                interleaved += 1
        print("concurrent writers: %d of %d objects have interleaved chunks" %
              (interleaved, len(values)), file=sys.stderr)
        self.assertEqual(r.delete(*values), len(values))


def main():
    if CLI is None:
        print("SKIP: redis-cli not found (redis-tools)")
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
