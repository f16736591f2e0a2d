#pragma once
// Digests and HMACs for the TPM's hash algorithms (Part 2 §6.3 TPM_ALG_ID), over OpenSSL 3 EVP.
//
// Supported: TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512 (an algorithm whose
// OpenSSL implementation cannot be fetched, e.g. SHA-1 under a restrictive provider, counts as
// unsupported). The EVP_MD/EVP_MAC objects are fetched once per process, on first use, into an
// immutable cache.
//
// Thread safety: the free functions may be called from any thread. A HashContext or HmacContext
// is a plain value: one thread at a time; distinct contexts (clones included) are independent.
// Errors: an unsupported algorithm gives TPM_RC_HASH; an OpenSSL failure is logged and gives
// TPM_RC_FAILURE.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// Digest size in octets of `hash_alg`, or 0 when it is not supported.
size_t DigestSize(uint16_t hash_alg);
bool IsHashSupported(uint16_t hash_alg);

// One-shot digest.
Result<Bytes> Hash(uint16_t hash_alg, ByteSpan data);

// An incremental digest. Obtained from Start(); the default-constructed context is empty (alg()
// is TPM_ALG_ERROR, ok() is false). Update() and Finish() report no error themselves: if OpenSSL
// fails, the failure is logged, the context becomes !ok() and Finish() returns an empty Bytes
// (never a valid digest), so callers that cannot rule this out check ok() or the result's size.
class HashContext {
 public:
  HashContext();
  HashContext(HashContext&& other) noexcept;
  HashContext& operator=(HashContext&& other) noexcept;
  HashContext(const HashContext&) = delete;
  HashContext& operator=(const HashContext&) = delete;
  ~HashContext();

  static Result<HashContext> Start(uint16_t hash_alg);

  // An independent copy of the running state (e.g. to read an intermediate digest). Cloning an
  // empty or failed context gives one that is !ok().
  HashContext Clone() const;
  void Update(ByteSpan data);
  // The digest; the context is empty afterwards (!ok()), Update() and Finish() then do nothing.
  Bytes Finish();

  uint16_t alg() const { return alg_; }
  bool ok() const;

 private:
  struct State;
  HashContext(uint16_t alg, std::unique_ptr<State> state);

  uint16_t alg_;
  std::unique_ptr<State> state_;
};

// One-shot HMAC (RFC 2104) with `hash_alg`; any key length, including empty.
Result<Bytes> Hmac(uint16_t hash_alg, ByteSpan key, ByteSpan data);

// An incremental HMAC: the same shape and error behaviour as HashContext. The key is copied into
// OpenSSL's context (wiped by OpenSSL when the context is freed); `key` need not outlive Start().
class HmacContext {
 public:
  HmacContext();
  HmacContext(HmacContext&& other) noexcept;
  HmacContext& operator=(HmacContext&& other) noexcept;
  HmacContext(const HmacContext&) = delete;
  HmacContext& operator=(const HmacContext&) = delete;
  ~HmacContext();

  static Result<HmacContext> Start(uint16_t hash_alg, ByteSpan key);

  HmacContext Clone() const;
  void Update(ByteSpan data);
  Bytes Finish();

  uint16_t alg() const { return alg_; }
  bool ok() const;

 private:
  struct State;
  HmacContext(uint16_t alg, std::unique_ptr<State> state);

  uint16_t alg_;
  std::unique_ptr<State> state_;
};

}  // namespace tpm2emu::crypto
