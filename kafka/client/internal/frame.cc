// Kafka frame splitting: the header parser and the incremental driver.
#include "kafka/client/internal/frame.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "identity/status_macros.h"

namespace mayfly::kafka::internal {
namespace {

// Bytes buffered beyond what the parser last asked for: a Produce header
// with short strings fits, and a header of many tiny tagged fields is parsed
// in passes of this size rather than one pass per field.
constexpr size_t kParseLookahead = 256;

// A uvarint (KIP-482 compact lengths, tag counts) of a 32-bit value takes at
// most 5 bytes.
constexpr int kMaxUvarintBytes = 5;

// Reads fields of one frame from its buffered prefix. A read that needs bytes
// beyond the frame's end is a truncated header; one that needs bytes not yet
// buffered reports how many the prefix must hold.
class Reader {
 public:
  enum class Result { kOk, kNeedMore, kPastFrame, kMalformed };

  Reader(absl::string_view buffered, size_t frame_total)
      : buffered_(buffered), frame_total_(frame_total) {}

  Result Bytes(size_t n, absl::string_view* out) {
    if (n > frame_total_ - pos_) return Result::kPastFrame;
    if (n > buffered_.size() - pos_) {
      need_ = pos_ + n;
      return Result::kNeedMore;
    }
    if (out != nullptr) *out = buffered_.substr(pos_, n);
    pos_ += n;
    return Result::kOk;
  }

  Result Int16(int16_t* out) {
    absl::string_view b;
    const Result r = Bytes(2, &b);
    if (r != Result::kOk) return r;
    *out = static_cast<int16_t>((static_cast<uint8_t>(b[0]) << 8) |
                                static_cast<uint8_t>(b[1]));
    return r;
  }

  Result Int32(int32_t* out) {
    absl::string_view b;
    const Result r = Bytes(4, &b);
    if (r != Result::kOk) return r;
    uint32_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<uint8_t>(c);
    *out = static_cast<int32_t>(v);
    return r;
  }

  Result Uvarint(uint32_t* out) {
    uint64_t v = 0;
    for (int i = 0; i < kMaxUvarintBytes; ++i) {
      absl::string_view b;
      const Result r = Bytes(1, &b);
      if (r != Result::kOk) return r;
      const uint8_t byte = static_cast<uint8_t>(b[0]);
      v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        if (v > UINT32_MAX) return Result::kMalformed;
        *out = static_cast<uint32_t>(v);
        return Result::kOk;
      }
    }
    return Result::kMalformed;
  }

  // An int16-length nullable string (-1 = null), skipped.
  Result SkipString() {
    int16_t length = 0;
    const Result r = Int16(&length);
    if (r != Result::kOk) return r;
    if (length < -1) return Result::kMalformed;
    return length < 0 ? Result::kOk : Bytes(length, nullptr);
  }

  // A compact nullable string (uvarint length+1, 0 = null), skipped.
  Result SkipCompactString() {
    uint32_t length_plus_one = 0;
    const Result r = Uvarint(&length_plus_one);
    if (r != Result::kOk) return r;
    return length_plus_one == 0 ? Result::kOk
                                : Bytes(length_plus_one - 1, nullptr);
  }

  // A tagged-field section (KIP-482), skipped. Each field takes at least two
  // bytes, so the loop ends within the frame.
  Result SkipTaggedFields() {
    uint32_t count = 0;
    Result r = Uvarint(&count);
    for (uint32_t i = 0; r == Result::kOk && i < count; ++i) {
      uint32_t tag = 0, size = 0;
      r = Uvarint(&tag);
      if (r == Result::kOk) r = Uvarint(&size);
      if (r == Result::kOk) r = Bytes(size, nullptr);
    }
    return r;
  }

  size_t need() const { return need_; }

 private:
  absl::string_view buffered_;
  size_t frame_total_;
  size_t pos_ = kSizeFieldBytes;
  size_t need_ = 0;
};

const char* KindName(FrameSplitter::Kind kind) {
  return kind == FrameSplitter::Kind::kRequests ? "request" : "response";
}

}  // namespace

bool FrameHeader::operator==(const FrameHeader& other) const {
  return size == other.size && correlation_id == other.correlation_id &&
         api_key == other.api_key && api_version == other.api_version &&
         acks == other.acks && expects_response == other.expects_response;
}

FrameSplitter::FrameSplitter(Kind kind, int32_t max_frame_size)
    : kind_(kind), max_frame_size_(max_frame_size) {}

absl::Status FrameSplitter::Fail(absl::Status status) {
  error_ = std::move(status);
  return error_;
}

absl::Status FrameSplitter::TryParse() {
  // The size field first: it bounds every other read.
  int32_t size = 0;
  for (size_t i = 0; i < kSizeFieldBytes; ++i) {
    size = static_cast<int32_t>((static_cast<uint32_t>(size) << 8) |
                                static_cast<uint8_t>(prefix_[i]));
  }
  const bool requests = kind_ == Kind::kRequests;
  const int32_t min_size = requests ? kMinRequestSize : kMinResponseSize;
  if (size < min_size) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "Kafka ", KindName(kind_), " frame: size ", size, " is below the ",
        min_size, "-byte ", KindName(kind_), " header")));
  }
  if (size > max_frame_size_) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "Kafka ", KindName(kind_), " frame: size ", size,
        " is above the cap of ", max_frame_size_,
        " bytes (the stream is out of step, or the cap is "
        "below the client's message.max.bytes/receive.message.max.bytes)")));
  }
  frame_total_ = kSizeFieldBytes + static_cast<uint64_t>(size);

  FrameHeader header;
  header.size = size;
  Reader reader(prefix_, frame_total_);
  using R = Reader::Result;
  R r = R::kOk;
  const char* where = "header";
  if (requests) {
    r = reader.Int16(&header.api_key);
    if (r == R::kOk) r = reader.Int16(&header.api_version);
    if (r == R::kOk) r = reader.Int32(&header.correlation_id);
    if (r == R::kOk) r = reader.SkipString();  // client_id, never compact
    if (r == R::kOk && header.api_key == kProduceApiKey) {
      where = "Produce acks";
      const int16_t v = header.api_version;
      if (v < 0) {
        return Fail(absl::InvalidArgumentError(absl::StrCat(
            "Kafka request frame: Produce api_version ", v, " is negative")));
      }
      if (v >= kProduceFlexibleVersion) {
        r = reader.SkipTaggedFields();                    // request header v2
        if (r == R::kOk) r = reader.SkipCompactString();  // transactional_id
      } else if (v >= kProduceTransactionalIdVersion) {
        r = reader.SkipString();  // transactional_id
      }
      int16_t acks = 0;
      if (r == R::kOk) r = reader.Int16(&acks);
      if (r == R::kOk) {
        header.acks = acks;
        header.expects_response = acks != 0;
      }
    }
  } else {
    r = reader.Int32(&header.correlation_id);
  }

  switch (r) {
    case R::kOk:
      header_done_ = true;
      pending_header_ = header;
      return absl::OkStatus();
    case R::kNeedMore:
      if (reader.need() > kMaxParsedPrefix) {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("Kafka ", KindName(kind_), " frame: the ", where,
                         " needs ", reader.need(), " bytes, more than the ",
                         kMaxParsedPrefix, " this parser keeps")));
      }
      need_ = reader.need();
      return absl::OkStatus();
    case R::kPastFrame:
      return Fail(absl::InvalidArgumentError(
          absl::StrCat("Kafka ", KindName(kind_), " frame of size ", size,
                       " is truncated: it ends inside the ", where)));
    case R::kMalformed:
      break;
  }
  return Fail(absl::InvalidArgumentError(absl::StrCat(
      "Kafka ", KindName(kind_), " frame: malformed ", where,
      " (a string length below -1 or a varint longer than 5 bytes)")));
}

absl::StatusOr<FrameChunk> FrameSplitter::Next(absl::string_view data) {
  if (!error_.ok()) return error_;
  FrameChunk chunk;
  chunk.starts_frame = !data.empty() && frame_consumed_ == 0;
  size_t used = 0;
  // Until the header is known, buffer what the parser asks for plus a little
  // lookahead (so a typical header parses in one pass), never beyond the
  // frame's end nor kMaxParsedPrefix. need_ <= kMaxParsedPrefix (TryParse
  // fails otherwise), so every pass takes at least one byte.
  while (!header_done_ && used < data.size()) {
    const uint64_t frame_left = frame_total_ != 0
                                    ? frame_total_ - frame_consumed_
                                    : kSizeFieldBytes - frame_consumed_;
    const size_t want =
        std::min(std::max(need_ - prefix_.size(), kParseLookahead),
                 kMaxParsedPrefix - prefix_.size());
    const size_t take = static_cast<size_t>(
        std::min<uint64_t>({want, data.size() - used, frame_left}));
    prefix_.append(data.data() + used, take);
    used += take;
    frame_consumed_ += take;
    if (prefix_.size() < need_) break;
    RETURN_IF_ERROR(TryParse());
    if (header_done_) chunk.header = std::move(pending_header_);
  }
  if (header_done_) {
    const uint64_t rest = frame_total_ - frame_consumed_;
    const size_t take =
        static_cast<size_t>(std::min<uint64_t>(rest, data.size() - used));
    used += take;
    frame_consumed_ += take;
    if (frame_consumed_ == frame_total_) {
      chunk.ends_frame = true;
      frame_consumed_ = 0;
      frame_total_ = 0;
      prefix_.clear();
      need_ = kSizeFieldBytes;
      header_done_ = false;
    }
  }
  chunk.length = used;
  return chunk;
}

absl::Status FrameSplitter::Feed(absl::string_view data,
                                 std::vector<FrameHeader>* headers) {
  // Each Next() consumes at least one byte or fails, so this ends.
  while (!data.empty()) {
    ASSIGN_OR_RETURN(FrameChunk chunk, Next(data));
    if (chunk.header.has_value()) headers->push_back(*chunk.header);
    data.remove_prefix(chunk.length);
  }
  return error_;
}

}  // namespace mayfly::kafka::internal
