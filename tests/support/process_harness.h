// SPDX-License-Identifier: Apache-2.0
//
// test_support process harness: starts the real servers an integration test talks to, each in
// its own temporary directory and on a free loopback port, and stops them by pid in teardown.
//
//   TempDir      a fresh directory under $TMPDIR (or /tmp), removed with everything in it.
//   NatsServer   `nats-server -a 127.0.0.1 -p -1 -js -sd <dir> --ports_file_dir <dir>`; the
//                port comes from the ports file, readiness from a TCP poll that reads the
//                server's INFO line. Kill(signal) and Restart() on the same port and store.
//   NatsCluster  N such servers clustered (routes, JetStream on each, a store per node).
//   NatsRequest  one request/reply over the raw NATS protocol (JetStream API calls).
//   Gateway      redis-nats-gateway with --port 0 --port-file <dir>/gateway.port.
//   RedisServer  redis-server 7.0. It cannot report a port it picked itself, so the harness
//                tries random high ports and retries when the server does not come up (the
//                port was taken) instead of binding a probe socket and closing it (a race).
//
// Binaries come from NATS_SERVER_BIN / REDIS_SERVER_BIN / GATEWAY_BIN, then PATH, then
// /usr/sbin and /usr/local/sbin (Debian installs nats-server in /usr/sbin). Every wait has a
// deadline; nothing sleeps a fixed time to "let a server start". Children get SIGKILL if the
// test process dies (PR_SET_PDEATHSIG), so a crashed test leaves no servers behind. Each
// child's stdout and stderr go to <dir>/<name>.log; LogTail() shows the end for diagnostics.
//
// Thread: one harness object is used by one thread at a time. Start/Stop/Kill block.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

// True when the environment says tests that need nats-server must fail, not skip
// (RNG_REQUIRE_NATS=1, set by test.sh under CI=true).
bool NatsRequired();

// The executable for `name`: $env_var if set (and executable), else PATH, else /usr/sbin and
// /usr/local/sbin. Empty when not found.
std::string FindBinary(const char* env_var, const std::string& name);

// The gateway binary: $GATEWAY_BIN if set, else `fallback` (the build passes the path of the
// target it built), else a PATH lookup of redis-nats-gateway. Empty when not found.
std::string GatewayBinary(const std::string& fallback);

// Milliseconds on a monotonic clock.
int64_t MonotonicMs();

// Connects a blocking TCP socket to 127.0.0.1:port. Returns the fd or -1.
int ConnectLoopback(int port, int timeout_ms);

class TempDir {
 public:
  // Creates <$TMPDIR or /tmp>/<prefix>XXXXXX. path() is empty if that failed.
  explicit TempDir(const std::string& prefix = "rng-it-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One child process with its output in a log file.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Forks and execs argv[0] with argv; stdout and stderr are appended to log_path. Returns an
  // error message or empty.
  std::string Spawn(const std::vector<std::string>& argv, const std::string& log_path);
  // Sends `sig` and, if wait is true, reaps the child (SIGKILL after 10 s if still alive).
  void Kill(int sig, bool wait = true);
  // SIGTERM, then SIGKILL after grace_ms. Safe to call twice.
  void Stop(int grace_ms = 5000);
  // Non-blocking: true once the child has exited (reaps it).
  bool HasExited();
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }
  // How the last reaped child ended: "exit 0", "exit 1", "signal 9"; empty if none was reaped.
  const std::string& exit_description() const { return exit_description_; }
  // The last `bytes` bytes of the log.
  std::string LogTail(size_t bytes = 4000) const;

 private:
  void Reaped(int status);

  pid_t pid_ = -1;
  std::string log_path_;
  std::string exit_description_;
};

class NatsServer {
 public:
  NatsServer() = default;
  ~NatsServer() { Stop(); }
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Starts nats-server with JetStream, store and ports file under `dir` (which must exist),
  // waits until it accepts connections. Returns an error message or empty. Use
  // FindBinary("NATS_SERVER_BIN", "nats-server") for `binary`.
  std::string Start(const std::string& binary, const std::string& dir, int timeout_ms = 20000);
  // Sends `sig` to the server and reaps it (SIGKILL: an unclean crash).
  void Kill(int sig);
  // Starts it again on the same port and store directory; waits until it accepts connections.
  std::string Restart(int timeout_ms = 20000);
  void Stop() { process_.Stop(); }

  int port() const { return port_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return process_.pid(); }
  std::string LogTail(size_t bytes = 4000) const { return process_.LogTail(bytes); }

 private:
  std::string Launch(const std::string& port_arg, int timeout_ms);

  ChildProcess process_;
  std::string binary_;
  std::string dir_;
  int port_ = 0;
  int launches_ = 0;
};

// One request over the raw NATS client protocol on 127.0.0.1:port: CONNECT, SUB on a private
// inbox, PUB with that reply subject, then the first answer. Returns the answer's payload, or
// nullopt on a connection error or when nothing answers within timeout_ms. *header_status, if
// given, gets the answer's header status (503 for "no responders"; 0 without one). Blocks.
std::optional<std::string> NatsRequest(int port, const std::string& subject,
                                       const std::string& payload, int timeout_ms,
                                       int* header_status = nullptr);

// A JetStream cluster of nats-servers on loopback, like the failover tests in issue 8 need.
// Node i (0-based) is named "n<i+1>" and runs `nats-server -a 127.0.0.1 -p -1 -js` with its
// own store and ports file in <dir>/n<i+1>, cluster name unique to this cluster, and routes to
// every node. Client ports come from the ports files. Route ports cannot: every node must be
// told every other node's route port before it starts (JetStream refuses a clustered start
// without configured routes), so they are random high ports, and a start where a node could
// not listen (the port was taken) is retried on new ports, as RedisServer does.
// Start() returns once every node accepts clients and answers $JS.API.INFO (a JetStream meta
// leader was elected), so streams can be created at once.
class NatsCluster {
 public:
  NatsCluster() = default;
  ~NatsCluster() { Stop(); }
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  // Returns an error message or empty. `dir` must exist.
  std::string Start(const std::string& binary, const std::string& dir, int size = 3,
                    int timeout_ms = 30000);
  // Sends `sig` to node i and reaps it (SIGKILL: a crash).
  void Kill(size_t node, int sig);
  void Stop();

  size_t size() const { return nodes_.size(); }
  int port(size_t node) const { return nodes_[node]->port; }
  std::string url(size_t node) const;
  // Every node's client URL, comma-separated, `first` (if < size()) first: what --nats takes.
  std::string urls(size_t first = static_cast<size_t>(-1)) const;
  static std::string NodeName(size_t node) { return "n" + std::to_string(node + 1); }
  // The index of the node with server name `name`, or -1.
  int NodeIndex(const std::string& name) const;
  bool IsRunning(size_t node) { return !nodes_[node]->process.HasExited(); }
  std::string LogTail(size_t node, size_t bytes = 4000) const {
    return nodes_[node]->process.LogTail(bytes);
  }

 private:
  struct Node {
    ChildProcess process;
    std::string dir;
    int port = 0;
    int route_port = 0;
  };
  std::string Launch(const std::string& binary, const std::string& dir, int size, int attempt,
                     int64_t deadline_ms, bool* retry);

  std::vector<std::unique_ptr<Node>> nodes_;
};

struct GatewayOptions {
  std::string binary;                   // GatewayBinary(...)
  std::string nats_url;                 // --nats
  std::string bucket;                   // --bucket; unique per test
  std::vector<std::string> extra_args;  // e.g. {"--requirepass", "secret"}
  int timeout_ms = 20000;               // start-up deadline
};

class Gateway {
 public:
  Gateway() = default;
  ~Gateway() { Stop(); }
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Starts the gateway listening on 127.0.0.1:0 with --port-file <dir>/gateway.port, waits for
  // the file and for a TCP connection to succeed. Returns an error message or empty.
  std::string Start(const GatewayOptions& options, const std::string& dir);
  void Kill(int sig) { process_.Kill(sig); }
  // SIGTERM (a clean shutdown), SIGKILL after 10 s. Returns how it ended: "exit 0" is clean;
  // anything else (a sanitizer abort, a hang ended by SIGKILL) is a gateway bug.
  std::string Stop() {
    process_.Stop(10000);
    return process_.exit_description();
  }
  bool HasExited() { return process_.HasExited(); }

  int port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  std::string LogTail(size_t bytes = 4000) const { return process_.LogTail(bytes); }

 private:
  ChildProcess process_;
  int port_ = 0;
};

class RedisServer {
 public:
  RedisServer() = default;
  ~RedisServer() { Stop(); }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Starts redis-server without persistence on a random free-looking loopback port, retrying
  // with another port when it does not come up. Returns an error message or empty.
  std::string Start(const std::string& binary, const std::string& dir, int timeout_ms = 20000);
  void Stop() { process_.Stop(); }

  int port() const { return port_; }
  std::string LogTail(size_t bytes = 4000) const { return process_.LogTail(bytes); }

 private:
  ChildProcess process_;
  int port_ = 0;
};

}  // namespace test_support
