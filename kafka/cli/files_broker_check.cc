// The broker ID check for --tls files: see files_broker_check.h.
#include "kafka/cli/files_broker_check.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "identity/openssl_util.h"
#include "identity/x509_verify.h"

namespace mayfly::kafka::cli {
namespace {

constexpr char kInterceptorName[] = "mayfly.files_broker_check";

// Set on each broker thread of a handle made from a checked conf.
thread_local const BrokerIdPolicy* t_policy = nullptr;

rd_kafka_resp_err_t OnThreadStart(rd_kafka_t* /*rk*/,
                                  rd_kafka_thread_type_t type,
                                  const char* /*name*/, void* ic_opaque) {
  t_policy = type == RD_KAFKA_THREAD_BROKER
                 ? static_cast<const BrokerIdPolicy*>(ic_opaque)
                 : nullptr;
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

// on_new runs before rd_kafka_new starts the handle's threads.
rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* /*conf*/,
                          void* ic_opaque, char* /*errstr*/,
                          size_t /*errstr_size*/) {
  return rd_kafka_interceptor_add_on_thread_start(rk, kInterceptorName,
                                                  OnThreadStart, ic_opaque);
}

rd_kafka_resp_err_t AddInterceptors(rd_kafka_conf_t* conf,
                                    const BrokerIdPolicy* policy);

rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* new_conf,
                              const rd_kafka_conf_t* /*old_conf*/,
                              size_t /*filter_cnt*/, const char** /*filter*/,
                              void* ic_opaque) {
  return AddInterceptors(new_conf,
                         static_cast<const BrokerIdPolicy*>(ic_opaque));
}

rd_kafka_resp_err_t AddInterceptors(rd_kafka_conf_t* conf,
                                    const BrokerIdPolicy* policy) {
  // The policy is borrowed, so nothing to free on conf destroy.
  void* opaque = const_cast<BrokerIdPolicy*>(policy);
  rd_kafka_resp_err_t err = rd_kafka_conf_interceptor_add_on_conf_dup(
      conf, kInterceptorName, OnConfDup, opaque);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  return rd_kafka_conf_interceptor_add_on_new(conf, kInterceptorName, OnNew,
                                              opaque);
}

int Refuse(const char* broker_name, const std::string& why, char* errstr,
           size_t errstr_size) {
  std::snprintf(errstr, errstr_size, "broker %s: %s", broker_name, why.c_str());
  return 0;
}

}  // namespace

absl::Status AddBrokerIdCheck(rd_kafka_conf_t* conf,
                              const BrokerIdPolicy* policy) {
  if (rd_kafka_conf_set_ssl_cert_verify_cb(conf, VerifyBrokerCertificate) !=
      RD_KAFKA_CONF_OK) {
    return absl::InternalError("librdkafka refused ssl.certificate.verify_cb");
  }
  if (rd_kafka_resp_err_t err = AddInterceptors(conf, policy);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat(
        "adding the broker ID check's interceptors: ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

int VerifyBrokerCertificate(rd_kafka_t* /*rk*/, const char* broker_name,
                            int32_t /*broker_id*/, int* x509_error, int depth,
                            const char* buf, size_t size, char* errstr,
                            size_t errstr_size, void* /*opaque*/) {
  // librdkafka lets the handshake through whenever this returns 1, even
  // with OpenSSL's own verdict in *x509_error: keep that verdict.
  if (*x509_error != X509_V_OK) {
    return Refuse(broker_name,
                  absl::StrCat("certificate at depth ", depth,
                               " fails verification with our bundle: ",
                               X509_verify_cert_error_string(*x509_error)),
                  errstr, errstr_size);
  }
  if (depth != 0) return 1;
  *x509_error = X509_V_ERR_APPLICATION_VERIFICATION;
  if (t_policy == nullptr) {
    return Refuse(broker_name, "no broker IDs on this thread", errstr,
                  errstr_size);
  }
  const unsigned char* p = reinterpret_cast<const unsigned char*>(buf);
  identity::UniqueX509 leaf(d2i_X509(nullptr, &p, static_cast<long>(size)));
  if (leaf == nullptr) {
    return Refuse(broker_name, "its certificate does not parse", errstr,
                  errstr_size);
  }
  absl::StatusOr<identity::SpiffeId> id = identity::SpiffeIdFromCert(*leaf);
  if (!id.ok()) {
    return Refuse(
        broker_name,
        absl::StrCat("broker presented no X.509-SVID: ", id.status().message()),
        errstr, errstr_size);
  }
  if (absl::Status wanted = CheckBrokerId(*id, *t_policy); !wanted.ok()) {
    return Refuse(broker_name, std::string(wanted.message()), errstr,
                  errstr_size);
  }
  *x509_error = X509_V_OK;
  return 1;
}

const BrokerIdPolicy* ThreadBrokerIdPolicy() { return t_policy; }

void SetThreadBrokerIdPolicy(const BrokerIdPolicy* policy) {
  t_policy = policy;
}

}  // namespace mayfly::kafka::cli
