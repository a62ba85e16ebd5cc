// SPDX-License-Identifier: Apache-2.0
#include "gateway/errors.h"

#include <algorithm>
#include <cctype>

namespace gateway::errors {
namespace {

// Redis prints user text with "%.128s".
std::string_view Clip(std::string_view s, size_t n = 128) { return s.substr(0, n); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string WrongArity(std::string_view name) {
  std::string out = "ERR wrong number of arguments for '";
  out += Lower(name);
  out += "' command";
  return out;
}

std::string UnknownCommand(std::string_view name, const std::string_view* args, size_t argc) {
  // Redis 7.0 (processCommand): args are appended while the list is shorter than 128 bytes,
  // each clipped so the list does not exceed 128.
  std::string list;
  for (size_t i = 0; i < argc && list.size() < 128; ++i) {
    size_t room = 128 - list.size();
    list += '\'';
    list += Clip(args[i], room);
    list += "' ";
  }
  std::string out = "ERR unknown command '";
  out += Clip(name);
  out += "', with args beginning with: ";
  out += list;
  return out;
}

std::string UnknownSubcommand(std::string_view container, std::string_view sub) {
  std::string upper(container);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::string out = "ERR unknown subcommand '";
  out += Clip(sub);
  out += "'. Try ";
  out += upper;
  out += " HELP.";
  return out;
}

std::string NotYetSupported(std::string_view command, std::string_view option) {
  std::string out = "ERR option '";
  out += Clip(option);
  out += "' of '";
  out += Lower(command);
  out += "' is not supported by this gateway yet";
  return out;
}

std::string SubscribedContext(std::string_view command) {
  return "ERR Can't execute '" + std::string(command) +
         "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
         "context";
}

}  // namespace gateway::errors
