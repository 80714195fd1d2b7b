// FileKvStore: the store file's format, the atomic rewrite, and the watch
// dispatcher.
//
// File format (all integers little-endian):
//   "MAYFLYKV1\n"  revision:int64  count:uint32
//   count x { key_len:uint32 key  value_len:uint32 value  mod_revision:int64 }
//   "END\n"
// The trailer makes a truncated file (which rename-over never leaves, but a
// disk or an operator might) fail to load rather than load part of the keys.
#include "identity/server/file_kv_store.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

using identity::UniqueFd;

constexpr absl::string_view kMagic = "MAYFLYKV1\n";
constexpr absl::string_view kTrailer = "END\n";
// Large enough for kMaxKeys keys of typical size; refuses a wrong path.
constexpr size_t kMaxStoreFileBytes = size_t{1} << 30;

template <typename T>
void PutInt(std::string& out, T v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}
  template <typename T>
  bool Int(T& v) {
    if (data_.size() < sizeof(T)) return false;
    std::memcpy(&v, data_.data(), sizeof(T));
    data_.remove_prefix(sizeof(T));
    return true;
  }
  bool Bytes(std::string& out) {
    uint32_t len = 0;
    if (!Int(len) || data_.size() < len) return false;
    out.assign(data_.data(), len);
    data_.remove_prefix(len);
    return true;
  }
  bool Literal(absl::string_view lit) {
    if (!absl::StartsWith(data_, lit)) return false;
    data_.remove_prefix(lit.size());
    return true;
  }
  bool AtEnd() const { return data_.empty(); }

 private:
  absl::string_view data_;
};

}  // namespace

class FileKvStore::Handle : public WatchHandle {
 public:
  Handle(FileKvStore& store, int64_t id) : store_(store), id_(id) {}
  ~Handle() override { store_.Unwatch(id_); }

 private:
  FileKvStore& store_;
  const int64_t id_;
};

absl::StatusOr<std::unique_ptr<FileKvStore>> FileKvStore::Open(
    const std::string& state_dir) {
  RETURN_IF_ERROR(identity::EnsurePrivateDir(state_dir));
  UniqueFd lock(::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lock.valid()) return identity::ErrnoError("open", state_dir);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("state_dir ", state_dir,
                       " is locked by another mayfly-server (flock)"));
    }
    return identity::ErrnoError("flock", state_dir);
  }
  const std::string path = absl::StrCat(state_dir, "/", kStoreFile);
  std::map<std::string, Value> kvs;
  int64_t revision = 0;
  if (identity::PathExists(path)) {
    RETURN_IF_ERROR(identity::CheckTrustedFile(path, /*private_file=*/true));
    ASSIGN_OR_RETURN(std::string data,
                     identity::ReadFile(path, kMaxStoreFileBytes));
    Reader r(data);
    uint32_t count = 0;
    const auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a mayfly-server store file: ", what));
    };
    if (!r.Literal(kMagic)) return bad("bad magic");
    if (!r.Int(revision) || !r.Int(count) || revision < 0) {
      return bad("bad header");
    }
    if (count > kMaxKeys) return bad("too many keys");
    for (uint32_t i = 0; i < count; ++i) {
      std::string key;
      Value v;
      if (!r.Bytes(key) || !r.Bytes(v.value) || !r.Int(v.mod_revision)) {
        return bad(absl::StrCat("truncated at key ", i));
      }
      if (v.mod_revision <= 0 || v.mod_revision > revision) {
        return bad(absl::StrCat("key ", i, " has revision ", v.mod_revision));
      }
      kvs.emplace(std::move(key), std::move(v));
    }
    if (!r.Literal(kTrailer) || !r.AtEnd()) return bad("bad trailer");
  }
  return std::unique_ptr<FileKvStore>(
      new FileKvStore(state_dir, std::move(lock), std::move(kvs), revision));
}

FileKvStore::FileKvStore(std::string dir, UniqueFd lock,
                         std::map<std::string, Value> kvs, int64_t revision)
    : dir_(std::move(dir)),
      lock_(std::move(lock)),
      kvs_(std::move(kvs)),
      revision_(revision),
      oldest_watchable_(revision) {
  dispatcher_ = std::thread([this] { DispatchLoop(); });
  dispatcher_id_ = dispatcher_.get_id();
}

FileKvStore::~FileKvStore() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  dispatcher_.join();
}

std::string FileKvStore::Describe() const {
  return absl::StrCat("file ", dir_, "/", kStoreFile);
}

absl::StatusOr<RangeResult> FileKvStore::Range(const std::string& prefix,
                                               int64_t limit) {
  absl::MutexLock lock(&mu_);
  RangeResult result;
  result.revision = revision_;
  for (auto it = kvs_.lower_bound(prefix);
       it != kvs_.end() && absl::StartsWith(it->first, prefix); ++it) {
    if (static_cast<int64_t>(result.kvs.size()) >= limit) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", limit, " keys under ", prefix));
    }
    result.kvs.push_back(
        {it->first, it->second.value, it->second.mod_revision});
  }
  return result;
}

absl::StatusOr<KeyValue> FileKvStore::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = kvs_.find(key);
  if (it == kvs_.end()) return absl::NotFoundError(absl::StrCat(key));
  return KeyValue{key, it->second.value, it->second.mod_revision};
}

absl::StatusOr<TxnResult> FileKvStore::Txn(const std::vector<Compare>& compares,
                                           const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    if (op.key.empty() || op.key.size() > kMaxKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("key of ", op.key.size(), " bytes (1 to ", kMaxKeyBytes,
                       " allowed)"));
    }
    if (op.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("value of ", op.value.size(), " bytes for ", op.key,
                       " (at most ", kMaxValueBytes, ")"));
    }
  }
  absl::MutexLock lock(&mu_);
  for (const Compare& c : compares) {
    auto it = kvs_.find(c.key);
    const int64_t have = it == kvs_.end() ? 0 : it->second.mod_revision;
    if (have != c.mod_revision) return TxnResult{false, revision_};
  }
  std::map<std::string, Value> next = kvs_;
  std::vector<WatchEvent> events;
  const int64_t rev = revision_ + 1;
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kPut) {
      next[op.key] = Value{op.value, rev};
      events.push_back({WatchEvent::Kind::kPut, {op.key, op.value, rev}});
    } else if (next.erase(op.key) > 0) {
      events.push_back({WatchEvent::Kind::kDelete, {op.key, "", rev}});
    }
  }
  if (events.empty()) return TxnResult{true, revision_};
  if (next.size() > kMaxKeys) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the file store holds at most ", kMaxKeys, " keys"));
  }
  // Durable before visible: a reader never sees a write a crash would lose.
  RETURN_IF_ERROR(PersistLocked(next, rev));
  kvs_ = std::move(next);
  revision_ = rev;
  QueueLocked(rev, events);
  return TxnResult{true, rev};
}

absl::Status FileKvStore::PersistLocked(const std::map<std::string, Value>& kvs,
                                        int64_t revision) const {
  std::string out(kMagic.data(), kMagic.size());
  PutInt<int64_t>(out, revision);
  PutInt<uint32_t>(out, static_cast<uint32_t>(kvs.size()));
  for (const auto& [key, v] : kvs) {
    PutInt<uint32_t>(out, static_cast<uint32_t>(key.size()));
    out += key;
    PutInt<uint32_t>(out, static_cast<uint32_t>(v.value.size()));
    out += v.value;
    PutInt<int64_t>(out, v.mod_revision);
  }
  out.append(kTrailer.data(), kTrailer.size());
  return identity::WriteFileAtomically(absl::StrCat(dir_, "/", kStoreFile), out,
                                       identity::kPrivateFileMode);
}

void FileKvStore::QueueLocked(int64_t revision,
                              const std::vector<WatchEvent>& events) {
  history_.emplace_back(revision, events);
  if (history_.size() > kWatchHistory) {
    oldest_watchable_ = history_.front().first;
    history_.pop_front();
  }
  for (auto& [id, w] : watchers_) {
    WatchBatch batch;
    batch.revision = revision;
    for (const WatchEvent& e : events) {
      if (absl::StartsWith(e.kv.key, w->prefix)) batch.events.push_back(e);
    }
    // A write elsewhere is a progress notification: the watcher knows it
    // has seen everything up to `revision`.
    w->pending.push_back(std::move(batch));
  }
}

absl::StatusOr<std::unique_ptr<WatchHandle>> FileKvStore::Watch(
    const std::string& prefix, int64_t from_revision,
    std::function<void(const WatchBatch&)> callback) {
  absl::MutexLock lock(&mu_);
  auto w = std::make_shared<Watcher>();
  w->prefix = prefix;
  w->callback = std::move(callback);
  if (from_revision < oldest_watchable_) {
    WatchBatch batch;
    batch.status = absl::OutOfRangeError(
        absl::StrCat("revision ", from_revision, " is compacted (oldest ",
                     oldest_watchable_, ")"));
    batch.revision = revision_;
    w->pending.push_back(std::move(batch));
  } else {
    for (const auto& [rev, events] : history_) {
      if (rev <= from_revision) continue;
      WatchBatch batch;
      batch.revision = rev;
      for (const WatchEvent& e : events) {
        if (absl::StartsWith(e.kv.key, prefix)) batch.events.push_back(e);
      }
      if (!batch.events.empty()) w->pending.push_back(std::move(batch));
    }
  }
  const int64_t id = next_watcher_id_++;
  watchers_.emplace(id, std::move(w));
  return std::make_unique<Handle>(*this, id);
}

void FileKvStore::Unwatch(int64_t id) {
  absl::MutexLock lock(&mu_);
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  std::shared_ptr<Watcher> w = it->second;
  watchers_.erase(it);
  // From inside a callback the delivery in progress is this one.
  if (std::this_thread::get_id() == dispatcher_id_) return;
  mu_.Await(absl::Condition(
      +[](Watcher* w) { return !w->delivering; }, w.get()));
}

void FileKvStore::DispatchLoop() {
  absl::MutexLock lock(&mu_);
  while (true) {
    std::shared_ptr<Watcher> next;
    mu_.Await(absl::Condition(
        +[](FileKvStore* s) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          if (s->stopping_) return true;
          for (auto& [id, w] : s->watchers_) {
            if (!w->pending.empty()) return true;
          }
          return false;
        },
        this));
    if (stopping_) return;
    for (auto& [id, w] : watchers_) {
      if (!w->pending.empty()) {
        next = w;
        break;
      }
    }
    WatchBatch batch = std::move(next->pending.front());
    next->pending.pop_front();
    next->delivering = true;
    mu_.Unlock();
    next->callback(batch);
    mu_.Lock();
    next->delivering = false;
  }
}

}  // namespace mayfly::server
