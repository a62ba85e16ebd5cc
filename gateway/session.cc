// SPDX-License-Identifier: Apache-2.0
#include "gateway/session.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "gateway/errors.h"
#include "gateway/object_store.h"
#include "gateway/server_context.h"

namespace gateway {
namespace {

// A write carrying a value for the Object Store. Its KV entry is written only after the
// chunks, so a later write of the connection could become visible first; such a write is a
// barrier instead (DESIGN.md decision 1: effects become visible in the order they were sent).
bool IsLargeWrite(const CommandSpec& spec, const Call& call) {
  if (!spec.flags.has(CommandFlag::kWrite)) return false;
  ObjectLayer* objects = const_cast<Call&>(call).server().objects();
  if (objects == nullptr) return false;
  size_t limit = objects->threshold();
  if (limit == 0) return false;
  for (size_t i = 1; i < call.argc(); ++i) {
    if (call.arg(i).size() > limit) return true;
  }
  return false;
}

// True when two accesses of the same key by calls A (earlier) and B (later) must not overlap.
bool Conflicts(KeyAccess a, KeyAccess b) {
  if (a == KeyAccess::kRead && b == KeyAccess::kRead) return false;
  if (a == KeyAccess::kBlindWrite && b == KeyAccess::kBlindWrite) return false;
  return true;
}

// "ERR ..." -> "ERR"; used for errorstats.
std::string_view ErrorCode(std::string_view reply) {
  // reply starts with '-' and ends with CRLF
  std::string_view body = reply.substr(1);
  size_t end = body.find_first_of(" \r");
  return body.substr(0, end);
}

bool IsAllowedWhileSubscribed(std::string_view name) {
  static constexpr std::string_view kAllowed[] = {
      "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe",
      "sunsubscribe", "ping", "quit", "reset"};
  for (std::string_view allowed : kAllowed) {
    if (name == allowed) return true;
  }
  return false;
}

// A flush buffer larger than this is released after use rather than kept for the next one.
constexpr size_t kMaxKeptOutputCapacity = 64 * 1024;

// Commands that run at once inside MULTI instead of being queued (Redis 7.0 processCommand).
bool IsTransactionControl(std::string_view name) {
  return name == "exec" || name == "discard" || name == "multi" || name == "watch" ||
         name == "quit" || name == "reset";
}

bool IsSubscriptionCommand(std::string_view name) {
  return name == "subscribe" || name == "psubscribe" || name == "unsubscribe" ||
         name == "punsubscribe";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Call

Call::Call(Session* session, const CommandSpec* spec, resp::Request request, int db,
           resp::Protocol protocol)
    : session_(session),
      spec_(spec),
      request_(std::move(request)),
      db_(db),
      writer_(&reply_bytes_, protocol) {}

ServerContext& Call::server() { return session_->server(); }
kvmap::KvBackend& Call::backend() {
  return backend_override_ != nullptr ? *backend_override_ : server().backend();
}
const std::string& Call::bucket() { return server().BucketFor(db_); }

void Call::Finish() {
  if (state_ == State::kDone) return;
  state_ = State::kDone;
  session_->OnCallFinished(this);
  if (on_finish) {
    auto next = std::move(on_finish);
    on_finish = nullptr;
    next();
  }
}

void Call::StreamFlush() {
  if (session_->IsFront(this)) session_->RequestFlush();
}

size_t Call::StreamBacklog() const {
  return reply_bytes_.size() + (session_->IsFront(this) ? session_->unsent_bytes() : 0);
}

void Call::ReplyOk() {
  writer_.Ok();
  Finish();
}

void Call::ReplyError(std::string_view message) {
  writer_.Error(message);
  Finish();
}

void Call::ReplyKvError(kvmap::KvStatus status, std::string_view detail) {
  using kvmap::KvStatus;
  std::string text;
  switch (status) {
    case KvStatus::kUnavailable:
      text = errors::kBackendUnavailable;
      break;
    case KvStatus::kTimeout:
      text = errors::kBackendTimeout;
      break;
    case KvStatus::kOutcomeUnknown:
      text = errors::kBackendOutcomeUnknown;
      break;
    case KvStatus::kInvalidKey:
      text = errors::kBackendKeyTooLong;
      break;
    case KvStatus::kTooLarge:
      text = errors::kBackendTooLarge;
      break;
    case KvStatus::kRevisionMismatch:
      text = errors::kBackendContention;
      break;
    default:
      text = errors::kBackendInternal;
      if (!detail.empty()) {
        text += ": ";
        text += detail;
      }
      break;
  }
  ReplyError(text);
}

// ---------------------------------------------------------------------------------------------
// Session

Session::Session(ServerContext* server, Transport* transport, uint64_t id, std::string peer_addr,
                 std::string local_addr, SessionLimits limits)
    : server_(server),
      transport_(transport),
      limits_(limits),
      id_(id),
      peer_addr_(std::move(peer_addr)),
      local_addr_(std::move(local_addr)),
      created_at_(std::chrono::steady_clock::now()),
      last_active_(created_at_) {
  resp::ParserLimits parser_limits;
  parser_limits.max_bulk_len = static_cast<size_t>(server_->config().proto_max_bulk_len);
  parser_.set_limits(parser_limits);
  ResetUser();
  server_->AddSession(this);
}

Session::~Session() {
  Close();
  server_->RemoveSession(this);
}

void Session::ApplyConfig() {
  resp::ParserLimits limits = parser_.limits();
  limits.max_bulk_len = static_cast<size_t>(server_->config().proto_max_bulk_len);
  parser_.set_limits(limits);
}

namespace {
int64_t SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - t)
      .count();
}
}  // namespace

// One line of CLIENT LIST / CLIENT INFO, in Redis 7.0's field order.
std::string Session::ClientInfoLine() {
  Session& s = *this;
  std::string line;
  line.reserve(256);
  line += "id=" + std::to_string(s.id());
  line += " addr=" + s.peer_addr();
  line += " laddr=" + s.local_addr();
  line += " fd=-1 name=" + s.name();
  line += " age=" + std::to_string(SecondsSince(s.created_at()));
  line += " idle=" + std::to_string(SecondsSince(s.last_active()));
  line += s.subscription_count() > 0 ? " flags=P" : " flags=N";
  line += " db=" + std::to_string(s.db());
  line += " sub=" + std::to_string(s.subscribed_channels().size());
  line += " psub=" + std::to_string(s.subscribed_patterns().size());
  line += " ssub=0 multi=-1";
  line += " qbuf=" + std::to_string(s.input_buffer_bytes());
  line += " qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0";
  line += " oll=" + std::to_string(s.queued_calls());
  line += " omem=" + std::to_string(s.pending_output_bytes());
  line += " tot-mem=0 events=r cmd=";
  line += s.last_command().empty() ? std::string("NULL") : std::string(s.last_command());
  line += " user=" + user_->name() + " redir=-1";
  line += " resp=" + std::to_string(static_cast<int>(s.protocol()));
  line += " lib-name=" + s.lib_name + " lib-ver=" + s.lib_ver;
  return line;
}

void Session::AuthenticateAs(std::shared_ptr<AclUser> user) {
  user_ = std::move(user);
  set_authenticated(true);
}

void Session::ResetUser() {
  user_ = server_->acl().default_user();
  set_authenticated(user_->enabled() && user_->nopass());
}

void Session::set_authenticated(bool v) {
  is_authenticated_ = v;
  resp::ParserLimits limits = parser_.limits();
  limits.is_unauthenticated = !v;
  parser_.set_limits(limits);
}

namespace {
// Input capacity a session keeps once its input is consumed; more is released.
constexpr size_t kKeptInputCapacity = 16 * 1024;

// The read buffer shared by the sessions of this thread (see PrepareInput).
std::vector<char>& SharedInput(size_t size) {
  thread_local std::vector<char> buffer;
  if (buffer.size() < size) buffer.resize(size);
  return buffer;
}
}  // namespace

std::pair<char*, size_t> Session::PrepareInput(size_t size_hint) {
  is_reading_shared_ = false;
  if (input_pos_ == input_end_) {
    input_pos_ = input_end_ = 0;
    if (input_.capacity() > kKeptInputCapacity) std::vector<char>().swap(input_);
    std::vector<char>& shared = SharedInput(size_hint);
    is_reading_shared_ = true;
    return {shared.data(), shared.size()};
  } else if (input_pos_ > 0 && input_.size() - input_end_ < size_hint) {
    // Move the unparsed tail to the front before growing.
    std::copy(input_.begin() + input_pos_, input_.begin() + input_end_, input_.begin());
    input_end_ -= input_pos_;
    input_pos_ = 0;
  }
  if (input_.size() - input_end_ < size_hint) input_.resize(input_end_ + size_hint);
  return {input_.data() + input_end_, input_.size() - input_end_};
}

void Session::CommitInput(size_t n) {
  server_->stats().total_net_input_bytes += n;
  // One clock read per read: the commands in it start at this time (Run) and mark the
  // connection active.
  read_time_ = std::chrono::steady_clock::now();
  if (is_reading_shared_) {
    is_reading_shared_ = false;
    std::string_view bytes(SharedInput(0).data(), n);
    // Nothing was buffered before these bytes, so they are parsed where they are; what the
    // limits leave unparsed is kept for later. Flushes asked for meanwhile wait for the one
    // below (as while Flush parses).
    const bool was_in_flush = is_in_flush_;
    is_in_flush_ = true;
    while (!bytes.empty() && MayParse()) {
      resp::ParseResult r = parser_.Feed(bytes);
      bytes.remove_prefix(r.consumed);
      if (!HandleParsed(r)) break;
    }
    is_in_flush_ = was_in_flush;
    if (!bytes.empty()) {
      input_.assign(bytes.begin(), bytes.end());
      input_pos_ = 0;
      input_end_ = bytes.size();
    }
  } else {
    input_end_ += n;
  }
  // client-query-buffer-limit: unparsed input plus the request being assembled (Redis counts
  // its query buffer and the arguments read so far).
  size_t buffered = input_buffer_bytes() + parser_.buffered_bytes();
  if (buffered > static_cast<size_t>(server_->config().query_buffer_limit)) {
    std::fprintf(stderr, "closing client id=%llu addr=%s that reached the max query buffer "
                         "length (%zu bytes)\n",
                 static_cast<unsigned long long>(id_), peer_addr_.c_str(), buffered);
    CloseSoon();
    return;
  }
  Flush();
}

void Session::Feed(std::string_view bytes) {
  auto [buf, len] = PrepareInput(bytes.size());
  std::copy(bytes.begin(), bytes.end(), buf);
  CommitInput(bytes.size());
}

bool Session::MayParse() const {
  return !is_closing_ && !is_close_after_reply_ && queue_.size() < limits_.max_queued_calls &&
         transport_->unsent_bytes() < limits_.output_high_watermark;
}

bool Session::HandleParsed(const resp::ParseResult& r) {
  if (r.status == resp::ParseStatus::kNeedMore) return false;
  if (r.status == resp::ParseStatus::kError) {
    // As Redis: reply with the protocol error, then close once it is written.
    RejectWith(resp::Request(), parser_.error_message(), /*is_protocol_error=*/true);
    return false;
  }
  last_active_ = read_time_;
  Dispatch(parser_.TakeRequest());
  return true;
}

void Session::ParseAvailable() {
  if (input_pos_ < input_end_ && MayParse()) {
    read_time_ = std::chrono::steady_clock::now();  // bytes kept since an earlier read
  }
  while (input_pos_ < input_end_ && MayParse()) {
    std::string_view pending(input_.data() + input_pos_, input_end_ - input_pos_);
    resp::ParseResult r = parser_.Feed(pending);
    input_pos_ += r.consumed;  // before dispatching: a command may flush this session
    if (!HandleParsed(r)) break;
  }
}

void Session::RejectWith(resp::Request request, std::string_view error, bool is_protocol_error) {
  auto call = std::make_shared<Call>(this, nullptr, std::move(request), db_, protocol_);
  call->reply().Error(error);
  call->set_state(Call::State::kDone);
  // Redis's rejectCommand flags an open transaction: its EXEC will abort.
  if (in_multi_) is_multi_dirty_ = true;
  if (!is_protocol_error) call->set_silent(TakeReplySilence());
  CountError(call->reply_bytes());
  queue_.push_back(std::move(call));
  if (is_protocol_error) is_close_after_reply_ = true;
}

void Session::CountError(std::string_view reply) {
  ServerStats& stats = server_->stats();
  ++stats.total_error_replies;
  auto code = ErrorCode(reply);
  auto it = stats.errors.find(code);
  if (it == stats.errors.end()) {
    stats.errors.emplace(std::string(code), 1);
  } else {
    ++it->second;
  }
}

void Session::Dispatch(resp::Request request) {
  ServerStats& stats = server_->stats();
  std::string_view name = request.arg(0);
  const CommandSpec* spec = FindCommand(name);
  if (spec == nullptr) {
    std::vector<std::string_view> rest;
    for (size_t i = 1; i < request.argc(); ++i) rest.push_back(request.arg(i));
    std::string err = errors::UnknownCommand(name, rest.data(), rest.size());
    RejectWith(std::move(request), err, false);
    return;
  }
  if (!spec->subcommands.empty() && request.argc() >= 2) {
    const CommandSpec* sub = FindSubcommand(*spec, request.arg(1));
    if (sub == nullptr) {
      std::string err = errors::UnknownSubcommand(spec->name, request.arg(1));
      RejectWith(std::move(request), err, false);
      return;
    }
    spec = sub;
  }
  if (!ArityAccepts(spec->arity, request.argc())) {
    stats.commands[std::string(spec->name)].rejected_calls++;
    RejectWith(std::move(request), errors::WrongArity(spec->name), false);
    return;
  }
  // Redis 7.0 (processCommand) checks existence and arity first, then authentication.
  if (!is_authenticated_ && !spec->flags.has(CommandFlag::kNoAuth)) {
    stats.commands[std::string(spec->name)].rejected_calls++;
    RejectWith(std::move(request), errors::kNoAuth, false);
    return;
  }
  // Then the ACL (Redis's ACLCheckAllPerm); AUTH, HELLO, QUIT and RESET are always allowed.
  if (!user_->unrestricted() && !spec->flags.has(CommandFlag::kNoAuth)) {
    if (user_->removed()) {
      // ACL DELUSER or ACL LOAD removed the user: Redis disconnects its clients.
      RejectWith(std::move(request), "ERR the user of this connection was deleted", true);
      return;
    }
    std::string object;
    AclDenial denial = CheckAcl(*user_, *spec, request, &object);
    if (denial != AclDenial::kNone) {
      stats.commands[std::string(spec->name)].rejected_calls++;
      static constexpr std::string_view kReasons[] = {"", "command", "key", "channel"};
      server_->acl().Log(std::string(kReasons[static_cast<int>(denial)]),
                         in_multi_ ? "multi" : "toplevel", object, user_->name(),
                         ClientInfoLine());
      RejectWith(std::move(request), NoPermError(denial, object), false);
      return;
    }
  }
  // Redis 7.0: a RESP2 client with subscriptions may only (un)subscribe, PING, QUIT or RESET.
  if (protocol_ == resp::Protocol::kResp2 && subscription_count() > 0 &&
      !IsAllowedWhileSubscribed(spec->name)) {
    stats.commands[std::string(spec->name)].rejected_calls++;
    RejectWith(std::move(request), errors::SubscribedContext(spec->name), false);
    return;
  }
  last_command_ = spec->name;

  // Inside MULTI every command but the transaction's own is queued for EXEC (multi.c).
  if (in_multi_ && !IsTransactionControl(spec->name)) {
    multi_queue_.push_back(QueuedCommand{spec, std::move(request)});
    auto queued = std::make_shared<Call>(this, spec, resp::Request(), db_, protocol_);
    queued->reply().SimpleString("QUEUED");
    queued->set_state(Call::State::kDone);
    queued->set_silent(TakeReplySilence());
    queue_.push_back(std::move(queued));
    return;
  }

  KeyAccess access = spec->AccessFor(request);
  auto call = std::make_shared<Call>(this, spec, std::move(request), db_, protocol_);
  // (Un)subscribe confirmations are pushes in Redis 7.0: CLIENT REPLY does not silence them.
  call->set_silent(TakeReplySilence() && !IsSubscriptionCommand(spec->name));
  call->set_access(access);
  call->set_barrier(spec->flags.has(CommandFlag::kBarrier) || IsLargeWrite(*spec, *call));
  if (access != KeyAccess::kNone) {
    ForEachKeyIndex(*spec, call->argc(),
                    [&](size_t i) { call->mutable_keys().push_back(call->arg(i)); });
  }
  call->set_keyed(!call->keys().empty() || call->is_barrier());
  if (call->is_keyed()) ++unfinished_keyed_;
  queue_.push_back(call);
  if (CanStart(queue_.size() - 1)) Run(call.get(), read_time_);
}

bool Session::CanStart(size_t index) const {
  const Call& call = *queue_[index];
  if (!call.is_keyed()) return true;
  // Fast path: no other unfinished keyed call (this one is counted).
  if (unfinished_keyed_ <= 1) return true;
  for (size_t i = 0; i < index; ++i) {
    const Call& earlier = *queue_[i];
    if (earlier.state() == Call::State::kDone || !earlier.is_keyed()) continue;
    if (call.is_barrier() || earlier.is_barrier()) return false;
    if (earlier.db() != call.db()) continue;
    if (!Conflicts(earlier.access(), call.access())) continue;
    for (std::string_view a : earlier.keys()) {
      for (std::string_view b : call.keys()) {
        if (a == b) return false;
      }
    }
  }
  return true;
}

void Session::Run(Call* call, std::chrono::steady_clock::time_point now) {
  call->set_state(Call::State::kRunning);
  call->MarkStarted(now);
  ++server_->stats().total_commands_processed;
  running_call_ = call;
  call->spec().handler(*call);
  running_call_ = nullptr;
}

void Session::StartReadyCalls() {
  // Index-based: Run() may finish calls synchronously but never removes them from the queue
  // (only CollectReplies does, outside this loop).
  for (size_t i = 0; i < queue_.size(); ++i) {
    Call* call = queue_[i].get();
    if (call->state() == Call::State::kWaiting && CanStart(i)) {
      Run(call, std::chrono::steady_clock::now());
    }
  }
}

void Session::OnCallFinished(Call* call) {
  if (call->has_spec()) {
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - call->started_at());
    auto& commands = server_->stats().commands;
    auto it = commands.find(call->spec().name);  // no string built once the entry exists
    if (it == commands.end()) {
      it = commands.emplace(std::string(call->spec().name), CommandStat{}).first;
    }
    CommandStat& stat = it->second;
    ++stat.calls;
    stat.usec += static_cast<uint64_t>(elapsed.count());
    if (call->is_error_reply()) {
      ++stat.failed_calls;
      CountError(call->reply_bytes());
    }
  }
  if (call->is_keyed()) {
    --unfinished_keyed_;
    needs_start_scan_ = true;
  }
  if (is_in_flush_) {
    needs_another_pass_ = true;
  } else {
    server_->ScheduleFlush(this);
  }
}

void Session::CollectReplies(std::string* out) {
  bool was_full = queue_.size() >= limits_.max_queued_calls;
  while (!queue_.empty() && queue_.front()->state() == Call::State::kDone) {
    if (queue_.front()->is_push()) queued_push_bytes_ -= queue_.front()->reply_bytes().size();
    if (!queue_.front()->is_silent()) out->append(queue_.front()->reply_bytes());
    queue_.pop_front();
  }
  // A streaming reply at the front sends what it has so far.
  if (!queue_.empty() && queue_.front()->is_streaming()) {
    Call* front = queue_.front().get();
    std::string& bytes = front->reply_bytes();
    if (!bytes.empty()) {
      if (!front->is_silent()) out->append(bytes);
      front->add_streamed_bytes(bytes.size());
      bytes.clear();
    }
  }
  // Room freed while requests wait in the input buffer: parse them now, since the client may
  // have nothing more to send that would wake us.
  if (was_full && queue_.size() < limits_.max_queued_calls && input_pos_ < input_end_) {
    needs_another_pass_ = true;
  }
}

void Session::Flush() {
  if (is_closing_) return;
  if (is_in_flush_) {
    needs_another_pass_ = true;
    return;
  }
  is_in_flush_ = true;
  do {
    needs_another_pass_ = false;
    ParseAvailable();
    if (needs_start_scan_) {
      needs_start_scan_ = false;
      StartReadyCalls();
    }
    CollectReplies(&out_);
  } while (needs_another_pass_ || needs_start_scan_);
  is_in_flush_ = false;
  if (!out_.empty()) {
    server_->stats().total_net_output_bytes += out_.size();
    transport_->SendBytes(out_);
    out_.clear();
    if (out_.capacity() > kMaxKeptOutputCapacity) std::string().swap(out_);
  }
  if (is_close_after_reply_ && queue_.empty()) {
    is_closing_ = true;
    transport_->CloseAfterSend();
    return;
  }
  if (EnforceOutputLimit()) return;
  UpdateReadState();
  // A streaming reply waiting for the output to drain resumes once it has.
  if (!queue_.empty() && queue_.front()->has_drained_waiter() &&
      queue_.front()->StreamBacklog() <= limits_.output_low_watermark) {
    std::function<void()> resume = queue_.front()->TakeDrained();
    resume();
  }
}

void Session::RequestFlush() {
  if (is_closing_) return;
  if (is_in_flush_) {
    needs_another_pass_ = true;
  } else {
    server_->ScheduleFlush(this);
  }
}

void Session::DiscardTransaction() {
  in_multi_ = false;
  is_multi_dirty_ = false;
  multi_queue_.clear();
  watched_.clear();
}

std::vector<Session::QueuedCommand> Session::TakeQueuedCommands() {
  std::vector<QueuedCommand> out;
  out.swap(multi_queue_);
  return out;
}

bool Session::TakeReplySilence() {
  bool is_silent = are_replies_off_ || is_next_reply_skipped_;
  is_next_reply_skipped_ = false;
  return is_silent;
}

void Session::set_reply_mode(ReplyMode mode) {
  are_replies_off_ = mode == ReplyMode::kOff;
  // SKIP silences the command after CLIENT REPLY SKIP; the dispatcher clears it after one.
  is_next_reply_skipped_ = mode == ReplyMode::kSkip;
}

void Session::DeliverPush(std::string_view bytes) {
  if (is_closing_ || is_close_after_reply_) return;
  if (queue_.empty()) {
    // Nothing queued: straight into the output of the next flush.
    out_.append(bytes);
    AfterPush();
    return;
  }
  // Behind every queued reply, except that a push caused by this client's own running command
  // (a RESP3 client publishing to its own channel) goes before that command's reply, as in
  // Redis, where the message is written while the command runs.
  size_t at = queue_.size();
  if (running_call_ != nullptr) {
    auto running = std::find_if(queue_.rbegin(), queue_.rend(),
                                [&](const auto& c) { return c.get() == running_call_; });
    if (running != queue_.rend()) at = static_cast<size_t>(queue_.rend() - running) - 1;
  }
  if (at > 0 && queue_[at - 1]->is_push()) {
    queue_[at - 1]->reply_bytes().append(bytes);
  } else {
    auto push = std::make_shared<Call>(this, nullptr, resp::Request(), db_, protocol_);
    push->reply_bytes().assign(bytes);
    push->set_push(true);
    push->set_state(Call::State::kDone);
    queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(at), std::move(push));
  }
  queued_push_bytes_ += bytes.size();
  AfterPush();
}

void Session::AfterPush() {
  if (EnforceOutputLimit()) return;
  if (is_in_flush_) {
    needs_another_pass_ = true;
  } else {
    server_->ScheduleFlush(this);
  }
}

bool Session::EnforceOutputLimit() {
  size_t pending = pending_output_bytes();
  bool is_over = false;
  if (subscription_count() > 0) {
    // A subscriber (Redis's pubsub class): hard limit, or soft limit held for soft_seconds.
    const OutputBufferLimit& limit = server_->config().pubsub_output_limit;
    if (limit.hard_bytes > 0 && pending > static_cast<size_t>(limit.hard_bytes)) {
      is_over = true;
    } else if (limit.soft_bytes > 0 && pending > static_cast<size_t>(limit.soft_bytes)) {
      // As Redis: the first time over only starts the clock.
      auto now = std::chrono::steady_clock::now();
      if (!soft_limit_since_) {
        soft_limit_since_ = now;
      } else {
        // Whole seconds, as Redis counts them.
        auto held = std::chrono::duration_cast<std::chrono::seconds>(now - *soft_limit_since_);
        is_over = held.count() > limit.soft_seconds;
      }
    } else {
      soft_limit_since_.reset();
    }
  } else {
    // With large values (the Object Store), room for one value of the largest size a client
    // may store on top of the limit: a large MGET or GETEX is a single reply.
    size_t room = server_->objects() != nullptr
                      ? static_cast<size_t>(server_->config().proto_max_bulk_len)
                      : 0;
    is_over = transport_->unsent_bytes() > limits_.output_hard_limit + room;
  }
  if (!is_over) return false;
  std::fprintf(stderr, "client id=%llu addr=%s closed for overcoming of output buffer limits "
                       "(%zu bytes pending)\n",
               static_cast<unsigned long long>(id_), peer_addr_.c_str(), pending);
  // The output is dropped, not flushed: a client that stopped reading would hold it forever.
  CloseSoon();
  return true;
}

void Session::OnOutputDrained() { Flush(); }

void Session::CloseSoon() {
  Close();
  transport_->CloseNow();
}

void Session::UpdateReadState() {
  bool is_full = queue_.size() >= limits_.max_queued_calls ||
                 transport_->unsent_bytes() >= limits_.output_high_watermark;
  bool has_room = queue_.size() < limits_.max_queued_calls &&
                  transport_->unsent_bytes() <= limits_.output_low_watermark;
  if (!is_reading_paused_ && is_full) {
    is_reading_paused_ = true;
    transport_->PauseReading();
  } else if (is_reading_paused_ && has_room) {
    is_reading_paused_ = false;
    transport_->ResumeReading();
  }
}

void Session::Close() {
  if (is_closing_ && queue_.empty()) return;
  is_closing_ = true;
  queued_push_bytes_ = 0;
  std::string().swap(out_);
  // Destroying the calls expires every completion's weak reference: late answers are dropped.
  // A call something else still holds (a large SET's upload keeps its request alive) is marked
  // done, so its completion is dropped too (Call::Bind skips finished calls).
  for (auto& call : queue_) call->set_state(Call::State::kDone);
  queue_.clear();
  unfinished_keyed_ = 0;
}

}  // namespace gateway
