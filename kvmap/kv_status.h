// SPDX-License-Identifier: Apache-2.0
//
// KvStatus is the one status enum every backend operation reports. nats.c statuses and
// JetStream API error codes are mapped onto it at the kvmap boundary (nats_kv_backend.cc);
// gateway/ turns it into a Redis reply in exactly one place.
//
// Thread: any.
#pragma once

#include <cstdint>
#include <string_view>

namespace kvmap {

enum class KvStatus : uint8_t {
  kOk,
  kNotFound,            // no message for the key (direct get 404)
  kExists,              // create found a live value
  kRevisionMismatch,    // CAS failed (JetStream err_code 10071)
  kInvalidKey,          // the key cannot be sent (too long for a protocol line)
  kTooLarge,            // the message exceeds max_payload
  kTimeout,             // a read got no answer in time
  kUnavailable,         // not connected: the operation was never sent
  kOutcomeUnknown,      // a write was sent but its acknowledgement was lost (disconnect, timeout)
  kInternal,            // anything else (unexpected JetStream error, parse failure)
};

std::string_view KvStatusName(KvStatus status);

// JetStream API error codes we act on.
inline constexpr int kJsErrWrongLastSequence = 10071;
inline constexpr int kJsErrStreamNotFound = 10059;
inline constexpr int kJsErrNoMessageFound = 10037;  // STREAM.MSG.GET of a missing subject

}  // namespace kvmap
