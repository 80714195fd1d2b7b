// --tls files: the broker's SPIFFE ID check for librdkafka's own TLS.
//
// With ssl.ca.location librdkafka (OpenSSL) checks only that the broker's
// chain leads to the bundle, and hostname checking is off (a broker SVID
// names no host). Every SVID of the trust domain carries serverAuth, so
// that alone would take any workload for a broker. This adds what the
// client library checks (kafka/client/upstream/broker_verifier.h): the
// leaf's SPIFFE ID must match one of the broker patterns.
//
// librdkafka hands its verify callback no state of ours (its opaque is the
// application's), so an on_new interceptor gives each broker thread of a
// handle the patterns through a thread-local, and the callback, which runs
// on that broker thread, reads them there. A thread without them refuses.
#ifndef MAYFLY_KAFKA_CLI_FILES_BROKER_CHECK_H_
#define MAYFLY_KAFKA_CLI_FILES_BROKER_CHECK_H_

#include <librdkafka/rdkafka.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "kafka/client/upstream/broker_verifier.h"

namespace mayfly::kafka::cli {

// Sets ssl.certificate.verify_cb and the interceptors on `conf`. `policy`
// is borrowed: it must outlive every handle made from `conf` (and from
// its copies). Internal when librdkafka refuses either.
absl::Status AddBrokerIdCheck(rd_kafka_conf_t* conf,
                              const BrokerIdPolicy* policy);

// The verify callback AddBrokerIdCheck sets, exposed for tests: keeps
// OpenSSL's verdict (*x509_error), then at depth 0 (the leaf) checks the
// SPIFFE ID against the calling thread's policy. 1 accepts; 0 refuses with
// "broker NAME: why" in errstr.
int VerifyBrokerCertificate(rd_kafka_t* rk, const char* broker_name,
                            int32_t broker_id, int* x509_error, int depth,
                            const char* buf, size_t size, char* errstr,
                            size_t errstr_size, void* opaque);

// The calling thread's policy (null: none), as the interceptor sets it on
// a broker thread. For tests.
const BrokerIdPolicy* ThreadBrokerIdPolicy();
void SetThreadBrokerIdPolicy(const BrokerIdPolicy* policy);

}  // namespace mayfly::kafka::cli

#endif  // MAYFLY_KAFKA_CLI_FILES_BROKER_CHECK_H_
