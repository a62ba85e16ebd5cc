// SPDX-License-Identifier: Apache-2.0
#include "gateway/mirror.h"

#include <unistd.h>

#include <cstdio>
#include <random>

#include "kvmap/js_api.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {

struct WriteMirror::Item {
  enum class State { kFetching, kLoading, kReady, kSkip };
  State state = State::kFetching;
  std::vector<std::string> command;
};

namespace {

std::string NewOwnerId() {
  std::random_device rd;
  uint64_t r = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%d-%016llx", static_cast<int>(getpid()),
                static_cast<unsigned long long>(r));
  return buf;
}

// The value of "field":"..." in the lease JSON (written by LeaseValue: no escapes inside).
std::string FindJsonText(std::string_view json, std::string_view field) {
  std::string needle = "\"" + std::string(field) + "\":\"";
  size_t p = json.find(needle);
  if (p == std::string_view::npos) return {};
  p += needle.size();
  size_t end = json.find('"', p);
  return end == std::string_view::npos ? std::string() : std::string(json.substr(p, end - p));
}

}  // namespace

WriteMirror::WriteMirror(uv_loop_t* loop, kvmap::KvBackend* backend,
                         kvmap::StreamClient* streams, RedisClient* old, MirrorOptions options)
    : loop_(loop),
      backend_(backend),
      streams_(streams),
      old_(old),
      options_(std::move(options)),
      owner_(NewOwnerId()),
      lease_key_(std::string(kvmap::kInternalKeyPrefix) + "mirror." + options_.bucket) {}

WriteMirror::~WriteMirror() {
  if (timer_ != nullptr) {
    uv_timer_stop(timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
}

void WriteMirror::Start(std::function<void()> ready) {
  auto finish = std::make_shared<std::function<void()>>(std::move(ready));
  backend_->EnsureBucket(options_.lease_bucket, Guard([this, finish](kvmap::KvStatus st,
                                                                      std::string detail) {
    if (st != kvmap::KvStatus::kOk) {
      std::fprintf(stderr, "mirror: lease bucket %s: %s\n", options_.lease_bucket.c_str(),
                   detail.c_str());
    }
    streams_->Request(
        "$JS.API.STREAM.INFO.KV_" + options_.bucket, "",
        Guard([this, finish](const kvmap::StreamReply& r) {
          if (r.status == kvmap::KvStatus::kOk && r.code == 0) {
            start_seq_ = kvmap::FindJsonUint(r.payload, "last_seq").value_or(0);
            stream_last_ = start_seq_;
          } else {
            std::fprintf(stderr, "mirror: cannot read the stream of %s yet; a first lease "
                                 "will start from its sequence when it can\n",
                         options_.bucket.c_str());
          }
          timer_ = new uv_timer_t;
          uv_timer_init(loop_, timer_);
          timer_->data = this;
          uv_timer_start(
              timer_, [](uv_timer_t* t) { static_cast<WriteMirror*>(t->data)->OnTimer(); }, 0,
              static_cast<uint64_t>(options_.poll_ms));
          if (*finish) (*finish)();
        }));
  }));
}

std::vector<std::pair<std::string, std::string>> WriteMirror::InfoFields() const {
  uint64_t lag = is_leader_ && stream_last_ > acked_ ? stream_last_ - acked_ : 0;
  return {{"mirror_url", old_->url().Redacted()},
          {"mirror_connected", old_->is_connected() ? "1" : "0"},
          {"mirror_role", is_leader_ ? "forwarding" : "standby"},
          {"mirror_acked_seq", std::to_string(is_leader_ ? acked_ : 0)},
          {"mirror_stream_seq", std::to_string(stream_last_)},
          {"mirror_lag", std::to_string(lag)},
          {"mirror_forwarded", std::to_string(stats_.forwarded)},
          {"mirror_errors", std::to_string(stats_.errors)},
          {"mirror_skipped", std::to_string(stats_.skipped)},
          {"mirror_copies_not_returned", std::to_string(stats_.copies_not_returned)},
          {"mirror_elections", std::to_string(stats_.elections)},
          {"mirror_last_error", last_error_}};
}

void WriteMirror::OnTimer() {
  auto now = static_cast<int64_t>(uv_now(loop_));
  if (is_leader_ && now - last_renew_ms_ > options_.lease_ms - options_.renew_ms) {
    StepDown("the lease could not be renewed in time");
  }
  if (!is_campaigning_ && now >= next_campaign_ms_) {
    next_campaign_ms_ = now + options_.renew_ms;
    if (is_leader_) {
      Renew();
    } else {
      Campaign();
    }
  }
  if (!is_leader_) return;
  // Polled on every tick, also while behind: mirror_lag in INFO is then at most poll_ms old.
  if (!is_polling_ && now >= next_poll_ms_) PollLastSeq();
  Fetch();
}

std::string WriteMirror::LeaseValue(uint64_t seq) const {
  return "{\"owner\":\"" + owner_ + "\",\"until_ms\":" +
         std::to_string(kvmap::NowUnixMs() + options_.lease_ms) +
         ",\"seq\":" + std::to_string(seq) + "}";
}

void WriteMirror::Campaign() {
  is_campaigning_ = true;
  backend_->Get(options_.lease_bucket, lease_key_, Guard([this](kvmap::GetResult r) {
    std::optional<uint64_t> expected;
    uint64_t seq = start_seq_;
    if (r.status == kvmap::KvStatus::kNotFound) {
      expected = 0;
    } else if (r.status == kvmap::KvStatus::kOk && r.entry.is_marker()) {
      expected = r.entry.revision;
    } else if (r.status == kvmap::KvStatus::kOk) {
      auto until = kvmap::FindJsonUint(r.entry.value, "until_ms");
      if (!until || static_cast<int64_t>(*until) < kvmap::NowUnixMs() ||
          FindJsonText(r.entry.value, "owner") == owner_) {
        expected = r.entry.revision;
        seq = kvmap::FindJsonUint(r.entry.value, "seq").value_or(start_seq_);
      }
    }
    if (!expected) {  // another gateway holds a live lease, or NATS did not answer
      is_campaigning_ = false;
      return;
    }
    std::string value = LeaseValue(seq);
    kvmap::WriteRequest w;
    w.bucket = options_.lease_bucket;
    w.key = lease_key_;
    w.value = value;
    w.expected_revision = expected;
    backend_->Write(w, Guard([this, seq](kvmap::WriteResult wr) {
      is_campaigning_ = false;
      if (wr.status == kvmap::KvStatus::kOk) BecomeLeader(wr.revision, seq);
    }));
  }));
}

void WriteMirror::Renew() {
  is_campaigning_ = true;
  std::string value = LeaseValue(acked_);
  kvmap::WriteRequest w;
  w.bucket = options_.lease_bucket;
  w.key = lease_key_;
  w.value = value;
  w.expected_revision = lease_revision_;
  uint64_t generation = generation_;
  auto asked_at = static_cast<int64_t>(uv_now(loop_));
  backend_->Write(w, Guard([this, generation, asked_at](kvmap::WriteResult wr) {
    is_campaigning_ = false;
    if (!is_leader_ || generation != generation_) return;
    if (wr.status == kvmap::KvStatus::kOk) {
      lease_revision_ = wr.revision;
      last_renew_ms_ = asked_at;
    } else if (wr.status == kvmap::KvStatus::kRevisionMismatch) {
      StepDown("another gateway took the lease");
    }
  }));
}

void WriteMirror::BecomeLeader(uint64_t lease_revision, uint64_t seq) {
  is_leader_ = true;
  ++stats_.elections;
  lease_revision_ = lease_revision;
  last_renew_ms_ = static_cast<int64_t>(uv_now(loop_));
  ++generation_;
  items_.clear();
  acked_ = sent_ = fetched_to_ = seq;
  in_flight_ = 0;
  std::fprintf(stderr, "mirror: forwarding changes of %s to %s from sequence %llu\n",
               options_.bucket.c_str(), old_->url().Redacted().c_str(),
               static_cast<unsigned long long>(seq));
  PollLastSeq();
}

void WriteMirror::StepDown(const char* why) {
  if (!is_leader_) return;
  std::fprintf(stderr, "mirror: no longer forwarding (%s)\n", why);
  is_leader_ = false;
  ++generation_;
  items_.clear();
  in_flight_ = 0;
}

void WriteMirror::Rewind(const char* why) {
  ++stats_.errors;
  ++generation_;
  items_.clear();
  fetched_to_ = sent_ = acked_;
  in_flight_ = 0;
  resume_at_ms_ = static_cast<int64_t>(uv_now(loop_)) + 500;
  last_error_ = why;
  if (!old_->last_error().empty()) last_error_ += " (" + old_->last_error() + ")";
}

void WriteMirror::PollLastSeq() {
  is_polling_ = true;
  next_poll_ms_ = static_cast<int64_t>(uv_now(loop_)) + options_.poll_ms;
  streams_->Request("$JS.API.STREAM.INFO.KV_" + options_.bucket, "",
                    Guard([this](const kvmap::StreamReply& r) {
                      is_polling_ = false;
                      if (r.status != kvmap::KvStatus::kOk || r.code != 0) return;
                      auto last = kvmap::FindJsonUint(r.payload, "last_seq");
                      if (last && *last > stream_last_) stream_last_ = *last;
                      Fetch();
                    }));
}

void WriteMirror::Fetch() {
  if (!is_leader_ || static_cast<int64_t>(uv_now(loop_)) < resume_at_ms_) return;
  if (!old_->is_connected()) return;  // nothing could be sent: wait for it
  const std::string subject = "$JS.API.DIRECT.GET.KV_" + options_.bucket;
  while (fetched_to_ < stream_last_ && fetched_to_ - sent_ < options_.window &&
         sent_ - acked_ < 4 * options_.window) {
    uint64_t seq = ++fetched_to_;
    items_[seq] = std::make_unique<Item>();
    uint64_t generation = generation_;
    streams_->Request(subject, "{\"seq\":" + std::to_string(seq) + "}",
                      Guard([this, generation, seq](const kvmap::StreamReply& r) {
                        OnFetched(generation, seq, r);
                      }));
  }
}

void WriteMirror::OnFetched(uint64_t generation, uint64_t seq, const kvmap::StreamReply& reply) {
  if (generation != generation_) return;
  auto it = items_.find(seq);
  if (it == items_.end()) return;
  Item& item = *it->second;
  if (reply.status != kvmap::KvStatus::kOk || (reply.code != 0 && reply.code != 404)) {
    Rewind("a direct get failed");
    return;
  }
  item.state = Item::State::kSkip;
  if (reply.code == 404) {  // removed since (purged, rolled up or flushed): nothing to replay
    Send();
    return;
  }
  kvmap::GetResult got = kvmap::ParseDirectGetMessage(reply.headers, reply.payload);
  const kvmap::Entry& e = got.entry;
  if (got.status != kvmap::KvStatus::kOk) {
    Rewind("a direct get answer was malformed");
    return;
  }
  if (e.key == kvmap::kFlushKey) {
    item.command = {"FLUSHDB"};
    item.state = Item::State::kReady;
  } else if (e.key.starts_with(kvmap::kInternalKeyPrefix)) {
    // gateway bookkeeping: not a Redis key
  } else if (std::optional<std::string> key = kvmap::DecodeKey(e.key); !key) {
    ++stats_.skipped;
  } else if (e.is_marker()) {
    item.command = {"DEL", std::move(*key)};
    item.state = Item::State::kReady;
  } else if (!kvmap::IsString(e)) {
    ++stats_.skipped;
  } else if (kvmap::FindHeader(e.headers, kvmap::kHdrEvent) == kvmap::kEventRestore) {
    ++stats_.copies_not_returned;  // copied from the old Redis: it has it already
  } else {
    auto to_command = [](std::string key, const kvmap::Entry& entry, std::string value) {
      std::optional<int64_t> at = kvmap::ExpiresAt(entry);
      if (at && *at <= kvmap::NowUnixMs()) return std::vector<std::string>{"DEL", key};
      std::vector<std::string> cmd{"SET", std::move(key), std::move(value)};
      if (at) {
        cmd.emplace_back("PXAT");
        cmd.emplace_back(std::to_string(*at));
      }
      return cmd;
    };
    if (kvmap::FindHeader(e.headers, kvmap::kHdrObject)) {
      // A large value: read it whole through the Object Store layer, if it is still current.
      item.state = Item::State::kLoading;
      backend_->Get(options_.bucket, e.key,
                    Guard([this, generation, seq, key = std::move(*key), to_command](
                              kvmap::GetResult r) mutable {
                      if (generation != generation_) return;
                      auto it = items_.find(seq);
                      if (it == items_.end()) return;
                      Item& item = *it->second;
                      item.state = Item::State::kSkip;
                      if (r.status == kvmap::KvStatus::kOk && r.entry.revision == seq &&
                          !r.entry.is_marker()) {
                        item.command = to_command(std::move(key), r.entry,
                                                  std::move(r.entry.value));
                        item.state = Item::State::kReady;
                      } else if (r.status == kvmap::KvStatus::kOk ||
                                 r.status == kvmap::KvStatus::kNotFound) {
                        ++stats_.skipped;  // changed since: a later message carries it
                      } else {
                        Rewind("reading a large value failed");
                        return;
                      }
                      Send();
                    }));
      return;
    }
    item.command = to_command(std::move(*key), e, e.value);
    item.state = Item::State::kReady;
  }
  Send();
}

void WriteMirror::Send() {
  while (!items_.empty()) {
    auto it = items_.begin();
    if (it->first != sent_ + 1) break;
    Item& item = *it->second;
    if (item.state == Item::State::kFetching || item.state == Item::State::kLoading) break;
    uint64_t seq = it->first;
    sent_ = seq;
    if (item.state == Item::State::kSkip) {
      if (in_flight_ == 0) acked_ = seq;
    } else {
      std::vector<std::string_view> args(item.command.begin(), item.command.end());
      ++in_flight_;
      uint64_t generation = generation_;
      old_->Command(args, Guard([this, generation, seq](kvmap::KvStatus st, resp::Reply& reply) {
        if (generation != generation_) return;
        if (st != kvmap::KvStatus::kOk) {
          Rewind("the old Redis did not answer");
          return;
        }
        if (reply.is_error()) {
          ++stats_.errors;
        } else {
          ++stats_.forwarded;
        }
        --in_flight_;
        acked_ = in_flight_ == 0 ? sent_ : seq;
        Fetch();
      }));
    }
    items_.erase(it);
  }
  Fetch();
}

}  // namespace gateway
