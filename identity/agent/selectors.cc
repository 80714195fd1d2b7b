// Selector syntax: see selectors.h.
#include "identity/agent/selectors.h"

#include <cstdint>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mayfly::agent {
namespace {

constexpr size_t kSha256HexLength = 64;

absl::Status Invalid(absl::string_view text, absl::string_view rule) {
  return absl::InvalidArgumentError(
      absl::StrCat("selector \"", text, "\": ", rule));
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxUserNameLength || name[0] == '-') {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool last_dollar = c == '$' && i + 1 == name.size();
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-' &&
        !last_dollar) {
      return false;
    }
  }
  return true;
}

bool NormalPath(absl::string_view path) {
  if (path.empty() || path[0] != '/') return false;
  if (path.size() > 1 && path.back() == '/') return false;
  for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
    if (path.size() == 1) break;
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> CanonicalSelector(absl::string_view text) {
  const std::vector<absl::string_view> parts =
      absl::StrSplit(text, absl::MaxSplits(':', 2));
  if (parts.size() != 3) {
    return Invalid(text, "want TYPE:KIND:VALUE, e.g. unix:uid:1000");
  }
  const absl::string_view type = parts[0], kind = parts[1], value = parts[2];
  if (type != kUnixSelectorType) {
    return Invalid(text, absl::StrCat("unknown type \"", type,
                                      "\" (the agent attests \"unix\" only)"));
  }
  if (kind == "uid" || kind == "gid" || kind == "supplementary_gid") {
    uint32_t id = 0;
    if (value.empty() || !absl::c_all_of(value, absl::ascii_isdigit) ||
        !absl::SimpleAtoi(value, &id)) {
      return Invalid(text, absl::StrCat(kind,
                                        " must be a decimal number "
                                        "below 2^32"));
    }
    return absl::StrCat("unix:", kind, ":", id);
  }
  if (kind == "user" || kind == "group" || kind == "supplementary_group") {
    if (!ValidName(value)) {
      return Invalid(
          text,
          absl::StrCat(kind, " must be a name of 1 to ", kMaxUserNameLength,
                       " characters from [A-Za-z0-9._-], not starting "
                       "with '-'"));
    }
    return std::string(text);
  }
  if (kind == "path") {
    if (!NormalPath(value)) {
      return Invalid(text,
                     "path must be absolute and normal (no //, /./, /../ or "
                     "trailing /)");
    }
    return std::string(text);
  }
  if (kind == "sha256") {
    if (value.size() != kSha256HexLength ||
        !absl::c_all_of(value, absl::ascii_isxdigit)) {
      return Invalid(text, "sha256 must be 64 hex digits");
    }
    return absl::StrCat("unix:sha256:", absl::AsciiStrToLower(value));
  }
  return Invalid(
      text, absl::StrCat("unknown kind \"", kind,
                         "\" (want uid, user, gid, group, supplementary_gid, "
                         "supplementary_group, path or sha256)"));
}

}  // namespace mayfly::agent
