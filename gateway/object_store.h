// SPDX-License-Identifier: Apache-2.0
//
// Large values (DESIGN.md decision 9, docs/design.md "Large values"). ObjectLayer is the
// KvBackend the commands use; it wraps the real one (the read cache, then NatsWireBackend) and
// moves every value above the threshold to the bucket's NATS Object Store, in the ADR-20 layout
// of kvmap/object_codec.h, so native object-store clients read the same object.
//
// Writing a large value (Write with a value above threshold()):
//   1. the chunks go to $O.<ob>.C.<new nuid>, at most kUploadWindow unacknowledged at a time,
//      while the SHA-256 is computed;
//   2. once every chunk is acknowledged, the KV entry is written: an empty payload with the
//      Redis-Object pointer and the request's own headers, CAS and msg id. This write is the
//      commit point: before it nothing refers to the chunks;
//   3. then the object's metadata ($O.<ob>.M.<name>, rolled up), for native readers; then the
//      command's callback.
// A crash or failure before step 2 leaves unreferenced chunks (an orphan), never a pointer to
// missing chunks. A pointer write that certainly failed (CAS conflict, refused) removes its
// chunks at once; one whose outcome is unknown leaves them to the sweeper.
//
// Reading: Get returns the whole value, read chunk by chunk (the pointer's `seq` hint lets the
// reads be pipelined) and checked against the digest, so every command works on large values
// unchanged. GetPointer returns the pointer itself, for commands that need only metadata or
// read the chunks their own way (ObjectReader: GET streams, GETRANGE reads a range).
//
// Cleanup: the sweeper (Tick) compares each object store with the pointers the bucket's
// follower knows. Chunks no pointer refers to are removed once they have been unreferenced for
// the grace period and their newest chunk is older than that (so an upload in progress on
// another gateway is never touched); chunks this gateway is writing or reading are kept. The
// metadata is brought in line with the KV entry: marked deleted when the key no longer holds
// that object (DEL, overwrite, expiry, FLUSHDB), rewritten when a pointer has none or another.
//
// Thread: the loop thread, like every KvBackend.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gateway/alive_guard.h"
#include "kvmap/forwarding_backend.h"
#include "kvmap/kv_backend.h"
#include "kvmap/object_codec.h"

namespace gateway {

struct ObjectStoreOptions {
  size_t threshold = 0;           // values above spill; 0: max_payload - kHeaderRoom
  int64_t grace_ms = 60000;       // unreferenced chunks stay at least this long
  int64_t sweep_ms = 30000;       // sweeper period
  int replicas = 1;               // of the object store streams the gateway creates
};

class ObjectLayer;

// Reads the chunks [first_chunk, end_chunk) of one object in order, a window of them in flight,
// and hands each one to on_chunk. on_done(kOk) after the last one (a whole-object read has
// checked the size and the digest by then); on_done(error) once on a missing chunk, a digest
// mismatch or a NATS failure. Pause/Resume let a consumer hold the reads while its output
// drains. The reader keeps the object's chunks from the sweeper while it runs.
class ObjectReader : public std::enable_shared_from_this<ObjectReader> {
 public:
  using ChunkFn = std::function<void(std::string_view data)>;
  using DoneFn = std::function<void(kvmap::KvStatus status, std::string detail)>;

  static std::shared_ptr<ObjectReader> Start(ObjectLayer* layer, kvmap::ObjectRef ref,
                                             uint32_t first_chunk, uint32_t end_chunk,
                                             ChunkFn on_chunk, DoneFn on_done);
  ~ObjectReader();
  void Pause() { is_paused_ = true; }
  void Resume();
  // Stops; no callback runs afterwards. A reader keeps itself alive until it is done, failed
  // or cancelled, so its owner need not hold it.
  void Cancel();

  ObjectReader(ObjectLayer* layer, kvmap::ObjectRef ref, uint32_t first_chunk,
               uint32_t end_chunk, ChunkFn on_chunk, DoneFn on_done);

 private:
  void Pump();
  void OnReply(uint64_t generation, uint32_t index, const kvmap::StreamReply& reply);
  void Deliver();
  void Fail(kvmap::KvStatus status, std::string detail);
  // Gives the object back to the sweeper and leaves the layer's list of readers.
  void Finished();

  ObjectLayer* layer_;
  std::weak_ptr<int> layer_alive_;  // the layer's alive() token
  kvmap::ObjectRef ref_;
  std::string subject_;
  uint32_t first_chunk_, end_chunk_;
  ChunkFn on_chunk_;
  DoneFn on_done_;
  // The next chunk to request and to deliver; chunks before first_chunk_ are read and skipped
  // when their sequences are unknown (a range of an object whose chunks are not contiguous).
  uint32_t next_request_ = 0;
  uint32_t next_deliver_ = 0;
  uint32_t in_flight_ = 0;
  // Request i asks for the first chunk at or after base_seq_ + (i - base_index_). While
  // base_seq_ is at most the sequence of chunk base_index_ (a property every re-base keeps),
  // that answer is chunk i whenever its sequence is beyond chunk i-1's.
  uint64_t base_seq_ = 1;
  uint32_t base_index_ = 0;
  uint64_t last_seq_ = 0;  // sequence of the last chunk delivered (or skipped)
  bool is_exact_ = false;  // contiguous chunks: request i is for exactly base_seq_ + i
  uint64_t generation_ = 0;  // answers to requests of an older generation are ignored
  std::map<uint32_t, std::pair<uint64_t, std::string>> arrived_;  // index -> (seq, data)
  std::unique_ptr<kvmap::Sha256> sha_;  // whole-object reads only
  bool is_paused_ = false;
  bool is_done_ = false;
  std::shared_ptr<ObjectReader> self_;  // set while running
};

class ObjectLayer : public kvmap::ForwardingBackend {
 public:
  // Room kept below max_payload for the headers of a KV write (ours are far below it).
  static constexpr size_t kHeaderRoom = 4096;
  static constexpr size_t kUploadWindow = 32;  // chunks in flight while writing (4 MiB)
  static constexpr size_t kReadWindow = 32;    // chunk reads in flight (4 MiB)

  ObjectLayer(kvmap::KvBackend* inner, kvmap::Executor* executor, ObjectStoreOptions options);
  ~ObjectLayer() override;

  // Values larger than this go to the Object Store (0 when no NATS connection has told the
  // server's max_payload yet and none was configured: nothing spills then).
  size_t threshold() const;
  // Runs the sweeper when its period has passed. Loop thread, from a timer.
  void Tick(int64_t now_ms);
  // A KV bucket whose object store the sweeper looks after (also learnt from EnsureBucket).
  void AddBucket(const std::string& bucket) { known_buckets_.insert(bucket); }
  // Sweeps every known bucket now, unless a sweep is running (Tick calls it).
  void SweepNow();

  struct Stats {
    uint64_t objects_written = 0;
    uint64_t bytes_written = 0;
    uint64_t objects_read = 0;     // whole reads and ranges
    uint64_t bytes_read = 0;
    uint64_t chunks_purged = 0;    // chunk subjects removed (orphans and failed uploads)
    uint64_t metas_repaired = 0;   // metadata rewritten or marked deleted by the sweeper
    uint64_t sweeps = 0;
    uint64_t read_errors = 0;      // missing chunk, digest mismatch
  };
  const Stats& stats() const { return stats_; }

  // KvBackend
  void Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override;
  void GetPointer(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override {
    inner_->Get(bucket, key, std::move(cb));
  }
  void Write(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) override;
  void EnsureBucket(const std::string& bucket, kvmap::BucketCallback cb) override;
  // Everything else passes through (kvmap::ForwardingBackend).

  // --- used by ObjectReader and the uploads ---
  kvmap::StreamClient* client() { return inner_->streams(); }
  kvmap::Executor* executor() { return executor_; }
  void Hold(const std::string& nuid) { ++held_[nuid]; }
  void Release(const std::string& nuid);
  Stats& mutable_stats() { return stats_; }
  // Makes sure the object store `ob` exists (creating it), then cb.
  void EnsureObjectBucket(const std::string& ob, kvmap::BucketCallback cb);
  // Removes every chunk of `nuid` (best effort; the sweeper retries what fails).
  void PurgeChunks(const std::string& ob, const std::string& nuid);
  void ForgetObjectBucket(const std::string& ob) { ready_object_buckets_.erase(ob); }
  // Expires when this layer is destroyed: completions that arrive later (the backend fails its
  // pending operations when it is torn down, after this layer) are dropped.
  std::weak_ptr<int> alive() const { return alive_; }

 private:
  // Wraps a completion so it runs only while this layer exists.
  template <class F>
  auto Guard(F f) {
    return GuardedBy(alive_, std::move(f));
  }

  struct Upload;
  struct Sweep;
  void StartUpload(std::shared_ptr<Upload> up);
  void SendChunks(const std::shared_ptr<Upload>& up);
  void WritePointer(const std::shared_ptr<Upload>& up);
  void FinishUpload(const std::shared_ptr<Upload>& up, kvmap::WriteResult result);
  void SweepBucket(const std::string& bucket, std::function<void()> done);
  void SweepNext();
  friend class ObjectReader;  // readers_

  kvmap::Executor* executor_;
  ObjectStoreOptions options_;
  Stats stats_;
  std::set<std::string> ready_object_buckets_;
  std::map<std::string, std::vector<kvmap::BucketCallback>> ensuring_;
  std::set<std::string> known_buckets_;            // KV buckets seen by EnsureBucket
  std::unordered_map<std::string, int> held_;      // nuids being written or read here
  std::unordered_map<std::string, int64_t> unreferenced_since_;  // "ob/nuid" -> first seen
  int64_t next_sweep_ms_ = 0;
  bool is_sweeping_ = false;
  std::vector<std::string> sweep_queue_;            // buckets left in the current sweep
  std::unordered_set<ObjectReader*> readers_;       // running readers (cancelled at exit)
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace gateway
