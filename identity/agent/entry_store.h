// Where registration entries come from.
//
// The agent asks its store for the whole entry list and whether it changed.
// The default store is a YAML file (the agent's config itself, or the file
// its `entries_file` names); a store shared by many nodes (etcd) implements
// the same interface. A store that fails to load keeps the agent on the
// entries it has: Load's error is logged and nothing is replaced.
//
// Implementations are thread-compatible: the agent calls them from one
// thread.
#ifndef MAYFLY_IDENTITY_AGENT_ENTRY_STORE_H_
#define MAYFLY_IDENTITY_AGENT_ENTRY_STORE_H_

#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "identity/agent/config.h"
#include "identity/spiffe_id.h"

namespace mayfly::agent {

class EntryStore {
 public:
  virtual ~EntryStore() = default;
  // Where the entries come from, for logs.
  virtual std::string Describe() const = 0;
  // True if the entries may have changed since the last Load.
  virtual bool Changed() = 0;
  // The whole current list, validated.
  virtual absl::StatusOr<std::vector<EntryConfig>> Load() = 0;
};

// Entries in a YAML file: `entries:` of the agent config (`is_config`) or of
// an entries file. Changes are seen by polling the file's identity (inode,
// size, mtime), which also catches an editor's or a deploy tool's atomic
// rename.
class FileEntryStore : public EntryStore {
 public:
  FileEntryStore(std::string path, bool is_config,
                 identity::TrustDomain trust_domain)
      : path_(std::move(path)),
        is_config_(is_config),
        trust_domain_(std::move(trust_domain)) {}

  std::string Describe() const override { return path_; }
  bool Changed() override;
  absl::StatusOr<std::vector<EntryConfig>> Load() override;

 private:
  struct FileId {
    ino_t inode = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileId& o) const {
      return inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
    }
  };
  FileId Stat() const;

  const std::string path_;
  const bool is_config_;
  const identity::TrustDomain trust_domain_;
  FileId loaded_;
};

// Entries fixed at start (the embedded default config): never change.
class StaticEntryStore : public EntryStore {
 public:
  explicit StaticEntryStore(std::vector<EntryConfig> entries)
      : entries_(std::move(entries)) {}
  std::string Describe() const override { return "the embedded config"; }
  bool Changed() override { return false; }
  absl::StatusOr<std::vector<EntryConfig>> Load() override { return entries_; }

 private:
  const std::vector<EntryConfig> entries_;
};

}  // namespace mayfly::agent

#endif  // MAYFLY_IDENTITY_AGENT_ENTRY_STORE_H_
