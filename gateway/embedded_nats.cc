// SPDX-License-Identifier: Apache-2.0
#include "gateway/embedded_nats.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace gateway {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

}  // namespace

std::string ClientUrlFromPortsFile(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t key = text.find("\"nats\"");
  if (key == std::string::npos) return {};
  size_t start = text.find("nats://", key);
  if (start == std::string::npos) return {};
  size_t end = text.find('"', start);
  if (end == std::string::npos) return {};
  return text.substr(start, end - start);
}

std::string EmbeddedNats::Start(const std::string& binary, const std::string& data_dir,
                                int64_t timeout_ms) {
  std::string bin = binary.empty() ? FindOnPath("nats-server") : binary;
  if (bin.empty() || access(bin.c_str(), X_OK) != 0) {
    return "nats-server not found (install the nats-server package, or pass --nats-server-bin "
           "or --nats URL)";
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return "cannot create data dir '" + data_dir + "': " + ec.message();
  std::string abs_dir = std::filesystem::absolute(data_dir, ec).string();
  ports_dir_ = abs_dir + "/run";
  std::filesystem::remove_all(ports_dir_, ec);
  std::filesystem::create_directories(ports_dir_, ec);
  std::string log_path = abs_dir + "/nats-server.log";

  std::vector<std::string> args = {bin,    "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", abs_dir,
                                   "--ports_file_dir", ports_dir_, "-l", log_path};
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return std::string("fork failed: ") + std::strerror(errno);
  if (pid == 0) {
    // Child: own process group, dies with the gateway.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  std::string ports_file = ports_dir_ + "/" + std::filesystem::path(bin).filename().string() +
                           "_" + std::to_string(pid) + ".ports";
  int64_t deadline = NowMs() + timeout_ms;
  while (NowMs() < deadline) {
    int status = 0;
    if (HasExited(&status)) {
      return "embedded nats-server exited during start-up (see " + log_path + ")";
    }
    url_ = ClientUrlFromPortsFile(ports_file);
    if (!url_.empty()) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  Stop();
  return "embedded nats-server did not become ready in time (see " + log_path + ")";
}

bool EmbeddedNats::HasExited(int* status) {
  if (pid_ <= 0) return true;
  pid_t r = waitpid(pid_, status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return true;
  }
  return false;
}

void EmbeddedNats::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int64_t deadline = NowMs() + 5000;
  int status = 0;
  while (NowMs() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace gateway
