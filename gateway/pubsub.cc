// SPDX-License-Identifier: Apache-2.0
#include "gateway/pubsub.h"

#include <algorithm>
#include <charconv>

#include "gateway/config.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// Longest subject the gateway subscribes to or publishes on: well inside nats-server's 4 KiB
// control line, with room for the PUB/MSG verbs, sid, reply subject and size.
constexpr size_t kMaxSubjectLength = 3500;

constexpr std::string_view kKeyspacePrefix = "__keyspace@";
constexpr std::string_view kKeyeventPrefix = "__keyevent@";

bool HasGlobChar(std::string_view s) {
  return s.find_first_of("*?[\\") != std::string_view::npos;
}

// The frame of one message: [message, channel, payload] or [pmessage, pattern, channel,
// payload], as an array (RESP2) or a push (RESP3).
void AppendMessageFrame(std::string* out, resp::Protocol protocol,
                        const std::string* pattern, std::string_view channel,
                        std::string_view message) {
  resp::ReplyWriter w(out, protocol);
  if (pattern == nullptr) {
    w.PushHeader(3);
    w.Bulk("message");
  } else {
    w.PushHeader(4);
    w.Bulk("pmessage");
    w.Bulk(*pattern);
  }
  w.Bulk(channel);
  w.Bulk(message);
}

// Parses "<db>__:" after a keyspace/keyevent prefix. Returns the db, or -1.
int ParseKeyspaceDb(std::string_view rest) {
  size_t end = rest.find("__:");
  if (end == std::string_view::npos || end == 0) return -1;
  int db = -1;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + end, db);
  if (ec != std::errc() || p != rest.data() + end) return -1;
  return db;
}

// True when some string starting with `prefix` could match the glob `pattern`: a glob match
// that succeeds as soon as the text runs out. Used to decide which databases' followers a
// pattern subscription needs; exactness only costs an idle follower.
bool GlobCouldMatchPrefix(std::string_view pattern, std::string_view prefix) {
  size_t p = 0, s = 0;
  while (p < pattern.size()) {
    if (s == prefix.size()) return true;  // the rest of the pattern can match what follows
    char c = pattern[p];
    if (c == '*') {
      // '*' can absorb the rest of the prefix, and anything after it.
      return true;
    }
    if (c == '?') {
      ++p;
      ++s;
      continue;
    }
    if (c == '[') {
      // A class: accept any character (over-approximation), skip to its end.
      size_t close = pattern.find(']', p + 1);
      p = close == std::string_view::npos ? pattern.size() : close + 1;
      ++s;
      continue;
    }
    if (c == '\\' && p + 1 < pattern.size()) ++p;
    if (pattern[p] != prefix[s]) return false;
    ++p;
    ++s;
  }
  return s == prefix.size();
}

}  // namespace

// One NATS subscription, shared by every local subscriber whose channel or pattern needs it.
struct PubSub::NatsSub {
  uint64_t handle = 0;
  int refs = 0;
  bool is_confirmed = false;
  bool is_exact = false;  // no wildcard: carries one channel
  std::vector<std::shared_ptr<Waiter>> waiters;
  std::set<std::string, std::less<>> patterns;  // patterns served by this subject
};

// One (P)SUBSCRIBE waiting for its subscriptions to be confirmed.
struct PubSub::Waiter {
  int outstanding = 1;  // released by the caller once every need is registered
  KvStatus status = KvStatus::kOk;
  std::function<void(KvStatus)> done;

  void Release(KvStatus st) {
    if (st != KvStatus::kOk && status == KvStatus::kOk) status = st;
    if (--outstanding == 0 && done) {
      auto cb = std::move(done);
      done = nullptr;
      cb(status);
    }
  }
};

PubSub::PubSub(ServerContext* server) : server_(server) {}

// The backend may already be gone at shutdown (main destroys it first); its connection takes
// the NATS subscriptions with it.
PubSub::~PubSub() = default;

std::optional<std::string> PubSub::SubjectFor(std::string_view channel) const {
  if (IsKeyspaceChannel(channel)) return std::nullopt;
  const std::string& prefix = server_->config().pubsub_prefix;
  if (prefix.size() + 1 + kvmap::EncodedKeyLength(channel) > kMaxSubjectLength) {
    return std::nullopt;
  }
  std::string subject = prefix;
  subject += '.';
  kvmap::EncodeKeyTo(channel, &subject);
  return subject;
}

std::optional<std::string> PubSub::ChannelFor(std::string_view subject) const {
  const std::string& prefix = server_->config().pubsub_prefix;
  if (subject.size() <= prefix.size() + 1 || subject.substr(0, prefix.size()) != prefix ||
      subject[prefix.size()] != '.') {
    return std::nullopt;
  }
  return kvmap::DecodeKey(subject.substr(prefix.size() + 1));
}

PatternSubject PubSub::SubjectForPattern(std::string_view pattern) const {
  PatternSubject out;
  if (!HasGlobChar(pattern)) {
    if (auto exact = SubjectFor(pattern)) {
      out.subject = std::move(*exact);
      out.is_exact = true;
      return out;
    }
  }
  // Literal ':'-separated tokens before the first glob character, then '>'. A channel matching
  // the glob starts with those tokens and a ':', so its subject has at least one more token.
  std::string subject = server_->config().pubsub_prefix;
  size_t start = 0;
  while (true) {
    size_t colon = pattern.find(':', start);
    if (colon == std::string_view::npos) break;
    std::string_view token = pattern.substr(start, colon - start);
    if (HasGlobChar(token)) break;
    subject += '.';
    kvmap::EncodeKeyTo(token, &subject);
    start = colon + 1;
  }
  if (subject.size() + 2 > kMaxSubjectLength) subject = server_->config().pubsub_prefix;
  subject += ".>";
  out.subject = std::move(subject);
  return out;
}

bool PubSub::IsKeyspaceChannel(std::string_view channel) {
  return channel.substr(0, kKeyspacePrefix.size()) == kKeyspacePrefix ||
         channel.substr(0, kKeyeventPrefix.size()) == kKeyeventPrefix;
}

std::vector<int> PubSub::KeyspaceDatabasesFor(std::string_view pattern) const {
  std::vector<int> dbs;
  int n = std::max(server_->config().databases, 1);
  for (int db = 0; db < n; ++db) {
    std::string suffix = std::to_string(db) + "__:";
    if (GlobCouldMatchPrefix(pattern, std::string(kKeyspacePrefix) + suffix) ||
        GlobCouldMatchPrefix(pattern, std::string(kKeyeventPrefix) + suffix)) {
      dbs.push_back(db);
    }
  }
  return dbs;
}

void PubSub::AcquireSubject(const std::string& subject, const std::shared_ptr<Waiter>& waiter) {
  kvmap::MessageBus* bus = server_->backend().bus();
  if (bus == nullptr) return;  // no NATS pub/sub on this backend: channels stay local
  auto it = nats_subs_.find(subject);
  if (it != nats_subs_.end()) {
    NatsSub& sub = *it->second;
    ++sub.refs;
    if (!sub.is_confirmed) {
      ++waiter->outstanding;
      sub.waiters.push_back(waiter);
    }
    return;
  }
  auto sub = std::make_unique<NatsSub>();
  sub->refs = 1;
  sub->is_exact = subject.find_first_of("*>") == std::string::npos;
  ++waiter->outstanding;
  sub->waiters.push_back(waiter);
  NatsSub* raw = sub.get();
  nats_subs_.emplace(subject, std::move(sub));
  raw->handle = bus->Subscribe(
      subject,
      [this, subject](std::string_view msg_subject, std::string_view payload) {
        OnNatsMessage(subject, msg_subject, payload);
      },
      [this, subject, raw](KvStatus st) {
        // The subscription may have been released (and even re-created) meanwhile.
        auto found = nats_subs_.find(subject);
        if (found == nats_subs_.end() || found->second.get() != raw) return;
        if (st == KvStatus::kOk) raw->is_confirmed = true;
        auto waiters = std::move(raw->waiters);
        raw->waiters.clear();
        for (auto& w : waiters) w->Release(st);
      });
}

void PubSub::ReleaseSubject(const std::string& subject) {
  auto it = nats_subs_.find(subject);
  if (it == nats_subs_.end()) return;
  if (--it->second->refs > 0) return;
  std::unique_ptr<NatsSub> sub = std::move(it->second);
  nats_subs_.erase(it);
  if (kvmap::MessageBus* bus = server_->backend().bus()) bus->Unsubscribe(sub->handle);
  // A SUBSCRIBE still waiting on it is answered: the channel was given up meanwhile.
  for (auto& w : sub->waiters) w->Release(KvStatus::kOk);
}

void PubSub::EnsureKeyspaceFollower(int db, const std::shared_ptr<Waiter>& waiter) {
  if (db < 0 || db >= std::max(server_->config().databases, 1)) return;
  ++waiter->outstanding;
  // Starts the database's follower (creating the bucket if needed) and waits until it has
  // applied everything already stored: events of later writes are then never missed.
  const std::string& bucket = server_->BucketFor(db);
  server_->backend().EnsureBucket(bucket, [this, bucket, waiter](KvStatus st, std::string) {
    if (st != KvStatus::kOk) {
      waiter->Release(st);
      return;
    }
    server_->backend().WhenSynced(bucket, [waiter](KvStatus synced) { waiter->Release(synced); });
  });
}

void PubSub::Subscribe(Session* session, const std::vector<std::string>& channels,
                       std::function<void(KvStatus)> done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->done = std::move(done);
  for (const std::string& channel : channels) {
    if (!session->subscribed_channels().insert(channel).second) continue;
    auto& subscribers = channels_[channel];
    subscribers.push_back(session);
    if (IsKeyspaceChannel(channel)) {
      std::string_view rest = std::string_view(channel).substr(kKeyspacePrefix.size());
      EnsureKeyspaceFollower(ParseKeyspaceDb(rest), waiter);
    } else if (auto subject = SubjectFor(channel)) {
      AcquireSubject(*subject, waiter);
    }
  }
  waiter->Release(KvStatus::kOk);  // the caller's own reference
}

void PubSub::PSubscribe(Session* session, const std::vector<std::string>& patterns,
                        std::function<void(KvStatus)> done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->done = std::move(done);
  for (const std::string& pattern : patterns) {
    if (!session->subscribed_patterns().insert(pattern).second) continue;
    patterns_[pattern].push_back(session);
    for (int db : KeyspaceDatabasesFor(pattern)) EnsureKeyspaceFollower(db, waiter);
    // A pattern that starts like a keyspace channel matches only those: nothing to hear
    // from NATS.
    if (IsKeyspaceChannel(pattern)) continue;
    PatternSubject ps = SubjectForPattern(pattern);
    AcquireSubject(ps.subject, waiter);
    auto it = nats_subs_.find(ps.subject);
    if (it != nats_subs_.end()) it->second->patterns.insert(pattern);
  }
  waiter->Release(KvStatus::kOk);
}

bool PubSub::Unsubscribe(Session* session, std::string_view channel) {
  auto mine = session->subscribed_channels().find(channel);
  if (mine == session->subscribed_channels().end()) return false;
  session->subscribed_channels().erase(mine);
  auto it = channels_.find(channel);
  if (it != channels_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), session), v.end());
    if (v.empty()) channels_.erase(it);
  }
  if (auto subject = SubjectFor(channel)) ReleaseSubject(*subject);
  return true;
}

bool PubSub::PUnsubscribe(Session* session, std::string_view pattern) {
  auto mine = session->subscribed_patterns().find(pattern);
  if (mine == session->subscribed_patterns().end()) return false;
  session->subscribed_patterns().erase(mine);
  auto it = patterns_.find(pattern);
  bool is_last = false;
  if (it != patterns_.end()) {
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), session), v.end());
    if (v.empty()) {
      patterns_.erase(it);
      is_last = true;
    }
  }
  if (IsKeyspaceChannel(pattern)) return true;
  PatternSubject ps = SubjectForPattern(pattern);
  auto sub = nats_subs_.find(ps.subject);
  if (is_last && sub != nats_subs_.end()) sub->second->patterns.erase(std::string(pattern));
  ReleaseSubject(ps.subject);
  return true;
}

void PubSub::RemoveSession(Session* session) {
  std::vector<std::string> channels(session->subscribed_channels().begin(),
                                    session->subscribed_channels().end());
  for (const std::string& c : channels) Unsubscribe(session, c);
  std::vector<std::string> patterns(session->subscribed_patterns().begin(),
                                    session->subscribed_patterns().end());
  for (const std::string& p : patterns) PUnsubscribe(session, p);
}

int64_t PubSub::DeliverToChannel(std::string_view channel, std::string_view message,
                                 const std::string* only_subject) {
  // A NATS message is for the subscribers its subscription serves: the channel's own
  // subscribers when the subject is exact, and the patterns attached to it.
  const NatsSub* sub = nullptr;
  if (only_subject != nullptr) {
    auto found = nats_subs_.find(*only_subject);
    if (found == nats_subs_.end()) return 0;
    sub = found->second.get();
  }
  int64_t receivers = 0;
  // Each frame is encoded once per protocol, not once per receiver. A delivery may close a
  // session (output limit), but a session leaves the registry only when it is destroyed, so
  // the vector does not change during the loop.
  auto deliver = [&](const std::vector<Session*>& sessions, const std::string* pattern) {
    std::string encoded[2];
    for (Session* s : sessions) {
      int i = s->protocol() == resp::Protocol::kResp3 ? 1 : 0;
      if (encoded[i].empty()) {
        AppendMessageFrame(&encoded[i], s->protocol(), pattern, channel, message);
      }
      s->DeliverPush(encoded[i]);
      ++receivers;
    }
  };
  // Channel subscribers first, then patterns, as Redis's pubsubPublishMessage.
  if (sub == nullptr || sub->is_exact) {
    auto it = channels_.find(channel);
    if (it != channels_.end()) deliver(it->second, nullptr);
  }
  if (sub != nullptr) {
    for (const std::string& pattern : sub->patterns) {
      auto it = patterns_.find(pattern);
      if (it != patterns_.end() && GlobMatch(pattern, channel, /*nocase=*/false)) {
        deliver(it->second, &it->first);
      }
    }
    return receivers;
  }
  for (const auto& [pattern, sessions] : patterns_) {
    if (GlobMatch(pattern, channel, /*nocase=*/false)) deliver(sessions, &pattern);
  }
  return receivers;
}

int64_t PubSub::DeliverLocal(std::string_view channel, std::string_view message) {
  if (channels_.empty() && patterns_.empty()) return 0;
  return DeliverToChannel(channel, message, nullptr);
}

int64_t PubSub::Publish(std::string_view channel, std::string_view message) {
  int64_t receivers = DeliverLocal(channel, message);
  if (kvmap::MessageBus* bus = server_->backend().bus()) {
    if (auto subject = SubjectFor(channel)) bus->Publish(*subject, message);
  }
  return receivers;
}

bool PubSub::FitsNats(std::string_view message) const {
  kvmap::MessageBus* bus = server_->backend().bus();
  return bus == nullptr || message.size() <= bus->max_payload();
}

void PubSub::PublishWithBackpressure(std::string_view channel, std::string_view message,
                                     std::function<void(int64_t)> done) {
  kvmap::MessageBus* bus = server_->backend().bus();
  if (deferred_.empty() && (bus == nullptr || bus->publish_backlog() < kBacklogHigh)) {
    done(Publish(channel, message));
    return;
  }
  deferred_.push_back(Deferred{std::string(channel), std::string(message), std::move(done)});
  if (!is_drain_scheduled_ && bus != nullptr) {
    is_drain_scheduled_ = true;
    bus->WhenBacklogBelow(kBacklogLow, [this] {
      is_drain_scheduled_ = false;
      DrainDeferred();
    });
  }
}

void PubSub::DrainDeferred() {
  kvmap::MessageBus* bus = server_->backend().bus();
  while (!deferred_.empty() && (bus == nullptr || bus->publish_backlog() < kBacklogHigh)) {
    Deferred d = std::move(deferred_.front());
    deferred_.pop_front();
    d.done(Publish(d.channel, d.message));
  }
  if (!deferred_.empty() && !is_drain_scheduled_) {
    is_drain_scheduled_ = true;
    bus->WhenBacklogBelow(kBacklogLow, [this] {
      is_drain_scheduled_ = false;
      DrainDeferred();
    });
  }
}

void PubSub::OnNatsMessage(const std::string& sub_subject, std::string_view subject,
                           std::string_view payload) {
  std::optional<std::string> channel = ChannelFor(subject);
  if (!channel || IsKeyspaceChannel(*channel)) {
    ++dropped_messages_;
    return;
  }
  DeliverToChannel(*channel, payload, &sub_subject);
}

bool PubSub::WantsKeyspaceEvents(int db) const {
  std::string space = std::string(kKeyspacePrefix) + std::to_string(db) + "__:";
  std::string event = std::string(kKeyeventPrefix) + std::to_string(db) + "__:";
  auto has_prefix = [this](const std::string& prefix) {
    auto it = channels_.lower_bound(prefix);
    return it != channels_.end() && it->first.compare(0, prefix.size(), prefix) == 0;
  };
  if (has_prefix(space) || has_prefix(event)) return true;
  for (const auto& [pattern, sessions] : patterns_) {
    if (GlobCouldMatchPrefix(pattern, space) || GlobCouldMatchPrefix(pattern, event)) return true;
  }
  return false;
}

std::vector<std::string> PubSub::ActiveChannels(std::optional<std::string_view> pattern) const {
  std::vector<std::string> out;
  for (const auto& [channel, sessions] : channels_) {
    if (!pattern || GlobMatch(*pattern, channel, /*nocase=*/false)) out.push_back(channel);
  }
  return out;
}

int64_t PubSub::NumSubscribers(std::string_view channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : static_cast<int64_t>(it->second.size());
}

int64_t PubSub::NumPatterns() const { return static_cast<int64_t>(patterns_.size()); }

}  // namespace gateway
