#include "crypto/ecc.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "crypto/drbg.h"
#include "crypto/evp.h"
#include "crypto/hash.h"
#include "engine/wire/constants.h"
#include "tests/crypto/test_hex.h"

namespace tpm2emu::crypto {
namespace {

using test::FromHex;
using test::Sequence;
using test::ToHex;

constexpr uint16_t kAllCurves[] = {TpmEccCurve::NistP256, TpmEccCurve::NistP384,
                                   TpmEccCurve::NistP521, TpmEccCurve::BnP256};

RandomFn FixedStream(uint8_t seed_byte) {
  auto drbg = std::make_shared<Drbg>(Bytes(48, seed_byte));
  return [drbg](std::span<uint8_t> out) { drbg->Generate(out); };
}

Bytes Sha256(std::string_view text) {
  auto d = Hash(TpmAlg::Sha256, ToBytes(text));
  return d.ok() ? *d : Bytes{};
}

Bytes Sha256Bytes(ByteSpan data) {
  auto d = Hash(TpmAlg::Sha256, data);
  return d.ok() ? *d : Bytes{};
}

Bytes Flip(Bytes b, size_t i) {
  b[i] = static_cast<uint8_t>(b[i] ^ 1);
  return b;
}

// The generator of `curve`, from EccCurve.
EccPoint Generator(uint16_t curve) {
  auto info = EccCurve(curve);
  return info.ok() ? EccPoint{info->gx, info->gy} : EccPoint{};
}

TEST(CryptoEccCurve, SupportedCurves) {
  for (uint16_t curve : kAllCurves) {
    EXPECT_TRUE(IsEccCurveSupported(curve)) << curve;
  }
  EXPECT_EQ(EccKeyBytes(TpmEccCurve::NistP256), 32u);
  EXPECT_EQ(EccKeyBytes(TpmEccCurve::NistP384), 48u);
  EXPECT_EQ(EccKeyBytes(TpmEccCurve::NistP521), 66u);
  EXPECT_EQ(EccKeyBytes(TpmEccCurve::BnP256), 32u);
  for (uint16_t curve :
       {TpmEccCurve::NistP192, TpmEccCurve::BnP638, TpmEccCurve::Sm2P256, uint16_t{0x7777}}) {
    EXPECT_FALSE(IsEccCurveSupported(curve));
    EXPECT_EQ(EccKeyBytes(curve), 0u);
    EXPECT_EQ(EccCurve(curve).error(), Rc::Curve);
    EXPECT_EQ(EccPublicFromPrivate(curve, Bytes{1}).error(), Rc::Curve);
    EXPECT_EQ(EccDerivePrivate(curve, FixedStream(1)).error(), Rc::Curve);
  }
}

// FIPS 186-5 / SP 800-186 P-256 domain parameters.
TEST(CryptoEccCurve, NistP256Parameters) {
  auto info = EccCurve(TpmEccCurve::NistP256);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->key_bits, 256);
  EXPECT_EQ(ToHex(info->p), "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
  EXPECT_EQ(ToHex(info->a), "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc");
  EXPECT_EQ(ToHex(info->b), "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b");
  EXPECT_EQ(ToHex(info->gx), "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
  EXPECT_EQ(ToHex(info->gy), "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
  EXPECT_EQ(ToHex(info->n), "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
  EXPECT_EQ(ToHex(info->h), "01");
  auto p521 = EccCurve(TpmEccCurve::NistP521);
  ASSERT_TRUE(p521.ok());
  EXPECT_EQ(p521->key_bits, 521);
  EXPECT_EQ(p521->p.size(), 66u);
  EXPECT_EQ(p521->gx.size(), 66u);
}

// TPM_ECC_BN_P256 as the TCG algorithm registry gives it, checked by OpenSSL building its own
// group from the values we report: EC_GROUP_check (generator on the curve, [n]G = O,
// discriminant), p and n prime.
TEST(CryptoEccCurve, BnP256ParametersAreAValidGroup) {
  auto info = EccCurve(TpmEccCurve::BnP256);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(ToHex(info->p), "fffffffffffcf0cd46e5f25eee71a49f0cdc65fb12980a82d3292ddbaed33013");
  EXPECT_EQ(ToHex(info->n), "fffffffffffcf0cd46e5f25eee71a49e0cdc65fb1299921af62d536cd10b500d");
  EXPECT_EQ(info->a, Bytes(32, 0));
  EXPECT_EQ(info->b, FromHex("0000000000000000000000000000000000000000000000000000000000000003"));
  EXPECT_EQ(info->gx, FromHex("0000000000000000000000000000000000000000000000000000000000000001"));
  EXPECT_EQ(info->gy, FromHex("0000000000000000000000000000000000000000000000000000000000000002"));
  EXPECT_EQ(ToHex(info->h), "01");

  BnCtx ctx(BN_CTX_new());
  auto bn = [](const Bytes& b) {
    return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
  };
  Bn p = bn(info->p), a = bn(info->a), b = bn(info->b), n = bn(info->n);
  Bn gx = bn(info->gx), gy = bn(info->gy);
  EXPECT_EQ(BN_check_prime(p.get(), ctx.get(), nullptr), 1);
  EXPECT_EQ(BN_check_prime(n.get(), ctx.get(), nullptr), 1);
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group(
      EC_GROUP_new_curve_GFp(p.get(), a.get(), b.get(), ctx.get()), &EC_GROUP_free);
  ASSERT_NE(group, nullptr);
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> g(EC_POINT_new(group.get()), &EC_POINT_free);
  ASSERT_EQ(EC_POINT_set_affine_coordinates(group.get(), g.get(), gx.get(), gy.get(), ctx.get()),
            1);
  ASSERT_EQ(EC_GROUP_set_generator(group.get(), g.get(), n.get(), BN_value_one()), 1);
  EXPECT_EQ(EC_GROUP_check(group.get(), ctx.get()), 1);

  // And through our own API: [n - 1]G = -G = (1, p - 2).
  Bytes n_minus_1 = info->n;
  n_minus_1.back() = static_cast<uint8_t>(n_minus_1.back() - 1);
  auto minus_g = EccPublicFromPrivate(TpmEccCurve::BnP256, n_minus_1);
  ASSERT_TRUE(minus_g.ok());
  Bytes p_minus_2 = info->p;
  p_minus_2.back() = static_cast<uint8_t>(p_minus_2.back() - 2);
  EXPECT_EQ(minus_g->x, info->gx);
  EXPECT_EQ(minus_g->y, p_minus_2);
}

TEST(CryptoEccKeys, PrivateOneGivesTheGenerator) {
  for (uint16_t curve : kAllCurves) {
    auto q = EccPublicFromPrivate(curve, Bytes{1});
    ASSERT_TRUE(q.ok()) << curve;
    const EccPoint g = Generator(curve);
    EXPECT_EQ(q->x, g.x) << curve;
    EXPECT_EQ(q->y, g.y) << curve;
    EXPECT_EQ(q->x.size(), EccKeyBytes(curve));
  }
  // The well-known P-256 point 2G.
  auto two_g = EccPublicFromPrivate(TpmEccCurve::NistP256, Bytes{2});
  ASSERT_TRUE(two_g.ok());
  EXPECT_EQ(ToHex(two_g->x), "7cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc47669978");
  EXPECT_EQ(ToHex(two_g->y), "07775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1");
}

TEST(CryptoEccKeys, PrivateScalarMustBeInRange) {
  auto info = EccCurve(TpmEccCurve::NistP256);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(EccPublicFromPrivate(TpmEccCurve::NistP256, Bytes{}).error(), Rc::Value);
  EXPECT_EQ(EccPublicFromPrivate(TpmEccCurve::NistP256, Bytes(32, 0)).error(), Rc::Value);
  EXPECT_EQ(EccPublicFromPrivate(TpmEccCurve::NistP256, info->n).error(), Rc::Value);
  EXPECT_EQ(EccPublicFromPrivate(TpmEccCurve::NistP256, Bytes(33, 1)).error(), Rc::Value);
  EXPECT_EQ(EccPublicFromPrivate(TpmEccCurve::NistP256, Bytes(32, 0xFF)).error(), Rc::Value);
}

// Part 1 §44.6 with the stream of HMAC_DRBG(48 octets of 0x42) (P-256) or 0x43 (BN P-256). The
// expected values were computed by a separate Python program (its own HMAC_DRBG, the formula
// of §44.6 and affine point arithmetic), not by ecc.cc.
TEST(CryptoEccKeys, DerivationKnownAnswer) {
  auto d = EccDerivePrivate(TpmEccCurve::NistP256, FixedStream(0x42));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ToHex(d->span()), "c4ca2864482f7c8ab543912416ad8a0c2413f130d4ad4e4c973c463d0ca72c5c");
  auto q = EccPublicFromPrivate(TpmEccCurve::NistP256, *d);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(ToHex(q->x), "1277f550162ac568b833ff9746ed09f0941f246a53a137c62d5b22a4398f2dc0");
  EXPECT_EQ(ToHex(q->y), "6a80014e3842373fe94379ccf20430a531e28cc465cc8447951c15319b8edeb3");

  auto bn_d = EccDerivePrivate(TpmEccCurve::BnP256, FixedStream(0x43));
  ASSERT_TRUE(bn_d.ok());
  EXPECT_EQ(ToHex(bn_d->span()),
            "a236e417bd4265c24b6b39488df4acbdfe1d35bd2a6cc478d21c241c89073184");
  auto bn_q = EccPublicFromPrivate(TpmEccCurve::BnP256, *bn_d);
  ASSERT_TRUE(bn_q.ok());
  EXPECT_EQ(ToHex(bn_q->x), "acbc79fd906f0697dc3eb0655d2e7d81d69817fa8a981f97673355732822f07e");
  EXPECT_EQ(ToHex(bn_q->y), "571ce57630fc6bb1fc955a7870eab7df8d70d2f7bd8dddf91bc8626bc0c29b6d");
}

TEST(CryptoEccKeys, DerivationIsDeterministic) {
  for (uint16_t curve : kAllCurves) {
    auto a = EccDerivePrivate(curve, FixedStream(7));
    auto b = EccDerivePrivate(curve, FixedStream(7));
    auto c = EccDerivePrivate(curve, FixedStream(8));
    ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << curve;
    EXPECT_TRUE(*a == *b);
    EXPECT_FALSE(*a == *c);
    EXPECT_EQ(a->size(), EccKeyBytes(curve));
    auto q = EccPublicFromPrivate(curve, *a);
    ASSERT_TRUE(q.ok());
    EXPECT_TRUE(EccIsOnCurve(curve, *q));
  }
  EXPECT_EQ(EccDerivePrivate(TpmEccCurve::NistP256, RandomFn{}).error(), Rc::Failure);
}

TEST(CryptoEccKeys, EphemeralPairsMatch) {
  const RandomFn rng = FixedStream(9);
  for (uint16_t curve : kAllCurves) {
    auto pair = EccEphemeral(curve, rng);
    ASSERT_TRUE(pair.ok()) << curve;
    auto q = EccPublicFromPrivate(curve, pair->first);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->x, pair->second.x);
    EXPECT_EQ(q->y, pair->second.y);
  }
  auto a = EccEphemeral(TpmEccCurve::NistP256, rng);
  auto b = EccEphemeral(TpmEccCurve::NistP256, rng);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->second.x, b->second.x);  // the stream moved on
}

TEST(CryptoEccKeys, OnCurveChecks) {
  const EccPoint g = Generator(TpmEccCurve::NistP256);
  EXPECT_TRUE(EccIsOnCurve(TpmEccCurve::NistP256, g));
  EXPECT_FALSE(EccIsOnCurve(TpmEccCurve::NistP256, EccPoint{g.x, Flip(g.y, 31)}));
  EXPECT_FALSE(EccIsOnCurve(TpmEccCurve::NistP256, EccPoint{}));
  EXPECT_FALSE(EccIsOnCurve(TpmEccCurve::NistP384, g));
  EXPECT_FALSE(EccIsOnCurve(TpmEccCurve::NistP192, g));
  // Shorter coordinates are read as numbers: the BN generator (1, 2) in one octet each.
  EXPECT_TRUE(EccIsOnCurve(TpmEccCurve::BnP256, EccPoint{Bytes{1}, Bytes{2}}));
  // Too long, even with a leading zero.
  Bytes long_x = g.x;
  long_x.insert(long_x.begin(), 0);
  EXPECT_FALSE(EccIsOnCurve(TpmEccCurve::NistP256, EccPoint{long_x, g.y}));
  // A coordinate >= p is refused, not reduced: (1, 2 + p) on BN P-256.
  auto info = EccCurve(TpmEccCurve::BnP256);
  ASSERT_TRUE(info.ok());
  Bn p(BN_bin2bn(info->p.data(), 32, nullptr));
  BN_add_word(p.get(), 2);
  ASSERT_EQ(BN_num_bytes(p.get()), 32);
  Bytes y_plus_p(32);
  BN_bn2binpad(p.get(), y_plus_p.data(), 32);
  EXPECT_FALSE(EccIsOnCurve(TpmEccCurve::BnP256, EccPoint{Bytes{1}, y_plus_p}));
}

TEST(CryptoEcdsa, RoundTripAndTamper) {
  for (uint16_t curve : kAllCurves) {
    auto d = EccDerivePrivate(curve, FixedStream(0x21));
    ASSERT_TRUE(d.ok());
    auto q = EccPublicFromPrivate(curve, *d);
    ASSERT_TRUE(q.ok());
    const Bytes digest = Sha256("ecdsa");
    auto sig = EcdsaSign(curve, *d, digest);
    ASSERT_TRUE(sig.ok()) << curve;
    const auto& [r, s] = *sig;
    EXPECT_EQ(r.size(), EccKeyBytes(curve));
    EXPECT_EQ(s.size(), EccKeyBytes(curve));
    EXPECT_TRUE(EcdsaVerify(curve, *q, digest, r, s).ok()) << curve;
    EXPECT_EQ(EcdsaVerify(curve, *q, Flip(digest, 0), r, s).error(), Rc::Signature);
    EXPECT_EQ(EcdsaVerify(curve, *q, digest, Flip(r, r.size() - 1), s).error(), Rc::Signature);
    EXPECT_EQ(EcdsaVerify(curve, *q, digest, r, Flip(s, 3)).error(), Rc::Signature);
    EXPECT_EQ(EcdsaVerify(curve, *q, digest, s, r).error(), Rc::Signature);
    EXPECT_EQ(EcdsaVerify(curve, *q, digest, Bytes{}, s).error(), Rc::Signature);
    EXPECT_EQ(EcdsaVerify(curve, *q, digest, Bytes(r.size(), 0), s).error(), Rc::Signature);
    auto info = EccCurve(curve);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(EcdsaVerify(curve, *q, digest, r, info->n).error(), Rc::Signature);
    EXPECT_EQ(EcdsaVerify(curve, EccPoint{q->x, Flip(q->y, 0)}, digest, r, s).error(),
              Rc::EccPoint);
    // Another key's public point.
    const EccPoint g = Generator(curve);
    EXPECT_EQ(EcdsaVerify(curve, g, digest, r, s).error(), Rc::Signature);
  }
}

TEST(CryptoEcdsa, DigestLongerOrShorterThanTheOrder) {
  // SHA-512 on P-256 is truncated to 256 bits; SHA-1 on P-521 is used whole.
  auto d = EccDerivePrivate(TpmEccCurve::NistP256, FixedStream(0x22));
  ASSERT_TRUE(d.ok());
  auto q = EccPublicFromPrivate(TpmEccCurve::NistP256, *d);
  ASSERT_TRUE(q.ok());
  auto long_digest = Hash(TpmAlg::Sha512, ToBytes("long"));
  ASSERT_TRUE(long_digest.ok());
  auto sig = EcdsaSign(TpmEccCurve::NistP256, *d, *long_digest);
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(EcdsaVerify(TpmEccCurve::NistP256, *q, *long_digest, sig->first, sig->second).ok());
  // Only the leading 256 bits count.
  Bytes same_prefix = *long_digest;
  same_prefix.back() = static_cast<uint8_t>(same_prefix.back() ^ 0xFF);
  EXPECT_TRUE(EcdsaVerify(TpmEccCurve::NistP256, *q, same_prefix, sig->first, sig->second).ok());

  auto d521 = EccDerivePrivate(TpmEccCurve::NistP521, FixedStream(0x23));
  ASSERT_TRUE(d521.ok());
  auto q521 = EccPublicFromPrivate(TpmEccCurve::NistP521, *d521);
  ASSERT_TRUE(q521.ok());
  const Bytes short_digest = Sequence(1, 20);
  auto sig521 = EcdsaSign(TpmEccCurve::NistP521, *d521, short_digest);
  ASSERT_TRUE(sig521.ok());
  EXPECT_TRUE(
      EcdsaVerify(TpmEccCurve::NistP521, *q521, short_digest, sig521->first, sig521->second).ok());
  EXPECT_EQ(EcdsaSign(TpmEccCurve::NistP256, Bytes{}, short_digest).error(), Rc::Value);
}

// An EVP key for a NIST curve, built independently of ecc.cc.
EvpPkey OpenSslEcPublicKey(const char* group, const EccPoint& q) {
  Bytes encoded = {0x04};
  encoded.insert(encoded.end(), q.x.begin(), q.x.end());
  encoded.insert(encoded.end(), q.y.begin(), q.y.end());
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(group), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, encoded.data(), encoded.size()),
      OSSL_PARAM_construct_end(),
  };
  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx.get());
  EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params));
  return EvpPkey(pkey);
}

Bytes DerSignature(ByteSpan r, ByteSpan s) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr),
                 BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig, &der);
  Bytes out(der, der + (len > 0 ? len : 0));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

TEST(CryptoEcdsaInterop, OpenSslVerifiesOurSignature) {
  auto d = EccDerivePrivate(TpmEccCurve::NistP384, FixedStream(0x24));
  ASSERT_TRUE(d.ok());
  auto q = EccPublicFromPrivate(TpmEccCurve::NistP384, *d);
  ASSERT_TRUE(q.ok());
  const Bytes message = ToBytes("verified by OpenSSL");
  auto digest = Hash(TpmAlg::Sha384, message);
  ASSERT_TRUE(digest.ok());
  auto sig = EcdsaSign(TpmEccCurve::NistP384, *d, *digest);
  ASSERT_TRUE(sig.ok());
  EvpPkey pkey = OpenSslEcPublicKey("P-384", *q);
  ASSERT_NE(pkey, nullptr);
  EvpMdCtx md_ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestVerifyInit_ex(md_ctx.get(), nullptr, "SHA2-384", nullptr, nullptr, pkey.get(),
                                    nullptr),
            1);
  const Bytes der = DerSignature(sig->first, sig->second);
  EXPECT_EQ(EVP_DigestVerify(md_ctx.get(), der.data(), der.size(), message.data(), message.size()),
            1);
}

TEST(CryptoEcdsaInterop, WeVerifyOpenSslSignature) {
  EvpPkey pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(pkey, nullptr);
  Bytes pub(65);
  size_t pub_len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                            pub.size(), &pub_len),
            1);
  ASSERT_EQ(pub_len, 65u);
  const EccPoint q{Bytes(pub.begin() + 1, pub.begin() + 33), Bytes(pub.begin() + 33, pub.end())};
  const Bytes message = ToBytes("signed by OpenSSL");
  EvpMdCtx md_ctx(EVP_MD_CTX_new());
  ASSERT_EQ(EVP_DigestSignInit_ex(md_ctx.get(), nullptr, "SHA2-256", nullptr, nullptr, pkey.get(),
                                  nullptr),
            1);
  Bytes der(80);
  size_t der_len = der.size();
  ASSERT_EQ(EVP_DigestSign(md_ctx.get(), der.data(), &der_len, message.data(), message.size()), 1);
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  ASSERT_NE(sig, nullptr);
  Bytes r(32), s(32);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), r.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), s.data(), 32);
  ECDSA_SIG_free(sig);
  EXPECT_TRUE(EcdsaVerify(TpmEccCurve::NistP256, q, Sha256("signed by OpenSSL"), r, s).ok());
  EXPECT_EQ(EcdsaVerify(TpmEccCurve::NistP256, q, Sha256("signed by someone"), r, s).error(),
            Rc::Signature);
}

// The openssl command-line tool verifies a P-256 signature made here.
TEST(CryptoEcdsaInterop, OpenSslCliVerifies) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no openssl command on PATH";
  }
  char dir_template[] = "/tmp/tpm2emu-ecc-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  auto d = EccDerivePrivate(TpmEccCurve::NistP256, FixedStream(0x25));
  ASSERT_TRUE(d.ok());
  auto q = EccPublicFromPrivate(TpmEccCurve::NistP256, *d);
  ASSERT_TRUE(q.ok());
  EvpPkey pkey = OpenSslEcPublicKey("P-256", *q);
  ASSERT_NE(pkey, nullptr);
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file((dir + "/pub.pem").c_str(), "w"),
                                                  &BIO_free);
    ASSERT_NE(bio, nullptr);
    ASSERT_EQ(PEM_write_bio_PUBKEY(bio.get(), pkey.get()), 1);
  }
  const Bytes digest = Sha256("checked by the openssl tool");
  auto sig = EcdsaSign(TpmEccCurve::NistP256, *d, digest);
  ASSERT_TRUE(sig.ok());
  auto write = [&](const std::string& name, ByteSpan data) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  };
  write("digest.bin", digest);
  write("sig.der", DerSignature(sig->first, sig->second));
  const std::string verify = "cd " + dir +
                             " && openssl pkeyutl -verify -pubin -inkey pub.pem -in digest.bin"
                             " -sigfile sig.der >/dev/null";
  EXPECT_EQ(std::system(verify.c_str()), 0);
  write("sig.der", DerSignature(sig->first, Flip(sig->second, 31)));
  EXPECT_NE(std::system((verify + " 2>&1").c_str()), 0);
  std::filesystem::remove_all(dir);
}

TEST(CryptoEcdh, BothSidesAgree) {
  for (uint16_t curve : kAllCurves) {
    auto a = EccEphemeral(curve, FixedStream(0x31));
    auto b = EccEphemeral(curve, FixedStream(0x32));
    ASSERT_TRUE(a.ok() && b.ok()) << curve;
    auto z_ab = EcdhZ(curve, a->first, b->second);
    auto z_ba = EcdhZ(curve, b->first, a->second);
    ASSERT_TRUE(z_ab.ok() && z_ba.ok()) << curve;
    EXPECT_EQ(z_ab->x, z_ba->x) << curve;
    EXPECT_EQ(z_ab->y, z_ba->y) << curve;
    EXPECT_EQ(z_ab->x.size(), EccKeyBytes(curve));
    EXPECT_TRUE(EccIsOnCurve(curve, *z_ab));
  }
}

TEST(CryptoEcdh, MatchesOpenSslDerive) {
  // OpenSSL's ECDH (which returns Z.x) with its own keys, against ours with the same scalar.
  EvpPkey ours_as_evp(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EvpPkey peer(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(ours_as_evp, nullptr);
  ASSERT_NE(peer, nullptr);
  BIGNUM* d_raw = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(ours_as_evp.get(), OSSL_PKEY_PARAM_PRIV_KEY, &d_raw), 1);
  Bn d_bn(d_raw);
  SecretBytes d(32);
  BN_bn2binpad(d_bn.get(), d.data(), 32);
  Bytes peer_pub(65);
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_octet_string_param(peer.get(), OSSL_PKEY_PARAM_PUB_KEY, peer_pub.data(),
                                            peer_pub.size(), &len),
            1);
  const EccPoint peer_point{Bytes(peer_pub.begin() + 1, peer_pub.begin() + 33),
                            Bytes(peer_pub.begin() + 33, peer_pub.end())};
  auto z = EcdhZ(TpmEccCurve::NistP256, d, peer_point);
  ASSERT_TRUE(z.ok());

  EvpPkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ours_as_evp.get(), nullptr));
  ASSERT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), peer.get()), 1);
  Bytes x(32);
  size_t x_len = x.size();
  ASSERT_EQ(EVP_PKEY_derive(ctx.get(), x.data(), &x_len), 1);
  EXPECT_EQ(z->x, x);
}

TEST(CryptoEcdh, PeerMustBeOnTheCurve) {
  auto a = EccEphemeral(TpmEccCurve::NistP256, FixedStream(0x33));
  ASSERT_TRUE(a.ok());
  const EccPoint g = Generator(TpmEccCurve::NistP256);
  EXPECT_EQ(EcdhZ(TpmEccCurve::NistP256, a->first, EccPoint{g.x, Flip(g.y, 5)}).error(),
            Rc::EccPoint);
  EXPECT_EQ(EcdhZ(TpmEccCurve::NistP256, a->first, EccPoint{}).error(), Rc::EccPoint);
  // A point of another curve.
  EXPECT_EQ(EcdhZ(TpmEccCurve::NistP256, a->first, Generator(TpmEccCurve::BnP256)).error(),
            Rc::EccPoint);
  EXPECT_EQ(EcdhZ(TpmEccCurve::NistP256, Bytes{}, g).error(), Rc::Value);
  // d = 1 gives the peer point back.
  auto z = EcdhZ(TpmEccCurve::NistP256, Bytes{1}, a->second);
  ASSERT_TRUE(z.ok());
  EXPECT_EQ(z->x, a->second.x);
}

TEST(CryptoEcSchnorr, KnownAnswer) {
  // d = 01 02 ... 20, k = a1 a2 ... c0, digest = SHA-256("schnorr"); expected values from the
  // separate Python program (affine arithmetic, Part 1 §44.3.4.2 written out).
  const Bytes d = Sequence(0x01, 32);
  const Bytes k = Sequence(0xA1, 32);
  const Bytes digest = Sha256("schnorr");
  auto sig = EcSchnorrSignWithNonce(TpmEccCurve::NistP256, TpmAlg::Sha256, d, digest, k);
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(ToHex(sig->first), "df9d80351d26dbad4fb8027a27971518d4f3cf8fb583cf02fc766ad925d34757");
  EXPECT_EQ(ToHex(sig->second), "872f0519e9086658bcdd611c5fe46bb82d261c2ad6cc9ff17752d081a82ebb59");
  auto bn_sig = EcSchnorrSignWithNonce(TpmEccCurve::BnP256, TpmAlg::Sha256, d, digest, k);
  ASSERT_TRUE(bn_sig.ok());
  EXPECT_EQ(ToHex(bn_sig->first),
            "1c579390801fefe1e8920a1d0d00adbeca552e5a50107f47c611e0812f0bb493");
  EXPECT_EQ(ToHex(bn_sig->second),
            "ec0b5cc21363cc676b76f4222cf11ad44ad61636b4787f219032251652eac055");
  auto q = EccPublicFromPrivate(TpmEccCurve::NistP256, d);
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(
      EcSchnorrVerify(TpmEccCurve::NistP256, TpmAlg::Sha256, *q, digest, sig->first, sig->second)
          .ok());
}

TEST(CryptoEcSchnorr, RoundTripAndTamper) {
  for (uint16_t curve : kAllCurves) {
    for (uint16_t hash : {TpmAlg::Sha256, TpmAlg::Sha384}) {
      auto d = EccDerivePrivate(curve, FixedStream(0x41));
      ASSERT_TRUE(d.ok());
      auto q = EccPublicFromPrivate(curve, *d);
      ASSERT_TRUE(q.ok());
      auto digest = Hash(hash, ToBytes("schnorr round trip"));
      ASSERT_TRUE(digest.ok());
      auto sig = EcSchnorrSign(curve, hash, *d, *digest);
      ASSERT_TRUE(sig.ok()) << curve << " " << hash;
      const auto& [r, s] = *sig;
      EXPECT_TRUE(EcSchnorrVerify(curve, hash, *q, *digest, r, s).ok()) << curve << " " << hash;
      EXPECT_EQ(EcSchnorrVerify(curve, hash, *q, Flip(*digest, 2), r, s).error(), Rc::Signature);
      EXPECT_EQ(EcSchnorrVerify(curve, hash, *q, *digest, Flip(r, r.size() - 1), s).error(),
                Rc::Signature);
      EXPECT_EQ(EcSchnorrVerify(curve, hash, *q, *digest, r, Flip(s, s.size() - 1)).error(),
                Rc::Signature);
      EXPECT_EQ(EcSchnorrVerify(curve, hash, *q, *digest, r, Bytes(s.size(), 0)).error(),
                Rc::Signature);
      EXPECT_EQ(EcSchnorrVerify(curve, hash, EccPoint{q->x, Flip(q->y, 1)}, *digest, r, s).error(),
                Rc::EccPoint);
      const uint16_t other_hash = hash == TpmAlg::Sha256 ? TpmAlg::Sha384 : TpmAlg::Sha256;
      EXPECT_EQ(EcSchnorrVerify(curve, other_hash, *q, *digest, r, s).error(), Rc::Signature);
    }
  }
}

TEST(CryptoEcSchnorr, RIsComparedAsANumber) {
  // SHA-256 on P-521: r is a 32-octet hash, padded to 66 octets; unpadded it verifies too.
  auto d = EccDerivePrivate(TpmEccCurve::NistP521, FixedStream(0x42));
  ASSERT_TRUE(d.ok());
  auto q = EccPublicFromPrivate(TpmEccCurve::NistP521, *d);
  ASSERT_TRUE(q.ok());
  const Bytes digest = Sha256("numeric r");
  auto sig = EcSchnorrSign(TpmEccCurve::NistP521, TpmAlg::Sha256, *d, digest, FixedStream(1));
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->first.size(), 66u);
  EXPECT_EQ(sig->first[0], 0);
  const Bytes unpadded(sig->first.end() - 32, sig->first.end());
  EXPECT_TRUE(
      EcSchnorrVerify(TpmEccCurve::NistP521, TpmAlg::Sha256, *q, digest, unpadded, sig->second)
          .ok());
}

TEST(CryptoEcSchnorr, NonceAndHashChecks) {
  const Bytes d = Sequence(0x01, 32);
  const Bytes digest = Sha256("checks");
  auto a = EcSchnorrSignWithNonce(TpmEccCurve::NistP256, TpmAlg::Sha256, d, digest, Bytes{5});
  auto b = EcSchnorrSignWithNonce(TpmEccCurve::NistP256, TpmAlg::Sha256, d, digest, Bytes{5});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->first, b->first);
  EXPECT_EQ(a->second, b->second);
  EXPECT_EQ(
      EcSchnorrSignWithNonce(TpmEccCurve::NistP256, TpmAlg::Sha256, d, digest, Bytes{}).error(),
      Rc::Value);
  EXPECT_EQ(EcSchnorrSign(TpmEccCurve::NistP256, TpmAlg::Sm3_256, d, digest).error(), Rc::Hash);
  EXPECT_EQ(EcSchnorrSign(TpmEccCurve::NistP256, TpmAlg::Sha256, Bytes(32, 0), digest).error(),
            Rc::Value);
  // A stream makes signing repeatable; OpenSSL's RNG does not.
  auto c = EcSchnorrSign(TpmEccCurve::NistP256, TpmAlg::Sha256, d, digest, FixedStream(3));
  auto e = EcSchnorrSign(TpmEccCurve::NistP256, TpmAlg::Sha256, d, digest, FixedStream(3));
  ASSERT_TRUE(c.ok() && e.ok());
  EXPECT_EQ(c->second, e->second);
}

// --- Split and two-phase operations ------------------------------------------------------------

// An independent model of a curve's arithmetic on OpenSSL's EC_POINT and BIGNUM, built from
// the EccCurve parameters (so it covers BN P-256 too).
class CurveModel {
 public:
  explicit CurveModel(uint16_t curve) : ctx_(BN_CTX_new()) {
    auto info = EccCurve(curve);
    if (!info.ok()) {
      return;
    }
    key_bytes_ = info->p.size();
    Bn p = FromBytes(info->p), a = FromBytes(info->a), b = FromBytes(info->b);
    n_ = FromBytes(info->n);
    group_.reset(EC_GROUP_new_curve_GFp(p.get(), a.get(), b.get(), ctx_.get()));
    auto g = Point(EccPoint{info->gx, info->gy});
    EC_GROUP_set_generator(group_.get(), g.get(), n_.get(), BN_value_one());
  }
  Bn FromBytes(ByteSpan b) const { return Bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr)); }
  Bytes ToBytes(const BIGNUM* v) const {
    Bytes out(key_bytes_);
    BN_bn2binpad(v, out.data(), static_cast<int>(out.size()));
    return out;
  }
  std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> Point(const EccPoint& q) const {
    std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> pt(EC_POINT_new(group_.get()),
                                                          &EC_POINT_free);
    Bn x = FromBytes(q.x), y = FromBytes(q.y);
    EC_POINT_set_affine_coordinates(group_.get(), pt.get(), x.get(), y.get(), ctx_.get());
    return pt;
  }
  EccPoint Affine(const EC_POINT* pt) const {
    Bn x(BN_new()), y(BN_new());
    EC_POINT_get_affine_coordinates(group_.get(), pt, x.get(), y.get(), ctx_.get());
    return EccPoint{ToBytes(x.get()), ToBytes(y.get())};
  }
  // [a]P + [b]Q (either term may be left out with a null scalar).
  EccPoint MulAdd(const BIGNUM* a, const EccPoint& p, const BIGNUM* b, const EccPoint& q) const {
    std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> sum(EC_POINT_new(group_.get()),
                                                           &EC_POINT_free);
    std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)> t(EC_POINT_new(group_.get()),
                                                         &EC_POINT_free);
    EC_POINT_set_to_infinity(group_.get(), sum.get());
    if (a != nullptr) {
      EC_POINT_mul(group_.get(), t.get(), nullptr, Point(p).get(), a, ctx_.get());
      EC_POINT_add(group_.get(), sum.get(), sum.get(), t.get(), ctx_.get());
    }
    if (b != nullptr) {
      EC_POINT_mul(group_.get(), t.get(), nullptr, Point(q).get(), b, ctx_.get());
      EC_POINT_add(group_.get(), sum.get(), sum.get(), t.get(), ctx_.get());
    }
    return Affine(sum.get());
  }
  const BIGNUM* n() const { return n_.get(); }
  BN_CTX* ctx() const { return ctx_.get(); }

 private:
  BnCtx ctx_;
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group_{nullptr, &EC_GROUP_free};
  Bn n_;
  size_t key_bytes_ = 0;
};

TEST(CryptoEccSplit, MultiplyMatchesTheModel) {
  for (uint16_t curve : kAllCurves) {
    CurveModel m(curve);
    auto k = EccDerivePrivate(curve, FixedStream(0x41));
    auto j = EccDerivePrivate(curve, FixedStream(0x42));
    ASSERT_TRUE(k.ok() && j.ok());
    const EccPoint g = Generator(curve);
    auto kg = EccMultiply(curve, *k, nullptr);
    ASSERT_TRUE(kg.ok()) << curve;
    Bn k_bn = m.FromBytes(*k), j_bn = m.FromBytes(*j);
    const EccPoint want_kg = m.MulAdd(k_bn.get(), g, nullptr, g);
    EXPECT_EQ(kg->x, want_kg.x) << curve;
    EXPECT_EQ(kg->y, want_kg.y) << curve;
    // [j]([k]G) = [j k]G, against the model's [j]P.
    auto jkg = EccMultiply(curve, *j, &*kg);
    ASSERT_TRUE(jkg.ok());
    const EccPoint want = m.MulAdd(j_bn.get(), want_kg, nullptr, g);
    EXPECT_EQ(jkg->x, want.x) << curve;
    EXPECT_EQ(jkg->y, want.y) << curve;
    // k is taken mod n; 0 and n give the point at infinity.
    Bytes n_bytes = m.ToBytes(m.n());
    EXPECT_EQ(EccMultiply(curve, n_bytes, &g).error(), Rc::NoResult);
    EXPECT_EQ(EccMultiply(curve, Bytes{0}, nullptr).error(), Rc::NoResult);
    EXPECT_EQ(EccMultiply(curve, Bytes(EccKeyBytes(curve) + 1, 1), nullptr).error(), Rc::Value);
    EXPECT_EQ(EccMultiply(curve, *k, &*kg).ok(), true);
    EccPoint off = *kg;
    off.y = Flip(off.y, off.y.size() - 1);
    EXPECT_EQ(EccMultiply(curve, *k, &off).error(), Rc::EccPoint);
  }
}

TEST(CryptoEccSplit, Reductions) {
  for (uint16_t curve : kAllCurves) {
    auto info = EccCurve(curve);
    ASSERT_TRUE(info.ok());
    Bytes n_plus_5 = info->n;
    n_plus_5.insert(n_plus_5.begin(), 0);  // longer input than the key size is fine
    n_plus_5.back() = static_cast<uint8_t>(n_plus_5.back() + 5);  // no carry for any supported n
    Bytes five(EccKeyBytes(curve), 0);
    five.back() = 5;
    auto r = EccReduceModN(curve, n_plus_5);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(ToBytes(r->span()), five) << curve;
    auto x = EccReduceModP(curve, info->p);
    ASSERT_TRUE(x.ok());
    EXPECT_EQ(*x, Bytes(EccKeyBytes(curve), 0)) << curve;
    auto small = EccReduceModP(curve, Bytes{7});
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(small->back(), 7);
    EXPECT_EQ(small->size(), EccKeyBytes(curve));
  }
}

// Part 1 §44.3.3.3: (k, s) with T := H(k || P) mod n and s := r + T d, so a verifier with
// E := [r]G (TPM2_Commit's E for P1 = G) and Q := [d]G checks [s]G = E + [T]Q.
TEST(CryptoEcdaa, SignatureSatisfiesTheVerificationEquation) {
  for (uint16_t curve : kAllCurves) {
    CurveModel m(curve);
    auto d = EccDerivePrivate(curve, FixedStream(0x51));
    auto r = EccDerivePrivate(curve, FixedStream(0x52));
    ASSERT_TRUE(d.ok() && r.ok());
    const Bytes digest = Sha256("ecdaa message");
    auto sig = EcdaaSign(curve, TpmAlg::Sha256, *d, *r, digest, FixedStream(0x53));
    ASSERT_TRUE(sig.ok()) << curve;
    const auto& [k, s] = *sig;
    EXPECT_EQ(k.size(), EccKeyBytes(curve));
    EXPECT_EQ(s.size(), EccKeyBytes(curve));
    Bytes kp = k;
    kp.insert(kp.end(), digest.begin(), digest.end());
    Bn t = m.FromBytes(Sha256Bytes(kp));
    BN_nnmod(t.get(), t.get(), m.n(), m.ctx());
    const EccPoint g = Generator(curve);
    Bn one(BN_new());
    BN_one(one.get());
    Bn d_bn = m.FromBytes(*d), r_bn = m.FromBytes(*r), s_bn = m.FromBytes(s);
    const EccPoint q = m.MulAdd(d_bn.get(), g, nullptr, g);
    const EccPoint e = m.MulAdd(r_bn.get(), g, nullptr, g);
    const EccPoint lhs = m.MulAdd(s_bn.get(), g, nullptr, g);
    const EccPoint rhs = m.MulAdd(one.get(), e, t.get(), q);
    EXPECT_EQ(lhs.x, rhs.x) << curve;
    EXPECT_EQ(lhs.y, rhs.y) << curve;
    // A different digest or commit value breaks the equation.
    auto other = EcdaaSign(curve, TpmAlg::Sha256, *d, *r, Flip(digest, 0), FixedStream(0x53));
    ASSERT_TRUE(other.ok());
    EXPECT_EQ(other->first, k);  // same nonce stream
    EXPECT_NE(other->second, s);
  }
}

TEST(CryptoEcdaa, InputChecks) {
  const uint16_t curve = TpmEccCurve::BnP256;
  auto info = EccCurve(curve);
  ASSERT_TRUE(info.ok());
  const Bytes digest = Sha256("x");
  const Bytes one{1};
  EXPECT_EQ(EcdaaSign(curve, TpmAlg::Sha256, info->n, one, digest).error(), Rc::Value);  // d = n
  EXPECT_EQ(EcdaaSign(curve, TpmAlg::Sha256, one, info->n, digest).error(), Rc::Value);  // r = n
  EXPECT_EQ(EcdaaSign(curve, 0x7777, one, one, digest).error(), Rc::Hash);
  EXPECT_EQ(EcdaaSign(0x7777, TpmAlg::Sha256, one, one, digest).error(), Rc::Curve);
  EXPECT_TRUE(EcdaaSign(curve, TpmAlg::Sha384, one, one, digest).ok());
}

// MQV (SP 800-56A §5.7.2.3): both parties reach the same Z, and it matches a model computation.
TEST(CryptoEcMqv, BothSidesAgreeAndMatchTheModel) {
  for (uint16_t curve : kAllCurves) {
    auto sa = EccEphemeral(curve, FixedStream(0x61));
    auto ea = EccEphemeral(curve, FixedStream(0x62));
    auto sb = EccEphemeral(curve, FixedStream(0x63));
    auto eb = EccEphemeral(curve, FixedStream(0x64));
    ASSERT_TRUE(sa.ok() && ea.ok() && sb.ok() && eb.ok());
    auto z_a = EcMqvZ(curve, sa->first, ea->first, sb->second, eb->second);
    auto z_b = EcMqvZ(curve, sb->first, eb->first, sa->second, ea->second);
    ASSERT_TRUE(z_a.ok() && z_b.ok()) << curve;
    EXPECT_EQ(z_a->x, z_b->x) << curve;
    EXPECT_EQ(z_a->y, z_b->y) << curve;
    // Not plain ECDH of either pair.
    auto zs = EcdhZ(curve, sa->first, sb->second);
    ASSERT_TRUE(zs.ok());
    EXPECT_NE(zs->x, z_a->x);

    CurveModel m(curve);
    const int f = (BN_num_bits(m.n()) + 1) / 2;
    auto avg = [&](const EccPoint& q) {
      Bn x = m.FromBytes(q.x);
      Bn mod(BN_new());
      BN_one(mod.get());
      BN_lshift(mod.get(), mod.get(), f);
      BN_nnmod(x.get(), x.get(), mod.get(), m.ctx());
      BN_add(x.get(), x.get(), mod.get());
      return x;
    };
    Bn implicit = avg(ea->second);
    Bn ds = m.FromBytes(sa->first), de = m.FromBytes(ea->first);
    BN_mod_mul(implicit.get(), implicit.get(), ds.get(), m.n(), m.ctx());
    BN_mod_add(implicit.get(), implicit.get(), de.get(), m.n(), m.ctx());
    Bn avg_b = avg(eb->second);
    Bn prod(BN_new());
    BN_mod_mul(prod.get(), implicit.get(), avg_b.get(), m.n(), m.ctx());
    // Z = [implicit]QeB + [implicit avg(QeB)]QsB
    const EccPoint want = m.MulAdd(implicit.get(), eb->second, prod.get(), sb->second);
    EXPECT_EQ(z_a->x, want.x) << curve;
    EXPECT_EQ(z_a->y, want.y) << curve;

    EccPoint off = eb->second;
    off.x = Flip(off.x, 3);
    EXPECT_EQ(EcMqvZ(curve, sa->first, ea->first, sb->second, off).error(), Rc::EccPoint);
    EXPECT_EQ(EcMqvZ(curve, Bytes{0}, ea->first, sb->second, eb->second).error(), Rc::Value);
  }
}

}  // namespace
}  // namespace tpm2emu::crypto
