// `mayfly ca csr` and `mayfly ca sign`: how a mayfly-server replica gets an
// intermediate CA while the root stays on an admin machine.
//
// On the replica, `ca csr` makes the replica's own key (0600, written
// atomically) and a CSR naming only the trust domain; on the admin machine,
// `ca sign` certifies that key with the root. The replica's key never
// leaves it and the root never reaches it, so one replica's compromise
// exposes only its own intermediate, which expires.
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "identity/ca.h"
#include "identity/cli/command.h"
#include "identity/csr.h"
#include "identity/duration.h"
#include "identity/file_util.h"
#include "identity/keys.h"
#include "identity/pem.h"
#include "identity/root_rotation.h"
#include "identity/spiffe_id.h"

namespace mayfly::cli {
namespace {

using UniqueX509Req = identity::OpenSslPtr<X509_REQ, X509_REQ_free>;

// The default lifetime of a replica's intermediate: four days, the longest
// the agent's own intermediates may live (identity/agent/config.h), so a
// replica needs an admin's signature twice a week at most.
constexpr char kDefaultIntermediateTtl[] = "96h";

absl::StatusOr<std::string> CsrDerToPem(const std::string& der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  UniqueX509Req req(d2i_X509_REQ(nullptr, &in, static_cast<long>(der.size())));
  identity::UniqueBio bio(BIO_new(BIO_s_mem()));
  if (req == nullptr || bio == nullptr ||
      PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return identity::OpenSslError("encoding the CSR as PEM");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::StatusOr<std::string> CsrPemToDer(const std::string& pem,
                                        const std::string& path) {
  identity::UniqueBio bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  UniqueX509Req req(bio == nullptr ? nullptr
                                   : PEM_read_bio_X509_REQ(bio.get(), nullptr,
                                                           nullptr, nullptr));
  if (req == nullptr) {
    identity::DrainOpenSslErrors();
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no PEM CERTIFICATE REQUEST"));
  }
  const int len = i2d_X509_REQ(req.get(), nullptr);
  if (len <= 0) return identity::OpenSslError("encoding the CSR");
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  i2d_X509_REQ(req.get(), &out);
  return der;
}

int CaCsr(const std::vector<std::string>& args) {
  std::string trust_domain, key_out, out;
  FlagSet flags(
      "mayfly ca csr --trust-domain TD --key-out FILE --out FILE",
      "Makes a new intermediate key (P-256, mode 0600) for a mayfly-server "
      "replica\nand a CSR for it, naming spiffe://TD only; `mayfly ca sign` "
      "certifies it.");
  flags.String("trust-domain", &trust_domain, "The trust domain.");
  flags.String("key-out", &key_out,
               "Where to write the key (PKCS#8 PEM); must not exist.");
  flags.String("out", &out, "Where to write the CSR (PEM).");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (trust_domain.empty()) return MissingFlag(flags, "trust-domain");
  if (key_out.empty()) return MissingFlag(flags, "key-out");
  if (out.empty()) return MissingFlag(flags, "out");
  if (!positional.empty()) return Fail("ca csr takes no arguments", kExitUsage);
  auto td = identity::TrustDomain::FromString(trust_domain);
  if (!td.ok()) return Fail(std::string(td.status().message()), kExitUsage);
  if (access(key_out.c_str(), F_OK) == 0) {
    return Fail(absl::StrCat(key_out,
                             " exists; a replica's key is made once (remove "
                             "it first to replace it)"));
  }
  auto key = identity::GenerateKey(identity::KeyType::kEcP256);
  if (!key.ok()) return Fail(std::string(key.status().message()));
  auto id = identity::SpiffeId::FromString(td->IdString());
  auto csr = identity::MakeSvidCsrDer(**key, *id, {});
  auto key_pem = identity::PrivateKeyToPkcs8Pem(**key);
  if (!csr.ok() || !key_pem.ok()) {
    return Fail(
        std::string((!csr.ok() ? csr.status() : key_pem.status()).message()));
  }
  auto csr_pem = CsrDerToPem(*csr);
  if (!csr_pem.ok()) return Fail(std::string(csr_pem.status().message()));
  absl::Status written = identity::WriteFileAtomically(
      key_out, *key_pem, identity::kPrivateFileMode);
  if (written.ok()) {
    written =
        identity::WriteFileAtomically(out, *csr_pem, identity::kPublicFileMode);
  }
  if (!written.ok()) return Fail(std::string(written.message()));
  std::cout << "key written to " << key_out << " (0600), CSR for "
            << td->IdString() << " to " << out << "\n";
  return kExitOk;
}

int CaSign(const std::vector<std::string>& args) {
  std::string dir, csr_path, out, ttl = kDefaultIntermediateTtl;
  bool next = false;
  FlagSet flags(
      "mayfly ca sign --dir DIR --csr FILE --out FILE [--ttl 96h] [--next]",
      "Certifies a mayfly-server replica's intermediate key (from `mayfly ca "
      "csr`)\nwith the root in DIR. The certificate may sign leaves only "
      "(pathlen 0) and\nexpires with the root at the latest. With --next, "
      "the root a rotation\nprepared (`mayfly ca rotate`) signs instead: the "
      "replica switches to it\nonce its agents have that root "
      "(docs/server-admin.md).");
  flags.Bool("next", &next,
             "Sign with the prepared next root, not the current one.");
  flags.String("dir", &dir, "The CA directory (`mayfly ca init`).");
  flags.String("csr", &csr_path, "The replica's CSR (PEM).");
  flags.String("out", &out, "Where to write the certificate (PEM).");
  flags.String("ttl", &ttl, "The intermediate's lifetime.");
  std::vector<std::string> positional;
  if (auto code = ParseOrExit(flags, args, &positional)) return *code;
  if (dir.empty()) return MissingFlag(flags, "dir");
  if (csr_path.empty()) return MissingFlag(flags, "csr");
  if (out.empty()) return MissingFlag(flags, "out");
  if (!positional.empty())
    return Fail("ca sign takes no arguments", kExitUsage);
  auto lifetime = identity::ParseDuration(ttl);
  if (!lifetime.ok()) {
    return Fail("--ttl: " + std::string(lifetime.status().message()),
                kExitUsage);
  }
  auto pem = identity::ReadFile(csr_path, identity::kMaxCsrBytes * 2);
  if (!pem.ok()) return Fail(std::string(pem.status().message()));
  auto der = CsrPemToDer(*pem, csr_path);
  if (!der.ok()) return Fail(std::string(der.status().message()));
  auto ca =
      next ? identity::CertificateAuthority::LoadWithRoot(
                 dir, identity::kNextRootKeyFile, identity::kNextRootCertFile,
                 identity::RealClock())
           : identity::CertificateAuthority::Load(dir, identity::RealClock());
  if (!ca.ok()) {
    return Fail(
        absl::StrCat(ca.status().message(),
                     next && absl::IsNotFound(ca.status())
                         ? " (no prepared root: run `mayfly ca rotate` first)"
                         : ""));
  }
  auto cert = (*ca)->SignIntermediateCsr(*der, *lifetime);
  if (!cert.ok()) {
    return Fail(absl::StrCat(csr_path, ": ", cert.status().message()));
  }
  identity::CertChain chain;
  chain.push_back(std::move(*cert));
  absl::Status written = identity::WriteFileAtomically(
      out, identity::CertsToPem(chain), identity::kPublicFileMode);
  if (!written.ok()) return Fail(std::string(written.message()));
  std::cout << "intermediate for " << (*ca)->trust_domain().IdString()
            << " written to " << out << ", expires "
            << absl::FormatTime(identity::CertNotAfter(*chain.front())) << "\n";
  return kExitOk;
}

std::vector<Command> CaSignCommands() {
  return {{"ca csr", "Make a server replica's intermediate key and CSR", CaCsr},
          {"ca sign", "Certify a server replica's intermediate", CaSign}};
}

const CommandGroupRegistrar kRegistrar("ca", CaSignCommands);

}  // namespace
}  // namespace mayfly::cli
