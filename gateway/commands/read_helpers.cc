// SPDX-License-Identifier: Apache-2.0
#include "gateway/commands/read_helpers.h"

#include <cstdio>
#include <memory>

#include "gateway/errors.h"
#include "gateway/object_store.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {

void CountLookup(Call& call, bool is_found) {
  ServerStats& stats = call.server().stats();
  if (is_found) {
    ++stats.keyspace_hits;
  } else {
    ++stats.keyspace_misses;
  }
}

void ReadStringOrReply(Call& call, std::string_view raw_key, ValueFn fn) {
  call.backend().Get(
      call.bucket(), kvmap::EncodeKey(raw_key),
      call.Bind<kvmap::GetResult>([fn = std::move(fn)](Call& c, kvmap::GetResult r) {
        if (r.status != kvmap::KvStatus::kOk && r.status != kvmap::KvStatus::kNotFound) {
          c.ReplyKvError(r.status, r.detail);
          return;
        }
        const bool is_live =
            r.status == kvmap::KvStatus::kOk && kvmap::IsLiveNow(r.entry);
        CountLookup(c, is_live);
        if (!is_live) {
          fn(c, nullptr);
        } else if (!kvmap::IsString(r.entry)) {
          c.ReplyError(errors::kWrongType);
        } else {
          fn(c, &r.entry.value);
        }
      }));
}

void ReadStringPointerOrReply(Call& call, std::string_view raw_key, PointerFn fn) {
  call.backend().GetPointer(
      call.bucket(), kvmap::EncodeKey(raw_key),
      call.Bind<kvmap::GetResult>([fn = std::move(fn)](Call& c, kvmap::GetResult r) {
        if (r.status != kvmap::KvStatus::kOk && r.status != kvmap::KvStatus::kNotFound) {
          c.ReplyKvError(r.status, r.detail);
          return;
        }
        const bool is_live = r.status == kvmap::KvStatus::kOk && kvmap::IsLiveNow(r.entry);
        CountLookup(c, is_live);
        if (!is_live) {
          fn(c, nullptr, nullptr);
          return;
        }
        if (!kvmap::IsString(r.entry)) {
          c.ReplyError(errors::kWrongType);
          return;
        }
        if (auto header = kvmap::FindHeader(r.entry.headers, kvmap::kHdrObject)) {
          std::optional<kvmap::ObjectRef> ref = kvmap::ParseObjectRef(*header);
          if (!ref) {
            c.ReplyKvError(kvmap::KvStatus::kInternal, "malformed Redis-Object header");
            return;
          }
          fn(c, nullptr, &*ref);
          return;
        }
        fn(c, &r.entry.value, nullptr);
      }));
}

namespace {

// What one streamed object reply needs between chunks; lives as long as its call.
struct ObjectStream {
  ~ObjectStream() {
    if (reader) reader->Cancel();  // the call is gone: stop reading
  }
  std::shared_ptr<ObjectReader> reader;
  uint64_t skip = 0;       // bytes of the first chunk before the range
  uint64_t remaining = 0;  // bytes of the range not yet appended
};

// Above this backlog a streamed reply stops reading chunks until the client has taken most of
// what it was sent.
constexpr size_t kStreamHighWater = 4 << 20;

}  // namespace

void ReplyObjectRange(Call& call, const kvmap::ObjectRef& object, uint64_t offset,
                      uint64_t length) {
  ObjectLayer* layer = call.server().objects();
  if (length == 0) {
    call.reply().Bulk(std::string_view());
    call.Finish();
    return;
  }
  if (layer == nullptr) {
    call.ReplyKvError(kvmap::KvStatus::kUnavailable, "large values need the wire NATS client");
    return;
  }
  std::string& out = call.reply_bytes();
  out.push_back('$');
  out.append(std::to_string(length));
  out.append("\r\n");
  if (call.CanStream()) call.BeginStreaming();
  auto st = std::make_shared<ObjectStream>();
  st->skip = offset % kvmap::kObjectChunkSize;
  st->remaining = length;
  auto first = static_cast<uint32_t>(offset / kvmap::kObjectChunkSize);
  auto end = static_cast<uint32_t>((offset + length - 1) / kvmap::kObjectChunkSize + 1);
  std::weak_ptr<Call> weak = call.shared_from_this();
  call.owned_state = st;  // the reader lives as long as the call
  st->reader = ObjectReader::Start(
      layer, object, first, end,
      [weak, raw = st.get()](std::string_view data) {
        std::shared_ptr<Call> c = weak.lock();
        if (!c || c->is_finished()) return;
        if (raw->skip > 0) {
          data.remove_prefix(std::min<uint64_t>(raw->skip, data.size()));
          raw->skip = 0;
        }
        if (data.size() > raw->remaining) data = data.substr(0, raw->remaining);
        raw->remaining -= data.size();
        c->reply_bytes().append(data);
        if (!c->is_streaming()) return;
        c->StreamFlush();
        if (c->StreamBacklog() > kStreamHighWater) {
          raw->reader->Pause();
          c->WhenDrained([weak, raw] {
            std::shared_ptr<Call> again = weak.lock();
            if (again && !again->is_finished()) raw->reader->Resume();
          });
        }
      },
      [weak](kvmap::KvStatus status, std::string detail) {
        std::shared_ptr<Call> c = weak.lock();
        if (!c || c->is_finished()) return;
        if (status == kvmap::KvStatus::kOk) {
          c->reply_bytes().append("\r\n");
          c->Finish();
          return;
        }
        if (c->streamed_bytes() == 0) {
          // Nothing has left yet: the client gets a proper error instead.
          c->reply_bytes().clear();
          c->ReplyKvError(status, detail);
          return;
        }
        std::fprintf(stderr, "client id=%llu: closing: a large value could not be read "
                             "completely (%s)\n",
                     static_cast<unsigned long long>(c->session().id()), detail.c_str());
        c->session().CloseSoon();
      });
}

}  // namespace gateway
