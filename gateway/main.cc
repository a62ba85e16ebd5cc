// SPDX-License-Identifier: Apache-2.0
//
// redis-nats-gateway: a Redis-protocol server whose data lives in NATS JetStream KV.
// Start-up order: flags, embedded nats-server (unless --nats), backend connection, listener.
// SIGINT/SIGTERM stop the listener and reading, answer the calls in flight, then stop the
// backend, then the child (BeginGracefulShutdown).
#include <signal.h>
#include <sys/wait.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "gateway/command_docs.h"
#include "gateway/command_table.h"
#include "gateway/config.h"
#include "gateway/embedded_nats.h"
#include "gateway/fallback.h"
#include "gateway/loop_bridge.h"
#include "gateway/migrate.h"
#include "gateway/mirror.h"
#include "gateway/nats_wire_backend.h"
#include "gateway/object_store.h"
#include "gateway/redis_client.h"
#include "gateway/server.h"
#include "gateway/server_context.h"
#include "kvmap/nats_auth.h"
#include "kvmap/nats_kv_backend.h"
#include "kvmap/read_cache.h"
#include "kvmap/string_ops.h"

namespace {

struct App {
  uv_loop_t* loop = nullptr;
  gateway::NatsWireBackend* wire = nullptr;
  gateway::Server* server = nullptr;
  gateway::LoopExecutor* executor = nullptr;
  gateway::EmbeddedNats* embedded = nullptr;
  uv_signal_t sigint, sigterm, sigchld;
  uv_timer_t housekeeping;
  uv_timer_t drain_timer;
  bool is_draining = false;
  bool is_shut_down = false;
  uint64_t drain_deadline_ms = 0;
  int64_t drain_grace_ms = 0;
  int exit_code = 0;
  std::function<void()> stop_migration;  // closes the --fallback / --mirror-writes clients
};

void Shutdown(App* app) {
  if (app->is_shut_down) return;
  app->is_shut_down = true;
  uv_timer_stop(&app->drain_timer);
  uv_close(reinterpret_cast<uv_handle_t*>(&app->drain_timer), nullptr);
  app->server->Stop();
  uv_signal_stop(&app->sigint);
  uv_signal_stop(&app->sigterm);
  uv_signal_stop(&app->sigchld);
  uv_close(reinterpret_cast<uv_handle_t*>(&app->sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&app->sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&app->sigchld), nullptr);
  uv_timer_stop(&app->housekeeping);
  uv_close(reinterpret_cast<uv_handle_t*>(&app->housekeeping), nullptr);
  if (app->stop_migration) app->stop_migration();
  if (app->wire != nullptr) app->wire->Stop();
  app->executor->Close();
}

// SIGTERM/SIGINT: stop accepting and reading, answer the calls already read (each ends within
// --nats-timeout-ms), then shut down. A second signal, or the grace period running out, shuts
// down at once.
void BeginGracefulShutdown(App* app) {
  if (app->is_draining) {
    std::fprintf(stderr, "second signal: shutting down now\n");
    Shutdown(app);
    return;
  }
  app->is_draining = true;
  app->server->BeginDrain();
  app->drain_deadline_ms = uv_now(app->loop) + static_cast<uint64_t>(app->drain_grace_ms);
  uv_timer_start(
      &app->drain_timer,
      [](uv_timer_t* t) {
        auto* a = static_cast<App*>(t->data);
        size_t open = a->server->DrainStep();
        if (open == 0) {
          Shutdown(a);
        } else if (uv_now(a->loop) >= a->drain_deadline_ms) {
          std::fprintf(stderr, "shutdown: %zu connections still had calls after %lld ms; "
                               "closing them\n", open, static_cast<long long>(a->drain_grace_ms));
          Shutdown(a);
        }
      },
      0, 10);
}

}  // namespace

int main(int argc, char** argv) {
  // `redis-nats-gateway migrate ...` (issue 10) is a one-shot command with its own flags.
  if (argc >= 2 && std::string_view(argv[1]) == "migrate") return gateway::RunMigrate(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (argc == 2 && std::string_view(argv[1]) == "--print-command-table") {
    std::fputs(gateway::RenderCommandTableMarkdown().c_str(), stdout);
    return 0;
  }
  gateway::Config config;
  bool wants_help = false;
  std::string err = gateway::ParseFlags(argc, argv, &config, &wants_help);
  if (wants_help) {
    std::fputs(gateway::FlagsUsage().c_str(), stdout);
    return 0;
  }
  if (!err.empty()) {
    std::fprintf(stderr, "redis-nats-gateway: %s\n%s", err.c_str(), gateway::FlagsUsage().c_str());
    return 2;
  }
  std::string table_err = gateway::ValidateCommandTable();
  if (!table_err.empty()) {
    std::fprintf(stderr, "redis-nats-gateway: command table: %s\n", table_err.c_str());
    return 1;
  }

  // --fallback and --mirror-writes: the old Redis of a migration (docs/migration.md).
  gateway::RedisUrl fallback_url, mirror_url;
  for (auto [flag, text, url] : {std::tuple{"--fallback", &config.fallback_url, &fallback_url},
                                 std::tuple{"--mirror-writes", &config.mirror_url, &mirror_url}}) {
    if (text->empty()) continue;
    std::string url_err = gateway::ParseRedisUrl(*text, url);
    if (url_err.empty() && url->db >= config.databases) url_err = "DB index is out of range";
    if (!url_err.empty()) {
      std::fprintf(stderr, "redis-nats-gateway: %s: %s\n", flag, url_err.c_str());
      return 2;
    }
  }
  if ((!config.fallback_url.empty() || !config.mirror_url.empty()) &&
      config.nats_client != "wire") {
    std::fprintf(stderr, "redis-nats-gateway: --fallback and --mirror-writes need the wire NATS "
                         "client\n");
    return 2;
  }

  // Credential files that cannot be used are a start-up error, never retried in the
  // background. The messages name the file and the problem, never a secret.
  const kvmap::NatsAuthFiles nats_auth_files{config.nats_nkey_file, config.nats_creds_file};
  {
    kvmap::NatsUserAuth probe;
    std::string auth_err = kvmap::LoadNatsUserAuth(nats_auth_files, &probe);
    if (!auth_err.empty()) {
      std::fprintf(stderr, "redis-nats-gateway: %s\n", auth_err.c_str());
      return 1;
    }
  }

  kvmap::SetMaxBulkLen(config.proto_max_bulk_len);
  gateway::EmbeddedNats embedded;
  if (config.nats_urls.empty()) {
    std::string e = embedded.Start(config.nats_server_bin, config.data_dir, 15000);
    if (!e.empty()) {
      std::fprintf(stderr, "redis-nats-gateway: %s\n", e.c_str());
      return 1;
    }
    std::fprintf(stderr, "embedded nats-server pid %d at %s, store in %s\n", embedded.pid(),
                 embedded.url().c_str(), config.data_dir.c_str());
    config.nats_urls.push_back(embedded.url());
  }

  uv_loop_t* loop = uv_default_loop();
  gateway::LoopExecutor executor(loop);
  // Destroyed after the backend on every return path: stops nats.c's threads before exit().
  struct NatsLibraryCloser {
    ~NatsLibraryCloser() { kvmap::NatsKvBackend::CloseLibrary(2000); }
  } nats_library_closer;
  std::unique_ptr<kvmap::KvBackend> backend;
  gateway::NatsWireBackend* wire = nullptr;
  kvmap::NatsKvBackend* natsc = nullptr;
  const int64_t connect_wait_ms = embedded.pid() > 0 ? 10000 : config.nats_timeout_ms;
  bool is_connected = false;
  if (config.nats_client == "natsc") {
    kvmap::NatsBackendOptions options;
    options.servers = config.nats_urls;
    options.op_timeout_ms = config.nats_timeout_ms;
    options.replicas = config.replicas;
    options.auth_files = nats_auth_files;
    options.tls_ca_file = config.nats_tls_ca;
    options.tls_cert_file = config.nats_tls_cert;
    options.tls_key_file = config.nats_tls_key;
    auto b = std::make_unique<kvmap::NatsKvBackend>(&executor, options);
    natsc = b.get();
    backend = std::move(b);
    natsc->Start();
    is_connected = natsc->WaitConnected(connect_wait_ms);
  } else {
    gateway::NatsWireOptions options;
    options.servers = config.nats_urls;
    options.marker_grace_ms = config.marker_grace_ms;
    // With --fallback a delete marker is what keeps a deleted key from coming back from the
    // old Redis: markers stay while it is on.
    if (!config.fallback_url.empty()) options.marker_grace_ms = int64_t{1} << 62;
    options.op_timeout_ms = config.nats_timeout_ms;
    options.replicas = config.replicas;
    options.auth_files = nats_auth_files;
    options.tls.ca_file = config.nats_tls_ca;
    options.tls.cert_file = config.nats_tls_cert;
    options.tls.key_file = config.nats_tls_key;
    auto b = std::make_unique<gateway::NatsWireBackend>(loop, &executor, options);
    wire = b.get();
    backend = std::move(b);
    wire->Start();
    // Run the loop until the first connection is up (the backend's timer wakes it).
    uint64_t deadline = uv_now(loop) + static_cast<uint64_t>(connect_wait_ms);
    while (!wire->is_connected() && wire->auth_error().empty() && uv_now(loop) < deadline) {
      uv_run(loop, UV_RUN_ONCE);
    }
    is_connected = wire->is_connected();
  }
  // Refused credentials will not start working by retrying: fail now, naming the cause.
  std::string nats_auth_error = wire != nullptr ? wire->auth_error() : natsc->auth_error();
  if (!is_connected && !nats_auth_error.empty()) {
    std::fprintf(stderr,
                 "redis-nats-gateway: cannot authenticate to NATS: %s (check the user:password@ "
                 "or token@ of --nats, --nats-nkey or --nats-creds)\n",
                 nats_auth_error.c_str());
    backend.reset();
    uv_run(loop, UV_RUN_NOWAIT);  // lets the closed sockets' close callbacks free them
    return 1;
  }
  if (is_connected) {
    // Database 0's bucket now, so that a misconfigured server shows at start-up.
    bool is_done = false;
    backend->EnsureBucket(config.BucketFor(0), [&](kvmap::KvStatus st, std::string detail) {
      if (st != kvmap::KvStatus::kOk) {
        std::fprintf(stderr, "redis-nats-gateway: bucket %s: %s\n", config.BucketFor(0).c_str(),
                     detail.c_str());
      }
      is_done = true;
    });
    uint64_t deadline = uv_now(loop) + static_cast<uint64_t>(config.nats_timeout_ms) + 1000;
    while (!is_done && uv_now(loop) < deadline) uv_run(loop, UV_RUN_ONCE);
  } else {
    std::fprintf(stderr,
                 "redis-nats-gateway: NATS not reachable yet; commands fail until it is "
                 "(retrying in the background)\n");
  }

  // --read-cache wraps the backend; it is destroyed before it (declared after it), and its
  // pending callbacks outlive it safely (kvmap/read_cache.h).
  std::unique_ptr<kvmap::ReadCache> read_cache;
  if (config.read_cache_bytes > 0) {
    if (wire == nullptr) {
      std::fprintf(stderr,
                   "redis-nats-gateway: --read-cache needs the wire NATS client (its bucket "
                   "followers keep the cache coherent); reads bypass it\n");
    }
    read_cache = std::make_unique<kvmap::ReadCache>(
        backend.get(), &executor, static_cast<size_t>(config.read_cache_bytes));
  }
  kvmap::KvBackend* commands_backend = backend.get();
  if (read_cache) commands_backend = read_cache.get();
  // Large values go to the Object Store (wire client only: it provides the raw JetStream access
  // the layer needs). Wraps the cache, so the cache holds pointers, never whole large values.
  std::unique_ptr<gateway::ObjectLayer> objects;
  if (wire != nullptr) {
    gateway::ObjectStoreOptions object_options;
    object_options.threshold = static_cast<size_t>(config.object_threshold);
    object_options.grace_ms = config.object_grace_ms;
    object_options.sweep_ms = config.object_sweep_ms;
    object_options.replicas = config.replicas;
    objects = std::make_unique<gateway::ObjectLayer>(commands_backend, &executor, object_options);
    objects->AddBucket(config.BucketFor(0));
    commands_backend = objects.get();
  }
  // Migration (docs/migration.md). The mirror reads below the fallback layer: it replays what
  // NATS holds, never asks the old Redis.
  gateway::ServerContext* context_for_flush = nullptr;  // set once the context exists
  std::unique_ptr<gateway::RedisClient> mirror_client, fallback_client;
  std::unique_ptr<gateway::WriteMirror> mirror;
  std::unique_ptr<gateway::FallbackLayer> fallback;
  if (!config.mirror_url.empty()) {
    gateway::RedisClientOptions o;
    o.url = mirror_url;
    mirror_client = std::make_unique<gateway::RedisClient>(loop, o);
    mirror_client->Start();
    gateway::MirrorOptions mo;
    mo.bucket = config.BucketFor(mirror_url.db);
    mo.lease_bucket = config.ConfigBucket();
    mirror = std::make_unique<gateway::WriteMirror>(loop, commands_backend, wire->streams(),
                                                    mirror_client.get(), mo);
    // The stream's current sequence is read before clients come: if no gateway has mirrored
    // this bucket before, forwarding starts there, and no client write can precede it.
    auto is_ready = std::make_shared<bool>(false);
    backend->EnsureBucket(mo.bucket, [m = mirror.get(), is_ready](kvmap::KvStatus, std::string) {
      m->Start([is_ready] { *is_ready = true; });
    });
    uint64_t deadline = uv_now(loop) + static_cast<uint64_t>(config.nats_timeout_ms) * 2 + 1000;
    while (!*is_ready && uv_now(loop) < deadline) uv_run(loop, UV_RUN_ONCE);
    std::fprintf(stderr, "mirroring writes of %s to %s\n", mo.bucket.c_str(),
                 mirror_url.Redacted().c_str());
  }
  if (!config.fallback_url.empty()) {
    gateway::RedisClientOptions o;
    o.url = fallback_url;
    // Replies that waited for the old Redis leave as soon as its answers are handled.
    o.after_batch = [&context_for_flush] {
      if (context_for_flush != nullptr) context_for_flush->FlushScheduled();
    };
    fallback_client = std::make_unique<gateway::RedisClient>(loop, o);
    fallback_client->Start();
    fallback = std::make_unique<gateway::FallbackLayer>(commands_backend, fallback_client.get(),
                                                        config.BucketFor(fallback_url.db));
    commands_backend = fallback.get();
    std::fprintf(stderr, "reads that miss in %s fall back to %s\n",
                 config.BucketFor(fallback_url.db).c_str(), fallback_url.Redacted().c_str());
  }
  auto stop_migration = [&] {
    mirror.reset();
    mirror_client.reset();
    if (fallback) fallback->Detach();  // the layer stays (the context uses it)
    fallback_client.reset();
  };

  gateway::ServerContext context(&config, commands_backend);
  context_for_flush = &context;
  context.set_objects(objects.get());
  context.set_executor(&executor);
  context.set_defer_flushes(true);
  context.set_timer([loop, &context](int64_t delay_ms, std::function<void()> fn) {
    gateway::RunAfterOnLoop(loop, delay_ms, [&context, fn = std::move(fn)] {
      fn();
      context.FlushScheduled();
    });
  });
  context.backend_info().fields = [wire, natsc, cache = read_cache.get(), objects = objects.get(),
                                   &mirror, &fallback] {
    kvmap::NatsBackendStats s = wire != nullptr ? wire->stats() : natsc->stats();
    bool connected = wire != nullptr ? wire->is_connected() : natsc->is_connected();
    std::string url = wire != nullptr ? wire->connected_url() : natsc->connected_url();
    kvmap::ReadCache::Stats c = cache != nullptr ? cache->stats() : kvmap::ReadCache::Stats{};
    std::vector<std::pair<std::string, std::string>> fields{
        {"nats_client", wire != nullptr ? "wire" : "natsc"},
        {"nats_connected", connected ? "1" : "0"},
        {"nats_url", url},
        {"nats_ops_sent", std::to_string(s.ops_sent)},
        {"nats_ops_pending", std::to_string(s.pending)},
        {"nats_ops_timed_out", std::to_string(s.ops_timed_out)},
        {"nats_ops_failed_on_disconnect", std::to_string(s.ops_failed_on_disconnect)},
        {"nats_connects", std::to_string(s.connects)},
        {"nats_disconnects", std::to_string(s.disconnects)},
        {"read_cache_capacity", std::to_string(cache != nullptr ? cache->capacity() : 0)},
        {"read_cache_entries", std::to_string(c.entries)},
        {"read_cache_bytes", std::to_string(c.bytes)},
        {"read_cache_hits", std::to_string(c.hits)},
        {"read_cache_misses", std::to_string(c.misses)},
        {"read_cache_bypassed", std::to_string(c.bypassed)},
        {"read_cache_invalidations", std::to_string(c.invalidations)},
        {"read_cache_evictions", std::to_string(c.evictions)},
        {"read_cache_flushes", std::to_string(c.flushes)},
    };
    if (objects != nullptr) {
      const gateway::ObjectLayer::Stats& o = objects->stats();
      fields.insert(fields.end(),
                    {{"object_threshold", std::to_string(objects->threshold())},
                     {"objects_written", std::to_string(o.objects_written)},
                     {"object_bytes_written", std::to_string(o.bytes_written)},
                     {"objects_read", std::to_string(o.objects_read)},
                     {"object_bytes_read", std::to_string(o.bytes_read)},
                     {"object_read_errors", std::to_string(o.read_errors)},
                     {"object_chunks_purged", std::to_string(o.chunks_purged)},
                     {"object_metas_repaired", std::to_string(o.metas_repaired)},
                     {"object_sweeps", std::to_string(o.sweeps)}});
    }
    if (fallback != nullptr) {
      const gateway::FallbackLayer::Stats& f = fallback->stats();
      fields.insert(fields.end(),
                    {{"fallback_url", fallback->old_url()},
                     {"fallback_active", fallback->is_active() ? "1" : "0"},
                     {"fallback_lookups", std::to_string(f.lookups)},
                     {"fallback_copied", std::to_string(f.copied)},
                     {"fallback_absent", std::to_string(f.absent)},
                     {"fallback_races", std::to_string(f.races)},
                     {"fallback_wrong_type", std::to_string(f.wrong_type)},
                     {"fallback_errors", std::to_string(f.errors)}});
    }
    if (mirror != nullptr) {
      auto m = mirror->InfoFields();
      fields.insert(fields.end(), m.begin(), m.end());
    }
    return fields;
  };
  if (wire != nullptr) wire->set_after_batch([&context] { context.FlushScheduled(); });
  executor.set_after_batch([&context] { context.FlushScheduled(); });
  // Keyspace notifications: the shared notify-keyspace-events setting and the change observer
  // (needs the timer above to retry while NATS is unreachable).
  context.keyspace_notifier().Start();
  if (!config.aclfile.empty()) {
    std::string acl_err = context.acl().LoadFile(config.aclfile);
    if (!acl_err.empty()) {
      std::fprintf(stderr, "redis-nats-gateway: %s\n", acl_err.c_str());
      read_cache.reset();
      backend.reset();
      uv_run(loop, UV_RUN_NOWAIT);  // lets the closed sockets' close callbacks free them
      return 1;
    }
  }

  gateway::Server server(loop, &context);
  std::string listen_err = server.Listen();
  if (!listen_err.empty()) {
    std::fprintf(stderr, "redis-nats-gateway: %s\n", listen_err.c_str());
    objects.reset();     // wraps the cache and the backend: goes first
  read_cache.reset();  // wraps the backend
    backend.reset();
    uv_run(loop, UV_RUN_NOWAIT);  // lets the closed sockets' close callbacks free them
    return 1;
  }
  config.port = server.bound_port();  // INFO tcp_port and CONFIG GET port report the real one

  App app;
  app.loop = loop;
  app.server = &server;
  app.executor = &executor;
  app.wire = wire;
  app.embedded = &embedded;
  app.stop_migration = stop_migration;
  uv_signal_init(loop, &app.sigint);
  uv_signal_init(loop, &app.sigterm);
  uv_signal_init(loop, &app.sigchld);
  app.sigint.data = app.sigterm.data = app.sigchld.data = &app;
  uv_timer_init(loop, &app.drain_timer);
  app.drain_timer.data = &app;
  app.drain_grace_ms = config.nats_timeout_ms + 1000;
  auto on_stop = [](uv_signal_t* h, int signum) {
    auto* a = static_cast<App*>(h->data);
    std::fprintf(stderr, "received signal %d, shutting down: answering the calls in flight\n",
                 signum);
    BeginGracefulShutdown(a);
  };
  uv_signal_start(&app.sigint, on_stop, SIGINT);
  uv_signal_start(&app.sigterm, on_stop, SIGTERM);
  uv_signal_start(
      &app.sigchld,
      [](uv_signal_t* h, int) {
        auto* a = static_cast<App*>(h->data);
        int status = 0;
        if (a->embedded->pid() > 0 && a->embedded->HasExited(&status)) {
          // Never half-alive: without its store the gateway cannot serve, so it exits.
          std::string how = WIFSIGNALED(status)
                                ? "was killed by signal " + std::to_string(WTERMSIG(status))
                                : "exited with status " + std::to_string(WEXITSTATUS(status));
          std::fprintf(stderr,
                       "redis-nats-gateway: embedded nats-server exited: it %s; exiting, as "
                       "the gateway cannot serve without it\n",
                       how.c_str());
          a->exit_code = 1;
          Shutdown(a);
        }
      },
      SIGCHLD);
  uv_timer_init(loop, &app.housekeeping);
  app.housekeeping.data = &context;
  // Flushes deferred replies even if a completion batch ended without the after-batch hook.
  uv_timer_start(
      &app.housekeeping,
      [](uv_timer_t* t) {
        auto* context = static_cast<gateway::ServerContext*>(t->data);
        context->FlushScheduled();
        // Idle clients (--timeout) are looked for once a second, as Redis's clientsCron
        // does over its clients.
        static int ticks = 0;
        if (++ticks % 10 == 0) context->CloseIdleClients(std::chrono::steady_clock::now());
        if (context->objects() != nullptr) {
          context->objects()->Tick(static_cast<int64_t>(uv_now(t->loop)));
        }
      },
      100, 100);

  std::string where = config.bind + ":" + std::to_string(server.bound_port());
  if (server.bound_port() == 0) where = config.bind + " (TLS only)";
  std::fprintf(stderr, "redis-nats-gateway listening on %s (bucket %s). Ready to accept "
                       "connections\n", where.c_str(), config.bucket.c_str());
  uv_run(loop, UV_RUN_DEFAULT);

  stop_migration();
  fallback.reset();
  objects.reset();
  read_cache.reset();  // wraps the backend: goes first
  backend.reset();  // stops the manager thread, closes the NATS connection
  uv_run(loop, UV_RUN_NOWAIT);
  uv_loop_close(loop);
  embedded.Stop();
  std::fprintf(stderr, "bye\n");
  return app.exit_code;
}
