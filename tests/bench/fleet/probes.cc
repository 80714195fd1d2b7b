// Probes: see probes.h.
#include "tests/bench/fleet/probes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mayfly::bench {
namespace {

// An HTTP/1.0 GET on loopback: the whole response, headers included.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect to port ", port));
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
  if (write(fd, request.data(), request.size()) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return absl::UnavailableError("short write");
  }
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  if (n < 0) return absl::DeadlineExceededError("read timed out");
  return out;
}

}  // namespace

absl::StatusOr<std::map<std::string, double>> EtcdHandledByMethod(int port) {
  absl::StatusOr<std::string> body = HttpGet(port, "/metrics");
  if (!body.ok()) return body.status();
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(*body, '\n')) {
    if (!absl::StartsWith(line, "grpc_server_handled_total{")) continue;
    const size_t m = line.find("grpc_method=\"");
    const size_t close = line.rfind('}');
    if (m == absl::string_view::npos || close == absl::string_view::npos) {
      continue;
    }
    const size_t start = m + 13;
    const std::string method(line.substr(start, line.find('"', start) - start));
    double value = 0;
    if (!absl::SimpleAtod(line.substr(close + 1), &value)) continue;
    out[method] += value;
  }
  if (out.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no grpc_server_handled_total on port ", port));
  }
  return out;
}

double ProcCpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at 3.
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> fields =
      absl::StrSplit(text.substr(paren + 2), ' ', absl::SkipEmpty());
  // utime and stime are fields 14 and 15: here 11 and 12 (0-based).
  if (fields.size() < 13) return -1;
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::atof(fields[11].c_str()) + std::atof(fields[12].c_str())) / hz;
}

long ProcRssKb(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) return std::atol(line.c_str() + 6);
  }
  return -1;
}

}  // namespace mayfly::bench
