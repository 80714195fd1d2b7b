// What certificate a broker's TLS listener serves now: how reload-broker
// checks that the broker really took the new files.
//
// On KRaft, AlterConfigs succeeds once the controller has written the
// config record; the broker rebuilds its listener's SSL context later, when
// it applies that record, and a rebuild that fails validation (a keystore
// the old truststore does not trust, a changed DN or SAN) is only logged by
// the broker ("Encountered metadata publishing fault"). So success of the
// call says nothing about the files: a new handshake does.
#ifndef MAYFLY_BRIDGE_KAFKA_ADMIN_SERVED_CERT_H_
#define MAYFLY_BRIDGE_KAFKA_ADMIN_SERVED_CERT_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bridge/kafka_admin_tls.h"

namespace mayfly::bridge {

// The DER of the leaf certificate that the TLS listener at `address`
// (HOST:PORT) serves to a new handshake, presenting `svid` as the client
// certificate (a listener with ssl.client.auth=required finishes the
// handshake only then). It makes no trust decision: the caller compares the
// leaf with the one it expects. Each step waits at most `timeout`.
absl::StatusOr<std::string> ServedLeafDer(const std::string& address,
                                          const AdminSvid& svid,
                                          absl::Duration timeout);

// The DER of the first certificate in a PEM file (a Kafka PEM keystore: the
// key, then the chain, leaf first).
absl::StatusOr<std::string> FirstCertDer(const std::string& pem_path);

// Asks `served` and `expected` up to `attempts` times, calling `pause`
// after a miss, until `matches` answers in a row give the same leaf. Both
// are asked again each time: the file may be replaced meanwhile. Several in
// a row because each of the broker's network threads has its own SSL
// context, new connections go to them in turn, and a reload that fails
// half-way leaves some threads on the old certificate (seen on 4.4.0).
// FailedPrecondition naming both serials if they do not match; the last
// error of either if it did not answer.
absl::Status WaitUntilServed(
    const std::function<absl::StatusOr<std::string>()>& served,
    const std::function<absl::StatusOr<std::string>()>& expected, int matches,
    int attempts, const std::function<void()>& pause);

}  // namespace mayfly::bridge

#endif  // MAYFLY_BRIDGE_KAFKA_ADMIN_SERVED_CERT_H_
