// SPDX-License-Identifier: Apache-2.0
#include "gateway/keyspace_events.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string>
#include <utility>

#include "gateway/pubsub.h"
#include "gateway/server_context.h"
#include "kvmap/key_codec.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// Redis 7.0 adds the destination of these with dbAdd after deleting any old one, so each comes
// with "new" even when the destination existed.
bool IsAlwaysNew(std::string_view event) {
  return event == "rename_to" || event == "copy_to" || event == "move_to";
}

}  // namespace

std::optional<int> ParseKeyspaceEventFlags(std::string_view text) {
  static constexpr std::pair<char, int> kLetters[] = {
      {'A', notify::kAll},      {'g', notify::kGeneric},  {'$', notify::kString},
      {'l', notify::kList},     {'s', notify::kSet},      {'h', notify::kHash},
      {'z', notify::kZset},     {'x', notify::kExpired},  {'e', notify::kEvicted},
      {'K', notify::kKeyspace}, {'E', notify::kKeyevent}, {'t', notify::kStream},
      {'m', notify::kKeyMiss},  {'d', notify::kModule},   {'n', notify::kNew}};
  int flags = 0;
  for (char c : text) {
    const auto* it = std::find_if(std::begin(kLetters), std::end(kLetters),
                                  [c](const auto& letter) { return letter.first == c; });
    if (it == std::end(kLetters)) return std::nullopt;
    flags |= it->second;
  }
  return flags;
}

std::string FormatKeyspaceEventFlags(int flags) {
  std::string out;
  if ((flags & notify::kAll) == notify::kAll) {
    out += 'A';
  } else {
    static constexpr std::pair<int, char> kClasses[] = {
        {notify::kGeneric, 'g'}, {notify::kString, '$'},  {notify::kList, 'l'},
        {notify::kSet, 's'},     {notify::kHash, 'h'},    {notify::kZset, 'z'},
        {notify::kExpired, 'x'}, {notify::kEvicted, 'e'}, {notify::kStream, 't'},
        {notify::kModule, 'd'},  {notify::kNew, 'n'}};
    for (const auto& [bit, letter] : kClasses) {
      if (flags & bit) out += letter;
    }
  }
  if (flags & notify::kKeyspace) out += 'K';
  if (flags & notify::kKeyevent) out += 'E';
  if (flags & notify::kKeyMiss) out += 'm';
  return out;
}

int KeyspaceEventClass(std::string_view event) {
  if (event == "new") return notify::kNew;
  if (event == "expired") return notify::kExpired;
  if (event == "evicted") return notify::kEvicted;
  if (event == "set" || event == "setrange" || event == "incrby" || event == "incrbyfloat" ||
      event == "append" || event == "setbit") {
    return notify::kString;
  }
  return notify::kGeneric;
}

KeyspaceNotifier::KeyspaceNotifier(ServerContext* server)
    : server_(server), config_bucket_(server->config().ConfigBucket()) {}

int KeyspaceNotifier::flags() const { return server_->config().notify_keyspace_flags; }

void KeyspaceNotifier::Start() {
  server_->backend().SetChangeObserver(
      [this](const kvmap::ChangeEvent& change) { OnChange(change); });
  EnsureConfigBucket();
}

void KeyspaceNotifier::RetryLater(void (KeyspaceNotifier::*step)(), std::string_view why) {
  // Logged once: while NATS is unreachable this repeats every kRetryMs.
  if (!has_logged_retry_) {
    has_logged_retry_ = true;
    std::fprintf(stderr, "keyspace events: config bucket %s: %.*s (retrying)\n",
                 config_bucket_.c_str(), static_cast<int>(why.size()), why.data());
  }
  server_->RunAfter(kRetryMs, [this, step] { (this->*step)(); });
}

void KeyspaceNotifier::EnsureConfigBucket() {
  server_->backend().EnsureBucket(config_bucket_, [this](KvStatus st, std::string detail) {
    if (st != KvStatus::kOk) {
      RetryLater(&KeyspaceNotifier::EnsureConfigBucket,
                 detail.empty() ? kvmap::KvStatusName(st) : std::string_view(detail));
      return;
    }
    if (server_->config().notify_keyspace_events) {
      StoreInitialValue();
    } else {
      ReadInitialSetting();
    }
  });
}

void KeyspaceNotifier::StoreInitialValue() {
  Set(*server_->config().notify_keyspace_events, [this](KvStatus st, std::string detail) {
    if (st != KvStatus::kOk) {
      RetryLater(&KeyspaceNotifier::StoreInitialValue,
                 detail.empty() ? kvmap::KvStatusName(st) : std::string_view(detail));
      return;
    }
    Follow();
  });
}

bool KeyspaceNotifier::ApplyRead(const kvmap::GetResult& r) {
  if (r.status == KvStatus::kNotFound) return true;  // never set: the current flags stay
  if (r.status != KvStatus::kOk) return false;
  Apply(r.entry.is_marker() ? std::string_view() : std::string_view(r.entry.value),
        r.entry.revision);
  return true;
}

void KeyspaceNotifier::ReadInitialSetting() {
  server_->backend().Get(config_bucket_, kSettingKey, [this](kvmap::GetResult r) {
    if (!ApplyRead(r)) {
      RetryLater(&KeyspaceNotifier::ReadInitialSetting, kvmap::KvStatusName(r.status));
      return;
    }
    Follow();
  });
}

void KeyspaceNotifier::ReloadSetting() {
  server_->backend().Get(config_bucket_, kSettingKey, [this](kvmap::GetResult r) {
    if (!ApplyRead(r)) RetryLater(&KeyspaceNotifier::ReloadSetting, kvmap::KvStatusName(r.status));
  });
}

void KeyspaceNotifier::Follow() {
  // The bucket check above started the config bucket's follower; from here on every change of
  // the setting reaches OnChange. The wire backend's follower restarts by itself (watchdog,
  // reconnects), so a failure here is only logged; the nats.c backend runs no followers.
  server_->backend().WhenSynced(config_bucket_, [this](KvStatus st) {
    if (st != KvStatus::kOk) {
      std::fprintf(stderr,
                   "keyspace events: %s is not followed yet (%.*s); CONFIG SET on other "
                   "gateways reaches this one only once it is (never with --nats-client "
                   "natsc)\n",
                   config_bucket_.c_str(), static_cast<int>(kvmap::KvStatusName(st).size()),
                   kvmap::KvStatusName(st).data());
    }
  });
}

void KeyspaceNotifier::Set(std::string_view value,
                           std::function<void(KvStatus, std::string)> done) {
  // Ensured again: after a reconnect the backend checks buckets anew on their next use.
  server_->backend().EnsureBucket(
      config_bucket_, [this, text = std::string(value), done = std::move(done)](
                          KvStatus st, std::string detail) mutable {
        if (st != KvStatus::kOk) {
          done(st, std::move(detail));
          return;
        }
        kvmap::WriteRequest w;
        w.bucket = config_bucket_;
        w.key = kSettingKey;
        w.value = text;
        server_->backend().Write(w, [this, text, done = std::move(done)](kvmap::WriteResult r) {
          if (r.status == KvStatus::kOk) Apply(text, r.revision);
          done(r.status, std::move(r.detail));
        });
      });
}

void KeyspaceNotifier::Apply(std::string_view value, uint64_t revision) {
  if (revision < applied_revision_) return;
  std::optional<int> flags = ParseKeyspaceEventFlags(value);
  if (!flags) {
    std::fprintf(stderr, "keyspace events: ignoring invalid %s value in %s\n",
                 std::string(kSettingKey).c_str(), config_bucket_.c_str());
    return;
  }
  applied_revision_ = revision;
  server_->config().notify_keyspace_flags = *flags;
}

void KeyspaceNotifier::OnChange(const kvmap::ChangeEvent& change) {
  if (change.bucket == config_bucket_) {
    // The follower carries no payloads: read the new value.
    if (change.key == kSettingKey) ReloadSetting();
    return;
  }
  if (change.op == kvmap::EntryOp::kFlush) return;  // Redis reports no key events for a flush
  const int flags = server_->config().notify_keyspace_flags;
  if ((flags & (notify::kKeyspace | notify::kKeyevent)) == 0) return;
  const int db = server_->DatabaseForBucket(change.bucket);
  if (db < 0 || !server_->pubsub().WantsKeyspaceEvents(db)) return;
  std::optional<std::string> key = kvmap::DecodeKey(change.key);
  if (!key) return;  // a NATS key no Redis key encodes to

  std::string_view events = change.events;
  if (events.empty()) {
    // A native NATS write. Deleting a key that is not there is no event in Redis.
    if (change.op != kvmap::EntryOp::kPut && !change.was_live) return;
    events = change.op == kvmap::EntryOp::kPut ? "set" : "del";
  }
  const std::string db_text = std::to_string(db);
  const std::string keyspace_channel = "__keyspace@" + db_text + "__:" + *key;
  const std::string keyevent_prefix = "__keyevent@" + db_text + "__:";
  auto emit = [&](std::string_view event) {
    if ((flags & KeyspaceEventClass(event)) == 0) return;
    if (flags & notify::kKeyspace) server_->pubsub().DeliverLocal(keyspace_channel, event);
    if (flags & notify::kKeyevent) {
      server_->pubsub().DeliverLocal(keyevent_prefix + std::string(event), *key);
    }
  };
  const std::string_view first = events.substr(0, events.find(','));
  if (change.op == kvmap::EntryOp::kPut && (!change.was_live || IsAlwaysNew(first))) {
    emit("new");
  }
  while (!events.empty()) {
    const size_t comma = events.find(',');
    emit(events.substr(0, comma));
    events = comma == std::string_view::npos ? std::string_view() : events.substr(comma + 1);
  }
}

}  // namespace gateway
