// SPDX-License-Identifier: Apache-2.0
#include "resp/reply_writer.h"

#include <cassert>
#include <charconv>
#include <cmath>

namespace resp {
namespace {

constexpr std::string_view kCrlf = "\r\n";

// Enough for a type byte, "-9223372036854775808" and CRLF.
constexpr size_t kHeaderBufSize = 32;

// Appends <type><value>\r\n without any temporary string.
void AppendPrefixed(std::string* out, char type, int64_t value) {
  char buf[kHeaderBufSize];
  buf[0] = type;
  const std::to_chars_result r = std::to_chars(buf + 1, buf + sizeof(buf) - 2, value);
  char* end = r.ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendBulk(std::string* out, std::string_view bytes) {
  // One allocation at most: header (at most 22 bytes), value, CRLF.
  out->reserve(out->size() + bytes.size() + 24);
  AppendPrefixed(out, '$', static_cast<int64_t>(bytes.size()));
  out->append(bytes);
  out->append(kCrlf);
}

// Appends <type><text>\r\n with CR and LF in text turned into spaces, as Redis 7.0
// addReplyErrorLength callers do, so that an error can never break the framing.
void AppendLineSanitized(std::string* out, char type, std::string_view text) {
  const size_t start = out->size() + 1;
  out->push_back(type);
  out->append(text);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out->append(kCrlf);
}

}  // namespace

size_t FormatDouble(double value, char* buf) {
  // Redis 7.0 spells the infinities out rather than trusting the libc. NaN is printed without
  // a sign (glibc's "%.17g" gives "-nan" for a negative NaN); Redis never stores a NaN.
  if (std::isinf(value) || std::isnan(value)) {
    const std::string_view text = std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
    text.copy(buf, text.size());
    return text.size();
  }
  // Same digits as printf("%.17g") in the C locale, but never locale dependent.
  const std::to_chars_result r =
      std::to_chars(buf, buf + 128, value, std::chars_format::general, 17);
  return static_cast<size_t>(r.ptr - buf);
}

void ReplyWriter::SimpleString(std::string_view text) {
  out_->push_back('+');
  out_->append(text);
  out_->append(kCrlf);
}

void ReplyWriter::Error(std::string_view text) { AppendLineSanitized(out_, '-', text); }

void ReplyWriter::Integer(int64_t value) { AppendPrefixed(out_, ':', value); }

void ReplyWriter::Bulk(std::string_view bytes) { AppendBulk(out_, bytes); }

void ReplyWriter::Null() {
  out_->append(protocol_ == Protocol::kResp3 ? std::string_view("_\r\n")
                                             : std::string_view("$-1\r\n"));
}

void ReplyWriter::NullArray() {
  out_->append(protocol_ == Protocol::kResp3 ? std::string_view("_\r\n")
                                             : std::string_view("*-1\r\n"));
}

void ReplyWriter::ArrayHeader(size_t count) { Header('*', static_cast<int64_t>(count)); }

void ReplyWriter::MapHeader(size_t count) {
  if (protocol_ == Protocol::kResp3) {
    Header('%', static_cast<int64_t>(count));
  } else {
    Header('*', static_cast<int64_t>(count * 2));
  }
}

void ReplyWriter::SetHeader(size_t count) {
  Header(protocol_ == Protocol::kResp3 ? '~' : '*', static_cast<int64_t>(count));
}

void ReplyWriter::PushHeader(size_t count) {
  Header(protocol_ == Protocol::kResp3 ? '>' : '*', static_cast<int64_t>(count));
}

void ReplyWriter::AttributeHeader(size_t count) {
  if (protocol_ == Protocol::kResp3) Header('|', static_cast<int64_t>(count));
}

void ReplyWriter::Double(double value) {
  char buf[128];
  const size_t len = FormatDouble(value, buf);
  const std::string_view text(buf, len);
  if (protocol_ == Protocol::kResp3) {
    out_->push_back(',');
    out_->append(text);
    out_->append(kCrlf);
  } else {
    AppendBulk(out_, text);
  }
}

void ReplyWriter::Boolean(bool value) {
  if (protocol_ == Protocol::kResp3) {
    out_->append(value ? std::string_view("#t\r\n") : std::string_view("#f\r\n"));
  } else {
    out_->append(value ? std::string_view(":1\r\n") : std::string_view(":0\r\n"));
  }
}

void ReplyWriter::BigNumber(std::string_view digits) {
  if (protocol_ == Protocol::kResp3) {
    out_->push_back('(');
    out_->append(digits);
    out_->append(kCrlf);
  } else {
    AppendBulk(out_, digits);
  }
}

void ReplyWriter::Verbatim(std::string_view format, std::string_view text) {
  assert(format.size() == 3);
  if (protocol_ == Protocol::kResp3) {
    AppendPrefixed(out_, '=', static_cast<int64_t>(text.size() + 4));
    out_->append(format);
    out_->push_back(':');
    out_->append(text);
    out_->append(kCrlf);
  } else {
    AppendBulk(out_, text);
  }
}

void ReplyWriter::BlobError(std::string_view text) {
  if (protocol_ == Protocol::kResp3) {
    AppendPrefixed(out_, '!', static_cast<int64_t>(text.size()));
    out_->append(text);
    out_->append(kCrlf);
  } else {
    AppendLineSanitized(out_, '-', text);
  }
}

void ReplyWriter::Header(char type, int64_t count) { AppendPrefixed(out_, type, count); }

}  // namespace resp
