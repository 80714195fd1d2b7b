// mayfly-server end to end over real gRPC: join tokens, agent SVIDs,
// SignX509, Sync pushed on change, and the admin socket's uid check.
#include <grpcpp/create_channel_posix.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "identity/bundle.h"
#include "identity/server/testing/server_fixture.h"
#include "identity/x509_verify.h"

namespace mayfly::server {
namespace {

using ::testing::ElementsAre;
using testing::ServerFixture;
using testing::TestAgent;

constexpr char kAgentPrefix[] = "spiffe://example.org/mayfly/agent/join_token/";

identity::CertChain Chain(const std::vector<std::string>& ders) {
  identity::CertChain chain;
  for (const std::string& der : ders) {
    identity::CertChain one = *identity::CertsFromDer(der);
    for (auto& c : one) chain.push_back(std::move(c));
  }
  return chain;
}

class NodeTest : public ServerFixture {
 protected:
  identity::X509Bundle Bundle() {
    return *identity::X509Bundle::FromPem(
        *identity::TrustDomain::FromString("example.org"), root_pem_);
  }
};

TEST_F(NodeTest, JoinTokenGivesTheAgentItsIdAndWorksOnce) {
  v1::CreateJoinTokenResponse token = NewToken();
  EXPECT_EQ(token.token().size(), 64u);
  EXPECT_TRUE(absl::StartsWith(token.agent_id(), kAgentPrefix));
  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::AgentSvid svid;
  grpc::Status s = AttestWithToken(token.token(), *key, &svid);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(svid.spiffe_id(), token.agent_id());
  auto verified = identity::VerifyX509Svid(
      Chain({svid.chain().begin(), svid.chain().end()}), Bundle(),
      clock_.Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->id.ToString(), token.agent_id());
  EXPECT_EQ(verified->expiry, clock_.Now() + kDefaultAgentTtl);

  s = AttestWithToken(token.token(), *key, &svid);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "join token unknown or already used");
}

TEST_F(NodeTest, CsrForAnotherIdIsRefusedWithoutBurningTheToken) {
  v1::CreateJoinTokenResponse token = NewToken();
  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::AgentSvid svid;
  grpc::Status s = AttestWithToken(
      token.token(), *key, &svid,
      testing::HandMadeCsr(*key, *key,
                           {"subjectAltName=URI:spiffe://example.org/admin"}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            absl::StrCat("CSR names URI SANs [spiffe://example.org/admin]; "
                         "the entry allows exactly ",
                         token.agent_id()));
  s = AttestWithToken(token.token(), *key, &svid);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

// A first-time agent does not know its ID; it may name the agent prefix,
// never another agent.
TEST_F(NodeTest, CsrMayNameTheGenericAgentIdButNoOtherAgent) {
  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::AgentSvid svid;
  v1::CreateJoinTokenResponse other = NewToken();
  v1::CreateJoinTokenResponse token = NewToken();
  grpc::Status s = AttestWithToken(
      token.token(), *key, &svid,
      testing::HandMadeCsr(*key, *key,
                           {"subjectAltName=URI:" + other.agent_id()}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  s = AttestWithToken(
      token.token(), *key, &svid,
      testing::HandMadeCsr(
          *key, *key,
          {"subjectAltName=URI:spiffe://example.org/mayfly/agent"}));
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(svid.spiffe_id(), token.agent_id());
}

TEST_F(NodeTest, ConcurrentUsesOfOneTokenHaveExactlyOneWinner) {
  const std::string token = NewToken().token();
  constexpr int kRacers = 4;
  std::vector<grpc::Status> results(kRacers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] {
      auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
      v1::AgentSvid svid;
      results[i] = AttestWithToken(token, *key, &svid);
    });
  }
  for (auto& t : threads) t.join();
  int ok = 0;
  for (const grpc::Status& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      EXPECT_EQ(s.error_message(), "join token unknown or already used");
    }
  }
  EXPECT_EQ(ok, 1);
}

TEST_F(NodeTest, ExpiredJoinTokenIsRefused) {
  const std::string token = NewToken(/*ttl_seconds=*/60).token();
  clock_.Advance(absl::Seconds(61));
  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::AgentSvid svid;
  grpc::Status s = AttestWithToken(token, *key, &svid);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), ::testing::StartsWith("join token expired"));
}

TEST_F(NodeTest, SignX509SignsExactlyWhatTheEntrySays) {
  TestAgent agent = NewAgent();
  v1::Entry entry;
  entry.set_spiffe_id("spiffe://example.org/web");
  entry.set_parent_id(agent.id);
  entry.add_selectors("unix:uid:1000");
  entry.set_ttl_seconds(120);
  entry.add_dns_names("web.internal");
  entry.set_subject("CN=web.{trust_domain},O=Acme");
  entry = CreateEntry(entry);

  auto key = *identity::GenerateKey(identity::KeyType::kEcP256);
  v1::SignX509Request req;
  v1::CsrForEntry* item = req.add_csrs();
  item->set_entry_id(entry.id());
  item->set_csr(*identity::MakeSvidCsrDer(
      *key, *identity::SpiffeId::FromString("spiffe://example.org/web"),
      {"web.internal"}));
  grpc::ClientContext ctx;
  v1::SignX509Response resp;
  grpc::Status s = agent.node->SignX509(&ctx, req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(resp.results_size(), 1);
  const v1::SignX509Result& r = resp.results(0);
  ASSERT_EQ(r.error_code(), 0) << r.error();
  identity::CertChain chain = Chain({r.chain().begin(), r.chain().end()});
  auto verified = identity::VerifyX509Svid(chain, Bundle(), clock_.Now());
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(verified->id.ToString(), "spiffe://example.org/web");
  EXPECT_EQ(verified->expiry, clock_.Now() + absl::Seconds(120));
  EXPECT_EQ(r.not_after_unix(), absl::ToUnixSeconds(verified->expiry));
  EXPECT_TRUE(identity::KeyMatchesCert(*key, *chain[0]));
  char* subject =
      X509_NAME_oneline(X509_get_subject_name(chain[0].get()), nullptr, 0);
  EXPECT_STREQ(subject, "/CN=web.example.org/O=Acme");
  OPENSSL_free(subject);
  EXPECT_THAT(identity::UriSans(*chain[0]),
              ElementsAre("spiffe://example.org/web"));
}

TEST_F(NodeTest, SyncPushesCreateAndDelete) {
  TestAgent agent = NewAgent();
  grpc::ClientContext ctx;
  auto stream = agent.node->Sync(&ctx, v1::SyncRequest());
  v1::SyncResponse first;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(first.entries_size(), 0);
  EXPECT_EQ(first.bundle().x509_roots_size(), 1);

  v1::Entry entry;
  entry.set_spiffe_id("spiffe://example.org/db");
  entry.set_parent_id(agent.id);
  entry.add_selectors("unix:uid:0");
  const auto start = std::chrono::steady_clock::now();
  entry = CreateEntry(entry);
  v1::SyncResponse next;
  ASSERT_TRUE(stream->Read(&next));
  const auto latency = std::chrono::steady_clock::now() - start;
  std::cout
      << "create-to-sync latency: "
      << std::chrono::duration_cast<std::chrono::microseconds>(latency).count()
      << " us\n";
  EXPECT_LT(latency, std::chrono::seconds(1));
  ASSERT_EQ(next.entries_size(), 1);
  EXPECT_EQ(next.entries(0).id(), entry.id());
  EXPECT_EQ(next.entries(0).spiffe_id(), "spiffe://example.org/db");

  grpc::ClientContext del_ctx;
  v1::EntryId id;
  id.set_id(entry.id());
  v1::DeleteEntryResponse del;
  ASSERT_TRUE(admin_->DeleteEntry(&del_ctx, id, &del).ok());
  ASSERT_TRUE(stream->Read(&next));
  EXPECT_EQ(next.entries_size(), 0);
  ctx.TryCancel();
}

// The uid check on the admin socket, with a real peer of another uid: a
// child connects as nobody (SO_PEERCRED records the uid at connect) and
// hands the connected socket back; the parent speaks gRPC over it.
TEST_F(NodeTest, AdminSocketRefusesAnotherUid) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to connect as nobody";
  const std::string sock = dir_ + "/run/admin.sock";
  ASSERT_EQ(chmod(sock.c_str(), 0666), 0);  // the uid check alone must hold
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  const std::string dir = dir_ + "/run";
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls in the child of a threaded process.
    if (chdir(dir.c_str()) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      _exit(1);
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, "admin.sock", 11);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      _exit(2);
    }
    char byte = 0;
    iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    _exit(sendmsg(pair[1], &msg, 0) == 1 ? 0 : 3);
  }
  close(pair[1]);
  char byte;
  iovec iov = {&byte, 1};
  char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ASSERT_EQ(recvmsg(pair[0], &msg, 0), 1);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_EQ(WEXITSTATUS(status), 0);
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
  close(pair[0]);

  auto stub = v1::Registration::NewStub(
      grpc::CreateInsecureChannelFromFd("nobody", fd));  // the channel owns fd
  grpc::ClientContext ctx;
  v1::ListAgentsResponse resp;
  grpc::Status s = stub->ListAgents(&ctx, v1::ListAgentsRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "the calling uid is not in the server's admin_uids");
  EXPECT_EQ(sink_.Count("admin_uid_refused", {{"uid", "65534"}}), 1);

  // Root, in admin_uids, gets through the same socket.
  grpc::ClientContext ok_ctx;
  EXPECT_TRUE(admin_->ListAgents(&ok_ctx, v1::ListAgentsRequest(), &resp).ok());
}

}  // namespace
}  // namespace mayfly::server
