// SPDX-License-Identifier: Apache-2.0
//
// ArgParser walks a call's arguments for option parsing: keywords compare case-insensitively,
// integers parse strictly (Redis's string2ll rules). It never replies; the handler turns a
// failure into the reply text from errors.h.
//
// Thread: the loop thread. Views returned are valid while the call lives.
#pragma once

#include <cctype>
#include <cstdint>
#include <optional>
#include <string_view>

#include "gateway/config.h"
#include "gateway/session.h"

namespace gateway {

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

class ArgParser {
 public:
  ArgParser(const Call& call, size_t start) : call_(call), pos_(start) {}

  bool HasNext() const { return pos_ < call_.argc(); }
  size_t remaining() const { return call_.argc() - pos_; }
  size_t position() const { return pos_; }
  std::string_view Peek() const { return call_.arg(pos_); }
  std::string_view Next() { return call_.arg(pos_++); }
  // Consumes the next argument when it equals `keyword` (case-insensitive).
  bool Accept(std::string_view keyword) {
    if (HasNext() && EqualsIgnoreCase(Peek(), keyword)) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::optional<int64_t> NextInt() { return ParseInt64(Next()); }

 private:
  const Call& call_;
  size_t pos_;
};

}  // namespace gateway
