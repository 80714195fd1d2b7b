// Root rotation with admin-signed intermediates (the HA mode), on the file
// store and a fake clock: the admin prepares the next root in its own CA
// directory and signs the replica a new intermediate under it; the replica
// publishes the next root at once but signs with the new intermediate (and
// serves a TLS chain under the new root) only after root_rotation_lead;
// once the admin drops the old root, PruneBundle takes it out of the
// store's bundle.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "identity/ca.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/root_rotation.h"
#include "identity/server/testing/server_fixture.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::server {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ServerFixture;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kRootTtl = absl::Hours(24 * 365);

class HaRotationTest : public ServerFixture {
 protected:
  identity::TrustDomain Td() const {
    return *identity::TrustDomain::FromString("example.org");
  }
  std::string AdminDir() const { return dir_ + "/admin-ca"; }

  void Configure(ServerConfig& config) override {
    auto ca = identity::CertificateAuthority::Create(
        AdminDir(), identity::CertificateAuthority::Options{Td()}, clock_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    WriteIntermediate(**ca);
    CopyBundle();
    config.signing = SigningConfig{};
    config.signing.intermediate_cert = dir_ + "/int.pem";
    config.signing.intermediate_key = dir_ + "/int.key";
    config.signing.bundle = dir_ + "/roots.pem";
  }

  // A new key and an intermediate for it signed by `ca`'s root, as `mayfly
  // ca csr` and `mayfly ca sign` make them; key first, as an admin would.
  void WriteIntermediate(const identity::CertificateAuthority& ca) {
    identity::UniqueEvpPkey key =
        *identity::GenerateKey(identity::kDefaultKeyType);
    absl::StatusOr<std::string> csr = identity::MakeSvidCsrDer(
        *key, *identity::SpiffeId::FromString("spiffe://example.org"), {});
    ASSERT_TRUE(csr.ok()) << csr.status();
    absl::StatusOr<identity::UniqueX509> cert =
        ca.SignIntermediateCsr(*csr, absl::Hours(24));
    ASSERT_TRUE(cert.ok()) << cert.status();
    ASSERT_TRUE(identity::WriteFileAtomically(
                    dir_ + "/int.key", *identity::PrivateKeyToPkcs8Pem(*key),
                    identity::kPrivateFileMode)
                    .ok());
    identity::CertChain one;
    one.push_back(*std::move(cert));
    ASSERT_TRUE(identity::WriteFileAtomically(dir_ + "/int.pem",
                                              identity::CertsToPem(one),
                                              identity::kPublicFileMode)
                    .ok());
  }
  // The replica's `bundle` file: the admin's bundle.pem, copied.
  void CopyBundle() {
    ASSERT_TRUE(identity::WriteFileAtomically(
                    dir_ + "/roots.pem",
                    *identity::ReadFile(AdminDir() + "/bundle.pem"),
                    identity::kPublicFileMode)
                    .ok());
  }
  std::vector<std::string> StoreRoots() {
    absl::StatusOr<v1::Bundle> b = server_->store().GetBundle();
    EXPECT_TRUE(b.ok()) << b.status();
    return {b->x509_roots().begin(), b->x509_roots().end()};
  }
  std::string ServerTlsRoot() {
    identity::CertChain chain = *identity::CertsFromPem(
        *identity::ReadFile(server_->server_cert_path()));
    return identity::CertToDer(*chain.back());
  }
  absl::Status Prune(const std::vector<std::string>& keep,
                     v1::PruneBundleResponse* out = nullptr) {
    v1::PruneBundleRequest request;
    for (const std::string& der : keep) request.add_keep_roots(der);
    v1::PruneBundleResponse response;
    grpc::ClientContext context;
    grpc::Status s = admin_->PruneBundle(&context, request, &response);
    if (out != nullptr) *out = response;
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                        s.error_message());
  }
  void MaintainOk() {
    absl::Status s = server_->Maintain();
    ASSERT_TRUE(s.ok()) << s;
  }
};

TEST_F(HaRotationTest, NewIntermediateSignsOnlyAfterTheLead) {
  const std::string old_root = server_->signer().Current()->root_der;
  ASSERT_THAT(StoreRoots(), ElementsAre(old_root));

  // The admin: `mayfly ca rotate`, the replica's bundle file, then `mayfly
  // ca sign --next` for the replica's new key.
  ASSERT_TRUE(identity::PrepareRootRotation(AdminDir(), kRootTtl, clock_).ok());
  const std::string next_root =
      identity::CertToDer(**identity::ReadNextRoot(AdminDir()));
  CopyBundle();
  auto next_ca = identity::CertificateAuthority::LoadWithRoot(
      AdminDir(), identity::kNextRootKeyFile, identity::kNextRootCertFile,
      clock_);
  ASSERT_TRUE(next_ca.ok()) << next_ca.status();
  WriteIntermediate(**next_ca);

  MaintainOk();
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  EXPECT_EQ(server_->signer().Current()->root_der, old_root);
  EXPECT_EQ(ServerTlsRoot(), old_root);

  clock_.Advance(kDefaultRootRotationLead - absl::Seconds(1));
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, old_root);
  EXPECT_EQ(ServerTlsRoot(), old_root);

  clock_.Advance(absl::Seconds(1));
  MaintainOk();
  EXPECT_EQ(server_->signer().Current()->root_der, next_root);
  EXPECT_EQ(ServerTlsRoot(), next_root);
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  EXPECT_EQ(sink_.Count("root_rotation_switched", {}), 1);

  // The admin retires the old root (`mayfly ca promote`, `mayfly ca drop`)
  // and hands the replica the bundle without it; then prunes the store.
  ASSERT_TRUE(identity::PromoteNextRoot(AdminDir(), clock_.Now()).ok());
  ASSERT_TRUE(identity::DropRetiredRoot(AdminDir()).ok());
  CopyBundle();
  MaintainOk();
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  EXPECT_THAT(Prune({}), StatusIs(absl::StatusCode::kInvalidArgument,
                                  HasSubstr("keep_roots is empty")));
  EXPECT_THAT(Prune({old_root}),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("lacks the root this replica signs under")));
  EXPECT_THAT(StoreRoots(), ElementsAre(old_root, next_root));
  v1::PruneBundleResponse pruned;
  ASSERT_TRUE(Prune({next_root}, &pruned).ok());
  EXPECT_THAT(pruned.removed(), ElementsAre(old_root));
  EXPECT_THAT(pruned.roots(), ElementsAre(next_root));
  EXPECT_THAT(StoreRoots(), ElementsAre(next_root));
  // The replica does not publish it again.
  MaintainOk();
  EXPECT_THAT(StoreRoots(), ElementsAre(next_root));
}

// A replica still signing under a root puts it back into the store's
// bundle on its next Maintain, even when its bundle file and a prune
// dropped that root too early.
TEST_F(HaRotationTest, ReplicaRepublishesTheRootItSignsUnder) {
  const std::string root = server_->signer().Current()->root_der;
  ASSERT_TRUE(identity::PrepareRootRotation(AdminDir(), kRootTtl, clock_).ok());
  ASSERT_TRUE(identity::WriteFileAtomically(
                  dir_ + "/roots.pem",
                  *identity::ReadFile(identity::CaPath(
                      AdminDir(), identity::kNextRootCertFile)),
                  identity::kPublicFileMode)
                  .ok());
  const std::string next_root =
      identity::CertToDer(**identity::ReadNextRoot(AdminDir()));
  ASSERT_TRUE(server_->store().RemoveRootFromBundle(root).ok());
  MaintainOk();
  EXPECT_THAT(StoreRoots(), UnorderedElementsAre(root, next_root));
  EXPECT_EQ(server_->signer().Current()->root_der, root);
}

}  // namespace
}  // namespace mayfly::server
