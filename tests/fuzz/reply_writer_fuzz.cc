// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: resp::ReplyWriter round trip (docs/fuzzing.md).
//
// The input is a little program: each value starts with an op byte choosing a writer call
// (simple string, error, integer, bulk, null, null array, array/map/set/push header with its
// elements, attribute, double, boolean, big number, verbatim, blob error), followed by the
// bytes it needs. The values are written in RESP2 and in RESP3; the bytes are read back with
// the strict reader (tests/fuzz/reply_reader.h, RESP3 types refused in RESP2) and must give
// exactly the values written, with RESP2's documented degradations (null -> $-1, map -> flat
// array, double/big number/verbatim -> bulk, boolean -> integer, blob error -> error,
// attributes dropped). Error texts must come back with CR and LF turned into spaces.
// FormatDouble is also checked against printf("%.17g") and must read back to the same double.
//
// Thread: the fuzzing thread.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "resp/reply_writer.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/reply_reader.h"

namespace {

constexpr int kMaxDepth = 6;
constexpr size_t kMaxValues = 512;

class Input {
 public:
  explicit Input(std::string_view bytes) : bytes_(bytes) {}
  bool empty() const { return pos_ >= bytes_.size(); }
  uint8_t Byte() { return empty() ? 0 : static_cast<uint8_t>(bytes_[pos_++]); }
  uint64_t U64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }
  // A length byte, then that many bytes (fewer at the end of the input).
  std::string_view Text() {
    size_t n = Byte();
    if (n > bytes_.size() - std::min(pos_, bytes_.size())) n = bytes_.size() - pos_;
    std::string_view s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

std::string WithoutCrLf(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

std::string DoubleText(double v) {
  char buf[128];
  return std::string(buf, resp::FormatDouble(v, buf));
}

void CheckFormatDouble(double v) {
  const std::string text = DoubleText(v);
  if (std::isnan(v)) {
    FUZZ_CHECK(text == "nan", "FormatDouble(nan) = %s", text.c_str());
    return;
  }
  if (std::isinf(v)) {
    FUZZ_CHECK(text == (v > 0 ? "inf" : "-inf"), "FormatDouble(inf) = %s", text.c_str());
    return;
  }
  char want[128];
  std::snprintf(want, sizeof(want), "%.17g", v);
  FUZZ_CHECK(text == want, "FormatDouble gives %s, printf %%.17g gives %s", text.c_str(), want);
  const double back = std::strtod(text.c_str(), nullptr);
  FUZZ_CHECK(std::memcmp(&back, &v, sizeof(v)) == 0, "%s does not read back to the same double",
             text.c_str());
}

// Writes one value in both protocols and builds what each should read back as.
class Program {
 public:
  explicit Program(std::string_view bytes) : in_(bytes) {}

  bool More() const { return !in_.empty() && values_ < kMaxValues; }

  // Appends one value (with its elements) to w2/w3 and to the expected lists.
  void Value(int depth, std::vector<fuzz::Reply>* e2, std::vector<fuzz::Reply>* e3) {
    ++values_;
    fuzz::Reply r2, r3;
    const uint8_t op = in_.Byte() % 16;
    switch (op) {
      case 0: {  // simple string: the contract forbids CR and LF, so they are dropped first
        std::string text;
        for (char c : in_.Text()) {
          if (c != '\r' && c != '\n') text.push_back(c);
        }
        w2_.SimpleString(text);
        w3_.SimpleString(text);
        r2.type = r3.type = '+';
        r2.str = r3.str = text;
        break;
      }
      case 1: {
        std::string text(in_.Text());
        if (text.empty()) text = "ERR";
        w2_.Error(text);
        w3_.Error(text);
        r2.type = r3.type = '-';
        r2.str = r3.str = WithoutCrLf(text);
        break;
      }
      case 2: {
        const int64_t v = static_cast<int64_t>(in_.U64());
        w2_.Integer(v);
        w3_.Integer(v);
        r2.type = r3.type = ':';
        r2.integer = r3.integer = v;
        break;
      }
      case 3: {
        const std::string_view b = in_.Text();
        w2_.Bulk(b);
        w3_.Bulk(b);
        r2.type = r3.type = '$';
        r2.str = r3.str = std::string(b);
        break;
      }
      case 4:
      case 5:
        if (op == 4) {
          w2_.Null();
          w3_.Null();
        } else {
          w2_.NullArray();
          w3_.NullArray();
        }
        r2.type = op == 4 ? '$' : '*';
        r3.type = '_';
        r2.is_null = r3.is_null = true;
        break;
      case 6:
      case 7:
      case 8:
      case 9: {
        const size_t n = depth < kMaxDepth ? in_.Byte() % 4 : 0;
        const char t3 = "*%~>"[op - 6];
        if (op == 6) {
          w2_.ArrayHeader(n);
          w3_.ArrayHeader(n);
        } else if (op == 7) {
          w2_.MapHeader(n);
          w3_.MapHeader(n);
        } else if (op == 8) {
          w2_.SetHeader(n);
          w3_.SetHeader(n);
        } else {
          w2_.PushHeader(n);
          w3_.PushHeader(n);
        }
        r2.type = '*';
        r3.type = t3;
        const size_t elements = op == 7 ? 2 * n : n;
        for (size_t i = 0; i < elements; ++i) Value(depth + 1, &r2.elements, &r3.elements);
        break;
      }
      case 10: {  // attribute: n pairs, then the value they describe
        const size_t n = depth < kMaxDepth ? 1 + in_.Byte() % 2 : 0;
        if (n == 0) {
          w2_.Null();
          w3_.Null();
          r2.type = '$';
          r3.type = '_';
          r2.is_null = r3.is_null = true;
          break;
        }
        w2_.AttributeHeader(n);
        w3_.AttributeHeader(n);
        // RESP2 has no attributes: a caller writes the pairs only when has_attributes().
        FUZZ_CHECK(!w2_.has_attributes() && w3_.has_attributes(), "has_attributes");
        std::vector<fuzz::Reply> attrs3, ignored2;
        for (size_t i = 0; i < 2 * n; ++i) {
          const size_t before = w2_.buffer()->size();
          Value(depth + 1, &ignored2, &attrs3);
          w2_.buffer()->resize(before);
        }
        std::vector<fuzz::Reply> v2, v3;
        Value(depth + 1, &v2, &v3);
        r2 = std::move(v2.front());
        r3 = std::move(v3.front());
        // An attribute before a value that already had one merges into one list when read.
        attrs3.insert(attrs3.end(), r3.attributes.begin(), r3.attributes.end());
        r3.attributes = std::move(attrs3);
        break;
      }
      case 11: {
        const uint64_t bits = in_.U64();
        double v;
        std::memcpy(&v, &bits, sizeof(v));
        CheckFormatDouble(v);
        w2_.Double(v);
        w3_.Double(v);
        r2.type = '$';
        r3.type = ',';
        r2.str = r3.str = DoubleText(v);
        break;
      }
      case 12: {
        const bool b = in_.Byte() & 1;
        w2_.Boolean(b);
        w3_.Boolean(b);
        r2.type = ':';
        r3.type = '#';
        r2.integer = r3.integer = b ? 1 : 0;
        break;
      }
      case 13: {  // big number: the caller promises a valid integer literal
        const std::string_view raw = in_.Text();
        std::string digits = raw.empty() || (raw[0] & 1) == 0 ? "" : "-";
        for (char c : raw) digits.push_back(static_cast<char>('0' + static_cast<uint8_t>(c) % 10));
        if (digits.empty() || digits == "-") digits += "0";
        w2_.BigNumber(digits);
        w3_.BigNumber(digits);
        r2.type = '$';
        r3.type = '(';
        r2.str = r3.str = digits;
        break;
      }
      case 14: {
        const std::string_view format = (in_.Byte() & 1) ? "txt" : "mkd";
        const std::string_view text = in_.Text();
        w2_.Verbatim(format, text);
        w3_.Verbatim(format, text);
        r2.type = '$';
        r3.type = '=';
        r2.str = r3.str = std::string(text);
        r3.format = std::string(format);
        break;
      }
      case 15: {
        std::string text(in_.Text());
        if (text.empty()) text = "ERR";
        w2_.BlobError(text);
        w3_.BlobError(text);
        r2.type = '-';
        r2.str = WithoutCrLf(text);
        r3.type = '!';
        r3.str = text;
        break;
      }
    }
    e2->push_back(std::move(r2));
    e3->push_back(std::move(r3));
  }

  const std::string& out2() const { return out2_; }
  const std::string& out3() const { return out3_; }

 private:
  Input in_;
  size_t values_ = 0;
  std::string out2_, out3_;
  resp::ReplyWriter w2_{&out2_, resp::Protocol::kResp2};
  resp::ReplyWriter w3_{&out3_, resp::Protocol::kResp3};
};

void CheckReadBack(const std::string& bytes, bool is_resp3, const std::vector<fuzz::Reply>& want) {
  std::vector<fuzz::Reply> got;
  std::string error;
  const int64_t n = fuzz::ReadAllReplies(bytes, is_resp3, &got, &error);
  FUZZ_CHECK(n >= 0, "RESP%d output is malformed: %s", is_resp3 ? 3 : 2, error.c_str());
  FUZZ_CHECK(got.size() == want.size(), "RESP%d: wrote %zu values, read %zu", is_resp3 ? 3 : 2,
             want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    FUZZ_CHECK(got[i] == want[i], "RESP%d value %zu: wrote %s, read %s", is_resp3 ? 3 : 2, i,
               fuzz::Describe(want[i]).c_str(), fuzz::Describe(got[i]).c_str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Program program(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<fuzz::Reply> want2, want3;
  while (program.More()) program.Value(0, &want2, &want3);
  CheckReadBack(program.out2(), false, want2);
  CheckReadBack(program.out3(), true, want3);
  return 0;
}
