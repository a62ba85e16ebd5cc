// SPDX-License-Identifier: Apache-2.0
//
// FallbackLayer: --fallback redis://old, read-through to the Redis being migrated away from
// (issue 10). While a migration runs, the keys not copied yet still answer: a read that finds
// no entry at all in NATS asks the old Redis, copies what it holds into NATS, and returns it.
//
// The layer is the outermost KvBackend decorator, so every command that reads a key (GET,
// MGET, INCR, APPEND, EXISTS, TTL, EXPIRE, ...) falls back the same way and then works on the
// copied entry with its revision. Only Get and GetPointer of the backed bucket change:
//
//   1. The inner read answers. Anything but kNotFound (a value, an expired value, a delete
//      marker, an error) is returned as it is: a hit costs nothing more.
//   2. kNotFound means the key's subject has no message at all: never written through the
//      gateway, never deleted through it. The layer sends `GET key` and `PTTL key` to the old
//      Redis, pipelined: one round trip.
//   3. A value is copied by create-CAS (expected revision 0: "the subject has no message"),
//      with its TTL as an absolute deadline, through the layers below (so a large value goes
//      to the Object Store). If anything was written meanwhile, the CAS fails and the layer
//      returns a fresh inner read instead: an older value never overwrites a newer write.
//
// Deleted keys stay deleted because a delete through the gateway leaves a marker on the
// subject, and main keeps markers while fallback is on (the follower's marker purge is off).
// FLUSHDB purges every subject, so after it the old Redis would resurface everything: once the
// bucket has a flush marker (written by FLUSHDB on any gateway, seen here as a kFlush change
// or found by one read of the marker before the first fallback), fallback is off for it.
//
// The old Redis being unreachable makes a miss fail (kInternal with a detail naming the old
// Redis): answering nil could hide a key that exists there.
//
// Thread: the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/alive_guard.h"
#include "gateway/redis_client.h"
#include "kvmap/forwarding_backend.h"

namespace gateway {

class FallbackLayer : public kvmap::ForwardingBackend {
 public:
  struct Stats {
    uint64_t lookups = 0;      // misses in NATS that asked the old Redis
    uint64_t copied = 0;       // values copied into NATS
    uint64_t absent = 0;       // the old Redis had nothing either
    uint64_t races = 0;        // a newer write won the create-CAS
    uint64_t errors = 0;       // the old Redis or the copy failed
    uint64_t wrong_type = 0;   // the old Redis holds a type the gateway does not store
  };

  // `bucket`: the one KV bucket the old Redis backs (the database the URL names).
  FallbackLayer(kvmap::KvBackend* inner, RedisClient* old, std::string bucket);
  ~FallbackLayer() override;

  void Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override;
  void GetPointer(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override;
  void PurgeBucket(const std::string& bucket, kvmap::BucketCallback cb) override;
  void SetChangeObserver(kvmap::ChangeObserver observer) override;

  const Stats& stats() const { return stats_; }
  // False once the bucket was flushed (fallback no longer applies).
  bool is_active() const { return flush_state_ != FlushState::kFlushed; }
  const std::string& bucket() const { return bucket_; }
  // Shutdown: the old Redis client goes away; reads only forward from now on.
  void Detach() { old_ = nullptr; }
  // Redacted URL of the old Redis (empty once detached).
  std::string old_url() const { return old_ != nullptr ? old_->url().Redacted() : ""; }

 private:
  enum class FlushState { kUnknown, kChecking, kNotFlushed, kFlushed };
  struct Lookup;

  void Read(bool pointer, std::string_view bucket, std::string_view key, kvmap::GetCallback cb);
  void OnMiss(std::shared_ptr<Lookup> lookup);
  void AskOldRedis(std::shared_ptr<Lookup> lookup);
  void Copy(std::shared_ptr<Lookup> lookup, std::string value, int64_t pttl_ms);
  // Answers the read with kInternal and `detail`; counts it in errors unless it is a
  // wrong-type answer (counted in wrong_type by the caller).
  void Fail(const std::shared_ptr<Lookup>& lookup, std::string detail, bool is_error = true);
  void CheckFlushMarker();

  template <class F>
  auto Guard(F f) {
    return GuardedBy(alive_, std::move(f));
  }

  RedisClient* old_;
  std::string bucket_;
  Stats stats_;
  FlushState flush_state_ = FlushState::kUnknown;
  std::vector<std::shared_ptr<Lookup>> waiting_for_flush_check_;
  kvmap::ChangeObserver observer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace gateway
