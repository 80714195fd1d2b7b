// StepCa against an in-process fake of step-ca's API: the one-time token's
// exact header and claims, the request, the answers step-ca gives when it
// refuses, bad and oversized answers, and the chain checks.
#include "identity/server/upstream/stepca.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/csr.h"
#include "identity/file_util.h"
#include "identity/internal/jose.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/server/upstream/testing/fake_https_server.h"
#include "identity/server/upstream/upstream_authority.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::server::upstream {
namespace {

using google::protobuf::Struct;
using ::mayfly::testing_util::StatusIs;
using ::testing::ElementsAre;
using testing::FakeHttpsServer;
using ::testing::HasSubstr;
using testing::HttpResponse;
namespace jose = identity::internal;

std::string Pem(X509* cert) {
  identity::CertChain c;
  c.push_back(identity::ShareCert(cert));
  return identity::CertsToPem(c);
}

Struct ParseJson(absl::string_view json) {
  Struct s;
  EXPECT_TRUE(
      google::protobuf::util::JsonStringToMessage(std::string(json), &s).ok())
      << json;
  return s;
}

std::string Body(const std::string& request) {
  return request.substr(request.find("\r\n\r\n") + 4);
}

class StepCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        getenv("TEST_TMPDIR"), "/",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(identity::EnsurePrivateDir(dir_).ok());
    // step-ca's TLS: a certificate for "localhost" under its own root.
    auto tls_td = identity::TrustDomain::FromString("stepca.test");
    auto tls_root = identity::MintRootCa({*tls_td, absl::Hours(1)}, clock_);
    identity::X509SvidRequest tls_req{
        *identity::SpiffeId::FromString("spiffe://stepca.test/ca"),
        absl::Hours(1)};
    tls_req.dns_names = {"localhost"};
    auto tls = identity::MintX509Svid(tls_req, *tls_root, clock_);
    ASSERT_TRUE(tls.ok()) << tls.status();
    tls_root_pem_ = Pem(tls_root->cert.get());
    tls_chain_pem_ = identity::CertsToPem(tls->chain);
    tls_key_pem_ = *identity::PrivateKeyToPkcs8Pem(*tls->key);
    ASSERT_TRUE(identity::WriteFileAtomically(dir_ + "/tls_root.pem",
                                              tls_root_pem_,
                                              identity::kPublicFileMode)
                    .ok());
    // The provisioner's key.
    provisioner_key_ = *identity::GenerateKey(identity::KeyType::kEcP256);
    ASSERT_TRUE(identity::WriteFileAtomically(
                    dir_ + "/provisioner.key",
                    *identity::PrivateKeyToPkcs8Pem(*provisioner_key_),
                    identity::kPrivateFileMode)
                    .ok());
    // The upstream CA's root, which signs intermediates itself.
    auto root = identity::MintRootCa({td_, absl::Hours(2)}, clock_);
    ASSERT_TRUE(root.ok());
    upstream_root_ = *std::move(root);
    upstream_signer_ = upstream_root_.Share();
  }

  // A fake step-ca: /1.0/sign certifies the CSR's key as a CA under
  // upstream_signer_, /1.0/roots lists upstream_root_.
  std::string FakeStepCa(const std::string& request) {
    requests_.push_back(request);
    if (absl::StartsWith(request, "GET /1.0/roots ")) {
      return HttpResponse(
          201, absl::StrCat("{\"crts\":[",
                            identity::JsonQuote(Pem(upstream_root_.cert.get())),
                            "]}"));
    }
    Struct body = ParseJson(Body(request));
    const std::string csr_pem = body.fields().at("csr").string_value();
    std::string b64;
    for (absl::string_view line : absl::StrSplit(csr_pem, '\n')) {
      if (!absl::StartsWith(line, "-----")) absl::StrAppend(&b64, line);
    }
    std::string der;
    absl::Base64Unescape(b64, &der);
    auto csr = identity::ParseCsrDer(der);
    EXPECT_TRUE(csr.ok()) << csr.status();
    auto cert = identity::MintIntermediateCaForKey(
        {td_, absl::Hours(1)}, *csr->public_key, upstream_signer_, clock_);
    EXPECT_TRUE(cert.ok()) << cert.status();
    std::string chain = identity::JsonQuote(Pem(cert->get()));
    for (const identity::UniqueX509& c :
         upstream_signer_.IsRoot() ? identity::CertChain()
                                   : upstream_signer_.ChainBelowRoot()) {
      absl::StrAppend(&chain, ",", identity::JsonQuote(Pem(c.get())));
    }
    if (upstream_signer_.IsRoot()) {
      absl::StrAppend(&chain, ",",
                      identity::JsonQuote(Pem(upstream_root_.cert.get())));
    }
    return HttpResponse(
        201, absl::StrCat("{\"crt\":", identity::JsonQuote(Pem(cert->get())),
                          ",\"certChain\":[", chain, "]}"));
  }

  void Serve(FakeHttpsServer::Handler handler) {
    auto s = FakeHttpsServer::Start(tls_chain_pem_, tls_key_pem_,
                                    std::move(handler));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }

  std::unique_ptr<StepCa> Client(HttpsClientOptions options = {}) {
    StepCaConfig config{absl::StrCat("https://localhost:", server_->port()),
                        dir_ + "/tls_root.pem", "mayfly",
                        dir_ + "/provisioner.key"};
    auto c = StepCa::Create(config, td_, clock_, options);
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  // A CSR as ReplicaSigner makes it, and its key.
  std::pair<identity::UniqueEvpPkey, std::string> Csr() {
    auto key = identity::GenerateKey(identity::KeyType::kEcP256);
    auto csr = identity::MakeSvidCsrDer(
        **key, *identity::SpiffeId::FromString(td_.IdString()), {});
    EXPECT_TRUE(csr.ok()) << csr.status();
    return {*std::move(key), *csr};
  }

  identity::FakeClock clock_{
      absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  identity::TrustDomain td_ = *identity::TrustDomain::FromString("example.org");
  std::string dir_;
  std::string tls_root_pem_, tls_chain_pem_, tls_key_pem_;
  identity::UniqueEvpPkey provisioner_key_;
  identity::Signer upstream_root_;
  identity::Signer upstream_signer_;
  std::vector<std::string> requests_;
  std::unique_ptr<FakeHttpsServer> server_;
};

TEST_F(StepCaTest, SendsTheTokenStepCaChecksAndReturnsAChainThatVerifies) {
  Serve([this](const std::string& r) { return FakeStepCa(r); });
  auto [key, csr] = Csr();
  auto got = Client()->SignIntermediate(csr, absl::Hours(1));
  ASSERT_TRUE(got.ok()) << got.status();

  ASSERT_EQ(requests_.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(requests_[0], "POST /1.0/sign HTTP/1.1\r\n"));
  EXPECT_TRUE(absl::StartsWith(requests_[1], "GET /1.0/roots HTTP/1.1\r\n"));
  Struct body = ParseJson(Body(requests_[0]));
  EXPECT_EQ(body.fields().at("notAfter").string_value(), "3600s");
  EXPECT_TRUE(absl::StartsWith(body.fields().at("csr").string_value(),
                               "-----BEGIN CERTIFICATE REQUEST-----\n"));
  const std::string ott = body.fields().at("ott").string_value();
  std::vector<std::string> parts = absl::StrSplit(ott, '.');
  ASSERT_EQ(parts.size(), 3u);
  const std::string kid = *JwkThumbprint(*provisioner_key_);
  EXPECT_EQ(*jose::Unb64(parts[0], "header"),
            absl::StrCat("{\"alg\":\"ES256\",\"kid\":\"", kid,
                         "\",\"typ\":\"JWT\"}"));
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  const std::string claims = *jose::Unb64(parts[1], "claims");
  Struct c = ParseJson(claims);
  const std::string jti = c.fields().at("jti").string_value();
  EXPECT_EQ(jti.size(), 32u);
  EXPECT_EQ(jti.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(
      claims,
      absl::StrCat("{\"aud\":\"https://localhost:", server_->port(),
                   "/1.0/sign\",\"exp\":", now + 300, ",\"iat\":", now,
                   ",\"iss\":\"mayfly\",\"jti\":\"", jti, "\",\"nbf\":", now,
                   ",\"sans\":[\"spiffe://example.org\"],"
                   "\"sub\":\"spiffe://example.org\"}"));
  EXPECT_TRUE(jose::VerifyRaw(*provisioner_key_, jose::kCurves[0],
                              absl::StrCat(parts[0], ".", parts[1]),
                              *jose::Unb64(parts[2], "signature")));

  // The root that step-ca lists in certChain stays out of the chain.
  ASSERT_EQ(got->chain.size(), 1u);
  ASSERT_EQ(got->roots.size(), 1u);
  EXPECT_EQ(X509_cmp(got->roots[0].get(), upstream_root_.cert.get()), 0);
  EXPECT_TRUE(CheckUpstreamChain(*got, *key, clock_).ok());
}

TEST_F(StepCaTest, EachTokenIsNew) {
  Serve([this](const std::string& r) { return FakeStepCa(r); });
  auto client = Client();
  ASSERT_TRUE(client->SignIntermediate(Csr().second, absl::Hours(1)).ok());
  ASSERT_TRUE(client->SignIntermediate(Csr().second, absl::Hours(1)).ok());
  ASSERT_EQ(requests_.size(), 4u);
  EXPECT_NE(ParseJson(Body(requests_[0])).fields().at("ott").string_value(),
            ParseJson(Body(requests_[2])).fields().at("ott").string_value());
}

TEST_F(StepCaTest, AnIntermediateWithPathlenZeroAboveIsRefused) {
  // step-ca's default layout: its intermediate has pathlen:0.
  auto step_intermediate = identity::MintIntermediateCa({td_, absl::Hours(2)},
                                                        upstream_root_, clock_);
  ASSERT_TRUE(step_intermediate.ok());
  upstream_signer_ = *std::move(step_intermediate);
  Serve([this](const std::string& r) { return FakeStepCa(r); });
  auto [key, csr] = Csr();
  auto got = Client()->SignIntermediate(csr, absl::Hours(1));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->chain.size(), 2u);
  EXPECT_THAT(CheckUpstreamChain(*got, *key, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("has pathlen:0, so it cannot certify")));
}

TEST_F(StepCaTest, AChainForAnotherKeyIsRefused) {
  Serve([this](const std::string& r) { return FakeStepCa(r); });
  auto got = Client()->SignIntermediate(Csr().second, absl::Hours(1));
  ASSERT_TRUE(got.ok()) << got.status();
  auto other = identity::GenerateKey(identity::KeyType::kEcP256);
  EXPECT_THAT(CheckUpstreamChain(*got, **other, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("not for this replica's key")));
}

TEST_F(StepCaTest, ALeafCertificateIsRefused) {
  // A provisioner without the CA template issues a leaf.
  auto [key, csr] = Csr();
  identity::X509SvidRequest leaf_req{
      *identity::SpiffeId::FromString("spiffe://example.org/x"),
      absl::Hours(1)};
  auto leaf =
      identity::MintX509SvidDerForKey(leaf_req, *key, upstream_root_, clock_);
  ASSERT_TRUE(leaf.ok());
  UpstreamChain chain;
  chain.chain = *identity::CertsFromDer(leaf->leaf_der);
  chain.roots.push_back(identity::ShareCert(upstream_root_.cert.get()));
  EXPECT_THAT(CheckUpstreamChain(chain, *key, clock_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("without cA=TRUE and keyCertSign")));
}

TEST_F(StepCaTest, ARefusedTokenIsPermissionDeniedInStepCasWords) {
  Serve([](const std::string&) {
    return HttpResponse(401,
                        "{\"status\":401,\"message\":\"The request lacked "
                        "necessary authorization to be completed.\"}");
  });
  EXPECT_THAT(
      Client()->SignIntermediate(Csr().second, absl::Hours(1)),
      StatusIs(absl::StatusCode::kPermissionDenied,
               HasSubstr("refused the intermediate (HTTP 401): The request "
                         "lacked necessary authorization")));
}

TEST_F(StepCaTest, AServerErrorIsUnavailable) {
  Serve([](const std::string&) { return HttpResponse(500, "oops"); });
  EXPECT_THAT(Client()->SignIntermediate(Csr().second, absl::Hours(1)),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("POST /1.0/sign: HTTP 500: oops")));
}

TEST_F(StepCaTest, BadAnswersAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "is not a JSON object"},
      {"{\"crt\":\"x\"}", "has no \"certChain\" list"},
      {"{\"certChain\":[]}", "has no \"certChain\" list"},
      {"{\"certChain\":[\"not a pem\"]}", "not one PEM certificate"},
      {"{\"certChain\":[1]}", "holds a non-string"},
  };
  for (const auto& [answer, why] : cases) {
    Serve([answer = answer](const std::string&) {
      return HttpResponse(201, answer);
    });
    EXPECT_THAT(Client()->SignIntermediate(Csr().second, absl::Hours(1)),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(why)))
        << answer;
    server_.reset();
  }
}

TEST_F(StepCaTest, AnOversizedAnswerIsRefused) {
  Serve([](const std::string&) {
    return HttpResponse(201, std::string(70000, ' ') + "{}");
  });
  HttpsClientOptions options;
  options.max_response_bytes = 65536;
  EXPECT_THAT(Client(options)->SignIntermediate(Csr().second, absl::Hours(1)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("exceeds 65536 bytes")));
}

TEST_F(StepCaTest, AStepCaWithAnotherTlsRootIsRefused) {
  Serve([this](const std::string& r) { return FakeStepCa(r); });
  auto other = identity::MintRootCa({td_, absl::Hours(1)}, clock_);
  ASSERT_TRUE(identity::WriteFileAtomically(dir_ + "/tls_root.pem",
                                            Pem(other->cert.get()),
                                            identity::kPublicFileMode)
                  .ok());
  EXPECT_THAT(Client()->SignIntermediate(Csr().second, absl::Hours(1)),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("TLS certificate does not verify")));
  EXPECT_TRUE(requests_.empty());
}

TEST_F(StepCaTest, AProvisionerKeyOthersCanReadIsRefused) {
  chmod((dir_ + "/provisioner.key").c_str(), 0644);
  StepCaConfig config{"https://localhost:1", dir_ + "/tls_root.pem", "mayfly",
                      dir_ + "/provisioner.key"};
  EXPECT_THAT(StepCa::Create(config, td_, clock_),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("provisioner.key")));
}

TEST(JwkTest, PublicJwkCarriesTheThumbprintAsKid) {
  auto key = identity::GenerateKey(identity::KeyType::kEcP256);
  const std::string jwk = *PublicJwk(**key);
  Struct s = ParseJson(jwk);
  EXPECT_EQ(s.fields().at("kid").string_value(), *JwkThumbprint(**key));
  EXPECT_EQ(s.fields().at("kty").string_value(), "EC");
  EXPECT_EQ(s.fields().at("crv").string_value(), "P-256");
  EXPECT_EQ(s.fields().at("alg").string_value(), "ES256");
  EXPECT_EQ(s.fields().at("use").string_value(), "sig");
  auto ed = identity::GenerateKey(identity::KeyType::kEd25519);
  EXPECT_THAT(JwkThumbprint(**ed),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("P-256")));
}

}  // namespace
}  // namespace mayfly::server::upstream
