// SPDX-License-Identifier: Apache-2.0
//
// resp::ReplyWriter appends RESP2 or RESP3 replies to a caller-owned byte buffer.
//
// Every RESP3 type has a writer. In RESP2 mode the RESP3-only types degrade exactly as Redis
// 7.0 does (src/networking.c, addReply* functions): null is `$-1` (or `*-1` for a null array),
// a map is an array of 2N elements, a set is an array, a double is a bulk string, a boolean is
// the integer 1 or 0, a big number is a bulk string, a verbatim string is a bulk string, and a
// push frame is an array. Attributes are dropped in RESP2.
//
// Numbers are formatted without allocating. Doubles use Redis's formatting (`%.17g`, "inf",
// "-inf", "nan" in RESP3; bulk form in RESP2).
//
// Thread: whatever thread owns the buffer. Standard library only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace resp {

enum class Protocol : uint8_t { kResp2 = 2, kResp3 = 3 };

class ReplyWriter {
 public:
  // Appends to *out, which must outlive the writer.
  ReplyWriter(std::string* out, Protocol protocol) : out_(out), protocol_(protocol) {}

  Protocol protocol() const { return protocol_; }
  std::string* buffer() { return out_; }

  // `+text\r\n`. text must not contain CR or LF.
  void SimpleString(std::string_view text);
  void Ok() { SimpleString("OK"); }
  // `-text\r\n`. text is the whole message including its code ("ERR ...", "WRONGTYPE ...").
  // CR and LF inside text are replaced by spaces, as Redis does.
  void Error(std::string_view text);
  void Integer(int64_t value);
  void Bulk(std::string_view bytes);
  // The null bulk string: `$-1` in RESP2, `_` in RESP3.
  void Null();
  // The null array: `*-1` in RESP2, `_` in RESP3.
  void NullArray();
  void ArrayHeader(size_t count);
  // RESP3 `%N`; RESP2 `*2N`. count is the number of key/value pairs.
  void MapHeader(size_t count);
  // RESP3 `~N`; RESP2 `*N`.
  void SetHeader(size_t count);
  // RESP3 `>N`; RESP2 `*N`.
  void PushHeader(size_t count);
  // RESP3 `|N` (then N key/value pairs follow); the caller must skip writing them in RESP2
  // (use has_attributes()).
  void AttributeHeader(size_t count);
  bool has_attributes() const { return protocol_ == Protocol::kResp3; }
  // RESP3 `,<double>`; RESP2 bulk string of the same text.
  void Double(double value);
  // RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
  void Boolean(bool value);
  // RESP3 `(digits`; RESP2 bulk string. digits must be a valid integer literal.
  void BigNumber(std::string_view digits);
  // RESP3 `=len\r\nfmt:text`; RESP2 bulk string of text. format is exactly 3 bytes ("txt").
  void Verbatim(std::string_view format, std::string_view text);
  // RESP3 `!len\r\n...` blob error; RESP2 `-text`.
  void BlobError(std::string_view text);
  // Appends already-encoded RESP bytes unchanged.
  void Raw(std::string_view bytes) { out_->append(bytes); }

 private:
  void Header(char type, int64_t count);

  std::string* out_;
  Protocol protocol_;
};

// Formats a double as Redis 7.0 addReplyDouble does (ZSCORE and other double replies):
// "inf", "-inf", "nan", otherwise the digits of printf("%.17g") in the C locale, for example
// 0.1 -> "0.10000000000000001" and 1e20 -> "1e+20". Not for INCRBYFLOAT: Redis formats that
// result from a long double, human friendly (ld2string with LD_STR_HUMAN).
// Returns the number of bytes written to buf (buf must hold at least 128 bytes). No allocation.
size_t FormatDouble(double value, char* buf);

}  // namespace resp
