// SPDX-License-Identifier: Apache-2.0
//
// Authentication towards NATS, against a real nats-server started with a configuration file:
// user/password, token, nkey users, and operator mode (JWTs, resolver: MEMORY) for .creds
// files; each with both NATS clients (wire and natsc). For every mode: the gateway connects
// and SET/GET work; wrong credentials stop start-up with exit status 1 and a message naming
// the refusal; and no secret appears in the gateway's output, in INFO or in CONFIG GET *.
//
// The keys are made here, with kvmap/nats_auth.h over OpenSSL (random seeds, so nothing secret
// is committed); nats-server checks every signature and encoding independently. The JWTs
// follow the v2 claim layout ({"typ":"JWT","alg":"ed25519-nkey"} header, "nats" claims with
// "type" and "version":2), signed by the issuer's nkey over "header.claims".
#include <dirent.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "kvmap/nats_auth.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/support/process_harness.h"

namespace integration {
namespace {

using kvmap::NkeyPair;
using test_support::MonotonicMs;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

NkeyPair NewKey(uint8_t role) {
  kvmap::NkeyBytes seed{};
  EXPECT_EQ(RAND_bytes(seed.data(), static_cast<int>(seed.size())), 1);
  std::optional<NkeyPair> key = NkeyPair::FromRawSeed(role, seed);
  EXPECT_TRUE(key.has_value());
  return *key;
}

// A NATS JWT (v2) whose subject is `subject`, issued and signed by `issuer`.
std::string MakeJwt(const NkeyPair& issuer, const std::string& subject, const std::string& name,
                    const std::string& nats_claims) {
  static int serial = 0;
  std::string header = kvmap::Base64UrlEncode("{\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"}");
  std::string claims = "{\"jti\":\"TEST" + std::to_string(getpid()) + "X" +
                       std::to_string(++serial) + "\",\"iat\":" +
                       std::to_string(std::time(nullptr)) + ",\"iss\":\"" +
                       issuer.public_key() + "\",\"name\":\"" + name + "\",\"sub\":\"" + subject +
                       "\",\"nats\":" + nats_claims + "}";
  std::string signed_part = header + "." + kvmap::Base64UrlEncode(claims);
  return signed_part + "." + kvmap::Base64UrlEncode(issuer.Sign(signed_part));
}

constexpr const char* kUnlimitedAccount =
    "{\"limits\":{\"subs\":-1,\"data\":-1,\"payload\":-1,\"imports\":-1,\"exports\":-1,"
    "\"wildcards\":true,\"conn\":-1,\"leaf\":-1%s},\"default_permissions\":{\"pub\":{},"
    "\"sub\":{}},\"type\":\"account\",\"version\":2}";

std::string AccountClaims(bool with_jetstream) {
  char buf[512];
  std::snprintf(buf, sizeof(buf), kUnlimitedAccount,
                with_jetstream
                    ? ",\"mem_storage\":-1,\"disk_storage\":-1,\"streams\":-1,\"consumer\":-1"
                    : "");
  return buf;
}

std::string UserClaims() {
  return "{\"pub\":{},\"sub\":{},\"subs\":-1,\"data\":-1,\"payload\":-1,\"type\":\"user\","
         "\"version\":2}";
}

std::string CredsFile(const std::string& jwt, const std::string& seed) {
  return "-----BEGIN NATS USER JWT-----\n" + jwt +
         "\n------END NATS USER JWT------\n\n"
         "************************* IMPORTANT *************************\n"
         "NKEY Seed printed below can be used to sign and prove identity.\n\n"
         "-----BEGIN USER NKEY SEED-----\n" +
         seed + "\n------END USER NKEY SEED------\n";
}

// The client port from the ports file nats-server wrote for `pid` in `dir`, or 0.
int PortFromPortsFile(const std::string& dir, pid_t pid) {
  std::string suffix = "_" + std::to_string(pid) + ".ports";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  std::string file;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) {
      file = dir + "/" + name;
    }
  }
  closedir(d);
  if (file.empty()) return 0;
  std::string text = ReadAll(file);
  size_t at = text.find("127.0.0.1:");
  if (at == std::string::npos) return 0;
  return std::atoi(text.c_str() + at + 10);
}

// One test: a nats-server with the given auth configuration and gateways in front of it.
class NatsAuthTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    nats_bin_ = test_support::FindBinary("NATS_SERVER_BIN", "nats-server");
    if (nats_bin_.empty()) {
      if (test_support::NatsRequired()) FAIL() << "nats-server not found";
      GTEST_SKIP() << "nats-server not found";
    }
    gateway_bin_ = test_support::GatewayBinary(RNG_GATEWAY_BIN);
    ASSERT_FALSE(gateway_bin_.empty());
    ASSERT_FALSE(dir_.path().empty());
  }

  const char* client() const { return GetParam(); }

  // Starts nats-server with `auth_config` plus JetStream; returns an error or empty.
  std::string StartNats(const std::string& auth_config) {
    std::string conf = dir_.path() + "/nats.conf";
    WriteFile(conf, auth_config + "\njetstream { store_dir: \"" + dir_.path() + "/js\" }\n");
    std::string err = nats_.Spawn({nats_bin_, "-c", conf, "-a", "127.0.0.1", "-p", "-1",
                                   "--ports_file_dir", dir_.path()},
                                  dir_.path() + "/nats.log");
    if (!err.empty()) return err;
    int64_t deadline = MonotonicMs() + 20000;
    while (MonotonicMs() < deadline) {
      if (nats_.HasExited()) return "nats-server exited:\n" + nats_.LogTail();
      if (nats_port_ == 0) nats_port_ = PortFromPortsFile(dir_.path(), nats_.pid());
      if (nats_port_ != 0 && ReadAll(dir_.path() + "/nats.log").find("Server is ready") !=
                                 std::string::npos) {
        return {};
      }
      usleep(10000);
    }
    return "nats-server did not start:\n" + nats_.LogTail();
  }

  std::string Url(const std::string& userinfo = "") const {
    return "nats://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" +
           std::to_string(nats_port_);
  }

  std::vector<std::string> GatewayArgs(const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"--nats-client", client(), "--nats-timeout-ms", "2000"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Starts a gateway that must connect, then checks SET/GET, and that none of `secrets`
  // shows in INFO, CONFIG GET * or the gateway's output. INFO must name the server.
  void ExpectWorks(const std::string& url, const std::vector<std::string>& extra,
                   const std::vector<std::string>& secrets) {
    test_support::Gateway gateway;
    test_support::GatewayOptions options;
    options.binary = gateway_bin_;
    options.nats_url = url;
    options.bucket = "auth-" + std::string(client());
    options.extra_args = GatewayArgs(extra);
    std::string gw_dir = dir_.path() + "/gw-" + std::to_string(++gateways_);
    ASSERT_EQ(mkdir(gw_dir.c_str(), 0700), 0);
    std::string err = gateway.Start(options, gw_dir);
    ASSERT_EQ(err, "") << gateway.LogTail() << nats_.LogTail();
    RedisPtr c = Connect(gateway.port());
    ASSERT_TRUE(c);
    // The first command may arrive while the bucket is being created: retry briefly.
    std::string set;
    for (int i = 0; i < 50 && set != "+OK"; ++i) {
      set = Show(Cmd(c.get(), {"SET", "auth:k", "v-" + url}).get(), c.get());
      if (set != "+OK") usleep(100000);
    }
    EXPECT_EQ(set, "+OK") << gateway.LogTail();
    EXPECT_EQ(Show(Cmd(c.get(), {"GET", "auth:k"}).get(), c.get()), "$v-" + url);
    std::string info = Show(Cmd(c.get(), {"INFO", "everything"}).get(), c.get());
    EXPECT_NE(info.find("nats_connected:1"), std::string::npos) << info;
    EXPECT_NE(info.find("127.0.0.1:" + std::to_string(nats_port_)), std::string::npos) << info;
    std::string config = Show(Cmd(c.get(), {"CONFIG", "GET", "*"}).get(), c.get());
    EXPECT_NE(config.find("nats-client"), std::string::npos) << config;
    c.reset();
    EXPECT_EQ(gateway.Stop(), "exit 0");
    std::string log = gateway.LogTail(1 << 20);
    for (const std::string& secret : secrets) {
      EXPECT_EQ(info.find(secret), std::string::npos) << "INFO shows a secret";
      EXPECT_EQ(config.find(secret), std::string::npos) << "CONFIG GET shows a secret";
      EXPECT_EQ(log.find(secret), std::string::npos) << "the log shows a secret:\n" << log;
    }
  }

  // Starts a gateway whose credentials the server refuses: it must exit 1 at start-up,
  // saying why, without printing any of `secrets`.
  void ExpectRefused(const std::string& url, const std::vector<std::string>& extra,
                     const std::vector<std::string>& secrets,
                     const std::string& expected = "Authorization Violation") {
    test_support::ChildProcess gateway;
    std::vector<std::string> argv = {gateway_bin_, "--port", "0", "--nats", url,
                                     "--bucket", "auth-refused"};
    for (const std::string& a : GatewayArgs(extra)) argv.push_back(a);
    std::string log_path = dir_.path() + "/refused-" + std::to_string(++gateways_) + ".log";
    ASSERT_EQ(gateway.Spawn(argv, log_path), "");
    int64_t deadline = MonotonicMs() + 20000;
    while (!gateway.HasExited() && MonotonicMs() < deadline) usleep(20000);
    ASSERT_TRUE(gateway.HasExited()) << "the gateway kept running with refused credentials";
    EXPECT_EQ(gateway.exit_description(), "exit 1");
    std::string log = ReadAll(log_path);
    EXPECT_NE(log.find("redis-nats-gateway: "), std::string::npos) << log;
    EXPECT_NE(log.find(expected), std::string::npos) << log;
    EXPECT_EQ(log.find("Ready to accept connections"), std::string::npos) << log;
    for (const std::string& secret : secrets) {
      EXPECT_EQ(log.find(secret), std::string::npos) << "the log shows a secret:\n" << log;
    }
  }

  test_support::TempDir dir_{"rng-natsauth-"};
  test_support::ChildProcess nats_;
  std::string nats_bin_, gateway_bin_;
  int nats_port_ = 0;
  int gateways_ = 0;
};

TEST_P(NatsAuthTest, UserAndPasswordFromTheUrl) {
  ASSERT_EQ(StartNats("authorization { users = [ {user: \"gw\", password: \"pw-S3cret-A\"} ] }"),
            "");
  ExpectWorks(Url("gw:pw-S3cret-A"), {}, {"pw-S3cret-A"});
  ExpectRefused(Url("gw:wrong-Pa55"), {}, {"wrong-Pa55"});
}

TEST_P(NatsAuthTest, PercentEncodedPassword) {
  ASSERT_EQ(StartNats("authorization { users = [ {user: \"gw\", password: \"p@ss:w0rd\"} ] }"),
            "");
  ExpectWorks(Url("gw:p%40ss%3Aw0rd"), {}, {"p@ss:w0rd", "p%40ss%3Aw0rd"});
}

TEST_P(NatsAuthTest, TokenFromTheUrl) {
  ASSERT_EQ(StartNats("authorization { token: \"tok-S3cret-B\" }"), "");
  ExpectWorks(Url("tok-S3cret-B"), {}, {"tok-S3cret-B"});
  ExpectRefused(Url("tok-Wrong-C"), {}, {"tok-Wrong-C"});
  // No credentials at all: refused too.
  ExpectRefused(Url(), {}, {});
}

TEST_P(NatsAuthTest, NkeyUser) {
  NkeyPair user = NewKey(kvmap::kNkeyPrefixUser);
  NkeyPair stranger = NewKey(kvmap::kNkeyPrefixUser);
  ASSERT_EQ(StartNats("authorization { users = [ {nkey: \"" + user.public_key() + "\"} ] }"), "");
  const std::string seed_file = dir_.path() + "/user.nk";
  const std::string stranger_file = dir_.path() + "/stranger.nk";
  WriteFile(seed_file, user.EncodedSeed() + "\n");
  WriteFile(stranger_file, stranger.EncodedSeed() + "\n");
  ExpectWorks(Url(), {"--nats-nkey", seed_file}, {user.EncodedSeed()});
  ExpectRefused(Url(), {"--nats-nkey", stranger_file}, {stranger.EncodedSeed()});
}

TEST_P(NatsAuthTest, UnusableSeedFileFailsBeforeConnecting) {
  NkeyPair user = NewKey(kvmap::kNkeyPrefixUser);
  ASSERT_EQ(StartNats("authorization { users = [ {nkey: \"" + user.public_key() + "\"} ] }"), "");
  std::string seed = user.EncodedSeed();
  std::string damaged = seed;
  damaged[30] = damaged[30] == 'A' ? 'B' : 'A';
  const std::string bad_file = dir_.path() + "/damaged.nk";
  WriteFile(bad_file, damaged + "\n");
  ExpectRefused(Url(), {"--nats-nkey", bad_file}, {damaged, seed}, "checksum mismatch");
  ExpectRefused(Url(), {"--nats-nkey", dir_.path() + "/missing.nk"}, {}, "missing.nk");
}

TEST_P(NatsAuthTest, CredsFileInOperatorMode) {
  NkeyPair op = NewKey(kvmap::kNkeyPrefixOperator);
  NkeyPair account = NewKey(kvmap::kNkeyPrefixAccount);
  NkeyPair system = NewKey(kvmap::kNkeyPrefixAccount);
  NkeyPair user = NewKey(kvmap::kNkeyPrefixUser);
  NkeyPair other_user = NewKey(kvmap::kNkeyPrefixUser);
  const std::string op_jwt =
      MakeJwt(op, op.public_key(), "test-operator", "{\"type\":\"operator\",\"version\":2}");
  const std::string account_jwt =
      MakeJwt(op, account.public_key(), "gateway", AccountClaims(/*with_jetstream=*/true));
  const std::string system_jwt =
      MakeJwt(op, system.public_key(), "SYS", AccountClaims(/*with_jetstream=*/false));
  const std::string user_jwt = MakeJwt(account, user.public_key(), "gw", UserClaims());
  WriteFile(dir_.path() + "/operator.jwt", op_jwt);
  // JetStream in operator mode needs a system account.
  ASSERT_EQ(StartNats("operator: \"" + dir_.path() + "/operator.jwt\"\n" +
                      "system_account: " + system.public_key() + "\n" +
                      "resolver: MEMORY\n"
                      "resolver_preload: {\n  " +
                      account.public_key() + ": \"" + account_jwt + "\"\n  " +
                      system.public_key() + ": \"" + system_jwt + "\"\n}\n"),
            "");
  const std::string creds = dir_.path() + "/gw.creds";
  WriteFile(creds, CredsFile(user_jwt, user.EncodedSeed()));
  ExpectWorks(Url(), {"--nats-creds", creds}, {user.EncodedSeed()});

  // The right JWT with another user's seed: the nonce signature does not verify.
  const std::string wrong_seed = dir_.path() + "/wrong-seed.creds";
  WriteFile(wrong_seed, CredsFile(user_jwt, other_user.EncodedSeed()));
  ExpectRefused(Url(), {"--nats-creds", wrong_seed}, {other_user.EncodedSeed()});
  // A user of an account the server does not know.
  NkeyPair unknown_account = NewKey(kvmap::kNkeyPrefixAccount);
  const std::string stray = dir_.path() + "/stray.creds";
  WriteFile(stray, CredsFile(MakeJwt(unknown_account, user.public_key(), "gw", UserClaims()),
                             user.EncodedSeed()));
  ExpectRefused(Url(), {"--nats-creds", stray}, {user.EncodedSeed()});
}

INSTANTIATE_TEST_SUITE_P(Clients, NatsAuthTest, ::testing::Values("wire", "natsc"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace integration
