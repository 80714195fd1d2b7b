// One re-attestation per process per renewal, never one renewal's answer
// for the next.
#include "identity/agent/delivery_attestations.h"

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"

namespace mayfly::agent {
namespace {

using ::testing::Contains;

class DeliveryAttestationsTest : public ::testing::Test {
 protected:
  // This test process, as a stream's caller would be recorded.
  Caller Self() {
    absl::StatusOr<std::unique_ptr<ProcessRef>> process =
        ProcessRef::Open(getpid());
    EXPECT_TRUE(process.ok()) << process.status();
    return Caller{PeerCredentials{getpid(), getuid(), getgid()},
                  std::shared_ptr<const ProcessRef>(*std::move(process))};
  }
  static std::shared_ptr<const void> NewUpdate() {
    return std::make_shared<int>(0);
  }

  identity::FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  UnixAttestor attestor_{1 << 30, clock_};
  DeliveryAttestations attestations_{attestor_};
};

TEST_F(DeliveryAttestationsTest, StreamsOfOneProcessShareOneAttestation) {
  const Caller caller = Self();
  const auto update = NewUpdate();
  for (int stream = 0; stream < 3; ++stream) {
    absl::StatusOr<std::vector<std::string>> selectors =
        attestations_.Selectors(caller, update);
    ASSERT_TRUE(selectors.ok()) << selectors.status();
    EXPECT_THAT(*selectors, Contains(absl::StrCat("unix:uid:", getuid())));
  }
  EXPECT_EQ(attestations_.attestations(), 1);
}

TEST_F(DeliveryAttestationsTest, EachRenewalAttestsAgain) {
  const Caller caller = Self();
  ASSERT_TRUE(attestations_.Selectors(caller, NewUpdate()).ok());
  ASSERT_TRUE(attestations_.Selectors(caller, NewUpdate()).ok());
  EXPECT_EQ(attestations_.attestations(), 2);
}

TEST_F(DeliveryAttestationsTest, EachProcessHandleIsAttestedItself) {
  const auto update = NewUpdate();
  ASSERT_TRUE(attestations_.Selectors(Self(), update).ok());
  ASSERT_TRUE(attestations_.Selectors(Self(), update).ok());
  EXPECT_EQ(attestations_.attestations(), 2);
}

}  // namespace
}  // namespace mayfly::agent
