// SPDX-License-Identifier: Apache-2.0
//
// ioredis (tests/integration/node/node_modules, installed by test.sh with npm ci) against the
// gateway: the default connect (HELLO 3, CLIENT SETINFO, then the INFO ready check), RESP2,
// set/get, pipelines, binary values, errors and a password. Run with `node --test`.
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

if (missing) {
  if (natsRequired()) {
    test("ioredis prerequisites", () => assert.fail(`${missing} (RNG_REQUIRE_NATS=1)`));
  } else {
    console.log(`RNG-SKIP: ${missing}`);
    test("ioredis", { skip: missing }, () => {});
  }
} else {
  const stack = new Stack();
  killOnExit(stack);
  let port = 0;
  let authPort = 0;
  const clients = [];

  // A client that fails fast instead of retrying for ever.
  function client(options = {}) {
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

  before(async () => {
    try {
      await stack.startNats(natsBin);
      port = await stack.startGateway(gatewayBin, "ioredis");
      authPort = await stack.startGateway(gatewayBin, "ioredis-auth", ["--requirepass", "pw"]);
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

  test("default connect runs the handshake and the INFO ready check", async () => {
    const r = client();
    await new Promise((resolve, reject) => {
      r.once("ready", resolve);
      r.once("end", () => reject(new Error("connection ended before ready")));
    });
    assert.equal(r.status, "ready");
    assert.equal(await r.ping(), "PONG");
  });

  test("set and get", async () => {
    const r = client();
    assert.equal(await r.set("node:user:1", "hello"), "OK");
    assert.equal(await r.get("node:user:1"), "hello");
    assert.equal(await r.get("node:missing"), null);
  });

  test("set options", async () => {
    const r = client();
    assert.equal(await r.set("node:nx", "a", "NX"), "OK");
    assert.equal(await r.set("node:nx", "b", "NX"), null);
    assert.equal(await r.set("node:nx", "c", "GET"), "a");
    assert.equal(await r.set("node:ex", "v", "EX", 100), "OK");
    assert.equal(await r.exists("node:nx", "node:ex", "node:none"), 2);
    assert.equal(await r.del("node:nx", "node:ex"), 2);
  });

  test("string commands", async () => {
    const r = client();
    assert.equal(await r.incr("io:counter"), 1);
    assert.equal(await r.incrby("io:counter", 9), 10);
    assert.equal(await r.incrbyfloat("io:float", "2.5"), "2.5");
    assert.equal(await r.append("io:append", "ab"), 2);
    assert.equal(await r.setrange("io:append", 2, "cd"), 4);
    assert.equal(await r.getrange("io:append", 1, 2), "bc");
    assert.equal(await r.mset("io:m1", "x", "io:m2", "y"), "OK");
    assert.deepEqual(await r.mget("io:m1", "io:none", "io:m2"), ["x", null, "y"]);
    assert.equal(await r.getdel("io:m1"), "x");
    assert.equal(await r.setbit("io:bits", 3, 1), 0);
    assert.equal(await r.bitcount("io:bits"), 1);
    await assert.rejects(r.incr("io:append"), /not an integer/);
  });

  test("binary values round-trip as Buffers", async () => {
    const r = client();
    const value = Buffer.from([...Array(256).keys()]);
    await r.set("node:bin", value);
    assert.deepEqual(await r.getBuffer("node:bin"), value);
  });

  test("pipeline of 100 commands", async () => {
    const r = client();
    const p = r.pipeline();
    for (let i = 0; i < 50; i++) {
      p.set(`node:pipe:${i % 10}`, `v${i}`);
      p.get(`node:pipe:${i % 10}`);
    }
    const results = await p.exec();
    assert.equal(results.length, 100);
    for (let i = 0; i < 50; i++) {
      assert.deepEqual(results[2 * i], [null, "OK"]);
      assert.deepEqual(results[2 * i + 1], [null, `v${i}`]);
    }
  });

  test("RESP2 connection works too", async () => {
    const r = client({ protocol: 2 });
    assert.equal(await r.set("node:resp2", "two"), "OK");
    assert.equal(await r.get("node:resp2"), "two");
    assert.equal(await r.get("node:missing2"), null);
  });

  test("errors reject the command and keep the connection", async () => {
    const r = client();
    await assert.rejects(r.call("SET", "node:e", "v", "NX", "XX"), /ERR syntax error/);
    await assert.rejects(r.call("NOSUCHCMD", "a"), /ERR unknown command 'NOSUCHCMD'/);
    assert.equal(await r.ping(), "PONG");
  });

  test("connection name, database and password options", async () => {
    const named = client({ connectionName: "node-client", db: 2 });
    assert.equal(await named.client("GETNAME"), "node-client");
    await named.set("node:db2", "x");
    assert.equal(await client().get("node:db2"), null);
    const authed = client({ port: authPort, password: "pw" });
    assert.equal(await authed.set("node:auth", "ok"), "OK");
    assert.equal(await authed.get("node:auth"), "ok");
    const noauth = client({ port: authPort, enableReadyCheck: false });
    await assert.rejects(noauth.get("node:auth"), /NOAUTH/);
  });
}
