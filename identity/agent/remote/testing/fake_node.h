// A fake mayfly-server Node service for the agent's tests: a real gRPC
// server on loopback TLS, with a real test CA (a root that signs the
// server's certificate, agent SVIDs and workload SVIDs from the CSRs it is
// sent). It checks join tokens, serves the entries a test gives it on Sync
// (pushed on every change), and can be told to refuse the agent (evicted).
// It does not check the agent's mTLS certificate: that is the server's
// business, tested there.
//
// Thread-safe.
#ifndef MAYFLY_IDENTITY_AGENT_REMOTE_TESTING_FAKE_NODE_H_
#define MAYFLY_IDENTITY_AGENT_REMOTE_TESTING_FAKE_NODE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "identity/clock.h"
#include "identity/server/proto/server.grpc.pb.h"
#include "identity/x509_svid.h"

namespace mayfly::agent::remote::testing {

namespace pb = ::mayfly::server::v1;

// The agent ID the fake gives every attested agent.
inline constexpr char kFakeAgentId[] = "spiffe://example.org/mayfly/agent/test";
inline constexpr char kFakeJoinToken[] = "fake-join-token";

// The test CA: one root signing everything.
struct TestCa {
  identity::Signer root;
  std::string root_pem;
  std::string root_sha256;  // hex, of the DER

  static absl::StatusOr<TestCa> Create(const identity::Clock& clock);
};

// A leaf (DER) for `uri` certifying the key of `csr_der`, signed by the
// test root, valid for `ttl` from clock.Now().
absl::StatusOr<std::string> SignCsrForTest(const TestCa& ca,
                                           const std::string& csr_der,
                                           const std::string& uri,
                                           absl::Duration ttl,
                                           const identity::Clock& clock);

// OK if `signature` is `key`'s x509pop answer to `nonce` (x509pop.h).
absl::Status VerifyX509PopAnswer(const EVP_PKEY& key, const std::string& nonce,
                                 const std::string& signature);

class FakeNode final : public pb::Node::Service {
 public:
  // `server_id` is the SPIFFE ID in the server's certificate. Serves on
  // 127.0.0.1 at a port the kernel picks.
  static absl::StatusOr<std::unique_ptr<FakeNode>> Start(
      const TestCa& ca, const identity::Clock& clock,
      const std::string& server_id = "spiffe://example.org/mayfly/server");
  ~FakeNode() override;

  std::string address() const { return address_; }
  // The chain the server shows (PEM, leaf first, root last).
  const std::string& chain_pem() const { return chain_pem_; }
  void Shutdown();

  // Replaces the entries and pushes them to every Sync stream.
  void SetEntries(std::vector<pb::Entry> entries) ABSL_LOCKS_EXCLUDED(mu_);
  // The trust domain the Sync bundle names, with a root of its own (a
  // misconfigured server).
  void SetBundleTrustDomain(const std::string& td) ABSL_LOCKS_EXCLUDED(mu_);
  // Roots (DER) the Sync bundle carries after the test CA's own: a next
  // root, as a server publishes it before a root rotation. Pushed at once.
  void SetExtraRoots(std::vector<std::string> roots_der)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Refuses every call but Attest with PermissionDenied.
  void Evict() ABSL_LOCKS_EXCLUDED(mu_);
  // How long SignX509 takes: a slow server, for tests of what the agent
  // does meanwhile.
  void SetSignDelay(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  // Lifetime of the SVIDs it signs.
  void SetSvidTtl(absl::Duration ttl) ABSL_LOCKS_EXCLUDED(mu_);

  int attests() const ABSL_LOCKS_EXCLUDED(mu_);
  // The number of CSRs in each SignX509 call, in order.
  std::vector<int> sign_batches() const ABSL_LOCKS_EXCLUDED(mu_);
  int renewals() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::Status Attest(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<pb::AttestResponse, pb::AttestRequest>* stream)
      override;
  grpc::Status RenewAgent(grpc::ServerContext* context,
                          const pb::RenewAgentRequest* request,
                          pb::AgentSvid* response) override;
  grpc::Status Sync(grpc::ServerContext* context,
                    const pb::SyncRequest* request,
                    grpc::ServerWriter<pb::SyncResponse>* writer) override;
  grpc::Status SignX509(grpc::ServerContext* context,
                        const pb::SignX509Request* request,
                        pb::SignX509Response* response) override;
  grpc::Status SignJwt(grpc::ServerContext* context,
                       const pb::SignJwtRequest* request,
                       pb::SignJwtResponse* response) override;

 private:
  FakeNode(const TestCa& ca, const identity::Clock& clock)
      : ca_(ca), clock_(clock) {}
  // Signs `csr_der` for `uri`; the chain (leaf only: the root signs).
  absl::StatusOr<std::string> SignCsr(const std::string& csr_der,
                                      const std::string& uri,
                                      absl::Duration ttl) const;
  pb::SyncResponse StateLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const TestCa& ca_;
  const identity::Clock& clock_;
  std::string address_;
  std::string chain_pem_;
  std::unique_ptr<grpc::Server> server_;

  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<pb::Entry> entries_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 1;
  bool evicted_ ABSL_GUARDED_BY(mu_) = false;
  std::string bundle_td_ ABSL_GUARDED_BY(mu_) = "example.org";
  std::string other_root_der_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> extra_roots_ ABSL_GUARDED_BY(mu_);
  absl::Duration ttl_ ABSL_GUARDED_BY(mu_) = absl::Minutes(5);
  absl::Duration sign_delay_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  int attests_ ABSL_GUARDED_BY(mu_) = 0;
  int renewals_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<int> sign_batches_ ABSL_GUARDED_BY(mu_);
};

// An entry as the server would send it.
pb::Entry MakeEntry(const std::string& id, const std::string& spiffe_id,
                    const std::vector<std::string>& selectors);

}  // namespace mayfly::agent::remote::testing

#endif  // MAYFLY_IDENTITY_AGENT_REMOTE_TESTING_FAKE_NODE_H_
