// SPDX-License-Identifier: Apache-2.0
#include "kvmap/kv_status.h"

namespace kvmap {

std::string_view KvStatusName(KvStatus status) {
  switch (status) {
    case KvStatus::kOk:
      return "ok";
    case KvStatus::kNotFound:
      return "not_found";
    case KvStatus::kExists:
      return "exists";
    case KvStatus::kRevisionMismatch:
      return "revision_mismatch";
    case KvStatus::kInvalidKey:
      return "invalid_key";
    case KvStatus::kTooLarge:
      return "too_large";
    case KvStatus::kTimeout:
      return "timeout";
    case KvStatus::kUnavailable:
      return "unavailable";
    case KvStatus::kOutcomeUnknown:
      return "outcome_unknown";
    case KvStatus::kInternal:
      return "internal";
  }
  // A value cast from an out-of-range integer; never crash while logging it.
  return "unknown";
}

}  // namespace kvmap
