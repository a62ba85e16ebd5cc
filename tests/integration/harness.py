# SPDX-License-Identifier: Apache-2.0
"""Shared harness of the Python integration scripts.

Starts nats-server, the gateway and redis-server as child processes, each on a free loopback
port, with all files in one temporary directory that is removed afterwards:

  * nats-server: ``-a 127.0.0.1 -p -1 -js -sd DIR --ports_file_dir DIR``; the port is read
    from the ports file (2.9 writes ``{"nats":["nats://127.0.0.1:PORT"]}``), then polled with a
    deadline until the server greets with INFO.
  * gateway: ``--port 0 --port-file DIR/gateway-N.port``; waits for the file, then a connection.
  * redis-server: it cannot report a port it picked, so random high ports are tried and the
    start is retried when the server does not come up (the port was taken). Success is the log
    line "Ready to accept connections" from this very process, then a connection.

Binaries come from NATS_SERVER_BIN / REDIS_SERVER_BIN / GATEWAY_BIN, then PATH, then /usr/sbin.
A missing nats-server (or gateway) makes the script exit 77 ("skipped" for CTest), unless
RNG_REQUIRE_NATS=1 (CI), when it is a failure (exit 1).

Children get SIGKILL if this process dies (PR_SET_PDEATHSIG), and Stack kills them by pid and
removes the directory on exit.
"""

import ctypes
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def nats_required():
    return os.environ.get("RNG_REQUIRE_NATS") == "1"


def find_binary(env_var, name):
    value = os.environ.get(env_var) if env_var else None
    if value:
        return value if os.access(value, os.X_OK) else None
    dirs = os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/usr/local/sbin", "/usr/bin"]
    for d in dirs:
        candidate = os.path.join(d or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def skip_or_fail(reason):
    """Ends the script: skip (exit 77) locally, failure under RNG_REQUIRE_NATS=1."""
    if nats_required():
        print("FAIL: %s (RNG_REQUIRE_NATS=1)" % reason, flush=True)
        sys.exit(1)
    print("SKIP: %s" % reason, flush=True)
    sys.exit(SKIP)


def _die_with_parent():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def wait_until(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def _answers(port, greeting=b"", timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            if not greeting:
                return True
            s.settimeout(timeout)
            got = b""
            while len(got) < len(greeting):
                chunk = s.recv(256)
                if not chunk:
                    break
                got += chunk
            return got.startswith(greeting)
    except OSError:
        return False


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


class Child:
    """One child process whose stdout and stderr go to a log file."""

    def __init__(self, argv, log_path):
        self.argv = argv
        self.log_path = log_path
        log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     preexec_fn=_die_with_parent, close_fds=True)
        log.close()

    def exited(self):
        return self.proc.poll() is not None

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self, grace=5.0):
        """SIGTERM, SIGKILL after `grace` s. Returns how it ended: "exit 0", "signal 6", ...,
        "hung" when SIGKILL was needed; None if it had already ended before."""
        if self.proc.poll() is not None:
            return None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "hung"
        rc = self.proc.returncode
        return "exit %d" % rc if rc >= 0 else "signal %d" % -rc

    def log_tail(self, n=3000):
        return _read(self.log_path)[-n:]


class Stack:
    """A temporary directory plus the servers started in it. Use as a context manager."""

    def __init__(self, prefix="rng-it-py-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.children = []
        self.nats_port = None
        self._count = 0
        self._closed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not issubclass(exc_type, SystemExit):
            self.dump_logs()
        self.close()
        return False

    def _next(self, name):
        self._count += 1
        return os.path.join(self.dir, "%s-%d" % (name, self._count))

    def dump_logs(self):
        for c in self.children:
            print("---- %s (tail) ----\n%s" % (os.path.basename(c.log_path), c.log_tail()),
                  file=sys.stderr)

    def close(self):
        """Stops every child and removes the directory. Returns the problems found: a gateway
        that did not exit 0 on SIGTERM (a sanitizer report at exit, a hang) or that had died."""
        problems = []
        if self._closed:
            return problems
        self._closed = True
        for c in reversed(self.children):
            how = c.stop(grace=10.0)
            is_gateway = os.path.basename(c.log_path).startswith("gateway")
            if is_gateway and how != "exit 0":
                how = how or "died early (exit %s)" % c.proc.returncode
                problems.append("%s: %s\n%s" % (os.path.basename(c.log_path), how,
                                                 c.log_tail()))
        if os.environ.get("RNG_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    # --- nats-server -------------------------------------------------------------------------
    def start_nats(self, timeout=20.0):
        binary = find_binary("NATS_SERVER_BIN", "nats-server")
        if binary is None:
            self.close()
            skip_or_fail("nats-server not found; set NATS_SERVER_BIN")
        argv = [binary, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", self.dir,
                "--ports_file_dir", self.dir]
        child = Child(argv, self._next("nats-server") + ".log")
        self.children.append(child)
        suffix = "_%d.ports" % child.proc.pid
        port = [None]

        def ready():
            if child.exited():
                raise RuntimeError("nats-server exited during start-up:\n" + child.log_tail())
            if port[0] is None:
                for name in os.listdir(self.dir):
                    if name.endswith(suffix):
                        m = re.search(r'"nats"\s*:\s*\[\s*"nats://[^"]*:(\d+)"', _read(
                            os.path.join(self.dir, name)))
                        if m:
                            port[0] = int(m.group(1))
            return port[0] is not None and _answers(port[0], b"INFO ")

        if not wait_until(ready, timeout):
            raise RuntimeError("nats-server did not start:\n" + child.log_tail())
        self.nats_port = port[0]
        return port[0]

    # --- gateway -----------------------------------------------------------------------------
    def start_gateway(self, bucket, extra_args=(), timeout=20.0):
        binary = find_binary("GATEWAY_BIN", "redis-nats-gateway")
        if binary is None:
            self.close()
            skip_or_fail("gateway binary not found; set GATEWAY_BIN")
        if self.nats_port is None:
            self.start_nats()
        base = self._next("gateway")
        port_file = base + ".port"
        argv = [binary, "--bind", "127.0.0.1", "--port", "0", "--port-file", port_file,
                "--nats", "nats://127.0.0.1:%d" % self.nats_port, "--bucket", bucket,
                "--nats-timeout-ms", "2000"] + list(extra_args)
        child = Child(argv, base + ".log")
        self.children.append(child)
        port = [None]

        def ready():
            if child.exited():
                raise RuntimeError("gateway exited during start-up:\n" + child.log_tail())
            if port[0] is None:
                text = _read(port_file).strip()
                if text.isdigit():
                    port[0] = int(text)
            return port[0] is not None and _answers(port[0])

        if not wait_until(ready, timeout):
            raise RuntimeError("gateway did not start:\n" + child.log_tail())
        return port[0]

    # --- redis-server ------------------------------------------------------------------------
    def start_redis(self, extra_args=(), timeout=20.0):
        binary = find_binary("REDIS_SERVER_BIN", "redis-server")
        if binary is None:
            return None
        last = ""
        for _ in range(10):
            port = random.randint(20000, 32000)  # below the ephemeral range
            base = self._next("redis-server")
            argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                    "--logfile", ""] + list(extra_args)
            child = Child(argv, base + ".log")
            self.children.append(child)

            def ready():
                return (not child.exited() and
                        "Ready to accept connections" in _read(child.log_path) and
                        _answers(port))

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not child.exited():
                if ready():
                    return port
                time.sleep(0.01)
            last = child.log_tail()
            if not child.exited():  # hung rather than failed to bind: do not retry
                child.stop()
                break
        raise RuntimeError("redis-server did not start:\n" + last)


# --- raw RESP ---------------------------------------------------------------------------------

def encode_command(args):
    """A multibulk request; args are str or bytes."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def reply_end(buf, pos=0):
    """End offset of the complete RESP2/RESP3 reply starting at pos, or None if incomplete."""
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return None
    t = buf[pos:pos + 1]
    line = buf[pos + 1:nl]
    after = nl + 2
    if t in (b"+", b"-", b":", b"_", b",", b"#", b"("):
        return after
    if t in (b"$", b"=", b"!"):
        n = int(line)
        if n < 0:
            return after
        end = after + n + 2
        return end if len(buf) >= end else None
    if t in (b"*", b"~", b">", b"%", b"|"):
        n = int(line)
        if n < 0:
            return after
        if t in (b"%", b"|"):
            n *= 2
        p = after
        for _ in range(n):
            p = reply_end(buf, p)
            if p is None:
                return None
        if t == b"|":  # attributes precede the real reply
            return reply_end(buf, p)
        return p
    raise ValueError("not RESP: %r" % buf[pos:pos + 40])


class RawConn:
    """A raw TCP connection that reads whole RESP replies as bytes."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.closed = False

    def close(self):
        self.sock.close()

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def _fill(self, deadline):
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        return True

    def read_reply(self, timeout=None):
        """One complete reply as raw bytes; on timeout or close, what arrived, tagged."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                end = reply_end(self.buf) if self.buf else None
            except ValueError:
                end = None
            if end is not None:
                reply, self.buf = self.buf[:end], self.buf[end:]
                return reply
            if self.closed:
                reply, self.buf = self.buf + b"<closed>", b""
                return reply
            if time.monotonic() >= deadline:
                reply, self.buf = self.buf + b"<timeout>", b""
                return reply
            self._fill(deadline)

    def command(self, *args):
        self.send(encode_command(args))
        return self.read_reply()

    def read_until_close(self, timeout=3.0):
        """Everything until the peer closes; b'<open>' is appended if it did not."""
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._fill(deadline)
        out, self.buf = self.buf, b""
        return out + (b"" if self.closed else b"<open>")
