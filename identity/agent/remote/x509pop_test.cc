// x509pop, the agent's answer: verifiable with the node certificate's public
// key for each key type, over exactly the context and the nonce.
#include "identity/agent/remote/x509pop.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/agent/remote/testing/fake_node.h"
#include "identity/keys.h"
#include "identity/testing/status_matchers.h"

namespace mayfly::agent::remote {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::HasSubstr;

class X509PopTest : public ::testing::TestWithParam<identity::KeyType> {};

TEST_P(X509PopTest, AnswerVerifiesAndBindsTheNonce) {
  absl::StatusOr<identity::UniqueEvpPkey> key =
      identity::GenerateKey(GetParam());
  ASSERT_TRUE(key.ok()) << key.status();
  absl::StatusOr<std::string> answer = SignX509PopChallenge(**key, "nonce-1");
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(testing::VerifyX509PopAnswer(**key, "nonce-1", *answer).ok());
  EXPECT_THAT(testing::VerifyX509PopAnswer(**key, "nonce-2", *answer),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("bad challenge response")));
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, X509PopTest,
                         ::testing::Values(identity::KeyType::kEcP256,
                                           identity::KeyType::kEd25519,
                                           identity::KeyType::kRsa2048));

TEST(X509PopContextTest, NulTerminatedContext) {
  EXPECT_EQ(kX509PopContext.size(), 18u);
  EXPECT_EQ(kX509PopContext.back(), '\0');
}

}  // namespace
}  // namespace mayfly::agent::remote
