// SPDX-License-Identifier: Apache-2.0
#include "kvmap/js_api.h"

#include <charconv>
#include <ctime>

#include "kvmap/nats_protocol.h"

namespace kvmap {
namespace {

// Position just after `"field":` (whitespace skipped), or npos.
size_t FindFieldValue(std::string_view json, std::string_view field) {
  std::string pattern;
  pattern.reserve(field.size() + 3);
  pattern.push_back('"');
  pattern.append(field);
  pattern.push_back('"');
  size_t at = 0;
  while ((at = json.find(pattern, at)) != std::string_view::npos) {
    size_t p = at + pattern.size();
    while (p < json.size() && (json[p] == ' ' || json[p] == '\t')) ++p;
    if (p < json.size() && json[p] == ':') {
      ++p;
      while (p < json.size() && (json[p] == ' ' || json[p] == '\t')) ++p;
      return p;
    }
    at = p;
  }
  return std::string_view::npos;
}

std::optional<int64_t> FindJsonInt(std::string_view json, std::string_view field) {
  size_t p = FindFieldValue(json, field);
  if (p == std::string_view::npos) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(json.data() + p, json.data() + json.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

std::string FindJsonString(std::string_view json, std::string_view field) {
  size_t p = FindFieldValue(json, field);
  std::string out;
  if (p == std::string_view::npos || p >= json.size() || json[p] != '"') return out;
  for (++p; p < json.size() && json[p] != '"'; ++p) {
    if (json[p] == '\\' && p + 1 < json.size()) ++p;
    out.push_back(json[p]);
  }
  return out;
}

// Standard base64 (with padding, as Go's encoding/json writes []byte). nullopt on bad input.
std::optional<std::string> Base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s, bool ascii_only) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20 || (ascii_only && c >= 0x7f)) {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

std::optional<uint64_t> FindJsonUint(std::string_view json, std::string_view field) {
  size_t p = FindFieldValue(json, field);
  if (p == std::string_view::npos) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(json.data() + p, json.data() + json.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

std::optional<JsApiError> ParseJsApiError(std::string_view json) {
  size_t p = FindFieldValue(json, "error");
  if (p == std::string_view::npos || p >= json.size() || json[p] != '{') return std::nullopt;
  std::string_view obj = json.substr(p);
  JsApiError err;
  err.code = static_cast<int>(FindJsonInt(obj, "code").value_or(0));
  err.err_code = static_cast<int>(FindJsonInt(obj, "err_code").value_or(0));
  err.description = FindJsonString(obj, "description");
  return err;
}

WriteResult ParsePubAck(std::string_view json) {
  WriteResult result;
  if (auto err = ParseJsApiError(json)) {
    result.detail = err->description;
    if (err->err_code == kJsErrWrongLastSequence) {
      result.status = KvStatus::kRevisionMismatch;
      constexpr std::string_view kPrefix = "wrong last sequence: ";
      size_t at = err->description.find(kPrefix);
      if (at != std::string::npos) {
        uint64_t current = 0;
        const char* begin = err->description.data() + at + kPrefix.size();
        const char* end = err->description.data() + err->description.size();
        if (std::from_chars(begin, end, current).ec == std::errc()) {
          result.current_revision = current;
        }
      }
    } else if (err->description.find("maximum") != std::string::npos &&
               err->description.find("size") != std::string::npos) {
      result.status = KvStatus::kTooLarge;
    } else {
      result.status = KvStatus::kInternal;
    }
    return result;
  }
  auto seq = FindJsonUint(json, "seq");
  if (!seq) {
    result.status = KvStatus::kInternal;
    result.detail = "unexpected publish acknowledgement";
    return result;
  }
  result.status = KvStatus::kOk;
  result.revision = *seq;
  size_t dup = FindFieldValue(json, "duplicate");
  result.is_duplicate = dup != std::string_view::npos && json.substr(dup, 4) == "true";
  return result;
}

std::string BuildKvStreamConfig(const BucketConfig& config) {
  std::string stream = "KV_" + config.name;
  std::string subject = "$KV." + config.name + ".>";
  std::string out = "{\"name\":";
  AppendJsonString(&out, stream);
  out += ",\"subjects\":[";
  AppendJsonString(&out, subject);
  out += "],\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1";
  out += ",\"max_age\":0,\"max_msgs_per_subject\":" + std::to_string(config.history);
  out += ",\"max_msg_size\":-1,\"discard\":\"new\",\"storage\":\"file\"";
  out += ",\"num_replicas\":" + std::to_string(config.replicas);
  out += ",\"duplicate_window\":" + std::to_string(config.duplicate_window_ns);
  out += ",\"allow_direct\":true,\"allow_rollup_hdrs\":true,\"deny_delete\":true";
  out += ",\"deny_purge\":false,\"mirror_direct\":false}";
  return out;
}

bool IsValidBucketName(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string BuildLastBySubjectRequest(std::string_view subject) {
  std::string out = "{\"last_by_subj\":";
  AppendJsonString(&out, subject);
  out.push_back('}');
  return out;
}

GetResult ParseStreamMsgGet(std::string_view json) {
  GetResult r;
  if (auto err = ParseJsApiError(json)) {
    r.status = err->err_code == kJsErrNoMessageFound ? KvStatus::kNotFound : KvStatus::kInternal;
    r.detail = err->description;
    return r;
  }
  size_t p = FindFieldValue(json, "message");
  if (p == std::string_view::npos || p >= json.size() || json[p] != '{') {
    r.detail = "unexpected message get answer";
    return r;
  }
  std::string_view msg = json.substr(p);
  // "data" and "hdrs" are base64 and "subject" a KV subject, so none contains a quote that
  // FindJsonString would have to unescape; a field absent (no payload) decodes as empty.
  std::optional<uint64_t> seq = FindJsonUint(msg, "seq");
  std::optional<std::string> data = Base64Decode(FindJsonString(msg, "data"));
  std::optional<std::string> hdrs = Base64Decode(FindJsonString(msg, "hdrs"));
  if (!seq || !data || !hdrs) {
    r.detail = "malformed message get answer";
    return r;
  }
  Entry& e = r.entry;
  e.revision = *seq;
  e.timestamp_ns = ParseNatsTimestamp(FindJsonString(msg, "time")).value_or(0);
  std::string subject = FindJsonString(msg, "subject");  // $KV.<bucket>.<key>
  size_t first = subject.find('.');
  size_t second = first == std::string::npos ? first : subject.find('.', first + 1);
  if (second != std::string::npos) e.key = subject.substr(second + 1);
  ForEachHeader(*hdrs, [&](std::string_view name, std::string_view value) {
    if (name == kHdrKvOperation) {
      if (value == "DEL") e.op = EntryOp::kDelete;
      if (value == "PURGE") e.op = EntryOp::kPurge;
    } else if (IsWritableHeader(name)) {
      e.headers.emplace_back(std::string(name), std::string(value));
    }
  });
  e.value = std::move(*data);
  r.status = KvStatus::kOk;
  return r;
}

std::optional<int64_t> ParseNatsTimestamp(std::string_view text) {
  // 2006-01-02T15:04:05.999999999Z
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  bool ok = true;
  auto num = [&](size_t pos, size_t len) -> int {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') ok = false;
    }
    std::from_chars(text.data() + pos, text.data() + pos + len, v);
    return v;
  };
  struct tm tm = {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (!ok || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  int64_t ns = 0;
  size_t p = 19;
  if (p < text.size() && text[p] == '.') {
    int64_t scale = 100'000'000;
    for (++p; p < text.size() && text[p] >= '0' && text[p] <= '9'; ++p) {
      ns += (text[p] - '0') * scale;
      scale /= 10;
    }
  }
  if (p >= text.size() || text[p] != 'Z') return std::nullopt;
  time_t secs = timegm(&tm);
  return static_cast<int64_t>(secs) * 1'000'000'000 + ns;
}

GetResult ParseDirectGetMessage(std::string_view headers, std::string_view payload,
                                std::string* subject) {
  GetResult r;
  Entry& e = r.entry;
  bool has_sequence = false;
  ForEachHeader(headers, [&](std::string_view name, std::string_view value) {
    if (name == "Nats-Sequence") {
      has_sequence =
          std::from_chars(value.data(), value.data() + value.size(), e.revision).ec == std::errc();
    } else if (name == "Nats-Time-Stamp") {
      e.timestamp_ns = ParseNatsTimestamp(value).value_or(0);
    } else if (name == "Nats-Subject") {
      if (subject != nullptr) subject->assign(value);
      size_t first = value.find('.');
      size_t second = first == std::string_view::npos ? first : value.find('.', first + 1);
      if (second != std::string_view::npos) e.key = std::string(value.substr(second + 1));
    } else if (name == kHdrKvOperation) {
      if (value == "DEL") e.op = EntryOp::kDelete;
      if (value == "PURGE") e.op = EntryOp::kPurge;
    } else if (IsWritableHeader(name)) {
      e.headers.emplace_back(std::string(name), std::string(value));
    }
  });
  if (!has_sequence) {
    r.status = KvStatus::kInternal;
    r.detail = "direct get answer without Nats-Sequence";
  } else {
    r.status = KvStatus::kOk;
    e.value.assign(payload.data(), payload.size());
  }
  return r;
}

}  // namespace kvmap
