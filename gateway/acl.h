// SPDX-License-Identifier: Apache-2.0
//
// Access control as Redis 7.0 defines it: users with passwords (kept as SHA-256), allowed
// commands (+cmd, -cmd, +@category, +cmd|sub), key patterns (~pat, %R~pat, %W~pat) and channel
// patterns (&pat). Users come from --requirepass (the "default" user), an ACL file (--aclfile,
// Redis's format: one "user <name> <rules...>" per line) and ACL SETUSER.
//
// Permission rules are kept in the order given and the last one that names a command decides,
// which is what Redis's bitmap of allowed commands works out to. A rule naming a command the
// gateway does not implement is kept (so a Redis ACL file loads and ACL SAVE keeps it) and
// matches nothing. Key permissions follow the command table's KeyAccess: a read needs R, a
// blind write needs W, a read-modify-write needs both.
//
// Users are shared by every connection of this gateway; they are not shared with other
// gateways (each loads its own file). ACL SETUSER changes a user in place, so its connections
// see the change at their next command; a user deleted by ACL DELUSER or ACL LOAD is marked
// removed and its connections are closed.
//
// Thread: the loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/command_table.h"

namespace resp {
class Request;
}

namespace gateway {

// The ACL categories of a command ("read", "string", ...; no '@'), derived from its table row.
std::vector<std::string_view> CommandCategories(const CommandSpec& spec);
// Every category Redis 7.0 knows, in ACL CAT order.
std::span<const std::string_view> AllAclCategories();

// Hex SHA-256 of a password, as ACL GETUSER shows it.
std::string PasswordHash(std::string_view password);

class AclUser {
 public:
  explicit AclUser(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }
  bool enabled() const { return enabled_; }
  bool nopass() const { return nopass_; }
  bool removed() const { return removed_; }
  void set_removed() { removed_ = true; }
  const std::vector<std::string>& password_hashes() const { return password_hashes_; }

  // Applies one ACL SETUSER rule ("on", ">pw", "~k*", "+get", "-@write", "reset", ...).
  // Returns an error text (Redis's wording after "Error in ACL SETUSER modifier '...': ") or
  // empty on success.
  std::string Apply(std::string_view op);
  // Copies another user's rules (ACL LOAD keeps the object, so connections follow the change).
  void CopyRulesFrom(const AclUser& other);

  // True for an enabled user whose password matches (any password when nopass).
  bool Authenticates(std::string_view password) const;

  // True when every command, key and channel is allowed (no per-command checks needed).
  bool unrestricted() const { return unrestricted_; }
  // `spec` is the row that runs (a subcommand's own row for "config get").
  bool CanRun(const CommandSpec& spec) const;
  bool CanAccessKey(std::string_view key, bool read, bool write) const;
  // A channel (PUBLISH, SUBSCRIBE) must match a pattern; a PSUBSCRIBE pattern must equal one.
  bool CanAccessChannel(std::string_view channel, bool is_pattern) const;

  // ACL LIST's line (without the leading "user <name> ").
  std::string DescribeRules() const;
  std::string DescribeCommands() const;
  std::string DescribeKeys() const;
  std::string DescribeChannels() const;

 private:
  struct CommandRule {
    bool allow;
    bool is_category;
    std::string name;  // lower case; "config|get" for one subcommand; "all" for +@all
  };
  struct KeyPattern {
    std::string pattern;
    bool read;
    bool write;
  };

  void Reset();
  void Recompute();

  std::string name_;
  bool enabled_ = false;
  bool nopass_ = false;
  bool removed_ = false;
  bool all_channels_ = false;
  bool unrestricted_ = false;
  std::vector<std::string> password_hashes_;
  std::vector<CommandRule> command_rules_;  // empty = nothing allowed (-@all)
  std::vector<KeyPattern> key_patterns_;
  std::vector<std::string> channel_patterns_;
};

// Why a command was refused.
enum class AclDenial { kNone, kCommand, kKey, kChannel };

// Checks everything the user needs for `request` run by `spec`. On refusal, *object names the
// command, key or channel (for ACL LOG and ACL DRYRUN).
AclDenial CheckAcl(const AclUser& user, const CommandSpec& spec, const resp::Request& request,
                   std::string* object);
// The NOPERM error of a refusal, in Redis 7.0's words (`object` as CheckAcl set it).
std::string NoPermError(AclDenial denial, std::string_view object);

class AclStore {
 public:
  struct LogEntry {
    std::string reason;   // "command", "key", "channel", "auth"
    std::string context;  // "toplevel", "multi"
    std::string object;
    std::string username;
    std::string client_info;
    int64_t count = 1;
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point updated;
  };

  AclStore();

  // The default user starts as "on nopass ~* &* +@all". requirepass replaces its passwords
  // with this one (nopass when empty), as Redis's requirepass does.
  void SetRequirePass(std::string_view password);
  // Loads an ACL file, replacing every user it does not define except "default" (which keeps
  // its --requirepass form unless the file defines it). Nothing changes on error. Returns an
  // error ("<path>:<line>: <problem>") or empty.
  std::string LoadFile(const std::string& path);
  // Writes every user to `path` (write then rename). Returns an error or empty.
  std::string SaveFile(const std::string& path) const;

  std::shared_ptr<AclUser> Find(std::string_view name) const;
  const std::shared_ptr<AclUser>& default_user() const { return default_user_; }
  std::vector<std::shared_ptr<AclUser>> Users() const;  // sorted by name

  // ACL SETUSER: creates the user when missing. Returns a Redis error text or empty.
  std::string SetUser(std::string_view name, std::span<const std::string_view> ops);
  // ACL DELUSER: returns how many users were deleted; "default" cannot be.
  int DeleteUser(std::string_view name);

  // ACL LOG (newest first, at most kMaxLog entries; repeats within 60 s are counted).
  void Log(std::string reason, std::string context, std::string object, std::string username,
           std::string client_info);
  const std::deque<LogEntry>& log() const { return log_; }
  void ResetLog() { log_.clear(); }

  static constexpr size_t kMaxLog = 128;

 private:
  std::map<std::string, std::shared_ptr<AclUser>, std::less<>> users_;
  std::shared_ptr<AclUser> default_user_;
  std::deque<LogEntry> log_;
};

}  // namespace gateway
