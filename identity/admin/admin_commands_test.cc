// The admin commands (entry, token, agent) run as `mayfly` runs them,
// against an in-memory Registration service served on a Unix socket.
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/admin/testing/fake_registration.h"
#include "identity/cli/command.h"

namespace mayfly::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Result {
  int code;
  std::string out;
  std::string err;
};

// Runs the registered command whose words start `args`.
Result Mayfly(const std::vector<std::string>& args) {
  const cli::Command* command = cli::CommandRegistry::Global().Find(args);
  if (command == nullptr) return {-1, "", "no such command"};
  const size_t words =
      std::count(command->words.begin(), command->words.end(), ' ') + 1;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int code =
      command->run(std::vector<std::string>(args.begin() + words, args.end()));
  std::string out = ::testing::internal::GetCapturedStdout();
  return {code, out, ::testing::internal::GetCapturedStderr()};
}

constexpr char kWeb[] = "spiffe://example.org/web";
constexpr char kNode[] = "spiffe://example.org/mayfly/agent/node1";

class AdminCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under /tmp: $TEST_TMPDIR can be too long for a socket path (108
    // bytes with the NUL).
    char dir[] = "/tmp/admin_commands_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    server_ =
        std::make_unique<testing::FakeRegistrationServer>(dir_ + "/reg.sock");
    ASSERT_TRUE(server_->ok());
  }
  void TearDown() override {
    server_.reset();
    unlink((dir_ + "/reg.sock").c_str());
    rmdir(dir_.c_str());
  }

  // `args` with --server pointing at the fake.
  Result Admin(std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back(server_->address());
    return Mayfly(args);
  }
  Result CreateWeb() {
    return Admin({"entry", "create", "--spiffe-id", kWeb, "--parent", kNode,
                  "--selector", "unix:uid:01000", "--selector", "unix:gid:50",
                  "--ttl", "5m", "--dns", "Web.Internal", "--hint", "web",
                  "--subject", "CN={spiffe_id}, O=Acme"});
  }
  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
    std::ofstream(path) << text;
    return path;
  }
  testing::FakeRegistration& fake() { return server_->service(); }

  std::string dir_;
  std::unique_ptr<testing::FakeRegistrationServer> server_;
};

TEST_F(AdminCommandsTest, CreatePrintsTheEntryIdFirst) {
  const Result r = CreateWeb();
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "id: 00000000000000000000000000000001\n"
            "spiffe_id: spiffe://example.org/web\n"
            "parent_id: spiffe://example.org/mayfly/agent/node1\n"
            "selectors: unix:gid:50, unix:uid:1000\n"
            "ttl: 5m\njwt_ttl: default\ndns_names: web.internal\n"
            "hint: web\nsubject: CN={spiffe_id},O=Acme\nrevision: 1\n");
  EXPECT_EQ(r.err, "");
  ASSERT_EQ(fake().entries().size(), 1u);
  EXPECT_EQ(fake().entries()[0].ttl_seconds(), 300);
}

TEST_F(AdminCommandsTest, ControlCharactersAreEscapedInText) {
  const Result r =
      Admin({"entry", "create", "--spiffe-id", kWeb, "--parent", kNode,
             "--selector", "unix:uid:1", "--hint", "a\nid: forged\x1b[2J"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nhint: a\\nid: forged\\x1b[2J\n"));
}

TEST_F(AdminCommandsTest, FlagsAreCheckedBeforeAnyCall) {
  const std::vector<std::string> good = {"entry", "create",   "--spiffe-id",
                                         kWeb,    "--parent", kNode};
  struct Case {
    std::vector<std::string> extra;
    std::string err;
  };
  const std::vector<Case> cases = {
      {{"--selector", "unix:uid:x"},
       "mayfly entry create: --selector: selector \"unix:uid:x\": uid must "
       "be a decimal number below 2^32\n"},
      {{},
       "mayfly entry create: --selector: an entry needs at least one "
       "selector (none would match every process)\n"},
      {{"--selector", "unix:uid:1", "--ttl", "5s"},
       "mayfly entry create: --ttl: must be from 10s to 24h\n"},
      {{"--selector", "unix:uid:1", "--ttl", "5"},
       "mayfly entry create: --ttl: "},
      {{"--selector", "unix:uid:1", "--jwt-ttl", "10m"},
       "mayfly entry create: --jwt-ttl: must be from 1s to 5m\n"},
      {{"--selector", "unix:uid:1", "--dns", "a_b"},
       "mayfly entry create: --dns: \"a_b\" is not a DNS name\n"},
      {{"--selector", "unix:uid:1", "--subject", "XX=a"},
       "mayfly entry create: --subject: attribute \"XX\" is not one of C, CN, "
       "L, O, OU, ST\n"},
      {{"--selector", "unix:uid:1", "--hint", std::string(65, 'h')},
       "mayfly entry create: --hint: longer than 64 bytes\n"},
      {{"--selector", "unix:uid:1", "--timeout", "soon"},
       "mayfly entry create: --timeout: "},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = good;
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    const Result r = Admin(args);
    EXPECT_EQ(r.code, cli::kExitUsage) << c.err;
    EXPECT_THAT(r.err, StartsWith(c.err));
  }
  Result r = Admin({"entry", "create", "--spiffe-id", "spiffe://Example.org/x",
                    "--parent", kNode, "--selector", "unix:uid:1"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_THAT(r.err, StartsWith("mayfly entry create: --spiffe-id: "));
  r = Admin({"entry", "show", "XYZ"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_EQ(r.err,
            "mayfly entry show: \"XYZ\" is not an entry id (32 lowercase hex "
            "digits)\n");
  r = Admin({"entry", "list", "--format", "yaml"});
  EXPECT_EQ(r.err, "mayfly entry list: --format: want text or json\n");
  r = Admin({"agent", "evict", "node1"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_THAT(r.err, StartsWith("mayfly agent evict: AGENT_ID: "));
  r = Admin({"token", "create", "--alias", "not-an-id"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_THAT(r.err, StartsWith("mayfly token create: --alias: "));
  EXPECT_EQ(fake().calls(), 0);
}

TEST_F(AdminCommandsTest, ServerErrorsAreSurfacedWithExitCode1) {
  fake().FailNext(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                               "uid 1001 is not an admin"));
  Result r = CreateWeb();
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_EQ(r.err,
            "mayfly entry create: PERMISSION_DENIED: uid 1001 is not an "
            "admin\n");
  EXPECT_EQ(r.out, "");
  r = Admin({"entry", "show", std::string(32, 'a')});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_EQ(r.err, "mayfly entry show: NOT_FOUND: no entry " +
                       std::string(32, 'a') + "\n");
}

TEST_F(AdminCommandsTest, EveryCallHasADeadline) {
  fake().StallCalls();
  const Result r = Admin({"agent", "list", "--timeout", "200ms"});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_THAT(r.err, StartsWith("mayfly agent list: DEADLINE_EXCEEDED: "));
}

TEST_F(AdminCommandsTest, MtlsNeedsAnSvidAndABundle) {
  const Result r = Mayfly({"entry", "list", "--server", "127.0.0.1:8081"});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_EQ(r.err,
            "mayfly entry list: --server 127.0.0.1:8081 is not unix:///PATH: "
            "mTLS needs --svid-dir and --bundle\n");
}

TEST_F(AdminCommandsTest, SocketPathMustFitSunPath) {
  const std::string path = "/" + std::string(107, 'a');
  const Result r = Mayfly({"entry", "list", "--server", "unix://" + path});
  EXPECT_EQ(r.code, cli::kExitUsage);
  EXPECT_EQ(r.err,
            "mayfly entry list: --server: the socket path is 108 bytes; a "
            "Unix socket path holds at most 107\n");
}

TEST_F(AdminCommandsTest, ServerComesFromTheEnvironment) {
  ASSERT_EQ(setenv("MAYFLY_SERVER_ADMIN", server_->address().c_str(), 1), 0);
  const Result r = Mayfly({"entry", "list"});
  unsetenv("MAYFLY_SERVER_ADMIN");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(fake().calls(), 1);
}

TEST_F(AdminCommandsTest, UpdateShowListDelete) {
  ASSERT_EQ(CreateWeb().code, 0);
  const std::string id = fake().entries()[0].id();
  Result r = Admin({"entry", "update", id, "--spiffe-id", kWeb, "--parent",
                    kNode, "--selector", "unix:uid:1000", "--jwt-ttl", "1m"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "id: " + id +
                "\nspiffe_id: spiffe://example.org/web\nparent_id: " + kNode +
                "\nselectors: unix:uid:1000\nttl: default\njwt_ttl: "
                "1m\ndns_names: \nhint: \nsubject: \nrevision: 2\n");
  r = Admin({"entry", "show", id});
  EXPECT_THAT(r.out, HasSubstr("jwt_ttl: 1m\n"));
  r = Admin({"entry", "list", "--parent", kNode, "--format", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"revision\":2,\"entries\":[{\"id\":\"" + id +
                       "\",\"spiffe_id\":\"spiffe://example.org/web\","
                       "\"parent_id\":\"" +
                       kNode +
                       "\",\"selectors\":[\"unix:uid:1000\"],\"ttl_seconds\":"
                       "0,\"dns_names\":[],\"hint\":\"\",\"subject\":\"\","
                       "\"revision\":2,\"jwt_ttl_seconds\":60}]}\n");
  r = Admin({"entry", "list", "--spiffe-id", "spiffe://example.org/other"});
  EXPECT_EQ(r.out, "");
  r = Admin({"entry", "delete", id});
  EXPECT_EQ(r.out, "deleted " + id + "\n");
  EXPECT_TRUE(fake().entries().empty());
}

TEST_F(AdminCommandsTest, LoadIsIdempotent) {
  const std::string path =
      WriteFile("entries.yaml",
                "entries:\n"
                "  - spiffe_id: spiffe://example.org/web\n"
                "    selectors: [\"unix:uid:1000\"]\n"
                "    ttl: 2m\n"
                "    subject: \"CN={spiffe_id},O=A\\\\,B\"\n"
                "  - spiffe_id: spiffe://example.org/db\n"
                "    selectors: [\"unix:uid:1001\"]\n"
                "    dns_names: [db.internal]\n");
  Result r = Admin({"entry", "load", path, "--parent", kNode});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2 created, 0 updated, 0 unchanged\n");
  r = Admin({"entry", "load", path, "--parent", kNode});
  EXPECT_EQ(r.out, "0 created, 0 updated, 2 unchanged\n");
  EXPECT_EQ(fake().entries().size(), 2u);
  EXPECT_EQ(fake().entries()[0].subject(), "CN={spiffe_id},O=A\\,B");
  WriteFile("entries.yaml",
            "entries:\n"
            "  - spiffe_id: spiffe://example.org/web\n"
            "    selectors: [\"unix:uid:1000\"]\n"
            "    ttl: 3m\n"
            "    subject: \"CN={spiffe_id},O=A\\\\,B\"\n"
            "  - spiffe_id: spiffe://example.org/db\n"
            "    selectors: [\"unix:uid:1001\"]\n"
            "    dns_names: [db.internal]\n");
  r = Admin({"entry", "load", path, "--parent", kNode});
  EXPECT_EQ(r.out, "0 created, 1 updated, 1 unchanged\n");
  EXPECT_EQ(fake().entries()[0].ttl_seconds(), 180);
  // Another parent is another registration.
  r = Admin({"entry", "load", path, "--parent",
             "spiffe://example.org/mayfly/agent/node2"});
  EXPECT_EQ(r.out, "2 created, 0 updated, 0 unchanged\n");
}

TEST_F(AdminCommandsTest, LoadSaysWhatItDidBeforeARefusal) {
  const std::string path = WriteFile("two.yaml",
                                     "entries:\n"
                                     "  - spiffe_id: spiffe://example.org/web\n"
                                     "    selectors: [\"unix:uid:1000\"]\n"
                                     "  - spiffe_id: spiffe://example.org/db\n"
                                     "    selectors: [\"unix:uid:1001\"]\n");
  // Call 1 lists, 2 creates web, 3 would create db.
  fake().FailCall(
      3, grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "db is reserved"));
  const Result r = Admin({"entry", "load", path, "--parent", kNode});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_EQ(r.out, "1 created, 0 updated, 0 unchanged before the error\n");
  EXPECT_EQ(r.err, "mayfly entry load: " + path +
                       ":4: spiffe://example.org/db: INVALID_ARGUMENT: db is "
                       "reserved\n");
}

TEST_F(AdminCommandsTest, LoadChecksTheWholeFileFirst) {
  const std::string path = WriteFile("bad.yaml",
                                     "entries:\n"
                                     "  - spiffe_id: spiffe://example.org/web\n"
                                     "    selectors: [\"unix:uid:1000\"]\n"
                                     "  - spiffe_id: spiffe://example.org/db\n"
                                     "    selectors: [\"unix:uid:x\"]\n");
  const Result r = Admin({"entry", "load", path, "--parent", kNode});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_EQ(r.err, "mayfly entry load: " + path +
                       ":5: entries[1].selectors[0]: selector \"unix:uid:x\": "
                       "uid must be a decimal number below 2^32\n");
  EXPECT_EQ(fake().calls(), 0);
}

TEST_F(AdminCommandsTest, TokenAndAgents) {
  Result r = Admin({"token", "create", "--ttl", "1h", "--alias",
                    "spiffe://example.org/mayfly/alias/kafka"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "token: token-1\n"
            "agent_id: spiffe://example.org/mayfly/agent/join_token/1\n"
            "expires: 2030-01-01T01:00:00Z\n");
  EXPECT_EQ(
      fake().last_aliases(),
      std::vector<std::string>{"spiffe://example.org/mayfly/alias/kafka"});
  server::v1::Agent agent;
  agent.set_spiffe_id(kNode);
  agent.set_attestation("join_token");
  agent.set_attested_at_unix(1893456000);
  fake().AddAgent(agent);
  r = Admin({"agent", "list"});
  EXPECT_EQ(r.out, absl::StrCat("spiffe_id: ", kNode,
                                "\nattestation: join_token\naliases: \n"
                                "attested_at: 2030-01-01T00:00:00Z\n"
                                "svid_serial: \nsvid_not_after: -\n"
                                "evicted: false\n"));
  r = Admin({"agent", "evict", kNode});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("evicted: true\n"));
  r = Admin({"agent", "evict", "spiffe://example.org/mayfly/agent/gone"});
  EXPECT_EQ(r.code, cli::kExitFailure);
  EXPECT_EQ(r.err,
            "mayfly agent evict: NOT_FOUND: no agent "
            "spiffe://example.org/mayfly/agent/gone\n");
}

}  // namespace
}  // namespace mayfly::admin
