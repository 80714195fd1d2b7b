// The librdkafka admin client: see kafka_admin_rdkafka.h.
#include "bridge/kafka_admin_rdkafka.h"

#include <openssl/x509_vfy.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/kafka_admin_rdkafka_convert.h"
#include "identity/status_macros.h"

namespace mayfly::bridge {
namespace {

using rdkafka_internal::FromRd;
using rdkafka_internal::KafkaError;
using rdkafka_internal::ToRd;
using rdkafka_internal::UniqueAclBinding;

// Grace beyond the request timeout before we stop waiting for librdkafka to
// report that very timeout itself.
constexpr absl::Duration kWaitGrace = absl::Seconds(5);
// How often a wait looks for a refused broker.
constexpr absl::Duration kPollSlice = absl::Milliseconds(100);

struct ConfigResourceDeleter {
  void operator()(rd_kafka_ConfigResource_t* r) const {
    rd_kafka_ConfigResource_destroy(r);
  }
};
using UniqueConfigResource =
    std::unique_ptr<rd_kafka_ConfigResource_t, ConfigResourceDeleter>;

int Millis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

void CopyError(absl::string_view message, char* errstr, size_t size) {
  if (size == 0) return;
  std::snprintf(errstr, size, "%.*s", static_cast<int>(message.size()),
                message.data());
}

}  // namespace

absl::StatusOr<std::unique_ptr<RdKafkaAdmin>> RdKafkaAdmin::Create(
    const KafkaAdminOptions& options, const AdminSvid& svid, Logger& logger) {
  // The constructor is private: no make_unique.
  std::unique_ptr<RdKafkaAdmin> admin(new RdKafkaAdmin(options, logger));
  // librdkafka reads these when the handle is made; they go right after.
  ASSIGN_OR_RETURN(PrivateTlsFiles files, PrivateTlsFiles::Write(svid));

  kafka::common::UniqueConf conf(rd_kafka_conf_new());
  const std::string timeout_ms = absl::StrCat(Millis(options.timeout));
  const kafka::common::Settings settings = {
      {"bootstrap.servers", options.bootstrap},
      {"client.id", "mayfly-bridge"},
      {"security.protocol", "ssl"},
      {"ssl.certificate.location", files.chain_path()},
      {"ssl.key.location", files.key_path()},
      {"ssl.ca.location", files.bundle_path()},
      // The broker is checked by SPIFFE ID in VerifyBroker instead.
      {"ssl.endpoint.identification.algorithm", "none"},
      {"enable.ssl.certificate.verification", "true"},
      {"api.version.request", "true"},
      {"api.version.fallback.ms", "0"},
      {"socket.timeout.ms", timeout_ms},
      {"socket.connection.setup.timeout.ms", timeout_ms},
  };
  RETURN_IF_ERROR(kafka::common::SetProperties(conf.get(), settings));
  rd_kafka_conf_set_opaque(conf.get(), admin.get());
  rd_kafka_conf_set_log_cb(conf.get(), &RdKafkaAdmin::LogLine);
  if (rd_kafka_conf_set_ssl_cert_verify_cb(
          conf.get(), &RdKafkaAdmin::VerifyBroker) != RD_KAFKA_CONF_OK) {
    return absl::FailedPreconditionError("librdkafka was built without SSL");
  }
  char errstr[512] = "";
  admin->rk_.reset(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof errstr));
  if (admin->rk_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("librdkafka could not start: ", errstr));
  }
  conf.release();  // rd_kafka_new owns it from a successful return on
  return admin;
}

RdKafkaAdmin::~RdKafkaAdmin() = default;

int RdKafkaAdmin::VerifyBroker(rd_kafka_t*, const char* broker_name, int32_t,
                               int* x509_error, int depth, const char* buf,
                               size_t size, char* errstr, size_t errstr_size,
                               void* opaque) {
  // librdkafka lets the handshake through whenever this returns 1, even
  // with OpenSSL's own verdict in *x509_error: keep that verdict.
  const auto* self = static_cast<const RdKafkaAdmin*>(opaque);
  auto refuse = [&](absl::string_view why) {
    const std::string message = absl::StrCat("broker ", broker_name, ": ", why);
    CopyError(message, errstr, errstr_size);
    self->logger_.Log(LogLevel::kError, "kafka_broker_refused",
                      {{"broker", broker_name}, {"reason", std::string(why)}});
    absl::MutexLock lock(&self->mu_);
    if (!self->refusal_.has_value()) {
      self->refusal_ = absl::PermissionDeniedError(message);
    }
    return 0;
  };
  if (*x509_error != X509_V_OK) {
    return refuse(absl::StrCat("certificate at depth ", depth,
                               " fails verification with our bundle: ",
                               X509_verify_cert_error_string(*x509_error)));
  }
  if (depth != 0) return 1;
  const absl::Status status =
      CheckBrokerLeaf(absl::string_view(buf, size), self->options_.broker);
  if (!status.ok()) {
    *x509_error = X509_V_ERR_APPLICATION_VERIFICATION;
    return refuse(status.message());
  }
  return 1;
}

void RdKafkaAdmin::LogLine(const rd_kafka_t* rk, int level, const char* fac,
                           const char* buf) {
  const auto* self = static_cast<const RdKafkaAdmin*>(rd_kafka_opaque(rk));
  // syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug.
  const LogLevel ours = level <= 3   ? LogLevel::kError
                        : level == 4 ? LogLevel::kWarn
                        : level <= 6 ? LogLevel::kInfo
                                     : LogLevel::kDebug;
  self->logger_.Log(ours, "rdkafka", {{"facility", fac}, {"message", buf}});
}

absl::StatusOr<RdKafkaAdmin::UniqueOptions> RdKafkaAdmin::NewOptions() const {
  UniqueOptions options(
      rd_kafka_AdminOptions_new(rk_.get(), RD_KAFKA_ADMIN_OP_ANY));
  char errstr[512] = "";
  if (rd_kafka_AdminOptions_set_request_timeout(
          options.get(), Millis(options_.timeout), errstr, sizeof errstr) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("--timeout for librdkafka: ", errstr));
  }
  return options;
}

absl::StatusOr<RdKafkaAdmin::UniqueEvent> RdKafkaAdmin::Submit(
    const std::function<void(const rd_kafka_AdminOptions_t*,
                             rd_kafka_queue_t*)>& call,
    absl::string_view what) const {
  ASSIGN_OR_RETURN(UniqueOptions options, NewOptions());
  UniqueQueue queue(rd_kafka_queue_new(rk_.get()));
  call(options.get(), queue.get());
  return Wait(queue.get(), what);
}

std::optional<absl::Status> RdKafkaAdmin::Refusal() const {
  absl::MutexLock lock(&mu_);
  return refusal_;
}

absl::StatusOr<RdKafkaAdmin::UniqueEvent> RdKafkaAdmin::Wait(
    rd_kafka_queue_t* queue, absl::string_view what) const {
  // Poll in slices, so a refused broker ends the wait early; the number of
  // slices bounds the wait.
  const absl::Duration limit = options_.timeout + kWaitGrace;
  const int64_t slices = absl::Ceil(limit, kPollSlice) / kPollSlice;
  UniqueEvent event;
  for (int64_t i = 0; i < slices && event == nullptr; ++i) {
    if (std::optional<absl::Status> refused = Refusal()) return *refused;
    event.reset(rd_kafka_queue_poll(queue, Millis(kPollSlice)));
  }
  if (event == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": no answer from ", options_.bootstrap, " within ",
                     absl::FormatDuration(limit)));
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaError(
        rd_kafka_event_error(event.get()),
        absl::StrCat(what, ": ", rd_kafka_event_error_string(event.get())));
  }
  return event;
}

absl::StatusOr<ClusterAcls> RdKafkaAdmin::DescribeAcls() {
  char errstr[512] = "";
  UniqueAclBinding all(rd_kafka_AclBindingFilter_new(
      RD_KAFKA_RESOURCE_ANY, nullptr, RD_KAFKA_RESOURCE_PATTERN_ANY, nullptr,
      nullptr, RD_KAFKA_ACL_OPERATION_ANY, RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
      errstr, sizeof errstr));
  if (all == nullptr) return absl::InternalError(errstr);
  ASSIGN_OR_RETURN(
      UniqueEvent event,
      Submit(
          [&](const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_DescribeAcls(rk_.get(), all.get(), options, queue);
          },
          "DescribeAcls"));
  size_t n = 0;
  const rd_kafka_AclBinding_t** acls = rd_kafka_DescribeAcls_result_acls(
      rd_kafka_event_DescribeAcls_result(event.get()), &n);
  ClusterAcls out;
  for (size_t i = 0; i < n; ++i) {
    std::optional<AclBinding> b = FromRd(*acls[i]);
    if (b.has_value()) {
      out.bindings.push_back(std::move(*b));
    } else {
      out.opaque.push_back(rdkafka_internal::Opaque(*acls[i]));
    }
  }
  return out;
}

std::vector<absl::Status> RdKafkaAdmin::CreateAcls(
    const std::vector<AclBinding>& bindings) {
  std::vector<absl::Status> out(bindings.size());
  std::vector<UniqueAclBinding> owned;
  std::vector<rd_kafka_AclBinding_t*> raw;
  std::vector<size_t> index;  // position in `bindings` of each raw entry
  for (size_t i = 0; i < bindings.size(); ++i) {
    absl::StatusOr<UniqueAclBinding> b = ToRd(bindings[i], /*filter=*/false);
    if (!b.ok()) {
      out[i] = b.status();
      continue;
    }
    raw.push_back(b->get());
    owned.push_back(std::move(*b));
    index.push_back(i);
  }
  if (raw.empty()) return out;
  absl::StatusOr<UniqueEvent> event = Submit(
      [&](const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_CreateAcls(rk_.get(), raw.data(), raw.size(), options, queue);
      },
      "CreateAcls");
  size_t n = 0;
  const rd_kafka_acl_result_t** results =
      event.ok() ? rd_kafka_CreateAcls_result_acls(
                       rd_kafka_event_CreateAcls_result(event->get()), &n)
                 : nullptr;
  for (size_t k = 0; k < index.size(); ++k) {
    out[index[k]] = !event.ok() ? event.status()
                    : k < n
                        ? KafkaError(rd_kafka_acl_result_error(results[k]))
                        : absl::InternalError("CreateAcls: no result for it");
  }
  return out;
}

std::vector<absl::Status> RdKafkaAdmin::DeleteAcls(
    const std::vector<AclBinding>& bindings) {
  std::vector<absl::Status> out(bindings.size());
  std::vector<UniqueAclBinding> owned;
  std::vector<rd_kafka_AclBindingFilter_t*> raw;
  std::vector<size_t> index;
  for (size_t i = 0; i < bindings.size(); ++i) {
    absl::StatusOr<UniqueAclBinding> f = ToRd(bindings[i], /*filter=*/true);
    if (!f.ok()) {
      out[i] = f.status();
      continue;
    }
    raw.push_back(f->get());
    owned.push_back(std::move(*f));
    index.push_back(i);
  }
  if (raw.empty()) return out;
  absl::StatusOr<UniqueEvent> event = Submit(
      [&](const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
        rd_kafka_DeleteAcls(rk_.get(), raw.data(), raw.size(), options, queue);
      },
      "DeleteAcls");
  size_t n = 0;
  const rd_kafka_DeleteAcls_result_response_t** responses =
      event.ok() ? rd_kafka_DeleteAcls_result_responses(
                       rd_kafka_event_DeleteAcls_result(event->get()), &n)
                 : nullptr;
  for (size_t k = 0; k < index.size(); ++k) {
    out[index[k]] =
        !event.ok() ? event.status()
        : k < n     ? KafkaError(
                          rd_kafka_DeleteAcls_result_response_error(responses[k]))
                : absl::InternalError("DeleteAcls: no result for it");
  }
  return out;
}

absl::StatusOr<std::vector<BrokerConfigEntry>>
RdKafkaAdmin::DescribeBrokerConfigs(int32_t node_id) {
  UniqueConfigResource resource(rd_kafka_ConfigResource_new(
      RD_KAFKA_RESOURCE_BROKER, absl::StrCat(node_id).c_str()));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  ASSIGN_OR_RETURN(
      UniqueEvent event,
      Submit(
          [&](const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_DescribeConfigs(rk_.get(), resources, 1, options, queue);
          },
          "DescribeConfigs"));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** results =
      rd_kafka_DescribeConfigs_result_resources(
          rd_kafka_event_DescribeConfigs_result(event.get()), &n);
  if (n != 1) {
    return absl::InternalError(
        absl::StrCat("DescribeConfigs: ", n, " resources in the answer"));
  }
  RETURN_IF_ERROR(
      KafkaError(rd_kafka_ConfigResource_error(results[0]),
                 rd_kafka_ConfigResource_error_string(results[0])
                     ? rd_kafka_ConfigResource_error_string(results[0])
                     : "DescribeConfigs"));
  size_t count = 0;
  const rd_kafka_ConfigEntry_t** entries =
      rd_kafka_ConfigResource_configs(results[0], &count);
  // Top-level entries first; then any synonym not listed as an entry of
  // its own (a listener-prefixed override, say), so that a caller sees every
  // dynamic config the broker holds.
  std::vector<BrokerConfigEntry> out;
  std::map<std::string, bool> seen;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(FromRd(*entries[i]));
    seen[out.back().name] = true;
  }
  for (size_t i = 0; i < count; ++i) {
    size_t ns = 0;
    const rd_kafka_ConfigEntry_t** synonyms =
        rd_kafka_ConfigEntry_synonyms(entries[i], &ns);
    for (size_t s = 0; s < ns; ++s) {
      BrokerConfigEntry e = FromRd(*synonyms[s]);
      if (seen.emplace(e.name, true).second) out.push_back(std::move(e));
    }
  }
  return out;
}

absl::Status RdKafkaAdmin::AlterBrokerConfigs(
    int32_t node_id,
    const std::vector<std::pair<std::string, std::string>>& configs) {
  UniqueConfigResource resource(rd_kafka_ConfigResource_new(
      RD_KAFKA_RESOURCE_BROKER, absl::StrCat(node_id).c_str()));
  for (const auto& [name, value] : configs) {
    if (rd_kafka_ConfigResource_set_config(resource.get(), name.c_str(),
                                           value.c_str()) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InvalidArgumentError("AlterConfigs: cannot set " + name);
    }
  }
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  ASSIGN_OR_RETURN(
      UniqueEvent event,
      Submit(
          [&](const rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* queue) {
            rd_kafka_AlterConfigs(rk_.get(), resources, 1, options, queue);
          },
          "AlterConfigs"));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** results =
      rd_kafka_AlterConfigs_result_resources(
          rd_kafka_event_AlterConfigs_result(event.get()), &n);
  if (n != 1) {
    return absl::InternalError(
        absl::StrCat("AlterConfigs: ", n, " resources in the answer"));
  }
  const char* detail = rd_kafka_ConfigResource_error_string(results[0]);
  return KafkaError(rd_kafka_ConfigResource_error(results[0]),
                    detail ? detail : "AlterConfigs");
}

}  // namespace mayfly::bridge
