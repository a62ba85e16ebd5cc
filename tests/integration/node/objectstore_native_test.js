// SPDX-License-Identifier: Apache-2.0
//
// Large values through the gateway, read back natively: ioredis writes values larger than the
// gateway's --object-threshold, and nats.js (the `nats` package of tests/integration/node, an
// independent ADR-20 implementation) reads them from the NATS object store `redis-objects` of the
// KV bucket `redis`: os.list(), os.info(), os.get() (nats.js checks the SHA-256 digest itself and
// fails the read on a mismatch; the test also hashes with node:crypto). Then an overwrite must be
// seen natively, and after DEL os.get() must answer null (the metadata is deleted or purged) and
// the chunks must go (the gateways run with a fast orphan sweeper). Run with `node --test`.
//
// Two gateways share the bucket: one with the default threshold (derived from max_payload), one
// with --object-threshold 65536, so a 200 KiB value spills through the second and stays inline
// through the first.
//
// Missing ioredis, nats, nats-server or gateway binary: skipped ("RNG-SKIP: ..."), or a failure
// under RNG_REQUIRE_NATS=1.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const path = require("node:path");
const { Stack, findBinary, natsRequired, killOnExit } = require("./harness.js");

let Redis = null;
let nats = null;
let missing = null;
try {
  Redis = require(path.join(__dirname, "node_modules", "ioredis"));
  nats = require(path.join(__dirname, "node_modules", "nats"));
} catch (e) {
  missing = "ioredis or nats is not installed in tests/integration/node (run: npm ci there)";
}
const natsBin = findBinary("NATS_SERVER_BIN", "nats-server");
const gatewayBin = findBinary("GATEWAY_BIN", "redis-nats-gateway");
if (!missing && !natsBin) missing = "nats-server not found; set NATS_SERVER_BIN";
if (!missing && !gatewayBin) missing = "gateway binary not found; set GATEWAY_BIN";

const BUCKET = "redis";
const OBJ_BUCKET = `${BUCKET}-objects`;
const CHUNK = 128 * 1024;
const SWEEP = ["--object-sweep-ms", "200", "--object-grace-ms", "500"];

// --- ADR-20 reader (nats.js) -------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// "SHA-256=" + base64url with padding, as ADR-20 writes digests.
const adr20Digest = (buf) =>
  "SHA-256=" + crypto.createHash("sha256").update(buf).digest("base64")
    .replace(/\+/g, "-").replace(/\//g, "_");

// Base64url with padding of a name: the last token of its metadata subject.
const metaToken = (name) =>
  Buffer.from(name, "utf8").toString("base64").replace(/\+/g, "-").replace(/\//g, "_");

// The whole object through os.get(): its bytes and what `error` resolved to (nats.js resolves it
// with undefined after a good read, null for an empty object, and rejects on a digest mismatch).
// nats.js waits for ever when the chunks are missing (it reads until `pending` reaches 0), so
// the read has a deadline.
async function readObject(os, name, timeoutMs = 30000) {
  const r = await os.get(name);
  if (r === null) return null;
  const parts = [];
  const reader = r.data.getReader();
  let readError = null;
  let timer = null;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(
      `os.get(${name}) did not finish within ${timeoutMs} ms (chunks missing?)`)), timeoutMs);
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      parts.push(Buffer.from(value));
    }
  } catch (e) {
    readError = e;
    reader.cancel().catch(() => {});
  } finally {
    clearTimeout(timer);
  }
  let error = null;
  try {
    // After a failed read, `error` may never settle (a timeout): wait for it briefly only.
    error = await (readError ? Promise.race([r.error, sleep(1000)]) : r.error);
  } catch (e) {
    error = e;
  }
  return { info: r.info, data: Buffer.concat(parts), error: error ?? readError ?? null };
}

// Messages stored per subject matching `filter` in the object store's stream.
async function subjectCounts(jsm, filter) {
  const si = await jsm.streams.info(`OBJ_${OBJ_BUCKET}`, { subjects_filter: filter });
  return si.state.subjects || {};
}

// The object `name` read natively must be exactly `want`; returns its ObjectInfo.
async function checkObject(os, jsm, name, want) {
  const info = await os.info(name);
  assert.ok(info, `os.info(${name}) found no object`);
  assert.equal(info.name, name);
  assert.equal(info.bucket, OBJ_BUCKET);
  assert.equal(info.deleted, false);
  assert.equal(info.size, want.length, "info.size");
  assert.equal(info.chunks, Math.ceil(want.length / CHUNK), "info.chunks");
  assert.equal(info.digest, adr20Digest(want), "info.digest is SHA-256=<base64url padded>");
  assert.match(info.nuid, /^[A-Za-z0-9]+$/, "info.nuid");

  const got = await readObject(os, name);
  assert.ok(got, `os.get(${name}) answered null`);
  assert.equal(got.error, null, `os.get(${name}) failed: ${got.error}`);
  assert.equal(got.data.length, want.length, "bytes read with os.get");
  assert.ok(got.data.equals(want), "os.get returned different bytes");
  assert.equal(adr20Digest(got.data), info.digest);

  // Chunks: one subject $O.<bucket>.C.<nuid> holding `chunks` messages.
  const counts = await subjectCounts(jsm, `$O.${OBJ_BUCKET}.C.${info.nuid}`);
  assert.equal(counts[`$O.${OBJ_BUCKET}.C.${info.nuid}`], info.chunks, "chunk messages");

  // Metadata: the last message of $O.<bucket>.M.<base64url padded name>, a subject rollup.
  const meta = await jsm.streams.getMessage(`OBJ_${OBJ_BUCKET}`,
    { last_by_subj: `$O.${OBJ_BUCKET}.M.${metaToken(name)}` });
  assert.equal(meta.header.get("Nats-Rollup"), "sub", "metadata is published with Nats-Rollup: sub");
  const json = meta.json();
  assert.equal(json.name, name);
  assert.equal(json.nuid, info.nuid);
  return info;
}
// --- end of ADR-20 reader ----------------------------------------------------------------------

// The KV entry of `kvKey`: the last message of $KV.<bucket>.<kvKey>.
async function kvEntry(jsm, kvKey) {
  return jsm.streams.getMessage(`KV_${BUCKET}`, { last_by_subj: `$KV.${BUCKET}.${kvKey}` });
}

// "bucket=B name=N nuid=... size=N chunks=C seq=S digest=SHA-256=..." -> { bucket, name, ... }
function parsePointer(text) {
  const out = {};
  for (const field of text.trim().split(/\s+/)) {
    const eq = field.indexOf("=");
    assert.ok(eq > 0, `Redis-Object field without '=': ${field}`);
    out[field.slice(0, eq)] = field.slice(eq + 1);
  }
  return out;
}

async function checkPointer(jsm, kvKey, info) {
  const m = await kvEntry(jsm, kvKey);
  assert.equal(m.data.length, 0, "the KV entry of a spilled value has an empty payload");
  const h = m.header.get("Redis-Object");
  assert.ok(h, `the KV entry of ${kvKey} has no Redis-Object header`);
  const p = parsePointer(h);
  assert.equal(p.bucket, OBJ_BUCKET);
  assert.equal(p.name, info.name);
  assert.equal(p.nuid, info.nuid);
  assert.equal(Number(p.size), info.size);
  assert.equal(Number(p.chunks), info.chunks);
  assert.equal(p.digest, info.digest);
  assert.match(p.seq || "", /^\d+$/, "Redis-Object seq");
  return p;
}

// Polls `pred` every 100 ms for up to `ms`; returns its last result.
async function eventually(pred, ms = 10000) {
  const deadline = Date.now() + ms;
  let v = await pred();
  while (!v && Date.now() < deadline) {
    await sleep(100);
    v = await pred();
  }
  return v;
}

if (missing) {
  if (natsRequired()) {
    test("object store prerequisites", () => assert.fail(`${missing} (RNG_REQUIRE_NATS=1)`));
  } else {
    console.log(`RNG-SKIP: ${missing}`);
    test("object store read natively", { skip: missing }, () => {});
  }
} else {
  const stack = new Stack();
  killOnExit(stack);
  const clients = [];
  let port = 0; // default threshold
  let smallPort = 0; // --object-threshold 65536
  let nc = null;
  let jsm = null;
  let os = null;
  let first = null; // ObjectInfo of the first doc.native

  const big = crypto.randomBytes(3 * 1024 * 1024);
  const big2 = crypto.randomBytes(3 * 1024 * 1024 + 12345); // the overwrite: another size too
  const small = crypto.randomBytes(200 * 1024);

  function client(p) {
    const c = new Redis({ host: "127.0.0.1", port: p, maxRetriesPerRequest: 0,
      retryStrategy: () => null, connectTimeout: 10000 });
    c.on("error", () => {});
    clients.push(c);
    return c;
  }

  before(async () => {
    try {
      await stack.startNats(natsBin);
      port = await stack.startGateway(gatewayBin, BUCKET, SWEEP);
      smallPort = await stack.startGateway(gatewayBin, BUCKET,
        ["--object-threshold", "65536", ...SWEEP]);
      nc = await nats.connect({ servers: `127.0.0.1:${stack.natsPort}`, timeout: 10000 });
      jsm = await nc.jetstreamManager();
    } catch (e) {
      console.error(stack.logs());
      throw e;
    }
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    if (nc) await nc.close();
    const problems = await stack.stop();
    assert.deepEqual(problems, [], "the gateways should exit 0 on SIGTERM");
  });

  test("a 3 MiB value written with ioredis is an ADR-20 object", async (t) => {
    const r = client(port);
    assert.equal(await r.set("doc:native", big), "OK");
    assert.ok((await r.getBuffer("doc:native")).equals(big), "GET through the gateway");

    // The gateway made the stream; js.views.os() would create a missing one itself, so look
    // first. ADR-20: OBJ_<bucket>, subjects $O.<bucket>.C.> and $O.<bucket>.M.>, rollups.
    const si = await jsm.streams.info(`OBJ_${OBJ_BUCKET}`);
    assert.deepEqual([...si.config.subjects].sort(),
      [`$O.${OBJ_BUCKET}.C.>`, `$O.${OBJ_BUCKET}.M.>`]);
    assert.equal(si.config.allow_rollup_hdrs, true, "allow_rollup_hdrs");
    t.diagnostic(`OBJ_${OBJ_BUCKET}: discard=${si.config.discard} ` +
      `allow_direct=${si.config.allow_direct} storage=${si.config.storage} ` +
      `replicas=${si.config.num_replicas} max_age=${si.config.max_age}`);

    os = await nc.jetstream().views.os(OBJ_BUCKET);
    const names = (await os.list()).map((i) => i.name);
    assert.ok(names.includes("doc.native"), `os.list(): ${JSON.stringify(names)}`);

    first = await checkObject(os, jsm, "doc.native", big);
    t.diagnostic(`doc.native: size=${first.size} chunks=${first.chunks} mtime=${first.mtime} ` +
      `revision=${first.revision} options=${JSON.stringify(first.options)}`);
    const p = await checkPointer(jsm, "doc.native", first);
    t.diagnostic(`Redis-Object: seq=${p.seq} (metadata revision ${first.revision})`);
  });

  test("a 200 KiB value spills with --object-threshold 65536 and stays inline otherwise",
    async () => {
      const rs = client(smallPort);
      assert.equal(await rs.set("doc:small", small), "OK");
      const info = await checkObject(os, jsm, "doc.small", small);
      assert.equal(info.chunks, 2);
      await checkPointer(jsm, "doc.small", info);
      const names = (await os.list()).map((i) => i.name);
      assert.ok(names.includes("doc.native") && names.includes("doc.small"),
        `os.list(): ${JSON.stringify(names)}`);

      // Under the default threshold the same size is an ordinary KV value.
      const r = client(port);
      assert.equal(await r.set("doc:inline", small), "OK");
      assert.equal(await os.info("doc.inline"), null, "doc.inline should not be an object");
      const m = await kvEntry(jsm, "doc.inline");
      assert.equal(m.header.get("Redis-Object"), "");
      assert.ok(Buffer.from(m.data).equals(small), "inline KV payload");

      // Each gateway reads what the other spilled.
      assert.ok((await r.getBuffer("doc:small")).equals(small));
      assert.ok((await rs.getBuffer("doc:native")).equals(big));
    });

  test("an overwrite is seen natively and the old chunks go", async () => {
    assert.ok(first, "needs the first test");
    const r = client(port);
    assert.equal(await r.set("doc:native", big2), "OK");
    const info = await checkObject(os, jsm, "doc.native", big2);
    assert.notEqual(info.nuid, first.nuid, "a new object (new nuid) for the new value");
    await checkPointer(jsm, "doc.native", info);
    assert.ok((await r.getBuffer("doc:native")).equals(big2));

    const oldChunks = `$O.${OBJ_BUCKET}.C.${first.nuid}`;
    const gone = await eventually(async () => !(await subjectCounts(jsm, oldChunks))[oldChunks]);
    assert.ok(gone, `the chunks of the replaced value (${oldChunks}) are still there after 10 s`);
  });

  test("after DEL os.get answers null and the chunks go", async () => {
    const r = client(port);
    const info = await os.info("doc.native");
    assert.ok(info && !info.deleted);
    assert.equal(await r.del("doc:native", "doc:small"), 2);
    assert.equal(await r.getBuffer("doc:native"), null);

    const deleted = await eventually(async () =>
      (await os.get("doc.native")) === null && (await os.get("doc.small")) === null);
    assert.ok(deleted, "os.get still returns the deleted objects after 10 s");
    const names = (await os.list()).map((i) => i.name);
    assert.ok(!names.includes("doc.native") && !names.includes("doc.small"),
      `os.list() after DEL: ${JSON.stringify(names)}`);

    const chunks = `$O.${OBJ_BUCKET}.C.${info.nuid}`;
    const gone = await eventually(async () => !(await subjectCounts(jsm, chunks))[chunks]);
    assert.ok(gone, `the chunks of the deleted value (${chunks}) are still there after 10 s`);
  });
}
