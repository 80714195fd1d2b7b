// The server's own TLS SVID rotates without a restart: after Maintain()
// renews it, new handshakes get the new certificate, whose chain ends in
// the root (so an agent pinning only the root's SHA-256 can check it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "gmock/gmock.h"
#include "identity/file_util.h"
#include "identity/server/testing/server_fixture.h"
#include "identity/unique_fd.h"

namespace mayfly::server {
namespace {

using testing::ServerFixture;

using UniqueSslCtx = identity::OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using UniqueSsl = identity::OpenSslPtr<SSL, SSL_free>;

// The chain the server presents to a new handshake (DER each), or empty.
std::vector<std::string> PresentedChain(int port) {
  identity::UniqueFd fd(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr))) {
    return {};
  }
  UniqueSslCtx ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  static const unsigned char kH2[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(ctx.get(), kH2, sizeof(kH2));
  UniqueSsl ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd.get());
  if (SSL_connect(ssl.get()) != 1) return {};
  std::vector<std::string> out;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl.get());  // borrowed
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    out.push_back(identity::CertToDer(*sk_X509_value(chain, i)));
  }
  return out;
}

class TlsRotationTest : public ServerFixture {};

TEST_F(TlsRotationTest, NewHandshakesGetTheRenewedCertificate) {
  std::vector<std::string> before = PresentedChain(server_->node_port());
  ASSERT_EQ(before.size(), 3u);  // leaf, intermediate, root
  EXPECT_EQ(before[2], server_->signer().Current()->root_der);

  clock_.Advance(kDefaultServerSvidTtl / 2 + absl::Seconds(1));
  ASSERT_TRUE(server_->Maintain().ok());
  const std::string written = identity::CertToDer(*(*identity::CertsFromPem(
      *identity::ReadFile(server_->server_cert_path())))[0]);
  ASSERT_NE(written, before[0]);

  // gRPC's file watcher re-reads every kTlsFileRefreshSeconds: wait for
  // the change, bounded.
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(5 * kTlsFileRefreshSeconds);
  std::vector<std::string> after;
  while (std::chrono::steady_clock::now() < deadline) {
    after = PresentedChain(server_->node_port());
    if (!after.empty() && after[0] == written) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(after.empty());
  EXPECT_EQ(after[0], written);
  EXPECT_EQ(after.back(), server_->signer().Current()->root_der);
}

}  // namespace
}  // namespace mayfly::server
