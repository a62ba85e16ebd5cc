// SPDX-License-Identifier: Apache-2.0
//
// Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH (DESIGN.md decision 7), with Redis
// 7.0.15's replies (src/multi.c).
//
// WATCH reads each key and remembers its revision and whether it was live, expired or absent.
// EXEC reads the watched keys again and aborts (a nil reply) when one changed: another revision
// (a write from this client, another client, another gateway or a native NATS writer), or a key
// live at WATCH time that has expired since. Two changes do not abort, as in Redis: a key
// already expired at WATCH time that the sweeper deleted, and a key that did not exist and still
// does not (FLUSHALL over a key that was not there; the purge of a delete marker).
//
// Then the queued commands run one after another, each through its normal handler, and their
// replies form EXEC's array. The commands see the backend through TxnBackend: every write to a
// watched key is a compare-and-set on the revision EXEC checked (then on the revision the
// transaction's own previous write got), so a writer that slips in between the check and the
// transaction's writes is detected, never overwritten. If that happens before the transaction
// wrote anything, EXEC answers nil exactly as if the check had seen it. nats-server 2.9 has no
// multi-subject batch, so if it happens after some of the transaction's writes landed, those
// stay and EXEC answers an error saying so (docs/design.md, "Transactions", and the seam for
// 2.12's atomic batches).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;
using WatchedKey = Session::WatchedKey;

constexpr std::string_view kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";

// What a Get says about a key, in WatchedKey's terms.
WatchedKey Observe(int db, std::string key, const kvmap::GetResult& r, int64_t now_ms) {
  WatchedKey w;
  w.db = db;
  w.key = std::move(key);
  if (r.status != KvStatus::kOk) return w;  // kNotFound: no message at all
  w.revision = r.entry.revision;
  if (r.entry.is_marker()) return w;
  std::optional<int64_t> deadline = kvmap::ExpiresAt(r.entry);
  if (kvmap::IsLive(r.entry, now_ms)) {
    w.state = WatchedKey::State::kLive;
    w.expires_at_ms = deadline.value_or(0);
  } else {
    w.state = WatchedKey::State::kExpired;
  }
  return w;
}

// True when the change from `then` (WATCH) to `now` (EXEC) aborts the transaction.
bool Aborts(const WatchedKey& then, const WatchedKey& now) {
  using State = WatchedKey::State;
  if (then.revision == now.revision) {
    // Same message: only time can have changed it (isWatchedKeyExpired).
    return then.state == State::kLive && now.state == State::kExpired;
  }
  // An expired key removed by the sweeper (or a flush) is logically unchanged.
  if (then.state == State::kExpired && now.state == State::kAbsent) return false;
  // Absent then and now: unchanged when nothing was written in between (the subject lost its
  // delete marker, or a flush purged it); a different delete marker means the key was created
  // and deleted meanwhile, which Redis would have seen.
  if (then.state == State::kAbsent && now.state == State::kAbsent) return now.revision != 0;
  return true;
}

// Reads every key in `keys` (in their databases) and calls done(ok, observed) with the
// observations in the same order; on a backend failure, replies with it and skips done.
struct Reads {
  std::vector<WatchedKey> observed;
  size_t outstanding = 0;
  bool has_failed = false;
};

void ReadKeys(Call& call, const std::vector<std::pair<int, std::string>>& keys,
              std::function<void(Call&, std::vector<WatchedKey>)> done) {
  auto reads = std::make_shared<Reads>();
  reads->observed.resize(keys.size());
  reads->outstanding = keys.size();
  if (keys.empty()) {
    done(call, {});
    return;
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [db, key] = keys[i];
    call.backend().Get(
        call.server().BucketFor(db), kvmap::EncodeKey(key),
        // db = db, key = key: clang 14 cannot capture structured bindings by name.
        call.Bind<kvmap::GetResult>([reads, i, db = db, key = key, done](Call& c,
                                                                         kvmap::GetResult r) {
          if (reads->has_failed) return;
          if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
            reads->has_failed = true;
            c.ReplyKvError(r.status, r.detail);
            return;
          }
          reads->observed[i] = Observe(db, key, r, kvmap::NowUnixMs());
          if (--reads->outstanding == 0) done(c, std::move(reads->observed));
        }));
  }
}

// The backend as the commands inside EXEC see it: writes to watched keys are compare-and-set on
// the revision the transaction expects. After a conflict every further operation fails at once,
// so a command's retry loop (read-modify-write) stops instead of retrying for seconds.
class TxnBackend : public kvmap::KvBackend {
 public:
  TxnBackend(kvmap::KvBackend* base, kvmap::Executor* executor)
      : base_(base), executor_(executor), state_(std::make_shared<State>()) {}

  // The revision a watched key must still have: (bucket, encoded key) -> revision (0: none).
  void Expect(const std::string& bucket, std::string key, uint64_t revision) {
    state_->expected[{bucket, std::move(key)}] = revision;
  }
  bool has_conflict() const { return state_->has_conflict; }
  size_t applied_writes() const { return state_->applied_writes; }

  void Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override {
    if (state_->has_conflict) {
      kvmap::GetResult r;
      r.status = KvStatus::kUnavailable;
      r.detail = "transaction aborted";
      executor_->Post([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
      return;
    }
    base_->Get(bucket, key, std::move(cb));
  }

  void Write(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) override {
    if (state_->has_conflict) {
      Fail(std::move(cb), KvStatus::kUnavailable);
      return;
    }
    // Completions hold the state, not this object: a command that replied early (a fan-out
    // after its first failure) can still have writes in flight when EXEC is gone.
    std::shared_ptr<State> state = state_;
    auto it = state->expected.find({std::string(request.bucket), std::string(request.key)});
    if (it == state->expected.end()) {
      base_->Write(request, [state, cb = std::move(cb)](kvmap::WriteResult r) {
        if (r.status == KvStatus::kOk) ++state->applied_writes;
        cb(std::move(r));
      });
      return;
    }
    // A read-modify-write read the key and found another revision than the transaction
    // expects: someone wrote it after EXEC's check.
    if (request.expected_revision && *request.expected_revision != it->second) {
      state->has_conflict = true;
      Fail(std::move(cb), KvStatus::kRevisionMismatch);
      return;
    }
    kvmap::WriteRequest guarded = request;
    guarded.expected_revision = it->second;
    auto key = it->first;
    base_->Write(guarded, [state, key, cb = std::move(cb)](kvmap::WriteResult r) {
      if (r.status == KvStatus::kOk) {
        ++state->applied_writes;
        state->expected[key] = r.revision;  // the transaction's next write to it follows this
      } else if (r.status == KvStatus::kRevisionMismatch) {
        state->has_conflict = true;
      }
      cb(std::move(r));
    });
  }

  void EnsureBucket(const std::string& bucket, kvmap::BucketCallback cb) override {
    base_->EnsureBucket(bucket, std::move(cb));
  }
  bool IsBucketReady(const std::string& bucket) const override {
    return base_->IsBucketReady(bucket);
  }
  void PurgeBucket(const std::string& bucket, kvmap::BucketCallback cb) override {
    base_->PurgeBucket(bucket, std::move(cb));
  }
  const kvmap::KeyspaceIndex* Keyspace(const std::string& bucket) override {
    return base_->Keyspace(bucket);
  }
  void WhenSynced(const std::string& bucket, std::function<void(KvStatus)> cb) override {
    base_->WhenSynced(bucket, std::move(cb));
  }
  bool is_connected() const override { return base_->is_connected(); }
  size_t max_key_length() const override { return base_->max_key_length(); }
  kvmap::MessageBus* bus() override { return base_->bus(); }
  kvmap::StreamClient* streams() override { return base_->streams(); }
  bool ForEachObjectRef(
      const std::string& bucket,
      const std::function<void(std::string_view key, std::string_view nuid)>& fn) override {
    return base_->ForEachObjectRef(bucket, fn);
  }
  void GetPointer(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override {
    if (state_->has_conflict) {
      Get(bucket, key, std::move(cb));  // fails at once
      return;
    }
    base_->GetPointer(bucket, key, std::move(cb));
  }

 private:
  struct State {
    std::map<std::pair<std::string, std::string>, uint64_t> expected;
    bool has_conflict = false;
    size_t applied_writes = 0;
  };

  void Fail(kvmap::WriteCallback cb, KvStatus status) {
    kvmap::WriteResult r;
    r.status = status;
    r.detail = "transaction aborted: a watched key changed during EXEC";
    executor_->Post([cb = std::move(cb), r = std::move(r)]() mutable { cb(std::move(r)); });
  }

  kvmap::KvBackend* base_;
  kvmap::Executor* executor_;
  std::shared_ptr<State> state_;
};

// The transaction EXEC is running: the queued requests and the next one to run.
struct Running {
  std::vector<Session::QueuedCommand> requests;
  size_t next = 0;
  std::shared_ptr<Call> current;
  std::unique_ptr<TxnBackend> backend;
};

// EXEC's reply once the commands are done, or once one of them met a conflict.
void FinishExec(Call& exec, const std::shared_ptr<Running>& run) {
  run->current.reset();
  if (run->backend->has_conflict()) {
    exec.reply_bytes().clear();
    if (run->backend->applied_writes() == 0) {
      exec.reply().NullArray();  // nothing landed: exactly a WATCH abort
      exec.Finish();
      return;
    }
    exec.ReplyError("ERR EXEC partially applied: a watched key changed while the transaction "
                    "ran, after " + std::to_string(run->backend->applied_writes()) +
                    " of its writes had been stored");
    return;
  }
  exec.Finish();
}

// Runs the next queued command as a child call; its reply is appended to EXEC's when it
// finishes, then the one after it runs.
void RunNext(Call& exec, const std::shared_ptr<Running>& run) {
  while (run->next < run->requests.size() && !run->backend->has_conflict()) {
    Session::QueuedCommand queued = std::move(run->requests[run->next++]);
    Session& session = exec.session();
    const CommandSpec* spec = queued.spec;
    auto child = std::make_shared<Call>(&session, spec, std::move(queued.request), session.db(),
                                        session.protocol());
    child->set_backend_override(run->backend.get());
    child->set_state(Call::State::kRunning);
    child->MarkStarted(std::chrono::steady_clock::now());
    ++exec.server().stats().total_commands_processed;
    run->current = child;
    // 0: the handler is running; 1: the child finished inside it; 2: the handler returned
    // first, so a backend completion finishes the child and continues the chain.
    auto phase = std::make_shared<int>(0);
    // Weak on both: EXEC owns the run (Call::owned_state), the run owns the child, and the
    // child owns this closure. When the client goes, all three go, and late completions of the
    // child are dropped by its Bind.
    child->on_finish = [weak = std::weak_ptr<Call>(exec.shared_from_this()),
                        weak_run = std::weak_ptr<Running>(run), raw = child.get(), phase]() {
      std::shared_ptr<Call> self = weak.lock();
      std::shared_ptr<Running> run = weak_run.lock();
      if (!self || !run || self->is_finished()) return;
      self->reply().Raw(raw->reply_bytes());
      if (*phase == 0) {
        *phase = 1;  // the loop in RunNext goes on: no recursion
        return;
      }
      RunNext(*self, run);
    };
    spec->handler(*child);
    if (*phase != 1) {
      *phase = 2;
      return;
    }
  }
  FinishExec(exec, run);
}

}  // namespace

void CmdMulti(Call& call) {
  if (call.session().in_multi()) {
    call.ReplyError("ERR MULTI calls can not be nested");
    return;
  }
  call.session().BeginMulti();
  call.ReplyOk();
}

void CmdDiscard(Call& call) {
  if (!call.session().in_multi()) {
    call.ReplyError("ERR DISCARD without MULTI");
    return;
  }
  call.session().DiscardTransaction();
  call.ReplyOk();
}

void CmdUnwatch(Call& call) {
  call.session().watched_keys().clear();
  call.ReplyOk();
}

void CmdWatch(Call& call) {
  if (call.session().in_multi()) {
    call.ReplyError("ERR WATCH inside MULTI is not allowed");
    return;
  }
  std::vector<std::pair<int, std::string>> keys;
  for (size_t i = 1; i < call.argc(); ++i) keys.emplace_back(call.db(), std::string(call.arg(i)));
  call.server().RunWithBucket(call, [keys = std::move(keys)](Call& c) {
    ReadKeys(c, keys, [](Call& c2, std::vector<WatchedKey> observed) {
      auto& watched = c2.session().watched_keys();
      for (WatchedKey& w : observed) {
        // Watching a key twice keeps the first observation (Redis ignores the second WATCH).
        bool is_known = false;
        for (const WatchedKey& have : watched) {
          if (have.db == w.db && have.key == w.key) is_known = true;
        }
        if (!is_known) watched.push_back(std::move(w));
      }
      c2.ReplyOk();
    });
  });
}

void CmdExec(Call& call) {
  Session& session = call.session();
  if (!session.in_multi()) {
    call.ReplyError("ERR EXEC without MULTI");
    return;
  }
  if (session.is_multi_dirty()) {
    session.DiscardTransaction();
    call.ReplyError(kExecAbort);
    return;
  }
  std::vector<WatchedKey> then = session.watched_keys();
  auto run = std::make_shared<Running>();
  run->requests = session.TakeQueuedCommands();
  // The transaction is over for the session from here: commands after EXEC are not queued.
  session.DiscardTransaction();
  std::vector<std::pair<int, std::string>> keys;
  for (const WatchedKey& w : then) keys.emplace_back(w.db, w.key);
  ReadKeys(call, keys, [then = std::move(then), run](Call& c, std::vector<WatchedKey> now) {
    for (size_t i = 0; i < now.size(); ++i) {
      if (Aborts(then[i], now[i])) {
        c.reply().NullArray();
        c.Finish();
        return;
      }
    }
    run->backend = std::make_unique<TxnBackend>(&c.server().backend(), c.server().executor());
    c.owned_state = run;
    for (const WatchedKey& w : now) {
      run->backend->Expect(c.server().BucketFor(w.db), kvmap::EncodeKey(w.key), w.revision);
    }
    c.reply().ArrayHeader(run->requests.size());
    RunNext(c, run);
  });
}

}  // namespace gateway
