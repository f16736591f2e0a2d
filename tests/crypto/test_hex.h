#pragma once
// Hex helpers for the crypto known-answer tests.

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/base/bytes.h"

namespace tpm2emu::crypto::test {

// Spaces are ignored, so long vectors can be split for readability; anything else that is not
// a hex digit is a bug in the test.
inline Bytes FromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  Bytes out;
  int high = -1;
  for (char c : hex) {
    if (c == ' ') {
      continue;
    }
    const int v = nibble(c);
    if (v < 0) {
      return {};
    }
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>((high << 4) | v));
      high = -1;
    }
  }
  return out;
}

inline std::string ToHex(ByteSpan data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// first, first + 1, ... (mod 256), `size` octets: the inputs the pinned vectors use.
inline Bytes Sequence(uint8_t first, size_t size) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<uint8_t>(first + i);
  }
  return out;
}

}  // namespace tpm2emu::crypto::test
