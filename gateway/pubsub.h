// SPDX-License-Identifier: Apache-2.0
//
// PubSub is the gateway's registry of Redis channel and pattern subscriptions, and the bridge
// between them and NATS (DESIGN.md decision 8).
//
//   * A plain channel maps through the key codec to a NATS subject under the configured prefix:
//     channel "news:tech" is subject "<prefix>.news.tech". One NATS subscription serves every
//     local subscriber of that subject.
//   * A pattern subscribes to the narrowest NATS subject its glob allows: the literal tokens
//     before the first glob character, then '>' ("news:*" is "<prefix>.news.>"); every message
//     is then checked against the glob locally. A fully literal pattern uses its exact subject.
//   * PUBLISH delivers to this gateway's own subscribers at once (as Redis does, before the
//     reply), then publishes on NATS for everyone else. The connection does not echo its own
//     messages back, so local subscribers receive each message once.
//   * Channels named __keyspace@<db>__:... and __keyevent@<db>__:... are served from the bucket
//     followers (KeyspaceNotifier), never from NATS core: subscribing to one starts that
//     database's follower, and the subscription is confirmed once the follower is in sync.
//
// A (P)SUBSCRIBE is confirmed only after every NATS subscription it needs is confirmed by the
// server, so a message published after the reply is never missed. The subscriber is registered
// locally at once, so messages that arrive before the confirmation queue up behind the reply.
//
// Thread: the loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "kvmap/kv_backend.h"

namespace gateway {

class ServerContext;
class Session;

// The NATS subject a pattern needs: (subject, is_exact). is_exact means the pattern has no glob
// characters, so the subject carries exactly the one channel it names.
struct PatternSubject {
  std::string subject;
  bool is_exact = false;
};

class PubSub {
 public:
  explicit PubSub(ServerContext* server);
  ~PubSub();
  PubSub(const PubSub&) = delete;
  PubSub& operator=(const PubSub&) = delete;

  // NATS subject of a plain channel, or nullopt when the channel cannot be one (the key codec
  // refuses it, or it is too long). Such channels still work within this gateway.
  std::optional<std::string> SubjectFor(std::string_view channel) const;
  // The channel a NATS subject under the prefix carries, or nullopt (not under the prefix, or
  // not a subject the codec produces).
  std::optional<std::string> ChannelFor(std::string_view subject) const;
  PatternSubject SubjectForPattern(std::string_view pattern) const;

  // True for __keyspace@N__:... and __keyevent@N__:... channels.
  static bool IsKeyspaceChannel(std::string_view channel);
  // Databases whose keyspace or keyevent channels `pattern` could match.
  std::vector<int> KeyspaceDatabasesFor(std::string_view pattern) const;

  // Adds the subscriptions `session` does not have yet. Calls done(status) once every NATS
  // subscription (or follower) they need is confirmed; at once, before returning, when none
  // needs waiting for.
  void Subscribe(Session* session, const std::vector<std::string>& channels,
                 std::function<void(kvmap::KvStatus)> done);
  void PSubscribe(Session* session, const std::vector<std::string>& patterns,
                  std::function<void(kvmap::KvStatus)> done);
  // Removes one subscription; false when the session did not have it.
  bool Unsubscribe(Session* session, std::string_view channel);
  bool PUnsubscribe(Session* session, std::string_view pattern);
  // Removes every subscription of a closing or RESET session.
  void RemoveSession(Session* session);

  // PUBLISH: delivers to local subscribers, then to NATS. Returns the number of local
  // receivers (Redis counts channel and pattern receivers).
  int64_t Publish(std::string_view channel, std::string_view message);
  // False when `message` is too large for one NATS message (PUBLISH then answers an error).
  bool FitsNats(std::string_view message) const;
  // PUBLISH with backpressure: while more than kBacklogHigh bytes wait to be written to NATS,
  // publishes queue here (in order, local delivery included) until the backlog drops below
  // kBacklogLow, so a fast publisher cannot grow the gateway's memory without bound.
  // done(receivers) runs once published, possibly before this returns.
  void PublishWithBackpressure(std::string_view channel, std::string_view message,
                               std::function<void(int64_t)> done);
  static constexpr size_t kBacklogHigh = 8 << 20;
  static constexpr size_t kBacklogLow = 2 << 20;
  // Delivers to local subscribers only (keyspace notifications). Returns the receivers.
  int64_t DeliverLocal(std::string_view channel, std::string_view message);
  // True when some local subscriber could receive a keyspace notification of database `db`
  // (a keyspace/keyevent channel of that db, or a pattern that could match one).
  bool WantsKeyspaceEvents(int db) const;

  // PUBSUB CHANNELS / NUMSUB / NUMPAT, for this gateway's subscribers.
  std::vector<std::string> ActiveChannels(std::optional<std::string_view> pattern) const;
  int64_t NumSubscribers(std::string_view channel) const;
  int64_t NumPatterns() const;

  // Messages from NATS that could not be mapped to a channel (INFO).
  uint64_t dropped_messages() const { return dropped_messages_; }

 private:
  struct NatsSub;
  struct Waiter;
  // Takes a reference on the NATS subscription for `subject`, creating it when new; `waiter`
  // is told when it is confirmed.
  void AcquireSubject(const std::string& subject, const std::shared_ptr<Waiter>& waiter);
  void ReleaseSubject(const std::string& subject);
  void OnNatsMessage(const std::string& sub_subject, std::string_view subject,
                     std::string_view payload);
  int64_t DeliverToChannel(std::string_view channel, std::string_view message,
                           const std::string* only_subject);
  void EnsureKeyspaceFollower(int db, const std::shared_ptr<Waiter>& waiter);
  void DrainDeferred();

  struct Deferred {
    std::string channel, message;
    std::function<void(int64_t)> done;
  };
  std::deque<Deferred> deferred_;
  bool is_drain_scheduled_ = false;

  ServerContext* server_;
  // channel -> sessions subscribed to it (insertion order kept per channel)
  std::map<std::string, std::vector<Session*>, std::less<>> channels_;
  // pattern -> sessions
  std::map<std::string, std::vector<Session*>, std::less<>> patterns_;
  std::map<std::string, std::unique_ptr<NatsSub>, std::less<>> nats_subs_;
  uint64_t dropped_messages_ = 0;
};

}  // namespace gateway
