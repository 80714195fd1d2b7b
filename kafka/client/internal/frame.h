// Incremental splitter for the two Kafka byte streams the relay carries.
//
// The relay streams bytes through (cut-through) and may switch upstream only
// at a frame boundary, so it must know where every frame starts and ends and
// which requests the broker will answer. It does not need the bodies.
//
// Request (client to broker), request header v1 or v2 (Kafka protocol guide,
// "Common Request and Response Structure"; librdkafka 2.0.2 rdkafka_buf.c:
// 128-176):
//   int32 size                 bytes after this field
//   int16 api_key, int16 api_version, int32 correlation_id
//   int16 client_id length (-1 = null), then the bytes: never compact, even
//                              in header v2
//   header v2 only (flexible versions): tagged fields, uvarint count then
//                              per field uvarint tag, uvarint size, bytes
// Response (broker to client): int32 size, int32 correlation_id, then (not
// read here) the v1 header's tagged fields and the body.
//
// Only Produce (api_key 0) with acks=0 gets no response (Kafka's
// ProduceRequest.json; librdkafka request.c:3508-3509 is the only place that
// sets RD_KAFKA_OP_F_NO_RESPONSE). Where acks sits in a Produce body
// (ProduceRequest.json, "flexibleVersions": "9+"; librdkafka
// msgset_writer.c:433-438, which sends at most v7, msgset_writer.c:48):
//   v0-v2  acks is the first body field
//   v3-v8  int16-length nullable transactional_id, then acks
//   v9+    header v2 (tagged fields), compact nullable transactional_id
//          (uvarint length+1, 0 = null), then acks
//
// Thread-compatible: one splitter per stream direction, used by one thread.
#ifndef MAYFLY_KAFKA_CLIENT_INTERNAL_FRAME_H_
#define MAYFLY_KAFKA_CLIENT_INTERNAL_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mayfly::kafka::internal {

// The 4-byte big-endian length prefix of every Kafka frame.
inline constexpr size_t kSizeFieldBytes = 4;
// api_key + api_version + correlation_id + client_id length: the smallest
// request header (v1 with a null client_id), Kafka protocol guide.
inline constexpr int32_t kMinRequestSize = 2 + 2 + 4 + 2;
// correlation_id: the smallest response header (v0).
inline constexpr int32_t kMinResponseSize = 4;
// Default cap on the size field: 100 MiB, the broker's default
// socket.request.max.bytes (104857600), above librdkafka's default
// receive.message.max.bytes (100000000, conf.c:420-428). Frames are streamed,
// not buffered, so the cap is not about memory: a size above it means the
// stream is out of step (garbage or a TLS record read as Kafka), and waiting
// for gigabytes that never come would hang the connection. A caller whose
// librdkafka conf raises message.max.bytes or receive.message.max.bytes
// passes its own cap.
inline constexpr int32_t kDefaultMaxFrameSize = 100 * 1024 * 1024;
// Most bytes of a request kept to parse its header and, for Produce, reach
// acks: two int16-length strings (client_id, transactional_id) are at most
// 2 * (2 + 32767) bytes; librdkafka sends no header tags (rdkafka_buf.c:173).
inline constexpr size_t kMaxParsedPrefix = 128 * 1024;

inline constexpr int16_t kProduceApiKey = 0;
// First Produce version with transactional_id (ProduceRequest.json "3+").
inline constexpr int16_t kProduceTransactionalIdVersion = 3;
// First flexible Produce version (ProduceRequest.json "flexibleVersions").
inline constexpr int16_t kProduceFlexibleVersion = 9;

// What the splitter learned from one frame's header.
struct FrameHeader {
  int32_t size = 0;  // the length prefix: bytes after it
  int32_t correlation_id = 0;
  // Requests only; zero for responses.
  int16_t api_key = 0;
  int16_t api_version = 0;
  // Produce requests only: the acks field.
  std::optional<int16_t> acks;
  // False only for a Produce request with acks=0. Always true for responses.
  bool expects_response = true;

  bool operator==(const FrameHeader& other) const;
};

// The result of one Next() call: a prefix of the input that never crosses a
// frame boundary.
struct FrameChunk {
  size_t length = 0;          // bytes of the input consumed
  bool starts_frame = false;  // its first byte is a frame's first byte
  bool ends_frame = false;    // its last byte is a frame's last byte
  // Set in the one chunk of each frame during which its header (for Produce:
  // up to acks) became known.
  std::optional<FrameHeader> header;
};

class FrameSplitter {
 public:
  enum class Kind { kRequests, kResponses };

  explicit FrameSplitter(Kind kind,
                         int32_t max_frame_size = kDefaultMaxFrameSize);

  // Consumes the longest prefix of `data` that stays inside the current
  // frame (at least one byte when `data` is not empty). Errors are
  // InvalidArgument and name what is wrong; after one, every call returns it
  // again (the stream cannot be resynchronised).
  absl::StatusOr<FrameChunk> Next(absl::string_view data);

  // Consumes all of `data`, appending the header of each frame whose header
  // became known to `headers`. Headers before an error are still appended.
  absl::Status Feed(absl::string_view data, std::vector<FrameHeader>* headers);

  // True between frames: no byte of an unfinished frame has been consumed.
  bool AtBoundary() const { return frame_consumed_ == 0; }
  Kind kind() const { return kind_; }

 private:
  // Parses prefix_ once it may hold the header; sets header_ or need_.
  absl::Status TryParse();
  absl::Status Fail(absl::Status status);

  Kind kind_;
  int32_t max_frame_size_;
  absl::Status error_;
  // Bytes of the current frame consumed so far, size field included.
  uint64_t frame_consumed_ = 0;
  // Total frame length (size field included) once the size is known.
  uint64_t frame_total_ = 0;
  // The frame's first bytes, kept until its header is parsed.
  std::string prefix_;
  // prefix_ must hold at least this many bytes before parsing can progress.
  size_t need_ = kSizeFieldBytes;
  bool header_done_ = false;
  // The parsed header, until Next() hands it out.
  FrameHeader pending_header_;
};

}  // namespace mayfly::kafka::internal

#endif  // MAYFLY_KAFKA_CLIENT_INTERNAL_FRAME_H_
