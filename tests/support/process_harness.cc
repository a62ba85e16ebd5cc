// SPDX-License-Identifier: Apache-2.0
#include "tests/support/process_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace test_support {
namespace {

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool IsExecutable(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         access(path.c_str(), X_OK) == 0;
}

// The client port from a nats-server ports file. 2.9 writes {"nats":["nats://127.0.0.1:N"]};
// the "nats" key is looked up, not the first URL, in case other listeners are listed.
int PortFromPortsFile(const std::string& text) {
  size_t key = text.find("\"nats\"");
  if (key == std::string::npos) return 0;
  size_t url = text.find("nats://", key);
  if (url == std::string::npos) return 0;
  size_t colon = text.find(':', url + 7);
  if (colon == std::string::npos) return 0;
  return std::atoi(text.c_str() + colon + 1);
}

// The monitoring port from a ports file ({"monitoring":["http://127.0.0.1:N"]}), or 0.
int MonitoringPortFromPortsFile(const std::string& text) {
  size_t key = text.find("\"monitoring\"");
  if (key == std::string::npos) return 0;
  size_t url = text.find("http://", key);
  if (url == std::string::npos) return 0;
  size_t colon = text.find(':', url + 7);
  if (colon == std::string::npos) return 0;
  return std::atoi(text.c_str() + colon + 1);
}

// The body of GET http://127.0.0.1:port/path (HTTP/1.0, the connection closes after it), or
// nullopt.
std::optional<std::string> HttpGet(int port, const std::string& path, int timeout_ms) {
  int fd = ConnectLoopback(port, timeout_ms);
  if (fd < 0) return std::nullopt;
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string got;
  int64_t deadline = MonotonicMs() + timeout_ms;
  while (MonotonicMs() < deadline) {
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t body = got.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return got.substr(body + 4);
}

// The ports file nats-server wrote for `pid` in `dir` (named <binary>_<pid>.ports).
std::string FindPortsFile(const std::string& dir, pid_t pid) {
  std::string suffix = "_" + std::to_string(pid) + ".ports";
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return entry.path().string();
    }
  }
  return {};
}

// True when 127.0.0.1:port accepts a connection and sends a line starting with `greeting`
// within timeout_ms (empty greeting: accepting is enough).
bool Answers(int port, const std::string& greeting, int timeout_ms) {
  int fd = ConnectLoopback(port, timeout_ms);
  if (fd < 0) return false;
  bool ok = true;
  if (!greeting.empty()) {
    std::string got;
    int64_t deadline = MonotonicMs() + timeout_ms;
    while (got.size() < greeting.size() && MonotonicMs() < deadline) {
      char buf[256];
      ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    ok = got.compare(0, greeting.size(), greeting) == 0;
  }
  close(fd);
  return ok;
}

}  // namespace

bool NatsRequired() {
  const char* v = std::getenv("RNG_REQUIRE_NATS");
  return v != nullptr && std::string(v) == "1";
}

std::string FindBinary(const char* env_var, const std::string& name) {
  const char* env = env_var == nullptr ? nullptr : std::getenv(env_var);
  if (env != nullptr && *env != '\0') return IsExecutable(env) ? std::string(env) : std::string();
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/bin";
  std::stringstream ss(dirs);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (IsExecutable(candidate)) return candidate;
  }
  return {};
}

std::string GatewayBinary(const std::string& fallback) {
  const char* env = std::getenv("GATEWAY_BIN");
  if (env != nullptr && *env != '\0') return IsExecutable(env) ? std::string(env) : std::string();
  if (IsExecutable(fallback)) return fallback;
  return FindBinary(nullptr, "redis-nats-gateway");
}

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int ConnectLoopback(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// --- TempDir ----------------------------------------------------------------------------------

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  if (const char* keep = std::getenv("RNG_KEEP_TMP"); keep != nullptr && *keep == '1') return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

// --- ChildProcess -----------------------------------------------------------------------------

std::string ChildProcess::Spawn(const std::vector<std::string>& argv, const std::string& log) {
  Stop();
  log_path_ = log;
  exit_description_.clear();
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    // The child must not outlive the test, and must not inherit the test's sockets (a client
    // connection held open by a child would hide a close from the server under test).
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    int in = open("/dev/null", O_RDONLY);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0)
#endif
    {
      for (int fd = 3; fd < 4096; ++fd) close(fd);
    }
    signal(SIGPIPE, SIG_DFL);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  return {};
}

void ChildProcess::Reaped(int status) {
  pid_ = -1;
  if (WIFEXITED(status)) {
    exit_description_ = "exit " + std::to_string(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    exit_description_ = "signal " + std::to_string(WTERMSIG(status));
  } else {
    exit_description_ = "status " + std::to_string(status);
  }
}

bool ChildProcess::HasExited() {
  if (pid_ <= 0) return true;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    Reaped(status);
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    pid_ = -1;
    exit_description_ = "unknown (not our child)";
    return true;
  }
  return false;
}

void ChildProcess::Kill(int sig, bool wait) {
  if (pid_ <= 0) return;
  kill(pid_, sig);
  if (!wait) return;
  int64_t deadline = MonotonicMs() + 10000;
  while (MonotonicMs() < deadline) {
    if (HasExited()) return;
    SleepMs(5);
  }
  kill(pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) {
    Reaped(status);
  } else {
    pid_ = -1;
  }
}

void ChildProcess::Stop(int grace_ms) {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int64_t deadline = MonotonicMs() + grace_ms;
  while (MonotonicMs() < deadline) {
    if (HasExited()) return;
    SleepMs(5);
  }
  kill(pid_, SIGKILL);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) {
    Reaped(status);
  } else {
    pid_ = -1;
  }
}

std::string ChildProcess::LogTail(size_t bytes) const {
  std::string text = ReadFile(log_path_);
  if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
  return text;
}

// --- NatsServer -------------------------------------------------------------------------------

std::string NatsServer::Start(const std::string& binary, const std::string& dir, int timeout_ms) {
  if (binary.empty()) return "nats-server not found (set NATS_SERVER_BIN)";
  binary_ = binary;
  dir_ = dir;
  port_ = 0;
  return Launch("-1", timeout_ms);
}

void NatsServer::Kill(int sig) { process_.Kill(sig); }

std::string NatsServer::Restart(int timeout_ms) {
  if (port_ == 0) return "nats-server was never started";
  process_.Stop();
  return Launch(std::to_string(port_), timeout_ms);
}

std::string NatsServer::Launch(const std::string& port_arg, int timeout_ms) {
  ++launches_;
  std::string log = dir_ + "/nats-server-" + std::to_string(launches_) + ".log";
  std::vector<std::string> argv = {binary_, "-a", "127.0.0.1",        "-p", port_arg, "-js",
                                   "-sd",   dir_, "--ports_file_dir", dir_};
  std::string err = process_.Spawn(argv, log);
  if (!err.empty()) return err;
  int64_t deadline = MonotonicMs() + timeout_ms;
  while (MonotonicMs() < deadline) {
    if (process_.HasExited()) return "nats-server exited during start-up:\n" + ReadFile(log);
    if (port_ == 0) {
      std::string file = FindPortsFile(dir_, process_.pid());
      if (!file.empty()) port_ = PortFromPortsFile(ReadFile(file));
    }
    if (port_ != 0 && Answers(port_, "INFO ", 1000)) return {};
    SleepMs(10);
  }
  process_.Stop();
  return "nats-server did not accept connections in time:\n" + ReadFile(log);
}

// --- NatsRequest ------------------------------------------------------------------------------

namespace {

// Buffered reads from a blocking socket whose SO_RCVTIMEO is short, up to an overall deadline.
class LineReader {
 public:
  LineReader(int fd, int64_t deadline_ms) : fd_(fd), deadline_ms_(deadline_ms) {}
  // One protocol line without its CRLF; false on error or deadline.
  bool Line(std::string* line) {
    while (true) {
      size_t eol = buf_.find("\r\n");
      if (eol != std::string::npos) {
        *line = buf_.substr(0, eol);
        buf_.erase(0, eol + 2);
        return true;
      }
      if (!Fill()) return false;
    }
  }
  // Exactly n bytes followed by CRLF.
  bool Bytes(size_t n, std::string* out) {
    while (buf_.size() < n + 2) {
      if (!Fill()) return false;
    }
    *out = buf_.substr(0, n);
    buf_.erase(0, n + 2);
    return true;
  }

 private:
  bool Fill() {
    while (MonotonicMs() < deadline_ms_) {
      char chunk[16384];
      ssize_t n = recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
        return true;
      }
      if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return false;
    }
    return false;
  }

  int fd_;
  int64_t deadline_ms_;
  std::string buf_;
};

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string RandomHex(size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::mt19937_64 rng(std::random_device{}());
  std::string out(n, '0');
  for (char& c : out) c = kHex[rng() % 16];
  return out;
}

}  // namespace

std::optional<std::string> NatsRequest(int port, const std::string& subject,
                                       const std::string& payload, int timeout_ms,
                                       int* header_status) {
  if (header_status != nullptr) *header_status = 0;
  int64_t deadline = MonotonicMs() + timeout_ms;
  int fd = ConnectLoopback(port, 100);  // a short SO_RCVTIMEO: LineReader checks the deadline
  if (fd < 0) return std::nullopt;
  LineReader in(fd, deadline);
  std::string line;
  std::string inbox = "_INBOX.harness" + RandomHex(16);
  std::string out =
      "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}"
      "\r\nSUB " + inbox + " 1\r\nPUB " + subject + " " + inbox + " " +
      std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  std::optional<std::string> answer;
  if (in.Line(&line) && line.rfind("INFO ", 0) == 0 && SendAll(fd, out)) {
    while (in.Line(&line)) {
      if (line == "PING") {
        if (!SendAll(fd, "PONG\r\n")) break;
        continue;
      }
      if (line.rfind("-ERR", 0) == 0) break;
      bool is_hmsg = line.rfind("HMSG ", 0) == 0;
      if (!is_hmsg && line.rfind("MSG ", 0) != 0) continue;  // +OK, PONG, INFO updates
      // MSG <subject> <sid> [reply] <size> / HMSG <subject> <sid> [reply] <hdr size> <size>
      std::vector<std::string> parts;
      std::stringstream ss(line);
      for (std::string part; ss >> part;) parts.push_back(part);
      if (parts.size() < (is_hmsg ? 5u : 4u)) break;
      size_t total = static_cast<size_t>(std::atoll(parts.back().c_str()));
      size_t header_len =
          is_hmsg ? static_cast<size_t>(std::atoll(parts[parts.size() - 2].c_str())) : 0;
      std::string body;
      if (header_len > total || !in.Bytes(total, &body)) break;
      if (header_status != nullptr && header_len >= 12 && body[8] == ' ') {
        *header_status = std::atoi(body.c_str() + 9);  // "NATS/1.0 503\r\n..."
      }
      answer = body.substr(header_len);
      break;
    }
  }
  close(fd);
  return answer;
}

// --- NatsCluster ------------------------------------------------------------------------------

std::string NatsCluster::url(size_t node) const {
  return "nats://127.0.0.1:" + std::to_string(nodes_[node]->port);
}

std::string NatsCluster::urls(size_t first) const {
  std::string out;
  auto add = [&](size_t i) {
    if (!out.empty()) out += ",";
    out += url(i);
  };
  if (first < nodes_.size()) add(first);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i != first) add(i);
  }
  return out;
}

int NatsCluster::NodeIndex(const std::string& name) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (NodeName(i) == name) return static_cast<int>(i);
  }
  return -1;
}

void NatsCluster::Kill(size_t node, int sig) { nodes_[node]->process.Kill(sig); }

void NatsCluster::Stop() {
  // All at once: a node that stops while its peers still run may wait for them.
  for (auto& node : nodes_) node->process.Kill(SIGTERM, /*wait=*/false);
  for (auto& node : nodes_) node->process.Stop();
}

std::string NatsCluster::Start(const std::string& binary, const std::string& dir, int size,
                               int timeout_ms) {
  if (binary.empty()) return "nats-server not found (set NATS_SERVER_BIN)";
  if (size < 1) return "a cluster needs at least one node";
  int64_t deadline = MonotonicMs() + timeout_ms;
  std::string err;
  for (int attempt = 1; attempt <= 5; ++attempt) {
    bool retry = false;
    err = Launch(binary, dir, size, attempt, deadline, &retry);
    if (err.empty()) return {};
    Stop();
    if (!retry) break;
  }
  return err;
}

std::string NatsCluster::Launch(const std::string& binary, const std::string& dir, int size,
                                int attempt, int64_t deadline_ms, bool* retry) {
  std::mt19937 rng(std::random_device{}());
  // Below the Linux ephemeral range (32768+), so client sockets rarely hold these ports.
  std::uniform_int_distribution<int> pick(20000, 32000);
  nodes_.clear();
  std::string routes;
  for (int i = 0; i < size; ++i) {
    auto node = std::make_unique<Node>();
    node->dir = dir + "/" + NodeName(static_cast<size_t>(i));
    std::error_code ec;
    std::filesystem::create_directories(node->dir, ec);
    if (ec) return "cannot create " + node->dir + ": " + ec.message();
    bool is_new = false;
    while (!is_new) {
      node->route_port = pick(rng);
      is_new = true;
      for (const auto& other : nodes_) is_new = is_new && other->route_port != node->route_port;
    }
    routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
              std::to_string(node->route_port);
    nodes_.push_back(std::move(node));
  }
  // A name of its own: a route that reaches another test's cluster is refused, not merged.
  std::string cluster_name = "rng-" + RandomHex(8);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& node = *nodes_[i];
    std::vector<std::string> argv = {binary,
                                     "-a",
                                     "127.0.0.1",
                                     "-p",
                                     "-1",
                                     "-js",
                                     "-sd",
                                     node.dir,
                                     "--ports_file_dir",
                                     node.dir,
                                     "--server_name",
                                     NodeName(i),
                                     "--cluster_name",
                                     cluster_name,
                                     "-m",
                                     "-1",
                                     "--cluster",
                                     "nats://127.0.0.1:" + std::to_string(node.route_port),
                                     "--routes",
                                     routes};
    std::string log = node.dir + "/nats-server-" + std::to_string(attempt) + ".log";
    std::string err = node.process.Spawn(argv, log);
    if (!err.empty()) return err;
  }
  // Client ports, then JetStream: every node answers $JS.API.INFO once a meta leader exists.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Node& node = *nodes_[i];
    while (true) {
      if (node.process.HasExited()) {
        std::string log = node.process.LogTail();
        *retry = log.find("address already in use") != std::string::npos;
        return NodeName(i) + " exited during start-up:\n" + log;
      }
      if (node.port == 0) {
        std::string file = FindPortsFile(node.dir, node.process.pid());
        if (!file.empty()) node.port = PortFromPortsFile(ReadFile(file));
      }
      if (node.port != 0 && Answers(node.port, "INFO ", 1000)) break;
      if (MonotonicMs() >= deadline_ms) return NodeName(i) + " did not accept connections";
      SleepMs(10);
    }
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    while (true) {
      std::optional<std::string> info = NatsRequest(nodes_[i]->port, "$JS.API.INFO", "", 1000);
      if (info && info->find("\"error\"") == std::string::npos) break;
      if (MonotonicMs() >= deadline_ms) {
        return NodeName(i) + ": JetStream not ready in time (" + info.value_or("no answer") +
               ")\n" + nodes_[i]->process.LogTail();
      }
      SleepMs(50);
    }
  }
  // $JS.API.INFO answers before the meta group knows every peer, and until it does a stream
  // with one replica per node fails with "no suitable peers for placement". A probe stream
  // that can be placed proves the cluster ready for the tests' buckets.
  if (nodes_.size() > 1) {
    std::string config = "{\"name\":\"rng_probe\",\"subjects\":[\"rng.probe\"],"
                         "\"storage\":\"memory\",\"num_replicas\":" +
                         std::to_string(nodes_.size()) + "}";
    std::string last;
    while (true) {
      std::optional<std::string> created =
          NatsRequest(nodes_[0]->port, "$JS.API.STREAM.CREATE.rng_probe", config, 2000);
      if (created && created->find("\"error\"") == std::string::npos) break;
      last = created.value_or("no answer");
      if (MonotonicMs() >= deadline_ms) return "cluster not ready for replicated streams: " + last;
      SleepMs(100);
    }
    NatsRequest(nodes_[0]->port, "$JS.API.STREAM.DELETE.rng_probe", "", 2000);
  }
  // A full mesh: every node has a route to every other one. nats-server closes one of two
  // routes that two nodes opened to each other at the same moment ("Duplicate Route"), and
  // the JetStream groups can be ready before the last pair has reconnected. A test that then
  // kills a node could leave two survivors with no route between them: no quorum, no new
  // leader. /routez (monitoring on a free port, -m -1) says how many routes each node has.
  for (size_t i = 0; i < nodes_.size() && nodes_.size() > 1; ++i) {
    int http_port = MonitoringPortFromPortsFile(
        ReadFile(FindPortsFile(nodes_[i]->dir, nodes_[i]->process.pid())));
    std::string last = "no monitoring port in the ports file";
    bool is_meshed = false;
    while (http_port != 0 && !is_meshed) {
      std::optional<std::string> routez = HttpGet(http_port, "/routez", 1000);
      size_t at = routez ? routez->find("\"num_routes\":") : std::string::npos;
      is_meshed = at != std::string::npos &&
                  std::atoi(routez->c_str() + at + 13) >= static_cast<int>(nodes_.size()) - 1;
      if (is_meshed) break;
      last = routez.value_or("no answer");
      if (MonotonicMs() >= deadline_ms) break;
      SleepMs(50);
    }
    if (!is_meshed) {
      return NodeName(i) + ": routes to every other node not established in time: " +
             last.substr(0, 300);
    }
  }
  return {};
}

// --- Gateway ----------------------------------------------------------------------------------

std::string Gateway::Start(const GatewayOptions& options, const std::string& dir) {
  if (options.binary.empty()) return "gateway binary not found (set GATEWAY_BIN)";
  std::string port_file = dir + "/gateway.port";
  std::error_code ec;
  std::filesystem::remove(port_file, ec);
  std::vector<std::string> argv = {options.binary, "--bind", "127.0.0.1", "--port", "0",
                                   "--port-file",  port_file};
  if (!options.nats_url.empty()) {
    argv.push_back("--nats");
    argv.push_back(options.nats_url);
  }
  if (!options.bucket.empty()) {
    argv.push_back("--bucket");
    argv.push_back(options.bucket);
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  std::string err = process_.Spawn(argv, dir + "/gateway.log");
  if (!err.empty()) return err;
  port_ = 0;
  int64_t deadline = MonotonicMs() + options.timeout_ms;
  while (MonotonicMs() < deadline) {
    if (process_.HasExited()) return "gateway exited during start-up:\n" + process_.LogTail();
    if (port_ == 0) port_ = std::atoi(ReadFile(port_file).c_str());
    if (port_ != 0 && Answers(port_, "", 1000)) return {};
    SleepMs(10);
  }
  process_.Stop();
  return "gateway did not accept connections in time:\n" + process_.LogTail();
}

// --- RedisServer ------------------------------------------------------------------------------

std::string RedisServer::Start(const std::string& binary, const std::string& dir, int timeout_ms) {
  if (binary.empty()) return "redis-server not found (set REDIS_SERVER_BIN)";
  std::mt19937 rng(std::random_device{}());
  // Below the Linux ephemeral range (32768+), so client sockets rarely hold these ports.
  std::uniform_int_distribution<int> pick(20000, 32000);
  std::string last_log;
  for (int attempt = 1; attempt <= 10; ++attempt) {
    int port = pick(rng);
    std::string log = dir + "/redis-server-" + std::to_string(attempt) + ".log";
    std::vector<std::string> argv = {binary,
                                     "--port",
                                     std::to_string(port),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir,
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     ""};
    std::string err = process_.Spawn(argv, log);
    if (!err.empty()) return err;
    int64_t deadline = MonotonicMs() + timeout_ms;
    bool exited = false;
    while (MonotonicMs() < deadline) {
      if (process_.HasExited()) {
        exited = true;
        break;
      }
      // The log line proves that this process, not some other, owns the port.
      if (ReadFile(log).find("Ready to accept connections") != std::string::npos &&
          Answers(port, "", 1000)) {
        port_ = port;
        return {};
      }
      SleepMs(10);
    }
    last_log = ReadFile(log);
    if (!exited) {
      process_.Stop();
      return "redis-server did not start in time:\n" + last_log;
    }
  }
  return "redis-server failed to start on 10 random ports:\n" + last_log;
}

}  // namespace test_support
