#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""redis-cli (7.0, from redis-tools) against the gateway: one-shot commands in raw and
formatted output, commands piped on stdin, RESP3 (-3), a password (-a), and an interactive
session on a pseudo-terminal, whose start-up sends COMMAND DOCS to build its help and hints.
"""

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

STACK = None
PORT = None
AUTH_PORT = None
CLI = harness.find_binary("REDIS_CLI_BIN", "redis-cli")


def setUpModule():
    global STACK, PORT, AUTH_PORT
    STACK = harness.Stack(prefix="rng-redis-cli-")
    try:
        PORT = STACK.start_gateway("rediscli")
        AUTH_PORT = STACK.start_gateway("rediscli-auth", ["--requirepass", "pw"])
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


def cli(*args, port=None, stdin=None):
    """Runs redis-cli with stdout not a terminal; returns (exit code, stdout text)."""
    p = subprocess.run([CLI, "-p", str(port or PORT)] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
    return p.returncode, p.stdout.decode("utf-8", "replace")


class RedisCliTest(unittest.TestCase):
    def test_set_and_get(self):
        self.assertEqual(cli("set", "user:1", "hello"), (0, "OK\n"))
        self.assertEqual(cli("get", "user:1"), (0, "hello\n"))

    def test_no_raw_formatting(self):
        cli("set", "cli:fmt", "v")
        self.assertEqual(cli("--no-raw", "ping"), (0, "PONG\n"))
        self.assertEqual(cli("--no-raw", "get", "cli:fmt"), (0, '"v"\n'))
        self.assertEqual(cli("--no-raw", "get", "cli:none"), (0, "(nil)\n"))
        self.assertEqual(cli("--no-raw", "exists", "cli:fmt"), (0, "(integer) 1\n"))
        self.assertEqual(cli("--no-raw", "del", "cli:fmt"), (0, "(integer) 1\n"))
        self.assertEqual(cli("--no-raw", "set", "cli:fmt", "v", "nx", "xx"),
                         (0, "(error) ERR syntax error\n"))

    def test_resp3(self):
        cli("set", "cli:r3", "x")
        self.assertEqual(cli("-3", "--no-raw", "get", "cli:r3"), (0, '"x"\n'))
        self.assertEqual(cli("-3", "--no-raw", "get", "cli:none"), (0, "(nil)\n"))

    def test_stdin_commands(self):
        code, out = cli(stdin=b"set cli:in hello\nget cli:in\nexists cli:in\nping\n")
        self.assertEqual(code, 0)
        self.assertEqual(out, "OK\nhello\n1\nPONG\n")

    def test_last_argument_from_stdin(self):
        code, out = cli("-x", "set", "cli:x", stdin=b"from stdin")
        self.assertEqual((code, out), (0, "OK\n"))
        self.assertEqual(cli("get", "cli:x"), (0, "from stdin\n"))

    def test_password(self):
        code, out = cli("get", "cli:pw", port=AUTH_PORT)
        self.assertIn("NOAUTH", out)
        self.assertEqual(cli("-a", "pw", "--no-auth-warning", "set", "cli:pw", "1",
                             port=AUTH_PORT), (0, "OK\n"))

    def gateway_summary(self, command):
        reply = harness.RawConn(PORT)
        try:
            docs = reply.command("COMMAND", "DOCS", command)
        finally:
            reply.close()
        marker = b"$7\r\nsummary\r\n$"
        self.assertIn(marker, docs)
        start = docs.index(b"\r\n", docs.index(marker) + len(marker)) + 2
        return docs[start:docs.index(b"\r\n", start)]

    def test_interactive_session(self):
        """On a terminal redis-cli starts a REPL and sends COMMAND DOCS first."""
        master, slave = pty.openpty()
        # A real size, or linenoise asks the terminal for its cursor position and waits.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
        proc = subprocess.Popen([CLI, "-p", str(PORT)], stdin=slave, stdout=slave, stderr=slave,
                                close_fds=True)
        os.close(slave)
        out = b""

        def read_until(token, since=0, timeout=10.0):
            """Reads until `token` appears in out[since:]; returns its end offset or -1."""
            nonlocal out
            deadline = time.monotonic() + timeout
            while out.find(token, since) < 0 and time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.1)
                if ready:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
            at = out.find(token, since)
            return at + len(token) if at >= 0 else -1

        prompt = ("127.0.0.1:%d> " % PORT).encode()

        def exchange(line, expect):
            """Types one line once the REPL is back at its prompt (typed-ahead input is lost
            while redis-cli switches the terminal mode), then waits for `expect`."""
            mark = len(out)
            os.write(master, line + b"\r")
            at = read_until(b"\r\n", mark)  # the line was entered
            self.assertGreaterEqual(at, 0, out[mark:])
            at = read_until(expect, at)
            self.assertGreaterEqual(at, 0, out[mark:])
            self.assertGreaterEqual(read_until(prompt, at), 0, out[mark:])

        try:
            self.assertGreaterEqual(read_until(prompt), 0, out)
            exchange(b"set cli:tty 'hello world'", b"OK")
            exchange(b"get cli:tty", b'"hello world"')
            # `help` shows the summaries the REPL fetched with COMMAND DOCS at start-up, so the
            # gateway's own summary proves that exchange worked.
            exchange(b"help get", self.gateway_summary("get"))
            exchange(b"nosuchcommand a", b"(error) ERR unknown command 'nosuchcommand'")
            os.write(master, b"quit\r")
            proc.wait(timeout=10)
            self.assertEqual(proc.returncode, 0, out)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        self.assertNotIn(b"Could not connect", out)
        self.assertNotIn(b"Error", out)


def main():
    if CLI is None:
        print("SKIP: redis-cli not found (redis-tools)")
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
