// Bridge commands that talk to a live cluster: `mayfly bridge plan`,
// `mayfly bridge apply` (the policy's ACLs) and `mayfly bridge reload-broker`
// (a stock broker's listener files after `mayfly watch x509 --write`).
//
// Every one connects with an SVID, from --svid-dir (files kept by `mayfly
// watch x509 --write`) or from the Workload API (--socket, else
// $SPIFFE_ENDPOINT_SOCKET), and accepts the broker by its SPIFFE ID: one of
// the policy's `brokers` for plan and apply, --broker-spiffe-id for
// reload-broker. There is no default: every SVID can serve TLS.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bridge/acl_plan.h"
#include "bridge/acl_plan_apply.h"
#include "bridge/kafka_admin_rdkafka.h"
#include "bridge/kafka_admin_reload.h"
#include "bridge/kafka_admin_served_cert.h"
#include "bridge/kafka_admin_tls.h"
#include "bridge/policy.h"
#include "identity/cli/command.h"
#include "identity/clock.h"
#include "identity/duration.h"
#include "identity/log/log.h"
#include "identity/workload/client.h"

namespace mayfly::cli {
namespace {

using bridge::AdminSvid;
using bridge::BrokerIdRule;
using bridge::KafkaAdminOptions;
using bridge::RdKafkaAdmin;

// The flags every cluster command takes; --broker-spiffe-id only when
// `broker_flag` (plan and apply take the brokers from the policy).
struct ClusterFlags {
  ClusterFlags(FlagSet& flags, bool broker_flag) {
    flags.String("bootstrap", &bootstrap, "HOST:PORT of a broker.");
    flags.String("svid-dir", &svid_dir,
                 "Directory kept by `mayfly watch x509 --write`: connect "
                 "with its SVID.");
    flags.String("socket", &socket,
                 "Workload API socket to get the SVID from (when no "
                 "--svid-dir); default $SPIFFE_ENDPOINT_SOCKET.");
    if (broker_flag) {
      flags.List("broker-spiffe-id", &broker_ids,
                 "Required: the broker's SPIFFE ID, or a pattern like "
                 "spiffe://prod.acme/kafka/* (repeatable).");
    }
    flags.String("timeout", &timeout_text,
                 "How long each call to the cluster or the agent may take.");
  }
  ClusterFlags(const ClusterFlags&) = delete;
  ClusterFlags& operator=(const ClusterFlags&) = delete;

  std::string bootstrap, svid_dir, socket;
  std::vector<std::string> broker_ids;
  std::string timeout_text = "30s";
};

class StderrLogger {
 public:
  StderrLogger()
      : sink_(NewJsonStderrSink(identity::RealClock())),
        logger_(*sink_, LogLevel::kWarn) {}
  Logger& get() { return logger_; }

 private:
  std::unique_ptr<LogSink> sink_;
  Logger logger_;
};

// Connects as the flags say, accepting a broker whose ID matches one of
// `brokers` (from `source`, named in errors); on a bad flag or a failure,
// the exit code.
std::optional<int> ConnectOrExit(const FlagSet& flags, const ClusterFlags& f,
                                 std::vector<identity::SpiffeIdPattern> brokers,
                                 const std::string& source, Logger& logger,
                                 std::unique_ptr<RdKafkaAdmin>& out,
                                 std::optional<AdminSvid>* svid_out = nullptr) {
  if (f.bootstrap.empty()) return MissingFlag(flags, "bootstrap");
  if (!f.svid_dir.empty() && !f.socket.empty()) {
    return Fail("--svid-dir and --socket are exclusive", kExitUsage);
  }
  absl::StatusOr<absl::Duration> timeout =
      identity::ParseDuration(f.timeout_text);
  if (!timeout.ok() || *timeout <= absl::ZeroDuration()) {
    return Fail("--timeout: want a duration above 0, like 30s", kExitUsage);
  }
  absl::StatusOr<AdminSvid> svid =
      !f.svid_dir.empty()
          ? bridge::LoadSvidFromDir(f.svid_dir)
          : bridge::FetchSvidFromWorkloadApi(f.socket, *timeout);
  if (!svid.ok()) return Fail(svid.status().ToString());
  KafkaAdminOptions options{
      f.bootstrap, *timeout,
      BrokerIdRule{svid->id.trust_domain(), std::move(brokers), source}};
  std::cerr << "connecting to " << f.bootstrap << " as " << svid->id.ToString()
            << "\n";
  absl::StatusOr<std::unique_ptr<RdKafkaAdmin>> admin =
      RdKafkaAdmin::Create(options, *svid, logger);
  if (!admin.ok()) return Fail(admin.status().ToString());
  out = std::move(*admin);
  if (svid_out != nullptr) *svid_out = std::move(*svid);
  return std::nullopt;
}

// plan and apply: the policy, the cluster's ACLs, the diff.
int PlanOrApply(const std::vector<std::string>& args, bool apply) {
  const std::string verb = apply ? "apply" : "plan";
  FlagSet flags(
      "mayfly bridge " + verb +
          " POLICY --bootstrap HOST:PORT (--svid-dir DIR | --socket PATH)",
      apply ? "Makes the cluster's ACLs what POLICY says, for the principals "
              "POLICY owns\n(those its rules can produce); every other ACL "
              "is left alone. Prints what\nwas done and what failed; exit 1 "
              "if anything failed (run it again to finish)."
            : "Prints the ACL changes that would make the cluster match "
              "POLICY, for the\nprincipals POLICY owns (those its rules can "
              "produce): + to create, - to delete.\nThe broker must present "
              "one of POLICY's brokers.");
  ClusterFlags cluster_flags(flags, /*broker_flag=*/false);
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (positional.size() != 1) {
    return Fail("want exactly one POLICY file", kExitUsage);
  }
  absl::StatusOr<bridge::Policy> policy = bridge::Policy::Load(positional[0]);
  if (!policy.ok()) return Fail(std::string(policy.status().message()));
  if (absl::Status s = policy->RequireBrokers("mayfly bridge " + verb);
      !s.ok()) {
    return Fail(absl::StrCat(positional[0], ": ", s.message()));
  }

  StderrLogger logger;
  std::unique_ptr<RdKafkaAdmin> admin;
  if (auto code =
          ConnectOrExit(flags, cluster_flags, policy->brokers(),
                        positional[0] + " brokers", logger.get(), admin)) {
    return *code;
  }
  absl::StatusOr<bridge::ClusterAcls> current = admin->DescribeAcls();
  if (!current.ok()) return Fail(current.status().ToString());
  absl::StatusOr<bridge::AclPlan> plan = bridge::PlanAcls(
      policy->acls(), *current,
      [&](absl::string_view principal) { return policy->Owns(principal); });
  if (!plan.ok()) return Fail(std::string(plan.status().message()));
  if (!apply) {
    std::cout << bridge::FormatPlan(*plan);
    return kExitOk;
  }
  if (plan->empty()) {
    std::cout << bridge::FormatPlan(*plan);
  } else {
    std::cout << bridge::PlanSummary(*plan) << "\n" << std::flush;
    const bridge::ApplyReport report = bridge::ApplyPlan(*plan, *admin);
    std::cout << bridge::FormatReport(report);
    if (!report.ok()) return kExitFailure;
    for (const bridge::OpaqueAcl& acl : plan->unmanageable) {
      std::cout << "! cannot manage " << acl.description << "\n";
    }
  }
  // Apply cannot finish while the policy's principals hold ACLs it cannot
  // see whole: say so, and fail, on every run until someone removes them.
  if (!plan->unmanageable.empty()) {
    return Fail(absl::StrCat(plan->unmanageable.size(),
                             " ACL(s) of principals the policy owns cannot be "
                             "managed through librdkafka 2.0.2; remove them "
                             "with kafka-acls"));
  }
  return kExitOk;
}

int Plan(const std::vector<std::string>& args) {
  return PlanOrApply(args, false);
}
int Apply(const std::vector<std::string>& args) {
  return PlanOrApply(args, true);
}

// After a reload: waits until new handshakes on `address` get the leaf of
// the keystore file (which only a process on the broker's host can read).
int VerifyServed(const std::string& address, const std::string& keystore,
                 const AdminSvid& svid, absl::Duration timeout,
                 int network_threads) {
  if (absl::StatusOr<std::string> readable = bridge::FirstCertDer(keystore);
      !readable.ok()) {
    std::cerr << "mayfly: not checked that the broker took the files: "
              << readable.status().message() << "\n";
    return kExitOk;
  }
  // One handshake every kServedPoll, within the timeout.
  constexpr absl::Duration kServedPoll = absl::Milliseconds(200);
  const int attempts = std::max(1, static_cast<int>(timeout / kServedPoll));
  const absl::Status served = bridge::WaitUntilServed(
      [&] {
        return bridge::ServedLeafDer(address, svid,
                                     std::min(timeout, absl::Seconds(5)));
      },
      [&] { return bridge::FirstCertDer(keystore); },
      // Twice round the broker's network threads, each with its own context.
      2 * network_threads, attempts, [&] { absl::SleepFor(kServedPoll); });
  if (!served.ok()) return Fail(served.ToString());
  std::cout << "verified: " << address << " serves the certificate in "
            << keystore << "\n";
  return kExitOk;
}

int ReloadBroker(const std::vector<std::string>& args) {
  std::string node_text;
  std::string listener(bridge::kDefaultListener);
  FlagSet flags(
      "mayfly bridge reload-broker --bootstrap HOST:PORT --node-id N "
      "(--svid-dir DIR | --socket PATH) --broker-spiffe-id ID [--listener "
      "NAME]",
      "Makes a stock broker reload its listener's PEM keystore and "
      "truststore files\n(KIP-226): sets listener.name.<listener>.ssl."
      "keystore.location and\n.ssl.truststore.location to the values they "
      "have, keeping every other\nper-broker dynamic config. Meant as "
      "`mayfly watch x509 --write DIR --exec`.");
  ClusterFlags cluster_flags(flags, /*broker_flag=*/true);
  flags.String("node-id", &node_text, "The broker's node.id.");
  flags.String("listener", &listener,
               "The listener to reload, as in listeners=.");
  bool verify = true;
  flags.Bool("verify", &verify,
             "Then check, with new TLS handshakes on --served-at, that the "
             "broker serves the keystore file's certificate.");
  std::string served_at;
  flags.String("served-at", &served_at,
               "HOST:PORT where --listener serves (default --bootstrap; a "
               "controller listener has its own).");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (!positional.empty()) return Fail("no arguments expected", kExitUsage);
  if (node_text.empty()) return MissingFlag(flags, "node-id");
  int32_t node_id = 0;
  if (!absl::SimpleAtoi(node_text, &node_id) || node_id < 0) {
    return Fail("--node-id: want a number >= 0", kExitUsage);
  }
  if (listener.empty()) return Fail("--listener: empty", kExitUsage);

  if (cluster_flags.broker_ids.empty()) {
    return MissingFlag(flags, "broker-spiffe-id");
  }
  std::vector<identity::SpiffeIdPattern> brokers;
  for (const std::string& text : cluster_flags.broker_ids) {
    absl::StatusOr<identity::SpiffeIdPattern> pattern =
        identity::SpiffeIdPattern::FromString(text);
    if (!pattern.ok()) {
      return Fail(
          "--broker-spiffe-id: " + std::string(pattern.status().message()),
          kExitUsage);
    }
    brokers.push_back(*std::move(pattern));
  }

  StderrLogger logger;
  std::unique_ptr<RdKafkaAdmin> admin;
  std::optional<AdminSvid> svid;
  if (auto code =
          ConnectOrExit(flags, cluster_flags, std::move(brokers),
                        "--broker-spiffe-id", logger.get(), admin, &svid)) {
    return *code;
  }
  absl::StatusOr<bridge::ReloadRequestConfigs> sent =
      bridge::ReloadListenerFiles(*admin, node_id, listener);
  if (!sent.ok()) return Fail(sent.status().ToString());
  std::vector<std::string> parts;
  std::string keystore;
  for (const auto& [name, value] : sent->configs) {
    parts.push_back(absl::StrCat(name, "=", value));
    if (name == bridge::ListenerConfigName(listener, "ssl.keystore.location")) {
      keystore = value;
    }
  }
  std::cout << "reloaded listener " << listener << " on node " << node_id
            << ": " << absl::StrJoin(parts, " ") << "\n";
  if (!verify) return kExitOk;
  return VerifyServed(served_at.empty() ? cluster_flags.bootstrap : served_at,
                      keystore, *svid, admin->timeout(), sent->network_threads);
}

std::vector<Command> ClusterCommands() {
  return {
      {"bridge plan", "Show the ACL changes a policy needs on a cluster.",
       Plan},
      {"bridge apply", "Make a cluster's ACLs match a policy.", Apply},
      {"bridge reload-broker",
       "Make a stock broker reload its listener's PEM files.", ReloadBroker},
  };
}

const CommandGroupRegistrar kRegistrar("bridge", ClusterCommands);

}  // namespace
}  // namespace mayfly::cli
