// Minting cost against the raw OpenSSL floor, side by side in one run.
//
// The floor of one X.509-SVID is one P-256 key generation plus one ECDSA
// signature (the CA's, over the certificate). BM_OpenSslFloor does exactly
// that with OpenSSL's own calls; BM_MintX509SvidDer does the whole mint the
// agent does (key, leaf certificate with every extension, signature, as DER;
// the intermediate that follows it on the wire is encoded once per
// intermediate, not per SVID), and BM_MintX509Svid the same ending in an X509
// object, as the CLI uses it. All run on one thread, repeated, and the
// fastest repetition of each is reported. Because repetitions of different
// benchmarks run minutes apart on a noisy machine, the ratio that counts is
// measured again with the floor and the mint in alternating batches
// (InterleavedNanos). The last line printed is
//   mint_vs_openssl_floor=R      (floor time / mint time; 1.0 = no overhead)
// A floor of 0 (a benchmark that failed) makes the program exit non-zero.
#define OPENSSL_SUPPRESS_DEPRECATED  // EC_KEY, for the second floor.

#include <benchmark/benchmark.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "identity/clock.h"
#include "identity/openssl_util.h"
#include "identity/spiffe_id.h"
#include "identity/x509_svid.h"
#include "identity/x509_verify.h"

namespace mayfly::identity {
namespace {

// Roughly the size of an SVID's to-be-signed part, so the floor's signature
// hashes as many bytes as the real one.
constexpr size_t kTbsBytes = 420;

struct Authority {
  Signer root;
  Signer intermediate;
};

const Authority& TestAuthority() {
  static const Authority* authority = [] {
    const TrustDomain td = *TrustDomain::FromString("example.org");
    Signer root =
        *MintRootCa({td, absl::Hours(24), {}, KeyType::kEcP256}, RealClock());
    Signer intermediate = *MintIntermediateCa(
        {td, absl::Hours(6), {}, KeyType::kEcP256}, root, RealClock());
    return new Authority{std::move(root), std::move(intermediate)};
  }();
  return *authority;
}

// One key, then one ECDSA-SHA256 signature by the CA over a TBS-sized buffer.
// `make_key` is the only difference between the two floors.
template <typename MakeKey>
bool FloorOnce(MakeKey make_key) {
  static const std::string* const tbs = new std::string(kTbsBytes, 'x');
  unsigned char sig[128];
  UniqueEvpPkey key = make_key();
  UniqueEvpMdCtx ctx(EVP_MD_CTX_new());
  size_t sig_len = sizeof(sig);
  const bool ok =
      key != nullptr &&
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         TestAuthority().intermediate.key.get()) == 1 &&
      EVP_DigestSign(ctx.get(), sig, &sig_len,
                     reinterpret_cast<const unsigned char*>(tbs->data()),
                     tbs->size()) == 1;
  benchmark::DoNotOptimize(sig_len);
  return ok;
}

// The key from OpenSSL 3.0's provider interface.
UniqueEvpPkey ProviderKey() {
  return UniqueEvpPkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

// The key from the EC_KEY interface, which is what GenerateKey uses for P-256
// (see identity/keys.cc). The ratio is taken against the faster floor.
UniqueEvpPkey EcKeyKey() {
  EC_KEY* ec = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
  UniqueEvpPkey key(EVP_PKEY_new());
  if (ec == nullptr || EC_KEY_generate_key(ec) != 1 ||
      EVP_PKEY_assign_EC_KEY(key.get(), ec) != 1) {  // `key` owns `ec`.
    EC_KEY_free(ec);
    return UniqueEvpPkey();
  }
  return key;
}

bool MintDerOnce() {
  static const X509SvidRequest* const request = new X509SvidRequest{
      *SpiffeId::FromString("spiffe://example.org/ns/kafka/sa/producer")};
  absl::StatusOr<X509SvidDer> svid =
      MintX509SvidDer(*request, TestAuthority().intermediate, RealClock());
  if (svid.ok()) benchmark::DoNotOptimize(svid->leaf_der.data());
  return svid.ok();
}

template <typename Op>
void RunOp(benchmark::State& state, Op op) {
  for (auto _ : state) {
    if (!op()) {
      state.SkipWithError("operation failed");
      break;
    }
  }
}

void BM_OpenSslFloor(benchmark::State& state) {
  RunOp(state, [] { return FloorOnce(ProviderKey); });
}

void BM_OpenSslFloorEcKey(benchmark::State& state) {
  RunOp(state, [] { return FloorOnce(EcKeyKey); });
}

// What the agent mints per SVID: the leaf as DER, never an X509 object.
void BM_MintX509SvidDer(benchmark::State& state) { RunOp(state, MintDerOnce); }

// Side by side: batches of the floor and of the mint alternate, so both see
// the same machine; each keeps its fastest batch. Returns {floor, mint} in
// nanoseconds per operation, or zeros if an operation failed.
std::pair<double, double> InterleavedNanos() {
  constexpr int kRounds = 30;
  constexpr int kBatch = 100;
  auto batch = [](auto op) {
    const absl::Time start = absl::Now();
    for (int i = 0; i < kBatch; ++i) {
      if (!op()) return 0.0;
    }
    return absl::ToDoubleNanoseconds(absl::Now() - start) / kBatch;
  };
  double floor = 1e18, mint = 1e18;
  for (int round = 0; round < kRounds; ++round) {
    const double provider = batch([] { return FloorOnce(ProviderKey); });
    const double ec_key = batch([] { return FloorOnce(EcKeyKey); });
    const double der = batch(MintDerOnce);
    if (provider == 0 || ec_key == 0 || der == 0) return {0, 0};
    floor = std::min({floor, provider, ec_key});
    mint = std::min(mint, der);
  }
  return {floor, mint};
}

void BM_MintX509Svid(benchmark::State& state) {
  const Signer& signer = TestAuthority().intermediate;
  X509SvidRequest request{
      *SpiffeId::FromString("spiffe://example.org/ns/kafka/sa/producer")};
  for (auto _ : state) {
    absl::StatusOr<X509Svid> svid = MintX509Svid(request, signer, RealClock());
    if (!svid.ok()) {
      state.SkipWithError(std::string(svid.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(svid->chain[0].get());
  }
}

void BM_VerifyX509Svid(benchmark::State& state) {
  const Authority& authority = TestAuthority();
  X509SvidRequest request{
      *SpiffeId::FromString("spiffe://example.org/ns/kafka/sa/producer")};
  X509Svid svid = *MintX509Svid(request, authority.intermediate, RealClock());
  X509Bundle bundle(request.id.trust_domain());
  bundle.AddRoot(*authority.root.cert);
  for (auto _ : state) {
    absl::StatusOr<VerifiedSvid> verified =
        VerifyX509Svid(svid.chain, bundle, RealClock().Now());
    if (!verified.ok()) {
      state.SkipWithError(std::string(verified.status().message()).c_str());
      break;
    }
  }
}

constexpr int kRepetitions = 5;
BENCHMARK(BM_OpenSslFloor)->Repetitions(kRepetitions);
BENCHMARK(BM_OpenSslFloorEcKey)->Repetitions(kRepetitions);
BENCHMARK(BM_MintX509Svid)->Repetitions(kRepetitions);
BENCHMARK(BM_MintX509SvidDer)->Repetitions(kRepetitions);
BENCHMARK(BM_VerifyX509Svid)->Repetitions(kRepetitions);

// Prints as the console reporter does, and keeps the fastest CPU time per
// iteration of each benchmark across its repetitions.
class RecordingReporter : public benchmark::ConsoleReporter {
 public:
  // Plain text: the output goes to CI logs, not a terminal.
  RecordingReporter() : ConsoleReporter(OO_None) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      const double per_op = run.GetAdjustedCPUTime();
      const std::string name = run.run_name.function_name;
      auto it = fastest_.find(name);
      if (it == fastest_.end()) {
        fastest_[name] = per_op;
      } else {
        it->second = std::min(it->second, per_op);
      }
    }
  }
  double Fastest(const std::string& name) const {
    auto it = fastest_.find(name);
    return it == fastest_.end() ? 0 : it->second;
  }

 private:
  std::map<std::string, double> fastest_;
};

}  // namespace
}  // namespace mayfly::identity

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  mayfly::identity::RecordingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double floor = std::min(reporter.Fastest("BM_OpenSslFloor"),
                                reporter.Fastest("BM_OpenSslFloorEcKey"));
  const double mint_object = reporter.Fastest("BM_MintX509Svid");
  const double mint = reporter.Fastest("BM_MintX509SvidDer");
  const double verify = reporter.Fastest("BM_VerifyX509Svid");
  if (floor <= 0 || mint <= 0 || mint_object <= 0 || verify <= 0) {
    std::fprintf(stderr, "mint_bench: a benchmark did not run\n");
    return 1;
  }
  // Times are in the reporter's unit (ns by default).
  std::printf("openssl_floor_per_sec=%.0f\n", 1e9 / floor);
  std::printf("mint_x509_object_per_sec=%.0f\n", 1e9 / mint_object);
  std::printf("mint_x509_object_vs_openssl_floor=%.3f\n", floor / mint_object);
  std::printf("verify_per_sec=%.0f\n", 1e9 / verify);
  std::printf("mint_per_sec=%.0f\n", 1e9 / mint);
  std::printf("mint_vs_openssl_floor_separate_runs=%.3f\n", floor / mint);
  // The figure that counts, last: measured interleaved (see InterleavedNanos).
  const auto [side_floor, side_mint] = mayfly::identity::InterleavedNanos();
  if (side_floor <= 0 || side_mint <= 0) {
    std::fprintf(stderr, "mint_bench: the interleaved run failed\n");
    return 1;
  }
  std::printf("interleaved_floor_per_sec=%.0f\n", 1e9 / side_floor);
  std::printf("interleaved_mint_per_sec=%.0f\n", 1e9 / side_mint);
  std::printf("mint_vs_openssl_floor=%.3f\n", side_floor / side_mint);
  return 0;
}
