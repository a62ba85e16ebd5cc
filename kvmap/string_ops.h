// SPDX-License-Identifier: Apache-2.0
//
// Value transformations behind the Redis string commands: INCR/DECR/INCRBY/DECRBY,
// INCRBYFLOAT, APPEND, SETRANGE, GETRANGE/SUBSTR, SETBIT/GETBIT, BITCOUNT, BITPOS, BITOP,
// BITFIELD/BITFIELD_RO and LCS. The module owns the maths only: it performs no I/O, never
// replies and keeps no state. Errors are StrError values, never exceptions (only std::bad_alloc
// from building a result string can escape, as for any allocation in the process). A command
// handler fetches the stored value, calls one function here, then writes back and replies from
// the returned value or StrError.
//
// Behaviour matches Redis 7.0.15 (src/t_string.c, src/bitops.c, src/util.c string2ll,
// string2ld and ld2string) with its default configuration (proto-max-bulk-len = 512 MB),
// including the order in which Redis checks arguments, so the first error reported is the same.
// Where that order depends on whether the key exists, the function takes the stored value as
// std::optional (nullopt = missing key) and the raw arguments, and says so in its contract.
// Type checks (WRONGTYPE) are the caller's job and come before any call here, as in Redis.
//
// Thread: any; all functions are pure and reentrant. strtold/snprintf follow LC_NUMERIC, which
// must stay "C" (nothing in the gateway calls setlocale).
// Buffers: inputs are borrowed for the duration of the call only. A returned std::string_view
// points into an input and is valid as long as that input is; everything else is owned.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvmap {

// ---------------------------------------------------------------------------------------------
// Error texts, word for word as Redis 7.0.15 sends them. Kept in one block so they can move to
// gateway/errors.h unchanged.
// ---------------------------------------------------------------------------------------------
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrIncrOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kErrDecrOverflow = "ERR decrement would overflow";
inline constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kErrNanOrInfinity = "ERR increment would produce NaN or Infinity";
inline constexpr std::string_view kErrStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view kErrOffsetOutOfRange = "ERR offset is out of range";
inline constexpr std::string_view kErrBitOffset =
    "ERR bit offset is not an integer or out of range";
inline constexpr std::string_view kErrBitValue = "ERR bit is not an integer or out of range";
inline constexpr std::string_view kErrBitposBit = "ERR The bit argument must be 1 or 0.";
inline constexpr std::string_view kErrSyntax = "ERR syntax error";
inline constexpr std::string_view kErrBitopNotSingleSource =
    "ERR BITOP NOT must be called with a single source key.";
inline constexpr std::string_view kErrBitfieldType =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is.";
inline constexpr std::string_view kErrBitfieldOverflowType = "ERR Invalid OVERFLOW type specified";
inline constexpr std::string_view kErrBitfieldRoWrite =
    "ERR BITFIELD_RO only supports the GET subcommand";
inline constexpr std::string_view kErrLcsLenAndIdx =
    "ERR If you want both the length and indexes, please just use IDX.";
inline constexpr std::string_view kErrLcsTooLong = "ERR String too long for LCS";
inline constexpr std::string_view kErrLcsMemoryLimit =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
inline constexpr std::string_view kErrLcsAllocFailed =
    "ERR Insufficient memory, failed allocating transient memory for LCS";
// LCS's own type error (it does not use WRONGTYPE); the caller sends it, nothing here returns it.
inline constexpr std::string_view kErrLcsWrongType =
    "ERR The specified keys must contain string values";

// Redis's default proto-max-bulk-len: the largest string value, in bytes.
inline constexpr int64_t kProtoMaxBulkLen = 512LL * 1024 * 1024;
// The largest bit offset SETBIT/GETBIT/BITFIELD accept by default: 512 MB * 8 - 1 = 2^32 - 1.
inline constexpr uint64_t kMaxBitOffset = static_cast<uint64_t>(kProtoMaxBulkLen) * 8 - 1;

// The string size limit in force: proto-max-bulk-len, which CONFIG SET can change at run time.
// Redis 7.0 reads it from its global server state in checkStringLength, the bit-offset check
// and LCS; so do these functions (APPEND, SETRANGE, SETBIT, BITFIELD, LCS). Default
// kProtoMaxBulkLen. Set on the loop thread only (start-up and CONFIG SET).
int64_t MaxBulkLen();
void SetMaxBulkLen(int64_t bytes);

// One code per distinct Redis error text above.
enum class StrError : uint8_t {
  kOk,
  kNotInteger,            // kErrNotInteger
  kIncrOverflow,          // kErrIncrOverflow
  kDecrOverflow,          // kErrDecrOverflow
  kNotFloat,              // kErrNotFloat
  kNanOrInfinity,         // kErrNanOrInfinity
  kStringTooLong,         // kErrStringTooLong
  kOffsetOutOfRange,      // kErrOffsetOutOfRange
  kBitOffset,             // kErrBitOffset
  kBitValue,              // kErrBitValue
  kBitposBit,             // kErrBitposBit
  kSyntax,                // kErrSyntax
  kBitopNotSingleSource,  // kErrBitopNotSingleSource
  kBitfieldType,          // kErrBitfieldType
  kBitfieldOverflowType,  // kErrBitfieldOverflowType
  kBitfieldRoWrite,       // kErrBitfieldRoWrite
  kLcsLenAndIdx,          // kErrLcsLenAndIdx
  kLcsTooLong,            // kErrLcsTooLong
  kLcsMemoryLimit,        // kErrLcsMemoryLimit
  kLcsAllocFailed,        // kErrLcsAllocFailed
};

// The full reply text ("ERR ...") for `error`; empty for kOk. The view is static.
std::string_view StrErrorText(StrError error);

// A value or an error code. Built implicitly from either; value() on an error is a programming
// error (it returns a default-constructed T in release builds).
template <typename T>
class StrResult {
 public:
  StrResult(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  StrResult(StrError error) : error_(error) {}      // NOLINT(google-explicit-constructor)

  bool ok() const { return error_ == StrError::kOk; }
  StrError error() const { return error_; }
  std::string_view error_text() const { return StrErrorText(error_); }
  const T& value() const& { return value_; }
  T& value() & { return value_; }
  T&& value() && { return std::move(value_); }
  const T& operator*() const& { return value_; }
  const T* operator->() const { return &value_; }

 private:
  StrError error_ = StrError::kOk;
  T value_{};
};

// ---------------------------------------------------------------------------------------------
// Integers: INCR, DECR, INCRBY, DECRBY
// ---------------------------------------------------------------------------------------------

// Redis string2ll: optional '-', then digits with no leading zero ("0" alone is fine), no '+',
// no spaces, at most 20 bytes, within int64. "-0" is rejected. nullopt when invalid.
std::optional<int64_t> ParseRedisInt(std::string_view text);

// The INCRBY argument: kNotInteger unless ParseRedisInt accepts it.
StrResult<int64_t> ParseIncrement(std::string_view arg);
// The DECRBY argument, already negated: kNotInteger, or kDecrOverflow for -2^63 (which Redis
// rejects before looking the key up).
StrResult<int64_t> ParseDecrement(std::string_view arg);

struct IncrByValue {
  int64_t value = 0;
  std::string text;  // decimal form: the bytes to store
};

// INCR/DECR/INCRBY/DECRBY on the stored value (nullopt = missing key, counts as 0): the new
// value, or kNotInteger when the stored value is not a string2ll integer, or kIncrOverflow when
// the sum leaves int64. The caller replies with `value` as an integer.
StrResult<IncrByValue> IncrBy(std::optional<std::string_view> current, int64_t delta);

// ---------------------------------------------------------------------------------------------
// INCRBYFLOAT
// ---------------------------------------------------------------------------------------------

// Redis string2ld: strtold over the whole input, which must be non-empty, shorter than 5120
// bytes, not start with a space, have no trailing bytes, not be NaN, and not overflow (nor
// underflow to zero). Note that strtold accepts "+1", "0x10", "1e5", ".5" and "inf".
std::optional<long double> ParseRedisLongDouble(std::string_view text);

// Redis ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and a trailing '.' removed, "-0"
// becomes "0"; infinities print as "inf"/"-inf".
std::string FormatLongDoubleHuman(long double value);

// INCRBYFLOAT: parses the stored value (nullopt = 0) and then the increment, both with
// ParseRedisLongDouble (kNotFloat), adds them in long double, and returns the formatted result
// (the bytes both to store and to reply as a bulk string). kNanOrInfinity when the sum is NaN or
// infinite (for example when either operand is "inf").
StrResult<std::string> IncrByFloat(std::optional<std::string_view> current,
                                   std::string_view increment);

// ---------------------------------------------------------------------------------------------
// APPEND, SETRANGE, GETRANGE/SUBSTR
// ---------------------------------------------------------------------------------------------

// APPEND: the new value (the caller replies with its length). A missing key just takes
// `suffix`; an existing one fails with kStringTooLong when the result would pass 512 MB.
StrResult<std::string> Append(std::optional<std::string_view> current, std::string_view suffix);

// The SETRANGE offset: kNotInteger, or kOffsetOutOfRange when negative. Checked before the key
// is read, as in Redis.
StrResult<int64_t> ParseSetRangeOffset(std::string_view arg);

struct SetRangeOutcome {
  // The value to store, or nullopt when Redis writes nothing (an empty `value`; a missing key
  // then stays missing).
  std::optional<std::string> new_value;
  int64_t length = 0;  // the integer reply: the string length after the command
};

// SETRANGE: overwrites `value` at `offset` (>= 0, from ParseSetRangeOffset), padding with zero
// bytes. An empty `value` changes nothing and is not size-checked (reply: current length, or 0
// for a missing key). Otherwise kStringTooLong when offset + size passes 512 MB.
StrResult<SetRangeOutcome> SetRange(std::optional<std::string_view> current, int64_t offset,
                                    std::string_view value);

struct IndexRange {
  int64_t start = 0;
  int64_t end = 0;
};

// GETRANGE/SUBSTR arguments: two string2ll integers, else kNotInteger. Parsed before the key
// is read, as in Redis.
StrResult<IndexRange> ParseGetRangeArgs(std::string_view start, std::string_view end);

// GETRANGE/SUBSTR: the bytes of `value` (pass "" for a missing key) between the inclusive
// indexes; negative indexes count from the end. Redis 7.0 quirks kept: when both are negative
// and start > end the result is empty; otherwise out-of-range indexes are clamped, so
// GETRANGE "Hello" -100 -50 is "H". The view points into `value`.
std::string_view GetRange(std::string_view value, int64_t start, int64_t end);
// GETRANGE's offset and length within a value of `size` bytes (length 0: empty reply).
std::pair<uint64_t, uint64_t> GetRangeSpan(uint64_t size, int64_t start, int64_t end);

// ---------------------------------------------------------------------------------------------
// SETBIT, GETBIT
// ---------------------------------------------------------------------------------------------

// A SETBIT/GETBIT bit offset: string2ll, 0 .. kMaxBitOffset, else kBitOffset.
StrResult<uint64_t> ParseBitOffset(std::string_view arg);
// The SETBIT bit value: exactly 0 or 1, else kBitValue (also for non-integers).
StrResult<int> ParseBitValue(std::string_view arg);

struct SetBitOutcome {
  std::string new_value;     // the value after the command (zero padded up to the bit's byte)
  int old_bit = 0;           // the integer reply
  bool is_modified = false;  // false: the stored bytes are unchanged, no write is needed
};

// SETBIT: sets bit `offset` (0 = most significant bit of byte 0) to `bit` (0 or 1). A missing
// key is created. is_modified follows Redis: key created, string grown, or the bit flipped.
SetBitOutcome SetBit(std::optional<std::string_view> current, uint64_t offset, int bit);

// GETBIT: the bit at `offset`, 0 beyond the end (pass "" for a missing key).
int GetBit(std::string_view value, uint64_t offset);

// ---------------------------------------------------------------------------------------------
// BITCOUNT, BITPOS
// ---------------------------------------------------------------------------------------------

// BITCOUNT key [start end [BYTE|BIT]]. `args` are the arguments after the key. Redis 7.0 reads
// the key first, so a missing key gives 0 whatever the arguments are. Otherwise: kNotInteger
// for start/end, then (quirk kept) both negative with start > end gives 0 before the mode word is
// checked, then kSyntax for a bad mode word or a wrong argument count.
StrResult<int64_t> BitCount(std::optional<std::string_view> value,
                            std::span<const std::string_view> args);

// BITPOS key bit [start [end [BYTE|BIT]]]. `args` are the arguments after the key (at least the
// bit; an empty span gives kSyntax). The bit is checked first (kNotInteger, then kBitposBit);
// then a missing key gives -1 when looking for 1 and 0 when looking for 0, whatever follows.
// Then start (kNotInteger), the mode word (kSyntax), end (kNotInteger), or kSyntax for more
// arguments. Looking for 0 without an explicit end, a string of all ones answers the first bit
// after the string (its length * 8); with an explicit end it answers -1. Empty ranges give -1.
StrResult<int64_t> BitPos(std::optional<std::string_view> value,
                          std::span<const std::string_view> args);

// ---------------------------------------------------------------------------------------------
// BITOP
// ---------------------------------------------------------------------------------------------

enum class BitOpKind : uint8_t { kAnd, kOr, kXor, kNot };

// The BITOP operation name (case-insensitive) and source count: kSyntax for an unknown name,
// kBitopNotSingleSource for NOT with other than one source.
StrResult<BitOpKind> ParseBitOp(std::string_view name, size_t num_sources);

// BITOP over the source values (a missing key is an empty string, "" here). The result is as
// long as the longest source, shorter sources count as zero padded. An empty result means
// Redis deletes the destination key; the integer reply is the result length.
std::string BitOp(BitOpKind kind, std::span<const std::string_view> sources);

// ---------------------------------------------------------------------------------------------
// BITFIELD, BITFIELD_RO
// ---------------------------------------------------------------------------------------------

enum class BitfieldOpCode : uint8_t { kGet, kSet, kIncrBy };
enum class BitfieldOverflow : uint8_t { kWrap, kSat, kFail };

struct BitfieldOp {
  BitfieldOpCode code = BitfieldOpCode::kGet;
  BitfieldOverflow overflow = BitfieldOverflow::kWrap;  // the OVERFLOW in force for this op
  bool is_signed = false;
  uint8_t bits = 0;     // 1..64 signed, 1..63 unsigned
  uint64_t offset = 0;  // in bits, '#' multiplier applied
  int64_t value = 0;    // SET value or INCRBY increment
};

struct BitfieldPlan {
  std::vector<BitfieldOp> ops;
  bool has_writes = false;  // any SET or INCRBY: the key is created/grown even if all FAIL
};

// Parses the arguments after the key of BITFIELD (or BITFIELD_RO when is_ro_command), left to
// right, stopping at the first error: kSyntax (unknown subcommand or missing arguments),
// kBitfieldOverflowType, kBitfieldType (i1..i64, u1..u63, lower-case prefix), kBitOffset (a
// plain offset or "#n" meaning n * width, then 0 .. kMaxBitOffset; like Redis the product wraps
// in 64 bits), kNotInteger (SET/INCRBY value). Only after the whole parse: kBitfieldRoWrite
// when BITFIELD_RO has a SET or INCRBY.
StrResult<BitfieldPlan> ParseBitfield(std::span<const std::string_view> args, bool is_ro_command);

struct BitfieldOutcome {
  // One reply per op in order: the integer, or nullopt (a null reply) for an op skipped by
  // OVERFLOW FAIL.
  std::vector<std::optional<int64_t>> results;
  // The value to store when the plan has writes (grown with zero bytes to cover the farthest
  // written bit, as Redis does even when every write FAILs); nullopt for GET-only plans.
  std::optional<std::string> new_value;
  // True when new_value must be written: the key was missing or the bytes changed.
  bool is_modified = false;
};

// Runs the ops in order on the stored value (nullopt = missing key, read as zeros). GETs see
// earlier writes of the same call.
BitfieldOutcome ApplyBitfield(std::optional<std::string_view> current, const BitfieldPlan& plan);

// ---------------------------------------------------------------------------------------------
// LCS
// ---------------------------------------------------------------------------------------------

struct LcsOptions {
  bool want_len = false;        // LEN
  bool want_idx = false;        // IDX
  bool with_match_len = false;  // WITHMATCHLEN
  int64_t min_match_len = 0;    // MINMATCHLEN (negative values become 0)
};

// The arguments after the two keys: options in any order and case, repeats allowed.
// kSyntax for an unknown word or MINMATCHLEN without a value, kNotInteger for its value, then
// kLcsLenAndIdx when both LEN and IDX are given. Redis checks the key types first.
StrResult<LcsOptions> ParseLcsOptions(std::span<const std::string_view> args);

struct LcsMatch {
  uint32_t a_start = 0;
  uint32_t a_end = 0;  // inclusive
  uint32_t b_start = 0;
  uint32_t b_end = 0;  // inclusive
  uint32_t length = 0;
};

struct LcsOutcome {
  uint32_t length = 0;  // LCS length ("len" in the IDX reply, the LEN reply)
  std::string lcs;      // the subsequence itself; filled unless LEN without IDX
  // IDX only: the matched ranges, from the end of the strings backwards (Redis order), already
  // filtered by MINMATCHLEN. Reply as [[a_start, a_end], [b_start, b_end]] plus length when
  // with_match_len.
  std::vector<LcsMatch> matches;
};

// LCS of two values (pass "" for a missing key) with the same dynamic programming table and
// backtracking as Redis 7.0, so IDX ranges match byte for byte. Reply shape is the caller's:
// IDX -> map {"matches": ..., "len": length}; LEN -> integer length; else bulk lcs.
// kLcsMemoryLimit when the (len(a)+1)*(len(b)+1)*4-byte table would pass 512 MB,
// kLcsTooLong for inputs of 2^32-1 bytes or more, kLcsAllocFailed when the table cannot be
// allocated. Time and memory are O(len(a) * len(b)).
StrResult<LcsOutcome> Lcs(std::string_view a, std::string_view b, const LcsOptions& options);

}  // namespace kvmap
