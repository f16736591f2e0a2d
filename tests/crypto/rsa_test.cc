#include "crypto/rsa.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/drbg.h"
#include "crypto/evp.h"
#include "crypto/hash.h"
#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::Sequence;
using test::ToHex;

// A reproducible random stream: HMAC_DRBG over a fixed seed (crypto/drbg.h), shared by the
// copies std::function makes.
RandomFn FixedStream(uint8_t seed_byte) {
  auto drbg = std::make_shared<Drbg>(Bytes(48, seed_byte));
  return [drbg](std::span<uint8_t> out) { drbg->Generate(out); };
}

// The generated keys are shared by the tests (generation dominates the run time).
const RsaPrivateKey& Key2048() {
  static const RsaPrivateKey key = [] {
    auto k = RsaGenerate(2048, 0, FixedStream(0x5A));
    return k.ok() ? *k : RsaPrivateKey{};
  }();
  return key;
}

const RsaPrivateKey& Key1024() {
  static const RsaPrivateKey key = [] {
    auto k = RsaGenerate(1024, 0, FixedStream(0x11));
    return k.ok() ? *k : RsaPrivateKey{};
  }();
  return key;
}

Bytes Sha256(ByteSpan data) {
  auto d = Hash(TpmAlg::Sha256, data);
  return d.ok() ? *d : Bytes{};
}

// Independent views of our keys through OpenSSL, for the interoperability checks.

EvpPkey OpenSslPublicKey(const RsaPublicKey& pub) {
  Bn n(BN_bin2bn(pub.modulus.data(), static_cast<int>(pub.modulus.size()), nullptr));
  Bn e(BN_new());
  BN_set_word(e.get(), pub.exponent == 0 ? 65537 : pub.exponent);
  OsslParamBld bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  OsslParams params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx.get());
  EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get());
  return EvpPkey(pkey);
}

Bytes BnBytes(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    return {};
  }
  Bn bn(raw);
  Bytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

// A key made by OpenSSL's own generator, in our representation.
struct OpenSslKey {
  EvpPkey pkey;
  RsaPrivateKey ours;
};
OpenSslKey OpenSslGenerated(unsigned bits) {
  OpenSslKey key;
  key.pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (key.pkey == nullptr) {
    return key;
  }
  key.ours.pub.modulus = BnBytes(key.pkey.get(), OSSL_PKEY_PARAM_RSA_N);
  key.ours.pub.exponent = 0;  // OpenSSL's default is 65537 as well
  const Bytes p = BnBytes(key.pkey.get(), OSSL_PKEY_PARAM_RSA_FACTOR1);
  auto priv = RsaFromPrime(key.ours.pub, p);
  if (priv.ok()) {
    key.ours = *priv;
  }
  return key;
}

bool OpenSslVerify(EVP_PKEY* pkey, bool pss, ByteSpan message, ByteSpan signature) {
  EvpMdCtx md_ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit_ex(md_ctx.get(), &pctx, "SHA2-256", nullptr, nullptr, pkey, nullptr) !=
      1) {
    return false;
  }
  if (pss) {
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, const_cast<char*>("pss"),
                                         0),
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                         const_cast<char*>("auto"), 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX_set_params(pctx, params);
  }
  return EVP_DigestVerify(md_ctx.get(), signature.data(), signature.size(), message.data(),
                          message.size()) == 1;
}

TEST(CryptoRsaGenerate, SameStreamGivesSameKey) {
  const auto start = std::chrono::steady_clock::now();
  auto a = RsaGenerate(2048, 0, FixedStream(0x5A));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(a.ok());
  auto b = RsaGenerate(2048, 0, FixedStream(0x5A));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->pub.modulus, b->pub.modulus);
  EXPECT_TRUE(a->prime == b->prime);
  EXPECT_EQ(a->pub.modulus, Key2048().pub.modulus);
  std::printf("RSA-2048 generation took %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST(CryptoRsaGenerate, DifferentStreamGivesDifferentKey) {
  auto other = RsaGenerate(2048, 0, FixedStream(0x5B));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->pub.modulus, Key2048().pub.modulus);
}

// The construction is part of the interface: a primary key must come out the same on every
// future build. These digests (SHA-256 of n and of p) were computed by a separate Python program
// written from the description in rsa.h (HMAC_DRBG, candidate draws, trial division, gcd with
// e, Miller-Rabin, |p - q| and d checks), not by rsa.cc. If this fails, every RSA primary key,
// EK and SRK included, would change.
TEST(CryptoRsaGenerate, ConstructionIsPinned) {
  EXPECT_EQ(ToHex(Sha256(Key2048().pub.modulus)),
            "89f9c114496f235623afefe3de13b1cbe2c341c7ea4642c23dfa779e0d27a266");
  EXPECT_EQ(ToHex(Sha256(Key2048().prime)),
            "823f8c33ee67e8cca94083fb46ae0fea418e59312c6da4e609dc70cf998d7578");
  EXPECT_EQ(ToHex(Sha256(Key1024().pub.modulus)),
            "e1a7f409a8f06fd7d010168fc991b57cca2b2339d12cec107065fae59d00e16b");
}

TEST(CryptoRsaGenerate, KeyHasTheRequiredShape) {
  const RsaPrivateKey& key = Key2048();
  ASSERT_EQ(key.pub.modulus.size(), 256u);
  EXPECT_GE(key.pub.modulus[0], 0x80);  // exactly 2048 bits
  ASSERT_EQ(key.prime.size(), 128u);
  EXPECT_GE(key.prime[0], 0xC0);  // the top two bits are set
  EXPECT_EQ(key.prime[127] & 1, 1);
  EXPECT_EQ(key.pub.exponent, 0u);  // kept as given: 0 means 65537
  // p divides n (and q is in range): RsaFromPrime accepts it.
  auto again = RsaFromPrime(key.pub, key.prime);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->prime == key.prime);
}

TEST(CryptoRsaGenerate, OtherSizesAndExponent) {
  for (uint16_t bits : {uint16_t{1024}, uint16_t{3072}}) {
    auto key = RsaGenerate(bits, 0, FixedStream(0x33));
    ASSERT_TRUE(key.ok()) << bits;
    EXPECT_EQ(key->pub.modulus.size(), bits / 8u);
    EXPECT_EQ(key->prime.size(), bits / 16u);
  }
  auto key = RsaGenerate(1024, 3, FixedStream(0x34));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->pub.exponent, 3u);
  const Bytes digest = Sha256(ToBytes("e = 3"));
  auto sig = RsaSign(*key, TpmAlg::RsaSsa, TpmAlg::Sha256, digest);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(RsaVerify(key->pub, TpmAlg::RsaSsa, TpmAlg::Sha256, digest, *sig).ok());
}

TEST(CryptoRsaGenerate, RejectsBadParameters) {
  const RandomFn rng = FixedStream(1);
  EXPECT_EQ(RsaGenerate(1536, 0, rng).error(), Rc::KeySize);
  EXPECT_EQ(RsaGenerate(512, 0, rng).error(), Rc::KeySize);
  EXPECT_EQ(RsaGenerate(2048, 65536, rng).error(), Rc::Range);
  EXPECT_EQ(RsaGenerate(2048, 1, rng).error(), Rc::Range);
}

// A DRBG in its error state returns zeros: generation must fail, not loop forever.
TEST(CryptoRsaGenerate, ConstantStreamFails) {
  const RandomFn zeros = [](std::span<uint8_t> out) { std::fill(out.begin(), out.end(), 0); };
  EXPECT_EQ(RsaGenerate(2048, 0, zeros).error(), Rc::Failure);
  EXPECT_EQ(RsaGenerate(2048, 0, RandomFn{}).error(), Rc::Failure);
  EXPECT_EQ(RsaEncrypt(Key2048().pub, TpmAlg::RsaEs, TpmAlg::Null, {}, Bytes(10, 1), zeros).error(),
            Rc::Failure);
}

TEST(CryptoRsaFromPrime, EitherPrimeWorks) {
  const OpenSslKey key = OpenSslGenerated(2048);
  ASSERT_NE(key.pkey, nullptr);
  ASSERT_FALSE(key.ours.prime.empty());
  const Bytes q = BnBytes(key.pkey.get(), OSSL_PKEY_PARAM_RSA_FACTOR2);
  auto from_q = RsaFromPrime(key.ours.pub, q);
  ASSERT_TRUE(from_q.ok());
  // Both give working keys: a signature by either verifies.
  const Bytes digest = Sha256(ToBytes("either prime"));
  auto sig = RsaSign(*from_q, TpmAlg::RsaSsa, TpmAlg::Sha256, digest);
  ASSERT_TRUE(sig.ok());
  auto sig_p = RsaSign(key.ours, TpmAlg::RsaSsa, TpmAlg::Sha256, digest);
  ASSERT_TRUE(sig_p.ok());
  EXPECT_EQ(*sig, *sig_p);  // RSASSA-PKCS1-v1_5 is deterministic
}

TEST(CryptoRsaFromPrime, WrongPrimeGivesBinding) {
  const RsaPrivateKey& key = Key2048();
  SecretBytes wrong = key.prime;
  wrong[wrong.size() - 1] = static_cast<uint8_t>(wrong[wrong.size() - 1] ^ 2);
  EXPECT_EQ(RsaFromPrime(key.pub, wrong).error(), Rc::Binding);
  EXPECT_EQ(RsaFromPrime(key.pub, Bytes{}).error(), Rc::Binding);
  EXPECT_EQ(RsaFromPrime(key.pub, Bytes{1}).error(), Rc::Binding);
  // n itself divides n, but its square is far too large (Part 1 §43.1).
  EXPECT_EQ(RsaFromPrime(key.pub, key.pub.modulus).error(), Rc::Binding);
  // A prime of another key.
  EXPECT_EQ(RsaFromPrime(key.pub, Key1024().prime).error(), Rc::Binding);
}

TEST(CryptoRsaFromPrime, BadModulusSizeGivesKeySize) {
  RsaPublicKey pub{Bytes(200, 0xFF), 0};
  EXPECT_EQ(RsaFromPrime(pub, Bytes(100, 0xFF)).error(), Rc::KeySize);
  // Leading zero octets are not counted.
  RsaPublicKey padded{Key1024().pub.modulus, 0};
  padded.modulus.insert(padded.modulus.begin(), 0);
  EXPECT_TRUE(RsaFromPrime(padded, Key1024().prime).ok());
}

TEST(CryptoRsaEncrypt, OaepRoundTrip) {
  const RsaPrivateKey& key = Key2048();
  const Bytes message = Sequence(1, 32);
  auto c = RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sha256, {}, message);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->size(), 256u);
  auto m = RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, {}, *c);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ToBytes(m->span()), message);
}

TEST(CryptoRsaEncrypt, OaepLabelMustMatch) {
  const RsaPrivateKey& key = Key2048();
  const Bytes message = Sequence(7, 20);
  // Part 1 §43.4: the TPM's labels include their terminating zero octet.
  const Bytes label = {'S', 'E', 'C', 'R', 'E', 'T', 0};
  auto c = RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sha1, label, message);
  ASSERT_TRUE(c.ok());
  auto m = RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha1, label, *c);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ToBytes(m->span()), message);
  const Bytes without_zero = {'S', 'E', 'C', 'R', 'E', 'T'};
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha1, without_zero, *c).error(), Rc::Value);
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha1, {}, *c).error(), Rc::Value);
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, label, *c).error(), Rc::Value);
}

TEST(CryptoRsaEncrypt, OaepSizeLimits) {
  const RsaPrivateKey& key = Key2048();
  // Part 3 §14.2 Table 43: mLen <= k - 2 hLen - 2.
  const Bytes longest(256 - 2 * 32 - 2, 0xAB);
  auto c = RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sha256, {}, longest);
  ASSERT_TRUE(c.ok());
  auto m = RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, {}, *c);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ToBytes(m->span()), longest);
  const Bytes too_long(longest.size() + 1, 0xAB);
  EXPECT_EQ(RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sha256, {}, too_long).error(), Rc::Value);
  // SHA-512 OAEP does not fit a 1024-bit key at all (2 * 64 + 2 > 128).
  EXPECT_EQ(RsaEncrypt(Key1024().pub, TpmAlg::Oaep, TpmAlg::Sha512, {}, Bytes{1}).error(),
            Rc::Scheme);
  EXPECT_EQ(RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sm3_256, {}, Bytes{1}).error(), Rc::Hash);
  // An empty message is allowed.
  auto empty = RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sha256, {}, {});
  ASSERT_TRUE(empty.ok());
  auto m_empty = RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, {}, *empty);
  ASSERT_TRUE(m_empty.ok());
  EXPECT_TRUE(m_empty->empty());
}

TEST(CryptoRsaEncrypt, EncryptionIsRepeatableWithAStream) {
  const RsaPrivateKey& key = Key2048();
  const Bytes message = Sequence(3, 16);
  for (uint16_t scheme : {TpmAlg::Oaep, TpmAlg::RsaEs}) {
    auto a = RsaEncrypt(key.pub, scheme, TpmAlg::Sha256, {}, message, FixedStream(9));
    auto b = RsaEncrypt(key.pub, scheme, TpmAlg::Sha256, {}, message, FixedStream(9));
    auto c = RsaEncrypt(key.pub, scheme, TpmAlg::Sha256, {}, message);
    auto d = RsaEncrypt(key.pub, scheme, TpmAlg::Sha256, {}, message);
    ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
    EXPECT_EQ(*a, *b) << scheme;
    EXPECT_NE(*c, *d) << scheme;  // from OpenSSL's RNG
  }
}

TEST(CryptoRsaEncrypt, Pkcs1RoundTrip) {
  const RsaPrivateKey& key = Key2048();
  const Bytes message = Sequence(0x80, 245);  // k - 11, the longest
  auto c = RsaEncrypt(key.pub, TpmAlg::RsaEs, TpmAlg::Null, {}, message);
  ASSERT_TRUE(c.ok());
  auto m = RsaDecrypt(key, TpmAlg::RsaEs, TpmAlg::Null, {}, *c);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ToBytes(m->span()), message);
  EXPECT_EQ(RsaEncrypt(key.pub, TpmAlg::RsaEs, TpmAlg::Null, {}, Bytes(246, 1)).error(), Rc::Value);
  // An OAEP ciphertext does not decode as PKCS #1 v1.5.
  auto oaep = RsaEncrypt(key.pub, TpmAlg::Oaep, TpmAlg::Sha256, {}, ByteSpan(message).first(10));
  ASSERT_TRUE(oaep.ok());
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::RsaEs, TpmAlg::Null, {}, *oaep).error(), Rc::Value);
}

TEST(CryptoRsaEncrypt, RawRoundTripKeepsLeadingZeros) {
  const RsaPrivateKey& key = Key2048();
  const Bytes message = Sequence(1, 40);
  auto c = RsaEncrypt(key.pub, TpmAlg::Null, TpmAlg::Null, {}, message);
  ASSERT_TRUE(c.ok());
  auto m = RsaDecrypt(key, TpmAlg::Null, TpmAlg::Null, {}, *c);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 256u);
  Bytes expected(256 - message.size(), 0);
  expected.insert(expected.end(), message.begin(), message.end());
  EXPECT_EQ(ToBytes(m->span()), expected);
  // Textbook RSA is deterministic.
  auto again = RsaEncrypt(key.pub, TpmAlg::Null, TpmAlg::Null, {}, message);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *c);
}

TEST(CryptoRsaEncrypt, RawValueMustBeBelowModulus) {
  const RsaPrivateKey& key = Key2048();
  EXPECT_EQ(RsaEncrypt(key.pub, TpmAlg::Null, TpmAlg::Null, {}, key.pub.modulus).error(),
            Rc::Value);
  EXPECT_EQ(RsaEncrypt(key.pub, TpmAlg::Null, TpmAlg::Null, {}, Bytes(257, 0)).error(), Rc::Value);
  Bytes below = key.pub.modulus;
  below.back() = static_cast<uint8_t>(below.back() - 1);
  EXPECT_TRUE(RsaEncrypt(key.pub, TpmAlg::Null, TpmAlg::Null, {}, below).ok());
}

TEST(CryptoRsaDecrypt, CiphertextChecks) {
  const RsaPrivateKey& key = Key2048();
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, {}, Bytes(255, 1)).error(), Rc::Size);
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Null, TpmAlg::Null, {}, Bytes(257, 1)).error(), Rc::Size);
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Null, TpmAlg::Null, {}, key.pub.modulus).error(), Rc::Value);
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::RsaSsa, TpmAlg::Sha256, {}, Bytes(256, 1)).error(), Rc::Scheme);
  EXPECT_EQ(RsaEncrypt(key.pub, TpmAlg::RsaPss, TpmAlg::Sha256, {}, Bytes(1, 1)).error(),
            Rc::Scheme);
  // A garbage ciphertext fails the padding check as TPM_RC_VALUE, for both padded schemes.
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, {}, Bytes(256, 1)).error(), Rc::Value);
  EXPECT_EQ(RsaDecrypt(key, TpmAlg::RsaEs, TpmAlg::Null, {}, Bytes(256, 1)).error(), Rc::Value);
  // A private key whose prime does not fit.
  RsaPrivateKey broken = key;
  broken.prime = Key1024().prime;
  EXPECT_EQ(RsaDecrypt(broken, TpmAlg::Null, TpmAlg::Null, {}, Bytes(256, 1)).error(), Rc::Binding);
}

TEST(CryptoRsaSign, RsassaAndPssRoundTrip) {
  const RsaPrivateKey& key = Key2048();
  const Bytes digest = Sha256(ToBytes("message"));
  for (uint16_t scheme : {TpmAlg::RsaSsa, TpmAlg::RsaPss}) {
    auto sig = RsaSign(key, scheme, TpmAlg::Sha256, digest);
    ASSERT_TRUE(sig.ok()) << scheme;
    EXPECT_EQ(sig->size(), 256u);
    EXPECT_TRUE(RsaVerify(key.pub, scheme, TpmAlg::Sha256, digest, *sig).ok()) << scheme;
    Bytes tampered = *sig;
    tampered[100] = static_cast<uint8_t>(tampered[100] ^ 1);
    EXPECT_EQ(RsaVerify(key.pub, scheme, TpmAlg::Sha256, digest, tampered).error(), Rc::Signature);
    Bytes other_digest = digest;
    other_digest[0] = static_cast<uint8_t>(other_digest[0] ^ 0x80);
    EXPECT_EQ(RsaVerify(key.pub, scheme, TpmAlg::Sha256, other_digest, *sig).error(),
              Rc::Signature);
    EXPECT_EQ(RsaVerify(key.pub, scheme, TpmAlg::Sha256, digest, ByteSpan(*sig).first(255)).error(),
              Rc::Signature);
  }
  // The two schemes do not verify each other's signatures.
  auto ssa = RsaSign(key, TpmAlg::RsaSsa, TpmAlg::Sha256, digest);
  ASSERT_TRUE(ssa.ok());
  EXPECT_EQ(RsaVerify(key.pub, TpmAlg::RsaPss, TpmAlg::Sha256, digest, *ssa).error(),
            Rc::Signature);
}

TEST(CryptoRsaSign, ChecksSchemeHashAndDigestSize) {
  const RsaPrivateKey& key = Key2048();
  const Bytes digest = Sha256(ToBytes("message"));
  EXPECT_EQ(RsaSign(key, TpmAlg::Oaep, TpmAlg::Sha256, digest).error(), Rc::Scheme);
  EXPECT_EQ(RsaSign(key, TpmAlg::RsaSsa, TpmAlg::Sm3_256, digest).error(), Rc::Hash);
  EXPECT_EQ(RsaSign(key, TpmAlg::RsaSsa, TpmAlg::Sha384, digest).error(), Rc::Size);
  EXPECT_EQ(RsaVerify(key.pub, TpmAlg::EcDsa, TpmAlg::Sha256, digest, Bytes(256)).error(),
            Rc::Scheme);
  EXPECT_EQ(RsaVerify(key.pub, TpmAlg::RsaSsa, TpmAlg::Sha384, digest, Bytes(256)).error(),
            Rc::Signature);
}

TEST(CryptoRsaSign, PssSaltIsShortenedForSmallKeys) {
  // 1024-bit key, SHA-512: emLen 128 < 64 + 64 + 2, so the salt must be shorter than the digest.
  const RsaPrivateKey& key = Key1024();
  auto digest = Hash(TpmAlg::Sha512, ToBytes("small key"));
  ASSERT_TRUE(digest.ok());
  auto sig = RsaSign(key, TpmAlg::RsaPss, TpmAlg::Sha512, *digest);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(RsaVerify(key.pub, TpmAlg::RsaPss, TpmAlg::Sha512, *digest, *sig).ok());
}

TEST(CryptoRsaSign, AllHashes) {
  const RsaPrivateKey& key = Key2048();
  for (uint16_t hash : {TpmAlg::Sha1, TpmAlg::Sha256, TpmAlg::Sha384, TpmAlg::Sha512}) {
    if (!IsHashSupported(hash)) {
      continue;
    }
    auto digest = Hash(hash, ToBytes("all hashes"));
    ASSERT_TRUE(digest.ok());
    for (uint16_t scheme : {TpmAlg::RsaSsa, TpmAlg::RsaPss}) {
      auto sig = RsaSign(key, scheme, hash, *digest);
      ASSERT_TRUE(sig.ok()) << scheme << " " << hash;
      EXPECT_TRUE(RsaVerify(key.pub, scheme, hash, *digest, *sig).ok()) << scheme << " " << hash;
    }
  }
}

TEST(CryptoRsaInterop, OpenSslVerifiesOurSignatures) {
  const RsaPrivateKey& key = Key2048();
  EvpPkey pkey = OpenSslPublicKey(key.pub);
  ASSERT_NE(pkey, nullptr);
  const Bytes message = ToBytes("signed by tpm2emu");
  const Bytes digest = Sha256(message);
  for (bool pss : {false, true}) {
    auto sig = RsaSign(key, pss ? TpmAlg::RsaPss : TpmAlg::RsaSsa, TpmAlg::Sha256, digest);
    ASSERT_TRUE(sig.ok());
    EXPECT_TRUE(OpenSslVerify(pkey.get(), pss, message, *sig)) << "pss " << pss;
  }
}

TEST(CryptoRsaInterop, WeVerifyOpenSslSignatures) {
  const OpenSslKey key = OpenSslGenerated(2048);
  ASSERT_NE(key.pkey, nullptr);
  const Bytes message = ToBytes("signed by OpenSSL");
  for (bool pss : {false, true}) {
    EvpMdCtx md_ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ASSERT_EQ(EVP_DigestSignInit_ex(md_ctx.get(), &pctx, "SHA2-256", nullptr, nullptr,
                                    key.pkey.get(), nullptr),
              1);
    if (pss) {
      // Salt length 20, not the digest length: verification must accept any salt length.
      int salt = 20;
      const OSSL_PARAM params[] = {
          OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, const_cast<char*>("pss"),
                                           0),
          OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, &salt),
          OSSL_PARAM_construct_end(),
      };
      ASSERT_EQ(EVP_PKEY_CTX_set_params(pctx, params), 1);
    }
    Bytes sig(256);
    size_t sig_len = sig.size();
    ASSERT_EQ(EVP_DigestSign(md_ctx.get(), sig.data(), &sig_len, message.data(), message.size()),
              1);
    sig.resize(sig_len);
    EXPECT_TRUE(RsaVerify(key.ours.pub, pss ? TpmAlg::RsaPss : TpmAlg::RsaSsa, TpmAlg::Sha256,
                          Sha256(message), sig)
                    .ok())
        << "pss " << pss;
  }
}

TEST(CryptoRsaInterop, OaepBothWays) {
  const OpenSslKey key = OpenSslGenerated(2048);
  ASSERT_NE(key.pkey, nullptr);
  const Bytes label = {'D', 'U', 'P', 'L', 'I', 'C', 'A', 'T', 'E', 0};
  const Bytes message = Sequence(0x40, 48);
  auto oaep_ctx = [&](bool encrypt) {
    EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, const_cast<char*>("oaep"),
                                         0),
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
                                         const_cast<char*>("SHA2-256"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
                                          const_cast<uint8_t*>(label.data()), label.size()),
        OSSL_PARAM_construct_end(),
    };
    const int rc = encrypt ? EVP_PKEY_encrypt_init_ex(ctx.get(), params)
                           : EVP_PKEY_decrypt_init_ex(ctx.get(), params);
    EXPECT_EQ(rc, 1);
    return ctx;
  };
  // OpenSSL encrypts, we decrypt.
  {
    EvpPkeyCtx ctx = oaep_ctx(true);
    Bytes c(256);
    size_t len = c.size();
    ASSERT_EQ(EVP_PKEY_encrypt(ctx.get(), c.data(), &len, message.data(), message.size()), 1);
    auto m = RsaDecrypt(key.ours, TpmAlg::Oaep, TpmAlg::Sha256, label, c);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(ToBytes(m->span()), message);
  }
  // We encrypt (our own OAEP encoding), OpenSSL decrypts.
  {
    auto c = RsaEncrypt(key.ours.pub, TpmAlg::Oaep, TpmAlg::Sha256, label, message);
    ASSERT_TRUE(c.ok());
    EvpPkeyCtx ctx = oaep_ctx(false);
    Bytes m(256);
    size_t len = m.size();
    ASSERT_EQ(EVP_PKEY_decrypt(ctx.get(), m.data(), &len, c->data(), c->size()), 1);
    m.resize(len);
    EXPECT_EQ(m, message);
  }
  // And PKCS #1 v1.5 from us, decrypted by OpenSSL.
  {
    auto c = RsaEncrypt(key.ours.pub, TpmAlg::RsaEs, TpmAlg::Null, {}, message);
    ASSERT_TRUE(c.ok());
    EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key.pkey.get(), nullptr));
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE,
                                         const_cast<char*>("pkcs1"), 0),
        OSSL_PARAM_construct_end(),
    };
    ASSERT_EQ(EVP_PKEY_decrypt_init_ex(ctx.get(), params), 1);
    Bytes m(256);
    size_t len = m.size();
    ASSERT_EQ(EVP_PKEY_decrypt(ctx.get(), m.data(), &len, c->data(), c->size()), 1);
    m.resize(len);
    EXPECT_EQ(m, message);
  }
}

// The openssl command-line tool, a separate program, verifies a PSS signature made here, and
// makes an OAEP ciphertext (with a label) that we decrypt. Skipped, saying why, when the tool is
// not on PATH.
TEST(CryptoRsaInterop, OpenSslCliAcceptsOurOutput) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no openssl command on PATH";
  }
  char dir_template[] = "/tmp/tpm2emu-rsa-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  auto write = [&](const std::string& name, ByteSpan data) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  };
  const RsaPrivateKey& key = Key2048();
  EvpPkey pkey = OpenSslPublicKey(key.pub);
  ASSERT_NE(pkey, nullptr);
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file((dir + "/pub.pem").c_str(), "w"),
                                                  &BIO_free);
    ASSERT_NE(bio, nullptr);
    ASSERT_EQ(PEM_write_bio_PUBKEY(bio.get(), pkey.get()), 1);
  }
  const Bytes digest = Sha256(ToBytes("checked by the openssl tool"));
  auto sig = RsaSign(key, TpmAlg::RsaPss, TpmAlg::Sha256, digest);
  ASSERT_TRUE(sig.ok());
  write("digest.bin", digest);
  write("sig.bin", *sig);
  const std::string verify = "cd " + dir +
                             " && openssl pkeyutl -verify -pubin -inkey pub.pem -in digest.bin"
                             " -sigfile sig.bin -pkeyopt digest:sha256"
                             " -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:-2"
                             " >/dev/null";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  Bytes bad = *sig;
  bad[5] = static_cast<uint8_t>(bad[5] ^ 1);
  write("sig.bin", bad);
  EXPECT_NE(std::system((verify + " 2>&1").c_str()), 0);

  const Bytes secret = Sequence(0x90, 32);
  write("secret.bin", secret);
  // "SECRET" and its terminating zero, in hex, as Part 1 §43.4 labels are.
  const std::string encrypt = "cd " + dir +
                              " && openssl pkeyutl -encrypt -pubin -inkey pub.pem -in secret.bin"
                              " -out c.bin -pkeyopt rsa_padding_mode:oaep"
                              " -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256"
                              " -pkeyopt rsa_oaep_label:53454352455400";
  ASSERT_EQ(std::system(encrypt.c_str()), 0);
  std::ifstream c_file(dir + "/c.bin", std::ios::binary);
  const Bytes c((std::istreambuf_iterator<char>(c_file)), std::istreambuf_iterator<char>());
  const Bytes label = {'S', 'E', 'C', 'R', 'E', 'T', 0};
  auto m = RsaDecrypt(key, TpmAlg::Oaep, TpmAlg::Sha256, label, c);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(ToBytes(m->span()), secret);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tpm2emu::crypto
