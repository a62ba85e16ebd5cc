// SPDX-License-Identifier: Apache-2.0
//
// Pub/sub through ioredis (tests/integration/node/node_modules, installed by test.sh with npm
// ci): subscribe / psubscribe and the message / pmessage events (ioredis 6 connects with RESP3
// by default, so these are push frames; a RESP2 subscriber too), binary payloads, commands on a
// RESP3 subscriber, messages across two gateways on one nats-server and bucket, and ioredis's
// automatic resubscription after a gateway restart on the same port. Run with `node --test`.
//
// Missing ioredis, nats-server or gateway binary: the test is skipped with a message (and the
// line "RNG-SKIP: ..." that CTest reports as skipped), or fails when RNG_REQUIRE_NATS=1.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const { Stack, findBinary, natsRequired, killOnExit } = require("./harness.js");

let Redis = null;
let missing = null;
try {
  Redis = require(path.join(__dirname, "node_modules", "ioredis"));
} catch (e) {
  missing = "ioredis is not installed in tests/integration/node (run: npm ci there)";
}
const natsBin = findBinary("NATS_SERVER_BIN", "nats-server");
const gatewayBin = findBinary("GATEWAY_BIN", "redis-nats-gateway");
if (!missing && !natsBin) missing = "nats-server not found; set NATS_SERVER_BIN";
if (!missing && !gatewayBin) missing = "gateway binary not found; set GATEWAY_BIN";

const BUCKET = "ioredis-pubsub";

if (missing) {
  if (natsRequired()) {
    test("ioredis pub/sub prerequisites", () => assert.fail(`${missing} (RNG_REQUIRE_NATS=1)`));
  } else {
    console.log(`RNG-SKIP: ${missing}`);
    test("ioredis pub/sub", { skip: missing }, () => {});
  }
} else {
  const stack = new Stack();
  killOnExit(stack);
  let portA = 0;
  let portB = 0;
  const clients = [];

  // A client that fails fast instead of retrying for ever (unless options say otherwise).
  function client(port, options = {}) {
    const c = new Redis({
      host: "127.0.0.1",
      port,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 10000,
      ...options,
    });
    c.on("error", () => {});  // surfaced through the awaited commands
    clients.push(c);
    return c;
  }

  // Every message and pmessage a client receives, as Buffers, in arrival order.
  function inbox(c) {
    const queue = [];
    const waiters = [];
    const push = (m) => {
      const w = waiters.shift();
      if (w) w(m);
      else queue.push(m);
    };
    c.on("messageBuffer", (channel, data) => push({ type: "message", channel, data }));
    c.on("pmessageBuffer", (pattern, channel, data) =>
      push({ type: "pmessage", pattern, channel, data }));
    return {
      // The next message, or a rejection after timeoutMs.
      next(timeoutMs = 2000) {
        if (queue.length) return Promise.resolve(queue.shift());
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.splice(waiters.indexOf(onMessage), 1);
            reject(new Error(`no message within ${timeoutMs} ms`));
          }, timeoutMs);
          const onMessage = (m) => {
            clearTimeout(timer);
            resolve(m);
          };
          waiters.push(onMessage);
        });
      },
      get pending() {
        return queue.length;
      },
    };
  }

  // A message as plain strings, for deepEqual.
  const text = (m) => ({
    type: m.type,
    ...(m.pattern ? { pattern: m.pattern.toString() } : {}),
    channel: m.channel.toString(),
    data: m.data.toString(),
  });
  const byPattern = (a, b) => (a.pattern || "").localeCompare(b.pattern || "");

  function once(emitter, event, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)),
        timeoutMs);
      emitter.once(event, (...args) => {
        clearTimeout(timer);
        resolve(args);
      });
    });
  }

  before(async () => {
    try {
      await stack.startNats(natsBin);
      portA = await stack.startGateway(gatewayBin, BUCKET);
      portB = await stack.startGateway(gatewayBin, BUCKET);
    } catch (e) {
      console.error(stack.logs());
      throw e;
    }
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    const problems = await stack.stop();
    assert.deepEqual(problems, [], "the gateways should exit 0 on SIGTERM");
  });

  for (const protocol of [3, 2]) {
    test(`subscribe and message events on one gateway (RESP${protocol})`, async () => {
      const sub = client(portA, { protocol });
      const box = inbox(sub);
      assert.equal(await sub.subscribe(`io:${protocol}:a`, `io:${protocol}:b`), 2);
      const pub = client(portA);
      assert.equal(await pub.publish(`io:${protocol}:a`, "hello"), 1);
      assert.equal(await pub.publish(`io:${protocol}:b`, "world"), 1);
      assert.equal(await pub.publish(`io:${protocol}:none`, "nobody"), 0);
      assert.deepEqual(text(await box.next()),
        { type: "message", channel: `io:${protocol}:a`, data: "hello" });
      assert.deepEqual(text(await box.next()),
        { type: "message", channel: `io:${protocol}:b`, data: "world" });
      // The string event too, as applications use it.
      const event = once(sub, "message");
      await pub.publish(`io:${protocol}:a`, "as string");
      assert.deepEqual(await event, [`io:${protocol}:a`, "as string"]);
      await box.next();
      assert.equal(await sub.unsubscribe(`io:${protocol}:a`), 1);
      assert.equal(await pub.publish(`io:${protocol}:a`, "gone"), 0);
      assert.equal(await sub.unsubscribe(), 0);
      assert.equal(await pub.publish(`io:${protocol}:b`, "gone"), 0);
      assert.equal(box.pending, 0);
    });

    test(`psubscribe and pmessage events (RESP${protocol})`, async () => {
      const sub = client(portA, { protocol });
      const box = inbox(sub);
      // ne?s:* cannot be expressed as a NATS subject: the gateway filters it.
      assert.equal(await sub.psubscribe(`p${protocol}:news:*`, `p${protocol}:ne?s:*`), 2);
      const local = client(portA);
      const remote = client(portB);
      assert.equal(await local.publish(`p${protocol}:news:tech`, "t"), 2);
      const two = [text(await box.next()), text(await box.next())].sort(byPattern);
      assert.deepEqual(two, [
        { type: "pmessage", pattern: `p${protocol}:ne?s:*`, channel: `p${protocol}:news:tech`,
          data: "t" },
        { type: "pmessage", pattern: `p${protocol}:news:*`, channel: `p${protocol}:news:tech`,
          data: "t" },
      ]);
      // Through NATS, in publish order; channels that match nothing never show up.
      for (const ch of ["nexs:a", "news", "newsy:a", "nexs:b"]) {
        assert.equal(await remote.publish(`p${protocol}:${ch}`, ch), 0);
      }
      assert.deepEqual(text(await box.next()), { type: "pmessage", pattern: `p${protocol}:ne?s:*`,
        channel: `p${protocol}:nexs:a`, data: "nexs:a" });
      assert.deepEqual(text(await box.next()), { type: "pmessage", pattern: `p${protocol}:ne?s:*`,
        channel: `p${protocol}:nexs:b`, data: "nexs:b" });
      assert.equal(await sub.punsubscribe(`p${protocol}:ne?s:*`), 1);
      assert.equal(await remote.publish(`p${protocol}:nexs:c`, "gone"), 0);
      assert.equal(await remote.publish(`p${protocol}:news:x`, "x"), 0);
      assert.deepEqual(text(await box.next()), { type: "pmessage", pattern: `p${protocol}:news:*`,
        channel: `p${protocol}:news:x`, data: "x" });
      assert.equal(box.pending, 0);
    });
  }

  test("binary channel and payload round-trip as Buffers, across gateways", async () => {
    const channel = Buffer.from([0x69, 0x6f, 0x3a, 0x00, 0xff, 0x20, 0x0d, 0x0a, 0xc3, 0xa9]);
    const payload = Buffer.concat([Buffer.from([...Array(256).keys()]),
      Buffer.from("\r\n$-1\r\n")]);
    const sub = client(portA);
    const box = inbox(sub);
    assert.equal(await sub.subscribe(channel), 1);
    assert.equal(await client(portB).publish(channel, payload), 0);
    const m = await box.next();
    assert.equal(m.type, "message");
    assert.deepEqual(m.channel, channel);
    assert.deepEqual(m.data, payload);
    assert.equal(await client(portA).publish(channel, Buffer.alloc(0)), 1);
    assert.deepEqual((await box.next()).data, Buffer.alloc(0));
  });

  test("a RESP3 subscriber runs other commands on the same connection", async () => {
    const sub = client(portA);  // protocol 3 is ioredis 6's default
    const box = inbox(sub);
    assert.equal(await sub.subscribe("io:r3"), 1);
    assert.equal(await sub.set("io:r3:key", "v"), "OK");
    assert.equal(await client(portB).publish("io:r3", "between"), 0);
    assert.deepEqual(text(await box.next()),
      { type: "message", channel: "io:r3", data: "between" });
    assert.equal(await sub.get("io:r3:key"), "v");
    assert.equal(await sub.ping(), "PONG");
    assert.equal(await sub.publish("io:r3", "to myself"), 1);
    assert.deepEqual(text(await box.next()),
      { type: "message", channel: "io:r3", data: "to myself" });
    assert.equal(await sub.del("io:r3:key"), 1);
  });

  test("messages cross between two gateways in both directions, in order", async () => {
    const subA = client(portA);
    const subB = client(portB, { protocol: 2 });
    const boxA = inbox(subA);
    const boxB = inbox(subB);
    assert.equal(await subA.subscribe("io:cross:to-a"), 1);
    assert.equal(await subB.subscribe("io:cross:to-b"), 1);
    const pubA = client(portA);
    const pubB = client(portB);
    for (let i = 0; i < 50; i++) {
      assert.equal(await pubB.publish("io:cross:to-a", `b${i}`), 0);
      assert.equal(await pubA.publish("io:cross:to-b", `a${i}`), 0);
    }
    for (let i = 0; i < 50; i++) {
      assert.equal((await boxA.next()).data.toString(), `b${i}`);
      assert.equal((await boxB.next()).data.toString(), `a${i}`);
    }
    // Published right after each subscription is confirmed: never lost.
    for (let i = 0; i < 50; i++) {
      assert.equal(await subA.subscribe(`io:cross:fresh:${i}`), 2);
      await pubB.publish(`io:cross:fresh:${i}`, `f${i}`);
      assert.deepEqual(text(await boxA.next()),
        { type: "message", channel: `io:cross:fresh:${i}`, data: `f${i}` });
      assert.equal(await subA.unsubscribe(`io:cross:fresh:${i}`), 1);
    }
  });

  test("ioredis resubscribes after a gateway restart on the same port", async () => {
    const port = await stack.startGateway(gatewayBin, BUCKET);
    const child = stack.children[stack.children.length - 1];
    const sub = client(port, { retryStrategy: () => 100, maxRetriesPerRequest: null });
    const box = inbox(sub);
    assert.equal(await sub.subscribe("io:restart"), 1);
    assert.equal(await sub.psubscribe("io:restart:*"), 2);
    const remote = client(portB);
    await remote.publish("io:restart", "before");
    assert.deepEqual(text(await box.next()),
      { type: "message", channel: "io:restart", data: "before" });

    // SIGTERM: the gateway exits 0 and the client starts reconnecting every 100 ms.
    const reconnecting = once(sub, "reconnecting");
    const exited = new Promise((resolve) => child.once("exit", (code, signal) =>
      resolve({ code, signal })));
    child.kill("SIGTERM");
    assert.deepEqual(await exited, { code: 0, signal: null });
    stack.children.splice(stack.children.indexOf(child), 1);  // stopped on purpose
    await reconnecting;

    const ready = once(sub, "ready");
    assert.equal(await stack.startGateway(gatewayBin, BUCKET, ["--port", String(port)]), port);
    await ready;
    // ioredis sends SUBSCRIBE and PSUBSCRIBE right after "ready" is emitted; a PING queued
    // behind them is answered only once the gateway confirmed both (RESP3 allows PING here).
    await new Promise((r) => setImmediate(r));
    assert.equal(await sub.ping(), "PONG");
    const local = client(port);
    assert.deepEqual(await local.pubsub("NUMSUB", "io:restart"), ["io:restart", 1]);
    assert.equal(await local.pubsub("NUMPAT"), 1);

    assert.equal(await remote.publish("io:restart", "after"), 0);
    assert.deepEqual(text(await box.next()),
      { type: "message", channel: "io:restart", data: "after" });
    assert.equal(await remote.publish("io:restart:x", "pattern after"), 0);
    assert.deepEqual(text(await box.next()),
      { type: "pmessage", pattern: "io:restart:*", channel: "io:restart:x",
        data: "pattern after" });
    assert.equal(await local.publish("io:restart", "local"), 1);
    assert.deepEqual(text(await box.next()),
      { type: "message", channel: "io:restart", data: "local" });
    sub.disconnect();
  });
}
