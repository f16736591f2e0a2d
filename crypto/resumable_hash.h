#pragma once
// Digests and HMACs whose running state can be exported and imported again, so that a hash, HMAC
// or event sequence object can leave the TPM in a saved context (Part 1 §27.8, Part 3 §28.2) and
// in the saved volatile state. Same algorithms as crypto/hash.h: TPM_ALG_SHA1, TPM_ALG_SHA256,
// TPM_ALG_SHA384 and TPM_ALG_SHA512.
//
// Use HashContext/HmacContext (crypto/hash.h) where nothing is ever exported; these give the same
// digests.
//
// Exported state: our own explicit format, independent of OpenSSL's structures (all integers
// big-endian):
//   hash:  u16 hashAlg || u64 octets hashed so far || the chaining value (SHA-1: 5 x u32,
//          SHA-256: 8 x u32, SHA-384 and SHA-512: 8 x u64) || the octets not yet compressed
//          (octets hashed mod the block size: 64 for SHA-1/SHA-256, 128 for SHA-384/SHA-512)
//   HMAC:  the exported state of the inner hash || K0, the key as RFC 2104 pads or hashes it to
//          one block (block-size octets)
// The HMAC form holds the key, and either form may be a function of secret data: both are
// returned as SecretBytes and belong in encrypted, integrity-protected storage.
//
// Errors: an unsupported algorithm gives TPM_RC_HASH; an exported state that does not parse
// (short, long, inconsistent, or an octet count past the algorithm's limit) gives TPM_RC_VALUE;
// exporting an empty or finished context gives TPM_RC_FAILURE.
// Thread safety: plain values, one thread at a time; distinct objects are independent.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"

namespace tpm2emu::crypto {

// An incremental digest, like HashContext: obtained from Start() or Import(); the
// default-constructed object is empty (alg() TPM_ALG_ERROR, ok() false). Finish() leaves it
// empty; Update() and Finish() on an empty object do nothing and return an empty Bytes.
class ResumableHash {
 public:
  ResumableHash();
  ResumableHash(ResumableHash&& other) noexcept;
  ResumableHash& operator=(ResumableHash&& other) noexcept;
  ResumableHash(const ResumableHash&) = delete;
  ResumableHash& operator=(const ResumableHash&) = delete;
  ~ResumableHash();  // wipes the running state

  static Result<ResumableHash> Start(uint16_t hash_alg);
  // Resumes from Export()'s output; the algorithm is the one recorded in `state`.
  static Result<ResumableHash> Import(ByteSpan state);

  void Update(ByteSpan data);
  Bytes Finish();
  // The running state (the object is unchanged and may go on).
  Result<SecretBytes> Export() const;

  uint16_t alg() const { return alg_; }
  bool ok() const { return state_ != nullptr; }

 private:
  struct State;
  ResumableHash(uint16_t alg, std::unique_ptr<State> state);
  // Import() of the exported state at the start of `state`; `consumed` gets its length.
  static Result<ResumableHash> ImportPrefix(ByteSpan state, size_t& consumed);
  friend class ResumableHmac;

  uint16_t alg_;
  std::unique_ptr<State> state_;
};

// An incremental HMAC (RFC 2104), like HmacContext, built on ResumableHash: the inner hash runs
// as data arrives; the key (as K0) is kept in SecretBytes for the outer hash at Finish().
class ResumableHmac {
 public:
  ResumableHmac() = default;

  // Any key length, including empty; `key` need not outlive Start().
  static Result<ResumableHmac> Start(uint16_t hash_alg, ByteSpan key);
  static Result<ResumableHmac> Import(ByteSpan state);

  void Update(ByteSpan data) { inner_.Update(data); }
  Bytes Finish();
  Result<SecretBytes> Export() const;

  uint16_t alg() const { return inner_.alg(); }
  bool ok() const { return inner_.ok(); }

 private:
  ResumableHmac(ResumableHash inner, SecretBytes k0)
      : inner_(std::move(inner)), k0_(std::move(k0)) {}

  ResumableHash inner_;
  SecretBytes k0_;  // one block: the key, zero-padded, or its digest when longer than a block
};

}  // namespace tpm2emu::crypto
