// SPDX-License-Identifier: Apache-2.0
//
// ACL subcommands (Redis 7.0): CAT, DELUSER, DRYRUN, GENPASS, GETUSER, LIST, LOAD, LOG, SAVE,
// SETUSER, USERS, WHOAMI. Users live in this gateway's AclStore (gateway/acl.h); LOAD and SAVE
// use --aclfile.
//
// Thread: the loop thread.
#include <openssl/rand.h>

#include <chrono>
#include <string>
#include <vector>

#include "gateway/acl.h"
#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/config.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"

namespace gateway {
namespace {

constexpr std::string_view kNoAclFile =
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "Redis configuration file set) in order to store users in the Redis configuration.";

}  // namespace

void CmdAclCat(Call& call) {
  resp::ReplyWriter& w = call.reply();
  if (call.argc() == 2) {
    std::span<const std::string_view> cats = AllAclCategories();
    w.ArrayHeader(cats.size());
    for (std::string_view c : cats) w.Bulk(c);
    call.Finish();
    return;
  }
  if (call.argc() != 3) {
    call.ReplyError(errors::WrongArity("acl|cat"));
    return;
  }
  std::string category(call.arg(2));
  for (char& c : category) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool known = false;
  for (std::string_view c : AllAclCategories()) known = known || c == category;
  if (!known) {
    call.ReplyError("ERR Unknown category '" + std::string(call.arg(2)) + "'");
    return;
  }
  std::vector<std::string_view> names;
  auto add = [&](const CommandSpec& spec) {
    for (std::string_view c : CommandCategories(spec)) {
      if (c == category) {
        names.push_back(spec.name);
        return;
      }
    }
  };
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.subcommands.empty()) {
      add(spec);
    } else {
      for (const CommandSpec& sub : spec.subcommands) add(sub);
    }
  }
  w.ArrayHeader(names.size());
  for (std::string_view n : names) w.Bulk(n);
  call.Finish();
}

void CmdAclWhoami(Call& call) {
  call.reply().Bulk(call.session().user()->name());
  call.Finish();
}

void CmdAclUsers(Call& call) {
  auto users = call.server().acl().Users();
  call.reply().ArrayHeader(users.size());
  for (const auto& u : users) call.reply().Bulk(u->name());
  call.Finish();
}

void CmdAclList(Call& call) {
  auto users = call.server().acl().Users();
  call.reply().ArrayHeader(users.size());
  for (const auto& u : users) call.reply().Bulk("user " + u->name() + " " + u->DescribeRules());
  call.Finish();
}

void CmdAclGetUser(Call& call) {
  std::shared_ptr<AclUser> u = call.server().acl().Find(call.arg(2));
  resp::ReplyWriter& w = call.reply();
  if (!u) {
    w.Null();
    call.Finish();
    return;
  }
  w.MapHeader(6);
  w.Bulk("flags");
  std::vector<std::string_view> flags = {u->enabled() ? "on" : "off"};
  if (u->nopass()) flags.push_back("nopass");
  w.ArrayHeader(flags.size());
  for (std::string_view f : flags) w.Bulk(f);
  w.Bulk("passwords");
  w.ArrayHeader(u->password_hashes().size());
  for (const std::string& h : u->password_hashes()) w.Bulk(h);
  w.Bulk("commands");
  w.Bulk(u->DescribeCommands());
  w.Bulk("keys");
  w.Bulk(u->DescribeKeys());
  w.Bulk("channels");
  w.Bulk(u->DescribeChannels());
  w.Bulk("selectors");
  w.ArrayHeader(0);
  call.Finish();
}

void CmdAclSetUser(Call& call) {
  std::vector<std::string_view> ops;
  for (size_t i = 3; i < call.argc(); ++i) ops.push_back(call.arg(i));
  std::string err = call.server().acl().SetUser(call.arg(2), ops);
  if (!err.empty()) {
    call.ReplyError(err);
    return;
  }
  call.ReplyOk();
}

void CmdAclDelUser(Call& call) {
  int64_t deleted = 0;
  for (size_t i = 2; i < call.argc(); ++i) {
    if (call.arg(i) == "default") {
      call.ReplyError("ERR The 'default' user cannot be removed");
      return;
    }
  }
  for (size_t i = 2; i < call.argc(); ++i) deleted += call.server().acl().DeleteUser(call.arg(i));
  // Connections of deleted users close at their next command (Session::Dispatch); close idle
  // ones now, as Redis does.
  for (const auto& [id, session] : call.server().sessions()) {
    if (session != &call.session() && session->user()->removed()) session->CloseSoon();
  }
  call.reply().Integer(deleted);
  call.Finish();
}

void CmdAclDryRun(Call& call) {
  std::shared_ptr<AclUser> u = call.server().acl().Find(call.arg(2));
  if (!u) {
    call.ReplyError("ERR User '" + std::string(call.arg(2)) + "' not found");
    return;
  }
  const CommandSpec* spec = FindCommand(call.arg(3));
  if (spec == nullptr) {
    call.ReplyError("ERR Command '" + std::string(call.arg(3)) + "' not found");
    return;
  }
  // The command and its arguments as a request of their own.
  resp::Request request;
  for (size_t i = 3; i < call.argc(); ++i) request.AddArg(call.arg(i));
  if (!spec->subcommands.empty() && request.argc() >= 2) {
    const CommandSpec* sub = FindSubcommand(*spec, request.arg(1));
    if (sub != nullptr) spec = sub;
  }
  if (!ArityAccepts(spec->arity, request.argc())) {
    call.ReplyError("ERR wrong number of arguments for '" + std::string(spec->name) +
                    "' command");
    return;
  }
  std::string object;
  AclDenial denial = spec->flags.has(CommandFlag::kNoAuth)
                         ? AclDenial::kNone
                         : CheckAcl(*u, *spec, request, &object);
  switch (denial) {
    case AclDenial::kNone:
      call.ReplyOk();
      return;
    case AclDenial::kCommand:
      call.reply().Bulk("This user has no permissions to run the '" + object + "' command");
      break;
    case AclDenial::kKey:
      call.reply().Bulk("This user has no permissions to access the '" + object + "' key");
      break;
    case AclDenial::kChannel:
      call.reply().Bulk("This user has no permissions to access the '" + object + "' channel");
      break;
  }
  call.Finish();
}

void CmdAclLoad(Call& call) {
  const std::string& path = call.server().config().aclfile;
  if (path.empty()) {
    call.ReplyError(kNoAclFile);
    return;
  }
  std::string err = call.server().acl().LoadFile(path);
  if (!err.empty()) {
    call.ReplyError("ERR " + err);
    return;
  }
  for (const auto& [id, session] : call.server().sessions()) {
    if (session != &call.session() && session->user()->removed()) session->CloseSoon();
  }
  call.ReplyOk();
}

void CmdAclSave(Call& call) {
  const std::string& path = call.server().config().aclfile;
  if (path.empty()) {
    call.ReplyError(kNoAclFile);
    return;
  }
  std::string err = call.server().acl().SaveFile(path);
  if (!err.empty()) {
    call.ReplyError("ERR There was an error trying to save the ACLs. Please check the server "
                    "logs for more information");
    std::fprintf(stderr, "ACL SAVE: %s\n", err.c_str());
    return;
  }
  call.ReplyOk();
}

void CmdAclLog(Call& call) {
  AclStore& acl = call.server().acl();
  int64_t count = 10;
  if (call.argc() == 3) {
    if (EqualsIgnoreCase(call.arg(2), "RESET")) {
      acl.ResetLog();
      call.ReplyOk();
      return;
    }
    auto n = ParseInt64(call.arg(2));
    if (!n || *n < 0) {
      call.ReplyError(errors::kNotInteger);
      return;
    }
    count = *n;
  } else if (call.argc() > 3) {
    call.ReplyError(errors::kSyntax);
    return;
  }
  const auto& log = acl.log();
  size_t n = std::min(log.size(), static_cast<size_t>(count));
  resp::ReplyWriter& w = call.reply();
  w.ArrayHeader(n);
  auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    const AclStore::LogEntry& e = log[i];
    w.MapHeader(7);
    w.Bulk("count");
    w.Integer(e.count);
    w.Bulk("reason");
    w.Bulk(e.reason);
    w.Bulk("context");
    w.Bulk(e.context);
    w.Bulk("object");
    w.Bulk(e.object);
    w.Bulk("username");
    w.Bulk(e.username);
    w.Bulk("age-seconds");
    w.Double(std::chrono::duration<double>(now - e.created).count());
    w.Bulk("client-info");
    w.Bulk(e.client_info);
  }
  call.Finish();
}

void CmdAclGenPass(Call& call) {
  int64_t bits = 256;
  if (call.argc() == 3) {
    auto n = ParseInt64(call.arg(2));
    if (!n || *n <= 0 || *n > 4096) {
      call.ReplyError("ERR ACL GENPASS argument must be the number of bits for the output "
                      "password, a positive number up to 4096");
      return;
    }
    bits = *n;
  }
  size_t chars = static_cast<size_t>((bits + 3) / 4);
  std::vector<unsigned char> random((chars + 1) / 2);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    call.ReplyError("ERR cannot generate random bytes");
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : random) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  out.resize(chars);
  call.reply().Bulk(out);
  call.Finish();
}

}  // namespace gateway
