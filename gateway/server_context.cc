// SPDX-License-Identifier: Apache-2.0
#include "gateway/server_context.h"

#include <cstdio>
#include <random>

#include "gateway/session.h"

namespace gateway {
namespace {

std::string RandomHex(size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string out(n, '0');
  for (char& c : out) c = kHex[gen() & 15];
  return out;
}

}  // namespace

ServerContext::ServerContext(Config* config, kvmap::KvBackend* backend)
    : config_(config),
      backend_(backend),
      msg_id_prefix_(RandomHex(16) + "-"),
      run_id_(RandomHex(40)),
      started_at_(std::chrono::steady_clock::now()) {
  int n = std::max(config_->databases, 1);
  bucket_names_.reserve(static_cast<size_t>(n));
  for (int db = 0; db < n; ++db) bucket_names_.push_back(config_->BucketFor(db));
  pubsub_ = std::make_unique<PubSub>(this);
  acl_.SetRequirePass(config_->requirepass);
  keyspace_notifier_ = std::make_unique<KeyspaceNotifier>(this);
}

int ServerContext::CloseIdleClients(std::chrono::steady_clock::time_point now) {
  const int64_t timeout = config_->timeout_seconds;
  if (timeout <= 0) return 0;
  std::vector<Session*> idle;
  for (const auto& [id, session] : sessions_) {
    if (session->is_closing() || session->subscription_count() > 0 ||
        session->queued_calls() > 0) {
      continue;
    }
    if (now - session->last_active() > std::chrono::seconds(timeout)) idle.push_back(session);
  }
  for (Session* session : idle) session->CloseSoon();
  return static_cast<int>(idle.size());
}

int ServerContext::DatabaseForBucket(std::string_view bucket) {
  for (size_t db = 0; db < bucket_names_.size(); ++db) {
    if (bucket_names_[db] == bucket) return static_cast<int>(db);
  }
  return -1;
}

const std::string& ServerContext::BucketFor(int db) { return bucket_names_[static_cast<size_t>(db)]; }

void ServerContext::EnsureBucketThen(Call& call, std::function<void(Call&)> fn) {
  size_t db = static_cast<size_t>(call.db());
  backend_->EnsureBucket(bucket_names_[db],
                         call.Bind<kvmap::KvStatus, std::string>(
                             [fn](Call& c, kvmap::KvStatus st, std::string detail) {
                           if (st != kvmap::KvStatus::kOk) {
                             c.ReplyKvError(st, detail);
                             return;
                           }
                           fn(c);
                         }));
}

std::string ServerContext::NewMsgId() {
  char buf[24];
  int n = std::snprintf(buf, sizeof(buf), "%llu",
                        static_cast<unsigned long long>(++msg_id_counter_));
  std::string id = msg_id_prefix_;
  id.append(buf, static_cast<size_t>(n));
  return id;
}

void ServerContext::RunAfter(int64_t delay_ms, std::function<void()> fn) {
  if (timer_) {
    timer_(delay_ms, std::move(fn));
  } else {
    waiting_timers_.push_back(std::move(fn));
  }
}

size_t ServerContext::RunTimers() {
  size_t ran = 0;
  while (!waiting_timers_.empty()) {
    std::vector<std::function<void()>> now;
    now.swap(waiting_timers_);
    for (auto& fn : now) fn();
    ran += now.size();
  }
  return ran;
}

void ServerContext::AddSession(Session* session) { sessions_[session->id()] = session; }

void ServerContext::RemoveSession(Session* session) {
  pubsub_->RemoveSession(session);
  sessions_.erase(session->id());
}

void ServerContext::ScheduleFlush(Session* session) {
  if (!defer_flushes_) {
    session->Flush();
    return;
  }
  // Once per batch: a subscriber receiving many messages is listed once.
  if (session->is_flush_scheduled) return;
  session->is_flush_scheduled = true;
  flush_list_.push_back(session->id());
}

void ServerContext::FlushScheduled() {
  // A flush can schedule further flushes (a reply finishing another call); take the list. The
  // two vectors swap back and forth, so their capacity is kept. Not re-entrant: a nested call
  // leaves the work to the loop below.
  if (is_flushing_) return;
  is_flushing_ = true;
  while (!flush_list_.empty()) {
    flushing_.swap(flush_list_);
    for (uint64_t id : flushing_) {
      auto it = sessions_.find(id);
      if (it == sessions_.end()) continue;
      it->second->is_flush_scheduled = false;
      it->second->Flush();
    }
    flushing_.clear();
  }
  is_flushing_ = false;
}

}  // namespace gateway
