#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Byte-for-byte parity with redis-server 7.0 for pub/sub (SUBSCRIBE, PSUBSCRIBE, UNSUBSCRIBE,
PUNSUBSCRIBE, PUBLISH, PUBSUB, and the subscribed mode of a connection).

Same method as the other parity_*_test.py scripts (parity_lib.py): redis-server and the gateway
(with its own nats-server) on free loopback ports, the same raw RESP bytes sent to both, the
replies compared exactly, in RESP2 and in RESP3 (HELLO 3, its reply masked by mask_hello).

Covered: the (p)subscribe/(p)unsubscribe frames (repeats, unknown names, the no-argument forms
with and without subscriptions, channels and patterns counted together), PING while subscribed
(with and without an argument, RESP2 and RESP3), the RESP2 subscribed-mode error (and the
errors checked before it: unknown command, arity), commands allowed in RESP3 while subscribed,
PUBLISH's count of local receivers (channel and pattern subscribers), message and pmessage
frames in both protocols (binary and empty channel names and payloads included), glob patterns,
PUBSUB CHANNELS [pattern] / NUMSUB / NUMPAT, RESET and QUIT while subscribed, HELLO switching
protocol while subscribed, and wrong arity.

Steps of this script, besides parity_lib's:
  * Frames(n, *args): one command that answers with n frames (SUBSCRIBE a b c: 3 frames).
  * SetFrames(n, *args): the same, for UNSUBSCRIBE / PUNSUBSCRIBE without arguments only, whose
    frame order is not defined (Redis walks a hash table, the gateway goes by name): the
    (kind, name) heads are compared as a sorted list, the counts in the order received.
  * Publish(channel, message, n, sort=False): PUBLISH on a second connection to the same server,
    its reply, then the n frames the case's connection receives. Redis walks the matching
    patterns in hash order, so several pmessage frames for one PUBLISH are compared sorted.
  * Idle(): waits (on another connection) until the server has no subscriptions left, so the
    server-wide counts (PUBSUB CHANNELS without a pattern, NUMPAT) do not see the connections
    of earlier cases that are still closing. Replies nothing.
  * Sorted(*args): an array reply compared as a sorted list (PUBSUB CHANNELS).
  * Subscriber(n, *args) / SubscriberFrames() / CloseSubscribers(): further connections that
    subscribe and stay open, what they received (up to a PING each), and closing them.

Each message is published from another connection, so nothing here depends on NATS: with one
gateway every receiver is local and is delivered to before PUBLISH replies, as in Redis.

Prints one line per case and a final "N passed, M failed"; exits 1 on any failure, 77 when
nats-server, the gateway or redis-server is missing (unless RNG_REQUIRE_NATS=1).
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
import parity_lib  # noqa: E402
from parity_lib import C, INTEGER, Raw, mask_hello  # noqa: E402

PREFIX = "pps:"


def _port(conn):
    return conn.sock.getpeername()[1]


class Frames(C):
    """One command answered by `n` replies (frames), concatenated in order."""

    def __init__(self, n, *args):
        super().__init__(*args)
        self.n = n

    def run(self, conn):
        conn.send(harness.encode_command(self.args))
        return b"".join(conn.read_reply() for _ in range(self.n))

    def __repr__(self):
        return "%s (%d frames)" % (super().__repr__(), self.n)


class SetFrames(Frames):
    """As Frames, for the frames of UNSUBSCRIBE / PUNSUBSCRIBE without arguments, whose order
    Redis does not define: compared as the sorted list of (kind, name) and, separately, the
    counts in the order received (each frame counts what is left, so they always go down)."""

    def run(self, conn):
        conn.send(harness.encode_command(self.args))
        frames = [conn.read_reply() for _ in range(self.n)]
        heads, counts = [], []
        for f in frames:
            cut = f.rfind(b":")
            if not (f[:1] in (b"*", b">") and INTEGER.fullmatch(f[cut:])):
                return b"not a frame: " + b"|".join(frames)
            heads.append(f[:cut])
            counts.append(f[cut:])
        return b"set:" + b"|".join(sorted(heads)) + b" counts:" + b"".join(counts)


class Publish:
    """PUBLISH from a second connection: its reply, then the n frames this connection gets."""

    def __init__(self, channel, message, n, sort=False):
        self.channel, self.message, self.n, self.sort = channel, message, n, sort

    def run(self, conn):
        other = harness.RawConn(_port(conn))
        try:
            reply = other.command("PUBLISH", self.channel, self.message)
        finally:
            other.close()
        frames = [conn.read_reply() for _ in range(self.n)]
        if self.sort:
            frames.sort()
        return reply + b"=>" + b"".join(frames)

    def keys(self):
        return []

    def __repr__(self):
        return "PUBLISH %r %r from another connection, %d frame(s)%s" % (
            self.channel, self.message[:40], self.n, " sorted" if self.sort else "")


class Idle:
    """Waits until the server has no channel or pattern subscriptions (at most 5 s)."""

    def run(self, conn):
        other = harness.RawConn(_port(conn))
        try:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                if (other.command("PUBSUB", "NUMPAT") == b":0\r\n" and
                        other.command("PUBSUB", "CHANNELS") == b"*0\r\n"):
                    return b""
                time.sleep(0.01)
            return b"<subscriptions of earlier cases still there>"
        finally:
            other.close()

    def keys(self):
        return []

    def __repr__(self):
        return "idle"


_subscribers = []


class Subscriber(C):
    """Another connection that sends this command (n replies) and stays open, subscribed, until
    CloseSubscribers. Arguments starting with HELLO 3 are two commands (HELLO 3, then the rest);
    the case masks HELLO's id."""

    def __init__(self, n, *args):
        super().__init__(*args)
        self.n = n

    def run(self, conn):
        other = harness.RawConn(_port(conn))
        _subscribers.append(other)
        if self.args[0] == "HELLO":
            other.send(harness.encode_command(self.args[:2]) +
                       harness.encode_command(self.args[2:]))
        else:
            other.send(harness.encode_command(self.args))
        return b"".join(other.read_reply() for _ in range(self.n))

    def __repr__(self):
        return "another connection: %s (%d replies)" % (super().__repr__(), self.n)


class SubscriberFrames:
    """Everything the Subscriber connections received since, in order of connection (PING
    ends each one's stream: every message before it was delivered before PUBLISH replied)."""

    def run(self, conn):
        out = []
        for other in _subscribers:
            other.send(harness.encode_command(["PING", "end"]))
            frames = []
            while True:
                f = other.read_reply()
                frames.append(f)
                if f.endswith(b"end\r\n") or f.endswith(b">"):
                    break
            out.append(b"".join(frames))
        return b" || ".join(out)

    def keys(self):
        return []

    def __repr__(self):
        return "frames received by the other connections"


class CloseSubscribers:
    def run(self, conn):
        while _subscribers:
            _subscribers.pop().close()
        return b""

    def keys(self):
        return []

    def __repr__(self):
        return "close the other connections"


class Sorted(C):
    """An array reply compared as a sorted list of its items."""

    def run(self, conn):
        reply = super().run(conn)
        if not reply.startswith(b"*"):
            return reply
        items, rest = [], reply[reply.index(b"\r\n") + 2:]
        while rest:
            end = harness.reply_end(rest)
            items.append(rest[:end])
            rest = rest[end:]
        return b"sorted:" + b"|".join(sorted(items))


def cases():
    """(name, steps, mask, known), as parity_lib.run expects."""
    out = []

    def case(name, steps, mask=None, known=None):
        out.append((name, steps, mask, known))

    def both(name, steps):
        """The case in RESP2, and in RESP3 after HELLO 3."""
        case(name + "_resp2", steps)
        case(name + "_resp3", [C("HELLO", "3")] + steps, mask=mask_hello)

    # --- frames of (p)subscribe and (p)unsubscribe ---------------------------------------------
    both("subscribe_frames_with_repeats",
         [Frames(3, "SUBSCRIBE", "ch:a", "ch:b", "ch:a"),
          Frames(2, "SUBSCRIBE", "ch:b", "ch:c"),
          Frames(2, "UNSUBSCRIBE", "ch:b", "ch:unknown"),
          Frames(2, "UNSUBSCRIBE", "ch:b", "ch:b"),
          SetFrames(2, "UNSUBSCRIBE"),
          Frames(1, "UNSUBSCRIBE"),
          Frames(1, "UNSUBSCRIBE"),
          Frames(1, "UNSUBSCRIBE", "ch:a")])
    both("psubscribe_frames_with_repeats",
         [Frames(3, "PSUBSCRIBE", "p:*", "p:?", "p:*"),
          Frames(2, "PSUBSCRIBE", "p:?", "p:[ab]"),
          Frames(2, "PUNSUBSCRIBE", "p:?", "p:nope*"),
          SetFrames(2, "PUNSUBSCRIBE"),
          Frames(1, "PUNSUBSCRIBE"),
          Frames(1, "PUNSUBSCRIBE", "p:*")])
    both("channels_and_patterns_counted_together",
         [Frames(2, "SUBSCRIBE", "mix:1", "mix:2"),
          Frames(2, "PSUBSCRIBE", "mix:*", "mix:1"),
          Frames(1, "SUBSCRIBE", "mix:*"),
          Frames(1, "PUNSUBSCRIBE", "mix:1"),
          SetFrames(3, "UNSUBSCRIBE"),
          Frames(1, "UNSUBSCRIBE"),
          Frames(1, "PUNSUBSCRIBE", "mix:nope"),
          Frames(1, "PUNSUBSCRIBE")])
    both("unsubscribe_without_subscriptions",
         [Frames(1, "UNSUBSCRIBE"), Frames(1, "PUNSUBSCRIBE"),
          Frames(2, "UNSUBSCRIBE", "x", "y"), Frames(1, "PUNSUBSCRIBE", "x*"),
          C("PING")])
    both("empty_and_binary_names",
         [Frames(2, "SUBSCRIBE", "", b"bin\x00\xff\r\n ch"),
          Frames(1, "PSUBSCRIBE", ""),
          Frames(2, "UNSUBSCRIBE", "", b"bin\x00\xff\r\n ch"),
          Frames(1, "PUNSUBSCRIBE", "")])

    # --- PING and the subscribed mode ----------------------------------------------------------
    both("ping_while_subscribed",
         [C("PING"), C("PING", "x"), Frames(1, "SUBSCRIBE", "ping:ch"), C("PING"),
          C("PING", "hello"), C("PING", ""), C("PING", "a", "b"), Raw(b"PING\r\n"),
          Frames(1, "UNSUBSCRIBE", "ping:ch"), Frames(1, "PSUBSCRIBE", "ping:*"), C("PING"),
          C("PING", "pat"), Frames(1, "PUNSUBSCRIBE"), C("PING"), C("PING", "after")])
    k = PREFIX + "mode:k"
    case("resp2_subscribed_mode_errors",
         [Frames(1, "SUBSCRIBE", "mode:ch"), C("GET", k), C("SET", k, "v"), C("get", k),
          C("PUBLISH", "mode:ch", "m"), C("PUBSUB", "NUMPAT"), C("CLIENT", "ID"),
          C("HELLO", "2"), C("HELLO", "3"), C("ECHO", "x"), C("SELECT", "1"),
          C("NOSUCHCMD", "a"), C("GET"), C("SET", k), C("PUBSUB", "NOSUCH"),
          Frames(1, "UNSUBSCRIBE"), C("SET", k, "v"), C("GET", k)])
    case("resp2_pattern_subscription_is_subscribed_mode_too",
         [Frames(1, "PSUBSCRIBE", "mode:*"), C("GET", k), Frames(1, "PUNSUBSCRIBE", "mode:*"),
          C("GET", k)])
    case("resp2_subscribed_mode_pipelined",
         [Raw(harness.encode_command(["SUBSCRIBE", "pipe:ch"]) +
              harness.encode_command(["GET", k]) +
              b"PING\r\n" +
              harness.encode_command(["UNSUBSCRIBE", "pipe:ch"]) +
              harness.encode_command(["GET", k]) +
              harness.encode_command(["PING"]), replies=6)])
    case("resp3_commands_allowed_while_subscribed",
         [C("HELLO", "3"), Frames(1, "SUBSCRIBE", "r3:ch"), C("SET", k, "v"), C("GET", k),
          C("ECHO", "x"), C("DEL", k), C("PUBSUB", "NUMSUB", "r3:ch"), C("CLIENT", "GETNAME"),
          C("PING"), Frames(1, "PSUBSCRIBE", "r3:*"), C("GET", k), Frames(1, "UNSUBSCRIBE"),
          Frames(1, "PUNSUBSCRIBE")], mask=mask_hello)
    # Redis writes the pushes of a PUBLISH to the publisher's own subscriptions before the
    # PUBLISH reply.
    case("resp3_publish_to_own_channel",
         [C("HELLO", "3"), Frames(1, "SUBSCRIBE", "self:ch"), Frames(2, "PUBLISH", "self:ch", "me"),
          Frames(1, "PSUBSCRIBE", "self:*"), Frames(3, "PUBLISH", "self:ch", "again"),
          Frames(2, "PUBLISH", "self:other", "pattern only")], mask=mask_hello)
    case("hello_switches_protocol_while_subscribed",
         [C("HELLO", "3"), Frames(1, "SUBSCRIBE", "hello:ch"), C("GET", k), C("HELLO", "2"),
          C("GET", k), Publish("hello:ch", "in resp2", 1), C("PING"),
          Frames(1, "UNSUBSCRIBE"), C("GET", k)], mask=mask_hello)
    case("quit_while_subscribed", [Frames(1, "SUBSCRIBE", "quit:ch"), Raw(
        harness.encode_command(["QUIT"]) + harness.encode_command(["PING"]), replies=2)])
    both("reset_while_subscribed",
         [Frames(2, "SUBSCRIBE", "reset:a", "reset:b"), Frames(1, "PSUBSCRIBE", "reset:*"),
          C("RESET"), C("GET", k), C("PING"), C("PUBSUB", "NUMSUB", "reset:a", "reset:b"),
          C("PUBSUB", "CHANNELS", "reset:*"), Frames(1, "UNSUBSCRIBE"),
          Publish("reset:a", "gone", 0), C("PING")])

    # --- PUBLISH and the message frames --------------------------------------------------------
    both("message_frames",
         [Frames(1, "SUBSCRIBE", "msg:ch"), Publish("msg:ch", "hello", 1),
          Publish("msg:other", "not for me", 0), Publish("msg:ch", "", 1),
          Publish("msg:ch", bytes(range(256)) + b"\r\n*1\r\n", 1),
          Publish("msg:ch", "x" * 70000, 1), C("PING"), C("PING", "y"),
          Frames(1, "UNSUBSCRIBE", "msg:ch"), Publish("msg:ch", "after", 0), C("PING")])
    both("pmessage_frames",
         [Frames(1, "PSUBSCRIBE", "pm:*"), Publish("pm:a", "one", 1), Publish("pm:", "two", 1),
          Publish("pm", "no", 0), Publish("xpm:a", "no", 0),
          Publish(b"pm:\x00\xff", b"\x01\x02", 1), Frames(1, "PUNSUBSCRIBE", "pm:*"),
          Publish("pm:a", "after", 0), C("PING")])
    both("channel_and_pattern_receivers",
         [Frames(1, "SUBSCRIBE", "both:ch"), Frames(1, "PSUBSCRIBE", "both:*"),
          Publish("both:ch", "m1", 2), Frames(1, "PSUBSCRIBE", "*:ch"),
          Publish("both:ch", "m2", 3, sort=True), Publish("both:other", "m3", 1),
          Publish("x:ch", "m4", 1), Frames(1, "UNSUBSCRIBE", "both:ch"),
          Publish("both:ch", "m5", 2, sort=True), C("PING")])
    both("empty_channel",
         [Frames(1, "SUBSCRIBE", ""), Publish("", "to the empty channel", 1),
          Frames(1, "PSUBSCRIBE", "?*"), Publish("", "again", 1), Publish("a", "star", 1),
          C("PING")])
    # Redis's stringmatchlen never matches the empty string, not even with "*" (its loop runs
    # while both the pattern and the string are left).
    for name, steps in [("star_pattern_and_empty_channel_resp2", []),
                        ("star_pattern_and_empty_channel_resp3", [C("HELLO", "3")])]:
        case(name, steps + [Frames(1, "PSUBSCRIBE", "*"), Publish("", "empty", 0),
                            Publish("a", "a", 1), C("PING")], mask=mask_hello)
    case("glob_patterns",
         [Frames(9, "PSUBSCRIBE", "g:h?llo", "g:h*llo", "g:h[ae]llo", "g:h[^e]llo",
                 "g:h[a-b]llo", "g:h\\*llo", "ne?s:*", "*:tech", "g:[x]")] +
         [Publish(ch, "m", n, sort=True) for ch, n in [
             ("g:hello", 3), ("g:hallo", 5), ("g:hxllo", 3), ("g:hllo", 1), ("g:heeello", 1),
             ("g:h*llo", 4), ("g:x", 1), ("news:tech", 2), ("nexs:a", 1), ("news", 0),
             ("new:tech", 1), ("g:hbllo", 4)]] +
         [C("PING")])
    case("publish_counts_without_subscribers",
         [C("PUBLISH", "nobody:ch", "m"), C("PUBLISH", "", ""), C("PUBLISH", b"\xff", b"\x00")])
    case("publish_counts_every_subscriber",
         [Frames(1, "SUBSCRIBE", "cnt:ch"), Frames(1, "PSUBSCRIBE", "cnt:*"),
          Frames(1, "PSUBSCRIBE", "cnt:?h"),
          Publish("cnt:ch", "m", 3, sort=True)])

    # --- PUBSUB --------------------------------------------------------------------------------
    both("pubsub_introspection",
         [Idle(), C("PUBSUB", "CHANNELS"), C("PUBSUB", "NUMPAT"), C("PUBSUB", "NUMSUB"),
          Frames(3, "SUBSCRIBE", "intro:b", "intro:a", "intro:c:x"),
          Frames(2, "PSUBSCRIBE", "intro:*", "other:*"),
          Sorted("PUBSUB", "CHANNELS"), Sorted("PUBSUB", "CHANNELS", "intro:?"),
          Sorted("PUBSUB", "CHANNELS", "intro:*"), C("PUBSUB", "CHANNELS", "nomatch*"),
          C("PUBSUB", "NUMSUB", "intro:a", "intro:nope", "intro:a", "intro:*"),
          C("PUBSUB", "NUMPAT"), C("pubsub", "numpat"),
          Frames(1, "UNSUBSCRIBE", "intro:a"), Sorted("PUBSUB", "CHANNELS", "intro:*"),
          C("PUBSUB", "NUMSUB", "intro:a", "intro:b"),
          Frames(1, "PUNSUBSCRIBE", "intro:*"), C("PUBSUB", "NUMPAT")])
    case("several_subscribers",
         [Idle(), Subscriber(2, "SUBSCRIBE", "multi:a", "multi:b"),
          Subscriber(1, "PSUBSCRIBE", "multi:*"), Subscriber(2, "SUBSCRIBE", "multi:a", "x"),
          Subscriber(2, "HELLO", "3", "SUBSCRIBE", "multi:a"),
          C("PUBSUB", "NUMSUB", "multi:a", "multi:b", "x", "multi:*"), C("PUBSUB", "NUMPAT"),
          Sorted("PUBSUB", "CHANNELS"), C("PUBLISH", "multi:a", "m"),
          C("PUBLISH", "multi:b", "m"), C("PUBLISH", "multi:c", "m"),
          C("PUBLISH", "x", "m"), SubscriberFrames(), CloseSubscribers()], mask=mask_hello)
    case("pubsub_arguments",
         [C("PUBSUB"), C("PUBSUB", "NOSUCH"), C("PUBSUB", "NUMPAT", "x"), C("PUBSUB", "NUMSUB"),
          C("pubsub", "Channels", "zz*")])
    # Redis 7.0 (pubsubCommand) accepts CHANNELS with at most one pattern.
    case("pubsub_channels_two_patterns", [C("PUBSUB", "CHANNELS", "a", "b")])
    # Keyspace channels are ordinary channels to SUBSCRIBE and PUBLISH (notifications are off).
    both("keyspace_channels_as_plain_channels",
         [Frames(1, "SUBSCRIBE", "__keyspace@0__:pps:ks"),
          Frames(1, "PSUBSCRIBE", "__keyevent@0__:*"),
          Publish("__keyspace@0__:pps:ks", "by hand", 1), Publish("__keyevent@0__:set", "e", 1),
          C("PUBSUB", "NUMSUB", "__keyspace@0__:pps:ks"), C("PING"),
          Frames(1, "UNSUBSCRIBE"), Frames(1, "PUNSUBSCRIBE")])

    # --- arity ---------------------------------------------------------------------------------
    both("wrong_arity",
         [C("SUBSCRIBE"), C("PSUBSCRIBE"), C("PUBLISH"), C("PUBLISH", "ch"),
          C("PUBLISH", "ch", "a", "b"), C("subscribe"), C("PING")])
    case("wrong_arity_while_subscribed",
         [Frames(1, "SUBSCRIBE", "ar:ch"), C("SUBSCRIBE"), C("PSUBSCRIBE"), C("PUBLISH", "x"),
          Frames(1, "UNSUBSCRIBE")])
    return out


def main():
    parity_lib.set_prefix(PREFIX)
    return parity_lib.run(cases, "rng-parity-pubsub-", "parity-pubsub")


if __name__ == "__main__":
    sys.exit(main())
