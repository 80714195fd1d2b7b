// One relayed librdkafka connection: see relay.h. The thread's body is
// RelayLoop (relay_loop.h).
#include "kafka/client/relay.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kafka/client/relay_loop.h"

namespace mayfly::kafka {

absl::StatusOr<std::unique_ptr<Relay>> Relay::Start(
    std::shared_ptr<const RelayEnv> env, identity::UniqueFd relay_end,
    HeldClient client, BrokerTarget target, uint64_t seed,
    RelayBudget::Slot slot) {
  std::unique_ptr<Relay> relay(new Relay());
  relay->wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  relay->cancel_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (relay->wake_fd_.get() < 0 || relay->cancel_fd_.get() < 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  relay->env_ = env;
  const int wake_fd = relay->wake_fd_.get();
  relay->feed_key_ = env->feed->Subscribe([wake_fd] { PokeEventFd(wake_fd); });
  Relay* raw = relay.get();
  absl::StatusOr<RelayThread> thread = env->start_thread(
      [raw, env, relay_end = std::move(relay_end), client = std::move(client),
       target = std::move(target), seed, slot = std::move(slot)]() mutable {
        {
          RelayLoop loop(*env, raw->wake_fd_.get(), raw->cancel_fd_.get(),
                         std::move(relay_end), std::move(client),
                         std::move(target), seed);
          loop.Run();
        }
        raw->done_ = true;
        // `slot` goes with the body, after the loop has let go of
        // everything it held.
      });
  if (!thread.ok()) return thread.status();
  relay->thread_ = *std::move(thread);
  return relay;
}

Relay::~Relay() {
  Stop();
  thread_.Join();
  if (env_ != nullptr) env_->feed->Unsubscribe(feed_key_);
}

void Relay::Stop() {
  if (cancel_fd_.get() >= 0) PokeEventFd(cancel_fd_.get());
}

}  // namespace mayfly::kafka
