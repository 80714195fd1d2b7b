// EtcdKvStore: KvStore's operations as etcd v3 KV requests.
#include "identity/server/etcd/etcd_kv_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "identity/server/etcd/internal/etcd_client.h"
#include "identity/server/etcd/internal/etcd_watch.h"
#include "identity/status_macros.h"

namespace mayfly::server {
namespace {

using etcd_internal::Client;
using etcd_internal::Member;
using etcd_internal::QuoteKey;
using etcd_internal::Retry;

// Keys named in a Txn's errors; the rest are counted.
constexpr size_t kTxnKeysNamed = 3;

absl::Status CheckKey(absl::string_view what, absl::string_view key) {
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd: ", what, ": empty key"));
  }
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd: ", what, ": key ", QuoteKey(key), " is ",
                     key.size(), " bytes, over the limit of ", kMaxKeyBytes));
  }
  return absl::OkStatus();
}

// "Txn on \"a\", \"b\", \"c\" and 2 more keys": each key once, written
// ones first.
std::string DescribeTxn(const std::vector<Compare>& compares,
                        const std::vector<Op>& ops) {
  std::vector<const std::string*> keys;
  auto add = [&](const std::string& key) {
    for (const std::string* k : keys) {
      if (*k == key) return;
    }
    keys.push_back(&key);
  };
  for (const Op& op : ops) add(op.key);
  for (const Compare& c : compares) add(c.key);
  std::vector<std::string> named;
  for (size_t i = 0; i < keys.size() && i < kTxnKeysNamed; ++i) {
    named.push_back(QuoteKey(*keys[i]));
  }
  std::string what = absl::StrCat("Txn on ", absl::StrJoin(named, ", "));
  if (keys.size() > named.size()) {
    absl::StrAppend(&what, " and ", keys.size() - named.size(), " more keys");
  }
  return what;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdKvStore>> EtcdKvStore::Create(
    const Options& options) {
  ASSIGN_OR_RETURN(
      std::unique_ptr<Client> client,
      Client::Create(options.endpoints,
                     {options.ca_file, options.cert_file, options.key_file},
                     options.call_timeout));
  return std::unique_ptr<EtcdKvStore>(new EtcdKvStore(std::move(client)));
}

EtcdKvStore::EtcdKvStore(std::unique_ptr<Client> client)
    : client_(std::move(client)) {}

EtcdKvStore::~EtcdKvStore() = default;

std::string EtcdKvStore::Describe() const { return client_->Describe(); }

absl::StatusOr<RangeResult> EtcdKvStore::Range(const std::string& prefix,
                                               int64_t limit) {
  const std::string what = absl::StrCat("Range prefix ", QuoteKey(prefix));
  if (limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd: ", what, ": negative limit ", limit));
  }
  if (prefix.size() > kMaxKeyBytes) RETURN_IF_ERROR(CheckKey(what, prefix));
  etcdserverpb::RangeRequest request;
  // etcd wants a non-empty key; "\0" to "\0" is every key.
  request.set_key(prefix.empty() ? std::string(1, '\0') : prefix);
  request.set_range_end(etcd_internal::PrefixRangeEnd(prefix));
  // etcd reads limit 0 as "no limit"; asking for one key is enough to tell
  // whether any exists.
  request.set_limit(std::max<int64_t>(limit, 1));
  // serializable stays false: linearizable, through the leader's read index.
  etcdserverpb::RangeResponse response;
  RETURN_IF_ERROR(client_->Call(
      what, Retry::kIdempotent, [&](Member& m, grpc::ClientContext& context) {
        response.Clear();
        return m.kv->Range(&context, request, &response);
      }));
  if (response.more() || response.kvs_size() > limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat("etcd: ", what, ": ", response.count(),
                     " keys, more than the limit of ", limit));
  }
  RangeResult result;
  result.revision = response.header().revision();
  result.kvs.reserve(response.kvs_size());
  for (const mvccpb::KeyValue& kv : response.kvs()) {
    // etcd returns a range sorted by key (byte order) unless told otherwise.
    result.kvs.push_back(KeyValue{kv.key(), kv.value(), kv.mod_revision()});
  }
  return result;
}

absl::StatusOr<KeyValue> EtcdKvStore::Get(const std::string& key) {
  const std::string what = absl::StrCat("Get ", QuoteKey(key));
  RETURN_IF_ERROR(CheckKey("Get", key));
  etcdserverpb::RangeRequest request;
  request.set_key(key);
  etcdserverpb::RangeResponse response;
  RETURN_IF_ERROR(client_->Call(
      what, Retry::kIdempotent, [&](Member& m, grpc::ClientContext& context) {
        response.Clear();
        return m.kv->Range(&context, request, &response);
      }));
  if (response.kvs_size() == 0) {
    return absl::NotFoundError(absl::StrCat("etcd: ", what, ": not found"));
  }
  const mvccpb::KeyValue& kv = response.kvs(0);
  return KeyValue{kv.key(), kv.value(), kv.mod_revision()};
}

absl::StatusOr<TxnResult> EtcdKvStore::Txn(const std::vector<Compare>& compares,
                                           const std::vector<Op>& ops) {
  const std::string what = DescribeTxn(compares, ops);
  etcdserverpb::TxnRequest request;
  for (const Compare& c : compares) {
    RETURN_IF_ERROR(CheckKey("Txn compare", c.key));
    etcdserverpb::Compare& compare = *request.add_compare();
    compare.set_key(c.key);
    compare.set_result(etcdserverpb::Compare::EQUAL);
    if (c.mod_revision == 0) {
      // "Absent": a key that exists was created at some revision >= 1.
      compare.set_target(etcdserverpb::Compare::CREATE);
      compare.set_create_revision(0);
    } else {
      compare.set_target(etcdserverpb::Compare::MOD);
      compare.set_mod_revision(c.mod_revision);
    }
  }
  for (const Op& op : ops) {
    RETURN_IF_ERROR(CheckKey("Txn op", op.key));
    etcdserverpb::RequestOp& request_op = *request.add_success();
    if (op.kind == Op::Kind::kDelete) {
      request_op.mutable_request_delete_range()->set_key(op.key);
      continue;
    }
    if (op.value.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "etcd: Txn op: value of key ", QuoteKey(op.key), " is ",
          op.value.size(), " bytes, over the limit of ", kMaxValueBytes));
    }
    etcdserverpb::PutRequest& put = *request_op.mutable_request_put();
    put.set_key(op.key);
    put.set_value(op.value);
  }
  etcdserverpb::TxnResponse response;
  RETURN_IF_ERROR(client_->Call(
      what, Retry::kIfNotApplied, [&](Member& m, grpc::ClientContext& context) {
        response.Clear();
        return m.kv->Txn(&context, request, &response);
      }));
  return TxnResult{response.succeeded(), response.header().revision()};
}

absl::StatusOr<std::unique_ptr<WatchHandle>> EtcdKvStore::Watch(
    const std::string& prefix, int64_t from_revision,
    std::function<void(const WatchBatch&)> callback) {
  const std::string what = absl::StrCat("Watch prefix ", QuoteKey(prefix));
  if (prefix.size() > kMaxKeyBytes) RETURN_IF_ERROR(CheckKey(what, prefix));
  if (from_revision < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd: ", what, ": negative from_revision ", from_revision));
  }
  if (!callback) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd: ", what, ": no callback"));
  }
  return std::unique_ptr<WatchHandle>(etcd_internal::EtcdWatch::Start(
      *client_, prefix, from_revision, std::move(callback)));
}

}  // namespace mayfly::server
