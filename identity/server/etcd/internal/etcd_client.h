// The gRPC side of EtcdKvStore: one channel and stubs per member, and the
// fail-over loop that every call goes through. Internal to
// identity/server/etcd; etcd_kv_store.h states the contract.
//
// Thread-safe: members are fixed at Create; the preferred member is an
// atomic index.
#ifndef MAYFLY_IDENTITY_SERVER_ETCD_INTERNAL_ETCD_CLIENT_H_
#define MAYFLY_IDENTITY_SERVER_ETCD_INTERNAL_ETCD_CLIENT_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "third_party/etcd/rpc.grpc.pb.h"

namespace mayfly::server::etcd_internal {

// etcd's metadata asking a member to refuse the call when it has no leader
// (etcd rpctypes.MetadataRequireLeaderKey / MetadataHasLeader).
inline constexpr char kHasLeaderKey[] = "hasleader";
inline constexpr char kHasLeaderValue[] = "true";
// The message of etcd's ErrGRPCNoLeader: the member refused the call before
// proposing anything.
inline constexpr char kNoLeaderMessage[] = "etcdserver: no leader";

struct Member {
  std::string endpoint;  // "host:port"
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

// When a failed call may go on to the next member.
enum class Retry {
  // Reads: after Unavailable or DeadlineExceeded.
  kIdempotent,
  // Writes: only if the member was not connected or answered "no leader".
  kIfNotApplied,
};

struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

class Client {
 public:
  // Validates as EtcdKvStore::Create documents.
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      const std::vector<std::string>& endpoints, const TlsFiles& tls,
      absl::Duration call_timeout);

  // Runs `call` with a fresh context (deadline, hasleader) on the preferred
  // member, then on the others as `retry` allows. `what` names the
  // operation in errors ("Range prefix \"/a/\""). Errors are prefixed with
  // "etcd ENDPOINT: WHAT: ".
  absl::Status Call(
      absl::string_view what, Retry retry,
      const std::function<grpc::Status(Member&, grpc::ClientContext&)>& call);

  // For a long-lived stream: hasleader, no deadline.
  static void PrepareStream(grpc::ClientContext& context);

  size_t size() const { return members_.size(); }
  // The member that answered last; calls start there.
  size_t preferred() const { return preferred_.load(); }
  // Member `i` modulo size().
  Member& member(size_t i) { return members_[i % members_.size()]; }
  // Makes member `i` (modulo size()) the preferred one: it just answered.
  void Prefer(size_t i) { preferred_.store(i % members_.size()); }

  std::string Describe() const;

 private:
  Client(std::vector<Member> members, bool tls, absl::Duration call_timeout);

  // True if `member` is connected or connects within the call timeout:
  // false means a call to it could not have been sent.
  bool Connected(Member& member);

  std::vector<Member> members_;
  bool tls_;
  absl::Duration call_timeout_;
  std::atomic<size_t> preferred_{0};
};

// A gRPC status as an absl::Status with the same code, "PREFIX: message".
absl::Status FromGrpc(const grpc::Status& status, absl::string_view prefix);

// The end of etcd's range of every key starting with `prefix` (the prefix
// with its last byte incremented, trailing 0xff bytes dropped); "\0" (all
// keys) for an empty prefix or one of only 0xff bytes.
std::string PrefixRangeEnd(const std::string& prefix);

// A key for an error message: quoted, C-escaped, cut at 64 bytes (with its
// length) so that a 4 KiB key does not swamp the message.
std::string QuoteKey(absl::string_view key);

}  // namespace mayfly::server::etcd_internal

#endif  // MAYFLY_IDENTITY_SERVER_ETCD_INTERNAL_ETCD_CLIENT_H_
