// HttpsClient against an in-process TLS server: the happy path, framing,
// the response bound, the timeout, and refused certificates.
#include "identity/server/upstream/https_client.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/server/upstream/testing/fake_https_server.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::server::upstream {
namespace {

using ::mayfly::testing_util::StatusIs;
using testing::FakeHttpsServer;
using ::testing::HasSubstr;
using testing::HttpResponse;

struct Tls {
  std::string root_pem;
  std::string chain_pem;
  std::string key_pem;
};

// A root and a server certificate for DNS name "localhost" under it.
Tls MakeTls() {
  auto td = identity::TrustDomain::FromString("ca.test");
  auto root =
      identity::MintRootCa({*td, absl::Hours(1)}, identity::RealClock());
  auto id = identity::SpiffeId::FromString("spiffe://ca.test/step-ca");
  identity::X509SvidRequest req{*id, absl::Hours(1)};
  req.dns_names = {"localhost"};
  auto svid = identity::MintX509Svid(req, *root, identity::RealClock());
  EXPECT_TRUE(svid.ok()) << svid.status();
  Tls tls;
  identity::CertChain root_chain;
  root_chain.push_back(identity::ShareCert(root->cert.get()));
  tls.root_pem = identity::CertsToPem(root_chain);
  tls.chain_pem = identity::CertsToPem(svid->chain);
  tls.key_pem = *identity::PrivateKeyToPkcs8Pem(*svid->key);
  return tls;
}

class HttpsClientTest : public ::testing::Test {
 protected:
  void Serve(FakeHttpsServer::Handler handler) {
    auto s = FakeHttpsServer::Start(tls_.chain_pem, tls_.key_pem,
                                    std::move(handler));
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }
  std::unique_ptr<HttpsClient> Client(const std::string& host,
                                      const std::string& root_pem,
                                      HttpsClientOptions options = {}) {
    auto url =
        ParseHttpsUrl(absl::StrCat("https://", host, ":", server_->port()));
    EXPECT_TRUE(url.ok()) << url.status();
    auto c =
        HttpsClient::Create(*url, root_pem, options, identity::RealClock());
    EXPECT_TRUE(c.ok()) << c.status();
    return *std::move(c);
  }

  Tls tls_ = MakeTls();
  std::unique_ptr<FakeHttpsServer> server_;
};

TEST_F(HttpsClientTest, PostsJsonAndReadsTheAnswer) {
  std::string seen;
  Serve([&seen](const std::string& request) {
    seen = request;
    return HttpResponse(201, "{\"ok\":true}");
  });
  auto r = Client("localhost", tls_.root_pem)->Do("POST", "/1.0/sign", "{}");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"ok\":true}");
  EXPECT_TRUE(absl::StartsWith(seen, "POST /1.0/sign HTTP/1.1\r\n")) << seen;
  EXPECT_THAT(seen, HasSubstr(absl::StrCat(
                        "\r\nHost: localhost:", server_->port(), "\r\n")));
  EXPECT_THAT(seen, HasSubstr("\r\nContent-Type: application/json\r\n"));
  EXPECT_THAT(seen, HasSubstr("\r\nContent-Length: 2\r\n"));
  EXPECT_THAT(seen, HasSubstr("\r\nConnection: close\r\n"));
  EXPECT_TRUE(absl::EndsWith(seen, "\r\n\r\n{}")) << seen;
}

TEST_F(HttpsClientTest, DecodesAChunkedBody) {
  Serve([](const std::string&) {
    return std::string(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\n\r\n");
  });
  auto r = Client("localhost", tls_.root_pem)->Do("GET", "/1.0/roots", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "{\"a\":1}");
}

TEST_F(HttpsClientTest, RefusesAResponseOverTheBound) {
  Serve([](const std::string&) {
    return HttpResponse(200, std::string(5000, 'x'));
  });
  HttpsClientOptions options;
  options.max_response_bytes = 4096;
  auto r = Client("localhost", tls_.root_pem, options)->Do("GET", "/", "");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("exceeds 4096 bytes")));
}

TEST_F(HttpsClientTest, RefusesABodyShorterThanItsLength) {
  Serve([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort");
  });
  auto r = Client("localhost", tls_.root_pem)->Do("GET", "/", "");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("shorter than its Content-Length")));
}

TEST_F(HttpsClientTest, RefusesAServerCertifiedByAnotherRoot) {
  Serve([](const std::string&) { return HttpResponse(200, "{}"); });
  const Tls other = MakeTls();
  auto r = Client("localhost", other.root_pem)->Do("GET", "/", "");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied,
                          HasSubstr("unable to get local issuer")));
}

TEST_F(HttpsClientTest, RefusesACertificateForAnotherHost) {
  Serve([](const std::string&) { return HttpResponse(200, "{}"); });
  // The certificate names DNS localhost, not IP 127.0.0.1.
  auto r = Client("127.0.0.1", tls_.root_pem)->Do("GET", "/", "");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied,
                          HasSubstr("IP address mismatch")));
}

TEST_F(HttpsClientTest, GivesUpAtTheTimeout) {
  absl::Notification release;
  Serve([&release](const std::string&) {
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
    return HttpResponse(200, "{}");
  });
  HttpsClientOptions options;
  options.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  auto r = Client("localhost", tls_.root_pem, options)->Do("GET", "/", "");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDeadlineExceeded,
                          HasSubstr("did not answer in time")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  release.Notify();
}

TEST(ParseHttpResponseTest, RefusesMalformedResponses) {
  EXPECT_THAT(ParseHttpResponse("HTTP/1.1 200 OK\r\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no end of headers")));
  EXPECT_THAT(ParseHttpResponse("SMTP 220 hi\r\n\r\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad HTTP status line")));
  EXPECT_THAT(
      ParseHttpResponse("HTTP/1.1 200 OK\r\nbroken\r\n\r\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no ':'")));
  EXPECT_THAT(
      ParseHttpResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only chunked")));
  EXPECT_THAT(ParseHttpResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                "chunked\r\n\r\nzz\r\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad chunk size")));
  EXPECT_THAT(ParseHttpResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
                                "chunked\r\n\r\n5\r\nab"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("truncated chunk")));
}

TEST(ParseHttpsUrlTest, FollowsTheRules) {
  auto u = ParseHttpsUrl("https://ca.example:9000/");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "ca.example");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->Origin(), "https://ca.example:9000");
  u = ParseHttpsUrl("https://[::1]");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->Origin(), "https://[::1]:443");
  EXPECT_THAT(
      ParseHttpsUrl("http://ca:1"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not https")));
  EXPECT_THAT(
      ParseHttpsUrl("https://ca:1/1.0/sign"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no path")));
  EXPECT_THAT(
      ParseHttpsUrl("https://ca:0"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad port")));
  EXPECT_THAT(
      ParseHttpsUrl("https://:9000"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no host")));
}

}  // namespace
}  // namespace mayfly::server::upstream
