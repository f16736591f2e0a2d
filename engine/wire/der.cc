#include "engine/wire/der.h"

#include <vector>

#include "engine/base/endian.h"

namespace tpm2emu::wire::der {

std::optional<Element> Parser::Next() {
  size_t remaining = data_.size() - pos_;
  if (remaining < 2) {
    pos_ = data_.size();
    return std::nullopt;
  }
  const uint8_t* p = data_.data() + pos_;
  Element e;
  e.tag = p[0];
  if ((e.tag & 0x1F) == 0x1F) {
    pos_ = data_.size();  // high tag numbers: not used in a TBSCertificate
    return std::nullopt;
  }
  size_t header = 2;
  size_t length = p[1];
  if (length & 0x80) {
    size_t n = length & 0x7F;
    // X.690 §10.1: definite form, minimal octets; 0x80 (indefinite) and more than 4 length
    // octets are refused (nothing here is that large).
    if (n == 0 || n > 4 || remaining < 2 + n || p[2] == 0) {
      pos_ = data_.size();
      return std::nullopt;
    }
    length = 0;
    for (size_t i = 0; i < n; ++i) {
      length = (length << 8) | p[2 + i];
    }
    if (length < 0x80) {
      pos_ = data_.size();  // should have used the short form
      return std::nullopt;
    }
    header += n;
  }
  if (length > remaining - header) {
    pos_ = data_.size();
    return std::nullopt;
  }
  e.contents = data_.subspan(pos_ + header, length);
  e.encoding = data_.subspan(pos_, header + length);
  pos_ += header + length;
  return e;
}

std::optional<Element> ParseOne(ByteSpan data, uint8_t want) {
  Parser p(data);
  auto e = p.Next();
  if (!e || e->tag != want || !p.empty()) {
    return std::nullopt;
  }
  return e;
}

Bytes Tlv(uint8_t tag, ByteSpan contents) {
  Bytes out{tag};
  size_t n = contents.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    Bytes len;
    for (size_t v = n; v != 0; v >>= 8) {
      len.insert(len.begin(), static_cast<uint8_t>(v));
    }
    out.push_back(static_cast<uint8_t>(0x80 | len.size()));
    out.insert(out.end(), len.begin(), len.end());
  }
  out.insert(out.end(), contents.begin(), contents.end());
  return out;
}

Bytes Sequence(std::initializer_list<ByteSpan> elements) {
  Bytes contents;
  for (ByteSpan e : elements) {
    contents.insert(contents.end(), e.begin(), e.end());
  }
  return Tlv(tag::kSequence, contents);
}

Bytes Explicit(uint8_t n, ByteSpan element) {
  return Tlv(tag::Context(n), element);
}

Bytes UnsignedInteger(ByteSpan magnitude) {
  size_t skip = 0;
  while (skip < magnitude.size() && magnitude[skip] == 0) {
    ++skip;
  }
  Bytes contents;
  if (skip == magnitude.size() || (magnitude[skip] & 0x80) != 0) {
    contents.push_back(0);
  }
  contents.insert(contents.end(), magnitude.begin() + static_cast<std::ptrdiff_t>(skip),
                  magnitude.end());
  return Tlv(tag::kInteger, contents);
}

Bytes Integer(uint64_t value) {
  Bytes be;
  AppendBe64(be, value);
  return UnsignedInteger(be);
}

Bytes Oid(std::initializer_list<uint32_t> arcs) {
  std::vector<uint32_t> a(arcs);
  Bytes contents;
  auto put = [&contents](uint32_t v) {
    Bytes base128{static_cast<uint8_t>(v & 0x7F)};
    for (v >>= 7; v != 0; v >>= 7) {
      base128.insert(base128.begin(), static_cast<uint8_t>(0x80 | (v & 0x7F)));
    }
    contents.insert(contents.end(), base128.begin(), base128.end());
  };
  if (a.size() >= 2) {
    put(a[0] * 40 + a[1]);
  }
  for (size_t i = 2; i < a.size(); ++i) {
    put(a[i]);
  }
  return Tlv(tag::kOid, contents);
}

Bytes BitString(ByteSpan octets) {
  Bytes contents{0};
  contents.insert(contents.end(), octets.begin(), octets.end());
  return Tlv(tag::kBitString, contents);
}

Bytes Null() {
  return Tlv(tag::kNull, {});
}

}  // namespace tpm2emu::wire::der
