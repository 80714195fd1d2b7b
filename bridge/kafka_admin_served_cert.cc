// Reading the certificate a listener serves: see kafka_admin_served_cert.h.
#include "bridge/kafka_admin_served_cert.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/openssl_util.h"
#include "identity/pem.h"
#include "identity/status_macros.h"
#include "identity/unique_fd.h"

namespace mayfly::bridge {
namespace {

using UniqueSslCtx = identity::OpenSslPtr<SSL_CTX, SSL_CTX_free>;
using UniqueSsl = identity::OpenSslPtr<SSL, SSL_free>;

struct AddrInfoDeleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

absl::StatusOr<identity::UniqueFd> Connect(const std::string& address,
                                           absl::Duration timeout) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", address, "\" is not HOST:PORT"));
  }
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat(address, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, AddrInfoDeleter> list(found);
  const timeval tv = absl::ToTimeval(timeout);
  absl::Status last = absl::UnavailableError(address + ": no address");
  for (addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    identity::UniqueFd fd(socket(a->ai_family, a->ai_socktype, 0));
    if (!fd.valid()) continue;
    // On Linux SO_SNDTIMEO bounds connect(2) too.
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) return fd;
    last = identity::ErrnoError("connect", address);
  }
  return last;
}

}  // namespace

absl::StatusOr<std::string> ServedLeafDer(const std::string& address,
                                          const AdminSvid& svid,
                                          absl::Duration timeout) {
  UniqueSslCtx ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return identity::OpenSslError("SSL_CTX_new");
  // No verification: this only looks at what is served (see header).
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (SSL_CTX_use_certificate(ctx.get(), svid.chain.front().get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx.get(), svid.key.get()) != 1) {
    return identity::OpenSslError("loading the client SVID");
  }
  for (size_t i = 1; i < svid.chain.size(); ++i) {
    // add1: the context takes its own reference.
    if (SSL_CTX_add1_chain_cert(ctx.get(), svid.chain[i].get()) != 1) {
      return identity::OpenSslError("loading the client chain");
    }
  }
  ASSIGN_OR_RETURN(identity::UniqueFd fd, Connect(address, timeout));
  UniqueSsl ssl(SSL_new(ctx.get()));
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd.get()) != 1) {
    return identity::OpenSslError("SSL_new");
  }
  if (SSL_connect(ssl.get()) != 1) {
    return absl::UnavailableError(absl::StrCat(
        "TLS handshake with ", address, ": ", identity::DrainOpenSslErrors()));
  }
  identity::UniqueX509 leaf(SSL_get1_peer_certificate(ssl.get()));
  SSL_shutdown(ssl.get());
  if (leaf == nullptr) {
    return absl::UnavailableError(address + " served no certificate");
  }
  return identity::CertToDer(*leaf);
}

absl::StatusOr<std::string> FirstCertDer(const std::string& pem_path) {
  ASSIGN_OR_RETURN(std::string pem, identity::ReadFile(pem_path));
  absl::StatusOr<identity::CertChain> certs = identity::CertsFromPem(pem);
  if (!certs.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(pem_path, ": ", certs.status().message()));
  }
  return identity::CertToDer(*certs->front());
}

namespace {

std::string SerialOf(const std::string& der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  identity::UniqueX509 cert(
      d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert == nullptr) return "(unparsable)";
  identity::UniqueBignum bn(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
  if (bn == nullptr) return "(no serial)";
  char* hex = BN_bn2hex(bn.get());
  std::string out = hex != nullptr ? hex : "(no serial)";
  OPENSSL_free(hex);
  return out;
}

}  // namespace

absl::Status WaitUntilServed(
    const std::function<absl::StatusOr<std::string>()>& served,
    const std::function<absl::StatusOr<std::string>()>& expected, int matches,
    int attempts, const std::function<void()>& pause) {
  absl::Status last = absl::DeadlineExceededError("not asked");
  int in_a_row = 0;
  for (int i = 0; i < attempts; ++i) {
    // A match is checked again at once; a miss waits for the broker.
    if (i > 0 && in_a_row == 0) pause();
    absl::StatusOr<std::string> want = expected();
    absl::StatusOr<std::string> got =
        want.ok() ? served() : absl::StatusOr<std::string>(want.status());
    if (!got.ok()) {
      last = got.status();
      in_a_row = 0;
      continue;
    }
    if (*got == *want) {
      if (++in_a_row >= matches) return absl::OkStatus();
      continue;
    }
    in_a_row = 0;
    last = absl::FailedPreconditionError(absl::StrCat(
        "the broker still serves serial ", SerialOf(*got),
        ", not the keystore file's ", SerialOf(*want),
        ": it accepted the config but did not take the files (see its log "
        "for \"Validation of dynamic config update of SSLFactory failed\")"));
  }
  return last;
}

}  // namespace mayfly::bridge
