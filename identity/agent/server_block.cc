// The `server:` block of the agent config: see internal/server_block.h.
#include "identity/agent/internal/server_block.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::agent::internal {
namespace {

// A SHA-256 digest in hex.
constexpr size_t kSha256HexLength = 64;

std::string Resolve(absl::string_view dir, absl::string_view path) {
  if (absl::StartsWith(path, "/") || dir.empty()) return std::string(path);
  return absl::StrCat(dir, "/", path);
}

// "host:port" or "[v6]:port", port 1-65535.
bool ValidAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return false;
  if (port < 1 || port > 65535) return false;
  const absl::string_view host = address.substr(0, colon);
  if (absl::StartsWith(host, "[")) return absl::EndsWith(host, "]");
  return host.find_first_of(" /[]") == absl::string_view::npos;
}

// A non-empty path, resolved.
absl::StatusOr<std::string> Path(const identity::YamlReader& r,
                                 const YAML::Node& node,
                                 absl::string_view field,
                                 absl::string_view base_dir) {
  ASSIGN_OR_RETURN(std::string path, r.String(node, field));
  if (path.empty()) return r.Error(node, field, "empty path");
  return Resolve(base_dir, path);
}

// The one key of `keys` that `node` holds; an error naming them otherwise.
absl::StatusOr<std::string> ExactlyOne(const identity::YamlReader& r,
                                       const YAML::Node& node,
                                       const std::vector<std::string>& keys) {
  std::string found;
  for (const std::string& key : keys) {
    if (!node[key]) continue;
    if (!found.empty()) {
      return r.Error(node[key], absl::StrCat("server.", key),
                     absl::StrCat("give only one of ", found, " and ", key));
    }
    found = key;
  }
  if (found.empty()) {
    std::string names;
    for (size_t i = 0; i < keys.size(); ++i) {
      absl::StrAppend(&names,
                      i == 0                 ? ""
                      : i + 1 == keys.size() ? " or "
                                             : ", ",
                      keys[i]);
    }
    return r.Error(node, "server", absl::StrCat("give one of ", names));
  }
  return found;
}

}  // namespace

absl::StatusOr<ServerConfig> ParseServerBlock(const identity::YamlReader& r,
                                              const YAML::Node& node,
                                              absl::string_view base_dir) {
  if (!node.IsMap()) return r.Error(node, "server", "must be a mapping");
  RETURN_IF_ERROR(r.CheckKeys(node, "server",
                              {"address", "bundle", "root_sha256", "join_token",
                               "join_token_file", "x509pop"}));
  ServerConfig server;
  if (!node["address"]) return r.Error(node, "server.address", "required");
  const YAML::Node address = node["address"];
  if (address.IsScalar()) {
    return r.Error(address, "server.address",
                   "must be a list of host:port (e.g. [ca1:8443])");
  }
  ASSIGN_OR_RETURN(auto addresses, r.Strings(address, "server.address"));
  if (addresses.empty()) {
    return r.Error(address, "server.address", "must name at least one server");
  }
  for (size_t i = 0; i < addresses.size(); ++i) {
    const auto& [item, text] = addresses[i];
    if (!ValidAddress(text)) {
      return r.Error(item, absl::StrCat("server.address[", i, "]"),
                     absl::StrCat("\"", text, "\" is not host:port"));
    }
    server.addresses.push_back(text);
  }

  ASSIGN_OR_RETURN(std::string trust,
                   ExactlyOne(r, node, {"bundle", "root_sha256"}));
  if (trust == "bundle") {
    ASSIGN_OR_RETURN(server.bundle_file,
                     Path(r, node["bundle"], "server.bundle", base_dir));
  } else {
    ASSIGN_OR_RETURN(std::string hex,
                     r.String(node["root_sha256"], "server.root_sha256"));
    hex = absl::AsciiStrToLower(hex);
    if (hex.size() != kSha256HexLength ||
        hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return r.Error(node["root_sha256"], "server.root_sha256",
                     "want the SHA-256 of the root's DER as 64 hex digits");
    }
    server.root_sha256 = std::move(hex);
  }

  ASSIGN_OR_RETURN(
      std::string how,
      ExactlyOne(r, node, {"join_token", "join_token_file", "x509pop"}));
  if (how == "join_token") {
    ASSIGN_OR_RETURN(server.join_token,
                     r.String(node["join_token"], "server.join_token"));
    if (server.join_token.empty()) {
      return r.Error(node["join_token"], "server.join_token", "empty token");
    }
  } else if (how == "join_token_file") {
    ASSIGN_OR_RETURN(
        server.join_token_file,
        Path(r, node["join_token_file"], "server.join_token_file", base_dir));
  } else {
    const YAML::Node pop = node["x509pop"];
    if (!pop.IsMap()) {
      return r.Error(pop, "server.x509pop", "want {cert: FILE, key: FILE}");
    }
    RETURN_IF_ERROR(r.CheckKeys(pop, "server.x509pop", {"cert", "key"}));
    for (const char* key : {"cert", "key"}) {
      if (!pop[key]) {
        return r.Error(pop, absl::StrCat("server.x509pop.", key), "required");
      }
    }
    ASSIGN_OR_RETURN(server.x509pop_cert,
                     Path(r, pop["cert"], "server.x509pop.cert", base_dir));
    ASSIGN_OR_RETURN(server.x509pop_key,
                     Path(r, pop["key"], "server.x509pop.key", base_dir));
  }
  return server;
}

}  // namespace mayfly::agent::internal
