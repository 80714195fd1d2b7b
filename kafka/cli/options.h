// The options of `mayfly kafka produce` and `mayfly kafka consume`, and the
// flags that set them.
//
// Each *Flags object binds its flags to a cli::FlagSet (which keeps
// pointers to its members: neither copyable nor movable) and, after the
// FlagSet has parsed the command line, turns the texts into checked options.
// Every error is InvalidArgument naming the flag at fault, so the command
// can print it as a usage error. The benchmark and the soak build the
// option structs directly.
#ifndef MAYFLY_KAFKA_CLI_OPTIONS_H_
#define MAYFLY_KAFKA_CLI_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/cli/flags.h"
#include "identity/spiffe_id.h"
#include "identity/workload/x509_svid_source.h"

namespace mayfly::kafka::cli {

// How the client reaches the brokers.
enum class TlsMode {
  kMayfly,  // the client library on the Workload API's rotating SVIDs
  kFiles,   // librdkafka's own TLS on a `mayfly watch x509 --write` dir
  kNone,    // PLAINTEXT
};

struct TransportOptions {
  TlsMode tls = TlsMode::kMayfly;
  // kMayfly: the Workload API socket (empty: $SPIFFE_ENDPOINT_SOCKET) and
  // the SVID to use (empty: the default one).
  std::string socket;
  std::string spiffe_id;
  // kMayfly and kFiles: the brokers to accept (BrokerIdPolicy::brokers;
  // required, there is no default).
  std::vector<identity::SpiffeIdPattern> brokers;
  // kMayfly, for programs that already have a source (and tests): used
  // instead of starting an X509Source on `socket`. No flag sets it.
  std::shared_ptr<identity::workload::X509SvidSource> source;
  // kMayfly: ClientOptions::connect_to (a test's TLS front). No flag.
  std::function<std::string(absl::string_view nodename)> connect_to;
  // kMayfly: how long the run waits for its first SVID before it makes any
  // handle (else librdkafka's first connections fail, counted as transport
  // errors, until the agent answers).
  absl::Duration first_svid_timeout = absl::Seconds(30);
  // kFiles: the directory `mayfly watch x509 --write` keeps.
  std::string svid_dir;
  // librdkafka properties set last (--property), in order.
  std::vector<std::pair<std::string, std::string>> properties;
};

// Defaults, as `--help` shows them.
inline constexpr int64_t kDefaultProduceCount = 1000;
inline constexpr int64_t kDefaultValueSize = 100;
// librdkafka's own ceiling on message.max.bytes.
inline constexpr int64_t kMaxValueSize = 1000000000;
// Consumer handles in one process; more is a second process's job.
inline constexpr int kMaxMembers = 64;

struct ProduceOptions {
  std::string bootstrap;
  std::string topic;
  // Messages to send; 0 = no limit (then --duration or the end of stdin
  // ends the run).
  int64_t count = kDefaultProduceCount;
  int64_t rate = 0;  // messages a second; 0 = as fast as possible
  std::optional<absl::Duration> duration;
  int64_t size = kDefaultValueSize;  // generated values are padded to this
  bool from_stdin = false;           // else generated, see produce.h
  bool idempotent = false;
  std::string acks = "all";  // all, 1 or 0
  TransportOptions transport;
};

struct ConsumeOptions {
  std::string bootstrap;
  std::string topic;
  std::string group;
  int members = 1;
  int64_t count = 0;  // distinct sequence numbers to wait for; 0 = no limit
  std::optional<absl::Duration> duration;
  std::optional<absl::Duration> idle_timeout;
  std::optional<int64_t> expect;  // the producer sent 0..expect-1
  bool from_beginning = false;
  std::string ready_file;
  bool print = false;
  TransportOptions transport;
};

// --tls, --socket, --spiffe-id, --broker-spiffe-id (required unless --tls
// none), --svid-dir, --property.
class TransportFlags {
 public:
  explicit TransportFlags(mayfly::cli::FlagSet& flags);
  TransportFlags(const TransportFlags&) = delete;
  TransportFlags& operator=(const TransportFlags&) = delete;

  absl::StatusOr<TransportOptions> Options() const;

 private:
  std::string tls_ = "mayfly";
  std::string socket_;
  std::string spiffe_id_;
  std::vector<std::string> broker_ids_;
  std::string svid_dir_;
  std::vector<std::string> properties_;
};

class ProduceFlags {
 public:
  explicit ProduceFlags(mayfly::cli::FlagSet& flags);
  ProduceFlags(const ProduceFlags&) = delete;
  ProduceFlags& operator=(const ProduceFlags&) = delete;

  absl::StatusOr<ProduceOptions> Options() const;

 private:
  std::string bootstrap_, topic_, count_,
      rate_ = "0", duration_, size_ = std::to_string(kDefaultValueSize),
      acks_ = "all";
  bool stdin_ = false;
  bool idempotent_ = false;
  TransportFlags transport_;
};

class ConsumeFlags {
 public:
  explicit ConsumeFlags(mayfly::cli::FlagSet& flags);
  ConsumeFlags(const ConsumeFlags&) = delete;
  ConsumeFlags& operator=(const ConsumeFlags&) = delete;

  absl::StatusOr<ConsumeOptions> Options() const;

 private:
  std::string bootstrap_, topic_, group_, members_ = "1", count_ = "0",
                                          duration_, idle_timeout_, expect_,
                                          ready_file_;
  bool from_beginning_ = false;
  bool print_ = false;
  TransportFlags transport_;
};

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_OPTIONS_H_
