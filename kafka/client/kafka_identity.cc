// KafkaIdentity: Configure's checks, and the interceptors that give each
// new handle a HandleContext (socket_hooks.h) and hold the identity for as
// long as a conf carries it. See kafka_identity.h and
// kafka/CLIENT_DESIGN.md 1.1-1.2.
#include "kafka/client/kafka_identity.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "kafka/client/client_counters.h"
#include "kafka/client/relay.h"
#include "kafka/client/socket_hooks.h"
#include "kafka/client/svid_feed.h"

namespace mayfly::kafka {
namespace {

constexpr char kInterceptorName[] = "mayfly.kafka_identity";

class KafkaIdentityImpl;

// The interceptors' ic_opaque, one per conf that carries them, deleted by
// on_conf_destroy. rd_kafka_new struct-copies the application's conf into
// the handle (rdkafka.c:2192), so the slot of the conf a handle was made
// from becomes that handle's own: its HandleContext lives exactly as long
// as the handle's conf, which rd_kafka_destroy destroys last, after the
// broker threads that use the context have ended (rdkafka.c:995) and
// before the handle's memory is freed (rdkafka.c:1001).
struct ConfSlot {
  std::shared_ptr<KafkaIdentityImpl> identity;
  // Made by on_new; null for a conf no handle was made from yet.
  std::unique_ptr<HandleContext> handle;
};

rd_kafka_resp_err_t AddInterceptors(
    rd_kafka_conf_t* conf, std::shared_ptr<KafkaIdentityImpl> identity);

class KafkaIdentityImpl : public KafkaIdentity {
 public:
  explicit KafkaIdentityImpl(std::shared_ptr<const RelayEnv> env)
      : env_(std::move(env)) {}

  absl::Status VerifyHandle(rd_kafka_t* rk) const override {
    {
      absl::MutexLock lock(&mu_);
      if (live_.find(rk) == live_.end()) {
        return absl::FailedPreconditionError(
            "this rd_kafka_t was not made from a conf KafkaIdentity::Configure "
            "set up");
      }
    }
    return CheckHooks(rd_kafka_conf(rk));
  }

  ClientStats Stats() const override { return env_->counters->Snapshot(); }

  const std::shared_ptr<const RelayEnv>& env() const { return env_; }

  // on_new: `rk` is live from now until Forget(rk).
  void Remember(const rd_kafka_t* rk) {
    absl::MutexLock lock(&mu_);
    live_.insert(rk);
  }
  // on_destroy, which every rd_kafka_destroy and every failed rd_kafka_new
  // after on_new calls before the handle's memory is freed
  // (rdkafka.c:1161, 2595): a later handle at the same address is never
  // taken for this one.
  void Forget(const rd_kafka_t* rk) {
    absl::MutexLock lock(&mu_);
    live_.erase(rk);
  }

  // FailedPrecondition unless `conf` holds our three socket hooks.
  static absl::Status CheckHooks(const rd_kafka_conf_t* conf);

 private:
  const std::shared_ptr<const RelayEnv> env_;
  mutable absl::Mutex mu_;
  // Handles made from a conf this object configured, not yet destroyed.
  std::set<const rd_kafka_t*> live_ ABSL_GUARDED_BY(mu_);
};

rd_kafka_resp_err_t OnThreadStart(rd_kafka_t* /*rk*/,
                                  rd_kafka_thread_type_t type,
                                  const char* /*name*/, void* ic_opaque) {
  SetThreadHandle(type == RD_KAFKA_THREAD_BROKER
                      ? static_cast<HandleContext*>(ic_opaque)
                      : nullptr);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnDestroy(rd_kafka_t* rk, void* ic_opaque) {
  static_cast<KafkaIdentityImpl*>(ic_opaque)->Forget(rk);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

// socket_cb and connect_cb of a handle whose conf lost our hooks: nothing
// connects, so no byte leaves in plaintext.
int RefusingSocket(int /*domain*/, int /*type*/, int /*protocol*/,
                   void* /*opaque*/) {
  errno = EPERM;
  return -1;
}
int RefusingConnect(int /*fd*/, const sockaddr* /*addr*/, int /*addr_len*/,
                    const char* /*name*/, void* /*opaque*/) {
  return EPERM;
}
int PlainClose(int fd, void* /*opaque*/) { return ::close(fd); }

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* conf,
                          void* ic_opaque, char* errstr, size_t errstr_size) {
  auto& slot = *static_cast<ConfSlot*>(ic_opaque);
  slot.identity->Remember(rk);
  rd_kafka_resp_err_t err = rd_kafka_interceptor_add_on_destroy(
      rk, kInterceptorName, OnDestroy, slot.identity.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) slot.identity->Forget(rk);
  absl::Status hooks = KafkaIdentityImpl::CheckHooks(conf);
  if (hooks.ok() && err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    // A failed rd_kafka_new leaves the application its conf
    // (rdkafka.c:2598-2606) after on_new: a retry replaces that handle's
    // context, whose broker threads have been joined.
    slot.handle = std::make_unique<HandleContext>(slot.identity->env());
    err = rd_kafka_interceptor_add_on_thread_start(
        rk, kInterceptorName, OnThreadStart, slot.handle.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  }
  // Either the application replaced our hooks after Configure, or the
  // handle cannot tell its broker threads apart. librdkafka only logs an
  // on_new error (interceptor.c:383-397) and would connect through the
  // replacements in plaintext. `conf` is the handle's own copy
  // (rdkafka.c:2192, 2206), read by its broker threads at each connect
  // (transport.c:1119, 1142), none of them started yet (rdkafka.c:
  // 2469-2502): hooks that refuse every connection make the handle fail
  // closed. Its connects fail like refused ones ("Operation not
  // permitted"), and VerifyHandle says why.
  auto* own = const_cast<rd_kafka_conf_t*>(conf);
  rd_kafka_conf_set_socket_cb(own, RefusingSocket);
  rd_kafka_conf_set_connect_cb(own, RefusingConnect);
  rd_kafka_conf_set_closesocket_cb(own, PlainClose);
  std::snprintf(errstr, errstr_size,
                "%s; every broker connection of this handle is refused",
                hooks.ok() ? rd_kafka_err2str(err)
                           : std::string(hooks.message()).c_str());
  return RD_KAFKA_RESP_ERR__INVALID_ARG;
}

rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* new_conf,
                              const rd_kafka_conf_t* /*old_conf*/,
                              size_t /*filter_cnt*/, const char** /*filter*/,
                              void* ic_opaque) {
  return AddInterceptors(new_conf, static_cast<ConfSlot*>(ic_opaque)->identity);
}

rd_kafka_resp_err_t OnConfDestroy(void* ic_opaque) {
  delete static_cast<ConfSlot*>(ic_opaque);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t AddInterceptors(
    rd_kafka_conf_t* conf, std::shared_ptr<KafkaIdentityImpl> identity) {
  auto* opaque = new ConfSlot{std::move(identity), nullptr};
  // on_conf_destroy first: once it is registered the conf owns `opaque`.
  rd_kafka_resp_err_t err = rd_kafka_conf_interceptor_add_on_conf_destroy(
      conf, kInterceptorName, OnConfDestroy, opaque);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    delete opaque;
    return err;
  }
  err = rd_kafka_conf_interceptor_add_on_conf_dup(conf, kInterceptorName,
                                                  OnConfDup, opaque);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  return rd_kafka_conf_interceptor_add_on_new(conf, kInterceptorName, OnNew,
                                              opaque);
}

// `name`'s value in `conf` as rd_kafka_conf_get prints it.
std::string ConfValue(const rd_kafka_conf_t* conf, const char* name) {
  char value[512];
  size_t size = sizeof(value);
  if (rd_kafka_conf_get(conf, name, value, &size) != RD_KAFKA_CONF_OK) {
    return "";
  }
  return value;
}

absl::Status KafkaIdentityImpl::CheckHooks(const rd_kafka_conf_t* conf) {
  rd_kafka_conf_t* ours = rd_kafka_conf_new();
  rd_kafka_conf_set_socket_cb(ours, SocketHook);
  rd_kafka_conf_set_connect_cb(ours, ConnectHook);
  rd_kafka_conf_set_closesocket_cb(ours, CloseSocketHook);
  absl::Status status;
  for (const char* hook : {"socket_cb", "connect_cb", "closesocket_cb"}) {
    if (ConfValue(conf, hook) != ConfValue(ours, hook)) {
      status = absl::FailedPreconditionError(absl::StrCat(
          "the conf's ", hook,
          " is no longer KafkaIdentity's: it was replaced after Configure"));
      break;
    }
  }
  rd_kafka_conf_destroy(ours);
  return status;
}

// InvalidArgument naming the first property of `conf` that would let a
// connection bypass the relay or that the relay cannot honour.
absl::Status CheckConf(const rd_kafka_conf_t* conf) {
  rd_kafka_conf_t* defaults = rd_kafka_conf_new();
  std::map<std::string, std::string> default_values;
  size_t count = 0;
  const char** dump = rd_kafka_conf_dump(defaults, &count);
  for (size_t i = 0; i + 1 < count; i += 2) {
    default_values[dump[i]] = dump[i + 1];
  }
  rd_kafka_conf_dump_free(dump, count);
  rd_kafka_conf_destroy(defaults);

  const std::string protocol = ConfValue(conf, "security.protocol");
  if (protocol != "plaintext") {
    return absl::InvalidArgumentError(
        absl::StrCat("security.protocol is \"", protocol,
                     "\": KafkaIdentity does the TLS itself; leave it unset"));
  }
  dump = rd_kafka_conf_dump(const_cast<rd_kafka_conf_t*>(conf), &count);
  absl::Status status;
  for (size_t i = 0; i + 1 < count && status.ok(); i += 2) {
    const absl::string_view name = dump[i];
    const bool tls =
        absl::StartsWith(name, "ssl") || absl::StartsWith(name, "sasl");
    const bool hook =
        name == "socket_cb" || name == "connect_cb" || name == "closesocket_cb";
    if (!tls && !hook) continue;
    auto it = default_values.find(std::string(name));
    if (it != default_values.end() && it->second == dump[i + 1]) continue;
    status = absl::InvalidArgumentError(absl::StrCat(
        name, " is set: KafkaIdentity presents the SVID and checks the ",
        "broker itself", hook ? ", through its own socket hooks" : "",
        "; remove it"));
  }
  rd_kafka_conf_dump_free(dump, count);
  return status;
}

absl::Status Set(rd_kafka_conf_t* conf, const char* name, const char* value) {
  char error[512];
  if (rd_kafka_conf_set(conf, name, value, error, sizeof(error)) !=
      RD_KAFKA_CONF_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting ", name, "=", value, ": ", error));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<KafkaIdentity>> KafkaIdentity::Configure(
    rd_kafka_conf_t* conf, ClientOptions options) {
  if (conf == nullptr) return absl::InvalidArgumentError("conf is null");
  if (options.source == nullptr) {
    return absl::InvalidArgumentError("ClientOptions.source is required");
  }
  // No default broker identity: every SVID carries serverAuth, so "any ID
  // of my trust domain" would take any workload for a broker.
  if (options.broker_policy.brokers.empty()) {
    return absl::InvalidArgumentError(
        "ClientOptions.broker_policy.brokers is required: the SPIFFE IDs "
        "(patterns) the brokers present, like spiffe://prod.acme/kafka/*");
  }
  if (absl::Status policy = options.rotation.Validate(); !policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ClientOptions.rotation: ", policy.message()));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ClientOptions.connect_timeout must be positive");
  }
  if (options.max_connections <= 0 || options.max_buffered_bytes <= 0) {
    return absl::InvalidArgumentError(
        "ClientOptions.max_connections and max_buffered_bytes must be "
        "positive");
  }
  if (absl::Status status = CheckConf(conf); !status.ok()) return status;
  const identity::Clock* clock =
      options.clock != nullptr ? options.clock : &identity::RealClock();

  auto env = std::make_shared<RelayEnv>();
  env->feed = std::make_shared<SvidFeed>(options.source, *clock);
  env->clock = clock;
  env->broker_policy = std::move(options.broker_policy);
  env->rotation = options.rotation;
  env->connect_timeout = options.connect_timeout;
  env->connect_to = std::move(options.connect_to);
  env->counters = std::make_shared<ClientCounters>();
  env->log_sink = options.log_sink;
  env->max_connections = options.max_connections;
  env->max_buffered_bytes = options.max_buffered_bytes;

  // The relay sets TCP_NODELAY on the real socket; on the socketpair it
  // fails and librdkafka would warn at each connect (CLIENT_DESIGN.md 1.1).
  for (const auto& [name, value] :
       {std::pair<const char*, const char*>{"security.protocol", "plaintext"},
        {"socket.nagle.disable", "false"},
        {"api.version.request", "true"},
        {"api.version.fallback.ms", "0"}}) {
    if (absl::Status status = Set(conf, name, value); !status.ok()) {
      return status;
    }
  }
  auto identity = std::make_shared<KafkaIdentityImpl>(std::move(env));
  if (const rd_kafka_resp_err_t err = AddInterceptors(conf, identity);
      err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat(
        "adding KafkaIdentity's interceptors: ", rd_kafka_err2str(err),
        " (was Configure called twice on this conf?)"));
  }
  rd_kafka_conf_set_socket_cb(conf, SocketHook);
  rd_kafka_conf_set_connect_cb(conf, ConnectHook);
  rd_kafka_conf_set_closesocket_cb(conf, CloseSocketHook);
  return identity;
}

}  // namespace mayfly::kafka
