// SPDX-License-Identifier: Apache-2.0
//
// Connection commands: PING, ECHO, QUIT, RESET, HELLO, AUTH, SELECT and CLIENT. All are answered
// locally. Behaviour and texts follow Redis 7.0.15 (src/networking.c, src/server.c, src/acl.c);
// CLIENT SETINFO is a Redis 7.2 command that current clients send, accepted on purpose.
#include <algorithm>
#include <chrono>
#include <string>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "gateway/version.h"

namespace gateway {
namespace {

// Redis 7.0 validateClientName: only printable ASCII without spaces.
bool IsValidClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// AUTH logic shared by AUTH and HELLO ... AUTH: the user, when it exists, is enabled and the
// password matches (any password for a nopass user). Failures go to ACL LOG, as in Redis.
std::shared_ptr<AclUser> CheckCredentials(Call& call, std::string_view user,
                                          std::string_view pass) {
  std::shared_ptr<AclUser> found = call.server().acl().Find(user);
  if (found && found->Authenticates(pass)) return found;
  call.server().acl().Log("auth", call.session().in_multi() ? "multi" : "toplevel", "AUTH",
                          std::string(user), call.session().ClientInfoLine());
  return nullptr;
}

}  // namespace

void CmdPing(Call& call) {
  if (call.argc() > 2) {
    call.ReplyError(errors::WrongArity("ping"));
    return;
  }
  // A RESP2 subscriber gets a message-shaped reply it can tell apart: [pong, message].
  if (call.session().subscription_count() > 0 &&
      call.session().protocol() == resp::Protocol::kResp2) {
    call.reply().ArrayHeader(2);
    call.reply().Bulk("pong");
    call.reply().Bulk(call.argc() == 2 ? call.arg(1) : std::string_view());
    call.Finish();
    return;
  }
  if (call.argc() == 2) {
    call.reply().Bulk(call.arg(1));
    call.Finish();
    return;
  }
  call.reply().SimpleString("PONG");
  call.Finish();
}

void CmdEcho(Call& call) {
  call.reply().Bulk(call.arg(1));
  call.Finish();
}

void CmdQuit(Call& call) {
  call.session().CloseAfterReply();
  call.ReplyOk();
}

void CmdReset(Call& call) {
  Session& s = call.session();
  call.server().pubsub().RemoveSession(&s);
  s.DiscardTransaction();
  s.set_db(0);
  s.set_protocol(resp::Protocol::kResp2);
  s.set_name("");
  s.ResetUser();
  call.reply().SimpleString("RESET");
  call.Finish();
}

void CmdHello(Call& call) {
  Session& s = call.session();
  ArgParser p(call, 1);
  int64_t version = static_cast<int64_t>(s.protocol());
  if (p.HasNext()) {
    auto v = p.NextInt();
    if (!v) {
      call.ReplyError(errors::kProtoVersionNotInteger);
      return;
    }
    if (*v < 2 || *v > 3) {
      call.ReplyError(errors::kNoProto);
      return;
    }
    version = *v;
  }
  std::string_view user, pass, name;
  bool has_auth = false, has_name = false;
  while (p.HasNext()) {
    size_t more = p.remaining() - 1;
    std::string_view opt = p.Peek();
    if (EqualsIgnoreCase(opt, "AUTH") && more >= 2) {
      p.Next();
      user = p.Next();
      pass = p.Next();
      has_auth = true;
    } else if (EqualsIgnoreCase(opt, "SETNAME") && more >= 1) {
      p.Next();
      name = p.Next();
      if (!IsValidClientName(name)) {
        call.ReplyError(errors::kClientNameSpaces);
        return;
      }
      has_name = true;
    } else {
      call.ReplyError("ERR Syntax error in HELLO option '" + std::string(opt.substr(0, 128)) +
                      "'");
      return;
    }
  }
  if (has_auth) {
    std::shared_ptr<AclUser> authenticated = CheckCredentials(call, user, pass);
    if (!authenticated) {
      call.ReplyError(errors::kWrongPass);
      return;
    }
    s.AuthenticateAs(std::move(authenticated));
  }
  if (!s.is_authenticated()) {
    call.ReplyError(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
    return;
  }
  if (has_name) s.set_name(std::string(name));
  s.set_protocol(static_cast<resp::Protocol>(version));
  // The reply uses the protocol just selected, as Redis does.
  resp::ReplyWriter w(&call.reply_bytes(), s.protocol());
  w.MapHeader(7);
  w.Bulk("server");
  w.Bulk("redis");
  w.Bulk("version");
  w.Bulk(kRedisVersion);
  w.Bulk("proto");
  w.Integer(version);
  w.Bulk("id");
  w.Integer(static_cast<int64_t>(s.id()));
  w.Bulk("mode");
  w.Bulk("standalone");
  w.Bulk("role");
  w.Bulk("master");
  w.Bulk("modules");
  w.ArrayHeader(0);
  call.Finish();
}

void CmdAuth(Call& call) {
  std::string_view user = "default";
  std::string_view pass;
  if (call.argc() == 2) {
    pass = call.arg(1);
    // Redis 7.0: the one-argument form needs a password on the default user.
    if (call.server().acl().default_user()->nopass()) {
      call.ReplyError(errors::kAuthNotConfigured);
      return;
    }
  } else if (call.argc() == 3) {
    user = call.arg(1);
    pass = call.arg(2);
  } else {
    call.ReplyError(errors::kSyntax);
    return;
  }
  std::shared_ptr<AclUser> authenticated = CheckCredentials(call, user, pass);
  if (!authenticated) {
    call.ReplyError(errors::kWrongPass);
    return;
  }
  call.session().AuthenticateAs(std::move(authenticated));
  call.ReplyOk();
}

void CmdSelect(Call& call) {
  auto db = ParseInt64(call.arg(1));
  if (!db) {
    call.ReplyError(errors::kNotInteger);
    return;
  }
  if (*db < 0 || *db >= call.server().config().databases) {
    call.ReplyError(errors::kDbIndexOutOfRange);
    return;
  }
  call.session().set_db(static_cast<int>(*db));
  call.ReplyOk();
}

void CmdClientId(Call& call) {
  call.reply().Integer(static_cast<int64_t>(call.session().id()));
  call.Finish();
}

void CmdClientSetName(Call& call) {
  std::string_view name = call.arg(2);
  if (!IsValidClientName(name)) {
    call.ReplyError(errors::kClientNameSpaces);
    return;
  }
  call.session().set_name(std::string(name));
  call.ReplyOk();
}

void CmdClientGetName(Call& call) {
  const std::string& name = call.session().name();
  if (name.empty()) {
    call.reply().Null();
  } else {
    call.reply().Bulk(name);
  }
  call.Finish();
}

void CmdClientSetInfo(Call& call) {
  std::string_view attr = call.arg(2);
  std::string_view value = call.arg(3);
  bool is_name = EqualsIgnoreCase(attr, "LIB-NAME");
  bool is_ver = EqualsIgnoreCase(attr, "LIB-VER");
  if (!is_name && !is_ver) {
    call.ReplyError("ERR Unrecognized option '" + std::string(attr.substr(0, 128)) + "'");
    return;
  }
  if (!IsValidClientName(value)) {
    call.ReplyError(std::string("ERR ") + (is_name ? "lib-name" : "lib-ver") +
                    " cannot contain spaces, newlines or special characters.");
    return;
  }
  (is_name ? call.session().lib_name : call.session().lib_ver) = std::string(value);
  call.ReplyOk();
}

void CmdClientInfo(Call& call) {
  std::string line = call.session().ClientInfoLine();
  line += '\n';
  call.reply().Verbatim("txt", line);
  call.Finish();
}

// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP are silent themselves; subscription confirmations
// and pushed messages are sent regardless (Redis 7.0).
void CmdClientReply(Call& call) {
  std::string_view mode = call.arg(2);
  Session& s = call.session();
  if (EqualsIgnoreCase(mode, "on")) {
    s.set_reply_mode(Session::ReplyMode::kOn);
    call.set_silent(false);
  } else if (EqualsIgnoreCase(mode, "off")) {
    s.set_reply_mode(Session::ReplyMode::kOff);
    call.set_silent(true);
  } else if (EqualsIgnoreCase(mode, "skip")) {
    s.set_reply_mode(Session::ReplyMode::kSkip);
    call.set_silent(true);
  } else {
    call.ReplyError(errors::kSyntax);
    return;
  }
  call.ReplyOk();
}

void CmdClientList(Call& call) {
  // Filters (TYPE, ID) are accepted as Redis 7.0 does.
  ArgParser p(call, 2);
  std::vector<int64_t> ids;
  while (p.HasNext()) {
    if (p.Accept("TYPE") && p.HasNext()) {
      std::string_view type = p.Next();
      if (!EqualsIgnoreCase(type, "normal") && !EqualsIgnoreCase(type, "master") &&
          !EqualsIgnoreCase(type, "replica") && !EqualsIgnoreCase(type, "pubsub")) {
        call.ReplyError("ERR Unknown client type '" + std::string(type.substr(0, 128)) + "'");
        return;
      }
      // Every gateway client is "normal".
      if (!EqualsIgnoreCase(type, "normal")) ids.push_back(-1);
    } else if (p.Accept("ID") && p.HasNext()) {
      while (p.HasNext()) {
        auto id = p.NextInt();
        if (!id || *id <= 0) {
          call.ReplyError("ERR Invalid client ID");
          return;
        }
        ids.push_back(*id);
      }
    } else {
      call.ReplyError(errors::kSyntax);
      return;
    }
  }
  std::string out;
  for (const auto& [id, session] : call.server().sessions()) {
    if (!ids.empty() && std::find(ids.begin(), ids.end(), static_cast<int64_t>(id)) == ids.end()) {
      continue;
    }
    out += session->ClientInfoLine();
    out += '\n';
  }
  call.reply().Verbatim("txt", out);
  call.Finish();
}

}  // namespace gateway
