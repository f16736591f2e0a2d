#pragma once
// A deterministic random bit generator: HMAC_DRBG (NIST SP 800-90A Rev. 1 §10.1.2) with
// HMAC-SHA256, without prediction resistance.
//
// Why our own: the engine must be able to replay a run from an injected entropy source (tests
// pin primary keys and nonces with fixed entropy). OpenSSL's EVP_RAND DRBGs seed and reseed
// themselves from their parent chain (ultimately the OS), so their output is not a function of
// the inputs we give them. HMAC is still OpenSSL's (crypto/hash.h).
//
// The output is a function of the constructor's inputs and the sequence of Generate()/Reseed()
// calls only. Ownership: the working state (Key and V, SP 800-90A §10.1.2.1) is held in
// SecretBytes and wiped on destruction; inputs are not retained. Not thread-safe: one owner (one
// Tpm) uses it from one thread at a time. Movable, not copyable (a copy would repeat outputs).

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>

#include "engine/base/bytes.h"

namespace tpm2emu::crypto {

class Drbg {
 public:
  // Instantiate (SP 800-90A §10.1.2.3): seed material = entropy_input || personalization. There
  // is no separate nonce parameter: a caller that has one appends it to entropy_input (the seed
  // material is the same). For the full 256-bit strength pass at least 48 octets.
  explicit Drbg(ByteSpan entropy_input, ByteSpan personalization = {});
  // A moved-from Drbg is in the error state (ok() is false).
  Drbg(Drbg&& other) noexcept;
  Drbg& operator=(Drbg&& other) noexcept;
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  ~Drbg() = default;

  // Fills `out` (SP 800-90A §10.1.2.5, no additional input). A request larger than the
  // per-request maximum of 2^19 bits (kMaxRequestBytes) is served as consecutive requests of at
  // most kMaxRequestBytes each, in order; an empty `out` changes nothing.
  void Generate(std::span<uint8_t> out);

  // Reseed (SP 800-90A §10.1.2.4): seed material = entropy_input || additional.
  void Reseed(ByteSpan entropy_input, ByteSpan additional = {});

  // False once an internal HMAC has failed (an OpenSSL fault, logged), or after 2^48 requests
  // without a Reseed() (SP 800-90A's reseed_interval for HMAC_DRBG). Then the generator is in
  // its error state for good: Generate() fills `out` with zeros, Reseed() does nothing. The
  // owner should check ok() after generating and treat false as a failure-mode fault.
  bool ok() const { return !failed_; }

  static constexpr size_t kMaxRequestBytes = 65536;

 private:
  // HMAC_DRBG_Update (SP 800-90A §10.1.2.2); provided_data is the concatenation of `parts`.
  void Update(std::initializer_list<ByteSpan> parts);
  // out := HMAC-SHA256(key_, head... || tail...); out may be key_ or value_.
  void Mac(std::initializer_list<ByteSpan> head, std::initializer_list<ByteSpan> tail,
           SecretBytes& out);
  void GenerateChunk(std::span<uint8_t> out);

  SecretBytes key_;
  SecretBytes value_;
  uint64_t reseed_counter_ = 0;
  bool failed_ = false;
};

}  // namespace tpm2emu::crypto
