// Stock subjects on mayfly-server's entries: what RenderServerEntries asks
// to change, and `mayfly bridge render --stock --entries-server` applying it
// to an in-memory Registration service over a Unix socket.
#include "bridge/server_entries.h"

#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/admin/testing/fake_registration.h"
#include "identity/cli/command.h"

namespace mayfly::bridge {
namespace {

using server::v1::Entry;
using ::testing::HasSubstr;

constexpr char kPolicy[] =
    "trust_domains: [prod.acme]\n"
    "principals:\n"
    "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n"
    "    principal: User:{ns}.{sa}\n"
    "  - id: spiffe://prod.acme/kafka/broker\n"
    "    principal: User:broker\n"
    "  - id: spiffe://prod.acme/groups/{g}\n"
    "    principal: Group:{g}\n"
    "brokers: [spiffe://prod.acme/kafka/broker]\n"
    "super_users: [User:broker]\n";
constexpr char kMarked[] = "OU=mayfly-kafka-principal,CN=";
constexpr char kNode[] = "spiffe://prod.acme/mayfly/agent/n1";

Entry MakeEntry(const std::string& id, const std::string& spiffe_id,
                const std::string& subject) {
  Entry e;
  e.set_id(id);
  e.set_spiffe_id(spiffe_id);
  e.set_parent_id(kNode);
  e.add_selectors("unix:uid:1000");
  e.set_ttl_seconds(120);
  e.set_subject(subject);
  return e;
}

// Four entries, one per outcome: given a subject, already right, denied
// with an unmarked subject (kept), unexpressible with a marked one
// (removed).
std::vector<Entry> FourEntries() {
  return {
      MakeEntry("e1", "spiffe://prod.acme/ns/orders/sa/writer", ""),
      MakeEntry("e2", "spiffe://prod.acme/kafka/broker",
                std::string(kMarked) + "broker"),
      MakeEntry("e3", "spiffe://other.acme/x", "CN=x"),
      MakeEntry("e4", "spiffe://prod.acme/groups/ops",
                std::string(kMarked) + "ops"),
  };
}

TEST(RenderServerEntriesTest, UpdatesOnlyWhatChanges) {
  absl::StatusOr<Policy> policy = Policy::Parse(kPolicy, "p.yaml");
  ASSERT_TRUE(policy.ok()) << policy.status();
  absl::StatusOr<ServerEntriesRender> r =
      RenderServerEntries(*policy, FourEntries());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->updates.size(), 2u);
  Entry want = FourEntries()[0];
  want.set_subject(std::string(kMarked) + "orders.writer");
  EXPECT_EQ(r->updates[0].SerializeAsString(), want.SerializeAsString());
  want = FourEntries()[3];
  want.set_subject("");
  EXPECT_EQ(r->updates[1].SerializeAsString(), want.SerializeAsString());
  EXPECT_EQ(r->unchanged, 2);
  EXPECT_EQ(r->report.denied, 1);
  EXPECT_EQ(r->report.unexpressible, 1);
  EXPECT_EQ(r->report.entries[2].source, "entry e3");
}

// Runs the registered command whose words start `args`.
int Mayfly(const std::vector<std::string>& args, std::string* err) {
  const cli::Command* command = cli::CommandRegistry::Global().Find(args);
  if (command == nullptr) return -1;
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  const int code =
      command->run(std::vector<std::string>(args.begin() + 2, args.end()));
  ::testing::internal::GetCapturedStdout();
  *err = ::testing::internal::GetCapturedStderr();
  return code;
}

class RenderToServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Under /tmp: a socket path must stay under 108 bytes.
    char dir[] = "/tmp/server_entries_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    server_ = std::make_unique<admin::testing::FakeRegistrationServer>(
        dir_ + "/reg.sock");
    ASSERT_TRUE(server_->ok());
    policy_ = dir_ + "/policy.yaml";
    std::ofstream(policy_) << kPolicy;
    // Created through the service, so the fake assigns ids in this order.
    grpc::ServerContext context;
    for (const Entry& e : FourEntries()) {
      Entry created;
      ASSERT_TRUE(server_->service().CreateEntry(&context, &e, &created).ok());
    }
  }
  void TearDown() override {
    server_.reset();
    unlink((dir_ + "/reg.sock").c_str());
    unlink(policy_.c_str());
    rmdir(dir_.c_str());
  }
  std::vector<std::string> Render() {
    return {"bridge",           "render",          policy_,
            "--stock",          "--svid-dir",      dir_,
            "--entries-server", server_->address()};
  }
  std::vector<std::string> Subjects() {
    std::vector<std::string> out;
    for (const Entry& e : server_->service().entries()) {
      out.push_back(e.subject());
    }
    return out;
  }

  std::string dir_;
  std::string policy_;
  std::unique_ptr<admin::testing::FakeRegistrationServer> server_;
};

TEST_F(RenderToServerTest, UnexpressibleEntriesStopEverything) {
  std::string err;
  EXPECT_EQ(Mayfly(Render(), &err), cli::kExitFailure);
  EXPECT_THAT(err, HasSubstr("mayfly: 1 entries map to principals a stock "
                             "broker cannot give; nothing updated on " +
                             server_->address()));
  EXPECT_EQ(Subjects()[0], "");
}

TEST_F(RenderToServerTest, AppliesSubjectsOnceAndThenChangesNothing) {
  std::vector<std::string> args = Render();
  args.push_back("--skip-unexpressible");
  std::string err;
  ASSERT_EQ(Mayfly(args, &err), cli::kExitOk) << err;
  EXPECT_THAT(err,
              HasSubstr("mayfly: updated 2 entries on " + server_->address() +
                        " (2 unchanged): 2 entries with a subject, 1 "
                        "denied, 1 not expressible\n"));
  EXPECT_EQ(Subjects(), (std::vector<std::string>{
                            std::string(kMarked) + "orders.writer",
                            std::string(kMarked) + "broker", "CN=x", ""}));
  ASSERT_EQ(Mayfly(args, &err), cli::kExitOk) << err;
  EXPECT_THAT(err, HasSubstr("mayfly: updated 0 entries on " +
                             server_->address() + " (4 unchanged)"));
}

TEST_F(RenderToServerTest, EntriesServerIsInsteadOfAFile) {
  std::vector<std::string> args = Render();
  args.insert(args.end(), {"--entries", "in.yaml", "--entries-out", "o.yaml"});
  std::string err;
  EXPECT_EQ(Mayfly(args, &err), cli::kExitUsage);
  EXPECT_EQ(err,
            "mayfly: --entries-server is for --stock, instead of --entries\n");
  EXPECT_EQ(server_->service().calls(), 4);  // the four creates
}

}  // namespace
}  // namespace mayfly::bridge
