#include "crypto/drbg.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "crypto/hash.h"
#include "engine/wire/constants.h"

namespace tpm2emu::crypto {
namespace {

constexpr size_t kOutLen = 32;  // SHA-256
// SP 800-90A Rev. 1 Table 2: reseed_interval for HMAC_DRBG.
constexpr uint64_t kReseedInterval = uint64_t{1} << 48;

}  // namespace

Drbg::Drbg(ByteSpan entropy_input, ByteSpan personalization)
    : key_(kOutLen), value_(kOutLen), reseed_counter_(1) {
  // SP 800-90A §10.1.2.3: Key = 0x00 00...00, V = 0x01 01...01, then update with the seed.
  std::fill_n(value_.data(), kOutLen, uint8_t{0x01});
  Update({entropy_input, personalization});
}

Drbg::Drbg(Drbg&& other) noexcept
    : key_(std::move(other.key_)),
      value_(std::move(other.value_)),
      reseed_counter_(other.reseed_counter_),
      failed_(std::exchange(other.failed_, true)) {}

Drbg& Drbg::operator=(Drbg&& other) noexcept {
  if (this != &other) {
    key_ = std::move(other.key_);
    value_ = std::move(other.value_);
    reseed_counter_ = other.reseed_counter_;
    failed_ = std::exchange(other.failed_, true);
  }
  return *this;
}

void Drbg::Reseed(ByteSpan entropy_input, ByteSpan additional) {
  if (failed_) {
    return;
  }
  Update({entropy_input, additional});
  reseed_counter_ = 1;
}

void Drbg::Generate(std::span<uint8_t> out) {
  while (!out.empty()) {
    const size_t n = std::min(out.size(), kMaxRequestBytes);
    GenerateChunk(out.first(n));
    out = out.subspan(n);
  }
}

void Drbg::GenerateChunk(std::span<uint8_t> out) {
  if (!failed_ && reseed_counter_ > kReseedInterval) {
    std::fputs("tpm2emu crypto: HMAC_DRBG reseed interval exceeded\n", stderr);
    failed_ = true;
  }
  // SP 800-90A §10.1.2.5 steps 4-5: V := HMAC(Key, V), appended until enough.
  for (size_t offset = 0; !failed_ && offset < out.size(); offset += kOutLen) {
    Mac({value_}, {}, value_);
    const size_t n = std::min(kOutLen, out.size() - offset);
    std::copy_n(value_.data(), n, out.data() + offset);
  }
  // Step 6: update with the (empty) additional input.
  Update({});
  ++reseed_counter_;
  if (failed_) {
    std::fill(out.begin(), out.end(), uint8_t{0});
  }
}

void Drbg::Update(std::initializer_list<ByteSpan> parts) {
  static constexpr uint8_t kRounds[] = {0x00, 0x01};
  const bool provided =
      std::any_of(parts.begin(), parts.end(), [](ByteSpan p) { return !p.empty(); });
  // SP 800-90A §10.1.2.2: Key := HMAC(Key, V || 0x00 || data), V := HMAC(Key, V); then, only
  // when data is non-empty, the same again with 0x01.
  for (const uint8_t& round : kRounds) {
    if (round == 0x01 && !provided) {
      break;
    }
    Mac({value_, ByteSpan(&round, 1)}, parts, key_);
    Mac({value_}, {}, value_);
  }
}

void Drbg::Mac(std::initializer_list<ByteSpan> head, std::initializer_list<ByteSpan> tail,
               SecretBytes& out) {
  if (failed_) {
    return;
  }
  // The key is copied into OpenSSL's context at Start, so `out` may be key_ or an input.
  auto ctx = HmacContext::Start(TpmAlg::Sha256, key_);
  if (!ctx.ok()) {
    failed_ = true;
    return;
  }
  for (ByteSpan p : head) {
    ctx->Update(p);
  }
  for (ByteSpan p : tail) {
    ctx->Update(p);
  }
  Bytes mac = ctx->Finish();
  if (mac.size() != kOutLen) {
    failed_ = true;  // logged by HmacContext
    return;
  }
  std::copy(mac.begin(), mac.end(), out.data());
  SecureWipe(mac.data(), mac.size());
}

}  // namespace tpm2emu::crypto
