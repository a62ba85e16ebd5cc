// SPDX-License-Identifier: Apache-2.0
#include "kvmap/string_ops.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <new>

namespace kvmap {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
// Redis MAX_LONG_DOUBLE_CHARS: string2ld rejects inputs this long, ld2string's buffer size.
constexpr size_t kMaxLongDoubleChars = size_t{5} * 1024;

// Redis compares option words with strcasecmp on the C string, so an argument is cut at its
// first NUL byte ("bit\0zz" matches BIT); we keep that quirk (checked against 7.0.15).
std::string_view CString(std::string_view arg) { return arg.substr(0, arg.find('\0')); }

bool IsKeyword(std::string_view arg, std::string_view keyword) {
  arg = CString(arg);
  if (arg.size() != keyword.size()) return false;
  for (size_t i = 0; i < arg.size(); ++i) {
    unsigned char a = static_cast<unsigned char>(arg[i]);
    unsigned char k = static_cast<unsigned char>(keyword[i]);
    if (a >= 'A' && a <= 'Z') a = static_cast<unsigned char>(a - 'A' + 'a');
    if (a != k) return false;  // keywords are given in lower case
  }
  return true;
}

uint8_t ByteAt(std::string_view s, uint64_t i) { return static_cast<uint8_t>(s[i]); }

int64_t g_max_bulk_len = kProtoMaxBulkLen;

// Redis checkStringLength: size + append must not pass proto-max-bulk-len.
bool FitsStringLimit(int64_t size, uint64_t append) {
  const int64_t limit = g_max_bulk_len;
  return size <= limit && append <= static_cast<uint64_t>(limit - size);
}

int64_t PopCount(std::string_view bytes) {
  int64_t count = 0;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    count += std::popcount(word);
  }
  for (; i < bytes.size(); ++i) count += std::popcount(ByteAt(bytes, i));
  return count;
}

// Redis redisBitpos: the first bit equal to `bit`; when there is none, bytes.size() * 8 for 0
// (the string is seen as zero padded on the right) and -1 for 1.
int64_t FirstBit(std::string_view bytes, int bit) {
  const uint64_t skip_word = bit ? 0 : ~uint64_t{0};
  const uint8_t skip_byte = bit ? 0 : 0xff;
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    if (word != skip_word) break;
  }
  for (; i < bytes.size(); ++i) {
    uint8_t byte = ByteAt(bytes, i);
    if (byte == skip_byte) continue;
    for (int b = 0; b < 8; ++b) {
      if (((byte >> (7 - b)) & 1) == bit) return static_cast<int64_t>(i) * 8 + b;
    }
  }
  return bit ? -1 : static_cast<int64_t>(bytes.size()) * 8;
}

// Bitfield access with bit 0 = most significant bit of byte 0; bytes past the end read as 0.
uint64_t GetUnsignedBits(std::string_view buf, uint64_t offset, unsigned bits) {
  uint64_t value = 0;
  for (unsigned j = 0; j < bits; ++j, ++offset) {
    uint64_t byte = offset >> 3;
    uint64_t bit = byte < buf.size() ? (ByteAt(buf, byte) >> (7 - (offset & 7))) & 1 : 0;
    value = (value << 1) | bit;
  }
  return value;
}

int64_t GetSignedBits(std::string_view buf, uint64_t offset, unsigned bits) {
  uint64_t value = GetUnsignedBits(buf, offset, bits);
  if (bits > 0 && bits < 64 && (value & (uint64_t{1} << (bits - 1)))) value |= ~uint64_t{0} << bits;
  return static_cast<int64_t>(value);
}

// `buf` must already cover the bits written.
void SetBits(std::string& buf, uint64_t offset, unsigned bits, uint64_t value) {
  for (unsigned j = 0; j < bits; ++j, ++offset) {
    uint64_t bit = (value >> (bits - 1 - j)) & 1;
    unsigned shift = 7 - (offset & 7);
    uint8_t byte = ByteAt(buf, offset >> 3);
    byte = static_cast<uint8_t>((byte & ~(1u << shift)) | (bit << shift));
    buf[offset >> 3] = static_cast<char>(byte);
  }
}

// Redis checkUnsignedBitfieldOverflow: true when value + incr does not fit in `bits` unsigned
// bits, with *limit set to the WRAP or SAT result. The arithmetic is unsigned so it wraps exactly
// as Redis's does. (Redis also tells overflow from underflow; BITFIELD only uses non-zero.)
bool UnsignedOverflows(uint64_t value, int64_t incr, unsigned bits, BitfieldOverflow ow,
                       uint64_t* limit) {
  if (bits == 0 || bits > 64) return false;  // ParseBitfield guarantees 1..63
  const uint64_t max = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const auto max_incr = static_cast<int64_t>(max - value);
  const auto min_incr = static_cast<int64_t>(uint64_t{0} - value);
  const bool is_over = value > max || (incr > 0 && incr > max_incr);
  const bool is_under = !is_over && incr < 0 && incr < min_incr;
  if (!is_over && !is_under) return false;
  if (ow == BitfieldOverflow::kWrap) {
    const uint64_t sum = value + static_cast<uint64_t>(incr);
    *limit = bits == 64 ? sum : sum & ~(~uint64_t{0} << bits);
  } else if (ow == BitfieldOverflow::kSat) {
    *limit = is_over ? max : 0;
  }
  return true;
}

// Redis checkSignedBitfieldOverflow; same contract. WRAP keeps the low bits and sign-extends.
bool SignedOverflows(int64_t value, int64_t incr, unsigned bits, BitfieldOverflow ow,
                     int64_t* limit) {
  if (bits == 0 || bits > 64) return false;  // ParseBitfield guarantees 1..64
  const int64_t max = bits == 64 ? kInt64Max : (int64_t{1} << (bits - 1)) - 1;
  const int64_t min = -max - 1;
  const auto uvalue = static_cast<uint64_t>(value);
  // Redis computes these before knowing `value` is in range; unsigned maths avoids the UB.
  const auto max_incr = static_cast<int64_t>(static_cast<uint64_t>(max) - uvalue);
  const auto min_incr = static_cast<int64_t>(static_cast<uint64_t>(min) - uvalue);
  const bool is_over =
      value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr);
  const bool is_under = !is_over && (value < min || (bits != 64 && incr < min_incr) ||
                                     (value < 0 && incr < 0 && incr < min_incr));
  if (!is_over && !is_under) return false;
  if (ow == BitfieldOverflow::kWrap) {
    uint64_t sum = uvalue + static_cast<uint64_t>(incr);
    if (bits < 64) {
      const uint64_t mask = ~uint64_t{0} << bits;
      sum = (sum & (uint64_t{1} << (bits - 1))) ? sum | mask : sum & ~mask;
    }
    *limit = static_cast<int64_t>(sum);
  } else if (ow == BitfieldOverflow::kSat) {
    *limit = is_over ? max : min;
  }
  return true;
}

// Redis getBitOffsetFromArgument: "#n" (when `hash_bits` > 0) means n * hash_bits, multiplied
// with 64-bit wrap-around like Redis's signed overflow on x86-64.
StrResult<uint64_t> ParseBitOffsetImpl(std::string_view arg, unsigned hash_bits) {
  const bool use_hash = hash_bits > 0 && !arg.empty() && arg[0] == '#';
  std::optional<int64_t> parsed = ParseRedisInt(use_hash ? arg.substr(1) : arg);
  if (!parsed) return StrError::kBitOffset;
  int64_t offset = *parsed;
  if (use_hash) offset = static_cast<int64_t>(static_cast<uint64_t>(offset) * hash_bits);
  // Redis: (offset >> 3) >= proto-max-bulk-len is out of range.
  if (offset < 0 || (static_cast<uint64_t>(offset) >> 3) >= static_cast<uint64_t>(g_max_bulk_len)) {
    return StrError::kBitOffset;
  }
  return static_cast<uint64_t>(offset);
}

// Redis getBitfieldTypeFromArgument: 'i' or 'u' then a string2ll width; the width is read as a
// C string (cut at NUL). u64 is refused because the reply could not hold it.
bool ParseBitfieldType(std::string_view arg, bool* is_signed, unsigned* bits) {
  if (arg.empty() || (arg[0] != 'i' && arg[0] != 'u')) return false;
  *is_signed = arg[0] == 'i';
  std::optional<int64_t> width = ParseRedisInt(CString(arg.substr(1)));
  if (!width || *width < 1 || *width > (*is_signed ? 64 : 63)) return false;
  *bits = static_cast<unsigned>(*width);
  return true;
}

// Start/end normalisation shared by BITCOUNT and BITPOS after their index arguments are known.
// `total` is the length in the chosen unit. In BIT mode the indexes become bytes, with masks
// of the bits outside the range in the first and last byte.
struct ByteSpan {
  int64_t start = 0;
  int64_t end = 0;
  uint8_t first_mask = 0;
  uint8_t last_mask = 0;
};

ByteSpan NormaliseRange(int64_t start, int64_t end, int64_t total, bool is_bit) {
  if (start < 0) start = total + start;
  if (end < 0) end = total + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  ByteSpan span{start, end, 0, 0};
  if (is_bit && start <= end) {
    span.first_mask = static_cast<uint8_t>(~((1u << (8 - (start & 7))) - 1) & 0xff);
    span.last_mask = static_cast<uint8_t>((1u << (7 - (end & 7))) - 1);
    span.start = start >> 3;
    span.end = end >> 3;
  }
  return span;
}

// BYTE/BIT mode word; nullopt for anything else.
std::optional<bool> ParseBitMode(std::string_view arg) {
  if (IsKeyword(arg, "bit")) return true;
  if (IsKeyword(arg, "byte")) return false;
  return std::nullopt;
}

}  // namespace

std::string_view StrErrorText(StrError error) {
  // Indexed by StrError, in declaration order.
  static constexpr std::string_view kTexts[] = {
      "",
      kErrNotInteger,
      kErrIncrOverflow,
      kErrDecrOverflow,
      kErrNotFloat,
      kErrNanOrInfinity,
      kErrStringTooLong,
      kErrOffsetOutOfRange,
      kErrBitOffset,
      kErrBitValue,
      kErrBitposBit,
      kErrSyntax,
      kErrBitopNotSingleSource,
      kErrBitfieldType,
      kErrBitfieldOverflowType,
      kErrBitfieldRoWrite,
      kErrLcsLenAndIdx,
      kErrLcsTooLong,
      kErrLcsMemoryLimit,
      kErrLcsAllocFailed,
  };
  static_assert(std::size(kTexts) == static_cast<size_t>(StrError::kLcsAllocFailed) + 1);
  const auto index = static_cast<size_t>(error);
  return index < std::size(kTexts) ? kTexts[index] : kErrSyntax;
}

// ----------------------------------------------------------------------------- integers

std::optional<int64_t> ParseRedisInt(std::string_view text) {
  // Redis LONG_STR_SIZE is 21: 20 bytes is the longest accepted input.
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text == "0") return 0;
  size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative && ++i == text.size()) return std::nullopt;
  if (text[i] < '1' || text[i] > '9') return std::nullopt;
  uint64_t v = static_cast<uint64_t>(text[i++] - '0');
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(text[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(kInt64Max) + 1) return std::nullopt;
    return static_cast<int64_t>(uint64_t{0} - v);
  }
  if (v > static_cast<uint64_t>(kInt64Max)) return std::nullopt;
  return static_cast<int64_t>(v);
}

StrResult<int64_t> ParseIncrement(std::string_view arg) {
  std::optional<int64_t> v = ParseRedisInt(arg);
  if (!v) return StrError::kNotInteger;
  return *v;
}

StrResult<int64_t> ParseDecrement(std::string_view arg) {
  std::optional<int64_t> v = ParseRedisInt(arg);
  if (!v) return StrError::kNotInteger;
  if (*v == kInt64Min) return StrError::kDecrOverflow;
  return -*v;
}

StrResult<IncrByValue> IncrBy(std::optional<std::string_view> current, int64_t delta) {
  int64_t old = 0;
  if (current) {
    std::optional<int64_t> parsed = ParseRedisInt(*current);
    if (!parsed) return StrError::kNotInteger;
    old = *parsed;
  }
  if ((delta < 0 && old < 0 && delta < kInt64Min - old) ||
      (delta > 0 && old > 0 && delta > kInt64Max - old)) {
    return StrError::kIncrOverflow;
  }
  const int64_t value = old + delta;
  return IncrByValue{value, std::to_string(value)};
}

// ----------------------------------------------------------------------------- floats

std::optional<long double> ParseRedisLongDouble(std::string_view text) {
  if (text.empty() || text.size() >= kMaxLongDoubleChars) return std::nullopt;
  char buf[kMaxLongDoubleChars];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  errno = 0;
  char* end = nullptr;
  const long double value = std::strtold(buf, &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) || *end != '\0' ||
      static_cast<size_t>(end - buf) != text.size() ||
      (errno == ERANGE && (std::isinf(value) || value == 0.0L)) || errno == EINVAL ||
      std::isnan(value)) {
    return std::nullopt;
  }
  return value;
}

std::string FormatLongDoubleHuman(long double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[kMaxLongDoubleChars];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", value);
  if (n < 0 || static_cast<size_t>(n) + 1 > sizeof(buf)) return {};  // unreachable for finite
  std::string_view text(buf, static_cast<size_t>(n));
  if (text.find('.') != std::string_view::npos) {
    text.remove_suffix(text.size() - 1 - text.find_last_not_of('0'));
    if (text.back() == '.') text.remove_suffix(1);
  }
  if (text == "-0") return "0";
  return std::string(text);
}

StrResult<std::string> IncrByFloat(std::optional<std::string_view> current,
                                   std::string_view increment) {
  long double value = 0;
  if (current) {
    std::optional<long double> parsed = ParseRedisLongDouble(*current);
    if (!parsed) return StrError::kNotFloat;
    value = *parsed;
  }
  std::optional<long double> incr = ParseRedisLongDouble(increment);
  if (!incr) return StrError::kNotFloat;
  value += *incr;
  if (std::isnan(value) || std::isinf(value)) return StrError::kNanOrInfinity;
  return FormatLongDoubleHuman(value);
}

// ----------------------------------------------------------------------------- byte ranges

StrResult<std::string> Append(std::optional<std::string_view> current, std::string_view suffix) {
  if (!current) return std::string(suffix);
  if (!FitsStringLimit(static_cast<int64_t>(current->size()), suffix.size())) {
    return StrError::kStringTooLong;
  }
  std::string out;
  out.reserve(current->size() + suffix.size());
  out.append(*current).append(suffix);
  return out;
}

StrResult<int64_t> ParseSetRangeOffset(std::string_view arg) {
  std::optional<int64_t> v = ParseRedisInt(arg);
  if (!v) return StrError::kNotInteger;
  if (*v < 0) return StrError::kOffsetOutOfRange;
  return *v;
}

StrResult<SetRangeOutcome> SetRange(std::optional<std::string_view> current, int64_t offset,
                                    std::string_view value) {
  if (offset < 0) return StrError::kOffsetOutOfRange;
  if (value.empty()) {
    return SetRangeOutcome{std::nullopt, current ? static_cast<int64_t>(current->size()) : 0};
  }
  if (!FitsStringLimit(offset, value.size())) return StrError::kStringTooLong;
  std::string out(current.value_or(std::string_view{}));
  const size_t end = static_cast<size_t>(offset) + value.size();
  if (out.size() < end) out.resize(end, '\0');
  out.replace(static_cast<size_t>(offset), value.size(), value);
  const auto length = static_cast<int64_t>(out.size());
  return SetRangeOutcome{std::move(out), length};
}

StrResult<IndexRange> ParseGetRangeArgs(std::string_view start, std::string_view end) {
  std::optional<int64_t> s = ParseRedisInt(start);
  if (!s) return StrError::kNotInteger;
  std::optional<int64_t> e = ParseRedisInt(end);
  if (!e) return StrError::kNotInteger;
  return IndexRange{*s, *e};
}

std::pair<uint64_t, uint64_t> GetRangeSpan(uint64_t size, int64_t start, int64_t end) {
  const auto len = static_cast<int64_t>(size);
  if (start < 0 && end < 0 && start > end) return {0, 0};
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return {0, 0};
  return {static_cast<uint64_t>(start), static_cast<uint64_t>(end - start + 1)};
}

std::string_view GetRange(std::string_view value, int64_t start, int64_t end) {
  auto [offset, length] = GetRangeSpan(value.size(), start, end);
  return value.substr(static_cast<size_t>(offset), static_cast<size_t>(length));
}

// ----------------------------------------------------------------------------- single bits

StrResult<uint64_t> ParseBitOffset(std::string_view arg) { return ParseBitOffsetImpl(arg, 0); }

StrResult<int> ParseBitValue(std::string_view arg) {
  std::optional<int64_t> v = ParseRedisInt(arg);
  if (!v || (*v != 0 && *v != 1)) return StrError::kBitValue;
  return static_cast<int>(*v);
}

SetBitOutcome SetBit(std::optional<std::string_view> current, uint64_t offset, int bit) {
  SetBitOutcome out;
  out.new_value.assign(current.value_or(std::string_view{}));
  const uint64_t byte = offset >> 3;
  bool is_grown = !current;
  if (out.new_value.size() <= byte) {
    out.new_value.resize(byte + 1, '\0');
    is_grown = true;
  }
  const unsigned shift = 7 - (offset & 7);
  const uint8_t old_byte = ByteAt(out.new_value, byte);
  out.old_bit = (old_byte >> shift) & 1;
  out.is_modified = is_grown || out.old_bit != bit;
  if (out.old_bit != bit) {
    out.new_value[byte] = static_cast<char>(old_byte ^ (1u << shift));
  }
  return out;
}

int GetBit(std::string_view value, uint64_t offset) {
  const uint64_t byte = offset >> 3;
  if (byte >= value.size()) return 0;
  return (ByteAt(value, byte) >> (7 - (offset & 7))) & 1;
}

// ----------------------------------------------------------------------------- BITCOUNT/BITPOS

StrResult<int64_t> BitCount(std::optional<std::string_view> value,
                            std::span<const std::string_view> args) {
  if (!value) return 0;
  const std::string_view p = *value;
  const auto len = static_cast<int64_t>(p.size());
  ByteSpan span{0, len - 1, 0, 0};
  if (args.size() == 2 || args.size() == 3) {
    std::optional<int64_t> start = ParseRedisInt(args[0]);
    if (!start) return StrError::kNotInteger;
    std::optional<int64_t> end = ParseRedisInt(args[1]);
    if (!end) return StrError::kNotInteger;
    if (*start < 0 && *end < 0 && *start > *end) return 0;
    bool is_bit = false;
    if (args.size() == 3) {
      std::optional<bool> mode = ParseBitMode(args[2]);
      if (!mode) return StrError::kSyntax;
      is_bit = *mode;
    }
    span = NormaliseRange(*start, *end, is_bit ? len * 8 : len, is_bit);
  } else if (!args.empty()) {
    return StrError::kSyntax;
  }
  if (span.start > span.end) return 0;
  int64_t count = PopCount(
      p.substr(static_cast<size_t>(span.start), static_cast<size_t>(span.end - span.start + 1)));
  // Take back the bits of the edge bytes that lie outside a BIT range.
  count -= std::popcount(static_cast<uint8_t>(ByteAt(p, span.start) & span.first_mask));
  count -= std::popcount(static_cast<uint8_t>(ByteAt(p, span.end) & span.last_mask));
  return count;
}

StrResult<int64_t> BitPos(std::optional<std::string_view> value,
                          std::span<const std::string_view> args) {
  if (args.empty()) return StrError::kSyntax;
  std::optional<int64_t> bit_arg = ParseRedisInt(args[0]);
  if (!bit_arg) return StrError::kNotInteger;
  if (*bit_arg != 0 && *bit_arg != 1) return StrError::kBitposBit;
  const int bit = static_cast<int>(*bit_arg);
  if (!value) return bit ? -1 : 0;

  const std::string_view p = *value;
  const auto len = static_cast<int64_t>(p.size());
  ByteSpan span{0, len - 1, 0, 0};
  bool is_end_given = false;
  if (args.size() >= 2 && args.size() <= 4) {
    std::optional<int64_t> start = ParseRedisInt(args[1]);
    if (!start) return StrError::kNotInteger;
    bool is_bit = false;
    if (args.size() == 4) {
      std::optional<bool> mode = ParseBitMode(args[3]);
      if (!mode) return StrError::kSyntax;
      is_bit = *mode;
    }
    int64_t end = is_bit ? len * 8 + 7 : len - 1;
    if (args.size() >= 3) {
      std::optional<int64_t> parsed = ParseRedisInt(args[2]);
      if (!parsed) return StrError::kNotInteger;
      end = *parsed;
      is_end_given = true;
    }
    span = NormaliseRange(*start, end, is_bit ? len * 8 : len, is_bit);
  } else if (args.size() != 1) {
    return StrError::kSyntax;
  }
  if (span.start > span.end) return -1;

  // Redis 7.0 scans the masked first byte, the whole bytes, then the masked last byte, and
  // stops at the first part that answers. `start`/`bytes` track the part being scanned.
  int64_t start = span.start;
  int64_t bytes = span.end - span.start + 1;
  auto finish = [&](int64_t pos) -> int64_t {
    // With an explicit end the range is not zero padded: "no 0 found" is -1.
    if (is_end_given && bit == 0 && pos == bytes * 8) return -1;
    return pos == -1 ? -1 : pos + start * 8;
  };
  auto masked = [&](uint8_t byte, uint8_t mask) -> uint8_t {
    return static_cast<uint8_t>(bit ? byte & ~mask : byte | mask);
  };
  if (span.first_mask) {
    uint8_t first = masked(ByteAt(p, start), span.first_mask);
    if (span.last_mask && bytes == 1) first = masked(first, span.last_mask);
    const int64_t pos = FirstBit(std::string_view(reinterpret_cast<char*>(&first), 1), bit);
    if (bytes == 1 || (pos != -1 && pos != 8)) return finish(pos);
    ++start;
    --bytes;
  }
  const int64_t whole = bytes - (span.last_mask ? 1 : 0);
  if (whole > 0) {
    const int64_t pos =
        FirstBit(p.substr(static_cast<size_t>(start), static_cast<size_t>(whole)), bit);
    if (bytes == whole || (pos != -1 && pos != whole * 8)) return finish(pos);
    start += whole;
    bytes -= whole;
  }
  uint8_t last = masked(ByteAt(p, span.end), span.last_mask);
  return finish(FirstBit(std::string_view(reinterpret_cast<char*>(&last), 1), bit));
}

// ----------------------------------------------------------------------------- BITOP

StrResult<BitOpKind> ParseBitOp(std::string_view name, size_t num_sources) {
  BitOpKind kind;
  if (IsKeyword(name, "and")) {
    kind = BitOpKind::kAnd;
  } else if (IsKeyword(name, "or")) {
    kind = BitOpKind::kOr;
  } else if (IsKeyword(name, "xor")) {
    kind = BitOpKind::kXor;
  } else if (IsKeyword(name, "not")) {
    kind = BitOpKind::kNot;
  } else {
    return StrError::kSyntax;
  }
  if (kind == BitOpKind::kNot && num_sources != 1) return StrError::kBitopNotSingleSource;
  return kind;
}

std::string BitOp(BitOpKind kind, std::span<const std::string_view> sources) {
  size_t max_len = 0;
  for (std::string_view s : sources) max_len = std::max(max_len, s.size());
  if (max_len == 0 || sources.empty()) return {};
  std::string out(max_len, '\0');
  auto combine = [kind](uint8_t acc, uint8_t byte) -> uint8_t {
    switch (kind) {
      case BitOpKind::kAnd:
        return acc & byte;
      case BitOpKind::kOr:
        return acc | byte;
      case BitOpKind::kXor:
        return acc ^ byte;
      case BitOpKind::kNot:
        break;
    }
    return acc;
  };
  for (size_t j = 0; j < max_len; ++j) {
    uint8_t acc = j < sources[0].size() ? ByteAt(sources[0], j) : 0;
    if (kind == BitOpKind::kNot) acc = static_cast<uint8_t>(~acc);
    for (size_t i = 1; i < sources.size(); ++i) {
      acc = combine(acc, j < sources[i].size() ? ByteAt(sources[i], j) : 0);
    }
    out[j] = static_cast<char>(acc);
  }
  return out;
}

// ----------------------------------------------------------------------------- BITFIELD

StrResult<BitfieldPlan> ParseBitfield(std::span<const std::string_view> args, bool is_ro_command) {
  BitfieldPlan plan;
  BitfieldOverflow overflow = BitfieldOverflow::kWrap;
  for (size_t j = 0; j < args.size(); ++j) {
    const size_t remaining = args.size() - j - 1;
    BitfieldOp op;
    if (IsKeyword(args[j], "get") && remaining >= 2) {
      op.code = BitfieldOpCode::kGet;
    } else if (IsKeyword(args[j], "set") && remaining >= 3) {
      op.code = BitfieldOpCode::kSet;
    } else if (IsKeyword(args[j], "incrby") && remaining >= 3) {
      op.code = BitfieldOpCode::kIncrBy;
    } else if (IsKeyword(args[j], "overflow") && remaining >= 1) {
      const std::string_view name = args[++j];
      if (IsKeyword(name, "wrap")) {
        overflow = BitfieldOverflow::kWrap;
      } else if (IsKeyword(name, "sat")) {
        overflow = BitfieldOverflow::kSat;
      } else if (IsKeyword(name, "fail")) {
        overflow = BitfieldOverflow::kFail;
      } else {
        return StrError::kBitfieldOverflowType;
      }
      continue;
    } else {
      return StrError::kSyntax;
    }
    unsigned bits = 0;
    if (!ParseBitfieldType(args[j + 1], &op.is_signed, &bits)) return StrError::kBitfieldType;
    op.bits = static_cast<uint8_t>(bits);
    StrResult<uint64_t> offset = ParseBitOffsetImpl(args[j + 2], bits);
    if (!offset.ok()) return offset.error();
    op.offset = *offset;
    op.overflow = overflow;
    if (op.code != BitfieldOpCode::kGet) {
      plan.has_writes = true;
      std::optional<int64_t> v = ParseRedisInt(args[j + 3]);
      if (!v) return StrError::kNotInteger;
      op.value = *v;
    }
    plan.ops.push_back(op);
    j += op.code == BitfieldOpCode::kGet ? 2 : 3;
  }
  if (plan.has_writes && is_ro_command) return StrError::kBitfieldRoWrite;
  return plan;
}

BitfieldOutcome ApplyBitfield(std::optional<std::string_view> current, const BitfieldPlan& plan) {
  BitfieldOutcome out;
  out.results.reserve(plan.ops.size());
  std::string buf(current.value_or(std::string_view{}));
  if (plan.has_writes) {
    uint64_t highest = 0;
    for (const BitfieldOp& op : plan.ops) {
      if (op.code != BitfieldOpCode::kGet) highest = std::max(highest, op.offset + op.bits - 1);
    }
    if (buf.size() <= (highest >> 3)) buf.resize((highest >> 3) + 1, '\0');
  }
  for (const BitfieldOp& op : plan.ops) {
    if (op.code == BitfieldOpCode::kGet) {
      out.results.emplace_back(
          op.is_signed ? GetSignedBits(buf, op.offset, op.bits)
                       : static_cast<int64_t>(GetUnsignedBits(buf, op.offset, op.bits)));
      continue;
    }
    const bool is_incr = op.code == BitfieldOpCode::kIncrBy;
    bool overflow = false;
    int64_t reply = 0;
    uint64_t new_bits = 0;
    if (op.is_signed) {
      const int64_t old_value = GetSignedBits(buf, op.offset, op.bits);
      int64_t wrapped = 0;
      int64_t new_value = 0;
      if (is_incr) {
        overflow = SignedOverflows(old_value, op.value, op.bits, op.overflow, &wrapped);
        // Without overflow the sum fits in op.bits, so it cannot overflow int64.
        new_value = overflow ? wrapped : old_value + op.value;
        reply = new_value;
      } else {
        overflow = SignedOverflows(op.value, 0, op.bits, op.overflow, &wrapped);
        new_value = overflow ? wrapped : op.value;
        reply = old_value;
      }
      new_bits = static_cast<uint64_t>(new_value);
    } else {
      const uint64_t old_value = GetUnsignedBits(buf, op.offset, op.bits);
      uint64_t wrapped = 0;
      uint64_t new_value = 0;
      if (is_incr) {
        overflow = UnsignedOverflows(old_value, op.value, op.bits, op.overflow, &wrapped);
        new_value = overflow ? wrapped : old_value + static_cast<uint64_t>(op.value);
        reply = static_cast<int64_t>(new_value);
      } else {
        new_value = static_cast<uint64_t>(op.value);
        overflow = UnsignedOverflows(new_value, 0, op.bits, op.overflow, &wrapped);
        if (overflow) new_value = wrapped;
        reply = static_cast<int64_t>(old_value);
      }
      new_bits = new_value;
    }
    if (overflow && op.overflow == BitfieldOverflow::kFail) {
      out.results.emplace_back(std::nullopt);
      continue;
    }
    out.results.emplace_back(reply);
    SetBits(buf, op.offset, op.bits, new_bits);
  }
  if (plan.has_writes) {
    out.is_modified = !current || buf != *current;
    out.new_value = std::move(buf);
  }
  return out;
}

// ----------------------------------------------------------------------------- LCS

StrResult<LcsOptions> ParseLcsOptions(std::span<const std::string_view> args) {
  LcsOptions options;
  for (size_t j = 0; j < args.size(); ++j) {
    const bool has_more = j + 1 < args.size();
    if (IsKeyword(args[j], "idx")) {
      options.want_idx = true;
    } else if (IsKeyword(args[j], "len")) {
      options.want_len = true;
    } else if (IsKeyword(args[j], "withmatchlen")) {
      options.with_match_len = true;
    } else if (IsKeyword(args[j], "minmatchlen") && has_more) {
      std::optional<int64_t> v = ParseRedisInt(args[++j]);
      if (!v) return StrError::kNotInteger;
      options.min_match_len = std::max<int64_t>(*v, 0);
    } else {
      return StrError::kSyntax;
    }
  }
  if (options.want_len && options.want_idx) return StrError::kLcsLenAndIdx;
  return options;
}

StrResult<LcsOutcome> Lcs(std::string_view a, std::string_view b, const LcsOptions& options) {
  constexpr uint64_t kUint32Max = std::numeric_limits<uint32_t>::max();
  if (a.size() >= kUint32Max - 1 || b.size() >= kUint32Max - 1) return StrError::kLcsTooLong;
  const auto alen = static_cast<uint32_t>(a.size());
  const auto blen = static_cast<uint32_t>(b.size());
  const uint64_t cells = (uint64_t{alen} + 1) * (uint64_t{blen} + 1);
  if (cells * sizeof(uint32_t) > static_cast<uint64_t>(g_max_bulk_len)) {
    return StrError::kLcsMemoryLimit;
  }
  // table[i][j] = LCS length of a[0..i) and b[0..j), row-major with blen + 1 columns. Like
  // Redis (ztrymalloc) a failed allocation is an error reply, not an abort.
  std::unique_ptr<uint32_t[]> table(new (std::nothrow) uint32_t[cells]);
  if (!table) return StrError::kLcsAllocFailed;
  auto at = [&](uint32_t i, uint32_t j) -> uint32_t& {
    return table[uint64_t{i} * (uint64_t{blen} + 1) + j];
  };
  for (uint32_t i = 0; i <= alen; ++i) {
    for (uint32_t j = 0; j <= blen; ++j) {
      if (i == 0 || j == 0) {
        at(i, j) = 0;
      } else if (a[i - 1] == b[j - 1]) {
        at(i, j) = at(i - 1, j - 1) + 1;
      } else {
        at(i, j) = std::max(at(i - 1, j), at(i, j - 1));
      }
    }
  }

  LcsOutcome out;
  out.length = at(alen, blen);
  if (!options.want_idx && options.want_len) return out;
  out.lcs.assign(out.length, '\0');

  // Backtrack from the end exactly as Redis does: on a tie prefer moving in b (j--), and grow a
  // match range backwards while matches stay contiguous. `a_start == alen` means "no range".
  uint32_t idx = out.length;
  uint32_t a_start = alen, a_end = 0, b_start = 0, b_end = 0;
  uint32_t i = alen, j = blen;
  while (i > 0 && j > 0) {
    bool emit = false;
    if (a[i - 1] == b[j - 1]) {
      out.lcs[idx - 1] = a[i - 1];
      if (a_start == alen) {
        a_start = a_end = i - 1;
        b_start = b_end = j - 1;
      } else if (a_start == i && b_start == j) {
        --a_start;
        --b_start;
      } else {
        emit = true;
      }
      if (a_start == 0 || b_start == 0) emit = true;
      --idx;
      --i;
      --j;
    } else {
      if (at(i - 1, j) > at(i, j - 1)) {
        --i;
      } else {
        --j;
      }
      if (a_start != alen) emit = true;
    }
    if (emit) {
      const uint32_t match_len = a_end - a_start + 1;
      if (options.want_idx && (options.min_match_len == 0 || match_len >= options.min_match_len)) {
        out.matches.push_back(LcsMatch{a_start, a_end, b_start, b_end, match_len});
      }
      a_start = alen;
    }
  }
  return out;
}

int64_t MaxBulkLen() { return g_max_bulk_len; }
void SetMaxBulkLen(int64_t bytes) { g_max_bulk_len = bytes; }

}  // namespace kvmap
