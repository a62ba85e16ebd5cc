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
