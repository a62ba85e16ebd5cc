// SPDX-License-Identifier: Apache-2.0
#include "gateway/object_store.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "kvmap/js_api.h"
#include "kvmap/nats_protocol.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// Metadata younger than this is left alone by the sweeper: its writer may still be between
// the pointer and the metadata write, or the follower not have seen the pointer yet.
constexpr int64_t kMetaSettleMs = 2000;

std::string DirectGetSubject(const std::string& ob) {
  return "$JS.API.DIRECT.GET." + kvmap::ObjectStreamName(ob);
}

uint64_t HeaderUint(std::string_view headers, std::string_view name) {
  std::string_view v = kvmap::FindHeaderValue(headers, name);
  uint64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

// Wall-clock age of a message from its Nats-Time-Stamp, or -1 when unknown.
int64_t MessageAgeMs(std::string_view headers) {
  auto ts = kvmap::ParseNatsTimestamp(kvmap::FindHeaderValue(headers, "Nats-Time-Stamp"));
  if (!ts) return -1;
  return kvmap::NowUnixMs() - *ts / 1'000'000;
}

bool IsCertainFailure(KvStatus status) {
  return status == KvStatus::kRevisionMismatch || status == KvStatus::kTooLarge ||
         status == KvStatus::kInvalidKey || status == KvStatus::kNotFound ||
         status == KvStatus::kUnavailable;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// ObjectReader

std::shared_ptr<ObjectReader> ObjectReader::Start(ObjectLayer* layer, kvmap::ObjectRef ref,
                                                  uint32_t first_chunk, uint32_t end_chunk,
                                                  ChunkFn on_chunk, DoneFn on_done) {
  auto reader = std::make_shared<ObjectReader>(layer, std::move(ref), first_chunk, end_chunk,
                                               std::move(on_chunk), std::move(on_done));
  reader->self_ = reader;  // runs until done, failed or cancelled
  layer->readers_.insert(reader.get());
  layer->executor()->Post([weak = std::weak_ptr<ObjectReader>(reader)] {
    if (auto self = weak.lock()) self->Pump();
  });
  return reader;
}

ObjectReader::ObjectReader(ObjectLayer* layer, kvmap::ObjectRef ref, uint32_t first_chunk,
                           uint32_t end_chunk, ChunkFn on_chunk, DoneFn on_done)
    : layer_(layer),
      layer_alive_(layer->alive()),
      ref_(std::move(ref)),
      subject_(kvmap::ChunkSubject(ref_.bucket, ref_.nuid)),
      first_chunk_(first_chunk),
      end_chunk_(std::min(end_chunk, ref_.chunks)),
      on_chunk_(std::move(on_chunk)),
      on_done_(std::move(on_done)) {
  layer_->Hold(ref_.nuid);
  if (first_chunk_ == 0 && end_chunk_ == ref_.chunks) {
    sha_ = std::make_unique<kvmap::Sha256>();
  }
  if (ref_.is_contiguous()) {
    // Chunk i is at first_seq + i: start at the range.
    is_exact_ = true;
    next_request_ = next_deliver_ = first_chunk_;
    base_index_ = first_chunk_;
    base_seq_ = ref_.first_seq + first_chunk_;
    last_seq_ = base_seq_ - 1;
  } else {
    // Walk from the first chunk (the ones before the range are read and skipped).
    base_seq_ = ref_.first_seq > 0 ? ref_.first_seq : 1;
  }
  if (first_chunk_ >= end_chunk_) {
    next_request_ = next_deliver_ = end_chunk_;
  }
}

ObjectReader::~ObjectReader() {
  if (!is_done_ && !layer_alive_.expired()) Finished();
}

void ObjectReader::Finished() {
  layer_->Release(ref_.nuid);
  layer_->readers_.erase(this);
}

void ObjectReader::Resume() {
  if (!is_paused_) return;
  is_paused_ = false;
  Pump();
}

void ObjectReader::Cancel() {
  if (is_done_) return;
  is_done_ = true;
  if (!layer_alive_.expired()) Finished();
  on_chunk_ = nullptr;
  on_done_ = nullptr;
  self_.reset();  // may destroy this object: last statement
}

void ObjectReader::Pump() {
  if (is_done_) return;
  if (next_deliver_ >= end_chunk_) {
    // An empty range, or everything delivered.
    Deliver();
    return;
  }
  kvmap::StreamClient* client = layer_->client();
  if (client == nullptr) {
    Fail(KvStatus::kUnavailable, "no NATS connection");
    return;
  }
  while (!is_paused_ && next_request_ < end_chunk_ &&
         in_flight_ + arrived_.size() < ObjectLayer::kReadWindow) {
    uint32_t i = next_request_++;
    uint64_t from = base_seq_ + (i - base_index_);
    ++in_flight_;
    // Contiguous chunks are read by sequence (cheaper for the server than a subject search);
    // the answer's subject is checked all the same.
    std::string body = is_exact_ ? "{\"seq\":" + std::to_string(from) + "}"
                                 : kvmap::BuildNextBySubjectRequest(subject_, from);
    client->Request(DirectGetSubject(ref_.bucket), body,
                    [weak = weak_from_this(), gen = generation_, i](const kvmap::StreamReply& r) {
                      if (auto self = weak.lock()) self->OnReply(gen, i, r);
                    });
  }
}

void ObjectReader::OnReply(uint64_t generation, uint32_t index, const kvmap::StreamReply& reply) {
  if (is_done_ || generation != generation_) return;
  if (layer_alive_.expired()) {  // shutting down: the layer cancelled its readers already
    Cancel();
    return;
  }
  --in_flight_;
  if (reply.status != KvStatus::kOk) {
    Fail(reply.status == KvStatus::kTimeout ? KvStatus::kTimeout : KvStatus::kUnavailable,
         reply.detail.empty() ? "object chunk read failed" : reply.detail);
    return;
  }
  if (reply.code == 404) {
    Fail(KvStatus::kInternal, "object chunk missing (the object was removed while being read)");
    return;
  }
  if (reply.code != 0) {
    Fail(KvStatus::kInternal, "object chunk read failed (status " + std::to_string(reply.code) + ")");
    return;
  }
  uint64_t seq = HeaderUint(reply.headers, "Nats-Sequence");
  if (seq == 0 || kvmap::FindHeaderValue(reply.headers, "Nats-Subject") != subject_) {
    Fail(KvStatus::kInternal, "unexpected object chunk answer");
    return;
  }
  arrived_.emplace(index, std::make_pair(seq, std::string(reply.payload)));
  Deliver();
  if (!is_done_) Pump();
}

void ObjectReader::Deliver() {
  std::shared_ptr<ObjectReader> keep = shared_from_this();  // on_chunk may drop the last owner
  while (!is_done_) {
    if (next_deliver_ >= end_chunk_) {
      if (sha_ && !ref_.digest.empty() && kvmap::DigestString(sha_->Final()) != ref_.digest) {
        Fail(KvStatus::kInternal, "object digest mismatch");
        return;
      }
      is_done_ = true;
      Finished();
      ++layer_->mutable_stats().objects_read;
      DoneFn done = std::move(on_done_);
      on_chunk_ = nullptr;
      self_.reset();  // `keep` holds this object until the function returns
      if (done) done(KvStatus::kOk, {});
      return;
    }
    auto it = arrived_.find(next_deliver_);
    if (it == arrived_.end()) return;
    auto [seq, data] = std::move(it->second);
    arrived_.erase(it);
    if (seq <= last_seq_) {
      // The guess was too low (another subject's messages sit between our chunks): ask again
      // from just after the last chunk, and forget the answers to the old guesses.
      base_seq_ = last_seq_ + 1;
      base_index_ = next_deliver_;
      next_request_ = next_deliver_;
      arrived_.clear();
      in_flight_ = 0;
      ++generation_;
      return;  // the caller pumps
    }
    last_seq_ = seq;
    uint32_t i = next_deliver_++;
    uint64_t expected = i + 1 < ref_.chunks
                            ? kvmap::kObjectChunkSize
                            : ref_.size - static_cast<uint64_t>(i) * kvmap::kObjectChunkSize;
    if (data.size() != expected) {
      Fail(KvStatus::kInternal, "object chunk has the wrong size");
      return;
    }
    if (sha_) sha_->Update(data);
    if (i < first_chunk_) continue;  // walking to the start of a range
    layer_->mutable_stats().bytes_read += data.size();
    if (on_chunk_) on_chunk_(data);
  }
}

void ObjectReader::Fail(KvStatus status, std::string detail) {
  if (is_done_) return;
  is_done_ = true;
  Finished();
  if (status == KvStatus::kInternal) ++layer_->mutable_stats().read_errors;
  std::fprintf(stderr, "objects: read of %s/%s (%s) failed: %s\n", ref_.bucket.c_str(),
               ref_.name.c_str(), ref_.nuid.c_str(), detail.c_str());
  DoneFn done = std::move(on_done_);
  on_chunk_ = nullptr;
  std::shared_ptr<ObjectReader> keep = std::move(self_);
  if (done) done(status, std::move(detail));
}

// ---------------------------------------------------------------------------------------------
// ObjectLayer

struct ObjectLayer::Upload {
  std::string bucket, key, ob, nuid, msg_id;
  kvmap::EntryOp op = kvmap::EntryOp::kPut;
  kvmap::Headers headers;
  std::optional<uint64_t> expected_revision;
  std::string_view value;
  std::shared_ptr<const void> owner;
  kvmap::WriteCallback cb;
  uint32_t chunks = 0, next_send = 0, acked = 0, in_flight = 0;
  std::vector<uint64_t> seqs;
  kvmap::Sha256 sha;
  bool has_failed = false;
  KvStatus fail_status = KvStatus::kUnavailable;
  std::string fail_detail;
};

ObjectLayer::ObjectLayer(kvmap::KvBackend* inner, kvmap::Executor* executor,
                         ObjectStoreOptions options)
    : ForwardingBackend(inner), executor_(executor), options_(options) {}

ObjectLayer::~ObjectLayer() {
  // Readers keep themselves alive until they finish; the ones still running stop here.
  std::vector<ObjectReader*> readers(readers_.begin(), readers_.end());
  for (ObjectReader* r : readers) {
    if (readers_.count(r) != 0) r->Cancel();
  }
}

size_t ObjectLayer::threshold() const {
  kvmap::StreamClient* client = inner_->streams();
  if (client == nullptr) return 0;
  size_t max_payload = client->max_payload();
  if (max_payload <= kHeaderRoom) return 0;
  size_t limit = max_payload - kHeaderRoom;
  if (options_.threshold > 0 && options_.threshold < limit) return options_.threshold;
  return limit;
}

void ObjectLayer::Release(const std::string& nuid) {
  auto it = held_.find(nuid);
  if (it != held_.end() && --it->second <= 0) held_.erase(it);
}

void ObjectLayer::Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) {
  inner_->Get(bucket, key, Guard([this, cb = std::move(cb)](kvmap::GetResult r) mutable {
    if (r.status != KvStatus::kOk || r.entry.is_marker()) {
      cb(std::move(r));
      return;
    }
    auto& headers = r.entry.headers;
    auto it = std::find_if(headers.begin(), headers.end(),
                           [](const kvmap::Header& h) { return h.first == kvmap::kHdrObject; });
    if (it == headers.end()) {
      cb(std::move(r));
      return;
    }
    std::optional<kvmap::ObjectRef> ref = kvmap::ParseObjectRef(it->second);
    headers.erase(it);
    if (!kvmap::IsLiveNow(r.entry)) {
      // Expired: the command sees no key; no need to read the object.
      r.entry.value.clear();
      cb(std::move(r));
      return;
    }
    if (!ref) {
      kvmap::GetResult bad;
      bad.status = KvStatus::kInternal;
      bad.detail = "malformed Redis-Object header";
      cb(std::move(bad));
      return;
    }
    // Read the whole value into the entry (reserved once: the value is held exactly once).
    auto result = std::make_shared<kvmap::GetResult>(std::move(r));
    result->entry.value.clear();
    result->entry.value.reserve(ref->size);
    uint32_t chunks = ref->chunks;
    ObjectReader::Start(
        this, std::move(*ref), 0, chunks,
        [result](std::string_view data) { result->entry.value.append(data); },
        [result, cb = std::move(cb)](KvStatus status, std::string detail) mutable {
          if (status != KvStatus::kOk) {
            kvmap::GetResult failed;
            failed.status = status;
            failed.detail = std::move(detail);
            cb(std::move(failed));
            return;
          }
          cb(std::move(*result));
        });
  }));
}

void ObjectLayer::Write(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) {
  size_t limit = threshold();
  if (request.op != kvmap::EntryOp::kPut || limit == 0 || request.value.size() <= limit) {
    // A small value. A Redis-Object header only travels with an empty value (a command that
    // read the pointer and changes only its TTL); with a value it would be stale.
    if (!request.value.empty() && kvmap::FindHeader(request.headers, kvmap::kHdrObject)) {
      kvmap::WriteRequest copy = request;
      std::erase_if(copy.headers,
                    [](const kvmap::Header& h) { return h.first == kvmap::kHdrObject; });
      inner_->Write(copy, std::move(cb));
      return;
    }
    inner_->Write(request, std::move(cb));
    return;
  }
  auto up = std::make_shared<Upload>();
  up->bucket = std::string(request.bucket);
  up->key = std::string(request.key);
  up->ob = kvmap::ObjectBucketFor(request.bucket);
  up->nuid = kvmap::NewObjectNuid();
  up->msg_id = request.msg_id;
  up->op = request.op;
  for (const kvmap::Header& h : request.headers) {
    if (h.first != kvmap::kHdrObject) up->headers.push_back(h);
  }
  up->expected_revision = request.expected_revision;
  if (request.value_owner) {
    up->owner = request.value_owner;
    up->value = request.value;
  } else {
    auto copy = std::make_shared<const std::string>(request.value);
    up->value = *copy;
    up->owner = std::move(copy);
  }
  up->cb = std::move(cb);
  up->chunks = kvmap::ChunkCount(up->value.size());
  up->seqs.assign(up->chunks, 0);
  StartUpload(std::move(up));
}

void ObjectLayer::StartUpload(std::shared_ptr<Upload> up) {
  Hold(up->nuid);
  std::string ob = up->ob;
  EnsureObjectBucket(ob, Guard([this, up](KvStatus status, std::string detail) {
    if (status != KvStatus::kOk) {
      up->has_failed = true;
      up->fail_status = status == KvStatus::kUnavailable ? status : KvStatus::kInternal;
      up->fail_detail = "object store " + up->ob + ": " + detail;
      kvmap::WriteResult r;
      r.status = up->fail_status;
      r.detail = up->fail_detail;
      FinishUpload(up, std::move(r));
      return;
    }
    SendChunks(up);
  }));
}

void ObjectLayer::SendChunks(const std::shared_ptr<Upload>& up) {
  kvmap::StreamClient* c = client();
  std::string subject = kvmap::ChunkSubject(up->ob, up->nuid);
  while (!up->has_failed && up->next_send < up->chunks && up->in_flight < kUploadWindow) {
    uint32_t i = up->next_send++;
    std::string_view chunk =
        up->value.substr(static_cast<size_t>(i) * kvmap::kObjectChunkSize, kvmap::kObjectChunkSize);
    up->sha.Update(chunk);
    ++up->in_flight;
    c->PublishAcked(subject, {}, chunk, Guard([this, up, i](kvmap::WriteResult r) {
      --up->in_flight;
      if (!up->has_failed && r.status != KvStatus::kOk) {
        up->has_failed = true;
        if (r.status == KvStatus::kNotFound) ForgetObjectBucket(up->ob);  // stream gone
        up->fail_detail = "object chunk write failed: " +
                          (r.detail.empty() ? std::string(kvmap::KvStatusName(r.status)) : r.detail);
      }
      if (up->has_failed) {
        if (up->in_flight == 0) {
          // Nothing refers to the chunks written so far: remove them (the sweeper would too).
          if (up->next_send > 0) PurgeChunks(up->ob, up->nuid);
          kvmap::WriteResult failed;
          failed.status = KvStatus::kUnavailable;  // the KV entry was never written
          failed.detail = up->fail_detail;
          FinishUpload(up, std::move(failed));
        }
        return;
      }
      up->seqs[i] = r.revision;
      if (++up->acked == up->chunks) {
        WritePointer(up);
      } else {
        SendChunks(up);
      }
    }));
  }
}

void ObjectLayer::WritePointer(const std::shared_ptr<Upload>& up) {
  if (const char* crash = std::getenv("RNG_DEBUG_CRASH_BEFORE_OBJECT_POINTER");
      crash != nullptr && *crash == '1') {
    // Fault injection for the crash-safety test: die with the chunks stored and no pointer.
    std::fprintf(stderr, "objects: RNG_DEBUG_CRASH_BEFORE_OBJECT_POINTER: exiting before the "
                         "pointer of %s\n", up->key.c_str());
    std::fflush(stderr);
    std::_Exit(86);
  }
  kvmap::ObjectRef ref;
  ref.bucket = up->ob;
  ref.name = up->key;
  ref.nuid = up->nuid;
  ref.size = up->value.size();
  ref.chunks = up->chunks;
  ref.first_seq = up->seqs.front();
  ref.last_seq = up->seqs.back();
  ref.digest = kvmap::DigestString(up->sha.Final());
  // Pointer written: the value itself is no longer needed.
  up->value = {};
  up->owner.reset();

  kvmap::WriteRequest w;
  w.bucket = up->bucket;
  w.key = up->key;
  w.op = up->op;
  w.headers = up->headers;
  w.headers.emplace_back(std::string(kvmap::kHdrObject), kvmap::FormatObjectRef(ref));
  w.expected_revision = up->expected_revision;
  w.msg_id = up->msg_id;
  inner_->Write(w, Guard([this, up, ref](kvmap::WriteResult r) mutable {
    if (r.status != KvStatus::kOk) {
      if (IsCertainFailure(r.status)) PurgeChunks(up->ob, up->nuid);
      FinishUpload(up, std::move(r));
      return;
    }
    if (r.is_duplicate) {
      // An earlier copy of this write (same msg id) was applied, with its own chunks.
      PurgeChunks(up->ob, up->nuid);
      FinishUpload(up, std::move(r));
      return;
    }
    ++stats_.objects_written;
    stats_.bytes_written += ref.size;
    kvmap::Headers meta_headers{{"Nats-Rollup", "sub"}};
    client()->PublishAcked(kvmap::MetaSubject(up->ob, up->key), meta_headers,
                           kvmap::BuildObjectMeta(kvmap::InfoFromRef(ref)),
                           Guard([this, up, r = std::move(r)](kvmap::WriteResult meta) mutable {
                             if (meta.status != KvStatus::kOk) {
                               // The value is stored; the sweeper writes the metadata later.
                               std::fprintf(stderr, "objects: metadata of %s not written: %s\n",
                                            up->key.c_str(), meta.detail.c_str());
                             }
                             FinishUpload(up, std::move(r));
                           }));
  }));
}

void ObjectLayer::FinishUpload(const std::shared_ptr<Upload>& up, kvmap::WriteResult result) {
  Release(up->nuid);
  up->value = {};
  up->owner.reset();
  kvmap::WriteCallback cb = std::move(up->cb);
  if (cb) cb(std::move(result));
}

void ObjectLayer::EnsureBucket(const std::string& bucket, kvmap::BucketCallback cb) {
  known_buckets_.insert(bucket);
  inner_->EnsureBucket(bucket, std::move(cb));
}

void ObjectLayer::EnsureObjectBucket(const std::string& ob, kvmap::BucketCallback cb) {
  kvmap::StreamClient* c = client();
  if (c == nullptr || !c->is_connected()) {
    executor_->Post([cb = std::move(cb)] { cb(KvStatus::kUnavailable, "not connected to NATS"); });
    return;
  }
  if (ready_object_buckets_.count(ob) != 0) {
    executor_->Post([cb = std::move(cb)] { cb(KvStatus::kOk, {}); });
    return;
  }
  auto& waiters = ensuring_[ob];
  waiters.push_back(std::move(cb));
  if (waiters.size() > 1) return;
  auto finish = [this, ob](KvStatus status, const std::string& detail) {
    if (status == KvStatus::kOk) ready_object_buckets_.insert(ob);
    auto it = ensuring_.find(ob);
    if (it == ensuring_.end()) return;
    std::vector<kvmap::BucketCallback> cbs = std::move(it->second);
    ensuring_.erase(it);
    for (auto& w : cbs) w(status, detail);
  };
  std::string stream = kvmap::ObjectStreamName(ob);
  c->Request("$JS.API.STREAM.INFO." + stream, "",
             Guard([this, ob, stream, finish](const kvmap::StreamReply& r) {
               if (r.status != KvStatus::kOk || r.code == 503) {
                 finish(r.status == KvStatus::kOk ? KvStatus::kUnavailable : r.status,
                        r.code == 503 ? "JetStream is not enabled" : "stream info failed");
                 return;
               }
               auto err = kvmap::ParseJsApiError(r.payload);
               if (!err) {
                 finish(KvStatus::kOk, {});
                 return;
               }
               if (err->err_code != kvmap::kJsErrStreamNotFound) {
                 finish(KvStatus::kInternal, "stream info: " + err->description);
                 return;
               }
               client()->Request(
                   "$JS.API.STREAM.CREATE." + stream,
                   kvmap::BuildObjectStreamConfig(ob, options_.replicas),
                   [ob, stream, finish](const kvmap::StreamReply& created) {
                     if (created.status != KvStatus::kOk) {
                       finish(created.status, "create object store failed");
                       return;
                     }
                     if (auto e = kvmap::ParseJsApiError(created.payload)) {
                       finish(KvStatus::kInternal, "create object store: " + e->description);
                       return;
                     }
                     std::fprintf(stderr, "nats: created object store %s (stream %s)\n",
                                  ob.c_str(), stream.c_str());
                     finish(KvStatus::kOk, {});
                   });
             }));
}

void ObjectLayer::PurgeChunks(const std::string& ob, const std::string& nuid) {
  kvmap::StreamClient* c = client();
  if (c == nullptr) return;
  c->Request("$JS.API.STREAM.PURGE." + kvmap::ObjectStreamName(ob),
             kvmap::BuildPurgeSubjectRequest(kvmap::ChunkSubject(ob, nuid)),
             Guard([this](const kvmap::StreamReply& r) {
               if (r.status == KvStatus::kOk && r.code == 0 && !kvmap::ParseJsApiError(r.payload)) {
                 ++stats_.chunks_purged;
               }
             }));
}

// ---------------------------------------------------------------------------------------------
// Sweeper

void ObjectLayer::Tick(int64_t now_ms) {
  if (options_.sweep_ms <= 0 || now_ms < next_sweep_ms_) return;
  next_sweep_ms_ = now_ms + options_.sweep_ms;
  SweepNow();
}

void ObjectLayer::SweepNow() {
  if (is_sweeping_) return;
  is_sweeping_ = true;
  sweep_queue_.assign(known_buckets_.begin(), known_buckets_.end());
  SweepNext();
}

void ObjectLayer::SweepNext() {
  if (sweep_queue_.empty()) {
    is_sweeping_ = false;
    ++stats_.sweeps;
    return;
  }
  std::string bucket = std::move(sweep_queue_.back());
  sweep_queue_.pop_back();
  SweepBucket(bucket, Guard([this] { SweepNext(); }));
}

// One sweep of one bucket's object store. Every step is asynchronous; `done` runs once, after
// the last one.
struct ObjectLayer::Sweep {
  std::string bucket, ob;
  std::unordered_map<std::string, std::string> key_of_nuid;
  std::map<std::string, std::string> nuid_of_key;
  std::set<std::string> keys_with_meta;
  int pending = 0;
  std::function<void()> done;
  void Finish() {
    if (--pending == 0 && done) {
      auto d = std::move(done);
      d();
    }
  }
};

void ObjectLayer::SweepBucket(const std::string& bucket, std::function<void()> done) {
  kvmap::StreamClient* c = client();
  auto sw = std::make_shared<Sweep>();
  sw->bucket = bucket;
  sw->ob = kvmap::ObjectBucketFor(bucket);
  sw->done = std::move(done);
  sw->pending = 1;  // this function's own part
  bool known = c != nullptr && c->is_connected() &&
               inner_->ForEachObjectRef(bucket, [&](std::string_view key, std::string_view nuid) {
                 sw->key_of_nuid.emplace(std::string(nuid), std::string(key));
                 sw->nuid_of_key.emplace(std::string(key), std::string(nuid));
               });
  if (!known) {
    // Not connected, or the follower has not caught up: which objects are referenced is
    // unknown, so nothing may be removed now.
    executor_->Post([sw] { sw->Finish(); });
    return;
  }
  const std::string stream = kvmap::ObjectStreamName(sw->ob);
  const int64_t now = kvmap::NowUnixMs();

  // 1. Chunks no pointer refers to.
  ++sw->pending;
  c->Request(
      "$JS.API.STREAM.INFO." + stream,
      kvmap::BuildSubjectsInfoRequest("$O." + sw->ob + ".C.>"),
      Guard([this, sw, now](const kvmap::StreamReply& r) {
        if (r.status != KvStatus::kOk || r.code != 0 || kvmap::ParseJsApiError(r.payload)) {
          sw->Finish();  // no object store for this bucket (or not reachable now)
          return;
        }
        std::string prefix = "$O." + sw->ob + ".C.";
        std::set<std::string> present;
        for (auto& [subject, count] : kvmap::ParseStreamSubjects(r.payload)) {
          if (subject.compare(0, prefix.size(), prefix) != 0) continue;
          std::string nuid = subject.substr(prefix.size());
          std::string tracked = sw->ob + "/" + nuid;
          present.insert(tracked);
          if (sw->key_of_nuid.count(nuid) != 0 || held_.count(nuid) != 0) {
            unreferenced_since_.erase(tracked);
            continue;
          }
          auto [it, is_new] = unreferenced_since_.emplace(tracked, now);
          if (is_new || now - it->second < options_.grace_ms) continue;
          // Unreferenced for the whole grace period. Its newest chunk must be that old too: an
          // upload still in progress on another gateway is not an orphan.
          ++sw->pending;
          client()->Request(
              DirectGetSubject(sw->ob), kvmap::BuildLastBySubjectRequest(subject),
              Guard([this, sw, nuid, tracked](const kvmap::StreamReply& last) {
                if (last.status == KvStatus::kOk && last.code == 0) {
                  int64_t age = MessageAgeMs(last.headers);
                  if (age >= options_.grace_ms && held_.count(nuid) == 0) {
                    PurgeChunks(sw->ob, nuid);
                    unreferenced_since_.erase(tracked);
                  }
                }
                sw->Finish();
              }));
        }
        // Forget this store's chunks that are gone.
        std::string mine = sw->ob + "/";
        for (auto it = unreferenced_since_.begin(); it != unreferenced_since_.end();) {
          bool is_gone = it->first.compare(0, mine.size(), mine) == 0 &&
                         present.count(it->first) == 0;
          it = is_gone ? unreferenced_since_.erase(it) : std::next(it);
        }
        sw->Finish();
      }));

  // 2. Metadata that does not match the KV entry.
  ++sw->pending;
  c->Request(
      "$JS.API.STREAM.INFO." + stream, kvmap::BuildSubjectsInfoRequest("$O." + sw->ob + ".M.>"),
      Guard([this, sw](const kvmap::StreamReply& r) {
        if (r.status != KvStatus::kOk || r.code != 0 || kvmap::ParseJsApiError(r.payload)) {
          sw->Finish();
          return;
        }
        std::string prefix = "$O." + sw->ob + ".M.";
        for (auto& [subject, count] : kvmap::ParseStreamSubjects(r.payload)) {
          if (subject.compare(0, prefix.size(), prefix) != 0) continue;
          std::optional<std::string> name = kvmap::DecodeBase64Url(subject.substr(prefix.size()));
          if (!name) continue;
          sw->keys_with_meta.insert(*name);
          ++sw->pending;
          client()->Request(
              DirectGetSubject(sw->ob), kvmap::BuildLastBySubjectRequest(subject),
              Guard([this, sw, name = *name](const kvmap::StreamReply& m) {
                if (m.status != KvStatus::kOk || m.code != 0) {
                  sw->Finish();
                  return;
                }
                std::optional<kvmap::ObjectInfo> info = kvmap::ParseObjectMeta(m.payload);
                auto expected = sw->nuid_of_key.find(name);
                bool matches = info && (expected == sw->nuid_of_key.end()
                                            ? info->deleted
                                            : !info->deleted && info->nuid == expected->second);
                if (!info || matches || MessageAgeMs(m.headers) < kMetaSettleMs) {
                  sw->Finish();
                  return;
                }
                // Confirm with the KV entry itself (the follower may lag), then fix.
                inner_->Get(sw->bucket, name,
                            Guard([this, sw, name, info = *info](kvmap::GetResult g) {
                              std::optional<kvmap::ObjectRef> ref;
                              if (g.status == KvStatus::kOk && !g.entry.is_marker() &&
                                  kvmap::IsLiveNow(g.entry)) {
                                if (auto h = kvmap::FindHeader(g.entry.headers, kvmap::kHdrObject)) {
                                  ref = kvmap::ParseObjectRef(*h);
                                }
                              }
                              if (g.status != KvStatus::kOk && g.status != KvStatus::kNotFound) {
                                sw->Finish();  // cannot tell now
                                return;
                              }
                              kvmap::ObjectInfo fixed;
                              if (ref) {
                                if (!info.deleted && info.nuid == ref->nuid) {
                                  sw->Finish();
                                  return;
                                }
                                fixed = kvmap::InfoFromRef(*ref);
                                fixed.name = name;
                              } else {
                                if (info.deleted) {
                                  sw->Finish();
                                  return;
                                }
                                fixed.name = name;
                                fixed.bucket = sw->ob;
                                fixed.nuid = info.nuid;
                                fixed.deleted = true;
                              }
                              ++stats_.metas_repaired;
                              client()->PublishAcked(kvmap::MetaSubject(sw->ob, name),
                                                     kvmap::Headers{{"Nats-Rollup", "sub"}},
                                                     kvmap::BuildObjectMeta(fixed),
                                                     [sw](kvmap::WriteResult) { sw->Finish(); });
                            }));
              }));
        }
        // 3. Pointers whose metadata was never written (a failure between the two writes).
        for (const auto& [key, nuid] : sw->nuid_of_key) {
          if (sw->keys_with_meta.count(key) != 0) continue;
          ++sw->pending;
          inner_->Get(sw->bucket, key, Guard([this, sw, key = key](kvmap::GetResult g) {
            std::optional<kvmap::ObjectRef> ref;
            if (g.status == KvStatus::kOk && !g.entry.is_marker()) {
              if (auto h = kvmap::FindHeader(g.entry.headers, kvmap::kHdrObject)) {
                ref = kvmap::ParseObjectRef(*h);
              }
            }
            if (!ref) {
              sw->Finish();
              return;
            }
            kvmap::ObjectInfo info = kvmap::InfoFromRef(*ref);
            info.name = key;
            ++stats_.metas_repaired;
            client()->PublishAcked(kvmap::MetaSubject(sw->ob, key),
                                   kvmap::Headers{{"Nats-Rollup", "sub"}},
                                   kvmap::BuildObjectMeta(info),
                                   [sw](kvmap::WriteResult) { sw->Finish(); });
          }));
        }
        sw->Finish();
      }));
  sw->Finish();
}

}  // namespace gateway
