#include "crypto/ecc.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "crypto/evp.h"
#include "crypto/hash.h"
#include "engine/wire/constants.h"

namespace tpm2emu::crypto {
namespace {

// Owners for the EC math objects (evp.h has the EVP ones).
using EcGroup = std::unique_ptr<EC_GROUP, internal::OsslDeleter<&EC_GROUP_free>>;
// EC_POINT_clear_free: a point may be a shared secret (ECDH's Z).
using EcPoint = std::unique_ptr<EC_POINT, internal::OsslDeleter<&EC_POINT_clear_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, internal::OsslDeleter<&ECDSA_SIG_free>>;

// TCG Algorithm Registry, TPM_ECC_BN_P256: the Barreto-Naehrig curve y^2 = x^3 + 3 with
// G = (1, 2) and cofactor 1. (p and n follow the BN polynomials with u = -0x6882F5C030B0A801;
// the test checks that p and n are prime and [n]G is the point at infinity.)
constexpr std::string_view kBnP256P =
    "FFFFFFFFFFFCF0CD46E5F25EEE71A49F0CDC65FB12980A82D3292DDBAED33013";
constexpr std::string_view kBnP256N =
    "FFFFFFFFFFFCF0CD46E5F25EEE71A49E0CDC65FB1299921AF62D536CD10B500D";

struct CurveDef {
  uint16_t id;
  uint16_t key_bits;
  int nid;                 // NID_undef: built from explicit parameters
  const char* group_name;  // OpenSSL's name for EVP keys; nullptr: explicit parameters
};
constexpr CurveDef kCurveDefs[] = {
    {TpmEccCurve::NistP256, 256, NID_X9_62_prime256v1, "P-256"},
    {TpmEccCurve::NistP384, 384, NID_secp384r1, "P-384"},
    {TpmEccCurve::NistP521, 521, NID_secp521r1, "P-521"},
    {TpmEccCurve::BnP256, 256, NID_undef, nullptr},
};

// A supported curve: its group and the values EVP needs to describe it.
struct Curve {
  uint16_t id = 0;
  uint16_t key_bits = 0;
  size_t key_bytes = 0;
  const char* group_name = nullptr;
  EcGroup group;
  // Copies of the group's values, taken once when the group is built.
  Bn p, a, b, n, h;
  Bytes generator;  // uncompressed encoding, for explicit EVP parameters
};

Bn BnFromHex(std::string_view hex) {
  const std::string copy(hex);
  BIGNUM* raw = nullptr;
  const int used = BN_hex2bn(&raw, copy.c_str());
  Bn bn(raw);
  if (used != static_cast<int>(copy.size())) {
    return nullptr;
  }
  return bn;
}

EcGroup BuildBnP256(BN_CTX* ctx) {
  Bn p = BnFromHex(kBnP256P);
  Bn n = BnFromHex(kBnP256N);
  Bn a(BN_new());
  Bn b(BN_new());
  Bn gx(BN_new());
  Bn gy(BN_new());
  if (p == nullptr || n == nullptr || a == nullptr || b == nullptr || gx == nullptr ||
      gy == nullptr || BN_set_word(b.get(), 3) != 1 || BN_set_word(gx.get(), 1) != 1 ||
      BN_set_word(gy.get(), 2) != 1) {
    return nullptr;
  }
  BN_zero(a.get());
  EcGroup group(EC_GROUP_new_curve_GFp(p.get(), a.get(), b.get(), ctx));
  if (group == nullptr) {
    return nullptr;
  }
  EcPoint g(EC_POINT_new(group.get()));
  if (g == nullptr ||
      EC_POINT_set_affine_coordinates(group.get(), g.get(), gx.get(), gy.get(), ctx) != 1 ||
      EC_GROUP_set_generator(group.get(), g.get(), n.get(), BN_value_one()) != 1) {
    return nullptr;
  }
  return group;
}

// The supported curves, built once on first use (a function-local static, so thread-safe) and
// immutable afterwards. A curve that cannot be built is logged and left out.
class Curves {
 public:
  static const Curves& Get() {
    static const Curves curves;
    return curves;
  }

  const Curve* Find(uint16_t id) const {
    for (const Curve& c : curves_) {
      if (c.id == id && c.group != nullptr) {
        return &c;
      }
    }
    return nullptr;
  }

 private:
  Curves() {
    BnCtx ctx(BN_CTX_new());
    for (size_t i = 0; i < curves_.size(); ++i) {
      if (ctx == nullptr || !Init(kCurveDefs[i], curves_[i], ctx.get())) {
        LogOpenSslErrors("building an ECC curve group");
        curves_[i].group.reset();
      }
    }
  }

  static bool Init(const CurveDef& def, Curve& c, BN_CTX* ctx) {
    c.id = def.id;
    c.key_bits = def.key_bits;
    c.key_bytes = (def.key_bits + 7u) / 8u;
    c.group_name = def.group_name;
    c.group.reset(def.nid != NID_undef ? EC_GROUP_new_by_curve_name_ex(nullptr, nullptr, def.nid)
                                       : BuildBnP256(ctx).release());
    c.p.reset(BN_new());
    c.a.reset(BN_new());
    c.b.reset(BN_new());
    c.h.reset(BN_new());
    if (c.group == nullptr || c.p == nullptr || c.a == nullptr || c.b == nullptr ||
        c.h == nullptr ||
        EC_GROUP_get_curve(c.group.get(), c.p.get(), c.a.get(), c.b.get(), ctx) != 1 ||
        EC_GROUP_get_cofactor(c.group.get(), c.h.get(), ctx) != 1 ||
        BN_num_bits(c.p.get()) != def.key_bits) {
      return false;
    }
    c.n.reset(BN_dup(EC_GROUP_get0_order(c.group.get())));
    const EC_POINT* g = EC_GROUP_get0_generator(c.group.get());
    const size_t gen_len =
        g == nullptr
            ? 0
            : EC_POINT_point2oct(c.group.get(), g, POINT_CONVERSION_UNCOMPRESSED, nullptr, 0, ctx);
    if (c.n == nullptr || gen_len == 0) {
      return false;
    }
    c.generator.resize(gen_len);
    return EC_POINT_point2oct(c.group.get(), g, POINT_CONVERSION_UNCOMPRESSED, c.generator.data(),
                              gen_len, ctx) == gen_len;
  }

  std::array<Curve, std::size(kCurveDefs)> curves_;
};

Result<const Curve*> FindCurve(uint16_t id) {
  const Curve* c = Curves::Get().Find(id);
  if (c == nullptr) {
    return Rc::Curve;
  }
  return c;
}

Result<Bn> BnFromBytes(ByteSpan bytes, bool secret) {
  TRY_ASSIGN(Bn bn, NewBn(secret));
  if (BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), bn.get()) == nullptr) {
    return OpenSslFailure("BN_bin2bn");
  }
  return bn;
}

template <class Out>
Result<Out> BnToBytes(const BIGNUM* bn, size_t size) {
  Out out(size);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(size)) != static_cast<int>(size)) {
    return OpenSslFailure("BN_bn2binpad");
  }
  return out;
}

Result<EcPoint> NewPoint(const Curve& c) {
  EcPoint point(EC_POINT_new(c.group.get()));
  if (point == nullptr) {
    return OpenSslFailure("EC_POINT_new");
  }
  return point;
}

// A private scalar in [1, n - 1], or TPM_RC_VALUE.
Result<Bn> PrivateScalar(const Curve& c, ByteSpan d) {
  if (d.size() > c.key_bytes) {
    return Rc::Value;
  }
  TRY_ASSIGN(Bn bn, BnFromBytes(d, /*secret=*/true));
  if (BN_is_zero(bn.get()) || BN_cmp(bn.get(), c.n.get()) >= 0) {
    return Rc::Value;
  }
  return bn;
}

// The point, or TPM_RC_ECC_POINT unless it is a finite point of the curve.
Result<EcPoint> PointFrom(const Curve& c, const EccPoint& in, BN_CTX* ctx) {
  if (in.x.empty() || in.y.empty() || in.x.size() > c.key_bytes || in.y.size() > c.key_bytes) {
    return Rc::EccPoint;
  }
  TRY_ASSIGN(Bn x, BnFromBytes(in.x, false));
  TRY_ASSIGN(Bn y, BnFromBytes(in.y, false));
  // OpenSSL would reduce coordinates mod p; a TPM takes them as given.
  if (BN_cmp(x.get(), c.p.get()) >= 0 || BN_cmp(y.get(), c.p.get()) >= 0) {
    return Rc::EccPoint;
  }
  TRY_ASSIGN(EcPoint point, NewPoint(c));
  // EC_POINT_set_affine_coordinates refuses a point that is not on the curve.
  if (EC_POINT_set_affine_coordinates(c.group.get(), point.get(), x.get(), y.get(), ctx) != 1 ||
      EC_POINT_is_on_curve(c.group.get(), point.get(), ctx) != 1) {
    ERR_clear_error();  // a bad point is the caller's error, not a fault
    return Rc::EccPoint;
  }
  return point;
}

Result<EccPoint> PointTo(const Curve& c, const EC_POINT* point, BN_CTX* ctx) {
  if (EC_POINT_is_at_infinity(c.group.get(), point) == 1) {
    return Rc::NoResult;
  }
  TRY_ASSIGN(Bn x, NewBn(false));
  TRY_ASSIGN(Bn y, NewBn(false));
  if (EC_POINT_get_affine_coordinates(c.group.get(), point, x.get(), y.get(), ctx) != 1) {
    return OpenSslFailure("EC_POINT_get_affine_coordinates");
  }
  EccPoint out;
  TRY_ASSIGN(out.x, BnToBytes<Bytes>(x.get(), c.key_bytes));
  TRY_ASSIGN(out.y, BnToBytes<Bytes>(y.get(), c.key_bytes));
  return out;
}

// [d]G, with OpenSSL's constant-time ladder (EC_POINT_mul with only the generator scalar).
Result<EcPoint> MulGenerator(const Curve& c, const BIGNUM* d, BN_CTX* ctx) {
  TRY_ASSIGN(EcPoint point, NewPoint(c));
  if (EC_POINT_mul(c.group.get(), point.get(), d, nullptr, nullptr, ctx) != 1) {
    return OpenSslFailure("EC_POINT_mul");
  }
  return point;
}

// Part 1 §44.6 steps 1-2: a scalar in [1, n - 1] from bits(n) + 64 bits of `rng`.
Result<Bn> DrawScalar(const Curve& c, const RandomFn& rng, BN_CTX* ctx) {
  const size_t bits = static_cast<size_t>(BN_num_bits(c.n.get())) + 64;
  SecretBytes raw((bits + 7) / 8);
  if (rng) {
    rng(std::span<uint8_t>(raw.data(), raw.size()));
  } else if (RAND_priv_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    return OpenSslFailure("RAND_priv_bytes");
  }
  if (bits % 8 != 0) {
    raw[0] = static_cast<uint8_t>(raw[0] & ((1u << (bits % 8)) - 1));
  }
  TRY_ASSIGN(Bn value, BnFromBytes(raw, /*secret=*/true));
  TRY_ASSIGN(Bn n_minus_1, NewBn(false));
  TRY_ASSIGN(Bn d, NewBn(/*secret=*/true));
  if (BN_sub(n_minus_1.get(), c.n.get(), BN_value_one()) != 1 ||
      BN_mod(d.get(), value.get(), n_minus_1.get(), ctx) != 1 ||
      BN_add(d.get(), d.get(), BN_value_one()) != 1) {
    return OpenSslFailure("ECC scalar from random bits");
  }
  return d;
}

// An EVP key for `c` holding the public point `q` and, when `d` is given, the private scalar.
Result<EvpPkey> EcPkey(const Curve& c, const EC_POINT* q, const BIGNUM* d, BN_CTX* ctx) {
  Bytes pub(EC_POINT_point2oct(c.group.get(), q, POINT_CONVERSION_UNCOMPRESSED, nullptr, 0, ctx));
  if (pub.empty() || EC_POINT_point2oct(c.group.get(), q, POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                                        pub.size(), ctx) != pub.size()) {
    return OpenSslFailure("EC_POINT_point2oct");
  }
  OsslParamBld bld(OSSL_PARAM_BLD_new());
  if (bld == nullptr) {
    return OpenSslFailure("OSSL_PARAM_BLD_new");
  }
  bool ok = true;
  if (c.group_name != nullptr) {
    ok = OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, c.group_name, 0) ==
         1;
  } else {
    ok = OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_EC_FIELD_TYPE,
                                         SN_X9_62_prime_field, 0) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_EC_P, c.p.get()) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_EC_A, c.a.get()) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_EC_B, c.b.get()) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_EC_ORDER, c.n.get()) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_EC_COFACTOR, c.h.get()) == 1 &&
         OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_EC_GENERATOR,
                                          c.generator.data(), c.generator.size()) == 1;
  }
  ok = ok && OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                              pub.size()) == 1;
  if (d != nullptr) {
    ok = ok && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d) == 1;
  }
  OsslParams params(ok ? OSSL_PARAM_BLD_to_param(bld.get()) : nullptr);
  EvpPkeyCtx pctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || pctx == nullptr || EVP_PKEY_fromdata_init(pctx.get()) != 1 ||
      EVP_PKEY_fromdata(pctx.get(), &raw, d != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        params.get()) != 1) {
    return OpenSslFailure("EC EVP_PKEY_fromdata");
  }
  return EvpPkey(raw);
}

// Part 1 §44.3.4.2 step 4: TRUNC(H(FE2BS(xE) || digest), n) as a number (the leading octets
// of the hash, at most as many as n has).
Result<Bn> SchnorrChallenge(const Curve& c, uint16_t hash_alg, const EC_POINT* e, ByteSpan digest,
                            BN_CTX* ctx) {
  TRY_ASSIGN(EccPoint e_point, PointTo(c, e, ctx));
  TRY_ASSIGN(HashContext hash, HashContext::Start(hash_alg));
  hash.Update(e_point.x);
  hash.Update(digest);
  const Bytes h = hash.Finish();
  if (h.empty()) {
    return Rc::Failure;  // logged by HashContext
  }
  const size_t n_bytes = static_cast<size_t>(BN_num_bytes(c.n.get()));
  return BnFromBytes(ByteSpan(h).first(std::min(h.size(), n_bytes)), false);
}

// One Schnorr signing attempt with nonce k; TPM_RC_NO_RESULT for the degenerate cases
// (E at infinity, s = 0 or s = k) that §44.3.4.2 answers with a new k.
Result<std::pair<Bytes, Bytes>> SchnorrAttempt(const Curve& c, uint16_t hash_alg, const BIGNUM* d,
                                               ByteSpan digest, const BIGNUM* k, BN_CTX* ctx) {
  TRY_ASSIGN(EcPoint e, MulGenerator(c, k, ctx));
  if (EC_POINT_is_at_infinity(c.group.get(), e.get()) == 1) {
    return Rc::NoResult;
  }
  TRY_ASSIGN(Bn r, SchnorrChallenge(c, hash_alg, e.get(), digest, ctx));
  TRY_ASSIGN(Bn s, NewBn(/*secret=*/true));
  if (BN_mod_mul(s.get(), r.get(), d, c.n.get(), ctx) != 1 ||
      BN_mod_add(s.get(), s.get(), k, c.n.get(), ctx) != 1) {
    return OpenSslFailure("EC Schnorr s");
  }
  if (BN_is_zero(s.get()) || BN_cmp(s.get(), k) == 0) {
    return Rc::NoResult;
  }
  std::pair<Bytes, Bytes> out;
  TRY_ASSIGN(out.first, BnToBytes<Bytes>(r.get(), c.key_bytes));
  TRY_ASSIGN(out.second, BnToBytes<Bytes>(s.get(), c.key_bytes));
  return out;
}

// A signature component in [1, n - 1], or nullptr (so the caller answers TPM_RC_SIGNATURE).
Result<Bn> SignatureScalar(const Curve& c, ByteSpan v) {
  if (v.empty() || v.size() > c.key_bytes) {
    return Bn();
  }
  TRY_ASSIGN(Bn bn, BnFromBytes(v, false));
  if (BN_is_zero(bn.get()) || BN_cmp(bn.get(), c.n.get()) >= 0) {
    return Bn();
  }
  return bn;
}

}  // namespace

bool IsEccCurveSupported(uint16_t curve) {
  return Curves::Get().Find(curve) != nullptr;
}

size_t EccKeyBytes(uint16_t curve) {
  const Curve* c = Curves::Get().Find(curve);
  return c == nullptr ? 0 : c->key_bytes;
}

Result<EccCurveInfo> EccCurve(uint16_t curve) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn gx, NewBn(false));
  TRY_ASSIGN(Bn gy, NewBn(false));
  if (EC_POINT_get_affine_coordinates(c->group.get(), EC_GROUP_get0_generator(c->group.get()),
                                      gx.get(), gy.get(), ctx.get()) != 1) {
    return OpenSslFailure("ECC generator coordinates");
  }
  EccCurveInfo info;
  info.curve = curve;
  info.key_bits = c->key_bits;
  TRY_ASSIGN(info.p, BnToBytes<Bytes>(c->p.get(), c->key_bytes));
  TRY_ASSIGN(info.a, BnToBytes<Bytes>(c->a.get(), c->key_bytes));
  TRY_ASSIGN(info.b, BnToBytes<Bytes>(c->b.get(), c->key_bytes));
  TRY_ASSIGN(info.gx, BnToBytes<Bytes>(gx.get(), c->key_bytes));
  TRY_ASSIGN(info.gy, BnToBytes<Bytes>(gy.get(), c->key_bytes));
  TRY_ASSIGN(info.n, BnToBytes<Bytes>(c->n.get(), c->key_bytes));
  TRY_ASSIGN(info.h, BnToBytes<Bytes>(c->h.get(),
                                      static_cast<size_t>(std::max(1, BN_num_bytes(c->h.get())))));
  return info;
}

Result<SecretBytes> EccDerivePrivate(uint16_t curve, const RandomFn& rng) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  if (!rng) {
    return Rc::Failure;  // a caller bug: derivation must be reproducible
  }
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn d, DrawScalar(*c, rng, ctx.get()));
  return BnToBytes<SecretBytes>(d.get(), c->key_bytes);
}

Result<EccPoint> EccPublicFromPrivate(uint16_t curve, ByteSpan d) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(Bn scalar, PrivateScalar(*c, d));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(EcPoint q, MulGenerator(*c, scalar.get(), ctx.get()));
  return PointTo(*c, q.get(), ctx.get());
}

bool EccIsOnCurve(uint16_t curve, const EccPoint& point) {
  const Curve* c = Curves::Get().Find(curve);
  BnCtx ctx(BN_CTX_new());
  return c != nullptr && ctx != nullptr && PointFrom(*c, point, ctx.get()).ok();
}

Result<std::pair<Bytes, Bytes>> EcdsaSign(uint16_t curve, ByteSpan d, ByteSpan digest) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(Bn scalar, PrivateScalar(*c, d));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(EcPoint q, MulGenerator(*c, scalar.get(), ctx.get()));
  TRY_ASSIGN(EvpPkey pkey, EcPkey(*c, q.get(), scalar.get(), ctx.get()));
  EvpPkeyCtx pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  size_t der_len = 0;
  // No digest is set on the context, so OpenSSL signs `digest` as given (any length), after the
  // ECDSA truncation to bits(n).
  if (pctx == nullptr || EVP_PKEY_sign_init(pctx.get()) != 1 ||
      EVP_PKEY_sign(pctx.get(), nullptr, &der_len, digest.data(), digest.size()) != 1) {
    return OpenSslFailure("ECDSA sign init");
  }
  Bytes der(der_len);
  if (EVP_PKEY_sign(pctx.get(), der.data(), &der_len, digest.data(), digest.size()) != 1) {
    return OpenSslFailure("ECDSA sign");
  }
  const unsigned char* p = der.data();
  EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (sig == nullptr) {
    return OpenSslFailure("d2i_ECDSA_SIG");
  }
  std::pair<Bytes, Bytes> out;
  TRY_ASSIGN(out.first, BnToBytes<Bytes>(ECDSA_SIG_get0_r(sig.get()), c->key_bytes));
  TRY_ASSIGN(out.second, BnToBytes<Bytes>(ECDSA_SIG_get0_s(sig.get()), c->key_bytes));
  return out;
}

RcStatus EcdsaVerify(uint16_t curve, const EccPoint& q, ByteSpan digest, ByteSpan r, ByteSpan s) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(EcPoint point, PointFrom(*c, q, ctx.get()));
  TRY_ASSIGN(Bn r_bn, SignatureScalar(*c, r));
  TRY_ASSIGN(Bn s_bn, SignatureScalar(*c, s));
  if (r_bn == nullptr || s_bn == nullptr) {
    return Rc::Signature;
  }
  TRY_ASSIGN(EvpPkey pkey, EcPkey(*c, point.get(), nullptr, ctx.get()));
  EcdsaSig sig(ECDSA_SIG_new());
  if (sig == nullptr || ECDSA_SIG_set0(sig.get(), r_bn.get(), s_bn.get()) != 1) {
    return OpenSslFailure("ECDSA_SIG_set0");
  }
  // ECDSA_SIG_set0 took ownership of both.
  static_cast<void>(r_bn.release());
  static_cast<void>(s_bn.release());
  unsigned char* der_raw = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der_raw);
  if (der_len <= 0) {
    return OpenSslFailure("i2d_ECDSA_SIG");
  }
  const Bytes der(der_raw, der_raw + der_len);
  OPENSSL_free(der_raw);
  EvpPkeyCtx pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (pctx == nullptr || EVP_PKEY_verify_init(pctx.get()) != 1) {
    return OpenSslFailure("ECDSA verify init");
  }
  if (EVP_PKEY_verify(pctx.get(), der.data(), der.size(), digest.data(), digest.size()) != 1) {
    ERR_clear_error();  // a bad signature is an answer, not a fault
    return Rc::Signature;
  }
  return {};
}

Result<std::pair<Bytes, Bytes>> EcSchnorrSignWithNonce(uint16_t curve, uint16_t hash_alg,
                                                       ByteSpan d, ByteSpan digest, ByteSpan k) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  if (!IsHashSupported(hash_alg)) {
    return Rc::Hash;
  }
  TRY_ASSIGN(Bn d_bn, PrivateScalar(*c, d));
  TRY_ASSIGN(Bn k_bn, PrivateScalar(*c, k));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  return SchnorrAttempt(*c, hash_alg, d_bn.get(), digest, k_bn.get(), ctx.get());
}

Result<std::pair<Bytes, Bytes>> EcSchnorrSign(uint16_t curve, uint16_t hash_alg, ByteSpan d,
                                              ByteSpan digest, const RandomFn& rng) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  if (!IsHashSupported(hash_alg)) {
    return Rc::Hash;
  }
  TRY_ASSIGN(Bn d_bn, PrivateScalar(*c, d));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  // A redraw happens with probability about 2/n; many in a row mean a broken stream.
  for (int attempt = 0; attempt < 16; ++attempt) {
    TRY_ASSIGN(Bn k, DrawScalar(*c, rng, ctx.get()));
    auto sig = SchnorrAttempt(*c, hash_alg, d_bn.get(), digest, k.get(), ctx.get());
    if (sig.ok() || sig.error() != Rc::NoResult) {
      return sig;
    }
  }
  std::fprintf(stderr, "tpm2emu crypto: EC Schnorr: the random stream looks constant\n");
  return Rc::Failure;
}

RcStatus EcSchnorrVerify(uint16_t curve, uint16_t hash_alg, const EccPoint& q, ByteSpan digest,
                         ByteSpan r, ByteSpan s) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  if (!IsHashSupported(hash_alg)) {
    return Rc::Hash;
  }
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(EcPoint point, PointFrom(*c, q, ctx.get()));
  // §44.3.4.3 step 1: 0 < s < n. r is compared as a number, so any padding is accepted.
  TRY_ASSIGN(Bn s_bn, SignatureScalar(*c, s));
  if (s_bn == nullptr || r.empty() || r.size() > c->key_bytes) {
    return Rc::Signature;
  }
  TRY_ASSIGN(Bn r_bn, BnFromBytes(r, false));
  TRY_ASSIGN(Bn neg_r, NewBn(false));
  // [-r]Q with -r taken mod n.
  if (BN_nnmod(neg_r.get(), r_bn.get(), c->n.get(), ctx.get()) != 1 ||
      (!BN_is_zero(neg_r.get()) && BN_sub(neg_r.get(), c->n.get(), neg_r.get()) != 1)) {
    return OpenSslFailure("EC Schnorr -r");
  }
  TRY_ASSIGN(EcPoint e, NewPoint(*c));
  if (EC_POINT_mul(c->group.get(), e.get(), s_bn.get(), point.get(), neg_r.get(), ctx.get()) != 1) {
    return OpenSslFailure("EC Schnorr [s]G + [-r]Q");
  }
  if (EC_POINT_is_at_infinity(c->group.get(), e.get()) == 1) {
    return Rc::Signature;
  }
  TRY_ASSIGN(Bn r_check, SchnorrChallenge(*c, hash_alg, e.get(), digest, ctx.get()));
  if (BN_cmp(r_check.get(), r_bn.get()) != 0) {
    return Rc::Signature;
  }
  return {};
}

Result<EccPoint> EcdhZ(uint16_t curve, ByteSpan d, const EccPoint& peer) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(EcPoint peer_point, PointFrom(*c, peer, ctx.get()));
  TRY_ASSIGN(Bn scalar, PrivateScalar(*c, d));
  // Every supported curve has cofactor 1, so [h d]Q is [d]Q. EC_POINT_mul with one point and
  // no generator scalar uses OpenSSL's constant-time ladder.
  TRY_ASSIGN(EcPoint z, NewPoint(*c));
  if (EC_POINT_mul(c->group.get(), z.get(), nullptr, peer_point.get(), scalar.get(), ctx.get()) !=
      1) {
    return OpenSslFailure("ECDH EC_POINT_mul");
  }
  return PointTo(*c, z.get(), ctx.get());
}

Result<std::pair<SecretBytes, EccPoint>> EccEphemeral(uint16_t curve, const RandomFn& rng) {
  TRY_ASSIGN(SecretBytes d, EccDerivePrivate(curve, rng));
  TRY_ASSIGN(EccPoint q, EccPublicFromPrivate(curve, d));
  return std::pair<SecretBytes, EccPoint>(std::move(d), std::move(q));
}


// --- Split and two-phase operations -------------------------------------------------------------

namespace {

// v mod m, as key-size octets.
template <class Out>
Result<Out> ReduceMod(const Curve& c, const BIGNUM* m, ByteSpan v, bool secret) {
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn value, BnFromBytes(v, secret));
  TRY_ASSIGN(Bn out, NewBn(secret));
  if (BN_nnmod(out.get(), value.get(), m, ctx.get()) != 1) {
    return OpenSslFailure("BN_nnmod");
  }
  return BnToBytes<Out>(out.get(), c.key_bytes);
}

// A scalar of at most key-size octets, reduced mod n (may be zero), or TPM_RC_VALUE.
Result<Bn> ScalarModN(const Curve& c, ByteSpan k, BN_CTX* ctx) {
  if (k.size() > c.key_bytes) {
    return Rc::Value;
  }
  TRY_ASSIGN(Bn value, BnFromBytes(k, /*secret=*/true));
  TRY_ASSIGN(Bn out, NewBn(/*secret=*/true));
  if (BN_nnmod(out.get(), value.get(), c.n.get(), ctx) != 1) {
    return OpenSslFailure("BN_nnmod");
  }
  return out;
}

// SP 800-56A §5.7.2.3 avg(Q) := (x_Q mod 2^f) + 2^f with f := ceil(bits(n) / 2).
Result<Bn> MqvAvg(const Curve& c, const EC_POINT* q, BN_CTX* ctx) {
  TRY_ASSIGN(Bn x, NewBn(false));
  if (EC_POINT_get_affine_coordinates(c.group.get(), q, x.get(), nullptr, ctx) != 1) {
    return OpenSslFailure("MQV avg coordinates");
  }
  const int f = (BN_num_bits(c.n.get()) + 1) / 2;
  static_cast<void>(BN_mask_bits(x.get(), f));  // 0 when x already has fewer than f bits
  if (BN_set_bit(x.get(), f) != 1) {
    return OpenSslFailure("BN_set_bit");
  }
  return x;
}

}  // namespace

Result<SecretBytes> EccReduceModN(uint16_t curve, ByteSpan v) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  return ReduceMod<SecretBytes>(*c, c->n.get(), v, /*secret=*/true);
}

Result<Bytes> EccReduceModP(uint16_t curve, ByteSpan v) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  return ReduceMod<Bytes>(*c, c->p.get(), v, /*secret=*/false);
}

Result<EccPoint> EccMultiply(uint16_t curve, ByteSpan k, const EccPoint* p) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn scalar, ScalarModN(*c, k, ctx.get()));
  TRY_ASSIGN(EcPoint out, NewPoint(*c));
  if (p == nullptr) {
    TRY_ASSIGN(out, MulGenerator(*c, scalar.get(), ctx.get()));
  } else {
    TRY_ASSIGN(EcPoint base, PointFrom(*c, *p, ctx.get()));
    if (EC_POINT_mul(c->group.get(), out.get(), nullptr, base.get(), scalar.get(), ctx.get()) !=
        1) {
      return OpenSslFailure("EC_POINT_mul");
    }
  }
  return PointTo(*c, out.get(), ctx.get());
}

Result<std::pair<Bytes, Bytes>> EcdaaSign(uint16_t curve, uint16_t hash_alg, ByteSpan d,
                                          ByteSpan r, ByteSpan digest, const RandomFn& rng) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  if (!IsHashSupported(hash_alg)) {
    return Rc::Hash;
  }
  TRY_ASSIGN(Bn d_bn, PrivateScalar(*c, d));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  if (r.size() > c->key_bytes) {
    return Rc::Value;
  }
  TRY_ASSIGN(Bn r_bn, BnFromBytes(r, /*secret=*/true));
  if (BN_cmp(r_bn.get(), c->n.get()) >= 0) {
    return Rc::Value;
  }
  // §44.3.3.3 step 4: s = 0 has negligible probability; a new k answers it.
  for (int attempt = 0; attempt < 16; ++attempt) {
    TRY_ASSIGN(Bn k, DrawScalar(*c, rng, ctx.get()));
    TRY_ASSIGN(Bytes k_bytes, BnToBytes<Bytes>(k.get(), c->key_bytes));
    TRY_ASSIGN(HashContext hash, HashContext::Start(hash_alg));
    hash.Update(k_bytes);
    hash.Update(digest);
    const Bytes h = hash.Finish();
    if (h.empty()) {
      return Rc::Failure;  // logged by HashContext
    }
    TRY_ASSIGN(Bn t, BnFromBytes(h, false));
    TRY_ASSIGN(Bn s, NewBn(/*secret=*/true));
    if (BN_nnmod(t.get(), t.get(), c->n.get(), ctx.get()) != 1 ||
        BN_mod_mul(s.get(), t.get(), d_bn.get(), c->n.get(), ctx.get()) != 1 ||
        BN_mod_add(s.get(), s.get(), r_bn.get(), c->n.get(), ctx.get()) != 1) {
      return OpenSslFailure("ECDAA s");
    }
    if (!BN_is_zero(s.get())) {
      std::pair<Bytes, Bytes> out;
      out.first = std::move(k_bytes);
      TRY_ASSIGN(out.second, BnToBytes<Bytes>(s.get(), c->key_bytes));
      return out;
    }
  }
  std::fprintf(stderr, "tpm2emu crypto: ECDAA: the random stream looks constant\n");
  return Rc::Failure;
}

Result<EccPoint> EcMqvZ(uint16_t curve, ByteSpan ds_a, ByteSpan de_a, const EccPoint& qs_b,
                        const EccPoint& qe_b) {
  TRY_ASSIGN(const Curve* c, FindCurve(curve));
  TRY_ASSIGN(BnCtx ctx, NewBnCtx());
  TRY_ASSIGN(Bn ds, PrivateScalar(*c, ds_a));
  TRY_ASSIGN(Bn de, PrivateScalar(*c, de_a));
  TRY_ASSIGN(EcPoint qs_b_point, PointFrom(*c, qs_b, ctx.get()));
  TRY_ASSIGN(EcPoint qe_b_point, PointFrom(*c, qe_b, ctx.get()));
  TRY_ASSIGN(EcPoint qe_a, MulGenerator(*c, de.get(), ctx.get()));
  TRY_ASSIGN(Bn avg_a, MqvAvg(*c, qe_a.get(), ctx.get()));
  TRY_ASSIGN(Bn avg_b, MqvAvg(*c, qe_b_point.get(), ctx.get()));
  // implicitsig := (de + avg(QeA) ds) mod n; cofactor 1 on every supported curve, so h = 1.
  TRY_ASSIGN(Bn implicit_sig, NewBn(/*secret=*/true));
  if (BN_mod_mul(implicit_sig.get(), avg_a.get(), ds.get(), c->n.get(), ctx.get()) != 1 ||
      BN_mod_add(implicit_sig.get(), implicit_sig.get(), de.get(), c->n.get(), ctx.get()) != 1) {
    return OpenSslFailure("MQV implicitsig");
  }
  TRY_ASSIGN(EcPoint sum, NewPoint(*c));
  if (EC_POINT_mul(c->group.get(), sum.get(), nullptr, qs_b_point.get(), avg_b.get(),
                   ctx.get()) != 1 ||
      EC_POINT_add(c->group.get(), sum.get(), sum.get(), qe_b_point.get(), ctx.get()) != 1) {
    return OpenSslFailure("MQV QeB + [avg(QeB)]QsB");
  }
  TRY_ASSIGN(EcPoint z, NewPoint(*c));
  if (EC_POINT_mul(c->group.get(), z.get(), nullptr, sum.get(), implicit_sig.get(), ctx.get()) !=
      1) {
    return OpenSslFailure("MQV Z");
  }
  return PointTo(*c, z.get(), ctx.get());
}

}  // namespace tpm2emu::crypto
