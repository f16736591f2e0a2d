#pragma once
// A minimal DER (ITU-T X.690 §10) reader and writer, enough for TPM2_CertifyX509 (Part 3
// §18.8): splitting a caller's partial certificate into its elements and encoding the fields the
// TPM adds. Hand-written rather than OpenSSL's ASN.1 parser because the TPM must take the
// partial certificate apart element by element with its own response codes, must refuse BER
// forms (indefinite or non-minimal lengths) that OpenSSL's ASN1_get_object accepts, and must
// not depend on how OpenSSL would re-encode a Name it parsed.
//
// Only single-octet tags (tag numbers below 31) are supported; X.509 TBS fields need no others.
// The reader never allocates; it returns views into the caller's buffer.

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "engine/base/bytes.h"

namespace tpm2emu::wire::der {

namespace tag {
inline constexpr uint8_t kBoolean = 0x01;
inline constexpr uint8_t kInteger = 0x02;
inline constexpr uint8_t kBitString = 0x03;
inline constexpr uint8_t kOctetString = 0x04;
inline constexpr uint8_t kNull = 0x05;
inline constexpr uint8_t kOid = 0x06;
inline constexpr uint8_t kSequence = 0x30;
inline constexpr uint8_t kSet = 0x31;
// [n] EXPLICIT (context-specific, constructed).
constexpr uint8_t Context(uint8_t n) {
  return static_cast<uint8_t>(0xA0 | n);
}
}  // namespace tag

// One element: its tag octet, its contents, and its whole encoding (tag, length, contents).
struct Element {
  uint8_t tag = 0;
  ByteSpan contents;
  ByteSpan encoding;
};

// Reads successive elements from a buffer (the contents of a constructed element, or a whole
// encoding). Next() returns nullopt, and the parser stays failed, on a truncated element, a
// multi-octet tag, an indefinite length, or a length that is not in its minimal form.
class Parser {
 public:
  explicit Parser(ByteSpan data) : data_(data) {}
  bool empty() const { return pos_ == data_.size(); }
  std::optional<Element> Next();

 private:
  ByteSpan data_;
  size_t pos_ = 0;
};

// Parses `data` as exactly one element with tag `want`; nullopt otherwise.
std::optional<Element> ParseOne(ByteSpan data, uint8_t want);

// Encoders; each returns a whole TLV.
Bytes Tlv(uint8_t tag, ByteSpan contents);
Bytes Sequence(std::initializer_list<ByteSpan> elements);
Bytes Explicit(uint8_t n, ByteSpan element);  // [n] EXPLICIT
// A non-negative INTEGER from big-endian magnitude octets (leading zeros dropped, one added
// when the high bit is set).
Bytes UnsignedInteger(ByteSpan magnitude);
Bytes Integer(uint64_t value);
// An OBJECT IDENTIFIER from its arcs (at least two; the first two as X.690 §8.19.4 combines).
Bytes Oid(std::initializer_list<uint32_t> arcs);
Bytes BitString(ByteSpan octets);  // no unused bits
Bytes Null();

}  // namespace tpm2emu::wire::der
