// SPDX-License-Identifier: Apache-2.0
//
// TLS over OpenSSL memory BIOs, for sockets that libuv owns. OpenSSL never touches a socket
// here: the connection feeds the ciphertext it read into a TlsSession and takes plaintext out;
// it writes plaintext in and takes ciphertext out to send with its usual uv_try_write /
// uv_write path. Nothing blocks, so the same code serves Redis clients on the TLS listener
// (server role, gateway/server.cc) and the connection to NATS (client role,
// gateway/nats_wire_backend.cc), both on the loop thread.
//
// TlsContext is built once from the flags (certificate, key, CA file or directory, client
// verification, protocols, ciphers) and shared by every session it creates. Errors are
// returned as text that names files and OpenSSL's reason, never key material.
//
// Thread: a TlsContext is immutable after Create* and may be shared; a TlsSession is used by
// one thread (the loop thread). OpenSSL's error queue is per thread, and every call here
// clears it first.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace gateway {

// How the server side treats client certificates (Redis's tls-auth-clients).
enum class TlsClientAuth { kRequired, kOptional, kNone };

struct TlsServerOptions {
  std::string cert_file;     // PEM chain, leaf first
  std::string key_file;      // PEM private key (unencrypted)
  std::string ca_cert_file;  // CAs that sign client certificates
  std::string ca_cert_dir;   // or a hashed directory of them (c_rehash)
  TlsClientAuth client_auth = TlsClientAuth::kRequired;
  std::string protocols;     // "TLSv1.2 TLSv1.3" (Redis's tls-protocols); empty = TLSv1.2+
  std::string ciphers;       // TLSv1.2 cipher list; empty = OpenSSL's default
  std::string ciphersuites;  // TLSv1.3 suites; empty = OpenSSL's default
};

struct TlsClientOptions {
  std::string ca_file;    // CAs that sign the server's certificate; empty = system store
  std::string cert_file;  // client certificate chain (when the server verifies clients)
  std::string key_file;
  std::string protocols;  // as TlsServerOptions::protocols
};

class TlsContext {
 public:
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Load everything now, so a bad file shows at start-up. Null with *error set on failure.
  static std::unique_ptr<TlsContext> CreateServer(const TlsServerOptions& options,
                                                  std::string* error);
  static std::unique_ptr<TlsContext> CreateClient(const TlsClientOptions& options,
                                                  std::string* error);

  bool is_server() const { return is_server_; }
  SSL_CTX* native() const { return ctx_; }

 private:
  TlsContext(SSL_CTX* ctx, bool is_server) : ctx_(ctx), is_server_(is_server) {}
  SSL_CTX* ctx_;
  bool is_server_;
};

// One TLS connection, either role. Typical use on each socket event:
//   read:  Feed(bytes); then Read()/ReadAll() until it reports kWantMore; then send
//          TakeOutput() (handshake messages and alerts are produced while reading).
//   write: Write(plaintext); then send TakeOutput().
// Any kError is final: send TakeOutput() (it may hold an alert), log error(), close.
class TlsSession {
 public:
  enum class Status {
    kOk,        // progress was made (Read: bytes were returned)
    kWantMore,  // needs more ciphertext from the peer
    kClosed,    // the peer sent close_notify
    kError,     // handshake or protocol failure; see error()
  };
  struct ReadResult {
    size_t bytes = 0;
    Status status = Status::kOk;
  };

  // A session of `context`'s role. For a client, `peer_name` is the host the certificate
  // must name (an IP address is checked against IP SANs) and is sent as SNI when it is a DNS
  // name; empty skips the name check (the chain is still verified).
  static std::unique_ptr<TlsSession> Create(const TlsContext& context, std::string_view peer_name,
                                            std::string* error);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Client role: starts the handshake (the ClientHello is then in TakeOutput()).
  Status StartHandshake();

  // Ciphertext received from the peer. Never fails (it is buffered until read).
  void Feed(std::string_view ciphertext);
  // Decrypts into buf[0, len), advancing the handshake as needed. bytes > 0 comes with kOk;
  // otherwise status says why nothing was returned.
  ReadResult Read(char* buf, size_t len);
  // Appends every byte that can be decrypted now to *out; returns kWantMore when all input was
  // consumed, or kClosed / kError.
  Status ReadAll(std::string* out);

  // Encrypts `plaintext`. Before the handshake has finished the bytes are kept and sent once it
  // does. False (error() set) on failure.
  bool Write(std::string_view plaintext);
  // Queues close_notify (a clean close). Harmless before the handshake has finished.
  void Shutdown();

  // Ciphertext waiting to be sent.
  bool has_output() const;
  size_t output_size() const;
  // Appends the waiting ciphertext to *out and forgets it.
  void TakeOutput(std::string* out);

  bool is_established() const;
  // "TLSv1.3 TLS_AES_256_GCM_SHA384" once established.
  std::string Description() const;
  // Subject of the verified peer certificate, empty when none was presented.
  std::string PeerSubject() const;
  // Why the last call failed: OpenSSL's reasons, plus the verification result when the
  // peer's certificate was rejected.
  const std::string& error() const { return error_; }

 private:
  TlsSession(SSL* ssl, BIO* in, BIO* out) : ssl_(ssl), in_(in), out_(out) {}
  // Maps the result `rc` of an SSL call to a status; records error_ on failure.
  Status Classify(int rc);
  // Writes plaintext kept during the handshake, once it has finished.
  bool FlushEarlyWrites();

  SSL* ssl_;
  BIO* in_;            // ciphertext from the peer (owned by ssl_)
  BIO* out_;           // ciphertext to the peer (owned by ssl_)
  std::string early_;  // plaintext written before the handshake finished
  std::string error_;
};

// Checks a tls-protocols value ("TLSv1.2 TLSv1.3", any order, case-insensitive). Empty when
// valid, else an error message.
std::string ValidateTlsProtocols(std::string_view protocols);

// True when `host` is an IPv4 or IPv6 literal.
bool IsIpAddress(std::string_view host);

}  // namespace gateway
