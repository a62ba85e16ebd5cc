// SPDX-License-Identifier: Apache-2.0
//
// Small, allocation-light helpers for the JetStream API JSON the gateway sends and receives:
// PubAck parsing, API error parsing, the KV stream configuration and leader-read answers. The server's JSON is
// regular and flat where we read it, so a field scanner is enough; nothing here is a general
// JSON parser and nothing here does I/O.
//
// Thread: any. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kvmap/kv_backend.h"

namespace kvmap {

// An "error" object from a JetStream API reply.
struct JsApiError {
  int code = 0;      // HTTP-like code (400, 404, 503)
  int err_code = 0;  // JetStream error code (10071 wrong last sequence, 10059 stream not found)
  std::string description;
};

// Returns the error object of a JetStream API reply, or nullopt when there is none.
std::optional<JsApiError> ParseJsApiError(std::string_view json);

// Maps a PubAck (or its error) onto a WriteResult. For err_code 10071 the current revision is
// taken from "wrong last sequence: N".
WriteResult ParsePubAck(std::string_view json);

// Appends `s` as a JSON string: quotes, backslash escapes for '"' and '\\', \u00XX for control
// characters. Other bytes pass through (UTF-8 text stays readable), unless `ascii_only`: then
// every byte from 0x7f up is written as \u00XX too, so arbitrary bytes always give valid JSON.
void AppendJsonString(std::string* out, std::string_view s, bool ascii_only = false);

// Returns the unsigned integer value of "field":N at the top level or nested (first match), or
// nullopt.
std::optional<uint64_t> FindJsonUint(std::string_view json, std::string_view field);

// Settings of a KV bucket stream the gateway creates.
struct BucketConfig {
  std::string name;              // bucket name; the stream is KV_<name>
  int replicas = 1;
  int history = 1;               // max_msgs_per_subject
  int64_t duplicate_window_ns = 30'000'000'000;
};

// The JSON body of $JS.API.STREAM.CREATE.KV_<name> for a KV bucket (ADR-8 layout).
std::string BuildKvStreamConfig(const BucketConfig& config);

// True for a name NATS accepts as a KV bucket name ([A-Za-z0-9_-]+).
bool IsValidBucketName(std::string_view name);

// Parses Nats-Time-Stamp (RFC 3339 with optional fraction, UTC "Z") to Unix nanoseconds.
std::optional<int64_t> ParseNatsTimestamp(std::string_view text);

// Leader reads. On a replicated stream every replica answers direct gets, and a follower can
// still be behind a write whose PubAck the client already has; only the stream leader answers
// $JS.API.STREAM.MSG.GET.KV_<bucket>, so the gateway reads replicated buckets that way
// (docs/cluster.md, "Read-your-writes").
//
// The request body asking for the last message on `subject` ({"last_by_subj":"..."}). The
// subject must be a KV subject (no quote or backslash; key_codec.h guarantees that).
std::string BuildLastBySubjectRequest(std::string_view subject);

// Maps the answer of $JS.API.STREAM.MSG.GET onto a GetResult, as a direct get's is: the entry
// with its revision (seq), timestamp, key (the subject after "$KV.<bucket>."), KV-Operation and
// writable headers; "no message found" (err_code 10037) is kNotFound, any other error or a
// malformed answer kInternal.
GetResult ParseStreamMsgGet(std::string_view json);

// Maps a direct get's message (its header block, without a Status line, and its payload) onto
// a GetResult: revision from Nats-Sequence, timestamp, key (the subject after "$KV.<bucket>."),
// KV-Operation and the writable headers. kInternal when Nats-Sequence is missing. The subject
// itself goes to *subject when given.
GetResult ParseDirectGetMessage(std::string_view headers, std::string_view payload,
                                std::string* subject = nullptr);

}  // namespace kvmap
