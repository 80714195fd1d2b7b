// A Prometheus endpoint on a loopback port, shared by mayfly-agent and
// mayfly-server: GET /metrics answers with the text exposition format,
// anything else with 404. One connection at a time,
// each with a short deadline: a scraper is one client, and a stuck one must
// not hold the thread.
//
// Thread-safe: Start once, then the destructor stops it.
#ifndef MAYFLY_IDENTITY_METRICS_METRICS_SERVER_H_
#define MAYFLY_IDENTITY_METRICS_METRICS_SERVER_H_

#include <netinet/in.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace mayfly::metrics {

// "127.x.x.x:PORT" (PORT 0 included) as a socket address; InvalidArgument
// naming `address` for anything else, other hosts included.
absl::StatusOr<sockaddr_in> ParseLoopbackAddress(const std::string& address);

// What a config's metrics_address may be: empty (no endpoint) or an
// address Start accepts. InvalidArgument "want 127.x.x.x:PORT ..." else.
absl::Status CheckMetricsAddress(const std::string& address);

class MetricsServer {
 public:
  using Render = std::function<std::string()>;

  // `address` is "127.0.0.1:PORT" (PORT 0: the kernel picks; see port()).
  // Only loopback addresses are accepted.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& address, Render render);
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer(Render render) : render_(std::move(render)) {}
  void Loop();
  void Serve(int conn);

  const Render render_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// One sample line: `name{labels} value` with HELP and TYPE lines before it.
std::string PrometheusMetric(const std::string& name, const std::string& type,
                             const std::string& help, double value);

// A time as a gauge's value: Unix seconds, the convention of Prometheus's
// own `*_timestamp_seconds` metrics; 0 for an infinite time (none yet),
// which alert rules then treat as "not known".
double TimestampSeconds(absl::Time t);

}  // namespace mayfly::metrics

#endif  // MAYFLY_IDENTITY_METRICS_METRICS_SERVER_H_
