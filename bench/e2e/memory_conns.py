#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# bench/e2e/memory_conns.py HOST PORT N: opens N client connections to a Redis-protocol server,
# sends one PING on each and waits for its +PONG (so the server has accepted the connection and
# built its client state), then prints "ready N" on stdout and holds them all idle until
# SIGTERM or SIGINT, when it closes them and exits 0. Used by bench/e2e/memory.sh to measure
# the server's memory per idle connection.
#
# Connections are opened in waves of WAVE (connect all, send all PINGs, then read all replies),
# so 10,000 connections take about a second. Any reply other than +PONG (for example
# "-ERR max number of clients reached") is printed on stderr and exits 1. Raises its own
# open-file limit to the hard limit; N must stay below it.
import resource
import signal
import socket
import sys

WAVE = 200
PING = b"*1\r\n$4\r\nPING\r\n"


def read_reply(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(64)
        if not chunk:
            raise ConnectionError("connection closed before the reply (%r)" % data)
        data += chunk
    return data


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: memory_conns.py HOST PORT N")
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if n + 50 > hard:
        sys.exit("memory_conns: %d connections need more than the open-file limit %d" % (n, hard))

    # Block the stop signals now, so one that arrives while connecting is not lost.
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)

    conns = []
    try:
        while len(conns) < n:
            wave = []
            for _ in range(min(WAVE, n - len(conns))):
                s = socket.create_connection((host, port), timeout=30)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                wave.append(s)
            for s in wave:
                s.sendall(PING)
            for s in wave:
                reply = read_reply(s)
                if reply != b"+PONG\r\n":
                    raise ConnectionError("connection %d answered %r" % (len(conns), reply))
                conns.append(s)
    except (OSError, ConnectionError) as e:
        print("memory_conns: after %d connections: %s" % (len(conns), e), file=sys.stderr)
        sys.exit(1)

    print("ready %d" % len(conns), flush=True)
    signal.sigwait(stop)
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
