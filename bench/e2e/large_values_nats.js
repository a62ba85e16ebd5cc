// SPDX-License-Identifier: Apache-2.0
//
// bench/e2e/large_values_nats.js: the raw NATS reference of bench/e2e/large_values.sh. Times
// os.put and os.get of one random value in a NATS object store with nats.js (the `nats` package
// of tests/integration/node/node_modules), against the nats-server the benchmark started, so the
// gateway's large-value path can be compared with a native client doing the same ADR-20 work
// (128 KiB chunks, SHA-256 digest, rollup of the metadata).
//
//   node large_values_nats.js --url nats://127.0.0.1:PORT [--size BYTES] [--rounds N]
//        [--bucket NAME] [--pid NATS_SERVER_PID] [--out FILE]
//
// Every round puts the same value under the same name (the previous chunks are purged by
// nats.js), then gets it back and checks the bytes. The object store is destroyed at the end.
// Prints (or writes to --out) JSON: put_ms, get_ms per round, and nats-server's peak RSS during
// each operation when --pid is given (VmHWM reset through /proc/PID/clear_refs).
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..", "..");
const natsPath = path.join(ROOT, "tests", "integration", "node", "node_modules", "nats");

function parseArgs(argv) {
  const a = { size: 50 * 1024 * 1024, rounds: 5, bucket: "bench-raw-nats", pid: 0, out: "",
    url: "" };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (v === undefined) throw new Error(`missing value after ${k}`);
    if (k === "--url") a.url = v;
    else if (k === "--size") a.size = Number(v);
    else if (k === "--rounds") a.rounds = Number(v);
    else if (k === "--bucket") a.bucket = v;
    else if (k === "--pid") a.pid = Number(v);
    else if (k === "--out") a.out = v;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!/^nats:\/\/127\.0\.0\.1:\d+$/.test(a.url)) {
    throw new Error("--url must be nats://127.0.0.1:PORT (loopback only)");
  }
  return a;
}

function statusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(
      fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function clearPeak(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

const log = (m) => process.stderr.write(`large_values_nats: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function readAll(rs, size) {
  const out = Buffer.allocUnsafe(size);
  let n = 0;
  const reader = rs.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > size) throw new Error("object larger than expected");
    out.set(value, n);
    n += value.length;
  }
  return out.subarray(0, n);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const { connect } = require(natsPath);
  const version = JSON.parse(fs.readFileSync(path.join(natsPath, "package.json"), "utf8")).version;
  const value = crypto.randomBytes(a.size);
  const digest = crypto.createHash("sha256").update(value).digest("base64url");
  const peakOk = a.pid > 0 && clearPeak(a.pid);
  const nc = await connect({ servers: a.url, timeout: 10000 });
  const js = nc.jetstream({ timeout: 60000 });
  const os = await js.views.os(a.bucket);
  const res = { nats_js: version, size: a.size, rounds: a.rounds, put_ms: [], get_ms: [],
    put_peak_kb: [], get_peak_kb: [], peak_method: peakOk ? "clear_refs" : "none",
    max_payload: nc.info && nc.info.max_payload };
  try {
    for (let r = 0; r < a.rounds; r++) {
      if (peakOk) clearPeak(a.pid);
      let t0 = process.hrtime.bigint();
      const info = await os.putBlob({ name: "bench.large" }, value);
      res.put_ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (peakOk) res.put_peak_kb.push(statusKb(a.pid, "VmHWM"));
      if (info.size !== a.size) throw new Error(`put stored ${info.size} bytes`);
      if (!info.digest.replace(/=+$/, "").endsWith(digest.replace(/=+$/, ""))) {
        throw new Error(`put digest ${info.digest}, expected SHA-256=${digest}`);
      }
      await sleep(200);
      if (peakOk) clearPeak(a.pid);
      t0 = process.hrtime.bigint();
      const got = await os.get("bench.large");
      if (got === null) throw new Error("os.get returned null");
      const data = await readAll(got.data, a.size);
      const err = await got.error;
      res.get_ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (peakOk) res.get_peak_kb.push(statusKb(a.pid, "VmHWM"));
      if (err) throw err;
      if (!value.equals(data)) throw new Error(`os.get returned ${data.length} different bytes`);
      log(`round ${r + 1}/${a.rounds}: put ${res.put_ms.at(-1).toFixed(1)} ms, ` +
        `get ${res.get_ms.at(-1).toFixed(1)} ms`);
      await sleep(200);
    }
  } finally {
    await os.destroy().catch(() => {});
    await nc.close();
  }
  res.note = `nats.js ${version} os.putBlob/os.get of the same value in object store ` +
    `'${a.bucket}' on the same nats-server (max_payload ${res.max_payload}), 128 KiB chunks; ` +
    "nats.js hashes with a JavaScript SHA-256 on both put and get";
  const text = JSON.stringify(res, null, 1);
  if (a.out) fs.writeFileSync(a.out, text + "\n");
  else console.log(text);
}

main().catch((e) => {
  log(`error: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
