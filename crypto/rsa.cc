#include "crypto/rsa.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <utility>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "crypto/evp.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "engine/wire/constants.h"

namespace tpm2emu::crypto {
namespace {

constexpr uint32_t kDefaultExponent = 65537;  // Part 2 §12.2.3.4: exponent 0 means 2^16 + 1

// Odd primes below 2000, for the trial division that discards most prime candidates before the
// (expensive) probabilistic test.
constexpr size_t kSieveLimit = 2000;
constexpr auto kSmallPrimes = [] {
  std::array<bool, kSieveLimit> composite{};
  std::array<uint16_t, 302> primes{};  // there are 302 odd primes below 2000
  size_t n = 0;
  for (size_t i = 3; i < kSieveLimit; i += 2) {
    if (!composite[i]) {
      if (n < primes.size()) {
        primes[n] = static_cast<uint16_t>(i);
      }
      ++n;
      for (size_t j = i * i; j < kSieveLimit; j += i) {
        composite[j] = true;
      }
    }
  }
  return n == primes.size() ? primes : std::array<uint16_t, 302>{};
}();
static_assert(kSmallPrimes[0] == 3 && kSmallPrimes.back() == 1999, "sieve table size");

// OpenSSL's names for the TPM hashes (the same set crypto/hash.h supports).
const char* OsslHashName(uint16_t hash_alg) {
  switch (hash_alg) {
    case TpmAlg::Sha1:
      return "SHA1";
    case TpmAlg::Sha256:
      return "SHA2-256";
    case TpmAlg::Sha384:
      return "SHA2-384";
    case TpmAlg::Sha512:
      return "SHA2-512";
    default:
      return nullptr;
  }
}

// The hash's OpenSSL name and size, or TPM_RC_HASH.
struct HashParams {
  const char* name;
  size_t size;
};
Result<HashParams> LookUpHash(uint16_t hash_alg) {
  const char* name = OsslHashName(hash_alg);
  const size_t size = DigestSize(hash_alg);
  if (name == nullptr || size == 0) {
    return Rc::Hash;
  }
  return HashParams{name, size};
}

bool IsSupportedModulusSize(size_t octets) {
  return octets == 128 || octets == 256 || octets == 384 || octets == 512;
}

ByteSpan StripLeadingZeros(ByteSpan s) {
  while (!s.empty() && s.front() == 0) {
    s = s.subspan(1);
  }
  return s;
}

uint32_t EffectiveExponent(uint32_t exponent) {
  return exponent == 0 ? kDefaultExponent : exponent;
}

Result<Bn> BnFromBytes(ByteSpan bytes) {
  Bn bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (bn == nullptr) {
    return OpenSslFailure("BN_bin2bn");
  }
  return bn;
}

Result<Bn> BnFromWord(uint32_t value) {
  Bn bn(BN_new());
  if (bn == nullptr || BN_set_word(bn.get(), value) != 1) {
    return OpenSslFailure("BN_set_word");
  }
  return bn;
}

// `bn` as exactly `size` big-endian octets (the value must fit).
template <class Out>
Result<Out> BnToBytes(const BIGNUM* bn, size_t size) {
  Out out(size);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(size)) != static_cast<int>(size)) {
    return OpenSslFailure("BN_bn2binpad");
  }
  return out;
}

// A validated public key: n without leading zeros (its octet length is k) and e.
struct PublicValues {
  ByteSpan modulus;
  uint32_t exponent;
};

Result<PublicValues> CheckPublic(const RsaPublicKey& pub) {
  const ByteSpan n = StripLeadingZeros(pub.modulus);
  if (!IsSupportedModulusSize(n.size())) {
    return Rc::KeySize;
  }
  const uint32_t e = EffectiveExponent(pub.exponent);
  if (e < 3 || e % 2 == 0) {
    return Rc::Range;
  }
  return PublicValues{n, e};
}

// All values of a two-prime private key (RFC 8017 §3.2), recomputed from n, e and one prime.
struct PrivateValues {
  Bn n, e, p, q, d, dp, dq, qinv;
};

// q := n / p, d := e^-1 mod (p - 1)(q - 1) (Part 1 §43.8.3 step 6) and the CRT values.
// TPM_RC_BINDING when `p` does not divide n, when p or q is out of the range Part 1 §43.1 gives
// for the factors of a k-bit modulus (their squares have k bits), or when e is not invertible.
Result<PrivateValues> RecomputePrivate(const BIGNUM* n_in, uint32_t e_word, const BIGNUM* p_in,
                                       BN_CTX* ctx) {
  PrivateValues v;
  v.n.reset(BN_dup(n_in));
  v.p.reset(BN_dup(p_in));
  if (v.n == nullptr || v.p == nullptr) {
    return OpenSslFailure("BN_dup");
  }
  BN_set_flags(v.p.get(), BN_FLG_CONSTTIME);
  TRY_ASSIGN(v.e, BnFromWord(e_word));
  TRY_ASSIGN(v.q, NewBn(true));
  TRY_ASSIGN(Bn rem, NewBn(true));
  TRY_ASSIGN(Bn p1, NewBn(true));
  TRY_ASSIGN(Bn q1, NewBn(true));
  TRY_ASSIGN(Bn phi, NewBn(true));
  TRY_ASSIGN(Bn square, NewBn(true));
  TRY_ASSIGN(v.d, NewBn(true));
  TRY_ASSIGN(v.dp, NewBn(true));
  TRY_ASSIGN(v.dq, NewBn(true));
  TRY_ASSIGN(v.qinv, NewBn(true));

  if (BN_is_zero(v.p.get()) || BN_is_one(v.p.get())) {
    return Rc::Binding;
  }
  if (BN_div(v.q.get(), rem.get(), v.n.get(), v.p.get(), ctx) != 1) {
    return OpenSslFailure("BN_div");
  }
  if (!BN_is_zero(rem.get())) {
    return Rc::Binding;
  }
  const int k_bits = BN_num_bits(v.n.get());
  for (const BIGNUM* f : {v.p.get(), v.q.get()}) {
    if (BN_sqr(square.get(), f, ctx) != 1) {
      return OpenSslFailure("BN_sqr");
    }
    if (BN_num_bits(square.get()) != k_bits) {
      return Rc::Binding;
    }
  }
  if (BN_sub(p1.get(), v.p.get(), BN_value_one()) != 1 ||
      BN_sub(q1.get(), v.q.get(), BN_value_one()) != 1 ||
      BN_mul(phi.get(), p1.get(), q1.get(), ctx) != 1) {
    return OpenSslFailure("RSA phi");
  }
  if (BN_mod_inverse(v.d.get(), v.e.get(), phi.get(), ctx) == nullptr) {
    // Not invertible: gcd(e, phi) != 1, so this prime cannot belong to this public key.
    ERR_clear_error();
    return Rc::Binding;
  }
  if (BN_mod(v.dp.get(), v.d.get(), p1.get(), ctx) != 1 ||
      BN_mod(v.dq.get(), v.d.get(), q1.get(), ctx) != 1 ||
      BN_mod_inverse(v.qinv.get(), v.q.get(), v.p.get(), ctx) == nullptr) {
    return OpenSslFailure("RSA CRT values");
  }
  return v;
}

Result<EvpPkey> PkeyFromParams(OSSL_PARAM_BLD* bld, int selection) {
  OsslParams params(OSSL_PARAM_BLD_to_param(bld));
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return OpenSslFailure("RSA EVP_PKEY_fromdata");
  }
  return EvpPkey(raw);
}

Result<EvpPkey> PublicPkey(const PublicValues& pub) {
  TRY_ASSIGN(Bn n, BnFromBytes(pub.modulus));
  TRY_ASSIGN(Bn e, BnFromWord(pub.exponent));
  OsslParamBld bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return OpenSslFailure("RSA public params");
  }
  return PkeyFromParams(bld.get(), EVP_PKEY_PUBLIC_KEY);
}

Result<EvpPkey> PrivatePkey(const PrivateValues& v) {
  OsslParamBld bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr) {
    return OpenSslFailure("OSSL_PARAM_BLD_new");
  }
  const std::pair<const char*, const BIGNUM*> values[] = {
      {OSSL_PKEY_PARAM_RSA_N, v.n.get()},          {OSSL_PKEY_PARAM_RSA_E, v.e.get()},
      {OSSL_PKEY_PARAM_RSA_D, v.d.get()},          {OSSL_PKEY_PARAM_RSA_FACTOR1, v.p.get()},
      {OSSL_PKEY_PARAM_RSA_FACTOR2, v.q.get()},    {OSSL_PKEY_PARAM_RSA_EXPONENT1, v.dp.get()},
      {OSSL_PKEY_PARAM_RSA_EXPONENT2, v.dq.get()}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, v.qinv.get()},
  };
  for (const auto& [name, bn] : values) {
    if (OSSL_PARAM_BLD_push_BN(bld.get(), name, bn) != 1) {
      return OpenSslFailure("RSA private params");
    }
  }
  return PkeyFromParams(bld.get(), EVP_PKEY_KEYPAIR);
}

Result<EvpPkey> PrivatePkey(const RsaPrivateKey& priv) {
  TRY_ASSIGN(PublicValues pub, CheckPublic(priv.pub));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn n, BnFromBytes(pub.modulus));
  TRY_ASSIGN(Bn p, BnFromBytes(priv.prime));
  TRY_ASSIGN(PrivateValues v, RecomputePrivate(n.get(), pub.exponent, p.get(), ctx.get()));
  return PrivatePkey(v);
}

Result<EvpPkeyCtx> OperationCtx(const EvpPkey& pkey) {
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (ctx == nullptr) {
    return OpenSslFailure("EVP_PKEY_CTX_new_from_pkey");
  }
  return ctx;
}

OSSL_PARAM Utf8Param(const char* key, const char* value) {
  return OSSL_PARAM_construct_utf8_string(key, const_cast<char*>(value), 0);
}

// Fills `out` from `rng`, or from OpenSSL's RNG when `rng` is empty; false if that fails.
[[nodiscard]] bool FillRandom(const RandomFn& rng, std::span<uint8_t> out) {
  if (out.empty()) {
    return true;
  }
  if (rng) {
    rng(out);
    return true;
  }
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

// A random stream that cannot be what it claims (a search that should end did not): a caller
// fault, logged; TPM_RC_FAILURE.
TpmRc BrokenStream(const char* what) {
  std::fprintf(stderr, "tpm2emu crypto: %s: the random stream looks constant or repeating\n", what);
  return Rc::Failure;
}

// One prime candidate per Part 1 §43.8.2, drawn as described in rsa.h. Returns the accepted
// prime; each rejected candidate is replaced by a fresh draw.
Result<Bn> FindPrime(size_t half_bytes, const BIGNUM* e, const RandomFn& rng, BN_CTX* ctx) {
  SecretBytes candidate(half_bytes);
  TRY_ASSIGN(Bn c, NewBn(true));
  TRY_ASSIGN(Bn c1, NewBn(true));
  TRY_ASSIGN(Bn g, NewBn(true));
  // About one odd candidate in ln(2^bits) / 2 is prime, so a fair stream goes 100 * bits
  // candidates without one with probability below 2^-400; a stream that does is broken
  // (constant or repeating, e.g. a DRBG in its error state). Fail instead of looping forever.
  const size_t max_candidates = 100 * 8 * half_bytes;
  SecretBytes previous(half_bytes);
  for (size_t attempt = 0; attempt < max_candidates; ++attempt) {
    rng(std::span<uint8_t>(candidate.data(), candidate.size()));
    // The same draw twice in a row (probability 2^-(8 * half_bytes) for a fair stream) is a
    // constant stream: fail at once rather than after max_candidates expensive tests.
    if (attempt > 0 && candidate == previous) {
      return BrokenStream("RSA prime search");
    }
    std::copy(candidate.begin(), candidate.end(), previous.data());
    candidate[0] = static_cast<uint8_t>(candidate[0] | 0xC0);
    candidate[half_bytes - 1] = static_cast<uint8_t>(candidate[half_bytes - 1] | 0x01);
    if (BN_bin2bn(candidate.data(), static_cast<int>(half_bytes), c.get()) == nullptr) {
      return OpenSslFailure("BN_bin2bn");
    }
    bool has_small_factor = false;
    for (uint16_t prime : kSmallPrimes) {
      const BN_ULONG r = BN_mod_word(c.get(), prime);
      if (r == static_cast<BN_ULONG>(-1)) {
        return OpenSslFailure("BN_mod_word");
      }
      if (r == 0) {
        has_small_factor = true;
        break;
      }
    }
    if (has_small_factor) {
      continue;
    }
    if (BN_sub(c1.get(), c.get(), BN_value_one()) != 1 || BN_gcd(g.get(), c1.get(), e, ctx) != 1) {
      return OpenSslFailure("RSA gcd(p - 1, e)");
    }
    if (!BN_is_one(g.get())) {
      continue;
    }
    const int is_prime = BN_check_prime(c.get(), ctx, nullptr);
    if (is_prime < 0) {
      return OpenSslFailure("BN_check_prime");
    }
    if (is_prime == 1) {
      return c;
    }
  }
  return BrokenStream("RSA prime search");
}

// EME-OAEP encoding of `message` into k octets.
Result<SecretBytes> EncodeOaep(size_t k, uint16_t hash_alg, ByteSpan label, ByteSpan message,
                               const RandomFn& rng) {
  TRY_ASSIGN(HashParams hash, LookUpHash(hash_alg));
  if (k < 2 * hash.size + 2) {
    return Rc::Scheme;  // this hash cannot be used with a key this small
  }
  if (message.size() > k - 2 * hash.size - 2) {
    return Rc::Value;
  }
  TRY_ASSIGN(Bytes l_hash, Hash(hash_alg, label));
  const size_t db_size = k - hash.size - 1;
  // DB = lHash || PS (zeros) || 0x01 || M
  SecretBytes db(db_size);
  std::copy(l_hash.begin(), l_hash.end(), db.data());
  db[db_size - message.size() - 1] = 0x01;
  std::copy(message.begin(), message.end(), db.data() + (db_size - message.size()));
  SecretBytes seed(hash.size);
  if (!FillRandom(rng, std::span<uint8_t>(seed.data(), seed.size()))) {
    return OpenSslFailure("RAND_bytes");
  }
  TRY_ASSIGN(SecretBytes db_mask, Mgf1(hash_alg, seed, db_size));
  for (size_t i = 0; i < db_size; ++i) {
    db[i] = static_cast<uint8_t>(db[i] ^ db_mask[i]);
  }
  TRY_ASSIGN(SecretBytes seed_mask, Mgf1(hash_alg, db, hash.size));
  SecretBytes em(k);
  for (size_t i = 0; i < hash.size; ++i) {
    em[1 + i] = static_cast<uint8_t>(seed[i] ^ seed_mask[i]);
  }
  std::copy(db.begin(), db.end(), em.data() + 1 + hash.size);
  return em;
}

// EME-PKCS1-v1_5 encoding: 0x00 || 0x02 || PS (non-zero octets) || 0x00 || M.
Result<SecretBytes> EncodePkcs1(size_t k, ByteSpan message, const RandomFn& rng) {
  if (message.size() + 11 > k) {
    return Rc::Value;
  }
  SecretBytes em(k);
  em[1] = 0x02;
  const size_t ps_size = k - message.size() - 3;
  bool ok = FillRandom(rng, std::span<uint8_t>(em.data() + 2, ps_size));
  // A zero octet is replaced by the next non-zero octet of the stream, so a deterministic
  // stream still gives a deterministic encoding. A fair stream needs about ps_size / 256
  // redraws; thousands mean a broken one.
  size_t redraws = 0;
  for (size_t i = 0; ok && i < ps_size; ++i) {
    while (ok && em[2 + i] == 0) {
      if (++redraws > 4096) {
        return BrokenStream("RSAES-PKCS1-v1_5 padding");
      }
      ok = FillRandom(rng, std::span<uint8_t>(em.data() + 2 + i, 1));
    }
  }
  if (!ok) {
    return OpenSslFailure("RAND_bytes");
  }
  std::copy(message.begin(), message.end(), em.data() + (k - message.size()));
  return em;
}

// True when the big-endian k-octet `value` is less than `modulus` (also k octets).
bool LessThanModulus(ByteSpan value, ByteSpan modulus) {
  return std::lexicographical_compare(value.begin(), value.end(), modulus.begin(), modulus.end());
}

}  // namespace

Result<RsaPrivateKey> RsaGenerate(uint16_t key_bits, uint32_t exponent, const RandomFn& rng) {
  if (!IsSupportedModulusSize(key_bits / 8u) || key_bits % 8 != 0) {
    return Rc::KeySize;
  }
  const uint32_t e_word = EffectiveExponent(exponent);
  if (e_word < 3 || e_word % 2 == 0) {
    return Rc::Range;
  }
  if (!rng) {
    return Rc::Failure;  // a caller bug: generation must be reproducible
  }
  const size_t half_bits = key_bits / 2u;
  const size_t half_bytes = half_bits / 8;
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn e, BnFromWord(e_word));
  TRY_ASSIGN(Bn n, NewBn(false));
  TRY_ASSIGN(Bn diff, NewBn(true));
  TRY_ASSIGN(Bn min_diff, NewBn(false));
  if (BN_set_bit(min_diff.get(), static_cast<int>(half_bits - 100)) != 1) {
    return OpenSslFailure("BN_set_bit");
  }
  // Each retry below happens with probability below 2^-90 for a fair stream; a bound turns a
  // broken stream (which would find the same primes again and again) into an error.
  constexpr int kMaxRetries = 16;
  for (int restart = 0; restart < kMaxRetries; ++restart) {
    // Part 1 §43.8.3 steps 2-4.
    TRY_ASSIGN(Bn p, FindPrime(half_bytes, e.get(), rng, ctx.get()));
    Bn q;
    bool far_apart = false;
    for (int retry = 0; retry < kMaxRetries && !far_apart; ++retry) {
      TRY_ASSIGN(q, FindPrime(half_bytes, e.get(), rng, ctx.get()));
      if (BN_sub(diff.get(), p.get(), q.get()) != 1) {
        return OpenSslFailure("BN_sub");
      }
      BN_set_negative(diff.get(), 0);
      far_apart = BN_cmp(diff.get(), min_diff.get()) > 0;
    }
    if (!far_apart) {
      return BrokenStream("RSA key generation");
    }
    if (BN_mul(n.get(), p.get(), q.get(), ctx.get()) != 1) {
      return OpenSslFailure("BN_mul");
    }
    TRY_ASSIGN(PrivateValues v, RecomputePrivate(n.get(), e_word, p.get(), ctx.get()));
    // Part 1 §43.8.3 step 7: a private exponent below 2^(k/2) starts over with a new p.
    if (BN_num_bits(v.d.get()) <= static_cast<int>(half_bits)) {
      continue;
    }
    RsaPrivateKey key;
    key.pub.exponent = exponent;
    TRY_ASSIGN(key.pub.modulus, BnToBytes<Bytes>(n.get(), key_bits / 8u));
    TRY_ASSIGN(key.prime, BnToBytes<SecretBytes>(p.get(), half_bytes));
    return key;
  }
  return BrokenStream("RSA key generation");
}

Result<RsaPrivateKey> RsaFromPrime(const RsaPublicKey& pub, ByteSpan prime) {
  TRY_ASSIGN(PublicValues values, CheckPublic(pub));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn n, BnFromBytes(values.modulus));
  TRY_ASSIGN(Bn p, BnFromBytes(prime));
  BN_set_flags(p.get(), BN_FLG_CONSTTIME);
  TRY_ASSIGN(PrivateValues v, RecomputePrivate(n.get(), values.exponent, p.get(), ctx.get()));
  RsaPrivateKey key;
  key.pub = pub;
  TRY_ASSIGN(key.prime,
             BnToBytes<SecretBytes>(v.p.get(), static_cast<size_t>(BN_num_bytes(v.p.get()))));
  return key;
}

Result<Bytes> RsaEncrypt(const RsaPublicKey& pub, uint16_t scheme, uint16_t hash_alg,
                         ByteSpan label, ByteSpan message, const RandomFn& rng) {
  TRY_ASSIGN(PublicValues values, CheckPublic(pub));
  const size_t k = values.modulus.size();
  SecretBytes em;
  switch (scheme) {
    case TpmAlg::Oaep: {
      TRY_ASSIGN(em, EncodeOaep(k, hash_alg, label, message, rng));
      break;
    }
    case TpmAlg::RsaEs: {
      TRY_ASSIGN(em, EncodePkcs1(k, message, rng));
      break;
    }
    case TpmAlg::Null: {
      // Part 3 §14.2 Table 43: at most k octets whose value is less than n.
      if (message.size() > k) {
        return Rc::Value;
      }
      em = SecretBytes(k);
      std::copy(message.begin(), message.end(), em.data() + (k - message.size()));
      if (!LessThanModulus(em, values.modulus)) {
        return Rc::Value;
      }
      break;
    }
    default:
      return Rc::Scheme;
  }
  // The padding is ours (so that its randomness can come from `rng`); OpenSSL does RSAEP.
  TRY_ASSIGN(EvpPkey pkey, PublicPkey(values));
  TRY_ASSIGN(EvpPkeyCtx ctx, OperationCtx(pkey));
  const OSSL_PARAM params[] = {
      Utf8Param(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_NONE),
      OSSL_PARAM_construct_end(),
  };
  Bytes out(k);
  size_t out_len = out.size();
  if (EVP_PKEY_encrypt_init_ex(ctx.get(), params) != 1 ||
      EVP_PKEY_encrypt(ctx.get(), out.data(), &out_len, em.data(), em.size()) != 1 ||
      out_len != k) {
    return OpenSslFailure("RSAEP");
  }
  return out;
}

Result<SecretBytes> RsaDecrypt(const RsaPrivateKey& priv, uint16_t scheme, uint16_t hash_alg,
                               ByteSpan label, ByteSpan ciphertext) {
  TRY_ASSIGN(PublicValues values, CheckPublic(priv.pub));
  const size_t k = values.modulus.size();
  OSSL_PARAM params[6];
  size_t n_params = 0;
  HashParams hash{};
  [[maybe_unused]] unsigned int implicit_rejection = 0;
  switch (scheme) {
    case TpmAlg::Oaep: {
      TRY_ASSIGN(hash, LookUpHash(hash_alg));
      if (k < 2 * hash.size + 2) {
        return Rc::Scheme;
      }
      params[n_params++] = Utf8Param(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_OAEP);
      params[n_params++] = Utf8Param(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, hash.name);
      params[n_params++] = Utf8Param(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, hash.name);
      if (!label.empty()) {
        // OpenSSL copies the label; the cast only satisfies OSSL_PARAM's non-const pointer.
        params[n_params++] = OSSL_PARAM_construct_octet_string(
            OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, const_cast<uint8_t*>(label.data()), label.size());
      }
      break;
    }
    case TpmAlg::RsaEs:
      params[n_params++] =
          Utf8Param(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_PKCSV15);
      // OpenSSL 3.2 and later answer a bad PKCS #1 v1.5 padding with a synthetic message
      // (implicit rejection); the TPM reports TPM_RC_VALUE instead (Part 3 §14.3).
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
      params[n_params++] =
          OSSL_PARAM_construct_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &implicit_rejection);
#endif
      break;
    case TpmAlg::Null:
      params[n_params++] = Utf8Param(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_NONE);
      break;
    default:
      return Rc::Scheme;
  }
  params[n_params] = OSSL_PARAM_construct_end();
  // Part 3 §14.3: a ciphertext is the size of the modulus and, as a number, less than it.
  if (ciphertext.size() != k) {
    return Rc::Size;
  }
  if (!LessThanModulus(ciphertext, values.modulus)) {
    return Rc::Value;
  }
  TRY_ASSIGN(EvpPkey pkey, PrivatePkey(priv));
  TRY_ASSIGN(EvpPkeyCtx ctx, OperationCtx(pkey));
  if (EVP_PKEY_decrypt_init_ex(ctx.get(), params) != 1) {
    return OpenSslFailure("RSA decrypt init");
  }
  SecretBytes out(k);
  size_t out_len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &out_len, ciphertext.data(), ciphertext.size()) !=
      1) {
    if (scheme == TpmAlg::Null) {
      return OpenSslFailure("RSADP");
    }
    // A padding that does not check is the caller's error, not an internal fault: clear the
    // queue instead of logging it (and do not say which check failed).
    ERR_clear_error();
    return Rc::Value;
  }
  if (out_len > k) {
    return OpenSslFailure("RSA decrypt length");
  }
  out.resize(out_len);
  return out;
}

Result<Bytes> RsaSign(const RsaPrivateKey& priv, uint16_t scheme, uint16_t hash_alg,
                      ByteSpan digest) {
  TRY_ASSIGN(PublicValues values, CheckPublic(priv.pub));
  if (scheme != TpmAlg::RsaSsa && scheme != TpmAlg::RsaPss) {
    return Rc::Scheme;
  }
  TRY_ASSIGN(HashParams hash, LookUpHash(hash_alg));
  if (digest.size() != hash.size) {
    return Rc::Size;
  }
  const size_t k = values.modulus.size();
  // Part 1 §43.7: the salt is as long as FIPS 186-5 allows, at most the digest size; RFC 8017
  // §9.1.1 needs emLen >= hLen + sLen + 2, with emLen = ceil((modBits - 1) / 8).
  size_t mod_bits = 8 * (k - 1);
  for (unsigned top = values.modulus[0]; top != 0; top >>= 1) {
    ++mod_bits;
  }
  const size_t em_len = (mod_bits - 1 + 7) / 8;
  const size_t max_salt = em_len >= hash.size + 2 ? em_len - hash.size - 2 : 0;
  int salt_len = static_cast<int>(std::min(hash.size, max_salt));
  OSSL_PARAM params[5];
  size_t n_params = 0;
  params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_DIGEST, hash.name);
  if (scheme == TpmAlg::RsaSsa) {
    params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_PKCSV15);
  } else {
    params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_PSS);
    params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, hash.name);
    params[n_params++] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt_len);
  }
  params[n_params] = OSSL_PARAM_construct_end();
  TRY_ASSIGN(EvpPkey pkey, PrivatePkey(priv));
  TRY_ASSIGN(EvpPkeyCtx ctx, OperationCtx(pkey));
  Bytes out(k);
  size_t out_len = out.size();
  if (EVP_PKEY_sign_init_ex(ctx.get(), params) != 1 ||
      EVP_PKEY_sign(ctx.get(), out.data(), &out_len, digest.data(), digest.size()) != 1) {
    return OpenSslFailure("RSA sign");
  }
  if (out_len != k) {
    return OpenSslFailure("RSA signature length");
  }
  return out;
}

RcStatus RsaVerify(const RsaPublicKey& pub, uint16_t scheme, uint16_t hash_alg, ByteSpan digest,
                   ByteSpan signature) {
  TRY_ASSIGN(PublicValues values, CheckPublic(pub));
  if (scheme != TpmAlg::RsaSsa && scheme != TpmAlg::RsaPss) {
    return Rc::Scheme;
  }
  TRY_ASSIGN(HashParams hash, LookUpHash(hash_alg));
  if (digest.size() != hash.size || signature.size() != values.modulus.size() ||
      !LessThanModulus(signature, values.modulus)) {
    return Rc::Signature;
  }
  OSSL_PARAM params[5];
  size_t n_params = 0;
  params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_DIGEST, hash.name);
  if (scheme == TpmAlg::RsaSsa) {
    params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_PKCSV15);
  } else {
    params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_PSS);
    params[n_params++] = Utf8Param(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, hash.name);
    params[n_params++] =
        Utf8Param(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO);
  }
  params[n_params] = OSSL_PARAM_construct_end();
  TRY_ASSIGN(EvpPkey pkey, PublicPkey(values));
  TRY_ASSIGN(EvpPkeyCtx ctx, OperationCtx(pkey));
  if (EVP_PKEY_verify_init_ex(ctx.get(), params) != 1) {
    return OpenSslFailure("RSA verify init");
  }
  if (EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(),
                      digest.size()) != 1) {
    ERR_clear_error();  // a bad signature is an answer, not a fault
    return Rc::Signature;
  }
  return {};
}

}  // namespace tpm2emu::crypto
