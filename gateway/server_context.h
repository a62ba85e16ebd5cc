// SPDX-License-Identifier: Apache-2.0
//
// ServerContext is the state every session and command shares: configuration, the backend,
// statistics, the registry of connected clients, and which buckets are known to exist. It
// owns none of the I/O; Server (server.h) wires it to libuv, and unit tests build one around
// a FakeKvBackend.
//
// Thread: the loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/acl.h"
#include "gateway/config.h"
#include "gateway/keyspace_events.h"
#include "gateway/pubsub.h"
#include "gateway/session.h"
#include "kvmap/kv_backend.h"

namespace gateway {

class Call;
class Session;
class ObjectLayer;
struct RmwGroups;

struct CommandStat {
  uint64_t calls = 0;
  uint64_t usec = 0;
  uint64_t rejected_calls = 0;  // refused before running (arity, auth)
  uint64_t failed_calls = 0;    // ran and replied with an error
};

struct ServerStats {
  uint64_t total_connections_received = 0;
  uint64_t total_commands_processed = 0;
  uint64_t rejected_connections = 0;
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;
  uint64_t total_net_input_bytes = 0;
  uint64_t total_net_output_bytes = 0;
  uint64_t total_error_replies = 0;
  uint64_t unexpected_error_replies = 0;
  std::map<std::string, CommandStat, std::less<>> commands;  // by full name ("client|list")
  std::map<std::string, uint64_t, std::less<>> errors;       // by error code ("ERR")
};

// Extra facts the INFO command prints about the backend (filled by the server).
struct BackendInfo {
  std::function<std::vector<std::pair<std::string, std::string>>()> fields;
};

class ServerContext {
 public:
  ServerContext(Config* config, kvmap::KvBackend* backend);

  Config& config() { return *config_; }
  kvmap::KvBackend& backend() { return *backend_; }
  // Runs closures on the loop later (the backend's executor); set by the owner.
  kvmap::Executor* executor() { return executor_; }
  void set_executor(kvmap::Executor* executor) { executor_ = executor; }
  // The large-value layer (gateway/object_store.h), or nullptr when values never spill (the
  // nats.c client, unit tests with the fake backend).
  ObjectLayer* objects() { return objects_; }
  void set_objects(ObjectLayer* objects) { objects_ = objects; }
  ServerStats& stats() { return stats_; }

  // Bucket name of database `db` (cached).
  const std::string& BucketFor(int db);
  // The database whose bucket is `bucket`, or -1.
  int DatabaseForBucket(std::string_view bucket);

  // Channel and pattern subscriptions (PUBLISH, SUBSCRIBE; DESIGN.md decision 8).
  PubSub& pubsub() { return *pubsub_; }
  // Users and their permissions (--requirepass, --aclfile, ACL SETUSER).
  AclStore& acl() { return acl_; }
  // Keyspace notifications and the shared notify-keyspace-events setting.
  KeyspaceNotifier& keyspace_notifier() { return *keyspace_notifier_; }
  // Runs fn(call) once the bucket of the call's database is known to exist (at once when it
  // already is); when it cannot be ensured, replies with the backend error instead.
  template <class F>
  void RunWithBucket(Call& call, F&& fn) {
    if (backend_->IsBucketReady(BucketFor(call.db()))) {
      fn(call);
      return;
    }
    EnsureBucketThen(call, std::function<void(Call&)>(std::forward<F>(fn)));
  }

  // A fresh Nats-Msg-Id, unique across gateways and restarts.
  std::string NewMsgId();

  // Runs fn on the loop after `delay_ms`. The server installs a libuv timer implementation;
  // without one (unit tests) calls wait in a list until RunTimers().
  using TimerFn = std::function<void(int64_t delay_ms, std::function<void()> fn)>;
  void set_timer(TimerFn timer) { timer_ = std::move(timer); }
  void RunAfter(int64_t delay_ms, std::function<void()> fn);
  // Tests: runs every waiting timer callback (ignoring delays); returns how many ran.
  size_t RunTimers();

  // Client registry.
  uint64_t NextClientId() { return next_client_id_++; }
  void AddSession(Session* session);
  void RemoveSession(Session* session);
  const std::map<uint64_t, Session*>& sessions() const { return sessions_; }
  // Redis's `timeout`: closes the clients idle for longer than config().timeout_seconds at
  // `now`, except subscribers and clients waiting for a reply (as Redis spares blocked
  // clients). Returns how many were closed. Called about once a second.
  int CloseIdleClients(std::chrono::steady_clock::time_point now);

  // Sessions with replies ready to send are flushed together after each batch of completions
  // (one write per session per batch, not one per reply). The owner sets the hook; the
  // default flushes at once (unit tests).
  void ScheduleFlush(Session* session);
  void FlushScheduled();
  // When true, ScheduleFlush defers to FlushScheduled (the server calls it after each batch).
  void set_defer_flushes(bool v) { defer_flushes_ = v; }

  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  const std::string& run_id() const { return run_id_; }
  BackendInfo& backend_info() { return backend_info_; }
  // Read-modify-writes in flight, grouped by key (commands/rmw.cc, hot-key coalescing).
  std::shared_ptr<RmwGroups> rmw_groups;
  // Set true by the embedded/real server wiring when shutting down.
  bool is_shutting_down = false;

 private:
  void EnsureBucketThen(Call& call, std::function<void(Call&)> fn);

  Config* config_;
  kvmap::KvBackend* backend_;
  kvmap::Executor* executor_ = nullptr;
  ObjectLayer* objects_ = nullptr;
  ServerStats stats_;
  std::vector<std::string> bucket_names_;
  std::map<uint64_t, Session*> sessions_;
  std::vector<uint64_t> flush_list_;
  std::vector<uint64_t> flushing_;
  bool is_flushing_ = false;
  bool defer_flushes_ = false;
  uint64_t next_client_id_ = 1;
  uint64_t msg_id_counter_ = 0;
  std::string msg_id_prefix_;
  std::string run_id_;
  std::chrono::steady_clock::time_point started_at_;
  BackendInfo backend_info_;
  std::unique_ptr<PubSub> pubsub_;
  AclStore acl_;
  std::unique_ptr<KeyspaceNotifier> keyspace_notifier_;
  TimerFn timer_;
  std::vector<std::function<void()>> waiting_timers_;
};

}  // namespace gateway
