// libFuzzer target for the Kafka frame splitter (frame.h).
//
// Input layout: byte 0 picks the direction (bit 0), a small frame cap
// (bit 1, so the fuzzer reaches the cap check with short inputs) and a seed
// for the chunk sizes (the other bits); the rest is the stream. The stream is
// fed whole and again in pseudo-random chunks of 1 to 16 bytes; both must
// give the same headers and the same error. abort()s on a broken invariant;
// crashes and sanitizer reports are failures too.
//
// Seeds: testdata/frame_fuzz/ (every Produce version, a mixed request stream,
// responses, and both with the small cap). Run with the others by
// tests/fuzz/run_fuzzers.sh, or alone:
//   bash tests/fuzz/run_fuzzers.sh 60 frame_fuzz
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kafka/client/internal/frame.h"

namespace mayfly::kafka::internal {
namespace {

void Check(bool condition) {
  if (!condition) abort();
}

struct Result {
  std::vector<FrameHeader> headers;
  absl::Status status;
  uint64_t frames_ended = 0;
};

// seed 0: the stream in one piece.
Result Run(FrameSplitter::Kind kind, int32_t cap, absl::string_view stream,
           uint32_t seed) {
  FrameSplitter splitter(kind, cap);
  Result result;
  // Each pass consumes at least one byte or stops: bounded by the size.
  while (!stream.empty()) {
    size_t piece = stream.size();
    if (seed != 0) {
      seed = seed * 1103515245u + 12345u;
      piece = std::min<size_t>(piece, 1 + (seed >> 16) % 16);
    }
    absl::string_view part = stream.substr(0, piece);
    while (!part.empty()) {
      absl::StatusOr<FrameChunk> chunk = splitter.Next(part);
      if (!chunk.ok()) {
        result.status = chunk.status();
        Check(result.status.code() == absl::StatusCode::kInvalidArgument);
        Check(result.status.message().size() < 512);
        // Sticky.
        Check(splitter.Next(part).status() == result.status);
        return result;
      }
      Check(chunk->length >= 1 && chunk->length <= part.size());
      if (chunk->header.has_value()) {
        const FrameHeader& h = *chunk->header;
        const bool requests = kind == FrameSplitter::Kind::kRequests;
        Check(h.size >= (requests ? kMinRequestSize : kMinResponseSize));
        Check(h.size <= cap);
        Check(h.acks.has_value() == (requests && h.api_key == kProduceApiKey));
        Check(h.expects_response == !(h.acks.has_value() && *h.acks == 0));
        result.headers.push_back(h);
      }
      if (chunk->ends_frame) {
        ++result.frames_ended;
        Check(splitter.AtBoundary());
        Check(result.frames_ended <= result.headers.size());
      }
      part.remove_prefix(chunk->length);
    }
    stream.remove_prefix(piece);
  }
  return result;
}

}  // namespace
}  // namespace mayfly::kafka::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using mayfly::kafka::internal::FrameSplitter;
  using mayfly::kafka::internal::Result;
  if (size == 0) return 0;
  const FrameSplitter::Kind kind = (data[0] & 1)
                                       ? FrameSplitter::Kind::kResponses
                                       : FrameSplitter::Kind::kRequests;
  const int32_t cap =
      (data[0] & 2) ? 256 : mayfly::kafka::internal::kDefaultMaxFrameSize;
  const absl::string_view stream(reinterpret_cast<const char*>(data) + 1,
                                 size - 1);
  const Result whole = mayfly::kafka::internal::Run(kind, cap, stream, 0);
  const Result chunked =
      mayfly::kafka::internal::Run(kind, cap, stream, (data[0] >> 2) + 1u);
  mayfly::kafka::internal::Check(whole.headers == chunked.headers);
  mayfly::kafka::internal::Check(whole.status == chunked.status);
  mayfly::kafka::internal::Check(whole.frames_ended == chunked.frames_ended);
  return 0;
}
