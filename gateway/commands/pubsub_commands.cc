// SPDX-License-Identifier: Apache-2.0
//
// Pub/sub commands: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH and PUBSUB
// CHANNELS / NUMSUB / NUMPAT. PubSub (gateway/pubsub.h) keeps the registry and talks to NATS;
// these handlers shape the replies as Redis 7.0.15 does (src/pubsub.c).
//
// A (P)SUBSCRIBE's confirmation frames are written at once but the call finishes only when
// every NATS subscription it needs is confirmed; messages arriving meanwhile queue behind it.
#include <cctype>
#include <string>
#include <vector>

#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"

namespace gateway {
namespace {

// [kind, name, count] as an array (RESP2) or a push (RESP3).
void WriteFrame(resp::ReplyWriter& w, std::string_view kind, const std::string* name,
                size_t count) {
  w.PushHeader(3);
  w.Bulk(kind);
  if (name == nullptr) {
    w.Null();
  } else {
    w.Bulk(*name);
  }
  w.Integer(static_cast<int64_t>(count));
}

// SUBSCRIBE and PSUBSCRIBE: one frame per argument, counting subscriptions as they are added
// (a name repeated, or already subscribed, does not count again).
void SubscribeCommon(Call& call, bool is_pattern) {
  Session& session = call.session();
  auto& mine = is_pattern ? session.subscribed_patterns() : session.subscribed_channels();
  std::vector<std::string> names;
  names.reserve(call.argc() - 1);
  std::set<std::string, std::less<>> added;
  size_t count = session.subscription_count();
  for (size_t i = 1; i < call.argc(); ++i) {
    names.emplace_back(call.arg(i));
    const std::string& name = names.back();
    if (mine.count(name) == 0 && added.insert(name).second) ++count;
    WriteFrame(call.reply(), is_pattern ? "psubscribe" : "subscribe", &name, count);
  }
  std::vector<std::string> fresh(added.begin(), added.end());
  auto done = call.Bind<kvmap::KvStatus>([fresh, is_pattern](Call& c, kvmap::KvStatus st) {
    if (st == kvmap::KvStatus::kOk) {
      c.Finish();
      return;
    }
    // NATS could not confirm: undo what this call added, and say so instead.
    PubSub& ps = c.server().pubsub();
    for (const std::string& name : fresh) {
      if (is_pattern) {
        ps.PUnsubscribe(&c.session(), name);
      } else {
        ps.Unsubscribe(&c.session(), name);
      }
    }
    c.reply_bytes().clear();
    c.ReplyKvError(st, "subscription not confirmed");
  });
  if (is_pattern) {
    call.server().pubsub().PSubscribe(&session, names, std::move(done));
  } else {
    call.server().pubsub().Subscribe(&session, names, std::move(done));
  }
}

// UNSUBSCRIBE and PUNSUBSCRIBE: the named subscriptions, or all of them without arguments. A
// client with none gets one frame with a null name.
void UnsubscribeCommon(Call& call, bool is_pattern) {
  Session& session = call.session();
  PubSub& ps = call.server().pubsub();
  auto& mine = is_pattern ? session.subscribed_patterns() : session.subscribed_channels();
  std::string_view kind = is_pattern ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> names;
  if (call.argc() == 1) {
    names.assign(mine.begin(), mine.end());
    if (names.empty()) {
      WriteFrame(call.reply(), kind, nullptr, session.subscription_count());
      call.Finish();
      return;
    }
  } else {
    for (size_t i = 1; i < call.argc(); ++i) names.emplace_back(call.arg(i));
  }
  for (const std::string& name : names) {
    if (is_pattern) {
      ps.PUnsubscribe(&session, name);
    } else {
      ps.Unsubscribe(&session, name);
    }
    WriteFrame(call.reply(), kind, &name, session.subscription_count());
  }
  call.Finish();
}

}  // namespace

void CmdSubscribe(Call& call) { SubscribeCommon(call, /*is_pattern=*/false); }
void CmdPSubscribe(Call& call) { SubscribeCommon(call, /*is_pattern=*/true); }
void CmdUnsubscribe(Call& call) { UnsubscribeCommon(call, /*is_pattern=*/false); }
void CmdPUnsubscribe(Call& call) { UnsubscribeCommon(call, /*is_pattern=*/true); }

void CmdPublish(Call& call) {
  // Refused whole rather than delivered only here: other gateways could never see it.
  if (!call.server().pubsub().FitsNats(call.arg(2))) {
    call.ReplyError("ERR message too large for NATS (max_payload is " +
                    std::to_string(call.backend().bus()->max_payload()) + " bytes)");
    return;
  }
  call.server().pubsub().PublishWithBackpressure(
      call.arg(1), call.arg(2), call.Bind<int64_t>([](Call& c, int64_t receivers) {
        c.reply().Integer(receivers);
        c.Finish();
      }));
}

void CmdPubsubChannels(Call& call) {
  if (call.argc() > 3) {
    // Redis's addReplySubcommandSyntaxError: the subcommand as written (at most 128 bytes),
    // the command upper-cased.
    std::string cmd(call.arg(0));
    for (char& ch : cmd) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    call.ReplyError("ERR unknown subcommand or wrong number of arguments for '" +
                    std::string(call.arg(1).substr(0, 128)) + "'. Try " + cmd + " HELP.");
    return;
  }
  std::optional<std::string_view> pattern;
  if (call.argc() == 3) pattern = call.arg(2);
  std::vector<std::string> channels = call.server().pubsub().ActiveChannels(pattern);
  call.reply().ArrayHeader(channels.size());
  for (const std::string& c : channels) call.reply().Bulk(c);
  call.Finish();
}

void CmdPubsubNumsub(Call& call) {
  // A flat array of channel, count pairs in both protocols (Redis 7.0).
  call.reply().ArrayHeader((call.argc() - 2) * 2);
  for (size_t i = 2; i < call.argc(); ++i) {
    call.reply().Bulk(call.arg(i));
    call.reply().Integer(call.server().pubsub().NumSubscribers(call.arg(i)));
  }
  call.Finish();
}

void CmdPubsubNumpat(Call& call) {
  call.reply().Integer(call.server().pubsub().NumPatterns());
  call.Finish();
}

}  // namespace gateway
