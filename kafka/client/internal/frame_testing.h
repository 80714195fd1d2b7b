// Test helpers that build Kafka frames by hand: hex literals, big-endian
// fields, Produce requests of any version. For the frame and relay tests and
// the fuzz target's self-checks; testonly.
#ifndef MAYFLY_KAFKA_CLIENT_INTERNAL_FRAME_TESTING_H_
#define MAYFLY_KAFKA_CLIENT_INTERNAL_FRAME_TESTING_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace mayfly::kafka::internal {

// "0001 ff" -> the bytes 00 01 ff (spaces ignored).
inline std::string Unhex(absl::string_view hex) {
  return absl::HexStringToBytes(absl::StrReplaceAll(hex, {{" ", ""}}));
}

inline std::string Hex(absl::string_view bytes) {
  return absl::BytesToHexString(bytes);
}

inline std::string Be16(int16_t v) {
  const uint16_t u = static_cast<uint16_t>(v);
  return {static_cast<char>(u >> 8), static_cast<char>(u & 0xff)};
}

inline std::string Be32(int32_t v) {
  const uint32_t u = static_cast<uint32_t>(v);
  return Be16(static_cast<int16_t>(u >> 16)) +
         Be16(static_cast<int16_t>(u & 0xffff));
}

inline std::string Uvarint(uint32_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// int16-length nullable string.
inline std::string Str16(const std::optional<std::string>& s) {
  return s ? Be16(static_cast<int16_t>(s->size())) + *s : Be16(-1);
}

// Compact nullable string: uvarint length+1, 0 = null.
inline std::string CompactStr(const std::optional<std::string>& s) {
  return s ? Uvarint(static_cast<uint32_t>(s->size() + 1)) + *s : Uvarint(0);
}

// A whole frame: the size prefix, then `payload`.
inline std::string SizePrefixed(absl::string_view payload) {
  return Be32(static_cast<int32_t>(payload.size())) + std::string(payload);
}

// A request with header v1, and `body` after it (which, for a flexible
// version, starts with the header v2 tags).
inline std::string RequestFrame(int16_t api_key, int16_t version, int32_t corr,
                                const std::optional<std::string>& client_id,
                                absl::string_view body) {
  return SizePrefixed(Be16(api_key) + Be16(version) + Be32(corr) +
                      Str16(client_id) + std::string(body));
}

inline std::string ResponseFrame(int32_t corr, absl::string_view body) {
  return SizePrefixed(Be32(corr) + std::string(body));
}

struct ProduceSpec {
  int16_t version = 7;
  int32_t corr = 1;
  int16_t acks = -1;
  std::optional<std::string> client_id = "rdkafka";
  std::optional<std::string> txn_id;
  bool header_tag = false;  // v9+: one header tag (tag 0, 3 bytes)
};

// A Produce request laid out as ProduceRequest.json says, with one topic,
// one partition and a 4-byte record set after acks and a 30000 ms timeout.
inline std::string ProduceFrame(const ProduceSpec& p) {
  std::string body;
  const bool flexible = p.version >= 9;
  if (flexible) body += p.header_tag ? Unhex("01 00 03 abcdef") : Unhex("00");
  if (flexible) {
    body += CompactStr(p.txn_id);
  } else if (p.version >= 3) {
    body += Str16(p.txn_id);
  }
  body += Be16(p.acks) + Be32(30000);
  body +=
      flexible ? Uvarint(2) + CompactStr("topic") : Be32(1) + Str16("topic");
  body += Be32(1) + Be32(0) + Be32(4) + Unhex("01020304");
  return RequestFrame(0, p.version, p.corr, p.client_id, body);
}

// Seven requests of different shapes: Metadata, a flexible ApiVersions,
// Produce v7 acks=0, v2 acks=1, v9 acks=-1 with a header tag, a 300-byte v3
// with acks=0, and Fetch.
inline std::string MixedRequestStream() {
  ProduceSpec v7{7, 3, 0, "rdkafka", "txn", false};
  ProduceSpec v2{2, 4, 1, std::nullopt, std::nullopt, false};
  ProduceSpec v9{9, 5, -1, "", "t", true};
  return RequestFrame(3, 4, 1, "rdkafka", Unhex("ffffffff 00")) +
         RequestFrame(18, 3, 2, "rdkafka", Unhex("00 07 6c6962726466 00")) +
         ProduceFrame(v7) + ProduceFrame(v2) + ProduceFrame(v9) +
         RequestFrame(0, 3, 6, "rdkafka",
                      Str16(std::nullopt) + Be16(0) + std::string(300, 'x')) +
         RequestFrame(1, 11, 7, "rdkafka", std::string(40, '\0'));
}

}  // namespace mayfly::kafka::internal

#endif  // MAYFLY_KAFKA_CLIENT_INTERNAL_FRAME_TESTING_H_
