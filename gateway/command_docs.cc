// SPDX-License-Identifier: Apache-2.0
#include "gateway/command_docs.h"

#include <cctype>

#include "gateway/command_table.h"

namespace gateway {
namespace {

std::string Kind(const CommandSpec& spec) {
  if (spec.flags.has(CommandFlag::kWrite)) return "write";
  if (spec.flags.has(CommandFlag::kReadOnly)) return "read";
  return "local";
}

std::string Keys(const CommandSpec& spec) {
  if (!spec.has_keys()) return "-";
  return std::to_string(spec.first_key) + ", " + std::to_string(spec.last_key) + ", " +
         std::to_string(spec.key_step);
}

void Row(const CommandSpec& spec, std::string* out) {
  std::string name(spec.name);
  for (char& c : name) c = static_cast<char>(c == '|' ? ' ' : std::toupper(c));
  *out += "| `" + name + "` | " + std::to_string(spec.arity) + " | " + Kind(spec) + " | " +
          Keys(spec) + " | " +
          (spec.divergence.empty() ? std::string("as Redis 7.0") : std::string(spec.divergence)) +
          " |\n";
}

}  // namespace

std::string RenderCommandTableMarkdown() {
  std::string out = kCommandTableBegin;
  out += "\n| command | arity | kind | keys (first, last, step) | compared with Redis 7.0 |\n";
  out += "|---|---|---|---|---|\n";
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.subcommands.empty() || spec.arity == -1) Row(spec, &out);
    for (const CommandSpec& sub : spec.subcommands) Row(sub, &out);
  }
  out += kCommandTableEnd;
  out += "\n";
  return out;
}

}  // namespace gateway
