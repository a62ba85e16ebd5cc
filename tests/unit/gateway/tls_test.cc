// SPDX-License-Identifier: Apache-2.0
//
// Tests of gateway/tls.h without sockets: a server and a client TlsSession exchange their
// ciphertext through strings. Certificates (a CA, a server certificate for 127.0.0.1 and
// localhost, a client certificate, and an unrelated CA) are made with OpenSSL's API into a
// temporary directory, since TlsContext loads files.
#include "gateway/tls.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "tests/support/process_harness.h"

namespace gateway {
namespace {

using Status = TlsSession::Status;

struct Issued {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ~Issued() {
    EVP_PKEY_free(key);
    X509_free(cert);
  }
};

// A P-256 key and a certificate for `cn` with `extensions` (name=value pairs, OpenSSL's
// config syntax), signed by `issuer` (self-signed when null).
std::unique_ptr<Issued> Issue(const char* cn, const Issued* issuer,
                              std::initializer_list<std::pair<int, const char*>> extensions) {
  static long serial = 1;
  auto out = std::make_unique<Issued>();
  out->key = EVP_EC_gen("P-256");
  out->cert = X509_new();
  X509* x = out->cert;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, out->key);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* issuer_cert = issuer != nullptr ? issuer->cert : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer_cert, x, nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    EXPECT_NE(ext, nullptr) << value;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, issuer != nullptr ? issuer->key : out->key, EVP_sha256());
  return out;
}

void WritePem(const std::string& path, const Issued& issued, bool is_key) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr) << path;
  if (is_key) {
    PEM_write_PrivateKey(f, issued.key, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_X509(f, issued.cert);
  }
  std::fclose(f);
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test_support::TempDir("rng-tls-unit-");
    auto ca = Issue("test CA", nullptr,
                    {{NID_basic_constraints, "critical,CA:TRUE"},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"}});
    auto other_ca = Issue("unrelated CA", nullptr,
                          {{NID_basic_constraints, "critical,CA:TRUE"},
                           {NID_key_usage, "critical,keyCertSign,cRLSign"}});
    auto server = Issue(
        "server", ca.get(),
        {{NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost"}, {NID_ext_key_usage, "serverAuth"}});
    auto client = Issue("client", ca.get(), {{NID_ext_key_usage, "clientAuth"}});
    WritePem(Path("ca.crt"), *ca, false);
    WritePem(Path("other-ca.crt"), *other_ca, false);
    WritePem(Path("server.crt"), *server, false);
    WritePem(Path("server.key"), *server, true);
    WritePem(Path("client.crt"), *client, false);
    WritePem(Path("client.key"), *client, true);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string Path(const char* name) { return dir_->path() + "/" + name; }

  static TlsServerOptions ServerOptions(TlsClientAuth auth = TlsClientAuth::kRequired) {
    TlsServerOptions o;
    o.cert_file = Path("server.crt");
    o.key_file = Path("server.key");
    o.ca_cert_file = Path("ca.crt");
    o.client_auth = auth;
    return o;
  }
  static TlsClientOptions ClientOptions(bool with_cert = true) {
    TlsClientOptions o;
    o.ca_file = Path("ca.crt");
    if (with_cert) {
      o.cert_file = Path("client.crt");
      o.key_file = Path("client.key");
    }
    return o;
  }

  // Builds both contexts and sessions; fails the test when any cannot be made.
  void Connect(const TlsServerOptions& server, const TlsClientOptions& client,
               std::string_view peer_name = "127.0.0.1") {
    server_plain_.clear();
    client_plain_.clear();
    server_status_ = client_status_ = Status::kOk;
    std::string error;
    server_ctx_ = TlsContext::CreateServer(server, &error);
    ASSERT_NE(server_ctx_, nullptr) << error;
    client_ctx_ = TlsContext::CreateClient(client, &error);
    ASSERT_NE(client_ctx_, nullptr) << error;
    server_ = TlsSession::Create(*server_ctx_, {}, &error);
    ASSERT_NE(server_, nullptr) << error;
    client_ = TlsSession::Create(*client_ctx_, peer_name, &error);
    ASSERT_NE(client_, nullptr) << error;
    ASSERT_EQ(client_->StartHandshake(), Status::kWantMore);
  }

  // Moves ciphertext both ways until neither side has any left, decrypting as it goes. With
  // `byte_by_byte`, each side is fed one byte at a time (every split point of every record).
  void Pump(bool byte_by_byte = false) {
    for (int round = 0; round < 1000; ++round) {
      bool moved = Transfer(*client_, *server_, &server_plain_, &server_status_, byte_by_byte);
      moved = Transfer(*server_, *client_, &client_plain_, &client_status_, byte_by_byte) || moved;
      if (!moved) return;
    }
    FAIL() << "the sessions never went quiet";
  }

  static bool Transfer(TlsSession& from, TlsSession& to, std::string* plain, Status* status,
                       bool byte_by_byte) {
    std::string wire;
    from.TakeOutput(&wire);
    if (wire.empty()) return false;
    size_t step = byte_by_byte ? 1 : wire.size();
    for (size_t i = 0; i < wire.size(); i += step) {
      to.Feed(std::string_view(wire).substr(i, step));
      Status s = to.ReadAll(plain);
      if (*status != Status::kError && *status != Status::kClosed) *status = s;
    }
    return true;
  }

  static test_support::TempDir* dir_;
  std::unique_ptr<TlsContext> server_ctx_, client_ctx_;
  std::unique_ptr<TlsSession> server_, client_;
  std::string server_plain_, client_plain_;
  Status server_status_ = Status::kOk, client_status_ = Status::kOk;
};

test_support::TempDir* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, HandshakeWithClientCertificateThenDataBothWays) {
  Connect(ServerOptions(), ClientOptions());
  Pump();
  ASSERT_TRUE(server_->is_established()) << server_->error();
  ASSERT_TRUE(client_->is_established()) << client_->error();
  EXPECT_EQ(server_->PeerSubject(), "/CN=client");
  EXPECT_EQ(client_->PeerSubject(), "/CN=server");
  EXPECT_EQ(client_->Description().rfind("TLSv1.3 ", 0), 0u) << client_->Description();

  ASSERT_TRUE(client_->Write("*1\r\n$4\r\nPING\r\n"));
  Pump();
  EXPECT_EQ(server_plain_, "*1\r\n$4\r\nPING\r\n");
  ASSERT_TRUE(server_->Write("+PONG\r\n"));
  Pump();
  EXPECT_EQ(client_plain_, "+PONG\r\n");
}

TEST_F(TlsTest, WritesBeforeTheHandshakeWaitForIt) {
  Connect(ServerOptions(), ClientOptions());
  ASSERT_TRUE(client_->Write("early "));
  ASSERT_TRUE(client_->Write("bytes"));
  Pump();
  EXPECT_EQ(server_plain_, "early bytes");
}

TEST_F(TlsTest, EverySplitPointOfHandshakeAndRecords) {
  Connect(ServerOptions(), ClientOptions());
  Pump(/*byte_by_byte=*/true);
  ASSERT_TRUE(server_->is_established()) << server_->error();
  std::string message(40000, 'x');  // three records
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(client_->Write(message));
  Pump(/*byte_by_byte=*/true);
  EXPECT_EQ(server_plain_, message);
}

TEST_F(TlsTest, LargeTransferKeepsOrder) {
  Connect(ServerOptions(), ClientOptions());
  Pump();
  std::string big;
  for (int i = 0; i < 200000; ++i) big += std::to_string(i) + ",";
  ASSERT_TRUE(server_->Write(big));
  ASSERT_GT(server_->output_size(), big.size());  // ciphertext carries record overhead
  Pump();
  EXPECT_EQ(client_plain_, big);
  EXPECT_FALSE(server_->has_output());
}

TEST_F(TlsTest, RequiredClientCertificateIsEnforced) {
  Connect(ServerOptions(TlsClientAuth::kRequired), ClientOptions(/*with_cert=*/false));
  Pump();
  EXPECT_EQ(server_status_, Status::kError);
  EXPECT_NE(server_->error().find("did not return a certificate"), std::string::npos)
      << server_->error();
  // The client learns it from the server's alert.
  EXPECT_EQ(client_status_, Status::kError);
}

TEST_F(TlsTest, OptionalClientCertificateMayBeAbsent) {
  Connect(ServerOptions(TlsClientAuth::kOptional), ClientOptions(/*with_cert=*/false));
  Pump();
  EXPECT_TRUE(server_->is_established()) << server_->error();
  EXPECT_EQ(server_->PeerSubject(), "");
}

TEST_F(TlsTest, ClientRejectsServerSignedByAnotherCa) {
  TlsClientOptions client = ClientOptions();
  client.ca_file = Path("other-ca.crt");
  Connect(ServerOptions(), client);
  Pump();
  EXPECT_EQ(client_status_, Status::kError);
  EXPECT_NE(client_->error().find("certificate verify failed"), std::string::npos)
      << client_->error();
  // The server sends its chain with the CA it knows, which the client does not trust.
  EXPECT_NE(client_->error().find("self-signed certificate in certificate chain"),
            std::string::npos)
      << client_->error();
}

TEST_F(TlsTest, ServerNameIsChecked) {
  Connect(ServerOptions(), ClientOptions(), "localhost");
  Pump();
  EXPECT_TRUE(client_->is_established()) << client_->error();

  Connect(ServerOptions(), ClientOptions(), "127.0.0.2");
  Pump();
  EXPECT_EQ(client_status_, Status::kError);
  EXPECT_NE(client_->error().find("IP address mismatch"), std::string::npos) << client_->error();

  Connect(ServerOptions(), ClientOptions(), "nats.example");
  Pump();
  EXPECT_EQ(client_status_, Status::kError);
  EXPECT_NE(client_->error().find("hostname mismatch"), std::string::npos) << client_->error();
}

TEST_F(TlsTest, PlainTextIsAnError) {
  std::string error;
  server_ctx_ = TlsContext::CreateServer(ServerOptions(), &error);
  ASSERT_NE(server_ctx_, nullptr) << error;
  server_ = TlsSession::Create(*server_ctx_, {}, &error);
  server_->Feed("*1\r\n$4\r\nPING\r\n");
  std::string plain;
  EXPECT_EQ(server_->ReadAll(&plain), Status::kError);
  EXPECT_EQ(plain, "");
  EXPECT_FALSE(server_->error().empty());
}

TEST_F(TlsTest, CloseNotifyEndsTheStream) {
  Connect(ServerOptions(), ClientOptions());
  Pump();
  ASSERT_TRUE(server_->Write("+OK\r\n"));
  server_->Shutdown();
  Pump();
  EXPECT_EQ(client_plain_, "+OK\r\n");
  EXPECT_EQ(client_status_, Status::kClosed);
}

TEST_F(TlsTest, ProtocolVersionsAreHonoured) {
  TlsServerOptions server = ServerOptions();
  server.protocols = "TLSv1.2";
  Connect(server, ClientOptions());
  Pump();
  ASSERT_TRUE(client_->is_established()) << client_->error();
  EXPECT_EQ(client_->Description().rfind("TLSv1.2 ", 0), 0u) << client_->Description();

  server.protocols = "TLSv1.3";
  TlsClientOptions client = ClientOptions();
  client.protocols = "tlsv1.2";
  Connect(server, client);
  Pump();
  EXPECT_EQ(server_status_, Status::kError);
  EXPECT_FALSE(server_->is_established());
}

TEST_F(TlsTest, BadFilesAreReportedWithTheirPath) {
  std::string error;
  TlsServerOptions server = ServerOptions();
  server.cert_file = Path("server.key");
  EXPECT_EQ(TlsContext::CreateServer(server, &error), nullptr);
  EXPECT_NE(error.find("cannot load certificate file " + Path("server.key")), std::string::npos)
      << error;

  server = ServerOptions();
  server.key_file = Path("client.key");
  EXPECT_EQ(TlsContext::CreateServer(server, &error), nullptr);
  EXPECT_NE(
      error.find("cannot load private key file " + Path("client.key") + ": key values mismatch"),
      std::string::npos)
      << error;

  TlsClientOptions client = ClientOptions();
  client.ca_file = Path("missing.crt");
  EXPECT_EQ(TlsContext::CreateClient(client, &error), nullptr);
  EXPECT_NE(error.find("cannot load CA certificates from " + Path("missing.crt")),
            std::string::npos)
      << error;
}

// ParseFlags over a list of arguments (argv[0] added); the error, or empty.
std::string Parse(std::vector<std::string> args, Config* config) {
  args.insert(args.begin(), "redis-nats-gateway");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  bool wants_help = false;
  return ParseFlags(static_cast<int>(argv.size()), argv.data(), config, &wants_help);
}

TEST_F(TlsTest, PortFlagsKeepZeroForAFreePortAndOffForNone) {
  const std::vector<std::string> tls = {"--tls-cert-file",  Path("server.crt"),   "--tls-key-file",
                                        Path("server.key"), "--tls-ca-cert-file", Path("ca.crt")};
  auto with_tls = [&](std::vector<std::string> args) {
    args.insert(args.end(), tls.begin(), tls.end());
    return args;
  };
  Config c;
  EXPECT_EQ(Parse({}, &c), "");
  EXPECT_EQ(c.port, 6379);
  EXPECT_EQ(c.tls_port, -1);  // TLS is off by default
  Config zero;
  EXPECT_EQ(Parse({"--port", "0", "--tls-port", "0"}, &zero), "");
  EXPECT_EQ(zero.port, 0);       // a free port, as before
  EXPECT_EQ(zero.tls_port, -1);  // off, as Redis's tls-port 0
  Config any;
  EXPECT_EQ(Parse(with_tls({"--port", "any", "--tls-port", "any"}), &any), "");
  EXPECT_EQ(any.port, 0);
  EXPECT_EQ(any.tls_port, 0);
  Config tls_only;
  EXPECT_EQ(Parse(with_tls({"--port", "off", "--tls-port", "6380"}), &tls_only), "");
  EXPECT_EQ(tls_only.port, -1);
  EXPECT_EQ(tls_only.tls_port, 6380);
  EXPECT_EQ(ConfigGet(tls_only, "port"),
            (std::vector<std::pair<std::string, std::string>>{{"port", "0"}}));
  EXPECT_EQ(ConfigGet(tls_only, "tls-port"),
            (std::vector<std::pair<std::string, std::string>>{{"tls-port", "6380"}}));
}

TEST_F(TlsTest, FlagCombinationsAreChecked) {
  Config c;
  EXPECT_EQ(Parse({"--port", "off"}, &c),
            "--port off needs --tls-port: the gateway would not listen at all");
  EXPECT_EQ(Parse({"--tls-port", "6380", "--tls-cert-file", Path("server.crt")}, &c),
            "--tls-port needs --tls-cert-file and --tls-key-file");
  EXPECT_EQ(Parse({"--tls-port", "6380", "--tls-cert-file", Path("server.crt"), "--tls-key-file",
                   Path("server.key")},
                  &c),
            "--tls-auth-clients yes needs --tls-ca-cert-file or --tls-ca-cert-dir to verify "
            "client certificates");
  EXPECT_EQ(Parse({"--tls-port", "6380", "--tls-cert-file", Path("server.crt"), "--tls-key-file",
                   Path("server.key"), "--tls-auth-clients", "no"},
                  &c),
            "");
  EXPECT_EQ(Parse({"--tls-port", "6380", "--tls-cert-file", Path("nope.crt"), "--tls-key-file",
                   Path("server.key"), "--tls-auth-clients", "no"},
                  &c),
            "cannot read --tls-cert-file " + Path("nope.crt") + ": No such file or directory");
  EXPECT_EQ(Parse({"--tls-auth-clients", "maybe"}, &c),
            "invalid value 'maybe' for --tls-auth-clients");
  EXPECT_NE(Parse({"--tls-protocols", "TLSv1.2 SSLv3"}, &c), "");
  EXPECT_EQ(Parse({"--nats-tls-cert", Path("client.crt")}, &c),
            "--nats-tls-cert and --nats-tls-key go together");
  Config nats;
  EXPECT_EQ(Parse({"--nats-tls-ca", Path("ca.crt")}, &nats), "");
  EXPECT_EQ(nats.nats_tls_ca, Path("ca.crt"));
}

TEST(TlsProtocols, Validation) {
  EXPECT_EQ(ValidateTlsProtocols(""), "");
  EXPECT_EQ(ValidateTlsProtocols("TLSv1.2 TLSv1.3"), "");
  EXPECT_EQ(ValidateTlsProtocols("tlsv1.3"), "");
  EXPECT_NE(ValidateTlsProtocols("TLSv1.4"), "");
  EXPECT_NE(ValidateTlsProtocols("SSLv3"), "");
}

TEST(TlsAddresses, IpLiterals) {
  EXPECT_TRUE(IsIpAddress("127.0.0.1"));
  EXPECT_TRUE(IsIpAddress("::1"));
  EXPECT_FALSE(IsIpAddress("localhost"));
  EXPECT_FALSE(IsIpAddress("nats.example"));
}

}  // namespace
}  // namespace gateway
