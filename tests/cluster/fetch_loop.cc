// A workload for the cluster tests: fetches its X.509-SVIDs from the agent
// over and over, for a bounded time, and counts what went wrong.
//
//   fetch_loop SOCKET SPIFFE_ID INTERVAL_MS SECONDS [--until-denied]
//
// Each fetch is a fresh FetchX509SVID call (first message). It is a failure
// if the call fails, if SPIFFE_ID is not among the SVIDs, or if that SVID
// has expired (an agent must never hand out an expired SVID). Failures are
// printed as they happen; at the end one line:
//   fetches=N ok=K failed=F
// Exit 0 if nothing failed. With --until-denied it instead stops at the
// first failure, printing `denied after_ms=T: WHY`, and exits 0 then (1 if
// SECONDS pass first): how long a workload keeps an identity once it is
// evicted or deleted.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "identity/clock.h"
#include "identity/workload/client.h"
#include "identity/x509_svid.h"

namespace mayfly::cluster {
namespace {

// One fetch: OK, or why it does not count as one.
absl::Status FetchOnce(identity::workload::WorkloadClient& client,
                       const std::string& want, const identity::Clock& clock) {
  // Compared with the time the call started, so that an SVID expiring
  // while the answer is on its way does not count as served expired.
  const absl::Time asked = clock.Now();
  absl::StatusOr<identity::workload::X509Context> context =
      client.FetchX509Context(absl::Seconds(5));
  if (!context.ok()) return context.status();
  for (const auto& svid : context->svids) {
    if (svid.id.ToString() != want) continue;
    const absl::Time not_after = identity::CertNotAfter(*svid.chain.front());
    if (not_after <= asked) {
      return absl::FailedPreconditionError(
          absl::StrCat("served an expired SVID (NotAfter ",
                       absl::FormatTime(not_after), ")"));
    }
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(want, " not among the SVIDs"));
}

int Run(int argc, char** argv) {
  if (argc < 5 || argc > 6 ||
      (argc == 6 && std::string(argv[5]) != "--until-denied")) {
    std::fprintf(stderr,
                 "usage: fetch_loop SOCKET SPIFFE_ID INTERVAL_MS SECONDS "
                 "[--until-denied]\n");
    return 2;
  }
  const std::string want = argv[2];
  const absl::Duration interval = absl::Milliseconds(std::atoi(argv[3]));
  // Bounded whatever the caller asks: a test loop stops by itself.
  const absl::Duration duration =
      std::min(absl::Seconds(std::atoi(argv[4])), absl::Minutes(30));
  const bool until_denied = argc == 6;
  const identity::Clock& clock = identity::RealClock();
  auto client = identity::workload::WorkloadClient::Create(argv[1]);
  if (!client.ok()) {
    std::fprintf(stderr, "fetch_loop: %s\n",
                 client.status().ToString().c_str());
    return 2;
  }
  const absl::Time start = absl::Now();
  int64_t fetches = 0;
  int64_t failed = 0;
  while (absl::Now() - start < duration) {
    const absl::Status status = FetchOnce(**client, want, clock);
    ++fetches;
    const double at_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
    if (!status.ok()) {
      if (until_denied) {
        std::printf("denied after_ms=%.0f: %s\n", at_ms,
                    status.ToString().c_str());
        return 0;
      }
      ++failed;
      std::printf("fail at_ms=%.0f: %s\n", at_ms, status.ToString().c_str());
      std::fflush(stdout);
    }
    absl::SleepFor(interval);
  }
  if (until_denied) {
    std::printf("not denied within %s (%lld fetches)\n",
                absl::FormatDuration(duration).c_str(),
                static_cast<long long>(fetches));
    return 1;
  }
  std::printf(
      "fetches=%lld ok=%lld failed=%lld\n", static_cast<long long>(fetches),
      static_cast<long long>(fetches - failed), static_cast<long long>(failed));
  return failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace mayfly::cluster

int main(int argc, char** argv) { return mayfly::cluster::Run(argc, argv); }
