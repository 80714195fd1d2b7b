// KafkaIdentity: Configure's checks, and the interceptors that give each
// new handle a HandleContext (socket_hooks.h) and hold the identity for as
// long as a conf carries it. See kafka_identity.h and
// kafka/CLIENT_DESIGN.md 1.1-1.2.
#include "kafka/client/kafka_identity.h"

#include <cstdio>
#include <map>
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

// The interceptors' ic_opaque: one reference per conf that carries them,
// dropped by on_conf_destroy (rd_kafka_destroy destroys the handle's conf
// last, after its broker threads have ended).
using Holder = std::shared_ptr<KafkaIdentityImpl>;

rd_kafka_resp_err_t AddInterceptors(rd_kafka_conf_t* conf, Holder holder);

class KafkaIdentityImpl : public KafkaIdentity {
 public:
  explicit KafkaIdentityImpl(std::shared_ptr<const RelayEnv> env)
      : env_(std::move(env)) {}

  absl::Status VerifyHandle(rd_kafka_t* rk) const override {
    {
      absl::MutexLock lock(&mu_);
      if (handles_.find(rk) == handles_.end()) {
        return absl::FailedPreconditionError(
            "this rd_kafka_t was not made from a conf KafkaIdentity::Configure "
            "set up");
      }
    }
    return CheckHooks(rd_kafka_conf(rk));
  }

  ClientStats Stats() const override { return env_->counters->Snapshot(); }

  HandleContext* NewHandle(rd_kafka_t* rk) {
    absl::MutexLock lock(&mu_);
    auto& context = handles_[rk];
    context = std::make_unique<HandleContext>(env_);
    return context.get();
  }

  // FailedPrecondition unless `conf` holds our three socket hooks.
  static absl::Status CheckHooks(const rd_kafka_conf_t* conf);

 private:
  const std::shared_ptr<const RelayEnv> env_;
  mutable absl::Mutex mu_;
  // Kept until this object goes: a destroyed handle's contexts are idle.
  std::map<const rd_kafka_t*, std::unique_ptr<HandleContext>> handles_
      ABSL_GUARDED_BY(mu_);
};

rd_kafka_resp_err_t OnThreadStart(rd_kafka_t* /*rk*/,
                                  rd_kafka_thread_type_t type,
                                  const char* /*name*/, void* ic_opaque) {
  SetThreadHandle(type == RD_KAFKA_THREAD_BROKER
                      ? static_cast<HandleContext*>(ic_opaque)
                      : nullptr);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* conf,
                          void* ic_opaque, char* errstr, size_t errstr_size) {
  auto& impl = *static_cast<Holder*>(ic_opaque);
  if (absl::Status hooks = KafkaIdentityImpl::CheckHooks(conf); !hooks.ok()) {
    // librdkafka only logs this (interceptor.c:383-397); the socket hook
    // that replaced ours is not ours, and ours refuse any fd they did not
    // make, so nothing reaches a broker without the relay.
    std::snprintf(errstr, errstr_size, "%s",
                  std::string(hooks.message()).c_str());
    return RD_KAFKA_RESP_ERR__INVALID_ARG;
  }
  return rd_kafka_interceptor_add_on_thread_start(
      rk, kInterceptorName, OnThreadStart, impl->NewHandle(rk));
}

rd_kafka_resp_err_t OnConfDup(rd_kafka_conf_t* new_conf,
                              const rd_kafka_conf_t* /*old_conf*/,
                              size_t /*filter_cnt*/, const char** /*filter*/,
                              void* ic_opaque) {
  return AddInterceptors(new_conf, *static_cast<Holder*>(ic_opaque));
}

rd_kafka_resp_err_t OnConfDestroy(void* ic_opaque) {
  delete static_cast<Holder*>(ic_opaque);
  return RD_KAFKA_RESP_ERR_NO_ERROR;
}

rd_kafka_resp_err_t AddInterceptors(rd_kafka_conf_t* conf, Holder holder) {
  auto* opaque = new Holder(std::move(holder));
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
