// DER length encoding, X.509 times, and a TLV reader.
#include "identity/internal/der.h"

#include "absl/time/civil_time.h"

namespace mayfly::identity::internal {

void AppendTlv(std::string* out, uint8_t tag, absl::string_view content) {
  out->push_back(static_cast<char>(tag));
  const size_t len = content.size();
  if (len < 0x80) {
    out->push_back(static_cast<char>(len));
  } else {
    int bytes = 0;
    for (size_t v = len; v != 0; v >>= 8) ++bytes;
    out->push_back(static_cast<char>(0x80 | bytes));
    for (int i = bytes - 1; i >= 0; --i) {
      out->push_back(static_cast<char>((len >> (8 * i)) & 0xff));
    }
  }
  out->append(content.data(), content.size());
}

std::string Tlv(uint8_t tag, absl::string_view content) {
  std::string out;
  out.reserve(content.size() + 6);
  AppendTlv(&out, tag, content);
  return out;
}

std::string DerTime(absl::Time t) {
  const absl::CivilSecond c = absl::ToCivilSecond(t, absl::UTCTimeZone());
  char buf[16];
  auto two = [&](char* p, int v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const int year = static_cast<int>(c.year());
  const bool utc = year < 2050;
  char* p = buf;
  if (!utc) {
    two(p, year / 100);
    p += 2;
  }
  two(p, year % 100);
  two(p + 2, c.month());
  two(p + 4, c.day());
  two(p + 6, c.hour());
  two(p + 8, c.minute());
  two(p + 10, c.second());
  p[12] = 'Z';
  const size_t len = static_cast<size_t>(p + 13 - buf);
  return Tlv(utc ? kDerUtcTime : kDerGeneralizedTime,
             absl::string_view(buf, len));
}

bool ReadTlv(absl::string_view* in, uint8_t* tag, absl::string_view* content) {
  if (in->size() < 2) return false;
  *tag = static_cast<uint8_t>((*in)[0]);
  size_t len = static_cast<uint8_t>((*in)[1]);
  size_t header = 2;
  if (len >= 0x80) {
    const size_t bytes = len & 0x7f;
    if (bytes == 0 || bytes > 4 || in->size() < 2 + bytes) return false;
    len = 0;
    for (size_t i = 0; i < bytes; ++i) {
      len = (len << 8) | static_cast<uint8_t>((*in)[2 + i]);
    }
    header += bytes;
  }
  if (in->size() - header < len) return false;
  *content = in->substr(header, len);
  in->remove_prefix(header + len);
  return true;
}

}  // namespace mayfly::identity::internal
