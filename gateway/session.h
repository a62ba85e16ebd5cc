// SPDX-License-Identifier: Apache-2.0
//
// Session is one client connection's protocol state, independent of the transport: it parses
// requests, dispatches them through the command table, keeps their replies in arrival order,
// and decides when reading must pause. TcpConnection (server.cc) feeds it bytes from libuv;
// unit tests feed it directly through a fake Transport.
//
// Each request becomes a Call, appended to the session's queue at arrival, so the reply order
// is fixed before any asynchronous work starts. A call starts at once unless an earlier,
// unfinished call of the same session touches one of its keys in a conflicting way (a read
// after a write, a write after a read or a read-modify-write; two blind writes do not
// conflict) or either call is a barrier. Finished calls at the front of the queue are moved
// to the output, in order.
//
// Backend completions hold a weak reference to their Call: when the session closes, its calls
// are destroyed and late completions are dropped.
//
// Thread: the loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/acl.h"
#include "gateway/command_table.h"
#include "kvmap/kv_backend.h"
#include "resp/reply_writer.h"
#include "resp/request_parser.h"

namespace gateway {

class ServerContext;
class Session;

// What a session needs from its connection.
class Transport {
 public:
  virtual ~Transport() = default;
  // Takes ownership of bytes to send; they go out in order.
  virtual void Send(std::string&& bytes) = 0;
  // Sends a copy of what is not written at once (the caller keeps its buffer for reuse).
  virtual void SendBytes(std::string_view bytes) { Send(std::string(bytes)); }
  virtual void PauseReading() = 0;
  virtual void ResumeReading() = 0;
  // Closes after everything sent so far has been written.
  virtual void CloseAfterSend() = 0;
  // Closes now, dropping unsent output (a client over its output buffer limit, which may never
  // read it).
  virtual void CloseNow() { CloseAfterSend(); }
  // Bytes accepted by Send() and not yet written to the socket.
  virtual size_t unsent_bytes() const = 0;
};

// One request in flight: its arguments, its reply slot, and its place in the key ordering.
class Call : public std::enable_shared_from_this<Call> {
 public:
  enum class State : uint8_t { kWaiting, kRunning, kDone };

  Call(Session* session, const CommandSpec* spec, resp::Request request, int db,
       resp::Protocol protocol);

  size_t argc() const { return request_.argc(); }
  // Valid while the call lives.
  std::string_view arg(size_t i) const { return request_.arg(i); }
  const resp::Request& request() const { return request_; }
  const CommandSpec& spec() const { return *spec_; }
  int db() const { return db_; }
  Session& session() { return *session_; }
  ServerContext& server();
  // The server's backend, or the transaction's view of it for a command inside EXEC.
  kvmap::KvBackend& backend();
  void set_backend_override(kvmap::KvBackend* backend) { backend_override_ = backend; }
  // Bucket of this call's database.
  const std::string& bucket();

  // The writer for this call's reply. Write the whole reply, then call Finish().
  resp::ReplyWriter& reply() { return writer_; }
  void Finish();
  bool is_finished() const { return state_ == State::kDone; }
  // Reply helpers that also finish the call.
  void ReplyOk();
  void ReplyError(std::string_view message);
  // The single place a backend status becomes a reply.
  void ReplyKvError(kvmap::KvStatus status, std::string_view detail);

  // Wraps a completion so it runs only while this call is alive and unfinished. The callback
  // receives the call and the result.
  template <class... Args, class F>
  std::function<void(Args...)> Bind(F f) {
    return [weak = weak_from_this(), f = std::move(f)](Args... args) mutable {
      std::shared_ptr<Call> self = weak.lock();
      if (self && !self->is_finished()) f(*self, std::move(args)...);
    };
  }

  // Scratch space for handlers that fan out (DEL, EXISTS, MGET).
  int64_t accumulator = 0;
  size_t outstanding = 0;
  bool has_failed = false;
  // Runs after Finish(), for a call that another call runs (a command inside EXEC).
  std::function<void()> on_finish;
  // State that lives exactly as long as this call (EXEC's running transaction and its
  // commands: when the client goes, they go with it).
  std::shared_ptr<void> owned_state;

  // --- used by Session ---
  State state() const { return state_; }
  void set_state(State s) { state_ = s; }
  KeyAccess access() const { return access_; }
  void set_access(KeyAccess a) { access_ = a; }
  bool is_barrier() const { return is_barrier_; }
  void set_barrier(bool b) { is_barrier_ = b; }
  const std::vector<std::string_view>& keys() const { return keys_; }
  std::vector<std::string_view>& mutable_keys() { return keys_; }
  std::string& reply_bytes() { return reply_bytes_; }
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  void MarkStarted(std::chrono::steady_clock::time_point now) { started_at_ = now; }
  bool is_error_reply() const { return !reply_bytes_.empty() && reply_bytes_[0] == '-'; }
  bool is_keyed() const { return is_keyed_; }
  void set_keyed(bool k) { is_keyed_ = k; }
  bool has_spec() const { return spec_ != nullptr; }
  // A pushed pub/sub message queued behind earlier replies (no request, already done).
  bool is_push() const { return is_push_; }
  void set_push(bool v) { is_push_ = v; }
  // CLIENT REPLY OFF/SKIP: the reply is computed but not sent.
  bool is_silent() const { return is_silent_; }
  void set_silent(bool v) { is_silent_ = v; }

  // --- streamed replies (a large GET reads its value chunk by chunk: gateway/object_store.h)
  // Lets bytes the handler appends to reply_bytes() before Finish() go out as soon as every
  // earlier reply has, instead of all at the end. Not for a call another call runs (inside
  // EXEC): its reply is collected whole.
  bool CanStream() const { return !on_finish; }
  void BeginStreaming() { is_streaming_ = true; }
  bool is_streaming() const { return is_streaming_; }
  // Has the bytes appended so far sent when this call is at the front of the queue.
  void StreamFlush();
  // Bytes of this reply not yet written to the socket: what it holds, plus the connection's
  // unsent output once it is at the front.
  size_t StreamBacklog() const;
  // Runs `fn` once, when this call is at the front and its backlog has drained below the
  // session's low watermark (the streaming handler resumes reading then).
  void WhenDrained(std::function<void()> fn) { on_drained_ = std::move(fn); }
  std::function<void()> TakeDrained() { return std::move(on_drained_); }
  bool has_drained_waiter() const { return static_cast<bool>(on_drained_); }
  // Bytes of this reply already handed to the connection (an error after that cannot be a
  // reply any more: the connection must close).
  size_t streamed_bytes() const { return streamed_bytes_; }
  void add_streamed_bytes(size_t n) { streamed_bytes_ += n; }

 private:
  Session* session_;
  kvmap::KvBackend* backend_override_ = nullptr;
  const CommandSpec* spec_;
  resp::Request request_;
  int db_;
  State state_ = State::kWaiting;
  KeyAccess access_ = KeyAccess::kNone;
  bool is_barrier_ = false;
  bool is_keyed_ = false;
  bool is_push_ = false;
  bool is_silent_ = false;
  bool is_streaming_ = false;
  size_t streamed_bytes_ = 0;
  std::function<void()> on_drained_;
  std::vector<std::string_view> keys_;  // views into request_
  std::string reply_bytes_;
  resp::ReplyWriter writer_;
  std::chrono::steady_clock::time_point started_at_;
};

// Limits of one session (backpressure, STYLE.md request path step 7).
struct SessionLimits {
  size_t max_queued_calls = 1024;          // stop parsing above this many calls in the queue
  size_t output_high_watermark = 1 << 20;  // pause reading above this many unsent bytes
  size_t output_low_watermark = 256 << 10; // resume below this
  size_t output_hard_limit = 64 << 20;     // close the client above this
};

class Session {
 public:
  Session(ServerContext* server, Transport* transport, uint64_t id, std::string peer_addr,
          std::string local_addr, SessionLimits limits = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Input. PrepareInput returns writable space of at least `size_hint` bytes; CommitInput(n)
  // processes the n bytes written there. The space must be filled and committed (or dropped)
  // before any other session's PrepareInput: when this session holds no unparsed input, it is
  // a buffer shared by every session of the thread, so an idle connection holds no input
  // buffer at all (as Redis's reusable query buffer). Requests are parsed straight from it;
  // only what the limits leave unparsed is copied into the session's own buffer.
  std::pair<char*, size_t> PrepareInput(size_t size_hint);
  void CommitInput(size_t n);
  // Convenience for tests: copies and processes.
  void Feed(std::string_view bytes);

  // Moves finished replies at the front of the queue to the transport. Also re-evaluates
  // backpressure. Called after a batch of input or completions.
  void Flush();
  // Called by the transport when its unsent bytes dropped (write callback).
  void OnOutputDrained();

  // Called by a Call when it finishes.
  void OnCallFinished(Call* call);
  // A streaming call appended reply bytes: flush with the batch (or now, inside a flush).
  void RequestFlush();
  // True when `call` is at the front of the queue (its bytes go out next).
  bool IsFront(const Call* call) const { return !queue_.empty() && queue_.front().get() == call; }
  // Bytes handed to the transport and not yet written.
  size_t unsent_bytes() const { return transport_->unsent_bytes(); }
  const SessionLimits& limits() const { return limits_; }

  // Closes: drops every call (late completions are ignored), stops parsing.
  void Close();
  bool is_closing() const { return is_closing_; }
  // Closes this session and its connection now, dropping pending output (another client's
  // command did it: ACL DELUSER, the idle timeout).
  void CloseSoon();

  // --- connection state used by commands ---
  uint64_t id() const { return id_; }
  int db() const { return db_; }
  void set_db(int db) { db_ = db; }
  resp::Protocol protocol() const { return protocol_; }
  void set_protocol(resp::Protocol p) { protocol_ = p; }
  bool is_authenticated() const { return is_authenticated_; }
  void set_authenticated(bool v);
  // The ACL user of the connection ("default" until AUTH), never null.
  const std::shared_ptr<AclUser>& user() const { return user_; }
  // One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
  std::string ClientInfoLine();
  // AUTH/HELLO AUTH succeeded as `user`.
  void AuthenticateAs(std::shared_ptr<AclUser> user);
  // Back to the default user, authenticated only when it needs no password (new connection,
  // RESET).
  void ResetUser();
  // Re-reads the configuration that shapes parsing (proto-max-bulk-len) after CONFIG SET.
  void ApplyConfig();
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  std::string lib_name, lib_ver;
  const std::string& peer_addr() const { return peer_addr_; }
  const std::string& local_addr() const { return local_addr_; }
  std::chrono::steady_clock::time_point created_at() const { return created_at_; }
  std::chrono::steady_clock::time_point last_active() const { return last_active_; }
  std::string_view last_command() const { return last_command_; }
  size_t queued_calls() const { return queue_.size(); }
  size_t input_buffer_bytes() const { return input_end_ - input_pos_; }
  // After the current reply is sent, close (QUIT).
  void CloseAfterReply() { is_close_after_reply_ = true; }
  ServerContext& server() { return *server_; }
  // Set while the session is on the server's list of sessions to flush after this batch.
  bool is_flush_scheduled = false;
  // CLIENT REPLY: OFF silences every later reply, SKIP only the next command's.
  enum class ReplyMode : uint8_t { kOn, kOff, kSkip };
  void set_reply_mode(ReplyMode mode);

  // --- transactions (MULTI/EXEC/WATCH; commands/multi_commands.cc) ---
  // A key as WATCH saw it: its revision (0: no message) and whether it was live, expired (a
  // value past its deadline, not yet deleted) or absent then.
  struct WatchedKey {
    int db = 0;
    std::string key;  // the Redis key
    uint64_t revision = 0;
    enum class State : uint8_t { kAbsent, kLive, kExpired } state = State::kAbsent;
    int64_t expires_at_ms = 0;  // kLive with a deadline
  };
  bool in_multi() const { return in_multi_; }
  void BeginMulti() { in_multi_ = true; is_multi_dirty_ = false; }
  // Leaves MULTI and forgets the queued commands and the watched keys.
  void DiscardTransaction();
  bool is_multi_dirty() const { return is_multi_dirty_; }
  // A command MULTI queued, with the spec found when it was queued.
  struct QueuedCommand {
    const CommandSpec* spec;
    resp::Request request;
  };
  std::vector<QueuedCommand> TakeQueuedCommands();
  std::vector<WatchedKey>& watched_keys() { return watched_; }

  // --- pub/sub (PubSub keeps these sets; DESIGN.md decision 8) ---
  std::set<std::string, std::less<>>& subscribed_channels() { return channels_; }
  std::set<std::string, std::less<>>& subscribed_patterns() { return patterns_; }
  size_t subscription_count() const { return channels_.size() + patterns_.size(); }
  // Queues a message pushed to this client (already encoded for its protocol) behind every
  // reply queued before it, and applies the pubsub output buffer limit.
  void DeliverPush(std::string_view bytes);
  // Output waiting for this client: unsent bytes plus pushes still queued.
  size_t pending_output_bytes() const {
    return transport_->unsent_bytes() + queued_push_bytes_ + out_.size();
  }

 private:
  // Closes the client when its output is over the limit of its class (Redis's
  // client-output-buffer-limit); true when it did.
  bool EnforceOutputLimit();
  // Whether CLIENT REPLY silences the reply of the command being dispatched now (OFF, or the
  // one command after SKIP); consumes a SKIP.
  bool TakeReplySilence();
  // Ends a delivery: applies the output limit, then has the output written with the batch.
  void AfterPush();
  // True while the limits allow parsing another request (queue, output, closing).
  bool MayParse() const;
  // Acts on one parse result: dispatches a complete request, or queues the protocol error.
  // False when parsing stops here.
  bool HandleParsed(const resp::ParseResult& r);
  // Parses and dispatches buffered requests while the limits allow.
  void ParseAvailable();
  void Dispatch(resp::Request request);
  // Moves finished replies at the front of the queue into *out.
  void CollectReplies(std::string* out);
  void CountError(std::string_view reply);
  // Appends an already-finished call carrying `error` (arity, auth, unknown command).
  void RejectWith(resp::Request request, std::string_view error, bool is_protocol_error);
  bool CanStart(size_t index) const;
  void StartReadyCalls();
  // Runs a call's handler; `now` is its start time (for the command statistics).
  void Run(Call* call, std::chrono::steady_clock::time_point now);
  void UpdateReadState();

  ServerContext* server_;
  Transport* transport_;
  SessionLimits limits_;
  uint64_t id_;
  std::string peer_addr_, local_addr_;
  resp::RequestParser parser_;
  // Input bytes kept between reads live in input_[input_pos_, input_end_); the rest is spare
  // capacity, released once empty if it grew past kKeptInputCapacity.
  std::vector<char> input_;
  size_t input_pos_ = 0;
  size_t input_end_ = 0;
  bool is_reading_shared_ = false;  // the last PrepareInput handed out the shared buffer
  // When the bytes being parsed were read (one clock read per read, not per command).
  std::chrono::steady_clock::time_point read_time_;
  std::deque<std::shared_ptr<Call>> queue_;
  size_t unfinished_keyed_ = 0;  // calls in queue_ with keys or barrier, not done
  int db_ = 0;
  resp::Protocol protocol_ = resp::Protocol::kResp2;
  bool is_authenticated_ = false;
  std::shared_ptr<AclUser> user_;
  bool is_closing_ = false;
  bool is_close_after_reply_ = false;
  bool is_reading_paused_ = false;
  bool is_in_flush_ = false;
  bool needs_another_pass_ = false;
  bool needs_start_scan_ = false;
  std::string name_;
  std::string last_command_;
  std::set<std::string, std::less<>> channels_, patterns_;
  bool in_multi_ = false;
  bool is_multi_dirty_ = false;  // a command was refused while queuing: EXEC aborts
  std::vector<QueuedCommand> multi_queue_;
  std::vector<WatchedKey> watched_;
  size_t queued_push_bytes_ = 0;
  // Output of the current flush, and pushes that arrived with nothing queued; reused (its
  // capacity kept, up to a bound) so a busy subscriber does not allocate per batch.
  std::string out_;
  Call* running_call_ = nullptr;  // the call whose handler is executing right now
  bool are_replies_off_ = false;
  bool is_next_reply_skipped_ = false;
  // When pending output first went above the soft limit (unset while below it).
  std::optional<std::chrono::steady_clock::time_point> soft_limit_since_;
  std::chrono::steady_clock::time_point created_at_, last_active_;
};

}  // namespace gateway
