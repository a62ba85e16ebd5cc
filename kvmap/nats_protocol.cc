// SPDX-License-Identifier: Apache-2.0
#include "kvmap/nats_protocol.h"

#include <charconv>

#include "kvmap/js_api.h"

namespace kvmap {
namespace {

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Splits `line` on spaces/tabs into up to 6 fields; returns the count (7 = too many).
size_t SplitFields(std::string_view line, std::string_view* fields) {
  size_t n = 0, i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == line.size()) break;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (n == 6) return 7;
    fields[n++] = line.substr(start, i - start);
  }
  return n;
}

bool ToSize(std::string_view s, size_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

void AppendDecimal(std::string* out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, static_cast<size_t>(end - buf));
}

}  // namespace

NatsParseStatus ParseNatsOp(std::string_view data, NatsOp* op, size_t* consumed,
                            std::string* error) {
  size_t eol = data.find("\r\n");
  if (eol == std::string_view::npos) {
    if (data.size() > kMaxServerControlLine) {
      *error = "control line too long";
      return NatsParseStatus::kError;
    }
    return NatsParseStatus::kNeedMore;
  }
  std::string_view line = data.substr(0, eol);
  size_t after_line = eol + 2;
  *op = NatsOp();
  if (StartsWithNoCase(line, "MSG ") || StartsWithNoCase(line, "HMSG ")) {
    bool has_headers = line[0] == 'H' || line[0] == 'h';
    std::string_view f[6];
    size_t n = SplitFields(line, f);
    // MSG subj sid [reply] size | HMSG subj sid [reply] hdr_size total_size
    size_t min_fields = has_headers ? 5 : 4;
    if (n < min_fields || n > min_fields + 1) {
      *error = "malformed message line";
      return NatsParseStatus::kError;
    }
    op->type = NatsOpType::kMsg;
    op->subject = f[1];
    size_t sid = 0;
    if (!ToSize(f[2], &sid)) {
      *error = "malformed sid";
      return NatsParseStatus::kError;
    }
    op->sid = sid;
    bool has_reply = n == min_fields + 1;
    if (has_reply) op->reply = f[3];
    size_t hdr_size = 0, total = 0;
    size_t idx = has_reply ? 4 : 3;
    if (has_headers) {
      if (!ToSize(f[idx], &hdr_size) || !ToSize(f[idx + 1], &total) || hdr_size > total) {
        *error = "malformed sizes";
        return NatsParseStatus::kError;
      }
    } else if (!ToSize(f[idx], &total)) {
      *error = "malformed size";
      return NatsParseStatus::kError;
    }
    if (data.size() < after_line + total + 2) return NatsParseStatus::kNeedMore;
    std::string_view body = data.substr(after_line, total);
    op->headers = body.substr(0, hdr_size);
    op->payload = body.substr(hdr_size);
    *consumed = after_line + total + 2;
    return NatsParseStatus::kOp;
  }
  *consumed = after_line;
  if (StartsWithNoCase(line, "PING")) {
    op->type = NatsOpType::kPing;
  } else if (StartsWithNoCase(line, "PONG")) {
    op->type = NatsOpType::kPong;
  } else if (StartsWithNoCase(line, "+OK")) {
    op->type = NatsOpType::kOk;
  } else if (StartsWithNoCase(line, "-ERR")) {
    op->type = NatsOpType::kErr;
    std::string_view text = line.substr(4);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    if (text.size() >= 2 && text.front() == '\'' && text.back() == '\'') {
      text = text.substr(1, text.size() - 2);
    }
    op->text = text;
  } else if (StartsWithNoCase(line, "INFO")) {
    op->type = NatsOpType::kInfo;
    std::string_view text = line.substr(4);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    op->text = text;
  } else {
    *error = "unknown protocol operation";
    return NatsParseStatus::kError;
  }
  return NatsParseStatus::kOp;
}

int HeaderStatus(std::string_view block, std::string_view* description) {
  size_t eol = block.find("\r\n");
  std::string_view first = block.substr(0, eol);
  if (first.size() < 8 || first.substr(0, 8) != "NATS/1.0") return 0;
  std::string_view rest = first.substr(8);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.size() < 3) return 0;
  int code = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + 3, code);
  if (ec != std::errc()) return 0;
  if (description != nullptr) {
    std::string_view d = rest.substr(3);
    while (!d.empty() && d.front() == ' ') d.remove_prefix(1);
    *description = d;
  }
  return code;
}

std::string_view FindHeaderValue(std::string_view block, std::string_view name) {
  std::string_view found;
  bool done = false;
  ForEachHeader(block, [&](std::string_view n, std::string_view v) {
    if (!done && n == name) {
      found = v;
      done = true;
    }
  });
  return found;
}

void AppendConnect(std::string* out, const NatsConnectOptions& options) {
  out->append("CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false,");
  out->append("\"headers\":true,\"no_responders\":true,\"protocol\":1,\"lang\":\"cpp\",");
  out->append("\"version\":\"0.1.0\",\"name\":");
  AppendJsonString(out, options.name);
  if (!options.user.empty()) {
    out->append(",\"user\":");
    AppendJsonString(out, options.user);
    out->append(",\"pass\":");
    AppendJsonString(out, options.pass);
  }
  if (!options.token.empty()) {
    out->append(",\"auth_token\":");
    AppendJsonString(out, options.token);
  }
  if (!options.jwt.empty()) {
    out->append(",\"jwt\":");
    AppendJsonString(out, options.jwt);
  }
  if (!options.nkey.empty()) {
    out->append(",\"nkey\":");
    AppendJsonString(out, options.nkey);
  }
  if (!options.sig.empty()) {
    out->append(",\"sig\":");
    AppendJsonString(out, options.sig);
  }
  if (!options.echo) out->append(",\"echo\":false");
  out->append("}\r\n");
}

void AppendSub(std::string* out, std::string_view subject, uint64_t sid) {
  out->append("SUB ").append(subject).push_back(' ');
  AppendDecimal(out, sid);
  out->append("\r\n");
}

void AppendPub(std::string* out, std::string_view subject, std::string_view reply,
               std::string_view payload) {
  out->append("PUB ").append(subject);
  if (!reply.empty()) out->append(" ").append(reply);
  out->push_back(' ');
  AppendDecimal(out, payload.size());
  out->append("\r\n").append(payload).append("\r\n");
}

size_t HeaderBlockSize(const Headers& headers) {
  size_t n = 10 + 2;  // "NATS/1.0\r\n" ... "\r\n"
  for (const Header& h : headers) n += h.first.size() + 2 + h.second.size() + 2;
  return n;
}

void AppendHpub(std::string* out, std::string_view subject, std::string_view reply,
                const Headers& headers, std::string_view payload) {
  size_t hdr = HeaderBlockSize(headers);
  out->append("HPUB ").append(subject);
  if (!reply.empty()) out->append(" ").append(reply);
  out->push_back(' ');
  AppendDecimal(out, hdr);
  out->push_back(' ');
  AppendDecimal(out, hdr + payload.size());
  out->append("\r\nNATS/1.0\r\n");
  for (const Header& h : headers) {
    out->append(h.first).append(": ").append(h.second).append("\r\n");
  }
  out->append("\r\n").append(payload).append("\r\n");
}

int64_t InfoMaxPayload(std::string_view info_json) {
  auto v = FindJsonUint(info_json, "max_payload");
  return v ? static_cast<int64_t>(*v) : 0;
}

}  // namespace kvmap
