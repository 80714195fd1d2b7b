// EtcdKvStore over TLS, against a cluster that requires client
// certificates (etcd --client-cert-auth), as in production.
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/server/etcd/etcd_kv_store.h"
#include "identity/server/etcd/testing/etcd_cluster.h"
#include "identity/server/etcd/testing/test_env.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::server {
namespace {

using ::mayfly::server::testing::EtcdCluster;
using ::mayfly::server::testing::Put;
using ::mayfly::server::testing::TestPrefix;
using ::mayfly::server::testing::TestTmpDir;
using ::mayfly::server::testing::WatchRecorder;
using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(EtcdTlsTest, ServesOnlyClientsWithACertificateFromItsCa) {
  EtcdCluster::Options cluster_options;
  cluster_options.dir = TestTmpDir() + "/etcd-tls";
  cluster_options.tls = true;
  absl::StatusOr<std::unique_ptr<EtcdCluster>> cluster =
      EtcdCluster::Start(cluster_options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();

  EtcdKvStore::Options options;
  options.endpoints = (*cluster)->endpoints();
  options.ca_file = (*cluster)->ca_file();
  options.cert_file = (*cluster)->client_cert_file();
  options.key_file = (*cluster)->client_key_file();
  absl::StatusOr<std::unique_ptr<EtcdKvStore>> store =
      EtcdKvStore::Create(options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_THAT((*store)->Describe(), StartsWith("etcd https://127.0.0.1:"));
  const std::string key = TestPrefix() + "k";
  const int64_t r = Put(**store, key, "v");
  absl::StatusOr<KeyValue> got = (*store)->Get(key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->mod_revision, r);
  WatchRecorder recorder;
  auto watch = (*store)->Watch(TestPrefix(), r - 1, recorder.Callback());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(recorder.WaitForEvents(1));
  EXPECT_EQ(recorder.events().size(), 1);
  watch->reset();

  // Trusting the CA but showing no certificate: the handshake fails.
  options.cert_file.clear();
  options.key_file.clear();
  absl::StatusOr<std::unique_ptr<EtcdKvStore>> anonymous =
      EtcdKvStore::Create(options);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_THAT((*anonymous)->Get(key),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("no member answered")));
  // Plaintext to a TLS member.
  absl::StatusOr<std::unique_ptr<EtcdKvStore>> plain =
      EtcdKvStore::Create(EtcdKvStore::Options{(*cluster)->endpoints()});
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_THAT((*plain)->Get(key), StatusIs(absl::StatusCode::kUnavailable,
                                           HasSubstr("no member answered")));
}

}  // namespace
}  // namespace mayfly::server
