// SPDX-License-Identifier: Apache-2.0
//
// KeyspaceNotifier turns the changes the bucket followers apply into Redis keyspace
// notifications (DESIGN.md decision 8), and keeps the shared `notify-keyspace-events` setting.
//
//   * Events: each write's events travel in its Redis-Event header ("set,expire"); a put
//     without one is "set", a delete or purge marker without one is "del". "new" is derived
//     from the follower's index (the key was not live before a put).
//   * Channels: __keyspace@<db>__:<key> with the event as message (flag K), and
//     __keyevent@<db>__:<event> with the key as message (flag E), delivered to this gateway's
//     subscribers only (PubSub::DeliverLocal); every gateway runs its own followers.
//   * The setting lives in the config bucket ("<bucket>-config", key notify-keyspace-events),
//     so every gateway applies the same flags; CONFIG SET writes it there.
//
// Thread: the loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kvmap/kv_backend.h"

namespace gateway {

class ServerContext;

// Redis's NOTIFY_* bits (src/server.h).
namespace notify {
inline constexpr int kKeyspace = 1 << 0;    // K
inline constexpr int kKeyevent = 1 << 1;    // E
inline constexpr int kGeneric = 1 << 2;     // g
inline constexpr int kString = 1 << 3;      // $
inline constexpr int kList = 1 << 4;        // l
inline constexpr int kSet = 1 << 5;         // s
inline constexpr int kHash = 1 << 6;        // h
inline constexpr int kZset = 1 << 7;        // z
inline constexpr int kExpired = 1 << 8;     // x
inline constexpr int kEvicted = 1 << 9;     // e
inline constexpr int kStream = 1 << 10;     // t
inline constexpr int kKeyMiss = 1 << 11;    // m
inline constexpr int kLoaded = 1 << 12;     // module only
inline constexpr int kModule = 1 << 13;     // d
inline constexpr int kNew = 1 << 14;        // n
inline constexpr int kAll = kGeneric | kString | kList | kSet | kHash | kZset | kExpired |
                            kEvicted | kStream | kModule;  // A
}  // namespace notify

// Redis's keyspaceEventsStringToFlags: nullopt for an unknown letter.
std::optional<int> ParseKeyspaceEventFlags(std::string_view text);
// Redis's keyspaceEventsFlagsToString (what CONFIG GET shows).
std::string FormatKeyspaceEventFlags(int flags);
// The class bit of an event name ("set" -> kString, "expired" -> kExpired, "new" -> kNew);
// kGeneric for generic and unknown names.
int KeyspaceEventClass(std::string_view event);

class KeyspaceNotifier {
 public:
  explicit KeyspaceNotifier(ServerContext* server);

  // Installs the backend's change observer and starts following the config bucket (reads the
  // current setting; when the --notify-keyspace-events flag was given, stores it first).
  void Start();

  int flags() const { return flags_; }
  // CONFIG SET notify-keyspace-events: validates (Redis's error for a bad letter), stores the
  // value in the config bucket and applies it; done(error reply text, empty on success).
  void Set(std::string_view value, std::function<void(std::string error)> done);

  // The follower's change observer (public for tests).
  void OnChange(const kvmap::ChangeEvent& change);

 private:
  ServerContext* server_;
  int flags_ = 0;
};

}  // namespace gateway
