// SPDX-License-Identifier: Apache-2.0
//
// EmbeddedNats runs a `nats-server -js` child for the default, single-command mode
// (DESIGN.md decision 10): loopback only, a free port chosen by the server itself (-p -1,
// reported through --ports_file_dir), its store under the data directory. The child is in its
// own process group (a terminal's Ctrl-C reaches only the gateway, which then stops the child
// in order) and gets SIGTERM if the gateway dies (PR_SET_PDEATHSIG).
//
// Thread: the main thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace gateway {

// The client URL in a nats-server ports file (2.9 writes {"nats":["nats://127.0.0.1:N"]}; the
// "nats" key is looked up, not the first URL), or empty. `migrate` uses it to find the server
// a running gateway started.
std::string ClientUrlFromPortsFile(const std::string& path);

class EmbeddedNats {
 public:
  EmbeddedNats() = default;
  ~EmbeddedNats() { Stop(); }
  EmbeddedNats(const EmbeddedNats&) = delete;
  EmbeddedNats& operator=(const EmbeddedNats&) = delete;

  // Starts the child and waits until it accepts connections or timeout_ms passes. `binary` is
  // a path or empty (PATH lookup of "nats-server"). Returns an error message or empty.
  std::string Start(const std::string& binary, const std::string& data_dir, int64_t timeout_ms);
  // SIGTERM, then SIGKILL after a grace period. Safe to call twice.
  void Stop();

  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }
  // Non-blocking: true once the child has exited (collects its status).
  bool HasExited(int* status);

 private:
  pid_t pid_ = -1;
  std::string url_;
  std::string ports_dir_;
};

}  // namespace gateway
