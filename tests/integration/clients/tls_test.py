#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TLS: Redis clients on --tls-port, and the gateway's own connection to NATS over TLS.

Certificates are made at start-up with the openssl CLI in the test's temporary directory: a
CA, a server certificate for IP 127.0.0.1 (used by both the gateway and nats-server), a client
certificate, and a second CA that signed none of them.

Clients: redis-cli --tls and redis-py (ssl=True) against a gateway that requires client
certificates (Redis's default, tls-auth-clients yes), one where they are optional (and the
plain port is off), refusals (no certificate, an untrusted server, plain text on the TLS
port), a 512 KiB value and a pipeline of 1000 commands through TLS.

NATS: nats-server with TLS (and, for one server, client verification); gateways reach it with
tls:// URLs through both NATS clients; a CA that did not sign the server's certificate, or a
missing client certificate, fails the connection with a clear log line.

Run with /usr/bin/python3 (Debian's python3-redis).
"""

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

try:
    import redis
except ImportError:  # pragma: no cover - depends on the interpreter
    redis = None

STACK = None
CERTS = {}
GW = {}  # name -> {"port": plain or None, "tls_port": int or None, "child": harness.Child}
NATS_TLS_PORT = None         # nats-server requiring TLS
NATS_VERIFY_PORT = None      # nats-server requiring TLS and a client certificate
CLI = harness.find_binary("REDIS_CLI_BIN", "redis-cli")
OPENSSL = shutil.which("openssl")


def openssl(*args):
    subprocess.run([OPENSSL] + list(args), cwd=STACK.dir, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certificates():
    """CA, server (IP SAN 127.0.0.1), client, and an unrelated CA, as PEM files."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=rng test CA")
    openssl("req", "-x509", *ec, "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2",
            "-subj", "/CN=rng unrelated CA")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(STACK.dir, name + ".ext"), "w") as f:
            f.write(ext)
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=rng " + name)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", name + ".ext")
    for name in ("ca.crt", "other-ca.crt", "server.crt", "server.key", "client.crt",
                 "client.key"):
        CERTS[name] = os.path.join(STACK.dir, name)


def start_tls_nats(extra_args, timeout=20.0):
    """A nats-server with JetStream that requires TLS; returns its port."""
    binary = harness.find_binary("NATS_SERVER_BIN", "nats-server")
    if binary is None:
        STACK.close()
        harness.skip_or_fail("nats-server not found; set NATS_SERVER_BIN")
    base = STACK._next("nats-server-tls")
    store = base + ".store"
    os.mkdir(store)
    argv = [binary, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", store, "--ports_file_dir", store,
            "--tls", "--tlscert", CERTS["server.crt"], "--tlskey", CERTS["server.key"]]
    child = harness.Child(argv + list(extra_args), base + ".log")
    STACK.children.append(child)
    ports = os.path.join(store, "nats-server_%d.ports" % child.proc.pid)
    port = [None]

    def ready():
        if child.exited():
            raise RuntimeError("nats-server exited during start-up:\n" + child.log_tail())
        if port[0] is None:
            m = re.search(r'"(?:nats|tls)://[^"]*:(\d+)"', harness._read(ports))
            port[0] = int(m.group(1)) if m else None
        # The INFO line comes in plain text before the TLS handshake.
        return port[0] is not None and harness._answers(port[0], b"INFO ")

    if not harness.wait_until(ready, timeout):
        raise RuntimeError("nats-server (TLS) did not start:\n" + child.log_tail())
    return port[0]


def start_gateway(name, args, nats_url=None, plain=True, tls=True, expect_nats=True,
                  timeout=20.0):
    """Starts a gateway with a plain and/or TLS listener on free ports; records it in GW."""
    binary = harness.find_binary("GATEWAY_BIN", "redis-nats-gateway")
    if binary is None:
        STACK.close()
        harness.skip_or_fail("gateway binary not found; set GATEWAY_BIN")
    base = STACK._next("gateway-" + name)
    argv = [binary, "--bind", "127.0.0.1", "--bucket", "tls-" + name, "--nats-timeout-ms", "2000",
            "--nats", nats_url or "nats://127.0.0.1:%d" % STACK.nats_port]
    argv += ["--port", "any", "--port-file", base + ".port"] if plain else ["--port", "off"]
    if tls:
        argv += ["--tls-port", "any", "--tls-port-file", base + ".tlsport",
                 "--tls-cert-file", CERTS["server.crt"], "--tls-key-file", CERTS["server.key"],
                 "--tls-ca-cert-file", CERTS["ca.crt"]]
    child = harness.Child(argv + list(args), base + ".log")
    STACK.children.append(child)
    info = {"port": None, "tls_port": None, "child": child}

    def ready():
        if child.exited():
            raise RuntimeError("gateway exited during start-up:\n" + child.log_tail())
        for key, suffix, wanted in (("port", ".port", plain), ("tls_port", ".tlsport", tls)):
            if wanted and info[key] is None:
                text = harness._read(base + suffix).strip()
                info[key] = int(text) if text.isdigit() else None
        return all(info[k] is not None and harness._answers(info[k])
                   for k, wanted in (("port", plain), ("tls_port", tls)) if wanted)

    if not harness.wait_until(ready, timeout):
        raise RuntimeError("gateway did not start:\n" + child.log_tail())
    if expect_nats and not harness.wait_until(lambda: "nats: connected" in child.log_tail(10000),
                                              timeout):
        raise RuntimeError("gateway did not connect to NATS:\n" + child.log_tail())
    GW[name] = info
    return info


def setUpModule():
    global STACK, NATS_TLS_PORT, NATS_VERIFY_PORT
    if OPENSSL is None:
        print("SKIP: the openssl command is not installed")
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    STACK = harness.Stack(prefix="rng-tls-")
    try:
        make_certificates()
        STACK.start_nats()
        start_gateway("required", [])
        start_gateway("optional", ["--tls-auth-clients", "optional"], plain=False)
        NATS_TLS_PORT = start_tls_nats([])
        NATS_VERIFY_PORT = start_tls_nats(["--tlsverify", "--tlscacert", CERTS["ca.crt"]])
    except Exception:
        STACK.dump_logs()
        STACK.close()
        raise


def tearDownModule():
    if STACK is not None:
        problems = STACK.close()
        if problems:
            raise AssertionError("gateway shutdown: " + "\n".join(problems))


def cli(port, *args, tls=("--cacert", "ca.crt", "--cert", "client.crt", "--key", "client.key")):
    """redis-cli --tls with files from the certificate directory; (exit code, output)."""
    tls_args = ["--tls"] + [CERTS.get(a, a) for a in tls] if tls is not None else []
    p = subprocess.run([CLI, "-h", "127.0.0.1", "-p", str(port)] + tls_args + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=20)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def tls_client(port, cert=True, ca="ca.crt", **kwargs):
    kwargs.update(ssl=True, ssl_ca_certs=CERTS[ca], ssl_cert_reqs="required")
    if cert:
        kwargs.update(ssl_certfile=CERTS["client.crt"], ssl_keyfile=CERTS["client.key"])
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, **kwargs)


class RedisClientsOverTlsTest(unittest.TestCase):
    def client(self, name="required", **kwargs):
        c = tls_client(GW[name]["tls_port"], **kwargs)
        self.addCleanup(c.close)
        return c

    def test_redis_cli_set_get(self):
        port = GW["required"]["tls_port"]
        self.assertEqual(cli(port, "set", "tls:cli", "hello"), (0, "OK\n"))
        self.assertEqual(cli(port, "get", "tls:cli"), (0, "hello\n"))
        # The same data through the plain port.
        self.assertEqual(cli(GW["required"]["port"], "get", "tls:cli", tls=None), (0, "hello\n"))

    def test_redis_py_ssl(self):
        r = self.client()
        self.assertTrue(r.set("tls:py", "v1"))
        self.assertEqual(r.get("tls:py"), b"v1")
        self.assertEqual(r.incr("tls:py:n"), 1)

    def test_large_value(self):
        r = self.client()
        value = os.urandom(512 * 1024)
        self.assertTrue(r.set("tls:large", value))
        self.assertEqual(r.get("tls:large"), value)
        self.assertEqual(r.strlen("tls:large"), len(value))

    def test_pipeline_of_1000(self):
        r = self.client()
        p = r.pipeline(transaction=False)
        for i in range(1000):
            p.set("tls:pipe:%d" % i, "v%d" % i)
        for i in range(1000):
            p.get("tls:pipe:%d" % i)
        replies = p.execute()
        self.assertEqual(replies[:1000], [True] * 1000)
        self.assertEqual(replies[1000:], [b"v%d" % i for i in range(1000)])

    def test_client_without_certificate_is_refused(self):
        code, out = cli(GW["required"]["tls_port"], "ping", tls=("--cacert", "ca.crt"))
        self.assertNotEqual(code, 0, out)
        self.assertNotIn("PONG", out)
        with self.assertRaises(redis.ConnectionError):
            self.client(cert=False).ping()
        self.assertTrue(harness.wait_until(
            lambda: "did not return a certificate" in GW["required"]["child"].log_tail(20000),
            5.0), GW["required"]["child"].log_tail())

    def test_optional_accepts_clients_with_and_without_certificate(self):
        self.assertTrue(self.client("optional", cert=False).set("tls:opt", "x"))
        self.assertEqual(self.client("optional").get("tls:opt"), b"x")
        self.assertEqual(cli(GW["optional"]["tls_port"], "get", "tls:opt",
                             tls=("--cacert", "ca.crt")), (0, "x\n"))

    def test_client_that_does_not_trust_the_ca_fails(self):
        code, out = cli(GW["required"]["tls_port"], "ping",
                        tls=("--cacert", "other-ca.crt", "--cert", "client.crt", "--key",
                             "client.key"))
        self.assertNotEqual(code, 0, out)
        self.assertIn("certificate verify failed", out)
        with self.assertRaises(redis.ConnectionError):
            self.client(ca="other-ca.crt").ping()

    def test_plain_text_on_the_tls_port_is_closed(self):
        conn = harness.RawConn(GW["required"]["tls_port"])
        self.addCleanup(conn.close)
        conn.send(harness.encode_command(["PING"]))
        out = conn.read_until_close(timeout=5.0)
        self.assertFalse(out.endswith(b"<open>"), out)
        self.assertNotIn(b"PONG", out)

    def test_plain_port_still_works(self):
        conn = harness.RawConn(GW["required"]["port"])
        self.addCleanup(conn.close)
        self.assertEqual(conn.command("PING"), b"+PONG\r\n")

    def test_python_ssl_socket_speaks_resp(self):
        # The standard library's TLS client: TLS 1.2 only, to cover the older protocol too.
        ctx = ssl.create_default_context(cafile=CERTS["ca.crt"])
        ctx.load_cert_chain(CERTS["client.crt"], CERTS["client.key"])
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection(("127.0.0.1", GW["required"]["tls_port"]), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
                self.assertEqual(t.version(), "TLSv1.2")
                t.sendall(harness.encode_command(["ECHO", "over tls 1.2"]))
                got = b""
                while not got.endswith(b"\r\n") or got.count(b"\r\n") < 2:
                    chunk = t.recv(1024)
                    if not chunk:
                        break
                    got += chunk
                self.assertEqual(got, b"$12\r\nover tls 1.2\r\n")

    def test_config_get_reports_tls_settings_not_keys(self):
        r = self.client()
        cfg = r.config_get("tls-*")
        self.assertEqual(cfg["tls-port"], str(GW["required"]["tls_port"]))
        self.assertEqual(cfg["tls-auth-clients"], "yes")
        self.assertEqual(cfg["tls-cert-file"], CERTS["server.crt"])
        self.assertEqual(cfg["tls-key-file"], CERTS["server.key"])
        for value in cfg.values():
            self.assertNotIn("BEGIN", value)
        # The optional gateway has no plain listener: port reads 0, as in Redis.
        self.assertEqual(self.client("optional").config_get("port"), {"port": "0"})

    def test_quit_ends_with_a_clean_close(self):
        code, out = cli(GW["required"]["tls_port"], "quit")
        self.assertEqual((code, out), (0, "OK\n"))


class StartupErrorsTest(unittest.TestCase):
    def run_gateway(self, *args):
        binary = harness.find_binary("GATEWAY_BIN", "redis-nats-gateway")
        p = subprocess.run([binary, "--bind", "127.0.0.1", "--port", "0", "--nats",
                            "nats://127.0.0.1:%d" % STACK.nats_port, "--bucket", "tls-bad"]
                           + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        return p.returncode, p.stdout.decode("utf-8", "replace")

    def test_tls_port_without_certificate_is_refused(self):
        code, out = self.run_gateway("--tls-port", "any")
        self.assertEqual(code, 2, out)
        self.assertIn("--tls-port needs --tls-cert-file and --tls-key-file", out)

    def test_key_in_place_of_certificate_fails_start_up(self):
        code, out = self.run_gateway("--tls-port", "any", "--tls-auth-clients", "no",
                                     "--tls-cert-file", CERTS["server.key"],
                                     "--tls-key-file", CERTS["server.key"])
        self.assertEqual(code, 1, out)
        self.assertIn("TLS: cannot load certificate file " + CERTS["server.key"], out)
        self.assertNotIn("PRIVATE KEY", out)

    def test_no_listener_at_all_is_refused(self):
        code, out = self.run_gateway("--port", "off")
        self.assertEqual(code, 2, out)
        self.assertIn("--port off needs --tls-port", out)


class NatsOverTlsTest(unittest.TestCase):
    def check_set_get(self, info, key):
        r = redis.Redis(host="127.0.0.1", port=info["port"], socket_timeout=10)
        self.addCleanup(r.close)
        self.assertTrue(r.set(key, "through tls"))
        self.assertEqual(r.get(key), b"through tls")
        return r

    def test_wire_client_over_tls(self):
        url = "tls://127.0.0.1:%d" % NATS_TLS_PORT
        info = start_gateway("nats-wire", ["--nats-tls-ca", CERTS["ca.crt"]], nats_url=url,
                             tls=False)
        r = self.check_set_get(info, "nats:tls:wire")
        self.assertEqual(r.info()["nats_url"], url)
        self.assertRegex(info["child"].log_tail(), r"nats: TLS with %s \(TLSv1\.[23] " %
                         re.escape(url))

    def test_natsc_client_over_tls(self):
        url = "tls://127.0.0.1:%d" % NATS_TLS_PORT
        info = start_gateway("nats-natsc", ["--nats-client", "natsc",
                                            "--nats-tls-ca", CERTS["ca.crt"]],
                             nats_url=url, tls=False)
        self.check_set_get(info, "nats:tls:natsc")

    def test_client_certificate_for_a_verifying_server(self):
        url = "tls://127.0.0.1:%d" % NATS_VERIFY_PORT
        for client in ("wire", "natsc"):
            info = start_gateway("nats-cert-" + client,
                                 ["--nats-client", client, "--nats-tls-ca", CERTS["ca.crt"],
                                  "--nats-tls-cert", CERTS["client.crt"],
                                  "--nats-tls-key", CERTS["client.key"]],
                                 nats_url=url, tls=False)
            self.check_set_get(info, "nats:tls:cert:" + client)

    def assert_not_connected(self, info, pattern):
        log = info["child"].log_tail
        self.assertTrue(harness.wait_until(lambda: re.search(pattern, log(20000)), 10.0), log())
        self.assertNotIn("nats: connected", log(20000))
        r = redis.Redis(host="127.0.0.1", port=info["port"], socket_timeout=10)
        self.addCleanup(r.close)
        with self.assertRaisesRegex(redis.ResponseError, "backend unavailable"):
            r.set("nats:tls:never", "x")

    def test_wrong_ca_fails_with_a_clear_message(self):
        url = "tls://127.0.0.1:%d" % NATS_TLS_PORT
        info = start_gateway("nats-wrong-ca", ["--nats-tls-ca", CERTS["other-ca.crt"]],
                             nats_url=url, tls=False, expect_nats=False)
        self.assert_not_connected(
            info, r"nats: TLS handshake with %s failed: certificate verify failed" %
            re.escape(url))

    def test_missing_client_certificate_fails(self):
        url = "tls://127.0.0.1:%d" % NATS_VERIFY_PORT
        info = start_gateway("nats-no-cert", ["--nats-tls-ca", CERTS["ca.crt"]], nats_url=url,
                             tls=False, expect_nats=False)
        # TLS 1.3: the server's refusal arrives as an alert after our side has finished (Go's
        # TLS stack sends "bad certificate").
        self.assert_not_connected(
            info, r"nats: TLS session with %s failed: .*(bad certificate|certificate required)"
            % re.escape(url))

    def test_plain_url_to_a_tls_server_upgrades_when_the_server_requires_it(self):
        # nats:// to a server that requires TLS: the server's INFO says so, the gateway
        # upgrades (a --nats-tls-ca is still needed to trust a private CA).
        url = "nats://127.0.0.1:%d" % NATS_TLS_PORT
        info = start_gateway("nats-upgrade", ["--nats-tls-ca", CERTS["ca.crt"]], nats_url=url,
                             tls=False)
        self.check_set_get(info, "nats:tls:upgrade")

    def test_tls_url_to_a_plain_server_is_refused(self):
        url = "tls://127.0.0.1:%d" % STACK.nats_port
        info = start_gateway("nats-no-tls", [], nats_url=url, tls=False, expect_nats=False)
        self.assert_not_connected(info, r"does not offer TLS")


def main():
    if redis is None:
        print("SKIP: the redis module is not importable by %s (use /usr/bin/python3)"
              % sys.executable)
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    if CLI is None:
        print("SKIP: redis-cli not found")
        sys.exit(1 if harness.nats_required() else harness.SKIP)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
