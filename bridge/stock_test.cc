// Stock mode: which principals a subject can carry, the broker properties
// exactly, entries rewritten (and what is refused a subject), and the
// subject as minted read back in RFC 2253 order through the broker's rule.
#include "bridge/stock.h"

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/clock.h"
#include "identity/testing/status_matchers.h"
#include "identity/x509_svid.h"

namespace mayfly::bridge {
namespace {

using ::mayfly::testing_util::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using Outcome = StockEntry::Outcome;

constexpr char kPolicy[] =
    "trust_domains: [prod.acme]\n"
    "principals:\n"
    "  - id: spiffe://prod.acme/ns/{ns}/sa/{sa}\n"
    "    principal: User:{ns}.{sa}\n"
    "  - id: spiffe://prod.acme/kafka/broker\n"
    "    principal: User:broker\n"
    "  - id: spiffe://prod.acme/groups/{g}\n"
    "    principal: Group:{g}\n"
    "super_users: [User:broker, Group:ops]\n";

Policy Load(const std::string& yaml) {
  absl::StatusOr<Policy> policy = Policy::Parse(yaml, "p.yaml");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

// The subject, or the error as text.
std::string SubjectOf(const std::string& principal) {
  absl::StatusOr<std::string> subject = StockSubject(principal);
  return subject.ok() ? *subject : subject.status().ToString();
}

TEST(StockSubjectTest, ExpressiblePrincipals) {
  EXPECT_EQ(SubjectOf("User:orders.writer"),
            "OU=mayfly-kafka-principal,CN=orders.writer");
  EXPECT_EQ(SubjectOf("User:A-z_0.9"), "OU=mayfly-kafka-principal,CN=A-z_0.9");
  const std::string longest(64, 'n');
  EXPECT_EQ(SubjectOf("User:" + longest),
            "OU=mayfly-kafka-principal,CN=" + longest);
}

TEST(StockSubjectTest, UnexpressiblePrincipals) {
  const auto refused = [](const std::string& why) {
    return StatusIs(absl::StatusCode::kFailedPrecondition, Eq(why));
  };
  EXPECT_THAT(StockSubject("Group:ops"),
              refused("Group:ops: a stock broker makes User principals only"));
  EXPECT_THAT(StockSubject("user:ops"),
              refused("user:ops: a stock broker makes User principals only"));
  EXPECT_THAT(StockSubject("User:" + std::string(65, 'n')),
              refused("User:" + std::string(65, 'n') +
                      ": the name is 65 characters; a CN holds 1 to 64"));
  EXPECT_THAT(StockSubject("User:"),
              refused("User:: the name is 0 characters; a CN holds 1 to 64"));
  EXPECT_THAT(StockSubject("User:a,OU=x"),
              refused("User:a,OU=x: ',' is not one of [A-Za-z0-9._-], the "
                      "characters a stock name may have"));
  EXPECT_THAT(StockSubject("User:a b"),
              refused("User:a b: ' ' is not one of [A-Za-z0-9._-], the "
                      "characters a stock name may have"));
}

TEST(StockPropertiesTest, ExactText) {
  const Policy policy = Load(kPolicy);
  EXPECT_EQ(
      RenderStockProperties(policy, {"/var/run/kafka-svid/", "", "p.yaml"}),
      "# Kafka broker properties for stock mode (no Mayfly plugin), from\n"
      "# the policy p.yaml.\n"
      "# The broker reads each client's principal from its SVID's subject "
      "DN:\n"
      "# render --entries sets the subject of every agent entry to match.\n"
      "#\n"
      "# The listener's key and chain, and the trust bundle: PEM files kept\n"
      "# current by `mayfly watch x509 --write /var/run/kafka-svid`. Altering "
      "these\n"
      "# settings again after a rotation (KIP-226) reloads them.\n"
      "ssl.keystore.type=PEM\n"
      "ssl.keystore.location=/var/run/kafka-svid/svid_keystore.pem\n"
      "ssl.truststore.type=PEM\n"
      "ssl.truststore.location=/var/run/kafka-svid/svid_bundle.pem\n"
      "# Every client presents an SVID.\n"
      "ssl.client.auth=required\n"
      "# Empty: no hostname check. SVIDs carry no DNS names unless their\n"
      "# entries give them (dns_names); identity is the SVID, not the host.\n"
      "ssl.endpoint.identification.algorithm=\n"
      "# User:NAME from a subject CN=NAME,OU=mayfly-kafka-principal (RFC "
      "2253\n"
      "# order). No DEFAULT rule: a subject without the marker matches no\n"
      "# rule and the broker refuses the connection. Any CA in the\n"
      "# truststore can sign any subject, so it must hold only CAs whose\n"
      "# entries are rendered from this policy.\n"
      "ssl.principal.mapping.rules=RULE:^CN=([A-Za-z0-9._-]{1,64}),OU=mayfly-"
      "kafka-principal$/$1/\n"
      "#\n"
      "# ACLs decide, and without one nothing is allowed; `mayfly bridge\n"
      "# apply` creates the policy's.\n"
      "authorizer.class.name=org.apache.kafka.metadata.authorizer."
      "StandardAuthorizer\n"
      "allow.everyone.if.no.acl.found=false\n"
      "# No SVID can be Group:ops in stock mode: Group:ops: a stock broker "
      "makes User principals only.\n"
      "super.users=User:broker;Group:ops\n");
}

TEST(StockPropertiesTest, ListenerPrefixAndNoSuperUsers) {
  const Policy policy = Load("trust_domains: [t]\nprincipals: []\n");
  const std::string text =
      RenderStockProperties(policy, {"/d", "BROKER", "p.yaml"});
  EXPECT_THAT(text, HasSubstr("\nlistener.name.broker.ssl.keystore.location="
                              "/d/svid_keystore.pem\n"));
  EXPECT_THAT(text, HasSubstr("\nlistener.name.broker.ssl.principal.mapping."
                              "rules=RULE:"));
  EXPECT_THAT(text, HasSubstr("\nauthorizer.class.name=org.apache"));
  EXPECT_THAT(text, HasSubstr("\n# super.users: none in the policy. A KRaft "
                              "broker's own principal needs\n# CLUSTER_ACTION "
                              "to register with its controller: list it in "
                              "super_users.\n"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("\nssl.")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("\nsuper.users=")));
}

// Kafka reads the properties line by line: a newline in a rendered path,
// in a value or in a comment, must not start a line of its own.
TEST(StockPropertiesTest, NewlinesInPathsStayInTheirLines) {
  const Policy policy = Load("trust_domains: [t]\nprincipals: []\n");
  const std::string text = RenderStockProperties(
      policy, {"/d\nsuper.users=User:evil", "", "/p\nsuper.users=User:evil"});
  EXPECT_THAT(text, HasSubstr("\n# the policy /p\\u000Asuper.users=User:evil."
                              "\n"));
  EXPECT_THAT(text, HasSubstr("`mayfly watch x509 --write "
                              "/d\\u000Asuper.users=User:evil`."));
  EXPECT_THAT(text, HasSubstr("\nssl.keystore.location=/d\\u000Asuper.users="
                              "User:evil/svid_keystore.pem\n"));
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "super.users")) << line;
  }
}

const std::string kEntries =
    "entries:\n"                                               // 1
    "  - spiffe_id: spiffe://prod.acme/ns/orders/sa/writer\n"  // 2
    "    selectors: [unix:uid:1000]\n"                         // 3
    "    ttl: 2m\n"                                            // 4
    "  - spiffe_id: spiffe://prod.acme/kafka/broker\n"         // 5
    "    selectors: [unix:uid:1001]\n"                         // 6
    "    subject: CN={spiffe_id},O=Acme\n"                     // 7
    "  - spiffe_id: spiffe://prod.acme/other\n"                // 8
    "    selectors: [unix:uid:1002]\n"                         // 9
    "    subject: OU=mayfly-kafka-principal,CN=other\n"        // 10
    "  - spiffe_id: spiffe://prod.acme/groups/ops\n"           // 11
    "    selectors: [unix:uid:1003]\n"                         // 12
    "    subject: O=Acme\n"                                    // 13
    "  - spiffe_id: spiffe://prod.acme/ns/x/sa/" +
    std::string(70, 'y') +
    "\n"                                                  // 14
    "    selectors: [unix:uid:1004]\n"                    // 15
    "    subject: OU={trust_domain},CN=x\n"               // 16
    "  - spiffe_id: spiffe://mayfly-kafka-principal/a\n"  // 17
    "    selectors: [unix:uid:1005]\n"                    // 18
    "    subject: OU={trust_domain},CN=a\n";              // 19

TEST(StockEntriesTest, SetsSubjectsAndWithholdsTheRest) {
  const Policy policy = Load(kPolicy);
  absl::StatusOr<StockEntries> out =
      RenderStockEntries(policy, kEntries, "e.yaml");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->denied, 2);
  EXPECT_EQ(out->unexpressible, 2);
  ASSERT_EQ(out->entries.size(), 6);
  const auto& e = out->entries;
  EXPECT_EQ(e[0].outcome, Outcome::kSubject);
  EXPECT_EQ(e[0].source, "e.yaml:2");
  EXPECT_EQ(e[0].principal, "User:orders.writer");
  EXPECT_EQ(e[0].detail, "OU=mayfly-kafka-principal,CN=orders.writer");
  EXPECT_EQ(e[0].replaced_subject, "");
  EXPECT_EQ(e[1].outcome, Outcome::kSubject);
  EXPECT_EQ(e[1].replaced_subject, "CN={spiffe_id},O=Acme");
  EXPECT_EQ(e[2].outcome, Outcome::kDenied);
  EXPECT_EQ(e[2].detail,
            "denied (unmapped): no rule matches, and unmapped is deny");
  EXPECT_TRUE(e[2].removed_marked_subject);
  EXPECT_EQ(e[3].outcome, Outcome::kUnexpressible);
  EXPECT_EQ(e[3].principal, "Group:ops");
  EXPECT_EQ(e[3].detail,
            "Group:ops: a stock broker makes User principals only");
  EXPECT_FALSE(e[3].removed_marked_subject);
  EXPECT_EQ(e[4].outcome, Outcome::kUnexpressible);
  EXPECT_THAT(e[4].detail, HasSubstr("the name is 72 characters"));
  EXPECT_FALSE(e[4].removed_marked_subject);  // OU=prod.acme: no marker
  EXPECT_EQ(e[5].outcome, Outcome::kDenied);
  EXPECT_THAT(e[5].detail, HasSubstr("denied (foreign_trust_domain)"));
  EXPECT_TRUE(e[5].removed_marked_subject);  // {trust_domain} is the marker

  // The document written: subjects set, withheld or kept; the rest as is.
  const YAML::Node doc = YAML::Load(out->yaml);
  ASSERT_EQ(doc["entries"].size(), 6);
  const YAML::Node& w = doc["entries"];
  EXPECT_EQ(w[0]["subject"].as<std::string>(),
            "OU=mayfly-kafka-principal,CN=orders.writer");
  EXPECT_EQ(w[0]["ttl"].as<std::string>(), "2m");
  EXPECT_EQ(w[0]["selectors"][0].as<std::string>(), "unix:uid:1000");
  EXPECT_EQ(w[1]["subject"].as<std::string>(),
            "OU=mayfly-kafka-principal,CN=broker");
  EXPECT_FALSE(w[2]["subject"]);
  EXPECT_EQ(w[2]["spiffe_id"].as<std::string>(), "spiffe://prod.acme/other");
  EXPECT_EQ(w[3]["subject"].as<std::string>(), "O=Acme");
  EXPECT_EQ(w[4]["subject"].as<std::string>(), "OU={trust_domain},CN=x");
  EXPECT_FALSE(w[5]["subject"]);
}

TEST(StockEntriesTest, Errors) {
  const Policy policy = Load(kPolicy);
  const auto error = [&](const std::string& yaml) {
    return RenderStockEntries(policy, yaml, "e.yaml").status();
  };
  EXPECT_THAT(error("trust_domain: t\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("e.yaml:1: entries: want a document with an "
                          "entries list")));
  EXPECT_THAT(error("entries_file: e2.yaml\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("e.yaml:1: entries: not here: this config names an "
                          "entries_file; render that file")));
  EXPECT_THAT(error("entries:\n  - spiffe_id: spiffe://prod.acme/a\n"
                    "  - selectors: [unix:uid:1]\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("e.yaml:3: entries[1]: spiffe_id is required")));
  EXPECT_THAT(error("entries: {}\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("e.yaml:1: entries: want a list")));
  EXPECT_THAT(error("entries:\n  - a: 1\n  - a: 2\n    a: 3\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("e.yaml:4: entries[1].a: key given twice")));
}

// The subject rendered for an entry, minted the way the agent mints it,
// reads back in RFC 2253 order as the broker's rule expects, and the rule
// takes exactly the name out of it. (Kafka 4.4.0's SslPrincipalMapper was
// checked by hand to give the same, and no name for the other order.)
std::string Rfc2253Subject(const identity::Subject& subject) {
  identity::FakeClock clock(absl::FromUnixSeconds(1800000000));
  const identity::TrustDomain td =
      *identity::TrustDomain::FromString("prod.acme");
  absl::StatusOr<identity::Signer> root =
      identity::MintRootCa({td, absl::Hours(1), {}}, clock);
  EXPECT_TRUE(root.ok()) << root.status();
  identity::X509SvidRequest request{
      *identity::SpiffeId::FromString("spiffe://prod.acme/ns/a/sa/b")};
  request.subject = subject;
  absl::StatusOr<identity::X509Svid> svid =
      identity::MintX509Svid(request, *root, clock);
  EXPECT_TRUE(svid.ok()) << svid.status();
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(svid->chain[0].get()), 0,
                     XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(size));
  BIO_free(bio);
  return out;
}

// "OU=x,CN=y" as the agent's template parser splits it (no escapes here).
identity::Subject Attributes(const std::string& text) {
  identity::Subject out;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    std::pair<std::string, std::string> kv = absl::StrSplit(part, '=');
    out.push_back(kv);
  }
  return out;
}

// The rule's pattern, between "RULE:" and the "/$1/" replacement.
std::string RulePattern() {
  absl::string_view rule = kStockMappingRule;
  EXPECT_TRUE(absl::ConsumePrefix(&rule, "RULE:"));
  EXPECT_TRUE(absl::ConsumeSuffix(&rule, "/$1/"));
  return std::string(rule);
}

TEST(StockRuleTest, MintedSubjectGivesExactlyTheName) {
  const std::regex rule(RulePattern());
  const std::string dn =
      Rfc2253Subject(Attributes(*StockSubject("User:orders.writer")));
  EXPECT_EQ(dn, "CN=orders.writer,OU=mayfly-kafka-principal");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(dn, m, rule));
  EXPECT_EQ(m[1].str(), "orders.writer");
  // The other order, the default subject and a subject with more: no rule.
  for (const identity::Subject& other :
       {identity::Subject{{"CN", "orders.writer"},
                          {"OU", "mayfly-kafka-principal"}},
        identity::Subject{},
        identity::Subject{
            {"O", "Acme"}, {"OU", "mayfly-kafka-principal"}, {"CN", "x"}}}) {
    const std::string other_dn = Rfc2253Subject(other);
    EXPECT_FALSE(std::regex_match(other_dn, rule)) << other_dn;
  }
}

}  // namespace
}  // namespace mayfly::bridge
