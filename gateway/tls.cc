// SPDX-License-Identifier: Apache-2.0
#include "gateway/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <vector>

namespace gateway {
namespace {

// An output BIO that grew past this (a large reply) is replaced once drained, so a connection
// that sent one big value does not keep its buffer while idle.
constexpr size_t kMaxKeptBioCapacity = 256 * 1024;

// OpenSSL's queued errors as "reason; reason", oldest first; clears the queue.
std::string DrainErrors() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    char buf[256];
    if (reason == nullptr) {
      ERR_error_string_n(e, buf, sizeof(buf));
      reason = buf;
    }
    if (out.find(reason) != std::string::npos) continue;  // the same reason repeated
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out.empty() ? std::string("unknown error") : out;
}

struct ProtocolRange {
  int min = TLS1_2_VERSION;
  int max = 0;  // 0 = the highest OpenSSL supports
};

// Redis's tls-protocols: a space-separated set of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3. OpenSSL
// takes a range, so a set with a gap ("TLSv1.1 TLSv1.3") enables the versions between too.
std::string ParseProtocols(std::string_view text, ProtocolRange* range) {
  static constexpr std::pair<std::string_view, int> kVersions[] = {
      {"tlsv1", TLS1_VERSION},
      {"tlsv1.1", TLS1_1_VERSION},
      {"tlsv1.2", TLS1_2_VERSION},
      {"tlsv1.3", TLS1_3_VERSION},
  };
  int lo = INT_MAX, hi = 0;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != ',') ++i;
    if (i == start) break;
    std::string word;
    for (char c : text.substr(start, i - start)) {
      word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    int version = 0;
    for (const auto& [name, v] : kVersions) {
      if (word == name) version = v;
    }
    if (version == 0) {
      return "unknown TLS protocol '" + std::string(text.substr(start, i - start)) +
             "' (expected TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)";
    }
    lo = std::min(lo, version);
    hi = std::max(hi, version);
  }
  if (hi == 0) return {};  // empty: the default range
  range->min = lo;
  range->max = hi;
  return {};
}

// Settings both roles share. Returns an error message or empty.
std::string ConfigureCommon(SSL_CTX* ctx, std::string_view protocols) {
  ProtocolRange range;
  std::string err = ParseProtocols(protocols, &range);
  if (!err.empty()) return err;
  if (SSL_CTX_set_min_proto_version(ctx, range.min) != 1 ||
      (range.max != 0 && SSL_CTX_set_max_proto_version(ctx, range.max) != 1)) {
    return "cannot set the TLS protocol versions: " + DrainErrors();
  }
  // No compression (CRIME); no renegotiation (a client could make the server redo expensive
  // handshakes at will). RELEASE_BUFFERS frees OpenSSL's record buffers while a connection is
  // idle (about 34 KiB each), as Redis does.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return {};
}

std::string LoadCertificateAndKey(SSL_CTX* ctx, const std::string& cert_file,
                                  const std::string& key_file) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return "cannot load certificate file " + cert_file + ": " + DrainErrors();
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return "cannot load private key file " + key_file + ": " + DrainErrors();
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return "private key " + key_file + " does not match certificate " + cert_file + ": " +
           DrainErrors();
  }
  return {};
}

std::string DescribeCaLocation(const std::string& file, const std::string& dir) {
  if (!file.empty() && !dir.empty()) return file + " and " + dir;
  return file.empty() ? dir : file;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// TlsContext

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsContext> TlsContext::CreateServer(const TlsServerOptions& options,
                                                     std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + DrainErrors();
    return nullptr;
  }
  std::unique_ptr<TlsContext> result(new TlsContext(ctx, /*is_server=*/true));
  std::string err = ConfigureCommon(ctx, options.protocols);
  if (err.empty()) err = LoadCertificateAndKey(ctx, options.cert_file, options.key_file);
  const std::string& ca_file = options.ca_cert_file;
  const std::string& ca_dir = options.ca_cert_dir;
  if (err.empty() && (!ca_file.empty() || !ca_dir.empty())) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file.empty() ? nullptr : ca_file.c_str(),
                                      ca_dir.empty() ? nullptr : ca_dir.c_str()) != 1) {
      err = "cannot load CA certificates from " + DescribeCaLocation(ca_file, ca_dir) + ": " +
            DrainErrors();
    } else if (!ca_file.empty()) {
      // Names the acceptable CAs in the CertificateRequest, so a client holding several
      // certificates can pick the right one.
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
      ERR_clear_error();
    }
  }
  if (err.empty() && !options.ciphers.empty() &&
      SSL_CTX_set_cipher_list(ctx, options.ciphers.c_str()) != 1) {
    err = "invalid tls-ciphers '" + options.ciphers + "': " + DrainErrors();
  }
  if (err.empty() && !options.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx, options.ciphersuites.c_str()) != 1) {
    err = "invalid tls-ciphersuites '" + options.ciphersuites + "': " + DrainErrors();
  }
  if (!err.empty()) {
    *error = err;
    return nullptr;
  }
  switch (options.client_auth) {
    case TlsClientAuth::kRequired:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
    case TlsClientAuth::kOptional:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case TlsClientAuth::kNone:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
  }
  // Session resumption with client verification needs an id context, or OpenSSL refuses to
  // resume ("session id context uninitialized").
  static constexpr unsigned char kSessionContext[] = "redis-nats-gateway";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  return result;
}

std::unique_ptr<TlsContext> TlsContext::CreateClient(const TlsClientOptions& options,
                                                     std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + DrainErrors();
    return nullptr;
  }
  std::unique_ptr<TlsContext> result(new TlsContext(ctx, /*is_server=*/false));
  std::string err = ConfigureCommon(ctx, options.protocols);
  if (err.empty()) {
    if (!options.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr) != 1) {
        err = "cannot load CA certificates from " + options.ca_file + ": " + DrainErrors();
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      err = "cannot load the system CA certificates: " + DrainErrors();
    }
  }
  if (err.empty() && (!options.cert_file.empty() || !options.key_file.empty())) {
    err = LoadCertificateAndKey(ctx, options.cert_file, options.key_file);
  }
  if (!err.empty()) {
    *error = err;
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return result;
}

// ---------------------------------------------------------------------------------------------
// TlsSession

std::unique_ptr<TlsSession> TlsSession::Create(const TlsContext& context,
                                               std::string_view peer_name, std::string* error) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.native());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (ssl == nullptr || in == nullptr || out == nullptr) {
    *error = "cannot create a TLS session: " + DrainErrors();
    SSL_free(ssl);
    BIO_free(in);
    BIO_free(out);
    return nullptr;
  }
  // An empty input BIO means "wait for more" (WANT_READ), not end of stream.
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl, in, out);  // ssl owns both from here
  std::unique_ptr<TlsSession> session(new TlsSession(ssl, in, out));
  if (context.is_server()) {
    SSL_set_accept_state(ssl);
    return session;
  }
  SSL_set_connect_state(ssl);
  if (!peer_name.empty()) {
    std::string name(peer_name);
    if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
      name = name.substr(1, name.size() - 2);
    }
    bool ok = true;
    if (IsIpAddress(name)) {
      // A certificate names an IP address in an IP SAN, which set1_host never matches.
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) == 1;
    } else {
      ok =
          SSL_set_tlsext_host_name(ssl, name.c_str()) == 1 && SSL_set1_host(ssl, name.c_str()) == 1;
    }
    if (!ok) {
      *error = "cannot set the expected server name '" + name + "': " + DrainErrors();
      return nullptr;
    }
  }
  return session;
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

TlsSession::Status TlsSession::Classify(int rc) {
  int code = SSL_get_error(ssl_, rc);
  switch (code) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:  // memory BIOs always take writes; listed for completeness
      return Status::kWantMore;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    default:
      break;
  }
  error_ = code == SSL_ERROR_SSL ? DrainErrors() : "TLS error " + std::to_string(code);
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ += ": ";
    error_ += X509_verify_cert_error_string(verify);
  }
  return Status::kError;
}

TlsSession::Status TlsSession::StartHandshake() {
  ERR_clear_error();
  int rc = SSL_do_handshake(ssl_);
  if (rc == 1) return Status::kOk;
  return Classify(rc);
}

void TlsSession::Feed(std::string_view ciphertext) {
  while (!ciphertext.empty()) {
    int chunk = static_cast<int>(std::min<size_t>(ciphertext.size(), INT_MAX));
    int n = BIO_write(in_, ciphertext.data(), chunk);
    if (n <= 0) break;  // only on allocation failure; the next read then fails the session
    ciphertext.remove_prefix(static_cast<size_t>(n));
  }
}

TlsSession::ReadResult TlsSession::Read(char* buf, size_t len) {
  ERR_clear_error();
  size_t n = 0;
  int rc = SSL_read_ex(ssl_, buf, len, &n);
  if (rc == 1) {
    if (!early_.empty() && !FlushEarlyWrites()) return {n, Status::kError};
    return {n, Status::kOk};
  }
  Status status = Classify(rc);
  // The handshake may have just finished without application data (the client's last flight).
  if (status == Status::kWantMore && !early_.empty() && is_established() && !FlushEarlyWrites()) {
    return {0, Status::kError};
  }
  return {0, status};
}

TlsSession::Status TlsSession::ReadAll(std::string* out) {
  // TLS records carry at most 16 KiB of plaintext.
  constexpr size_t kChunk = 16 * 1024;
  for (;;) {
    size_t used = out->size();
    out->resize(used + kChunk);
    ReadResult r = Read(out->data() + used, kChunk);
    out->resize(used + r.bytes);
    if (r.bytes == 0) return r.status;
  }
}

bool TlsSession::FlushEarlyWrites() {
  std::string pending;
  pending.swap(early_);
  return Write(pending);
}

bool TlsSession::Write(std::string_view plaintext) {
  if (!is_established()) {
    early_.append(plaintext);
    return true;
  }
  if (!early_.empty() && !FlushEarlyWrites()) return false;
  ERR_clear_error();
  while (!plaintext.empty()) {
    size_t n = 0;
    int rc = SSL_write_ex(ssl_, plaintext.data(), plaintext.size(), &n);
    if (rc != 1) {
      Classify(rc);
      if (error_.empty()) error_ = "TLS write failed";
      return false;
    }
    plaintext.remove_prefix(n);
  }
  return true;
}

void TlsSession::Shutdown() {
  if (!is_established()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; we do not wait for the peer's
  ERR_clear_error();
}

bool TlsSession::has_output() const { return BIO_ctrl_pending(out_) > 0; }
size_t TlsSession::output_size() const { return BIO_ctrl_pending(out_); }

void TlsSession::TakeOutput(std::string* out) {
  size_t pending = BIO_ctrl_pending(out_);
  if (pending == 0) return;
  size_t used = out->size();
  out->resize(used + pending);
  size_t got = 0;
  while (got < pending) {
    int n = BIO_read(out_, out->data() + used + got,
                     static_cast<int>(std::min<size_t>(pending - got, INT_MAX)));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out->resize(used + got);
  if (pending > kMaxKeptBioCapacity && BIO_ctrl_pending(out_) == 0) {
    // The BIO keeps its largest buffer: swap in a fresh one (SSL_set0_wbio frees the old).
    BIO* fresh = BIO_new(BIO_s_mem());
    if (fresh != nullptr) {
      BIO_set_mem_eof_return(fresh, -1);
      SSL_set0_wbio(ssl_, fresh);
      out_ = fresh;
    }
  }
}

bool TlsSession::is_established() const { return SSL_is_init_finished(ssl_) == 1; }

std::string TlsSession::Description() const {
  if (!is_established()) return {};
  return std::string(SSL_get_version(ssl_)) + " " + SSL_get_cipher_name(ssl_);
}

std::string TlsSession::PeerSubject() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return {};
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

// ---------------------------------------------------------------------------------------------

std::string ValidateTlsProtocols(std::string_view protocols) {
  ProtocolRange range;
  return ParseProtocols(protocols, &range);
}

bool IsIpAddress(std::string_view host) {
  std::string h(host);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace gateway
