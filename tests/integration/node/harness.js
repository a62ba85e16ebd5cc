// SPDX-License-Identifier: Apache-2.0
//
// Starts nats-server and the gateway for the Node.js client tests, the same way as
// ../harness.py: free ports (nats-server -p -1 with a ports file, gateway --port 0 with a port
// file), one temporary directory, children killed by pid and the directory removed in stop().
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");

function findBinary(envVar, name) {
  const v = envVar ? process.env[envVar] : undefined;
  if (v) return isExecutable(v) ? v : null;
  const dirs = (process.env.PATH || "").split(":").concat(["/usr/sbin", "/usr/local/sbin"]);
  for (const d of dirs) {
    const candidate = path.join(d || ".", name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

function isExecutable(p) {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

const natsRequired = () => process.env.RNG_REQUIRE_NATS === "1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves true when 127.0.0.1:port accepts and (if given) greets with `greeting`.
function answers(port, greeting) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let got = "";
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => {
      if (!greeting) done(true);
    });
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.length >= greeting.length) done(got.startsWith(greeting));
    });
  });
}

async function waitUntil(pred, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await pred()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

class Stack {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "rng-node-"));
    this.children = [];
    this.natsPort = null;
    this.count = 0;
  }

  spawnChild(argv, name) {
    this.count += 1;
    const logPath = path.join(this.dir, `${name}-${this.count}.log`);
    const fd = fs.openSync(logPath, "a");
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    child.exited = false;
    child.on("exit", () => (child.exited = true));
    child.logPath = logPath;
    this.children.push(child);
    return child;
  }

  logs() {
    return this.children
      .map((c) => {
        const tail = fs.readFileSync(c.logPath, "utf8").slice(-3000);
        return `---- ${path.basename(c.logPath)} ----\n${tail}`;
      })
      .join("\n");
  }

  async startNats(bin) {
    const child = this.spawnChild(
      [bin, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", this.dir, "--ports_file_dir", this.dir],
      "nats-server");
    const suffix = `_${child.pid}.ports`;
    await waitUntil(async () => {
      if (child.exited) throw new Error("nats-server exited:\n" + this.logs());
      if (this.natsPort === null) {
        const f = fs.readdirSync(this.dir).find((n) => n.endsWith(suffix));
        const m = f && /"nats"\s*:\s*\[\s*"nats:\/\/[^"]*:(\d+)"/.exec(
          fs.readFileSync(path.join(this.dir, f), "utf8"));
        if (m) this.natsPort = Number(m[1]);
      }
      return this.natsPort !== null && (await answers(this.natsPort, "INFO "));
    }, 20000, "nats-server");
    return this.natsPort;
  }

  async startGateway(bin, bucket, extra = []) {
    this.count += 1;
    const portFile = path.join(this.dir, `gateway-${this.count}.port`);
    const child = this.spawnChild(
      [bin, "--bind", "127.0.0.1", "--port", "0", "--port-file", portFile, "--nats",
        `nats://127.0.0.1:${this.natsPort}`, "--bucket", bucket, ...extra],
      "gateway");
    let port = null;
    await waitUntil(async () => {
      if (child.exited) throw new Error("gateway exited:\n" + this.logs());
      if (port === null && fs.existsSync(portFile)) {
        const text = fs.readFileSync(portFile, "utf8").trim();
        if (/^\d+$/.test(text)) port = Number(text);
      }
      return port !== null && (await answers(port, ""));
    }, 20000, "gateway");
    return port;
  }

  // Stops every child (SIGTERM, SIGKILL after 10 s) and removes the directory. Returns the
  // problems found: a gateway that did not exit 0 (sanitizer report at exit, hang, early death).
  async stop() {
    const problems = [];
    for (const c of this.children.slice().reverse()) {
      const isGateway = path.basename(c.logPath).startsWith("gateway");
      if (c.exited) {
        if (isGateway) {
          problems.push(`${path.basename(c.logPath)}: died early (${c.exitCode ?? c.signalCode})`);
        }
        continue;
      }
      const gone = new Promise((r) => c.once("exit", (code, signal) => r({ code, signal })));
      c.kill("SIGTERM");
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        c.kill("SIGKILL");
      }, 10000);
      const { code, signal } = await gone;
      clearTimeout(timer);
      if (isGateway && (hung || code !== 0)) {
        problems.push(`${path.basename(c.logPath)}: ${hung ? "hung" : signal || `exit ${code}`}\n` +
          fs.readFileSync(c.logPath, "utf8").slice(-3000));
      }
    }
    if (process.env.RNG_KEEP_TMP !== "1") fs.rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

// Kills what is still running if the test process exits early.
function killOnExit(stack) {
  process.on("exit", () => {
    for (const c of stack.children) if (!c.exited) c.kill("SIGKILL");
  });
}

module.exports = { Stack, findBinary, natsRequired, killOnExit };
