// The YAML file entry store: see entry_store.h.
#include "identity/agent/entry_store.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::agent {

FileEntryStore::FileId FileEntryStore::Stat() const {
  struct stat st;
  if (stat(path_.c_str(), &st) != 0) return FileId{};
  return FileId{st.st_ino, st.st_size,
                st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
}

bool FileEntryStore::Changed() { return !(Stat() == loaded_); }

absl::StatusOr<std::vector<EntryConfig>> FileEntryStore::Load() {
  // Stat first: a write racing the read is seen as a change next time.
  const FileId id = Stat();
  std::vector<EntryConfig> entries;
  if (is_config_) {
    ASSIGN_OR_RETURN(AgentConfig config, LoadAgentConfig(path_));
    if (config.trust_domain != trust_domain_) {
      return absl::FailedPreconditionError(absl::StrCat(
          path_, ": trust_domain changed from \"", trust_domain_.name(),
          "\" to \"", config.trust_domain.name(),
          "\"; that takes a restart (and a new CA), not a reload"));
    }
    if (!config.entries_file.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat(path_, ": switching to entries_file takes a restart"));
    }
    entries = std::move(config.entries);
  } else {
    ASSIGN_OR_RETURN(entries, LoadEntries(path_));
    RETURN_IF_ERROR(CheckEntriesInTrustDomain(entries, trust_domain_));
  }
  loaded_ = id;
  return entries;
}

}  // namespace mayfly::agent
