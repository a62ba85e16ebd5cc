// SPDX-License-Identifier: Apache-2.0
#include "kvmap/fake_kv_backend.h"

#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

#include <chrono>
#include <string>
#include <utility>

namespace kvmap {
namespace {

// Same rules as nats.c's validKey (src/kv.c), without the backslash that nats.c tolerates but
// the KV key alphabet ([-/_=.a-zA-Z0-9]) does not include.
bool IsValidKvKey(std::string_view key) {
  if (key.empty() || key.front() == '.' || key.back() == '.') return false;
  char previous = '\0';
  for (char c : key) {
    bool is_allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '/' || c == '_' || c == '=' || c == '.';
    if (!is_allowed || (c == '.' && previous == '.')) return false;
    previous = c;
  }
  return true;
}

// Size of the NATS header block the real backend would send: "NATS/1.0\r\n", one
// "Name: value\r\n" line per header and a final "\r\n".
size_t HeaderBlockSize(const WriteRequest& request) {
  auto line = [](std::string_view name, size_t value_size) { return name.size() + value_size + 4; };
  size_t size = 10 + 2;
  for (const Header& header : request.headers) size += line(header.first, header.second.size());
  if (request.op != EntryOp::kPut) size += line(kHdrKvOperation, 5);
  if (request.op == EntryOp::kPurge || request.op == EntryOp::kFlush) {
    size += line("Nats-Rollup", 3);
  }
  if (!request.msg_id.empty()) size += line("Nats-Msg-Id", request.msg_id.size());
  if (request.expected_revision) size += line("Nats-Expected-Last-Subject-Sequence", 20);
  return size;
}

// Designated initializers would do, but GCC's -Wmissing-field-initializers flags them.
GetResult GetFailure(KvStatus status, std::string detail) {
  GetResult result;
  result.status = status;
  result.detail = std::move(detail);
  return result;
}

WriteResult WriteFailure(KvStatus status, std::string detail) {
  WriteResult result;
  result.status = status;
  result.detail = std::move(detail);
  return result;
}

}  // namespace

FakeKvBackend::FakeKvBackend(Executor* executor, Mode mode) : executor_(executor), mode_(mode) {}

WriteRequest FakeKvBackend::PendingWrite::View() const {
  WriteRequest request;
  request.bucket = bucket;
  request.key = key;
  request.value = value;
  request.op = op;
  request.headers = headers;
  request.expected_revision = expected_revision;
  request.msg_id = msg_id;
  return request;
}

void FakeKvBackend::Get(std::string_view bucket, std::string_view key, GetCallback cb) {
  ++get_calls_;
  if (!is_connected_) {
    PostGet(std::move(cb), GetFailure(KvStatus::kUnavailable, "not connected"));
    return;
  }
  if (std::optional<GetResult> failure = CheckGet(key)) {
    PostGet(std::move(cb), std::move(*failure));
    return;
  }
  if (mode_ == Mode::kImmediate) {
    PostGet(std::move(cb), ApplyGet(bucket, key));
    return;
  }
  pending_.emplace_back(PendingGet{std::string(bucket), std::string(key), std::move(cb)});
}

void FakeKvBackend::Write(const WriteRequest& request, WriteCallback cb) {
  ++write_calls_;
  if (!is_connected_) {
    PostWrite(std::move(cb), WriteFailure(KvStatus::kUnavailable, "not connected"));
    return;
  }
  if (std::optional<WriteResult> failure = CheckWrite(request)) {
    PostWrite(std::move(cb), std::move(*failure));
    return;
  }
  if (mode_ == Mode::kImmediate) {
    PostWrite(std::move(cb), ApplyWriteAndAck(request));
    return;
  }
  PendingWrite pending;
  pending.bucket = request.bucket;
  pending.key = request.key;
  if (request.op == EntryOp::kPut) pending.value = request.value;
  pending.op = request.op;
  pending.headers = request.headers;
  pending.expected_revision = request.expected_revision;
  pending.msg_id = request.msg_id;
  pending.cb = std::move(cb);
  pending_.emplace_back(std::move(pending));
}

bool FakeKvBackend::CompleteAt(size_t index) {
  if (index >= pending_.size()) return false;
  Pending op = std::move(pending_[index]);
  pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(index));
  if (auto* get = std::get_if<PendingGet>(&op)) {
    PostGet(std::move(get->cb), ApplyGet(get->bucket, get->key));
  } else {
    auto& write = std::get<PendingWrite>(op);
    PostWrite(std::move(write.cb), ApplyWriteAndAck(write.View()));
  }
  return true;
}

void FakeKvBackend::CompleteAll() {
  while (!pending_.empty()) CompleteAt(0);
}

void FakeKvBackend::FailAll() {
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (Pending& op : failed) {
    if (auto* get = std::get_if<PendingGet>(&op)) {
      PostGet(std::move(get->cb), GetFailure(KvStatus::kUnavailable, "connection lost"));
    } else {
      PostWrite(
          std::move(std::get<PendingWrite>(op).cb),
          WriteFailure(KvStatus::kOutcomeUnknown, "connection lost before the acknowledgement"));
    }
  }
}

uint64_t FakeKvBackend::Put(std::string_view bucket, std::string_view key, std::string_view value,
                            Headers headers) {
  Entry entry;
  entry.key = key;
  entry.value = value;
  entry.revision = ++sequence_;
  entry.timestamp_ns = NowNs();
  entry.op = EntryOp::kPut;
  entry.headers = std::move(headers);
  indexes_[std::string(bucket)].ApplyPut(key, entry.revision, ExpiresAt(entry));
  auto& keys = store_[std::string(bucket)];
  keys.insert_or_assign(std::string(key), std::move(entry));
  return sequence_;
}

const Entry* FakeKvBackend::Latest(std::string_view bucket, std::string_view key) const {
  auto bucket_it = store_.find(bucket);
  if (bucket_it == store_.end()) return nullptr;
  auto key_it = bucket_it->second.find(key);
  return key_it == bucket_it->second.end() ? nullptr : &key_it->second;
}

std::optional<GetResult> FakeKvBackend::CheckGet(std::string_view key) const {
  if (!IsValidKvKey(key) || key.size() > max_key_length_) {
    return GetFailure(KvStatus::kInvalidKey, "invalid or over-long key");
  }
  return std::nullopt;
}

std::optional<WriteResult> FakeKvBackend::CheckWrite(const WriteRequest& request) const {
  if (!IsValidKvKey(request.key) || request.key.size() > max_key_length_) {
    return WriteFailure(KvStatus::kInvalidKey, "invalid or over-long key");
  }
  for (const Header& header : request.headers) {
    if (!IsWritableHeader(header.first)) {
      return WriteFailure(KvStatus::kInternal, "header not writable: " + header.first);
    }
  }
  size_t payload = request.op == EntryOp::kPut ? request.value.size() : 0;
  if (payload + HeaderBlockSize(request) > max_payload_) {
    return WriteFailure(KvStatus::kTooLarge, "message exceeds max payload");
  }
  return std::nullopt;
}

GetResult FakeKvBackend::ApplyGet(std::string_view bucket, std::string_view key) const {
  const Entry* entry = Latest(bucket, key);
  if (entry == nullptr) return GetFailure(KvStatus::kNotFound, "no message");
  GetResult result;
  result.status = KvStatus::kOk;
  result.entry = *entry;
  return result;
}

WriteResult FakeKvBackend::ApplyWriteAndAck(const WriteRequest& request) {
  WriteResult result = ApplyWrite(request);
  if (acks_to_lose_ > 0) {
    --acks_to_lose_;
    return WriteFailure(KvStatus::kOutcomeUnknown, "acknowledgement lost (test)");
  }
  return result;
}

WriteResult FakeKvBackend::ApplyWrite(const WriteRequest& request) {
  // JetStream checks the msg id before the expected sequence: a resent message gets the
  // original acknowledgement even though its CAS would now fail.
  std::pair<std::string, std::string> id_key;
  if (!request.msg_id.empty()) {
    id_key = {std::string(request.bucket), request.msg_id};
    auto it = msg_ids_.find(id_key);
    if (it != msg_ids_.end()) {
      WriteResult duplicate = it->second;
      duplicate.is_duplicate = true;
      return duplicate;
    }
  }
  const Entry* latest = Latest(request.bucket, request.key);
  uint64_t current = latest == nullptr ? 0 : latest->revision;
  if (request.expected_revision && *request.expected_revision != current) {
    WriteResult mismatch = WriteFailure(KvStatus::kRevisionMismatch,
                                        "wrong last sequence: " + std::to_string(current));
    mismatch.current_revision = current;
    return mismatch;
  }

  Entry entry;
  entry.key = request.key;
  if (request.op == EntryOp::kPut) entry.value = request.value;
  entry.revision = ++sequence_;
  entry.timestamp_ns = NowNs();
  entry.op = request.op;
  for (const Header& header : request.headers) {
    if (header.first != kHdrKvOperation) entry.headers.push_back(header);
  }
  KeyspaceIndex& index = indexes_[std::string(request.bucket)];
  bool is_internal = request.key.substr(0, 2) == kInternalKeyPrefix;
  bool was_live = false;
  if (const KeyspaceIndex::KeyInfo* info = index.Find(request.key)) {
    was_live = info->expires_at_ms == 0 || NowUnixMs() <= info->expires_at_ms;
  }
  std::string events(FindHeader(entry.headers, kHdrEvent).value_or(""));
  if (entry.op == EntryOp::kFlush) {
    index.ApplyFlush(entry.revision);
  } else if (entry.op != EntryOp::kPut || request.key.substr(0, 2) == kInternalKeyPrefix) {
    index.ApplyDelete(request.key, entry.revision);
  } else {
    index.ApplyPut(request.key, entry.revision, ExpiresAt(entry));
  }
  EntryOp op = entry.op;
  store_[std::string(request.bucket)].insert_or_assign(std::string(request.key), std::move(entry));
  if (observer_ && (op == EntryOp::kFlush || !is_internal)) {
    ChangeEvent change;
    change.bucket = request.bucket;
    change.key = request.key;
    change.op = op;
    change.events = events;
    change.was_live = was_live;
    change.revision = sequence_;
    observer_(change);
  }

  WriteResult result;
  result.status = KvStatus::kOk;
  result.revision = sequence_;
  if (!request.msg_id.empty()) msg_ids_.emplace(std::move(id_key), result);
  return result;
}

void FakeKvBackend::PostGet(GetCallback cb, GetResult result) {
  executor_->Post(
      [cb = std::move(cb), result = std::move(result)]() mutable { cb(std::move(result)); });
}

void FakeKvBackend::PostWrite(WriteCallback cb, WriteResult result) {
  executor_->Post(
      [cb = std::move(cb), result = std::move(result)]() mutable { cb(std::move(result)); });
}

int64_t FakeKvBackend::NowNs() const {
  if (clock_) return clock_();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t ManualExecutor::RunAll() {
  size_t ran = 0;
  while (!queue_.empty()) {
    // Pop before running: the closure may Post() more work, which this loop then runs too.
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    fn();
    ++ran;
  }
  return ran;
}

}  // namespace kvmap

namespace kvmap {

bool SubjectMatches(std::string_view filter, std::string_view subject) {
  while (true) {
    size_t fdot = filter.find('.');
    size_t sdot = subject.find('.');
    std::string_view ftok = filter.substr(0, fdot);
    std::string_view stok = subject.substr(0, sdot);
    if (ftok == ">") return !subject.empty();
    if (ftok != "*" && ftok != stok) return false;
    if (fdot == std::string_view::npos || sdot == std::string_view::npos) {
      return fdot == std::string_view::npos && sdot == std::string_view::npos;
    }
    filter.remove_prefix(fdot + 1);
    subject.remove_prefix(sdot + 1);
  }
}

uint64_t FakeKvBackend::FakeBus::Subscribe(const std::string& subject, MessageFn on_message,
                                           std::function<void(KvStatus)> confirmed) {
  uint64_t handle = next_++;
  KvStatus st = owner_->is_connected() ? KvStatus::kOk : KvStatus::kUnavailable;
  subs_[handle] = Sub{subject, std::move(on_message)};
  if (hold_ && st == KvStatus::kOk) {
    held_.push_back(std::move(confirmed));
  } else {
    owner_->executor_->Post([cb = std::move(confirmed), st] { cb(st); });
  }
  return handle;
}

void FakeKvBackend::FakeBus::ReleaseConfirmations() {
  std::vector<std::function<void(KvStatus)>> held;
  held.swap(held_);
  for (auto& cb : held) owner_->executor_->Post([cb = std::move(cb)] { cb(KvStatus::kOk); });
}

bool FakeKvBackend::FakeBus::Publish(std::string_view subject, std::string_view payload) {
  if (!owner_->is_connected() || payload.size() > max_payload()) return false;
  published_.emplace_back(std::string(subject), std::string(payload));
  return true;
}

void FakeKvBackend::FakeBus::WhenBacklogBelow(size_t bytes, std::function<void()> cb) {
  if (backlog_ < bytes) {
    owner_->executor_->Post(std::move(cb));
    return;
  }
  backlog_waiters_.emplace_back(bytes, std::move(cb));
}

void FakeKvBackend::FakeBus::set_backlog(size_t bytes) {
  backlog_ = bytes;
  std::vector<std::pair<size_t, std::function<void()>>> keep;
  for (auto& w : backlog_waiters_) {
    if (backlog_ < w.first) {
      owner_->executor_->Post(std::move(w.second));
    } else {
      keep.push_back(std::move(w));
    }
  }
  backlog_waiters_.swap(keep);
}

size_t FakeKvBackend::FakeBus::Inject(std::string_view subject, std::string_view payload) {
  std::vector<MessageFn> targets;
  for (auto& [handle, sub] : subs_) {
    if (SubjectMatches(sub.subject, subject)) targets.push_back(sub.on_message);
  }
  for (auto& fn : targets) fn(subject, payload);
  return targets.size();
}

std::vector<std::string> FakeKvBackend::FakeBus::subjects() const {
  std::vector<std::string> out;
  for (const auto& [handle, sub] : subs_) out.push_back(sub.subject);
  return out;
}

}  // namespace kvmap
