// SPDX-License-Identifier: Apache-2.0
// PLACEHOLDER: being written (see keyspace_events.h).
#include "gateway/keyspace_events.h"

namespace gateway {

std::optional<int> ParseKeyspaceEventFlags(std::string_view) { return 0; }
std::string FormatKeyspaceEventFlags(int) { return {}; }
int KeyspaceEventClass(std::string_view) { return notify::kGeneric; }

KeyspaceNotifier::KeyspaceNotifier(ServerContext* server) : server_(server) {}
void KeyspaceNotifier::Start() {}
void KeyspaceNotifier::Set(std::string_view, std::function<void(std::string)> done) { done({}); }
void KeyspaceNotifier::OnChange(const kvmap::ChangeEvent&) {}

}  // namespace gateway
