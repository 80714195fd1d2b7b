// A reader racing `WriteSvidFiles`: one thread switches the directory to a
// new SVID hundreds of times while another reads svid.pem and svid_key.pem
// by name in a tight loop, starting from plain files an older Mayfly wrote
// (the first switch migrates them). Every set a reader accepts must match, and
// the reads must really interleave with the switches. With the old writer
// (three files renamed one by one, key first) this test fails: a reader finds
// the new key beside the old certificate.
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/svid_files.h"
#include "identity/x509_svid.h"

namespace mayfly::identity {
namespace {

// Switches per run: enough that a torn set, if the writer allows one, shows
// up (the old writer tore dozens of sets in this many).
constexpr int kSwitches = 200;
// Consistent reads of each version before the next switch.
constexpr int kReadsPerSwitch = 10;
// How long the writer waits for the reader to see one version before it
// gives up: generous for a loaded CI machine.
constexpr absl::Duration kSeeVersionTimeout = absl::Seconds(20);

struct ReaderTally {
  std::atomic<int64_t> reads{0};         // consistent sets checked
  std::atomic<int64_t> during_write{0};  // of those, read while a write ran
  std::atomic<int64_t> straddled{0};     // svid.pem changed under the read
  std::atomic<int64_t> mismatches{0};    // a key not of its certificate
  std::atomic<int64_t> by_dir_mismatches{0};  // ReadSvidFiles refused a set
  std::atomic<int64_t> errors{0};
  std::atomic<int> last_seen{-1};  // index of the last version read
};

// Reads as a program that knows only the three names would: svid.pem, then
// svid_key.pem, then svid.pem again; if the certificate changed meanwhile
// the read straddled a switch and is not a set. Every 8th round reads the
// way ReadSvidFiles does (through `..data`, resolved once) instead.
void ReadUntilDone(const std::string& dir, const std::vector<std::string>& pems,
                   const std::atomic<bool>& writing,
                   const std::atomic<bool>& done, ReaderTally& tally) {
  for (int64_t round = 0; !done.load(); ++round) {
    const bool write_before = writing.load();
    if (round % 8 == 7) {
      absl::StatusOr<SvidFiles> files = ReadSvidFiles(dir);
      if (!files.ok()) tally.by_dir_mismatches.fetch_add(1);
      continue;
    }
    absl::StatusOr<std::string> cert = ReadFile(dir + "/svid.pem");
    absl::StatusOr<std::string> key = ReadFile(dir + "/svid_key.pem");
    absl::StatusOr<std::string> again = ReadFile(dir + "/svid.pem");
    if (!cert.ok() || !key.ok() || !again.ok()) {
      tally.errors.fetch_add(1);
      continue;
    }
    if (*cert != *again) {
      tally.straddled.fetch_add(1);
      continue;
    }
    absl::StatusOr<CertChain> chain = CertsFromPem(*cert);
    absl::StatusOr<UniqueEvpPkey> parsed = PrivateKeyFromPem(*key);
    if (!chain.ok() || !parsed.ok()) {
      tally.errors.fetch_add(1);
      continue;
    }
    if (!KeyMatchesCert(**parsed, *(*chain)[0])) tally.mismatches.fetch_add(1);
    tally.reads.fetch_add(1);
    if (write_before || writing.load()) tally.during_write.fetch_add(1);
    for (size_t i = 0; i < pems.size(); ++i) {
      if (pems[i] == *cert) tally.last_seen.store(static_cast<int>(i));
    }
  }
}

TEST(SvidFilesSwapTest, ReadersNeverSeeAKeyOfAnotherCertificate) {
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  const TrustDomain td = *TrustDomain::FromString("example.org");
  const Signer root = *MintRootCa({td, absl::Hours(1)}, clock);
  const Signer intermediate =
      *MintIntermediateCa({td, absl::Hours(1)}, root, clock);
  std::vector<X509Svid> svids;
  std::vector<std::string> pems;
  for (int i = 0; i <= kSwitches; ++i) {
    svids.push_back(*MintX509Svid(
        {*SpiffeId::FromString(absl::StrCat("spiffe://example.org/w", i))},
        intermediate, clock));
    pems.push_back(CertsToPem(svids.back().chain));
  }
  CertChain bundle;
  bundle.push_back(ShareCert(root.cert.get()));
  const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/swap");
  // Version 0 as plain files, as an older Mayfly wrote them: the first switch
  // migrates the directory while the reader reads.
  ASSERT_TRUE(EnsureDir(dir, 0755).ok());
  ASSERT_TRUE(
      WriteFileAtomically(dir + "/svid.pem", pems[0], kPublicFileMode).ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/svid_key.pem",
                                  *PrivateKeyToPkcs8Pem(*svids[0].key),
                                  kPrivateFileMode)
                  .ok());
  ASSERT_TRUE(WriteFileAtomically(dir + "/svid_bundle.pem", CertsToPem(bundle),
                                  kPublicFileMode)
                  .ok());

  std::atomic<bool> writing{false};
  std::atomic<bool> done{false};
  ReaderTally tally;
  std::thread reader([&] { ReadUntilDone(dir, pems, writing, done, tally); });
  int unseen = -1;
  for (int i = 1; i <= kSwitches && unseen < 0; ++i) {
    writing = true;
    const absl::Status written =
        WriteSvidFiles(dir, svids[i].chain, *svids[i].key, bundle);
    writing = false;
    ASSERT_TRUE(written.ok()) << written;
    // Let the reader see this version a few times before the next switch,
    // so reads are spread over every switch however threads are scheduled.
    const int64_t reads_before = tally.reads.load();
    auto seen = [&] {
      return tally.last_seen.load() >= i &&
             tally.reads.load() >= reads_before + kReadsPerSwitch;
    };
    const absl::Duration deadline =
        RealClock().Monotonic() + kSeeVersionTimeout;
    while (!seen() && RealClock().Monotonic() < deadline) {
      std::this_thread::yield();
    }
    if (!seen()) unseen = i;
  }
  done = true;
  reader.join();

  std::cout << "reads " << tally.reads << " (" << tally.during_write
            << " during a write), straddled " << tally.straddled
            << ", mismatches " << tally.mismatches << ", by ..data "
            << tally.by_dir_mismatches << ", errors " << tally.errors << "\n";
  EXPECT_EQ(unseen, -1) << "the reader never saw version " << unseen;
  EXPECT_EQ(tally.mismatches.load(), 0);
  EXPECT_EQ(tally.by_dir_mismatches.load(), 0);
  EXPECT_EQ(tally.errors.load(), 0);
  // Thousands of reads, and a good share of them while a write was going on.
  EXPECT_GE(tally.reads.load(), kReadsPerSwitch * kSwitches);
  EXPECT_GE(tally.during_write.load(), kSwitches);
}

}  // namespace
}  // namespace mayfly::identity
