// SPDX-License-Identifier: Apache-2.0
//
// KvBackend is the asynchronous key/value interface the gateway runs commands against. The
// production implementation (NatsKvBackend) speaks the raw JetStream protocol over one nats.c
// connection; FakeKvBackend implements the same contract in memory for unit tests.
//
// Contract shared by every implementation:
//   * Calls are made on the loop thread and never block.
//   * Every call eventually invokes its callback exactly once, on the loop thread (through the
//     Executor given at construction), never from inside the call itself. Callbacks may arrive
//     in any order relative to the order of the calls.
//   * Keys are already encoded NATS KV keys (kvmap::EncodeKey); buckets are KV bucket names.
//   * A value view passed to a call needs to stay valid only for the duration of that call.
//   * Writes sent on one backend to one bucket are stored in the order they were called (the
//     stream orders them); reads have no ordering guarantee against writes in flight, so the
//     caller orders dependent operations itself.
//
// Thread: the loop thread only (except Executor::Post, which any thread may call).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kvmap/kv_status.h"

namespace kvmap {

class KeyspaceIndex;

// Runs closures on the loop thread. Post() is thread-safe and never runs the closure inline.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Post(std::function<void()> fn) = 0;
};

// Header names the gateway writes and reads (DESIGN.md decision 4).
inline constexpr std::string_view kHdrType = "Redis-Type";
inline constexpr std::string_view kHdrExpiresAt = "Redis-Expires-At";
inline constexpr std::string_view kHdrEvent = "Redis-Event";
inline constexpr std::string_view kHdrObject = "Redis-Object";
inline constexpr std::string_view kHdrKvOperation = "KV-Operation";
// The Redis-Event of a value copied from the Redis being migrated away from (migrate,
// --fallback): keyspace notifications announce it as Redis announces RESTORE, and
// --mirror-writes never sends it back to where it came from.
inline constexpr std::string_view kEventRestore = "restore";

// One header line. Order is preserved; names compare case-sensitively as NATS does.
using Header = std::pair<std::string, std::string>;
using Headers = std::vector<Header>;

// True when `name` may be written by the gateway: `Redis-*` and `KV-Operation`. A `Nats-*`
// header read from a stored message is never sent again (a stored Nats-Msg-Id would turn the
// new write into a silent duplicate).
bool IsWritableHeader(std::string_view name);

// Returns the value of `name` in `headers`, or nullopt.
std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name);

// kPurge removes the key's history (KV-Operation: PURGE, Nats-Rollup: sub). kFlush is the flush
// marker FLUSHDB writes on an internal key right after purging the whole stream (PurgeBucket):
// a PURGE marker that tells followers to rebuild their index (docs/design.md explains why this
// is not a Nats-Rollup: all message on nats-server 2.9).
enum class EntryOp : uint8_t { kPut, kDelete, kPurge, kFlush };

// The internal key the flush marker is written on (never a Redis key: see key_codec.h).
inline constexpr std::string_view kFlushKey = "=_flush";

// One stored KV entry as read by a direct get.
struct Entry {
  std::string key;          // encoded key
  std::string value;        // payload bytes (empty for markers)
  uint64_t revision = 0;    // stream sequence
  int64_t timestamp_ns = 0; // Nats-Time-Stamp, Unix nanoseconds (0 when unknown)
  EntryOp op = EntryOp::kPut;
  Headers headers;          // stored headers, Nats-* and KV-Operation excluded

  bool is_marker() const { return op != EntryOp::kPut; }
};

struct GetResult {
  KvStatus status = KvStatus::kInternal;
  // Set when status is kOk. A delete/purge marker is returned as kOk with entry.is_marker().
  Entry entry;
  std::string detail;  // human-readable cause for failures
};

struct WriteRequest {
  std::string_view bucket;
  std::string_view key;     // encoded
  std::string_view value;   // payload (ignored for markers)
  // Keeps `value` valid after the call returns. A value large enough for the Object Store is
  // written asynchronously (gateway/object_store.h): with an owner it is read in place, without
  // one it is copied first.
  std::shared_ptr<const void> value_owner;
  EntryOp op = EntryOp::kPut;
  Headers headers;          // only writable headers (IsWritableHeader); KV-Operation is added
                            // by the backend for markers
  // CAS: when set, the write succeeds only if the key's last stream sequence equals this
  // value; 0 means "the subject has no message at all".
  std::optional<uint64_t> expected_revision;
  // Deduplication id (Nats-Msg-Id). Only for writes that may be retried (decision 2).
  std::string msg_id;
};

struct WriteResult {
  // kNotFound for a write: the bucket's stream does not exist (no responders).
  KvStatus status = KvStatus::kInternal;
  uint64_t revision = 0;          // stream sequence of the stored message (kOk)
  bool is_duplicate = false;      // the server matched msg_id to an earlier write
  // For kRevisionMismatch: the key's current last sequence, when the server reported it.
  std::optional<uint64_t> current_revision;
  std::string detail;
};

// One change a bucket follower applied (DESIGN.md decision 8: keyspace notifications come
// from the follower, so writes by other gateways and by native NATS clients produce them too).
// Reported in stream order, only for messages stored after the follower first started: the
// history it replays at start-up reports nothing. Internal keys are not reported; a flush
// marker (FLUSHDB on any gateway) is reported as op kFlush, meaning every key changed.
struct ChangeEvent {
  std::string_view bucket;
  std::string_view key;      // encoded (kFlushKey for kFlush)
  EntryOp op = EntryOp::kPut;  // kPut, kDelete, kPurge or kFlush
  std::string_view events;   // the Redis-Event header ("set,expire"); empty when absent
  bool was_live = false;     // the key was live (present, not expired) just before the change
  uint64_t revision = 0;
};
using ChangeObserver = std::function<void(const ChangeEvent&)>;

// Core NATS publish/subscribe, as PUBLISH and SUBSCRIBE need it (DESIGN.md decision 8).
// Delivery is at most once, as in Redis: messages published while a connection is down are
// lost. Subscriptions survive reconnects (the bus subscribes again on each new connection).
class MessageBus {
 public:
  virtual ~MessageBus() = default;
  using MessageFn = std::function<void(std::string_view subject, std::string_view payload)>;
  // Subscribes to `subject` (NATS wildcards allowed). `on_message` runs on the loop thread for
  // every message until Unsubscribe. `confirmed(kOk)` runs once the server is known to hold
  // the subscription (a PING answered after the SUB), so a message published after that is
  // delivered; kUnavailable when not connected or the connection is lost first. Posted or
  // later, never inline. Returns a handle for Unsubscribe (never 0).
  virtual uint64_t Subscribe(const std::string& subject, MessageFn on_message,
                             std::function<void(KvStatus)> confirmed) = 0;
  virtual void Unsubscribe(uint64_t handle) = 0;
  // Largest payload the server accepts in one message (its max_payload).
  virtual size_t max_payload() const = 0;
  // Publishes without waiting. false when not connected or the payload is over max_payload()
  // (the message is dropped; an oversized one would make the server close the connection). This
  // connection does not receive its own messages (no echo): the gateway delivers to its own
  // subscribers itself.
  virtual bool Publish(std::string_view subject, std::string_view payload) = 0;
  // Bytes published but not yet written to the socket; PUBLISH waits while this is large, so
  // a fast publisher cannot grow the gateway's memory without bound.
  virtual size_t publish_backlog() const = 0;
  // Calls cb once publish_backlog() is below `bytes` (posted, never inline).
  virtual void WhenBacklogBelow(size_t bytes, std::function<void()> cb) = 0;
};

// A whole NATS message answering a request (the Object Store's chunk reads and API calls).
// The views are valid only during the callback.
struct StreamReply {
  KvStatus status = KvStatus::kInternal;  // kOk when an answer came (whatever its Status)
  int code = 0;                           // its Status header (404, 408, 503, ...) or 0
  std::string_view headers;               // the raw header block, empty when none
  std::string_view payload;
  std::string detail;                     // why, when status is not kOk
};
using StreamReplyCallback = std::function<void(const StreamReply&)>;

// Raw JetStream access on a backend's connection, for streams other than KV buckets (the
// Object Store, DESIGN.md decision 9). Same threading and failure rules as KvBackend: calls on
// the loop thread, callbacks posted or later, never inline; nothing is sent while disconnected.
class StreamClient {
 public:
  virtual ~StreamClient() = default;
  // Publishes to a stream subject and reports the PubAck. Any header may be given (Nats-Rollup,
  // Nats-Msg-Id, ...). kTooLarge when the message exceeds max_payload().
  virtual void PublishAcked(std::string_view subject, const Headers& headers,
                            std::string_view payload, std::function<void(WriteResult)> cb) = 0;
  // Publishes `body` with a reply subject and hands the whole answer to cb (kTimeout after the
  // operation timeout, kUnavailable when not connected or the connection is lost first).
  virtual void Request(std::string_view subject, std::string_view body,
                       StreamReplyCallback cb) = 0;
  // Largest message the server accepts (its max_payload).
  virtual size_t max_payload() const = 0;
  virtual bool is_connected() const = 0;
};

using GetCallback = std::function<void(GetResult)>;
using WriteCallback = std::function<void(WriteResult)>;
using BucketCallback = std::function<void(KvStatus, std::string detail)>;

class KvBackend {
 public:
  virtual ~KvBackend() = default;

  // Last entry of `key` (a marker counts as an entry). kNotFound when the key has none.
  virtual void Get(std::string_view bucket, std::string_view key, GetCallback cb) = 0;

  // Stores a put or a marker, optionally with CAS and a msg id.
  virtual void Write(const WriteRequest& request, WriteCallback cb) = 0;

  // Makes sure `bucket` exists (creating it when missing), then calls cb (posted, never
  // inline). Operations on a bucket that does not exist fail or time out, so the gateway
  // ensures each database's bucket before its first use.
  virtual void EnsureBucket(const std::string& bucket, BucketCallback cb) = 0;
  // True when `bucket` is known to exist on the current connection (no round trip needed).
  virtual bool IsBucketReady(const std::string& bucket) const = 0;

  // Removes every message of `bucket`'s stream ($JS.API.STREAM.PURGE). kNotFound when the
  // stream does not exist. Posted or later, never inline.
  virtual void PurgeBucket(const std::string& bucket, BucketCallback cb) = 0;

  // The live-key index of `bucket`, kept by the bucket follower (DESIGN.md decision 5), or
  // nullptr when no follower runs for it yet (or this backend has none). Valid until the next
  // backend call; read it, do not keep it.
  virtual const KeyspaceIndex* Keyspace(const std::string& bucket) = 0;
  // Calls cb(kOk) once the follower of `bucket` has applied every write this backend has had
  // acknowledged for it, and the history present when it started (so DBSIZE after SET counts
  // the key); starts the follower when none runs. cb(kUnavailable) when that cannot happen in
  // time. Posted or later, never inline.
  virtual void WhenSynced(const std::string& bucket, std::function<void(KvStatus)> cb) = 0;

  // True when every change to `bucket` from now on reaches the change observer: connected, and
  // its follower runs and has applied everything stored before it last (re)started. A cache of the bucket's
  // entries may only be trusted while this holds (ReadCache). Backends without followers: false.
  virtual bool IsFollowing(std::string_view bucket) const {
    (void)bucket;
    return false;
  }

  // True when operations can be sent now. Commands fail fast with kUnavailable otherwise.
  virtual bool is_connected() const = 0;

  // Largest encoded key this backend can send in every operation (protocol line limit).
  virtual size_t max_key_length() const = 0;

  // Receives every change the followers apply (one observer; replaces the previous one).
  // Backends without followers never call it.
  virtual void SetChangeObserver(ChangeObserver observer) { (void)observer; }
  // Core NATS pub/sub on this backend's connection, or nullptr when it has none.
  virtual MessageBus* bus() { return nullptr; }

  // --- Large values (DESIGN.md decision 9; gateway/object_store.h) ---
  // Like Get, but an entry whose value lives in the Object Store comes back as its pointer (an
  // empty value with the Redis-Object header) instead of being read whole. For commands that
  // need only the metadata (TYPE, TTL, DEL, EXPIRE, STRLEN) or read the value their own way
  // (GET streams it, GETRANGE reads the chunks it needs). Backends that never spill: Get.
  virtual void GetPointer(std::string_view bucket, std::string_view key, GetCallback cb) {
    Get(bucket, key, std::move(cb));
  }
  // Raw JetStream access on this backend's connection, or nullptr when it has none.
  virtual StreamClient* streams() { return nullptr; }
  // Calls fn(key, nuid) for every key of `bucket` whose last entry is an Object Store pointer,
  // as the bucket's follower sees it now. False (fn never called) when there is no follower
  // that has caught up, so the caller cannot know which objects are referenced.
  virtual bool ForEachObjectRef(
      const std::string& bucket,
      const std::function<void(std::string_view key, std::string_view nuid)>& fn) {
    (void)bucket;
    (void)fn;
    return false;
  }
};

}  // namespace kvmap
