// SPDX-License-Identifier: Apache-2.0
//
// Every error text the gateway replies with, defined once. Texts match Redis 7.0.15 word for
// word (src/server.c, src/networking.c, src/t_string.c, src/db.c); the gateway's own errors
// about its backend use the stable "ERR backend ..." wording.
//
// Thread: any. Constants only.
#pragma once

#include <string>
#include <string_view>

namespace gateway::errors {

inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthNotConfigured =
    "ERR AUTH <password> called without any password configured for the default user. Are you "
    "sure your configuration is correct?";
inline constexpr std::string_view kDbIndexOutOfRange = "ERR DB index is out of range";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";
inline constexpr std::string_view kProtoVersionNotInteger =
    "ERR Protocol version is not an integer or out of range";
inline constexpr std::string_view kClusterDisabled =
    "ERR This instance has cluster support disabled";
inline constexpr std::string_view kClientNameSpaces =
    "ERR Client names cannot contain spaces, newlines or special characters.";
inline constexpr std::string_view kNoSuchClient = "ERR No such client";

// Backend failures (gateway-specific wording, stable so clients and tests can match it).
inline constexpr std::string_view kBackendUnavailable =
    "ERR backend unavailable: not connected to NATS";
inline constexpr std::string_view kBackendTimeout = "ERR backend timeout: NATS did not answer";
inline constexpr std::string_view kBackendOutcomeUnknown =
    "ERR backend outcome unknown: the write may or may not have been applied";
inline constexpr std::string_view kBackendKeyTooLong = "ERR backend key too long for NATS";
inline constexpr std::string_view kBackendTooLarge =
    "ERR backend value too large for a NATS message";
inline constexpr std::string_view kBackendInternal = "ERR backend error";
inline constexpr std::string_view kBackendContention =
    "ERR backend contention: too many concurrent updates, try again";

// "ERR wrong number of arguments for '<name>' command" (name as Redis 7.0 prints it: the
// lower-case command, or "container|sub" for a subcommand).
std::string WrongArity(std::string_view name);
// "ERR unknown command '<name>', with args beginning with: '<a1>' '<a2>' "
std::string UnknownCommand(std::string_view name, const std::string_view* args, size_t argc);
// "ERR unknown subcommand '<sub>'. Try <CONTAINER> HELP."
std::string UnknownSubcommand(std::string_view container, std::string_view sub);
// A RESP2 client in subscribed mode sent another command.
std::string SubscribedContext(std::string_view command);
// "ERR Unsupported option '<opt>' ..." for options a later release implements.
std::string NotYetSupported(std::string_view command, std::string_view option);
// "ERR invalid expire time in '<command>' command" (Redis 7.0 addReplyErrorExpireTime; the
// command name as the client should see it, lower case: "set", "setex", "getex").
inline std::string InvalidExpireTime(std::string_view command) {
  std::string out = "ERR invalid expire time in '";
  out += command;
  out += "' command";
  return out;
}

// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT options (Redis 7.0 parseExtendedExpireArgumentsOrReply).
inline constexpr std::string_view kExpireNxConflict =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
inline constexpr std::string_view kExpireGtLtConflict =
    "ERR GT and LT options at the same time are not compatible";
// "ERR Unsupported option <opt>", formatted as Redis 7.0's addReplyErrorFormat("%s") does: the
// option up to its first NUL byte, trailing CR/LF trimmed (the reply writer turns the others
// into spaces).
inline std::string UnsupportedOption(std::string_view option) {
  std::string out = "ERR Unsupported option ";
  out += option.substr(0, option.find('\0'));
  while (!out.empty() && (out.back() == '\r' || out.back() == '\n')) out.pop_back();
  return out;
}

// Key moving and introspection (Redis 7.0 src/db.c, src/object.c, src/server.c shared.*).
inline constexpr std::string_view kNoSuchKey = "ERR no such key";
inline constexpr std::string_view kSameObject = "ERR source and destination objects are the same";
// getIntFromObjectOrReply without a message, for a value that is a long but not an int.
inline constexpr std::string_view kIntOutOfRange =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
inline constexpr std::string_view kInvalidFirstDb = "ERR invalid first DB index";
inline constexpr std::string_view kInvalidSecondDb = "ERR invalid second DB index";
inline constexpr std::string_view kSwapDbUnsupported =
    "ERR SWAPDB is not supported: each database is its own NATS bucket";
inline constexpr std::string_view kLfuNotSelected =
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust.";
// CONFIG SET notify-keyspace-events with a letter keyspaceEventsStringToFlags refuses.
inline constexpr std::string_view kInvalidKeyspaceEvents =
    "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid "
    "event class character. Use 'Ag$lshzxeKEtmdn'.";
// CONFIG SET naming one parameter twice (Redis 7.0 names the later argument as given).
inline std::string DuplicateConfigParameter(std::string_view name) {
  std::string out = "ERR CONFIG SET failed (possibly related to argument '";
  out += name;
  out += "') - duplicate parameter";
  return out;
}

}  // namespace gateway::errors
