#include "engine/base/bytes.h"

#include <cstring>

namespace tpm2emu {

void SecureWipe(void* data, size_t size) {
  volatile auto* p = static_cast<volatile uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) {
    p[i] = 0;
  }
}

bool ConstantTimeEqual(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) {
    return false;
  }
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  }
  return diff == 0;
}

}  // namespace tpm2emu
