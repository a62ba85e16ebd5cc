// SPDX-License-Identifier: Apache-2.0
#include "gateway/acl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "gateway/arg_parser.h"
#include "gateway/config.h"
#include "resp/request_parser.h"

namespace gateway {
namespace {

constexpr std::array<std::string_view, 21> kCategories = {
    "keyspace", "read",  "write",    "set",       "sortedset",  "list",       "hash",
    "string",   "bitmap", "hyperloglog", "geo",   "stream",     "pubsub",     "admin",
    "fast",     "slow",  "blocking", "dangerous", "connection", "transaction", "scripting"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsCategory(std::string_view name) {
  return name == "all" ||
         std::find(kCategories.begin(), kCategories.end(), name) != kCategories.end();
}

// Redis's ACL patterns are stringmatchlen globs; "*" also matches the empty string.
bool PatternMatches(std::string_view pattern, std::string_view text) {
  return pattern == "*" || GlobMatch(pattern, text, false);
}

bool InCategory(const CommandSpec& spec, std::string_view category) {
  if (category == "all") return true;
  for (std::string_view c : CommandCategories(spec)) {
    if (c == category) return true;
  }
  return false;
}

bool IsHexHash(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Splits an ACL file line on spaces and tabs (Redis's sdssplitargs without quotes: rules
// never contain spaces in practice, and quoted passwords are not part of the file format).
std::vector<std::string_view> SplitWords(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::vector<std::string_view> CommandCategories(const CommandSpec& spec) {
  std::vector<std::string_view> cats;
  std::string_view name = spec.name;
  std::string_view top = name.substr(0, name.find('|'));
  bool keyspace = spec.group == "generic" || top == "dbsize" || top == "flushdb" ||
                  top == "flushall" || top == "swapdb" || top == "select";
  if (keyspace) cats.push_back("keyspace");
  if (spec.flags.has(CommandFlag::kReadOnly)) cats.push_back("read");
  if (spec.flags.has(CommandFlag::kWrite)) cats.push_back("write");
  if (spec.group == "string") cats.push_back("string");
  if (spec.group == "bitmap") cats.push_back("bitmap");
  if (spec.group == "pubsub" || spec.flags.has(CommandFlag::kPubSub)) cats.push_back("pubsub");
  if (spec.flags.has(CommandFlag::kAdmin)) cats.push_back("admin");
  cats.push_back(spec.flags.has(CommandFlag::kFast) ? "fast" : "slow");
  bool dangerous = spec.flags.has(CommandFlag::kAdmin) || top == "keys" || top == "flushdb" ||
                   top == "flushall" || top == "swapdb" || top == "info" || top == "config";
  if (dangerous) cats.push_back("dangerous");
  if (spec.group == "connection") cats.push_back("connection");
  if (spec.group == "transactions") cats.push_back("transaction");
  if (spec.group == "scripting") cats.push_back("scripting");
  return cats;
}

std::span<const std::string_view> AllAclCategories() { return kCategories; }

std::string PasswordHash(std::string_view password) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(password.data(), password.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// AclUser

void AclUser::Reset() {
  enabled_ = false;
  nopass_ = false;
  all_channels_ = false;
  password_hashes_.clear();
  command_rules_.clear();
  key_patterns_.clear();
  channel_patterns_.clear();
}

std::string AclUser::Apply(std::string_view op) {
  std::string lower = Lower(op);
  if (lower == "on") {
    enabled_ = true;
  } else if (lower == "off") {
    enabled_ = false;
  } else if (lower == "nopass") {
    nopass_ = true;
    password_hashes_.clear();
  } else if (lower == "resetpass") {
    nopass_ = false;
    password_hashes_.clear();
  } else if (lower == "allkeys") {
    key_patterns_ = {{"*", true, true}};
  } else if (lower == "resetkeys") {
    key_patterns_.clear();
  } else if (lower == "allchannels") {
    all_channels_ = true;
    channel_patterns_.clear();
  } else if (lower == "resetchannels") {
    all_channels_ = false;
    channel_patterns_.clear();
  } else if (lower == "allcommands") {
    command_rules_ = {{true, true, "all"}};
  } else if (lower == "nocommands") {
    command_rules_.clear();
  } else if (lower == "reset") {
    Reset();
  } else if (lower == "sanitize-payload" || lower == "skip-sanitize-payload" ||
             lower == "clearselectors") {
    // Accepted for compatibility: the gateway has no RESTORE payloads and no selectors.
  } else if (!op.empty() && op[0] == '>') {
    std::string hash = PasswordHash(op.substr(1));
    if (std::find(password_hashes_.begin(), password_hashes_.end(), hash) ==
        password_hashes_.end()) {
      password_hashes_.push_back(std::move(hash));
    }
    nopass_ = false;
  } else if (!op.empty() && op[0] == '#') {
    std::string hash = Lower(op.substr(1));
    if (!IsHexHash(hash)) return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
    if (std::find(password_hashes_.begin(), password_hashes_.end(), hash) ==
        password_hashes_.end()) {
      password_hashes_.push_back(std::move(hash));
    }
    nopass_ = false;
  } else if (!op.empty() && (op[0] == '<' || op[0] == '!')) {
    std::string hash = op[0] == '<' ? PasswordHash(op.substr(1)) : Lower(op.substr(1));
    auto it = std::find(password_hashes_.begin(), password_hashes_.end(), hash);
    if (it == password_hashes_.end()) return "no such password";
    password_hashes_.erase(it);
  } else if (!op.empty() && (op[0] == '~' || op[0] == '%')) {
    bool read = true, write = true;
    std::string_view pattern = op.substr(1);
    if (op[0] == '%') {
      size_t tilde = op.find('~');
      if (tilde == std::string_view::npos || tilde == 1) return "Syntax error";
      read = write = false;
      for (char c : op.substr(1, tilde - 1)) {
        if (c == 'R' || c == 'r') {
          read = true;
        } else if (c == 'W' || c == 'w') {
          write = true;
        } else {
          return "Syntax error";
        }
      }
      pattern = op.substr(tilde + 1);
    }
    if (!key_patterns_.empty() && key_patterns_.front().pattern == "*" &&
        key_patterns_.front().read && key_patterns_.front().write && key_patterns_.size() == 1) {
      // Redis: adding a pattern to a user with allkeys is an error.
      if (pattern != "*" || !(read && write)) {
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and "
               "does not have any effect. Try 'resetkeys' to start with an empty list of "
               "patterns";
      }
    }
    if (pattern == "*" && read && write) {
      key_patterns_ = {{"*", true, true}};
    } else {
      key_patterns_.push_back({std::string(pattern), read, write});
    }
  } else if (!op.empty() && op[0] == '&') {
    std::string_view pattern = op.substr(1);
    if (all_channels_ && pattern != "*") {
      return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid "
             "and does not have any effect. Try 'resetchannels' to start with an empty list of "
             "channels";
    }
    if (pattern == "*") {
      all_channels_ = true;
      channel_patterns_.clear();
    } else {
      channel_patterns_.emplace_back(pattern);
    }
  } else if (!op.empty() && (op[0] == '+' || op[0] == '-')) {
    bool allow = op[0] == '+';
    std::string_view rest = std::string_view(lower).substr(1);
    if (!rest.empty() && rest[0] == '@') {
      std::string_view category = rest.substr(1);
      if (!IsCategory(category)) return "Unknown command or category name in ACL";
      if (category == "all") {
        command_rules_.clear();  // +@all / -@all override everything before them
        if (allow) command_rules_.push_back({true, true, "all"});
      } else {
        command_rules_.push_back({allow, true, std::string(category)});
      }
    } else {
      if (rest.empty()) return "Syntax error";
      size_t bar = rest.find('|');
      std::string_view top = rest.substr(0, bar);
      const CommandSpec* spec = FindCommand(top);
      if (bar != std::string_view::npos) {
        std::string_view sub = rest.substr(bar + 1);
        if (sub.empty() || sub.find('|') != std::string_view::npos) return "Syntax error";
        // A known container must know the subcommand; unknown commands are kept (below).
        if (spec != nullptr && (spec->subcommands.empty() || FindSubcommand(*spec, sub) == nullptr)) {
          return "Unknown command or category name in ACL";
        }
      }
      command_rules_.push_back({allow, false, std::string(rest)});
    }
  } else if (!op.empty() && op[0] == '(') {
    return "Selectors are not supported by this gateway";
  } else {
    return "Syntax error";
  }
  Recompute();
  return {};
}

void AclUser::CopyRulesFrom(const AclUser& other) {
  enabled_ = other.enabled_;
  nopass_ = other.nopass_;
  all_channels_ = other.all_channels_;
  password_hashes_ = other.password_hashes_;
  command_rules_ = other.command_rules_;
  key_patterns_ = other.key_patterns_;
  channel_patterns_ = other.channel_patterns_;
  Recompute();
}

void AclUser::Recompute() {
  bool all_commands = command_rules_.size() == 1 && command_rules_[0].allow &&
                      command_rules_[0].is_category && command_rules_[0].name == "all";
  bool all_keys = key_patterns_.size() == 1 && key_patterns_[0].pattern == "*" &&
                  key_patterns_[0].read && key_patterns_[0].write;
  unrestricted_ = all_commands && all_keys && all_channels_;
}

bool AclUser::Authenticates(std::string_view password) const {
  if (!enabled_ || removed_) return false;
  if (nopass_) return true;
  std::string hash = PasswordHash(password);
  bool ok = false;
  for (const std::string& h : password_hashes_) {
    // Constant time for equal lengths (both are 64 hex digits).
    if (h.size() == hash.size() && CRYPTO_memcmp(h.data(), hash.data(), h.size()) == 0) ok = true;
  }
  return ok;
}

bool AclUser::CanRun(const CommandSpec& spec) const {
  std::string_view name = spec.name;
  size_t bar = name.find('|');
  std::string_view top = name.substr(0, bar);
  for (auto it = command_rules_.rbegin(); it != command_rules_.rend(); ++it) {
    bool matches = it->is_category ? InCategory(spec, it->name)
                                   : (it->name == name || it->name == top);
    if (matches) return it->allow;
  }
  return false;
}

bool AclUser::CanAccessKey(std::string_view key, bool read, bool write) const {
  bool has_read = !read, has_write = !write;
  for (const KeyPattern& p : key_patterns_) {
    if ((read && !has_read && p.read) || (write && !has_write && p.write)) {
      if (PatternMatches(p.pattern, key)) {
        has_read = has_read || p.read;
        has_write = has_write || p.write;
      }
    }
    if (has_read && has_write) return true;
  }
  return has_read && has_write;
}

bool AclUser::CanAccessChannel(std::string_view channel, bool is_pattern) const {
  if (all_channels_) return true;
  for (const std::string& p : channel_patterns_) {
    if (is_pattern ? p == channel : PatternMatches(p, channel)) return true;
  }
  return false;
}

std::string AclUser::DescribeCommands() const {
  std::string out = "-@all";
  for (const CommandRule& r : command_rules_) {
    if (r.is_category && r.name == "all") {
      out = "+@all";
      continue;
    }
    out += ' ';
    out += r.allow ? '+' : '-';
    if (r.is_category) out += '@';
    out += r.name;
  }
  return out;
}

std::string AclUser::DescribeKeys() const {
  std::string out;
  for (const KeyPattern& p : key_patterns_) {
    if (!out.empty()) out += ' ';
    if (p.read && p.write) {
      out += '~';
    } else {
      out += p.read ? "%R~" : "%W~";
    }
    out += p.pattern;
  }
  return out;
}

std::string AclUser::DescribeChannels() const {
  if (all_channels_) return "&*";
  std::string out;
  for (const std::string& p : channel_patterns_) {
    if (!out.empty()) out += ' ';
    out += '&' + p;
  }
  return out;
}

std::string AclUser::DescribeRules() const {
  std::string out = enabled_ ? "on" : "off";
  if (nopass_) out += " nopass";
  for (const std::string& h : password_hashes_) out += " #" + h;
  std::string keys = DescribeKeys();
  if (!keys.empty()) out += " " + keys;
  out += all_channels_ ? " &*" : " resetchannels";
  if (!all_channels_ && !channel_patterns_.empty()) out += " " + DescribeChannels();
  out += " " + DescribeCommands();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checks

AclDenial CheckAcl(const AclUser& user, const CommandSpec& spec, const resp::Request& request,
                   std::string* object) {
  if (user.unrestricted()) return AclDenial::kNone;
  if (!user.CanRun(spec)) {
    *object = std::string(spec.name);
    return AclDenial::kCommand;
  }
  int argc = static_cast<int>(request.argc());
  if (spec.has_keys()) {
    KeyAccess access = spec.AccessFor(request);
    bool read = access == KeyAccess::kRead || access == KeyAccess::kWrite;
    bool write = access == KeyAccess::kWrite || access == KeyAccess::kBlindWrite;
    if (access == KeyAccess::kNone) read = true;  // e.g. TYPE-like lookups
    bool denied = false;
    ForEachKeyIndex(spec, request.argc(), [&](size_t i) {
      if (denied || user.CanAccessKey(request.arg(i), read, write)) return;
      denied = true;
      *object = std::string(request.arg(i));
    });
    if (denied) return AclDenial::kKey;
  }
  std::string_view name = spec.name;
  bool is_publish = name == "publish";
  bool is_subscribe = name == "subscribe";
  bool is_psubscribe = name == "psubscribe";
  if (is_publish || is_subscribe || is_psubscribe) {
    int end = is_publish ? std::min(argc, 2) : argc;
    for (int i = 1; i < end; ++i) {
      std::string_view channel = request.arg(static_cast<size_t>(i));
      if (!user.CanAccessChannel(channel, is_psubscribe)) {
        *object = std::string(channel);
        return AclDenial::kChannel;
      }
    }
  }
  return AclDenial::kNone;
}

std::string NoPermError(AclDenial denial, std::string_view object) {
  switch (denial) {
    case AclDenial::kKey:
      return "NOPERM this user has no permissions to access one of the keys used as arguments";
    case AclDenial::kChannel:
      return "NOPERM this user has no permissions to access one of the channels used as "
             "arguments";
    default:
      return "NOPERM this user has no permissions to run the '" + std::string(object) +
             "' command";
  }
}

// ---------------------------------------------------------------------------------------------
// AclStore

AclStore::AclStore() {
  default_user_ = std::make_shared<AclUser>("default");
  for (std::string_view op : {"on", "nopass", "~*", "&*", "+@all"}) default_user_->Apply(op);
  users_.emplace("default", default_user_);
}

void AclStore::SetRequirePass(std::string_view password) {
  // As Redis's requirepass: only the default user's passwords change.
  default_user_->Apply("resetpass");
  default_user_->Apply(password.empty() ? std::string("nopass") : ">" + std::string(password));
}

std::string AclStore::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "cannot open the ACL file " + path;
  std::map<std::string, std::shared_ptr<AclUser>, std::less<>> loaded;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string_view> words = SplitWords(line);
    if (words.empty() || words[0][0] == '#') continue;
    auto where = [&] { return path + ":" + std::to_string(number) + ": "; };
    if (words[0] != "user" || words.size() < 2) {
      return where() + "line should start with user keyword";
    }
    std::string name(words[1]);
    if (loaded.count(name) != 0) return where() + "duplicate user '" + name + "'";
    auto user = std::make_shared<AclUser>(name);
    for (size_t i = 2; i < words.size(); ++i) {
      std::string err = user->Apply(words[i]);
      if (!err.empty()) {
        return where() + "Error in applying operation '" + std::string(words[i]) + "': " + err;
      }
    }
    loaded.emplace(std::move(name), std::move(user));
  }
  // Commit: keep the objects of users that still exist (their connections follow), mark the
  // others removed (their connections close).
  for (auto& [name, user] : users_) {
    if (name == "default") continue;
    if (loaded.count(name) == 0) user->set_removed();
  }
  std::map<std::string, std::shared_ptr<AclUser>, std::less<>> next;
  for (auto& [name, user] : loaded) {
    auto old = users_.find(name);
    if (old != users_.end()) {
      old->second->CopyRulesFrom(*user);
      next.emplace(name, old->second);
    } else {
      next.emplace(name, user);
    }
  }
  next.emplace("default", default_user_);  // no-op when the file defined it
  users_ = std::move(next);
  return {};
}

std::string AclStore::SaveFile(const std::string& path) const {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return "cannot write " + tmp;
    for (const auto& [name, user] : users_) {
      out << "user " << name << " " << user->DescribeRules() << "\n";
    }
    if (!out.flush()) return "cannot write " + tmp;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return "cannot rename " + tmp;
  return {};
}

std::shared_ptr<AclUser> AclStore::Find(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<AclUser>> AclStore::Users() const {
  std::vector<std::shared_ptr<AclUser>> out;
  for (const auto& [name, user] : users_) out.push_back(user);
  return out;
}

std::string AclStore::SetUser(std::string_view name, std::span<const std::string_view> ops) {
  // Validate on a copy first, so a bad rule changes nothing (as Redis does).
  auto existing = Find(name);
  AclUser scratch{std::string(name)};
  if (existing) {
    scratch.CopyRulesFrom(*existing);
  } else {
    // Redis 7.0 creates users with resetchannels (acl-pubsub-default) and nothing else.
  }
  for (std::string_view op : ops) {
    std::string err = scratch.Apply(op);
    if (!err.empty()) {
      return "ERR Error in ACL SETUSER modifier '" + std::string(op) + "': " + err;
    }
  }
  if (existing) {
    existing->CopyRulesFrom(scratch);
  } else {
    auto user = std::make_shared<AclUser>(std::string(name));
    user->CopyRulesFrom(scratch);
    users_.emplace(std::string(name), std::move(user));
  }
  return {};
}

int AclStore::DeleteUser(std::string_view name) {
  if (name == "default") return 0;
  auto it = users_.find(name);
  if (it == users_.end()) return 0;
  it->second->set_removed();
  users_.erase(it);
  return 1;
}

void AclStore::Log(std::string reason, std::string context, std::string object,
                   std::string username, std::string client_info) {
  auto now = std::chrono::steady_clock::now();
  for (LogEntry& e : log_) {
    if (e.reason == reason && e.context == context && e.object == object &&
        e.username == username && now - e.updated < std::chrono::seconds(60)) {
      ++e.count;
      e.updated = now;
      e.client_info = std::move(client_info);
      return;
    }
  }
  LogEntry e;
  e.reason = std::move(reason);
  e.context = std::move(context);
  e.object = std::move(object);
  e.username = std::move(username);
  e.client_info = std::move(client_info);
  e.created = e.updated = now;
  log_.push_front(std::move(e));
  while (log_.size() > kMaxLog) log_.pop_back();
}

}  // namespace gateway
