// Tests for the Kafka frame splitter: hand-built frames of every Produce
// version, acks 0/1/-1, every split point of a mixed stream, and each refusal.
#include "kafka/client/internal/frame.h"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "identity/testing/status_matchers.h"
#include "kafka/client/internal/frame_testing.h"

namespace mayfly::kafka::internal {

// Readable failures; outside the anonymous namespace so that gtest finds it.
void PrintTo(const FrameHeader& h, std::ostream* os) {
  *os << "{size " << h.size << " corr " << h.correlation_id << " key "
      << h.api_key << " v" << h.api_version << " acks "
      << (h.acks ? std::to_string(*h.acks) : "none") << " expects "
      << h.expects_response << "}";
}

namespace {

using ::mayfly::testing_util::InvalidWith;
using ::testing::ElementsAre;
using Kind = FrameSplitter::Kind;

std::vector<FrameHeader> FeedAll(Kind kind, absl::string_view data) {
  FrameSplitter splitter(kind);
  std::vector<FrameHeader> headers;
  EXPECT_TRUE(splitter.Feed(data, &headers).ok());
  EXPECT_TRUE(splitter.AtBoundary());
  return headers;
}

FrameHeader Request(int32_t size, int16_t key, int16_t version, int32_t corr,
                    std::optional<int16_t> acks = std::nullopt) {
  FrameHeader h;
  h.size = size;
  h.api_key = key;
  h.api_version = version;
  h.correlation_id = corr;
  h.acks = acks;
  h.expects_response = !acks.has_value() || *acks != 0;
  return h;
}

TEST(FrameTest, RequestHeaderFields) {
  // Metadata v4, correlation id 0x01020304, client_id "rdkafka", 3 body bytes.
  const std::string frame = Unhex(
      "00000014"
      "0003 0004 01020304 0007 72646b61666b61"
      "aabbcc");
  EXPECT_THAT(FeedAll(Kind::kRequests, frame),
              ElementsAre(Request(20, 3, 4, 0x01020304)));
}

TEST(FrameTest, NullAndEmptyClientId) {
  const std::string null_id = Unhex("0000000a 0012 0003 00000009 ffff");
  const std::string empty_id = Unhex("0000000b 0012 0003 0000000a 0000 00");
  EXPECT_THAT(FeedAll(Kind::kRequests, null_id + empty_id),
              ElementsAre(Request(10, 18, 3, 9), Request(11, 18, 3, 10)));
}

// Literal frames, written byte by byte from ProduceRequest.json, so that the
// acks offset is checked against the spec and not against frame_testing.h.
TEST(FrameTest, ProduceAcksAtTheSpecOffset) {
  // v2: header, then acks (0) first in the body, timeout 1000.
  const std::string v2 = Unhex(
      "00000012 0000 0002 00000001 0002 6964"
      "0000 000003e8");
  // v7: header, transactional_id "tx", acks 1, timeout 1000.
  const std::string v7 = Unhex(
      "00000016 0000 0007 00000002 0002 6964"
      "0002 7478 0001 000003e8");
  // v7 with a null transactional_id and acks 0.
  const std::string v7_null = Unhex(
      "00000014 0000 0007 00000003 0002 6964"
      "ffff 0000 000003e8");
  // v9: header v2 with one tag (tag 5, 2 bytes), compact transactional_id
  // "tx" (length+1 = 3), acks -1, timeout 1000.
  const std::string v9 = Unhex(
      "0000001a 0000 0009 00000004 0002 6964 01 05 02 abcd"
      "03 7478 ffff 000003e8");
  // v9 with no tags, a null compact transactional_id and acks 0.
  const std::string v9_null = Unhex(
      "00000014 0000 0009 00000005 0002 6964 00"
      "00 0000 000003e8");
  EXPECT_THAT(FeedAll(Kind::kRequests, v2 + v7 + v7_null + v9 + v9_null),
              ElementsAre(Request(18, 0, 2, 1, 0), Request(22, 0, 7, 2, 1),
                          Request(20, 0, 7, 3, 0), Request(26, 0, 9, 4, -1),
                          Request(20, 0, 9, 5, 0)));
}

TEST(FrameTest, ProduceAcksEveryVersion) {
  const std::optional<std::string> client_ids[] = {std::nullopt, "", "rdkafka"};
  const std::optional<std::string> txn_ids[] = {std::nullopt, "", "txn-7"};
  int32_t corr = 100;
  for (int16_t version = 0; version <= 12; ++version) {
    for (int16_t acks : {0, 1, -1}) {
      for (const auto& client_id : client_ids) {
        for (const auto& txn_id : txn_ids) {
          for (bool tag : {false, true}) {
            if (tag && version < kProduceFlexibleVersion) continue;
            ProduceSpec spec{version, ++corr, acks, client_id, txn_id, tag};
            const std::string frame = ProduceFrame(spec);
            SCOPED_TRACE(::testing::Message()
                         << "v" << version << " acks " << acks << " tag " << tag
                         << " frame " << Hex(frame));
            EXPECT_THAT(
                FeedAll(Kind::kRequests, frame),
                ElementsAre(Request(static_cast<int32_t>(frame.size() - 4), 0,
                                    version, corr, acks)));
          }
        }
      }
    }
  }
}

// 3000 empty header tags take more than one parse pass (kParseLookahead).
TEST(FrameTest, ProduceAcksAfterManyHeaderTags) {
  std::string tags = Uvarint(3000);
  for (uint32_t tag = 0; tag < 3000; ++tag) tags += Uvarint(tag) + Uvarint(0);
  const std::string frame = RequestFrame(
      0, 9, 42, "rdkafka", tags + CompactStr("tx") + Be16(0) + Be32(1000));
  EXPECT_THAT(FeedAll(Kind::kRequests, frame),
              ElementsAre(Request(static_cast<int32_t>(frame.size() - 4), 0, 9,
                                  42, 0)));
}

TEST(FrameTest, ResponseCorrelationIds) {
  const std::string stream =
      Unhex("00000004 00000007") + Unhex("00000009 7fffffff 00 aabbccdd");
  FrameHeader a, b;
  a.size = 4;
  a.correlation_id = 7;
  b.size = 9;
  b.correlation_id = 0x7fffffff;
  EXPECT_THAT(FeedAll(Kind::kResponses, stream), ElementsAre(a, b));
}

// A stream of every kind of request, cut in two at every byte, and fed one
// byte at a time: always the same headers, and a chunk never crosses a frame.
TEST(FrameTest, SplitAtEveryByteBoundary) {
  const std::string stream = MixedRequestStream();
  const std::vector<FrameHeader> whole = FeedAll(Kind::kRequests, stream);
  ASSERT_EQ(whole.size(), 7u);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    FrameSplitter splitter(Kind::kRequests);
    std::vector<FrameHeader> headers;
    ASSERT_TRUE(
        splitter.Feed(absl::string_view(stream).substr(0, cut), &headers).ok());
    ASSERT_TRUE(
        splitter.Feed(absl::string_view(stream).substr(cut), &headers).ok());
    EXPECT_EQ(headers, whole) << "cut at " << cut;
  }

  FrameSplitter splitter(Kind::kRequests);
  std::vector<FrameHeader> headers;
  std::vector<size_t> starts, ends;
  for (size_t i = 0; i < stream.size(); ++i) {
    absl::StatusOr<FrameChunk> chunk =
        splitter.Next(absl::string_view(stream).substr(i, 1));
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    ASSERT_EQ(chunk->length, 1u);
    if (chunk->starts_frame) starts.push_back(i);
    if (chunk->ends_frame) ends.push_back(i + 1);
    if (chunk->header) headers.push_back(*chunk->header);
  }
  EXPECT_EQ(headers, whole);
  std::vector<size_t> want_starts, want_ends;
  size_t offset = 0;
  for (const FrameHeader& h : whole) {
    want_starts.push_back(offset);
    offset += 4 + h.size;
    want_ends.push_back(offset);
  }
  EXPECT_EQ(starts, want_starts);
  EXPECT_EQ(ends, want_ends);
}

TEST(FrameTest, NextStopsAtTheFrameEnd) {
  const std::string one = Unhex("0000000a 0012 0003 00000001 ffff");
  const std::string two = Unhex("0000000c 0003 0001 00000002 ffff 0102");
  FrameSplitter splitter(Kind::kRequests);
  const std::string both = one + two;
  absl::StatusOr<FrameChunk> first = splitter.Next(both);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->length, one.size());
  EXPECT_TRUE(first->starts_frame && first->ends_frame);
  EXPECT_EQ(first->header, Request(10, 18, 3, 1));
  EXPECT_TRUE(splitter.AtBoundary());
  // Part of the second frame: the header is known, the frame is not over.
  absl::StatusOr<FrameChunk> second =
      splitter.Next(absl::string_view(both).substr(one.size(), 15));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->length, 15u);
  EXPECT_TRUE(second->starts_frame);
  EXPECT_FALSE(second->ends_frame);
  EXPECT_EQ(second->header, Request(12, 3, 1, 2));
  EXPECT_FALSE(splitter.AtBoundary());
  absl::StatusOr<FrameChunk> third =
      splitter.Next(absl::string_view(both).substr(one.size() + 15));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->length, 1u);
  EXPECT_FALSE(third->starts_frame);
  EXPECT_TRUE(third->ends_frame);
  EXPECT_FALSE(third->header.has_value());
  EXPECT_TRUE(splitter.AtBoundary());
}

absl::Status FeedStatus(Kind kind, absl::string_view data,
                        int32_t cap = kDefaultMaxFrameSize) {
  FrameSplitter splitter(kind, cap);
  std::vector<FrameHeader> headers;
  return splitter.Feed(data, &headers);
}

TEST(FrameTest, RefusesSizeBelowTheHeader) {
  EXPECT_THAT(FeedStatus(Kind::kRequests, Unhex("00000009")),
              InvalidWith("request frame: size 9 is below the 10-byte "
                          "request header"));
  EXPECT_THAT(FeedStatus(Kind::kRequests, Unhex("ffffffff")),
              InvalidWith("size -1 is below"));
  EXPECT_THAT(FeedStatus(Kind::kResponses, Unhex("00000003")),
              InvalidWith("response frame: size 3 is below the 4-byte "
                          "response header"));
}

TEST(FrameTest, RefusesSizeAboveTheCap) {
  EXPECT_THAT(FeedStatus(Kind::kResponses, Unhex("000003e9"), 1000),
              InvalidWith("size 1001 is above the cap of 1000 bytes"));
  EXPECT_TRUE(FeedStatus(Kind::kResponses, Unhex("000003e8"), 1000).ok());
  EXPECT_THAT(FeedStatus(Kind::kRequests, Unhex("06400001")),
              InvalidWith("size 104857601 is above the cap of 104857600"));
  // A TLS record read as Kafka: 0x16030300 is far above any cap.
  EXPECT_THAT(FeedStatus(Kind::kResponses, Unhex("16030300")),
              InvalidWith("is above the cap"));
}

TEST(FrameTest, RefusesTruncatedHeaders) {
  // client_id says 5 bytes, but the frame ends after 2 of them.
  EXPECT_THAT(FeedStatus(Kind::kRequests,
                         Unhex("0000000c 0003 0001 00000001 0005 6162")),
              InvalidWith("size 12 is truncated: it ends inside the header"));
  // Produce v3 that ends right after transactional_id, before acks.
  EXPECT_THAT(FeedStatus(Kind::kRequests,
                         Unhex("0000000e 0000 0003 00000001 ffff 0002 7478")),
              InvalidWith("truncated: it ends inside the Produce acks"));
  // Produce v9 that ends inside its header tags.
  EXPECT_THAT(FeedStatus(Kind::kRequests,
                         Unhex("0000000e 0000 0009 00000001 ffff 01 05 05 ab")),
              InvalidWith("truncated: it ends inside the Produce acks"));
}

TEST(FrameTest, RefusesMalformedFields) {
  EXPECT_THAT(FeedStatus(Kind::kRequests,
                         Unhex("0000000c 0003 0001 00000001 fffe 0000")),
              InvalidWith("malformed header"));
  EXPECT_THAT(
      FeedStatus(Kind::kRequests, Unhex("00000015 0000 0009 00000001 ffff"
                                        "ffffffffff7f 00 0000 0000")),
      InvalidWith("malformed Produce acks"));
  EXPECT_THAT(FeedStatus(Kind::kRequests,
                         Unhex("0000000e 0000 ffff 00000001 ffff 0000 0000")),
              InvalidWith("Produce api_version -1 is negative"));
}

TEST(FrameTest, RefusesAHeaderLongerThanThePrefixLimit) {
  // Produce v9 whose header tag claims 200000 bytes.
  const std::string start =
      Unhex("00040000 0000 0009 00000001 ffff 01 05") + Uvarint(200000);
  EXPECT_THAT(FeedStatus(Kind::kRequests, start),
              InvalidWith("needs 200019 bytes, more than the 131072"));
}

TEST(FrameTest, ErrorsAreStickyAndEarlierFramesKept) {
  FrameSplitter splitter(Kind::kRequests);
  std::vector<FrameHeader> headers;
  const std::string good = Unhex("0000000a 0012 0003 00000001 ffff");
  EXPECT_THAT(splitter.Feed(good + Unhex("00000001 00"), &headers),
              InvalidWith("size 1 is below"));
  EXPECT_THAT(headers, ElementsAre(Request(10, 18, 3, 1)));
  EXPECT_THAT(splitter.Next(good), InvalidWith("size 1 is below"));
}

}  // namespace
}  // namespace mayfly::kafka::internal
