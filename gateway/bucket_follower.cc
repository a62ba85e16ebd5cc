// SPDX-License-Identifier: Apache-2.0
#include "gateway/bucket_follower.h"

#include <charconv>
#include <cstdio>
#include <random>

#include "kvmap/js_api.h"
#include "kvmap/key_codec.h"
#include "kvmap/object_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

constexpr int64_t kHeartbeatMs = 2000;
// No delivery and no heartbeat for this long: the consumer is gone; make a new one.
constexpr int64_t kStallMs = 3 * kHeartbeatMs;
constexpr size_t kExpireBatch = 64;

std::string RandomSuffix() {
  static const char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string out(22, '0');
  for (char& c : out) c = kAlphabet[gen() % 62];
  return out;
}

// The numbers in a push delivery's reply subject:
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>
// (newer servers put a domain and account hash first; the numbers are always the last five).
bool ParseAckSubject(std::string_view reply, uint64_t* stream_seq, uint64_t* consumer_seq,
                     uint64_t* pending) {
  uint64_t nums[5];
  for (int i = 4; i >= 0; --i) {
    size_t dot = reply.rfind('.');
    if (dot == std::string_view::npos) return false;
    std::string_view tok = reply.substr(dot + 1);
    if (std::from_chars(tok.data(), tok.data() + tok.size(), nums[i]).ec != std::errc()) {
      return false;
    }
    reply = reply.substr(0, dot);
  }
  *stream_seq = nums[1];
  *consumer_seq = nums[2];
  *pending = nums[4];
  return true;
}

}  // namespace

BucketFollower::BucketFollower(Host* host, std::string bucket, int64_t marker_grace_ms)
    : host_(host), bucket_(std::move(bucket)), marker_grace_ms_(marker_grace_ms) {}

BucketFollower::~BucketFollower() { FailWaiters(); }

void BucketFollower::Start(uint64_t stream_last_seq) {
  if (!has_started_) {
    // Keyspace notifications start after the history present now.
    has_started_ = true;
    reported_seq_ = stream_last_seq;
  }
  if (stream_last_seq > start_target_) start_target_ = stream_last_seq;
  if (sid_ != 0) host_->Unsubscribe(sid_);
  deliver_subject_ = "_INBOX." + RandomSuffix();
  sid_ = host_->Subscribe(deliver_subject_, this);
  if (sid_ == 0) return;
  expected_consumer_seq_ = 1;
  last_activity_ms_ = host_->NowMs();
  uint64_t from = index_.applied_sequence() + 1;
  std::string body = "{\"stream_name\":\"KV_" + bucket_ + "\",\"config\":{";
  body += "\"deliver_subject\":\"" + deliver_subject_ + "\",";
  if (from <= 1) {
    body += "\"deliver_policy\":\"all\",";
  } else {
    body += "\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":" + std::to_string(from) +
            ",";
  }
  body += "\"ack_policy\":\"none\",\"replay_policy\":\"instant\",\"flow_control\":true,";
  body += "\"idle_heartbeat\":" + std::to_string(kHeartbeatMs * 1'000'000) + ",";
  body += "\"headers_only\":true,\"mem_storage\":true,\"num_replicas\":1,";
  body += "\"filter_subject\":\"$KV." + bucket_ + ".>\"}}";
  uint64_t sid = sid_;
  host_->ApiCall("$JS.API.CONSUMER.CREATE.KV_" + bucket_, body,
                 [this, sid](KvStatus st, int status, std::string_view answer) {
                   if (sid != sid_) return;  // restarted meanwhile
                   auto err = st == KvStatus::kOk ? kvmap::ParseJsApiError(answer) : std::nullopt;
                   if (st != KvStatus::kOk || err) {
                     std::fprintf(stderr, "nats: follower of %s: consumer create failed: %s\n",
                                  bucket_.c_str(), err ? err->description.c_str() : "no answer");
                     // The watchdog tries again after kStallMs.
                     return;
                   }
                   // Nothing to replay: synced as soon as the target is applied (maybe now).
                   RunWaiters();
                 });
}

void BucketFollower::OnConnectionLost() {
  sid_ = 0;
  FailWaiters();
}

void BucketFollower::Restart(const char* why) {
  ++restarts_;
  std::fprintf(stderr, "nats: follower of %s restarts after sequence %llu (%s)\n",
               bucket_.c_str(), static_cast<unsigned long long>(index_.applied_sequence()), why);
  Start(0);
}

void BucketFollower::OnMessage(const kvmap::NatsOp& op) {
  last_activity_ms_ = host_->NowMs();
  std::string_view description;
  int status = op.headers.empty() ? 0 : kvmap::HeaderStatus(op.headers, &description);
  if (status == 100) {
    // Flow control requests carry a reply subject to answer; heartbeats may name a stalled
    // consumer's subject to answer instead.
    if (!op.reply.empty()) host_->PublishEmpty(op.reply);
    std::string_view stalled = kvmap::FindHeaderValue(op.headers, "Nats-Consumer-Stalled");
    if (!stalled.empty()) host_->PublishEmpty(stalled);
    // A heartbeat tells the consumer sequence of the last delivery: a gap means a loss.
    std::string_view last = kvmap::FindHeaderValue(op.headers, "Nats-Last-Consumer");
    uint64_t last_consumer = 0;
    if (!last.empty() &&
        std::from_chars(last.data(), last.data() + last.size(), last_consumer).ec ==
            std::errc() &&
        last_consumer + 1 != expected_consumer_seq_) {
      Restart("missed deliveries");
    }
    return;
  }
  uint64_t stream_seq = 0, consumer_seq = 0, pending = 0;
  if (!ParseAckSubject(op.reply, &stream_seq, &consumer_seq, &pending)) return;
  if (consumer_seq != expected_consumer_seq_) {
    Restart("delivery out of order");
    return;
  }
  ++expected_consumer_seq_;
  Apply(op, stream_seq);
  if (sid_ != 0) RunWaiters();
}

void BucketFollower::Apply(const kvmap::NatsOp& op, uint64_t stream_seq) {
  // $KV.<bucket>.<key>
  std::string_view key = op.subject;
  size_t prefix = 4 + bucket_.size() + 1;
  if (key.size() <= prefix) return;
  key.remove_prefix(prefix);
  std::string_view operation = kvmap::FindHeaderValue(op.headers, kvmap::kHdrKvOperation);
  // Each message is reported once, the first time it is applied: the history replayed at
  // start-up, and the replay after a flush, report nothing.
  const bool is_unreported = stream_seq > reported_seq_;
  if (is_unreported) reported_seq_ = stream_seq;
  if (operation == "PURGE" && kvmap::FindHeaderValue(op.headers, "Nats-Rollup") == "all") {
    index_.ApplyFlush(stream_seq);  // a rollup written by another client
    markers_.clear();
    objects_.clear();
    if (is_unreported) Report(op, key, kvmap::EntryOp::kFlush, false, stream_seq);
  } else if (operation == "PURGE" && key == kvmap::kFlushKey) {
    if (is_unreported) Report(op, key, kvmap::EntryOp::kFlush, false, stream_seq);
    if (stream_seq > last_flush_seq_) {
      // FLUSHDB purged the stream, then wrote this marker. Puts that landed between the purge
      // and the marker are still in the stream, so rebuild from its start rather than clear:
      // the replay skips this marker (no longer newer) and re-applies exactly what remains.
      last_flush_seq_ = stream_seq;
      index_.Reset();
      markers_.clear();
      objects_.clear();
      Start(stream_seq);
      return;
    }
    index_.ApplyDelete(key, stream_seq);  // a flush already handled: only advance
  } else if (operation == "DEL" || operation == "PURGE") {
    const bool was_live = is_unreported && IsLive(key);
    index_.ApplyDelete(key, stream_seq);
    if (auto it = objects_.find(key); it != objects_.end()) objects_.erase(it);
    markers_.push_back(Marker{kvmap::NowUnixMs(), std::string(key), stream_seq});
    if (is_unreported) {
      Report(op, key, operation == "DEL" ? kvmap::EntryOp::kDelete : kvmap::EntryOp::kPurge,
             was_live, stream_seq);
    }
  } else if (key.substr(0, kvmap::kInternalKeyPrefix.size()) == kvmap::kInternalKeyPrefix) {
    index_.ApplyDelete(key, stream_seq);  // internal keys are not Redis keys: only advance
  } else {
    std::optional<int64_t> deadline;
    std::string_view at = kvmap::FindHeaderValue(op.headers, kvmap::kHdrExpiresAt);
    int64_t v = 0;
    if (!at.empty() && std::from_chars(at.data(), at.data() + at.size(), v).ec == std::errc()) {
      deadline = v;
    }
    const bool was_live = is_unreported && IsLive(key);
    index_.ApplyPut(key, stream_seq, deadline);
    std::string_view object = kvmap::FindHeaderValue(op.headers, kvmap::kHdrObject);
    if (object.empty()) {
      if (auto it = objects_.find(key); it != objects_.end()) objects_.erase(it);
    } else if (auto ref = kvmap::ParseObjectRef(object)) {
      objects_[std::string(key)] = std::move(ref->nuid);
    }
    if (is_unreported) Report(op, key, kvmap::EntryOp::kPut, was_live, stream_seq);
  }
}

bool BucketFollower::IsLive(std::string_view key) const {
  const kvmap::KeyspaceIndex::KeyInfo* info = index_.Find(key);
  // Redis 7.0 expires a key when now > deadline (kvmap/ttl.h).
  return info != nullptr && (info->expires_at_ms == 0 || kvmap::NowUnixMs() <= info->expires_at_ms);
}

void BucketFollower::Report(const kvmap::NatsOp& op, std::string_view key, kvmap::EntryOp entry_op,
                            bool was_live, uint64_t stream_seq) {
  kvmap::ChangeEvent change;
  change.bucket = bucket_;
  change.key = key;
  change.op = entry_op;
  change.events = kvmap::FindHeaderValue(op.headers, kvmap::kHdrEvent);
  change.was_live = was_live;
  change.revision = stream_seq;
  host_->OnChange(change);
}

void BucketFollower::WhenApplied(uint64_t seq, std::function<void(bool)> cb) {
  uint64_t target = std::max(seq, start_target_);
  if (sid_ != 0 && index_.applied_sequence() >= target) {
    cb(true);
    return;
  }
  if (sid_ == 0) {
    cb(false);
    return;
  }
  waiters_.push_back(Waiter{target, host_->NowMs() + kWaitTimeoutMs, std::move(cb)});
}

void BucketFollower::RunWaiters() {
  if (waiters_.empty()) return;
  uint64_t applied = index_.applied_sequence();
  std::vector<Waiter> ready;
  for (size_t i = 0; i < waiters_.size();) {
    if (waiters_[i].seq <= applied) {
      ready.push_back(std::move(waiters_[i]));
      waiters_[i] = std::move(waiters_.back());
      waiters_.pop_back();
    } else {
      ++i;
    }
  }
  for (Waiter& w : ready) w.cb(true);
}

void BucketFollower::FailWaiters() {
  std::vector<Waiter> failed;
  failed.swap(waiters_);
  for (Waiter& w : failed) w.cb(false);
}

void BucketFollower::Tick(int64_t now_ms) {
  for (size_t i = 0; i < waiters_.size();) {
    if (waiters_[i].deadline_ms <= now_ms) {
      Waiter w = std::move(waiters_[i]);
      waiters_[i] = std::move(waiters_.back());
      waiters_.pop_back();
      w.cb(false);
    } else {
      ++i;
    }
  }
  if (sid_ == 0) return;
  if (now_ms - last_activity_ms_ > kStallMs) {
    Restart("no heartbeat");
    return;
  }
  // Delete markers past their grace period: a filtered purge below the marker's sequence plus
  // one removes the marker (and anything older on that key) but never a newer put. Several
  // gateways doing it for the same marker do no harm.
  int64_t wall = kvmap::NowUnixMs();
  while (!markers_.empty() && wall - markers_.front().seen_ms >= marker_grace_ms_) {
    Marker m = std::move(markers_.front());
    markers_.pop_front();
    std::string body = "{\"filter\":\"$KV." + bucket_ + "." + m.key + "\",\"seq\":" +
                       std::to_string(m.seq + 1) + "}";
    host_->ApiCall("$JS.API.STREAM.PURGE.KV_" + bucket_, body,
                   [this](KvStatus st, int, std::string_view answer) {
                     if (st == KvStatus::kOk && !kvmap::ParseJsApiError(answer)) ++markers_purged_;
                   });
  }
  // Active expiry: Redis expires a key when now > deadline. Deadlines are wall-clock Unix ms,
  // unlike now_ms (the loop's monotonic clock, for the watchdog).
  for (const auto& expired : index_.TakeExpired(kvmap::NowUnixMs(), kExpireBatch)) {
    kvmap::WriteRequest w;
    w.bucket = bucket_;
    w.key = expired.key;
    w.op = kvmap::EntryOp::kDelete;
    w.expected_revision = expired.revision;
    w.headers.emplace_back(std::string(kvmap::kHdrEvent), "expired");
    auto item = expired;
    host_->WriteForFollower(w, [this, item](kvmap::WriteResult r) {
      if (r.status == KvStatus::kOk) {
        ++expired_deleted_;
      } else if (r.status != KvStatus::kRevisionMismatch) {
        // Not sent or outcome unknown: try again on a later tick. A CAS loss means the key
        // changed (an overwrite won) or another gateway deleted it: nothing to do.
        index_.Requeue(item);
      }
    });
  }
}

}  // namespace gateway
