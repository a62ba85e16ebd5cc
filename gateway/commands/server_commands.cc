// SPDX-License-Identifier: Apache-2.0
//
// Server commands: INFO, CONFIG, COMMAND, TIME, FUNCTION FLUSH and CLUSTER. COMMAND output is
// generated from the command table. INFO reports redis_version 7.0.x and loading:0 so that
// clients' ready checks pass.
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <set>
#include <string>

#include "gateway/acl.h"
#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "gateway/version.h"
#include "kvmap/keyspace_index.h"
#include "kvmap/string_ops.h"

namespace gateway {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void Field(std::string* out, std::string_view name, std::string_view value) {
  out->append(name).append(":").append(value).append("\r\n");
}
void Field(std::string* out, std::string_view name, int64_t value) {
  Field(out, name, std::to_string(value));
}

std::string RssBytes() {
  long pages = 0, rss = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f != nullptr) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return std::to_string(rss * sysconf(_SC_PAGESIZE));
}

// INFO sections in Redis's order. `all` selects every section; `defaults` the default set.
struct InfoSection {
  std::string_view name;
  bool is_default;
  void (*render)(ServerContext&, std::string*);
};

void RenderServer(ServerContext& server, std::string* out) {
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - server.started_at())
                    .count();
  Field(out, "redis_version", kRedisVersion);
  Field(out, "redis_git_sha1", "00000000");
  Field(out, "redis_git_dirty", 0);
  Field(out, "redis_build_id", "0");
  Field(out, "redis_mode", "standalone");
  Field(out, "os", "Linux");
  Field(out, "arch_bits", 64);
  Field(out, "gateway", "redis-nats-gateway");
  Field(out, "gateway_version", kGatewayVersion);
  Field(out, "process_id", static_cast<int64_t>(getpid()));
  Field(out, "run_id", server.run_id());
  Field(out, "tcp_port", server.config().port);
  Field(out, "uptime_in_seconds", uptime);
  Field(out, "uptime_in_days", uptime / 86400);
  Field(out, "executable", "redis-nats-gateway");
  Field(out, "config_file", "");
}

void RenderClients(ServerContext& server, std::string* out) {
  Field(out, "connected_clients", static_cast<int64_t>(server.sessions().size()));
  Field(out, "maxclients", server.config().maxclients);
  Field(out, "blocked_clients", 0);
  int64_t subscribers = 0;
  for (const auto& [id, session] : server.sessions()) {
    if (session->subscription_count() > 0) ++subscribers;
  }
  Field(out, "pubsub_clients", subscribers);
}

void RenderMemory(ServerContext& server, std::string* out) {
  std::string rss = RssBytes();
  Field(out, "used_memory", rss);
  Field(out, "used_memory_rss", rss);
  Field(out, "maxmemory", 0);
  Field(out, "maxmemory_policy", "noeviction");
}

void RenderPersistence(ServerContext& server, std::string* out) {
  Field(out, "loading", 0);
  Field(out, "async_loading", 0);
  Field(out, "rdb_changes_since_last_save", 0);
  Field(out, "rdb_bgsave_in_progress", 0);
  Field(out, "aof_enabled", 0);
  Field(out, "aof_rewrite_in_progress", 0);
}

void RenderStats(ServerContext& server, std::string* out) {
  const ServerStats& s = server.stats();
  Field(out, "total_connections_received", static_cast<int64_t>(s.total_connections_received));
  Field(out, "total_commands_processed", static_cast<int64_t>(s.total_commands_processed));
  Field(out, "total_net_input_bytes", static_cast<int64_t>(s.total_net_input_bytes));
  Field(out, "total_net_output_bytes", static_cast<int64_t>(s.total_net_output_bytes));
  Field(out, "rejected_connections", static_cast<int64_t>(s.rejected_connections));
  Field(out, "expired_keys", 0);
  Field(out, "evicted_keys", 0);
  Field(out, "keyspace_hits", static_cast<int64_t>(s.keyspace_hits));
  Field(out, "keyspace_misses", static_cast<int64_t>(s.keyspace_misses));
  Field(out, "pubsub_channels",
        static_cast<int64_t>(server.pubsub().ActiveChannels(std::nullopt).size()));
  Field(out, "pubsub_patterns", server.pubsub().NumPatterns());
  // NATS messages on the channel subjects that name no channel (not a canonical encoding).
  Field(out, "pubsub_undeliverable_nats_messages",
        static_cast<int64_t>(server.pubsub().dropped_messages()));
  Field(out, "total_error_replies", static_cast<int64_t>(s.total_error_replies));
  if (server.backend_info().fields) {
    for (const auto& [name, value] : server.backend_info().fields()) Field(out, name, value);
  }
}

void RenderReplication(ServerContext& server, std::string* out) {
  Field(out, "role", "master");
  Field(out, "connected_slaves", 0);
}

void RenderCpu(ServerContext& server, std::string* out) {
  struct rusage self;
  getrusage(RUSAGE_SELF, &self);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(self.ru_stime.tv_sec),
                static_cast<long>(self.ru_stime.tv_usec));
  Field(out, "used_cpu_sys", buf);
  std::snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(self.ru_utime.tv_sec),
                static_cast<long>(self.ru_utime.tv_usec));
  Field(out, "used_cpu_user", buf);
}

void RenderCommandStats(ServerContext& server, std::string* out) {
  for (const auto& [name, st] : server.stats().commands) {
    if (st.calls == 0 && st.rejected_calls == 0 && st.failed_calls == 0) continue;
    char buf[256];
    double per_call = st.calls ? static_cast<double>(st.usec) / static_cast<double>(st.calls) : 0;
    std::snprintf(buf, sizeof(buf),
                  "calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu",
                  static_cast<unsigned long long>(st.calls),
                  static_cast<unsigned long long>(st.usec), per_call,
                  static_cast<unsigned long long>(st.rejected_calls),
                  static_cast<unsigned long long>(st.failed_calls));
    Field(out, "cmdstat_" + name, buf);
  }
}

void RenderErrorStats(ServerContext& server, std::string* out) {
  for (const auto& [code, count] : server.stats().errors) {
    Field(out, "errorstat_" + code, "count=" + std::to_string(count));
  }
}

void RenderCluster(ServerContext& server, std::string* out) { Field(out, "cluster_enabled", 0); }

void RenderKeyspace(ServerContext& server, std::string* out) {
  // From the bucket followers' indexes: databases whose follower runs and holds keys.
  for (int db = 0; db < server.config().databases; ++db) {
    const kvmap::KeyspaceIndex* index = server.backend().Keyspace(server.BucketFor(db));
    if (index == nullptr || index->size() == 0) continue;
    Field(out, "db" + std::to_string(db),
          "keys=" + std::to_string(index->size()) +
              ",expires=" + std::to_string(index->expires_count()) + ",avg_ttl=0");
  }
}

constexpr InfoSection kInfoSections[] = {
    {"server", true, RenderServer},
    {"clients", true, RenderClients},
    {"memory", true, RenderMemory},
    {"persistence", true, RenderPersistence},
    {"stats", true, RenderStats},
    {"replication", true, RenderReplication},
    {"cpu", true, RenderCpu},
    {"commandstats", false, RenderCommandStats},
    {"errorstats", true, RenderErrorStats},
    {"cluster", true, RenderCluster},
    {"keyspace", true, RenderKeyspace},
};

std::string SectionTitle(std::string_view name) {
  std::string t(name);
  t[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(t[0])));
  if (name == "cpu") t = "CPU";
  if (name == "commandstats") t = "Commandstats";
  if (name == "errorstats") t = "Errorstats";
  return t;
}

// ---- COMMAND output, generated from the table ----

void WriteFlags(resp::ReplyWriter& w, const CommandSpec& spec) {
  std::vector<std::string_view> flags;
  if (spec.flags.has(CommandFlag::kWrite)) flags.push_back("write");
  if (spec.flags.has(CommandFlag::kReadOnly)) flags.push_back("readonly");
  if (spec.flags.has(CommandFlag::kAdmin)) flags.push_back("admin");
  if (spec.flags.has(CommandFlag::kPubSub)) flags.push_back("pubsub");
  if (spec.flags.has(CommandFlag::kNoAuth)) flags.push_back("no_auth");
  if (spec.flags.has(CommandFlag::kLoading)) flags.push_back("loading");
  if (spec.flags.has(CommandFlag::kStale)) flags.push_back("stale");
  if (spec.flags.has(CommandFlag::kFast)) flags.push_back("fast");
  w.SetHeader(flags.size());
  for (std::string_view f : flags) w.SimpleString(f);
}

void WriteCategories(resp::ReplyWriter& w, const CommandSpec& spec) {
  std::vector<std::string_view> cats = CommandCategories(spec);
  w.SetHeader(cats.size());
  for (std::string_view c : cats) w.SimpleString("@" + std::string(c));
}

void WriteCommandInfo(resp::ReplyWriter& w, const CommandSpec& spec) {
  w.ArrayHeader(10);
  w.Bulk(spec.name);
  w.Integer(spec.arity);
  WriteFlags(w, spec);
  w.Integer(spec.first_key);
  w.Integer(spec.last_key);
  w.Integer(spec.key_step);
  WriteCategories(w, spec);
  w.SetHeader(0);  // tips
  if (spec.has_keys()) {
    // One legacy range key spec.
    w.ArrayHeader(1);
    w.MapHeader(3);
    w.Bulk("flags");
    w.SetHeader(0);
    w.Bulk("begin_search");
    w.MapHeader(2);
    w.Bulk("type");
    w.Bulk("index");
    w.Bulk("spec");
    w.MapHeader(1);
    w.Bulk("index");
    w.Integer(spec.first_key);
    w.Bulk("find_keys");
    w.MapHeader(2);
    w.Bulk("type");
    w.Bulk("range");
    w.Bulk("spec");
    w.MapHeader(3);
    w.Bulk("lastkey");
    w.Integer(spec.last_key < 0 ? spec.last_key : spec.last_key - spec.first_key);
    w.Bulk("keystep");
    w.Integer(spec.key_step);
    w.Bulk("limit");
    w.Integer(0);
  } else {
    w.ArrayHeader(0);
  }
  w.ArrayHeader(spec.subcommands.size());
  for (const CommandSpec& sub : spec.subcommands) WriteCommandInfo(w, sub);
}

void WriteCommandDocs(resp::ReplyWriter& w, const CommandSpec& spec) {
  bool has_subs = !spec.subcommands.empty();
  w.MapHeader(has_subs ? 4 : 3);
  w.Bulk("summary");
  w.Bulk(spec.summary);
  w.Bulk("since");
  w.Bulk(spec.since);
  w.Bulk("group");
  w.Bulk(spec.group);
  if (has_subs) {
    w.Bulk("subcommands");
    w.MapHeader(spec.subcommands.size());
    for (const CommandSpec& sub : spec.subcommands) {
      w.Bulk(sub.name);
      WriteCommandDocs(w, sub);
    }
  }
}

// Applies CONFIG SET's validated pairs to the live configuration and replies OK. The setting
// shared through the config bucket (notify-keyspace-events) is skipped: KeyspaceNotifier has
// applied it already, and assigning it again could undo a newer value from another gateway.
// Applied pair by pair rather than as the validated copy, so that a CONFIG SET that ran while
// this one waited for the bucket is not undone either.
void ApplyConfigSet(Call& call) {
  Config& config = call.server().config();
  for (size_t i = 2; i + 1 < call.argc(); i += 2) {
    if (EqualsIgnoreCase(call.arg(i), KeyspaceNotifier::kSettingKey)) continue;
    ConfigSet(&config, call.arg(i), call.arg(i + 1));
    if (EqualsIgnoreCase(call.arg(i), "requirepass")) {
      call.server().acl().SetRequirePass(config.requirepass);
    }
  }
  // As in Redis, the new limits apply to every connection, and to string sizes, at once.
  for (const auto& [id, session] : call.server().sessions()) session->ApplyConfig();
  kvmap::SetMaxBulkLen(config.proto_max_bulk_len);
  call.ReplyOk();
}

}  // namespace

void CmdInfo(Call& call) {
  std::set<std::string> wanted;
  bool all = false, everything = false;
  for (size_t i = 1; i < call.argc(); ++i) {
    std::string s = Lower(call.arg(i));
    if (s == "all") {
      all = true;
    } else if (s == "everything") {
      everything = true;
    } else if (s == "default") {
      for (const InfoSection& sec : kInfoSections) {
        if (sec.is_default) wanted.insert(std::string(sec.name));
      }
    } else {
      wanted.insert(s);
    }
  }
  bool defaults = call.argc() == 1;
  std::string out;
  for (const InfoSection& sec : kInfoSections) {
    bool include = everything || all || (defaults && sec.is_default) ||
                   wanted.count(std::string(sec.name)) != 0;
    if (!include) continue;
    if (!out.empty()) out += "\r\n";
    out += "# " + SectionTitle(sec.name) + "\r\n";
    sec.render(call.server(), &out);
  }
  call.reply().Verbatim("txt", out);
  call.Finish();
}

void CmdConfigGet(Call& call) {
  std::vector<std::pair<std::string, std::string>> found;
  std::set<std::string> seen;
  for (size_t i = 2; i < call.argc(); ++i) {
    for (auto& kv : ConfigGet(call.server().config(), call.arg(i))) {
      if (seen.insert(kv.first).second) found.push_back(std::move(kv));
    }
  }
  resp::ReplyWriter& w = call.reply();
  w.MapHeader(found.size());
  for (const auto& [name, value] : found) {
    w.Bulk(name);
    w.Bulk(value);
  }
  call.Finish();
}

void CmdConfigSet(Call& call) {
  if ((call.argc() - 2) % 2 != 0) {
    call.ReplyError(errors::WrongArity("config|set"));
    return;
  }
  // Redis 7.0 applies all pairs or none: validate against a copy first.
  Config copy = call.server().config();
  std::optional<std::string_view> keyspace_events;
  for (size_t i = 2; i + 1 < call.argc(); i += 2) {
    for (size_t j = 2; j < i; j += 2) {
      if (EqualsIgnoreCase(call.arg(j), call.arg(i))) {
        call.ReplyError(errors::DuplicateConfigParameter(call.arg(i)));
        return;
      }
    }
    std::string err = ConfigSet(&copy, call.arg(i), call.arg(i + 1));
    if (!err.empty()) {
      call.ReplyError(err);
      return;
    }
    if (EqualsIgnoreCase(call.arg(i), KeyspaceNotifier::kSettingKey)) {
      keyspace_events = call.arg(i + 1);
    }
  }
  if (!keyspace_events) {
    ApplyConfigSet(call);
    return;
  }
  // notify-keyspace-events is shared by every gateway: it takes effect once the config bucket
  // has it, and the other pairs only then, so a failure still changes nothing.
  call.server().keyspace_notifier().Set(
      *keyspace_events,
      call.Bind<kvmap::KvStatus, std::string>([](Call& c, kvmap::KvStatus st,
                                                 std::string detail) {
        if (st != kvmap::KvStatus::kOk) {
          c.ReplyKvError(st, detail);
          return;
        }
        ApplyConfigSet(c);
      }));
}

void CmdConfigResetStat(Call& call) {
  ServerStats& s = call.server().stats();
  s = ServerStats{};
  call.ReplyOk();
}

void CmdConfigRewrite(Call& call) {
  call.ReplyError("ERR The server is running without a config file");
}

void CmdCommand(Call& call) {
  auto all = AllCommands();
  call.reply().ArrayHeader(all.size());
  for (const CommandSpec& spec : all) WriteCommandInfo(call.reply(), spec);
  call.Finish();
}

void CmdCommandCount(Call& call) {
  call.reply().Integer(static_cast<int64_t>(AllCommands().size()));
  call.Finish();
}

void CmdCommandInfo(Call& call) {
  resp::ReplyWriter& w = call.reply();
  if (call.argc() == 2) {
    auto all = AllCommands();
    w.ArrayHeader(all.size());
    for (const CommandSpec& spec : all) WriteCommandInfo(w, spec);
  } else {
    w.ArrayHeader(call.argc() - 2);
    for (size_t i = 2; i < call.argc(); ++i) {
      const CommandSpec* spec = FindCommand(call.arg(i));
      if (spec == nullptr) {
        w.Null();  // Redis 7.0 answers a null bulk here, not a null array
      } else {
        WriteCommandInfo(w, *spec);
      }
    }
  }
  call.Finish();
}

void CmdCommandDocs(Call& call) {
  resp::ReplyWriter& w = call.reply();
  std::vector<const CommandSpec*> specs;
  if (call.argc() == 2) {
    for (const CommandSpec& spec : AllCommands()) specs.push_back(&spec);
  } else {
    for (size_t i = 2; i < call.argc(); ++i) {
      if (const CommandSpec* spec = FindCommand(call.arg(i))) specs.push_back(spec);
    }
  }
  w.MapHeader(specs.size());
  for (const CommandSpec* spec : specs) {
    w.Bulk(spec->name);
    WriteCommandDocs(w, *spec);
  }
  call.Finish();
}

void CmdCommandList(Call& call) {
  if (call.argc() != 2) {
    // FILTERBY is not offered.
    call.ReplyError(errors::kSyntax);
    return;
  }
  auto all = AllCommands();
  call.reply().ArrayHeader(all.size());
  for (const CommandSpec& spec : all) call.reply().Bulk(spec.name);
  call.Finish();
}

void CmdTime(Call& call) {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  call.reply().ArrayHeader(2);
  call.reply().Bulk(std::to_string(tv.tv_sec));
  call.reply().Bulk(std::to_string(tv.tv_usec));
  call.Finish();
}

void CmdFunctionFlush(Call& call) {
  // The gateway has no functions, so there is nothing to flush (DESIGN.md decision 11).
  if (call.argc() == 3 && !EqualsIgnoreCase(call.arg(2), "ASYNC") &&
      !EqualsIgnoreCase(call.arg(2), "SYNC")) {
    call.ReplyError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
    return;
  }
  call.ReplyOk();
}

void CmdCluster(Call& call) { call.ReplyError(errors::kClusterDisabled); }

}  // namespace gateway
