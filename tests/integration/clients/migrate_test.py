#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""`redis-nats-gateway migrate` (issue 10) from a real redis-server into NATS.

The source holds 100,000 strings with binary keys and values (random bytes with \\r\\n and NUL,
three values above 1 MiB that go to the Object Store), mixed TTLs (none, minutes, hours), and
500 hashes, lists, sets and sorted sets that are skipped. One nats-server serves two gateways
(buckets `mig` and `res`) and every migrate run.

  * test_1: a copy into `mig` under a pty: the progress bar (\\r redraws with keys/s) and the
    summary; then every value and every deadline (PEXPIRETIME, within 1 s) through the gateway,
    the counts, and the checkpoint (an internal key: DBSIZE, KEYS and SCAN do not show it).
  * test_2: a copy into `res` killed (SIGKILL) midway, then --resume --json: the same counts and
    data as an uninterrupted copy; a key written through the gateway before and a key deleted
    through it are kept (create-only); a second --resume says it is done.
  * test_3: --verify (all keys, and --sample) finds nothing after the copy, then finds a changed
    value (also of an Object Store value), a changed TTL and a removed TTL, in JSON and in text.

Run with /usr/bin/python3 (Debian's python3-redis). The data set is loaded with pipelines.
"""

import fcntl
import json
import os
import pty
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover - depends on the interpreter
    redis = None

STACK = None
GATEWAY = None
REDIS_PORT = None
PORTS = {}  # bucket -> gateway port
EXPECTED = {}  # key -> (value, pexpiretime) as loaded into the source
N_STRINGS = 100_000
N_BINARY_KEYS = 1000
LARGE = {b"big:1": 1536 * 1024, b"big:2": 2 * 1024 * 1024 + 17, b"big:3": 3 * 1024 * 1024}
OTHER_TYPES = {"hash": 200, "list": 150, "set": 100, "zset": 50}
N_TOTAL = N_STRINGS + sum(OTHER_TYPES.values())
MIGRATED = set()  # buckets a test has copied into


def setUpModule():
    global STACK, GATEWAY, REDIS_PORT
    STACK = harness.Stack(prefix="rng-migrate-")
    try:
        STACK.start_nats()
        GATEWAY = harness.find_binary("GATEWAY_BIN", "redis-nats-gateway")
        REDIS_PORT = STACK.start_redis()
        if REDIS_PORT is None:
            STACK.close()
            harness.skip_or_fail("redis-server not found; set REDIS_SERVER_BIN")
        for bucket in ("mig", "res"):
            PORTS[bucket] = STACK.start_gateway(bucket)
        load_source()
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


def load_source():
    """100k strings (binary, mixed TTLs, three large) and 500 keys of other types."""
    rnd = random.Random(10)
    src = redis.Redis(port=REDIS_PORT, socket_timeout=60)
    now_ms = int(time.time() * 1000)
    keys = [b"k:%06d" % i for i in range(N_STRINGS - N_BINARY_KEYS - len(LARGE))]
    for i in range(N_BINARY_KEYS):
        keys.append(b"bin:" + rnd.randbytes(6) + b"\x00\r\n :*" + str(i).encode())
    pipe = src.pipeline(transaction=False)
    for i, key in enumerate(keys):
        value = rnd.randbytes(rnd.randrange(0, 120))
        if i % 7 == 0:
            value += b"\r\n\x00\r\n"
        kind = i % 3
        deadline = -1
        if kind == 1:  # minutes
            deadline = now_ms + rnd.randrange(300_000, 1_800_000)
        elif kind == 2:  # hours
            deadline = now_ms + rnd.randrange(3 * 3600_000, 10 * 3600_000)
        if deadline > 0:
            pipe.set(key, value, pxat=deadline)
        else:
            pipe.set(key, value)
        EXPECTED[key] = (value, deadline)
        if len(pipe) >= 5000:
            pipe.execute()
    for j, (key, size) in enumerate(LARGE.items()):
        value = rnd.randbytes(size - 4) + b"\r\n\x00\n"
        deadline = now_ms + 7200_000 if j == 1 else -1
        if deadline > 0:
            pipe.set(key, value, pxat=deadline)
        else:
            pipe.set(key, value)
        EXPECTED[key] = (value, deadline)
    for i in range(OTHER_TYPES["hash"]):
        pipe.hset(b"h:%d" % i, b"f", b"v")
    for i in range(OTHER_TYPES["list"]):
        pipe.rpush(b"l:%d" % i, b"a", b"b")
    for i in range(OTHER_TYPES["set"]):
        pipe.sadd(b"s:%d" % i, b"m")
    for i in range(OTHER_TYPES["zset"]):
        pipe.zadd(b"z:%d" % i, {b"m": 1})
    pipe.execute()
    assert src.dbsize() == N_TOTAL, src.dbsize()
    src.close()


def migrate_argv(bucket, *extra):
    return [GATEWAY, "migrate", "--from", "redis://127.0.0.1:%d" % REDIS_PORT,
            "--nats", "nats://127.0.0.1:%d" % STACK.nats_port, "--bucket", bucket] + list(extra)


def run_migrate(bucket, *extra, timeout=120):
    """Runs migrate without a terminal; returns (exit code, stdout, stderr) as text."""
    p = subprocess.run(migrate_argv(bucket, *extra), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def run_under_pty(argv, timeout=120):
    """Runs argv with stdin, stdout and stderr on a pty (120 columns); returns (code, bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                chunk = b""
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
    os.close(master)
    return proc.wait(timeout=10), out


def migrated(bucket):
    """Copies the source into `bucket` once (a test that needs a migrated bucket)."""
    if bucket not in MIGRATED:
        code, out, err = run_migrate(bucket, "--json")
        assert code == 0, (code, out, err)
        MIGRATED.add(bucket)


# --- raw NATS (the checkpoint, stream state) ---------------------------------------------------

def nats_request(subject, payload, timeout=10.0):
    """One request/reply over a plain NATS connection; returns the JSON answer."""
    with socket.create_connection(("127.0.0.1", STACK.nats_port), timeout=timeout) as s:
        buf = b""

        def fill():
            nonlocal buf
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("nats-server closed the connection")
            buf += chunk

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                fill()
            first, buf = buf.split(b"\r\n", 1)
            return first

        def exactly(n):
            nonlocal buf
            while len(buf) < n:
                fill()
            out, buf = buf[:n], buf[n:]
            return out

        assert line().startswith(b"INFO ")
        body = payload.encode()
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                  b'"no_responders":true,"name":"migrate-test"}\r\n'
                  b"SUB _INBOX.migrate 1\r\n"
                  b"PUB %s _INBOX.migrate %d\r\n%s\r\nPING\r\n" % (subject.encode(), len(body),
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
                return json.loads(exactly(int(parts[-1]) + 2)[:-2])
            if parts[0] == b"HMSG":
                data = exactly(int(parts[-1]) + 2)[:-2]
                raise AssertionError("no answer to %s: %r" % (subject, data[:200]))
            raise AssertionError("unexpected from nats-server: %r" % head[:200])


def checkpoint_key(match=None, to_db=0):
    """gateway/migrate.cc CheckpointKey: FNV-1a 64 of host:port/db, match and to-db."""
    ident = (b"127.0.0.1:%d/0" % REDIS_PORT) + b"\0" + (b"m" + match if match else b"-") + \
        b"\0" + str(to_db).encode()
    h = 14695981039346656037
    for c in ident:
        h ^= c
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "=_migrate.%016x" % h


def read_checkpoint(bucket):
    import base64
    reply = nats_request("$JS.API.STREAM.MSG.GET.KV_" + bucket,
                         json.dumps({"last_by_subj": "$KV.%s.%s" % (bucket, checkpoint_key())}))
    if "message" not in reply:
        return None
    return json.loads(base64.b64decode(reply["message"]["data"]))


def stream_messages(stream):
    reply = nats_request("$JS.API.STREAM.INFO." + stream, "")
    return reply.get("state", {}).get("messages", 0) if "error" not in reply else 0


# --- checks ---------------------------------------------------------------------------------

def read_values(port, keys):
    """{key: (value or None, pexpiretime)} read in pipelines."""
    r = redis.Redis(port=port, socket_timeout=60)
    out = {}
    keys = list(keys)
    for start in range(0, len(keys), 5000):
        chunk = keys[start:start + 5000]
        pipe = r.pipeline(transaction=False)
        for k in chunk:
            pipe.get(k)
            pipe.execute_command("PEXPIRETIME", k)
        replies = pipe.execute()
        for i, k in enumerate(chunk):
            out[k] = (replies[2 * i], replies[2 * i + 1])
    r.close()
    return out


class MigrateTest(unittest.TestCase):
    def gateway(self, bucket):
        c = redis.Redis(port=PORTS[bucket], socket_timeout=60)
        self.addCleanup(c.close)
        return c

    def assert_copied(self, bucket, exceptions=()):
        """Every source string is in the gateway's bucket with its bytes and deadline (+-1 s)."""
        got = read_values(PORTS[bucket], EXPECTED.keys())
        bad = []
        for key, (value, deadline) in EXPECTED.items():
            if key in exceptions:
                continue
            g_value, g_deadline = got[key]
            if g_value != value:
                bad.append((key, "value", None if g_value is None else len(g_value), len(value)))
            elif (deadline < 0) != (g_deadline < 0) or abs(g_deadline - deadline) > 1000:
                bad.append((key, "deadline", g_deadline, deadline))
        self.assertEqual(bad[:10], [], "%d keys differ" % len(bad))
        # Other types were not copied.
        g = self.gateway(bucket)
        for prefix in (b"h:", b"l:", b"s:", b"z:"):
            self.assertEqual(g.exists(prefix + b"0"), 0)
        return got

    def assert_counts(self, result, copied, present):
        self.assertEqual(result["scanned"], N_TOTAL)
        self.assertEqual(result["copied"], copied)
        self.assertEqual(result["already_present"], present)
        self.assertEqual(result["skipped_by_type"], OTHER_TYPES)
        self.assertEqual(result["skipped"], sum(OTHER_TYPES.values()))
        self.assertEqual(result["too_long"], 0)
        self.assertEqual(result["vanished"], 0)

    def test_1_copy_with_progress_bar(self):
        code, out = run_under_pty(migrate_argv("mig"))
        text = out.decode("utf-8", "replace")
        self.assertEqual(code, 0, text[-3000:])
        MIGRATED.add("mig")
        # The progress line: redrawn in place with \r, a bar, percent, keys/s, bytes and ETA.
        bars = re.findall(r"\r\[[#.]{28}\]\s+\d+\.\d%\s+[\d,]+/[\d,]+ keys\s+[\d,]+ keys/s\s+"
                          r"[\d.]+ [KMG]?i?B", text)
        self.assertGreaterEqual(len(bars), 1, text[-3000:])
        self.assertIn("ETA ", text)
        # The summary, after the line was cleared.
        summary = {m.group(1): int(m.group(2).replace(",", "")) for m in re.finditer(
            r"\n  ([a-z][a-z ,()]+?)\s{2,}([\d,]+)(?=\s|$)", text.replace("\r\n", "\n"))}
        self.assertEqual(summary.get("keys scanned"), N_TOTAL, text[-2000:])
        self.assertEqual(summary.get("copied"), N_STRINGS, text[-2000:])
        self.assertEqual(summary.get("already present (kept)"), 0)
        self.assertEqual(summary.get("skipped by type"), sum(OTHER_TYPES.values()))
        for t, n in OTHER_TYPES.items():
            self.assertIn("%s: %d" % (t, n), text)
        self.assertIn("keys/s", text)

        self.assert_copied("mig")
        g = self.gateway("mig")
        # The checkpoint is an internal key: no Redis command shows it.
        cp = read_checkpoint("mig")
        self.assertIsNotNone(cp)
        self.assertTrue(cp["done"])
        self.assertEqual(cp["copied"], N_STRINGS)
        self.assertEqual(g.dbsize(), N_STRINGS)
        keys = g.keys("*")
        self.assertEqual(len(keys), N_STRINGS)
        self.assertFalse([k for k in keys if k.startswith(b"=") or b"migrate" in k])
        self.assertEqual(sum(1 for _ in g.scan_iter(count=5000)), N_STRINGS)
        for _ in range(50):
            self.assertIn(g.randomkey(), EXPECTED)
        # The large values went to the Object Store.
        self.assertGreater(stream_messages("OBJ_mig-objects"), 3 * 8)

    def test_2_kill_then_resume_keeps_gateway_writes(self):
        g = self.gateway("res")
        g.set(b"k:000005", b"written through the gateway")
        g.set(b"k:000006", b"deleted through the gateway")
        g.delete(b"k:000006")
        # A slow copy (few keys in flight), killed once a good part is in NATS.
        proc = subprocess.Popen(migrate_argv("res", "--json", "--window", "40"),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        ok = harness.wait_until(lambda: stream_messages("KV_res") > N_STRINGS // 3 or
                                proc.poll() is not None, 60, interval=0.02)
        self.assertTrue(ok)
        self.assertIsNone(proc.poll(), "the copy finished before it could be killed")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cp = read_checkpoint("res")
        self.assertIsNotNone(cp)
        self.assertFalse(cp["done"])
        self.assertNotEqual(cp["cursor"], "0")
        self.assertGreater(cp["scanned"], 0)
        self.assertLess(cp["scanned"], N_TOTAL)
        # The killed run had written keys past its checkpoint (the resumed run meets them
        # again): the stream holds more than the checkpoint's copies, the two gateway keys and
        # the checkpoint itself.
        self.assertGreater(stream_messages("KV_res"), cp["copied"] + 3)

        code, out, err = run_migrate("res", "--resume", "--json")
        self.assertEqual(code, 0, (out, err))
        result = json.loads(out)
        self.assertTrue(result["ok"])
        self.assertTrue(result["resumed"])
        self.assertFalse(result["already_done"])
        # The same counts as an uninterrupted copy: the keys the killed run wrote after its last
        # checkpoint count as copied; the two gateway keys as present.
        self.assert_counts(result, N_STRINGS - 2, 2)
        self.assertEqual(result["bytes"], sum(len(v) for k, (v, _) in EXPECTED.items()
                                              if k not in (b"k:000005", b"k:000006")))
        for field in ("seconds", "keys_per_sec"):
            self.assertIsInstance(result[field], (int, float))
        self.assert_copied("res", exceptions=(b"k:000005", b"k:000006"))
        self.assertEqual(g.get(b"k:000005"), b"written through the gateway")
        self.assertIsNone(g.get(b"k:000006"))
        self.assertEqual(g.dbsize(), N_STRINGS - 1)
        self.assertTrue(read_checkpoint("res")["done"])

        # Once done, --resume has nothing to do.
        code, out, err = run_migrate("res", "--resume", "--json")
        self.assertEqual(code, 0, (out, err))
        again = json.loads(out)
        self.assertTrue(again["already_done"])
        self.assert_counts(again, N_STRINGS - 2, 2)
        self.assertIn("already finished", err)

    def test_3_verify_finds_changes(self):
        migrated("mig")
        code, out, err = run_migrate("mig", "--verify", "--json")
        self.assertEqual(code, 0, (out, err))
        result = json.loads(out)
        self.assertTrue(result["ok"])
        self.assertEqual(result["verify"]["checked"], N_STRINGS)
        self.assertEqual(result["verify"]["matched"], N_STRINGS)
        self.assertEqual(result["verify"]["mismatches"], [])
        self.assertEqual(result["skipped_by_type"], OTHER_TYPES)

        code, out, err = run_migrate("mig", "--verify", "--sample", "300", "--json")
        self.assertEqual(code, 0, (out, err))
        sample = json.loads(out)
        self.assertEqual(sample["scanned"], 300)
        self.assertEqual(sample["verify"]["mismatches"], [])
        self.assertEqual(sample["verify"]["sample"], 300)

        src = redis.Redis(port=REDIS_PORT, socket_timeout=60)
        self.addCleanup(src.close)
        changed_value, changed_ttl, lost_ttl = b"k:000010", b"k:000013", b"k:000014"
        self.assertTrue(EXPECTED[changed_value][1] > 0 and EXPECTED[changed_ttl][1] > 0 and
                        EXPECTED[lost_ttl][1] > 0)
        src.set(changed_value, b"changed", keepttl=True)
        src.pexpireat(changed_ttl, EXPECTED[changed_ttl][1] + 60_000)
        src.persist(lost_ttl)
        src.setrange(b"big:2", 1000, b"X")
        try:
            code, out, err = run_migrate("mig", "--verify", "--json")
            self.assertEqual(code, 1, (out, err))
            result = json.loads(out)
            self.assertFalse(result["ok"])
            found = {m["key"]: m for m in result["verify"]["mismatches"]}
            self.assertEqual(sorted(found), ["big:2", "k:000010", "k:000013", "k:000014"])
            self.assertTrue(found["k:000010"]["value_differs"])
            self.assertFalse(found["k:000010"]["ttl_differs"])
            self.assertEqual(found["k:000010"]["source_bytes"], 7)
            self.assertNotEqual(found["k:000010"]["source_sha256"],
                                found["k:000010"]["nats_sha256"])
            self.assertTrue(found["big:2"]["value_differs"])
            for key in ("k:000013", "k:000014"):
                self.assertTrue(found[key]["ttl_differs"])
                self.assertFalse(found[key]["value_differs"])
            self.assertEqual(found["k:000014"]["source_pttl_ms"], -1)
            self.assertGreater(found["k:000014"]["nats_pttl_ms"], 0)
            self.assertEqual(result["verify"]["value_mismatches"], 2)
            self.assertEqual(result["verify"]["ttl_mismatches"], 2)

            # The same in text: one line per mismatch.
            code, out, err = run_migrate("mig", "--verify", "--match", "k:00001*")
            self.assertEqual(code, 1, (out, err))
            lines = [l for l in out.splitlines() if l.startswith("mismatch ")]
            self.assertEqual(len(lines), 3, out)
            self.assertRegex(out, r'mismatch "k:000010": value differs \(source 7 bytes')
            self.assertRegex(out, r'mismatch "k:000013": TTL differs \(source \d+ ms, NATS \d+ ms')
            self.assertRegex(out, r'mismatch "k:000014": TTL differs \(source none, NATS \d+ ms')
        finally:
            # Back as loaded, for any later run against this source.
            for key in (changed_value, changed_ttl, lost_ttl, b"big:2"):
                value, deadline = EXPECTED[key]
                if deadline > 0:
                    src.set(key, value, pxat=deadline)
                else:
                    src.set(key, value)

    def test_4_usage_errors(self):
        code, out, err = run_migrate("mig", "--verify", "--resume")
        self.assertEqual(code, 2)
        self.assertIn("--verify and --resume", err)
        p = subprocess.run([GATEWAY, "migrate", "--bucket", "mig"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--from", p.stderr)
        code, out, err = run_migrate("mig", "--json=yes")
        self.assertEqual(code, 2)
        # An unreachable source fails clearly, with exit status 1.
        p = subprocess.run([GATEWAY, "migrate", "--from", "redis://127.0.0.1:1", "--nats",
                            "nats://127.0.0.1:%d" % STACK.nats_port, "--bucket", "unreach",
                            "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(b"cannot connect to the source Redis", p.stderr)
        self.assertFalse(json.loads(p.stdout)["ok"])

    def test_5_embedded_nats_and_to_db(self):
        """Without --nats: the nats-server a gateway runs for --data-dir, else one of its own."""
        nats_bin = harness.find_binary("NATS_SERVER_BIN", "nats-server")
        ten = [b"k:%06d" % i for i in range(10)]

        # No server runs for this directory: migrate starts one for the copy and stops it.
        fresh = os.path.join(STACK.dir, "fresh-data")
        code, out, err = run_migrate_argv(
            [GATEWAY, "migrate", "--from", "redis://127.0.0.1:%d" % REDIS_PORT, "--match",
             "k:00000*", "--data-dir", fresh, "--nats-server-bin", nats_bin, "--json"])
        self.assertEqual(code, 0, (out, err))
        self.assertEqual(json.loads(out)["copied"], 10)
        self.assertIn("started nats-server", err)
        # A gateway that runs its own nats-server in that directory afterwards finds the keys;
        # a second migrate into database 2 uses that very server (its ports file).
        base = os.path.join(STACK.dir, "embedded-gateway")
        child = harness.Child([GATEWAY, "--bind", "127.0.0.1", "--port", "0", "--port-file",
                               base + ".port", "--data-dir", fresh, "--nats-server-bin",
                               nats_bin], base + ".log")
        STACK.children.append(child)
        self.assertTrue(harness.wait_until(lambda: "Ready to accept" in child.log_tail(), 30),
                        child.log_tail())
        with open(base + ".port") as f:
            port = int(f.read().strip())
        g = redis.Redis(port=port, socket_timeout=30)
        self.addCleanup(g.close)
        got = read_values(port, ten)
        self.assertEqual([got[k][0] for k in ten], [EXPECTED[k][0] for k in ten])
        code, out, err = run_migrate_argv(
            [GATEWAY, "migrate", "--from", "redis://127.0.0.1:%d/0" % REDIS_PORT, "--match",
             "k:00000*", "--data-dir", fresh, "--to-db", "2", "--json"])
        self.assertEqual(code, 0, (out, err))
        self.assertNotIn("started nats-server", err)
        self.assertEqual(json.loads(out)["bucket"], "redis-2")
        g.execute_command("SELECT", "2")
        self.assertEqual(g.get(b"k:000007"), EXPECTED[b"k:000007"][0])
        self.assertEqual(g.dbsize(), 10)

        # --nats may be repeated (a cluster's URLs); a verify of those ten keys through both.
        url = "nats://127.0.0.1:%d" % STACK.nats_port
        code, out, err = run_migrate_argv(
            [GATEWAY, "migrate", "--from", "redis://127.0.0.1:%d" % REDIS_PORT, "--match",
             "k:00000*", "--nats", url, "--nats", url, "--bucket", "mig", "--verify", "--json"])
        self.assertEqual(code, 0, (out, err))
        self.assertEqual(json.loads(out)["verify"]["matched"], 10)


def run_migrate_argv(argv, timeout=120):
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def main():
    if redis is None:
        print("SKIP: the redis module is not importable by %s (use /usr/bin/python3)"
              % sys.executable)
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
