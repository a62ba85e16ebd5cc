// SPDX-License-Identifier: Apache-2.0
//
// KeyspaceNotifier turns the changes the bucket followers apply into Redis keyspace
// notifications (DESIGN.md decision 8), and keeps the shared `notify-keyspace-events` setting.
//
//   * Events: each write's events travel in its Redis-Event header ("set,expire"), in the order
//     Redis 7.0 emits them; a put without one (a native NATS client) is "set", a delete or purge
//     marker without one is "del". "new" is derived here: a put on a key that was not live, and
//     (a Redis 7.0 quirk: the destination is deleted and added again) every rename_to, copy_to
//     and move_to.
//   * Channels: __keyspace@<db>__:<key> with the event as message (flag K), then
//     __keyevent@<db>__:<event> with the key as message (flag E), delivered to this gateway's
//     subscribers only (PubSub::DeliverLocal); every gateway runs its own followers, so writes
//     by other gateways and native clients notify too.
//   * The setting lives in the config bucket (Config::ConfigBucket(), key
//     notify-keyspace-events), so every gateway applies the same flags; CONFIG SET writes it
//     there and the config bucket's follower brings every change to every gateway. The text is
//     stored as given, because Redis's formatted form loses letters ("AKEn" shows as "AKE").
//
// Differences from Redis 7.0, all from events coming from the stream rather than the command:
// RENAME and MOVE write the destination before deleting the source, so rename_to/move_to come
// before rename_from/move_from; a write over a key that expired but was not yet deleted gives
// "new" but no "expired"; a write overwritten before the follower reads it (the bucket keeps one
// message per key) gives no events; "keymiss" (m) and "evicted" (e) are never emitted.
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
inline constexpr int kKeyspace = 1 << 0;  // K
inline constexpr int kKeyevent = 1 << 1;  // E
inline constexpr int kGeneric = 1 << 2;   // g
inline constexpr int kString = 1 << 3;    // $
inline constexpr int kList = 1 << 4;      // l
inline constexpr int kSet = 1 << 5;       // s
inline constexpr int kHash = 1 << 6;      // h
inline constexpr int kZset = 1 << 7;      // z
inline constexpr int kExpired = 1 << 8;   // x
inline constexpr int kEvicted = 1 << 9;   // e
inline constexpr int kStream = 1 << 10;   // t
inline constexpr int kKeyMiss = 1 << 11;  // m
inline constexpr int kLoaded = 1 << 12;   // module only
inline constexpr int kModule = 1 << 13;   // d
inline constexpr int kNew = 1 << 14;      // n
inline constexpr int kAll = kGeneric | kString | kList | kSet | kHash | kZset | kExpired |
                            kEvicted | kStream | kModule;  // A
}  // namespace notify

// Redis 7.0's keyspaceEventsStringToFlags: nullopt for an unknown letter ("" is 0).
std::optional<int> ParseKeyspaceEventFlags(std::string_view text);
// Redis 7.0's keyspaceEventsFlagsToString (what CONFIG GET shows): "A" stands for the whole
// kAll set (and then "n" is not shown), followed by K, E and m.
std::string FormatKeyspaceEventFlags(int flags);
// The class bit of an event name ("set" -> kString, "expired" -> kExpired, "new" -> kNew);
// kGeneric for generic and unknown names.
int KeyspaceEventClass(std::string_view event);

class KeyspaceNotifier {
 public:
  // The key of the setting in the config bucket.
  static constexpr std::string_view kSettingKey = "notify-keyspace-events";
  // Delay before Start's steps are tried again (NATS not reachable, bucket check failed).
  static constexpr int64_t kRetryMs = 1000;

  explicit KeyspaceNotifier(ServerContext* server);

  // Installs the backend's change observer, ensures the config bucket, then either stores the
  // --notify-keyspace-events value (when given) or adopts the stored one, and follows the
  // bucket so that later changes by any gateway apply here too. Steps that fail (NATS not
  // connected yet) are tried again after kRetryMs. Returns at once; call once.
  void Start();

  // The flags in force (notify::k* bits). They live in Config::notify_keyspace_flags, where
  // CONFIG GET reads them.
  int flags() const;
  // CONFIG SET notify-keyspace-events: stores `value` (already validated: CONFIG SET checks it
  // through the config.cc row first) in the config bucket, applies it here once acknowledged,
  // then calls done(kOk). On a backend failure done gets it and nothing changes here (after
  // kOutcomeUnknown the value may still land, and then applies through the follower).
  void Set(std::string_view value, std::function<void(kvmap::KvStatus, std::string)> done);

  // The follower's change observer (public for tests).
  void OnChange(const kvmap::ChangeEvent& change);

 private:
  // Start's steps, in order: each either goes on to the next or tries again after kRetryMs.
  void EnsureConfigBucket();
  void StoreInitialValue();   // when --notify-keyspace-events was given
  void ReadInitialSetting();  // otherwise
  void Follow();
  // Reads the setting again after its follower reported a change.
  void ReloadSetting();
  // Adopts the setting a read returned; false when the read failed.
  bool ApplyRead(const kvmap::GetResult& r);
  void RetryLater(void (KeyspaceNotifier::*step)(), std::string_view why);
  // Adopts `value` stored at `revision`, unless a newer revision has already been applied (two
  // reads or acknowledgements may answer out of order). A value no Redis would accept (written
  // by a native client) is logged and ignored.
  void Apply(std::string_view value, uint64_t revision);

  ServerContext* server_;
  std::string config_bucket_;
  uint64_t applied_revision_ = 0;
  bool has_logged_retry_ = false;
};

}  // namespace gateway
