#include "crypto/kdf.h"

#include <algorithm>
#include <array>

#include "crypto/hash.h"
#include "engine/base/endian.h"

namespace tpm2emu::crypto {
namespace {

std::array<uint8_t, 4> Be32(uint32_t v) {
  std::array<uint8_t, 4> out;
  StoreBe32(out.data(), v);
  return out;
}

ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The label as a null-terminated octet string (Part 1 §8.4.10.2, §8.4.10.3): the zero octet
// is the separator SP 800-108 puts between Label and Context, and the terminator of KDFe's Use.
void UpdateLabel(auto& ctx, std::string_view label) {
  static constexpr uint8_t kZero = 0;
  ctx.Update(AsBytes(label));
  if (label.empty() || label.back() != '\0') {
    ctx.Update(ByteSpan(&kZero, 1));
  }
}

// Appends `block` to `out` at `offset` (as much as fits) and wipes it; false if the block is
// empty, which is how HashContext/HmacContext report a logged OpenSSL failure.
bool TakeBlock(Bytes block, SecretBytes& out, size_t& offset) {
  if (block.empty()) {
    return false;
  }
  const size_t n = std::min(block.size(), out.size() - offset);
  std::copy_n(block.begin(), n, out.data() + offset);
  offset += n;
  SecureWipe(block.data(), block.size());
  return true;
}

// Part 1 §8.4.10.2: with bits not a multiple of 8, the top bits of octet 0 are cleared.
void MaskTopOctet(SecretBytes& out, uint32_t bits) {
  if (bits % 8 != 0) {
    out[0] = static_cast<uint8_t>(out[0] & ((1u << (bits % 8)) - 1));
  }
}

size_t OctetsFor(uint32_t bits) {
  return (static_cast<size_t>(bits) + 7) / 8;
}

}  // namespace

Result<SecretBytes> KdfA(uint16_t hash_alg, ByteSpan key, std::string_view label,
                         ByteSpan context_u, ByteSpan context_v, uint32_t bits) {
  // Keyed once; each block continues from a copy of the keyed state.
  TRY_ASSIGN(HmacContext keyed, HmacContext::Start(hash_alg, key));
  SecretBytes out(OctetsFor(bits));
  const auto bits_be = Be32(bits);
  size_t offset = 0;
  // (bits + 7) / 8 octets never need 2^32 blocks, so the 32-bit counter cannot wrap.
  for (uint32_t i = 1; offset < out.size(); ++i) {
    HmacContext ctx = keyed.Clone();
    const auto counter = Be32(i);
    ctx.Update(counter);
    UpdateLabel(ctx, label);
    ctx.Update(context_u);
    ctx.Update(context_v);
    ctx.Update(bits_be);
    if (!TakeBlock(ctx.Finish(), out, offset)) {
      return Rc::Failure;
    }
  }
  MaskTopOctet(out, bits);
  return out;
}

Result<SecretBytes> KdfE(uint16_t hash_alg, ByteSpan z, std::string_view label, ByteSpan party_u,
                         ByteSpan party_v, uint32_t bits) {
  if (!IsHashSupported(hash_alg)) {
    return Rc::Hash;
  }
  SecretBytes out(OctetsFor(bits));
  size_t offset = 0;
  for (uint32_t i = 1; offset < out.size(); ++i) {
    TRY_ASSIGN(HashContext ctx, HashContext::Start(hash_alg));
    const auto counter = Be32(i);
    ctx.Update(counter);
    ctx.Update(z);
    UpdateLabel(ctx, label);
    ctx.Update(party_u);
    ctx.Update(party_v);
    if (!TakeBlock(ctx.Finish(), out, offset)) {
      return Rc::Failure;
    }
  }
  MaskTopOctet(out, bits);
  return out;
}

Result<SecretBytes> Mgf1(uint16_t hash_alg, ByteSpan seed, size_t length) {
  const size_t digest_size = DigestSize(hash_alg);
  if (digest_size == 0) {
    return Rc::Hash;
  }
  if (length != 0 && (length - 1) / digest_size > UINT32_MAX) {
    return Rc::Value;
  }
  SecretBytes out(length);
  size_t offset = 0;
  for (uint32_t i = 0; offset < out.size(); ++i) {
    TRY_ASSIGN(HashContext ctx, HashContext::Start(hash_alg));
    const auto counter = Be32(i);
    ctx.Update(seed);
    ctx.Update(counter);
    if (!TakeBlock(ctx.Finish(), out, offset)) {
      return Rc::Failure;
    }
  }
  return out;
}

}  // namespace tpm2emu::crypto
