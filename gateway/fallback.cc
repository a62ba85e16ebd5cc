// SPDX-License-Identifier: Apache-2.0
#include "gateway/fallback.h"

#include <utility>

#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {

struct FallbackLayer::Lookup {
  bool pointer = false;  // GetPointer: return what the inner GetPointer returns after a race
  std::string bucket;
  std::string key;        // encoded
  std::string redis_key;  // decoded, as the old Redis knows it
  kvmap::GetResult miss;  // the inner kNotFound, returned when the old Redis has nothing
  kvmap::GetCallback cb;
};

FallbackLayer::FallbackLayer(kvmap::KvBackend* inner, RedisClient* old, std::string bucket)
    : ForwardingBackend(inner), old_(old), bucket_(std::move(bucket)) {
  // Watches for FLUSHDB (any gateway) even before a keyspace observer is set.
  SetChangeObserver(nullptr);
}

FallbackLayer::~FallbackLayer() { inner_->SetChangeObserver(nullptr); }

void FallbackLayer::SetChangeObserver(kvmap::ChangeObserver observer) {
  observer_ = std::move(observer);
  inner_->SetChangeObserver([this](const kvmap::ChangeEvent& change) {
    if (change.op == kvmap::EntryOp::kFlush && change.bucket == bucket_) {
      flush_state_ = FlushState::kFlushed;
    }
    if (observer_) observer_(change);
  });
}

void FallbackLayer::Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) {
  Read(false, bucket, key, std::move(cb));
}

void FallbackLayer::GetPointer(std::string_view bucket, std::string_view key,
                               kvmap::GetCallback cb) {
  Read(true, bucket, key, std::move(cb));
}

void FallbackLayer::Read(bool pointer, std::string_view bucket, std::string_view key,
                         kvmap::GetCallback cb) {
  auto read = [this, pointer](std::string_view b, std::string_view k, kvmap::GetCallback c) {
    if (pointer) {
      inner_->GetPointer(b, k, std::move(c));
    } else {
      inner_->Get(b, k, std::move(c));
    }
  };
  if (old_ == nullptr || bucket != bucket_ || flush_state_ == FlushState::kFlushed ||
      key.starts_with(kvmap::kInternalKeyPrefix)) {
    read(bucket, key, std::move(cb));
    return;
  }
  auto lookup = std::make_shared<Lookup>();
  lookup->pointer = pointer;
  lookup->bucket = std::string(bucket);
  lookup->key = std::string(key);
  lookup->cb = std::move(cb);
  read(bucket, key, [this, lookup, alive = std::weak_ptr<int>(alive_)](kvmap::GetResult r) {
    if (alive.expired() || r.status != kvmap::KvStatus::kNotFound) {
      lookup->cb(std::move(r));
      return;
    }
    lookup->miss = std::move(r);
    OnMiss(lookup);
  });
}

void FallbackLayer::OnMiss(std::shared_ptr<Lookup> lookup) {
  switch (flush_state_) {
    case FlushState::kFlushed:
      lookup->cb(std::move(lookup->miss));
      return;
    case FlushState::kNotFlushed:
      AskOldRedis(std::move(lookup));
      return;
    case FlushState::kChecking:
      waiting_for_flush_check_.push_back(std::move(lookup));
      return;
    case FlushState::kUnknown:
      waiting_for_flush_check_.push_back(std::move(lookup));
      CheckFlushMarker();
      return;
  }
}

// One read of the flush marker before the first fallback: a bucket flushed while this gateway
// was not running must not get its old keys back either.
void FallbackLayer::CheckFlushMarker() {
  flush_state_ = FlushState::kChecking;
  inner_->Get(bucket_, kvmap::kFlushKey, Guard([this](kvmap::GetResult r) {
    if (flush_state_ == FlushState::kChecking) {
      if (r.status == kvmap::KvStatus::kOk) {
        flush_state_ = FlushState::kFlushed;
      } else if (r.status == kvmap::KvStatus::kNotFound) {
        flush_state_ = FlushState::kNotFlushed;
      } else {
        flush_state_ = FlushState::kUnknown;  // asked again at the next miss
      }
    }
    std::vector<std::shared_ptr<Lookup>> waiting;
    waiting.swap(waiting_for_flush_check_);
    for (auto& lookup : waiting) {
      if (flush_state_ == FlushState::kUnknown) {
        Fail(lookup, "fallback: cannot tell whether the bucket was flushed: " +
                         std::string(kvmap::KvStatusName(r.status)));
      } else if (flush_state_ == FlushState::kFlushed) {
        lookup->cb(std::move(lookup->miss));
      } else {
        AskOldRedis(std::move(lookup));
      }
    }
  }));
}

void FallbackLayer::Fail(const std::shared_ptr<Lookup>& lookup, std::string detail,
                         bool is_error) {
  if (is_error) ++stats_.errors;
  kvmap::GetResult r;
  r.status = kvmap::KvStatus::kInternal;
  r.detail = std::move(detail);
  lookup->cb(std::move(r));
}

void FallbackLayer::AskOldRedis(std::shared_ptr<Lookup> lookup) {
  if (old_ == nullptr) {
    Fail(lookup, "fallback: shutting down");
    return;
  }
  std::optional<std::string> redis_key = kvmap::DecodeKey(lookup->key);
  if (!redis_key) {  // not a Redis key (a native NATS client's subject): nothing to ask
    lookup->cb(std::move(lookup->miss));
    return;
  }
  lookup->redis_key = std::move(*redis_key);
  ++stats_.lookups;
  // GET and PTTL leave together: one round trip. The value arrives first and waits for the TTL.
  auto value = std::make_shared<std::optional<resp::Reply>>();
  old_->Command({"GET", lookup->redis_key},
                Guard([value](kvmap::KvStatus st, resp::Reply& reply) {
                  if (st == kvmap::KvStatus::kOk) *value = std::move(reply);
                }));
  old_->Command(
      {"PTTL", lookup->redis_key},
      Guard([this, lookup, value](kvmap::KvStatus st, resp::Reply& pttl) {
        std::string where = "fallback to " + old_url() + ": ";
        if (st != kvmap::KvStatus::kOk || !value->has_value()) {
          std::string why = old_ != nullptr ? old_->last_error() : "";
          Fail(lookup, where + std::string(kvmap::KvStatusName(st)) +
                           (why.empty() ? "" : " (" + why + ")"));
          return;
        }
        resp::Reply& v = **value;
        if (v.is_error()) {
          if (v.str.starts_with("WRONGTYPE")) {
            ++stats_.wrong_type;
            Fail(lookup,
                 where + "the old Redis holds a type the gateway does not store at this key",
                 /*is_error=*/false);
          } else {
            Fail(lookup, where + v.str);
          }
          return;
        }
        if (v.is_nil() || v.type != resp::ReplyType::kBulk ||
            (pttl.type == resp::ReplyType::kInteger && pttl.integer == -2)) {
          ++stats_.absent;
          lookup->cb(std::move(lookup->miss));
          return;
        }
        int64_t pttl_ms = pttl.type == resp::ReplyType::kInteger ? pttl.integer : -1;
        Copy(lookup, std::move(v.str), pttl_ms);
      }));
}

void FallbackLayer::Copy(std::shared_ptr<Lookup> lookup, std::string value, int64_t pttl_ms) {
  auto owned = std::make_shared<const std::string>(std::move(value));
  kvmap::WriteRequest w;
  w.bucket = lookup->bucket;
  w.key = lookup->key;
  w.value = *owned;
  w.value_owner = owned;
  if (pttl_ms >= 0) {
    w.headers.emplace_back(std::string(kvmap::kHdrExpiresAt),
                           std::to_string(kvmap::NowUnixMs() + pttl_ms));
  }
  w.headers.emplace_back(std::string(kvmap::kHdrEvent), std::string(kvmap::kEventRestore));
  w.expected_revision = 0;  // only if the subject still has no message at all
  kvmap::Headers headers = w.headers;
  inner_->Write(w, Guard([this, lookup, owned, headers = std::move(headers)](
                             kvmap::WriteResult wr) mutable {
    if (wr.status == kvmap::KvStatus::kOk) {
      ++stats_.copied;
      kvmap::GetResult r;
      r.status = kvmap::KvStatus::kOk;
      r.entry.key = lookup->key;
      r.entry.value = *owned;
      r.entry.revision = wr.revision;
      r.entry.timestamp_ns = kvmap::NowUnixMs() * 1000000;
      r.entry.headers = std::move(headers);
      lookup->cb(std::move(r));
      return;
    }
    if (wr.status == kvmap::KvStatus::kRevisionMismatch) {
      // Written (or deleted) meanwhile through a gateway: that newer state wins.
      ++stats_.races;
      if (lookup->pointer) {
        inner_->GetPointer(lookup->bucket, lookup->key, std::move(lookup->cb));
      } else {
        inner_->Get(lookup->bucket, lookup->key, std::move(lookup->cb));
      }
      return;
    }
    Fail(lookup, "fallback: copying into NATS failed: " +
                     std::string(kvmap::KvStatusName(wr.status)) +
                     (wr.detail.empty() ? "" : " (" + wr.detail + ")"));
  }));
}

void FallbackLayer::PurgeBucket(const std::string& bucket, kvmap::BucketCallback cb) {
  if (bucket != bucket_) {
    inner_->PurgeBucket(bucket, std::move(cb));
    return;
  }
  // From the moment the purge is asked for: a miss racing with it must not bring keys back.
  flush_state_ = FlushState::kFlushed;
  inner_->PurgeBucket(bucket, [this, alive = std::weak_ptr<int>(alive_), cb = std::move(cb)](
                                  kvmap::KvStatus st, std::string detail) {
    // A failed purge may still have removed messages: stay off until the marker is read again.
    if (!alive.expired() && st != kvmap::KvStatus::kOk) flush_state_ = FlushState::kUnknown;
    cb(st, std::move(detail));
  });
}

}  // namespace gateway
