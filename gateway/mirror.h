// SPDX-License-Identifier: Apache-2.0
//
// WriteMirror: --mirror-writes redis://old, dual writing during a migration so that going back
// to the old Redis stays possible (issue 10). Every change stored in the bucket, by any gateway
// or native NATS client, is replayed on the old Redis in stream order.
//
// Exactly one gateway forwards. Each gateway started with --mirror-writes competes for a lease:
// an entry `=_mirror.<bucket>` in the config bucket holding {owner, until_ms, seq}. It is taken
// by create-CAS (or CAS on an expired lease's revision), renewed every renew_ms by CAS on the
// holder's own revision, and given up the moment a renewal finds another revision, or when the
// holder has not renewed for lease_ms - renew_ms (NATS unreachable: the lease may already have
// passed to another gateway). `seq` is the last stream sequence the holder had forwarded and
// the old Redis had acknowledged: a new holder continues from there, so a failover forwards a
// few changes twice (harmless: they are whole-value SETs and DELs in order) and loses none.
//
// The holder reads the stream itself, by sequence: it polls the stream's last sequence
// ($JS.API.STREAM.INFO) and fetches the messages after its position with direct gets by exact
// sequence, `window` in flight, then sends them to the old Redis in sequence order, pipelined:
//   put of a string       SET key value            (PXAT deadline when it has one)
//   put of a large value  the same, with the value read through the Object Store layer; if the
//                         key has changed since, it is skipped (a later message carries it)
//   delete/purge marker   DEL key
//   flush marker          FLUSHDB
// Sequences that return 404 were removed (purged, or the history rolled up) and are skipped;
// internal keys, other types and keys that are not Redis keys are skipped and counted, and so
// are the values migrate and --fallback copied from the old Redis (Redis-Event: restore): it
// has them already, and sending them back could only overwrite a newer value there.
//
// Forwarding never blocks a client: it runs beside the commands, on the same loop. An error
// reply from the old Redis is counted (mirror_errors) and the change is skipped; a lost or
// unreachable old Redis is counted too, and forwarding restarts from the last acknowledged
// sequence once it is back.
//
// Thread: the loop thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gateway/alive_guard.h"
#include "gateway/redis_client.h"
#include "kvmap/kv_backend.h"

namespace gateway {

struct MirrorOptions {
  std::string bucket;         // the bucket mirrored (the database the URL names)
  std::string lease_bucket;   // where the lease lives (the config bucket)
  int64_t lease_ms = 5000;
  int64_t renew_ms = 1000;
  int64_t poll_ms = 50;       // how often the holder looks for new messages when caught up
  size_t window = 512;        // direct gets in flight
};

class WriteMirror {
 public:
  struct Stats {
    uint64_t forwarded = 0;   // changes the old Redis acknowledged
    uint64_t errors = 0;      // error replies and connection failures (and fetch failures)
    uint64_t skipped = 0;     // internal keys, other types, changed large values
    uint64_t elections = 0;   // times this gateway took the lease
    uint64_t copies_not_returned = 0;  // values migrate or --fallback copied from it
  };

  // `backend`: the outermost layer below any --fallback (reads large values whole); `streams`:
  // raw JetStream access on the same connection.
  WriteMirror(uv_loop_t* loop, kvmap::KvBackend* backend, kvmap::StreamClient* streams,
              RedisClient* old, MirrorOptions options);
  ~WriteMirror();
  WriteMirror(const WriteMirror&) = delete;
  WriteMirror& operator=(const WriteMirror&) = delete;

  // Reads the stream's last sequence (the starting point if no gateway has mirrored before),
  // then competes for the lease every renew_ms. `ready` runs once that first read is done (or
  // failed), so main can wait for it before taking clients.
  void Start(std::function<void()> ready);

  bool is_leader() const { return is_leader_; }
  const Stats& stats() const { return stats_; }
  // INFO fields (mirror_*).
  std::vector<std::pair<std::string, std::string>> InfoFields() const;

 private:
  struct Item;
  void OnTimer();
  void Campaign();
  void Renew();
  void BecomeLeader(uint64_t lease_revision, uint64_t seq);
  void StepDown(const char* why);
  // The lease entry: this owner, valid for lease_ms from now, forwarded up to `seq`.
  std::string LeaseValue(uint64_t seq) const;
  void PollLastSeq();
  void Fetch();
  void OnFetched(uint64_t generation, uint64_t seq, const kvmap::StreamReply& reply);
  void Send();
  void Rewind(const char* why);

  template <class F>
  auto Guard(F f) {
    return GuardedBy(alive_, std::move(f));
  }

  uv_loop_t* loop_;
  kvmap::KvBackend* backend_;
  kvmap::StreamClient* streams_;
  RedisClient* old_;
  MirrorOptions options_;
  uv_timer_t* timer_ = nullptr;
  std::string owner_;
  std::string lease_key_;
  Stats stats_;
  std::string last_error_;  // why forwarding last rewound (INFO mirror_last_error)

  bool is_leader_ = false;
  bool is_campaigning_ = false;
  bool is_polling_ = false;
  uint64_t lease_revision_ = 0;
  int64_t last_renew_ms_ = 0;     // loop clock of the last successful take or renewal
  int64_t next_campaign_ms_ = 0;
  int64_t next_poll_ms_ = 0;
  int64_t resume_at_ms_ = 0;      // after a failure, forwarding waits until then
  uint64_t start_seq_ = 0;        // stream last sequence at Start (the first holder's origin)
  uint64_t generation_ = 0;       // bumped by every rewind and step-down: stale replies drop
  uint64_t stream_last_ = 0;      // the stream's last sequence, as last polled
  uint64_t acked_ = 0;            // forwarded and acknowledged up to here
  uint64_t sent_ = 0;             // sent to the old Redis up to here
  uint64_t fetched_to_ = 0;       // direct gets issued up to here
  size_t in_flight_ = 0;          // commands sent to the old Redis and not answered yet
  std::map<uint64_t, std::unique_ptr<Item>> items_;  // fetched or in fetch, by sequence
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace gateway
