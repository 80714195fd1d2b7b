// The flags of `mayfly kafka produce|consume`: see options.h.
#include "kafka/cli/options.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/duration.h"
#include "identity/status_macros.h"

namespace mayfly::kafka::cli {
namespace {

using mayfly::cli::FlagSet;

absl::Status FlagError(absl::string_view flag, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", flag, ": ", problem));
}

// An integer in [min, max], or `absent` when the text is empty.
absl::StatusOr<int64_t> ParseInt(absl::string_view flag,
                                 const std::string& text, int64_t min,
                                 int64_t max, int64_t absent) {
  if (text.empty()) return absent;
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < min || value > max) {
    return FlagError(flag, absl::StrCat("want a whole number in [", min, ", ",
                                        max, "], not \"", text, "\""));
  }
  return value;
}

absl::StatusOr<std::optional<absl::Duration>> ParseOptionalDuration(
    absl::string_view flag, const std::string& text) {
  if (text.empty()) return std::nullopt;
  absl::StatusOr<absl::Duration> d = identity::ParseDuration(text);
  if (!d.ok()) return FlagError(flag, d.status().message());
  return *d;
}

absl::Status Required(absl::string_view flag, const std::string& value) {
  if (value.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing required flag --", flag));
  }
  return absl::OkStatus();
}

}  // namespace

TransportFlags::TransportFlags(FlagSet& flags) {
  flags.String("tls", &tls_,
               "mayfly (the Workload API's SVIDs, rotating), files (librdkafka "
               "TLS on a\n      `mayfly watch x509 --write` directory, read "
               "once) or none (PLAINTEXT).");
  flags.String("socket", &socket_,
               "--tls mayfly: Workload API socket (unix:///path or /path); "
               "default\n      $SPIFFE_ENDPOINT_SOCKET.");
  flags.String("spiffe-id", &spiffe_id_,
               "--tls mayfly: which of this process's SVIDs; default the "
               "first.");
  flags.List(
      "broker-spiffe-id", &broker_ids_,
      "--tls mayfly|files, required: the SPIFFE ID the brokers present, or "
      "a pattern\n      (spiffe://prod.acme/kafka/*, as the policy's "
      "brokers); repeatable.");
  flags.String("svid-dir", &svid_dir_,
               "--tls files: the directory `mayfly watch x509 --write` keeps.");
  flags.List("property", &properties_,
             "A librdkafka property NAME=VALUE, set last (repeatable).");
}

absl::StatusOr<TransportOptions> TransportFlags::Options() const {
  TransportOptions options;
  if (tls_ == "mayfly") {
    options.tls = TlsMode::kMayfly;
  } else if (tls_ == "files") {
    options.tls = TlsMode::kFiles;
  } else if (tls_ == "none") {
    options.tls = TlsMode::kNone;
  } else {
    return FlagError(
        "tls", absl::StrCat("want mayfly, files or none, not \"", tls_, "\""));
  }
  const std::pair<const char*, bool> mayfly_only[] = {
      {"socket", !socket_.empty()},
      {"spiffe-id", !spiffe_id_.empty()},
  };
  for (const auto& [flag, given] : mayfly_only) {
    if (given && options.tls != TlsMode::kMayfly) {
      return FlagError(flag, "only with --tls mayfly");
    }
  }
  if (options.tls == TlsMode::kFiles) {
    RETURN_IF_ERROR(Required("svid-dir", svid_dir_));
  } else if (!svid_dir_.empty()) {
    return FlagError("svid-dir", "only with --tls files");
  }
  options.socket = socket_;
  options.svid_dir = svid_dir_;
  if (!spiffe_id_.empty()) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::SpiffeId::FromString(spiffe_id_);
    if (!id.ok()) return FlagError("spiffe-id", id.status().message());
    options.spiffe_id = id->ToString();
  }
  for (const std::string& text : broker_ids_) {
    absl::StatusOr<identity::SpiffeIdPattern> pattern =
        identity::SpiffeIdPattern::FromString(text);
    if (!pattern.ok()) {
      return FlagError("broker-spiffe-id", pattern.status().message());
    }
    options.brokers.push_back(*std::move(pattern));
  }
  for (const std::string& text : properties_) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
      return FlagError("property",
                       absl::StrCat("want NAME=VALUE, not \"", text, "\""));
    }
    options.properties.emplace_back(text.substr(0, eq), text.substr(eq + 1));
  }
  // Last, so a bad value of another flag is named first. No default: every SVID
  // carries serverAuth, so "any ID of my trust domain" would take any workload
  // for a broker.
  if (options.tls == TlsMode::kNone && !broker_ids_.empty()) {
    return FlagError("broker-spiffe-id", "not with --tls none");
  }
  if (options.tls != TlsMode::kNone && broker_ids_.empty()) {
    return FlagError("broker-spiffe-id",
                     absl::StrCat("required with --tls ", tls_,
                                  ": the SPIFFE ID (or pattern, like "
                                  "spiffe://prod.acme/kafka/*) the brokers "
                                  "present"));
  }
  return options;
}

ProduceFlags::ProduceFlags(FlagSet& flags) : transport_(flags) {
  flags.String("bootstrap", &bootstrap_, "Brokers, HOST:PORT[,HOST:PORT...].");
  flags.String("topic", &topic_, "Topic to produce to.");
  flags.String("count", &count_,
               absl::StrCat("Messages to send; 0: no limit (default ",
                            kDefaultProduceCount,
                            "; with --stdin, until the end of input)."));
  flags.String("rate", &rate_, "Messages a second; 0: as fast as possible.");
  flags.String("duration", &duration_,
               "Stop after this long (e.g. 30s) if --count is not reached.");
  flags.String("size", &size_,
               "Bytes of a generated value (\"seq=N \" and padding).");
  flags.Bool("stdin", &stdin_,
             "Send stdin, one message a line: KEY<TAB>VALUE, or VALUE alone.");
  flags.Bool("idempotent", &idempotent_,
             "enable.idempotence=true (needs --acks all).");
  flags.String("acks", &acks_, "all, 1 or 0.");
}

absl::StatusOr<ProduceOptions> ProduceFlags::Options() const {
  ProduceOptions options;
  RETURN_IF_ERROR(Required("bootstrap", bootstrap_));
  RETURN_IF_ERROR(Required("topic", topic_));
  options.bootstrap = bootstrap_;
  options.topic = topic_;
  options.from_stdin = stdin_;
  ASSIGN_OR_RETURN(options.count, ParseInt("count", count_, 0, INT64_MAX,
                                           stdin_ ? 0 : kDefaultProduceCount));
  ASSIGN_OR_RETURN(options.rate, ParseInt("rate", rate_, 0, INT32_MAX, 0));
  ASSIGN_OR_RETURN(options.duration,
                   ParseOptionalDuration("duration", duration_));
  ASSIGN_OR_RETURN(options.size, ParseInt("size", size_, 0, kMaxValueSize, 0));
  if (options.count == 0 && !options.from_stdin && !options.duration) {
    return FlagError("count", "0 (no limit) needs --duration or --stdin");
  }
  if (acks_ != "all" && acks_ != "1" && acks_ != "0") {
    return FlagError("acks",
                     absl::StrCat("want all, 1 or 0, not \"", acks_, "\""));
  }
  options.acks = acks_;
  options.idempotent = idempotent_;
  if (idempotent_ && acks_ != "all") {
    return FlagError("idempotent", "needs --acks all");
  }
  ASSIGN_OR_RETURN(options.transport, transport_.Options());
  return options;
}

ConsumeFlags::ConsumeFlags(FlagSet& flags) : transport_(flags) {
  flags.String("bootstrap", &bootstrap_, "Brokers, HOST:PORT[,HOST:PORT...].");
  flags.String("topic", &topic_, "Topic to consume.");
  flags.String("group", &group_, "Consumer group (group.id).");
  flags.String("members", &members_,
               "Group members in this process, one handle and thread each.");
  flags.String("count", &count_,
               "Stop once this many distinct sequence numbers arrived; 0: no "
               "limit.");
  flags.String("duration", &duration_, "Stop after this long (e.g. 60s).");
  flags.String("idle-timeout", &idle_timeout_,
               "Stop when nothing arrives for this long after the first "
               "message.");
  flags.String("expect", &expect_,
               "The producer sent sequence numbers 0..N-1: report the ones "
               "never seen.");
  flags.Bool("from-beginning", &from_beginning_,
             "auto.offset.reset=earliest (else latest).");
  flags.String("ready-file", &ready_file_,
               "Create this file once every member has partitions and "
               "together they\n      hold all of the topic's.");
  flags.Bool("print", &print_, "Print KEY<TAB>VALUE for each message.");
}

absl::StatusOr<ConsumeOptions> ConsumeFlags::Options() const {
  ConsumeOptions options;
  RETURN_IF_ERROR(Required("bootstrap", bootstrap_));
  RETURN_IF_ERROR(Required("topic", topic_));
  RETURN_IF_ERROR(Required("group", group_));
  options.bootstrap = bootstrap_;
  options.topic = topic_;
  options.group = group_;
  ASSIGN_OR_RETURN(const int64_t members,
                   ParseInt("members", members_, 1, kMaxMembers, 1));
  options.members = static_cast<int>(members);
  ASSIGN_OR_RETURN(options.count, ParseInt("count", count_, 0, INT64_MAX, 0));
  ASSIGN_OR_RETURN(options.duration,
                   ParseOptionalDuration("duration", duration_));
  ASSIGN_OR_RETURN(options.idle_timeout,
                   ParseOptionalDuration("idle-timeout", idle_timeout_));
  if (!expect_.empty()) {
    ASSIGN_OR_RETURN(options.expect,
                     ParseInt("expect", expect_, 1, INT64_MAX, 0));
  }
  options.from_beginning = from_beginning_;
  options.ready_file = ready_file_;
  options.print = print_;
  ASSIGN_OR_RETURN(options.transport, transport_.Options());
  return options;
}

}  // namespace mayfly::kafka::cli
