// SPDX-License-Identifier: Apache-2.0
//
// The command table: the one place that declares which commands exist and their facts (name,
// arity, flags, key positions, handler, summary). Dispatch, COMMAND, COMMAND COUNT/INFO/DOCS/
// LIST, HELLO and docs/compatibility.md are all generated from it. The rows live in
// command_table.cc; handlers live in their family files under gateway/commands/.
//
// Arity follows Redis: positive = exact argument count including the command name, negative =
// minimum. Key positions follow Redis's legacy (first, last, step) triple; last = -1 means the
// last argument. Facts are checked against Redis 7.0.15's src/commands/*.json.
//
// Thread: the table is immutable after start-up; any thread may read it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace resp {
class Request;
}

namespace gateway {

class Call;

enum class CommandFlag : uint32_t {
  kWrite = 1u << 0,     // changes data through the backend
  kReadOnly = 1u << 1,  // reads data through the backend
  kLocal = 1u << 2,     // answered without the backend
  kNoAuth = 1u << 3,    // allowed before AUTH
  kAdmin = 1u << 4,
  kMultiKey = 1u << 5,
  kFast = 1u << 6,
  kBarrier = 1u << 7,   // waits for every earlier command of the connection, and later ones
                        // wait for it (keyspace-wide commands)
  kPubSub = 1u << 8,
  kLoading = 1u << 9,   // allowed while loading (reported in COMMAND INFO)
  kStale = 1u << 10,
};

class CommandFlags {
 public:
  constexpr CommandFlags() = default;
  constexpr CommandFlags(CommandFlag f) : bits_(static_cast<uint32_t>(f)) {}
  constexpr CommandFlags operator|(CommandFlags o) const { return FromBits(bits_ | o.bits_); }
  constexpr bool has(CommandFlag f) const { return (bits_ & static_cast<uint32_t>(f)) != 0; }
  constexpr uint32_t bits() const { return bits_; }

 private:
  static constexpr CommandFlags FromBits(uint32_t b) {
    CommandFlags f;
    f.bits_ = b;
    return f;
  }
  uint32_t bits_ = 0;
};

constexpr CommandFlags operator|(CommandFlag a, CommandFlag b) {
  return CommandFlags(a) | CommandFlags(b);
}

// How a command touches its keys, which decides what it must wait for within its connection
// (STYLE.md, request path step 9).
enum class KeyAccess : uint8_t {
  kNone,        // no keys
  kRead,        // reads only: concurrent with other reads of the key
  kWrite,       // reads and writes (or read-modify-write): exclusive on the key
  kBlindWrite,  // writes without reading: concurrent with other blind writes of the key (the
                // stream stores them in send order), exclusive against reads
};

using Handler = void (*)(Call& call);
// Optional: refines KeyAccess from the arguments (SET without NX/XX/GET is a blind write).
using AccessFn = KeyAccess (*)(const resp::Request& request);

struct CommandSpec {
  std::string_view name;  // lower case; "container|sub" for subcommands
  int arity;
  CommandFlags flags;
  int first_key;  // 0 = no keys
  int last_key;
  int key_step;
  Handler handler;
  std::string_view summary;
  std::string_view group;  // Redis doc group: "string", "generic", "connection", "server"
  std::string_view since;  // Redis version that introduced it
  std::span<const CommandSpec> subcommands = {};
  AccessFn access = nullptr;
  // How this command differs from Redis 7.0, for docs/compatibility.md (empty = none known).
  std::string_view divergence = {};

  bool has_keys() const { return first_key > 0; }
  // The access of a call: from `access` when set, else from the flags.
  KeyAccess AccessFor(const resp::Request& request) const;
};

// Lookup is case-insensitive. Returns nullptr when unknown.
const CommandSpec* FindCommand(std::string_view name);
// Subcommand of a container, case-insensitive; nullptr when unknown.
const CommandSpec* FindSubcommand(const CommandSpec& container, std::string_view name);
// All top-level rows, in table order.
std::span<const CommandSpec> AllCommands();

// Checks the table's invariants (unique names, one of kWrite/kReadOnly/kLocal per row, key
// positions within arity, a handler per row). Returns an empty string when valid, otherwise a
// description of the first problem. Run at start-up and by a unit test.
std::string ValidateCommandTable();

// Calls fn(i) for the index of every key argument of a call with argc arguments, from the
// row's (first, last, step) triple; last < 0 counts from the end. Used by dispatch (ordering)
// and by the ACL (key permissions).
template <class F>
void ForEachKeyIndex(const CommandSpec& spec, size_t argc, F&& fn) {
  if (!spec.has_keys()) return;
  int n = static_cast<int>(argc);
  int last = spec.last_key < 0 ? n + spec.last_key : spec.last_key;
  int step = spec.key_step > 0 ? spec.key_step : 1;
  for (int i = spec.first_key; i <= last && i < n; i += step) fn(static_cast<size_t>(i));
}

// True when `arity` accepts argc arguments.
constexpr bool ArityAccepts(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

}  // namespace gateway
