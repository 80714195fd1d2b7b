// Internal: the few DER encoding and decoding steps that fast minting needs.
//
// Only definite-length, single-byte-tag TLVs, which is all an X.509 leaf uses.
#ifndef MAYFLY_IDENTITY_INTERNAL_DER_H_
#define MAYFLY_IDENTITY_INTERNAL_DER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace mayfly::identity::internal {

inline constexpr uint8_t kDerInteger = 0x02;
inline constexpr uint8_t kDerBitString = 0x03;
inline constexpr uint8_t kDerOctetString = 0x04;
inline constexpr uint8_t kDerOid = 0x06;
inline constexpr uint8_t kDerUtcTime = 0x17;
inline constexpr uint8_t kDerGeneralizedTime = 0x18;
inline constexpr uint8_t kDerSequence = 0x30;

// Appends tag, length and `content` to `out`.
void AppendTlv(std::string* out, uint8_t tag, absl::string_view content);
std::string Tlv(uint8_t tag, absl::string_view content);

// An X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 on
// (RFC 5280 4.1.2.5), to the second.
std::string DerTime(absl::Time t);

// Reads one TLV at the front of `*in`: sets `*tag` and `*content` and removes
// the TLV from `*in`. False on malformed input.
bool ReadTlv(absl::string_view* in, uint8_t* tag, absl::string_view* content);

}  // namespace mayfly::identity::internal

#endif  // MAYFLY_IDENTITY_INTERNAL_DER_H_
