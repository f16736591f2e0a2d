// TPM2_Commit, ECDAA signing, TPM2_EC_Ephemeral and TPM2_ZGen_2Phase through ESYS, with every
// TPM output checked by independent software arithmetic (OpenSSL EC_POINT/BIGNUM): the Commit
// points against a key whose private scalar the test knows, the ECDAA signature against its
// verification equations, and the two-phase Z values against party B's own computation.

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "crypto/ecc.h"
#include "crypto/hash.h"
#include "engine/tpm.h"
#include "tests/engine/esys_client.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

using BnPtr = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
using PointPtr = std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)>;

constexpr TSS2_RC kP1 = TPM2_RC_P | TPM2_RC_1;
constexpr TSS2_RC kP2 = TPM2_RC_P | TPM2_RC_2;
constexpr TSS2_RC kP3 = TPM2_RC_P | TPM2_RC_3;
constexpr TSS2_RC kP4 = TPM2_RC_P | TPM2_RC_4;
constexpr TSS2_RC kH1 = TPM2_RC_H | TPM2_RC_1;

Bytes Of(const TPM2B_ECC_PARAMETER& p) { return Bytes(p.buffer, p.buffer + p.size); }

TPM2B_ECC_PARAMETER Param(ByteSpan b) {
  TPM2B_ECC_PARAMETER p{};
  p.size = static_cast<UINT16>(b.size());
  std::copy(b.begin(), b.end(), p.buffer);
  return p;
}

TPM2B_ECC_POINT ToTss(const crypto::EccPoint& q) {
  TPM2B_ECC_POINT p{};
  p.point.x = Param(q.x);
  p.point.y = Param(q.y);
  return p;
}

crypto::EccPoint FromTss(const TPM2B_ECC_POINT& p) {
  return crypto::EccPoint{Of(p.point.x), Of(p.point.y)};
}

// Software arithmetic on one curve, independent of crypto/ecc.cc's code paths.
class Curve {
 public:
  explicit Curve(uint16_t id) : id_(id) {
    auto info = crypto::EccCurve(id);
    EXPECT_TRUE(info.ok());
    bytes_ = info->p.size();
    p_ = Bn(info->p);
    n_ = Bn(info->n);
    BnPtr a = Bn(info->a), b = Bn(info->b);
    a_ = Bn(info->a);
    b_ = Bn(info->b);
    group_.reset(EC_GROUP_new_curve_GFp(p_.get(), a.get(), b.get(), ctx_.get()));
    PointPtr g = Point(crypto::EccPoint{info->gx, info->gy});
    EC_GROUP_set_generator(group_.get(), g.get(), n_.get(), BN_value_one());
    g_ = crypto::EccPoint{info->gx, info->gy};
  }
  uint16_t id() const { return id_; }
  const crypto::EccPoint& g() const { return g_; }
  const BIGNUM* n() const { return n_.get(); }
  BN_CTX* ctx() const { return ctx_.get(); }

  static BnPtr Bn(ByteSpan b) {
    return BnPtr(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr), &BN_free);
  }
  Bytes Octets(const BIGNUM* v) const {
    Bytes out(bytes_);
    BN_bn2binpad(v, out.data(), static_cast<int>(bytes_));
    return out;
  }
  PointPtr Point(const crypto::EccPoint& q) const {
    PointPtr pt(EC_POINT_new(group_.get()), &EC_POINT_free);
    BnPtr x = Bn(q.x), y = Bn(q.y);
    EC_POINT_set_affine_coordinates(group_.get(), pt.get(), x.get(), y.get(), ctx_.get());
    return pt;
  }
  // [k]P + [j]Q; either scalar may be null.
  crypto::EccPoint MulAdd(const BIGNUM* k, const crypto::EccPoint& p, const BIGNUM* j = nullptr,
                          const crypto::EccPoint& q = {}) const {
    PointPtr sum(EC_POINT_new(group_.get()), &EC_POINT_free);
    PointPtr t(EC_POINT_new(group_.get()), &EC_POINT_free);
    EC_POINT_set_to_infinity(group_.get(), sum.get());
    if (k != nullptr) {
      EC_POINT_mul(group_.get(), t.get(), nullptr, Point(p).get(), k, ctx_.get());
      EC_POINT_add(group_.get(), sum.get(), sum.get(), t.get(), ctx_.get());
    }
    if (j != nullptr) {
      EC_POINT_mul(group_.get(), t.get(), nullptr, Point(q).get(), j, ctx_.get());
      EC_POINT_add(group_.get(), sum.get(), sum.get(), t.get(), ctx_.get());
    }
    BnPtr x(BN_new(), &BN_free), y(BN_new(), &BN_free);
    EC_POINT_get_affine_coordinates(group_.get(), sum.get(), x.get(), y.get(), ctx_.get());
    return crypto::EccPoint{Octets(x.get()), Octets(y.get())};
  }
  crypto::EccPoint Mul(ByteSpan k, const crypto::EccPoint& p) const {
    BnPtr kb = Bn(k);
    return MulAdd(kb.get(), p);
  }
  // A basename s2 and y2 with (H(s2) mod p, y2) on the curve: tries s2 = prefix || i.
  std::pair<Bytes, crypto::EccPoint> BasePoint(std::string_view prefix) const {
    for (uint8_t i = 0; i < 100; ++i) {
      Bytes s2 = ToBytes(prefix);
      s2.push_back(i);
      auto h = crypto::Hash(TpmAlg::Sha256, s2);
      BnPtr x = Bn(*h);
      BN_nnmod(x.get(), x.get(), p_.get(), ctx_.get());
      // y^2 = x^3 + a x + b
      BnPtr rhs(BN_new(), &BN_free), t(BN_new(), &BN_free);
      BN_mod_sqr(rhs.get(), x.get(), p_.get(), ctx_.get());
      BN_mod_add(rhs.get(), rhs.get(), a_.get(), p_.get(), ctx_.get());
      BN_mod_mul(rhs.get(), rhs.get(), x.get(), p_.get(), ctx_.get());
      BN_mod_add(rhs.get(), rhs.get(), b_.get(), p_.get(), ctx_.get());
      BIGNUM* y = BN_mod_sqrt(nullptr, rhs.get(), p_.get(), ctx_.get());
      if (y != nullptr) {
        BnPtr y_owner(y, &BN_free);
        BN_mod_sqr(t.get(), y, p_.get(), ctx_.get());
        if (BN_cmp(t.get(), rhs.get()) == 0) {
          return {s2, crypto::EccPoint{Octets(x.get()), Octets(y)}};
        }
      }
    }
    ADD_FAILURE() << "no base point found";
    return {};
  }
  // T := H(k || digest) mod n (Part 1 §44.3.3.3 step 2).
  BnPtr EcdaaT(ByteSpan k, ByteSpan digest) const {
    Bytes m(k.begin(), k.end());
    m.insert(m.end(), digest.begin(), digest.end());
    BnPtr t = Bn(*crypto::Hash(TpmAlg::Sha256, m));
    BN_nnmod(t.get(), t.get(), n_.get(), ctx_.get());
    return t;
  }

 private:
  uint16_t id_;
  size_t bytes_ = 0;
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx_{BN_CTX_new(), &BN_CTX_free};
  BnPtr p_{nullptr, &BN_free}, n_{nullptr, &BN_free}, a_{nullptr, &BN_free},
      b_{nullptr, &BN_free};
  std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)> group_{nullptr, &EC_GROUP_free};
  crypto::EccPoint g_;
};

TPM2B_PUBLIC EccTemplate(uint16_t curve, TPMA_OBJECT use, TPM2_ALG_ID scheme) {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH | use;
  auto& p = t.publicArea.parameters.eccDetail;
  p.symmetric.algorithm = TPM2_ALG_NULL;
  p.scheme.scheme = scheme;
  p.scheme.details.ecdaa.hashAlg = TPM2_ALG_SHA256;  // same layout for every scheme's hash
  p.scheme.details.ecdaa.count = 0;
  p.curveID = curve;
  p.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

class EphemeralTest : public ::testing::Test {
 protected:
  void SetUp() override { Connect(); }
  void Connect() {
    client_ = std::make_unique<EsysClient>(tpm_.tpm());
    ASSERT_EQ(client_->init_rc(), TSS2_RC_SUCCESS);
    ctx_ = client_->ctx();
  }
  // A TPM-generated key; `pub` gets its public point.
  ESYS_TR Primary(const TPM2B_PUBLIC& tmpl, crypto::EccPoint* pub = nullptr) {
    TPM2B_PUBLIC full = tmpl;
    full.publicArea.objectAttributes |=
        TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR handle = ESYS_TR_NONE;
    TPM2B_PUBLIC* out = nullptr;
    EXPECT_EQ(Esys_CreatePrimary(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &sens, &full, &outside, &pcrs, &handle, &out,
                                 nullptr, nullptr, nullptr),
              TSS2_RC_SUCCESS);
    if (out != nullptr && pub != nullptr) {
      *pub = crypto::EccPoint{Of(out->publicArea.unique.ecc.x), Of(out->publicArea.unique.ecc.y)};
    }
    Esys_Free(out);
    return handle;
  }
  // A key whose private scalar the test chose (TPM2_LoadExternal in the null hierarchy).
  ESYS_TR External(const Curve& c, const TPM2B_PUBLIC& tmpl, ByteSpan d) {
    TPM2B_PUBLIC pub = tmpl;
    const crypto::EccPoint q = c.Mul(d, c.g());
    pub.publicArea.unique.ecc.x = Param(q.x);
    pub.publicArea.unique.ecc.y = Param(q.y);
    TPM2B_SENSITIVE priv{};
    priv.sensitiveArea.sensitiveType = TPM2_ALG_ECC;
    priv.sensitiveArea.sensitive.ecc = Param(d);
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(Esys_LoadExternal(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub,
                                ESYS_TR_RH_NULL, &handle),
              TSS2_RC_SUCCESS);
    return handle;
  }
  struct CommitResult {
    TSS2_RC rc = 0;
    crypto::EccPoint k, l, e;
    uint16_t counter = 0;
  };
  CommitResult Commit(ESYS_TR key, const TPM2B_ECC_POINT& p1, ByteSpan s2, ByteSpan y2) {
    TPM2B_SENSITIVE_DATA s2_tss{};
    s2_tss.size = static_cast<UINT16>(s2.size());
    std::copy(s2.begin(), s2.end(), s2_tss.buffer);
    TPM2B_ECC_PARAMETER y2_tss = Param(y2);
    TPM2B_ECC_POINT *k = nullptr, *l = nullptr, *e = nullptr;
    CommitResult out;
    out.rc = Esys_Commit(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &p1, &s2_tss,
                         &y2_tss, &k, &l, &e, &out.counter);
    if (out.rc == TSS2_RC_SUCCESS) {
      out.k = FromTss(*k);
      out.l = FromTss(*l);
      out.e = FromTss(*e);
    }
    Esys_Free(k);
    Esys_Free(l);
    Esys_Free(e);
    return out;
  }
  // TPM2_Sign with ECDAA and the commit `counter`; (k, s) on success.
  TSS2_RC SignEcdaa(ESYS_TR key, uint16_t counter, ByteSpan digest, Bytes* k = nullptr,
                    Bytes* s = nullptr) {
    TPM2B_DIGEST d{};
    d.size = static_cast<UINT16>(digest.size());
    std::copy(digest.begin(), digest.end(), d.buffer);
    TPMT_SIG_SCHEME scheme{};
    scheme.scheme = TPM2_ALG_ECDAA;
    scheme.details.ecdaa.hashAlg = TPM2_ALG_SHA256;
    scheme.details.ecdaa.count = counter;
    TPMT_TK_HASHCHECK ticket{};
    ticket.tag = TPM2_ST_HASHCHECK;
    ticket.hierarchy = TPM2_RH_NULL;
    TPMT_SIGNATURE* sig = nullptr;
    TSS2_RC rc = Esys_Sign(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &scheme,
                           &ticket, &sig);
    if (rc == TSS2_RC_SUCCESS) {
      EXPECT_EQ(sig->sigAlg, TPM2_ALG_ECDAA);
      EXPECT_EQ(sig->signature.ecdaa.hash, TPM2_ALG_SHA256);
      if (k != nullptr) {
        *k = Of(sig->signature.ecdaa.signatureR);
      }
      if (s != nullptr) {
        *s = Of(sig->signature.ecdaa.signatureS);
      }
    }
    Esys_Free(sig);
    return rc;
  }
  struct EphemeralResult {
    TSS2_RC rc = 0;
    crypto::EccPoint q;
    uint16_t counter = 0;
  };
  EphemeralResult EcEphemeral(uint16_t curve) {
    TPM2B_ECC_POINT* q = nullptr;
    EphemeralResult out;
    out.rc = Esys_EC_Ephemeral(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, curve, &q,
                               &out.counter);
    if (q != nullptr) {
      out.q = FromTss(*q);
    }
    Esys_Free(q);
    return out;
  }
  TSS2_RC ZGen(ESYS_TR key, const crypto::EccPoint& qs_b, const crypto::EccPoint& qe_b,
               uint16_t scheme, uint16_t counter, TPM2B_ECC_POINT* z1 = nullptr,
               TPM2B_ECC_POINT* z2 = nullptr) {
    TPM2B_ECC_POINT qs = ToTss(qs_b), qe = ToTss(qe_b);
    TPM2B_ECC_POINT *o1 = nullptr, *o2 = nullptr;
    TSS2_RC rc = Esys_ZGen_2Phase(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qs,
                                  &qe, scheme, counter, &o1, &o2);
    if (rc == TSS2_RC_SUCCESS) {
      if (z1 != nullptr) {
        *z1 = *o1;
      }
      if (z2 != nullptr) {
        *z2 = *o2;
      }
    }
    Esys_Free(o1);
    Esys_Free(o2);
    return rc;
  }

  TestTpm tpm_;
  std::unique_ptr<EsysClient> client_;
  ESYS_CONTEXT* ctx_ = nullptr;
};

const Bytes kDigest = Bytes(32, 0x5A);

// Part 1 §44.2.3 and §44.3.3.3 with a known d: K = [d]B, and after signing, r := s - T d gives
// E = [r]P1 and L = [r]B, so every output is pinned.
TEST_F(EphemeralTest, CommitPointsAndEcdaaSignatureMatchAKnownKey) {
  for (uint16_t curve_id : {uint16_t{TPM2_ECC_BN_P256}, uint16_t{TPM2_ECC_NIST_P256}}) {
    Curve c(curve_id);
    const Bytes d = *crypto::Hash(TpmAlg::Sha256, ToBytes("known ecdaa key"));  // < n
    ESYS_TR key = External(c, EccTemplate(curve_id, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_ECDAA), d);
    const auto [s2, b] = c.BasePoint("basename");
    BnPtr seven = Curve::Bn(Bytes{7});
    const crypto::EccPoint p1 = c.MulAdd(seven.get(), c.g());
    CommitResult cr = Commit(key, ToTss(p1), s2, b.y);
    ASSERT_EQ(cr.rc, TSS2_RC_SUCCESS) << curve_id;
    const crypto::EccPoint want_k = c.Mul(d, b);
    EXPECT_EQ(cr.k.x, want_k.x);
    EXPECT_EQ(cr.k.y, want_k.y);

    Bytes k, s;
    ASSERT_EQ(SignEcdaa(key, cr.counter, kDigest, &k, &s), TSS2_RC_SUCCESS);
    BnPtr t = c.EcdaaT(k, kDigest);
    BnPtr d_bn = Curve::Bn(d), s_bn = Curve::Bn(s);
    BnPtr r(BN_new(), &BN_free);
    BN_mod_mul(r.get(), t.get(), d_bn.get(), c.n(), c.ctx());
    BN_mod_sub(r.get(), s_bn.get(), r.get(), c.n(), c.ctx());
    const crypto::EccPoint want_e = c.MulAdd(r.get(), p1);
    const crypto::EccPoint want_l = c.MulAdd(r.get(), b);
    EXPECT_EQ(cr.e.x, want_e.x);
    EXPECT_EQ(cr.e.y, want_e.y);
    EXPECT_EQ(cr.l.x, want_l.x);
    EXPECT_EQ(cr.l.y, want_l.y);
    // The verifier's equation without d: [s]B = L + [T]K.
    BnPtr one = Curve::Bn(Bytes{1});
    const crypto::EccPoint lhs = c.MulAdd(s_bn.get(), b);
    const crypto::EccPoint rhs = c.MulAdd(one.get(), cr.l, t.get(), cr.k);
    EXPECT_EQ(lhs.x, rhs.x);
    EXPECT_EQ(lhs.y, rhs.y);
    // A commit is used once.
    EXPECT_EQ(SignEcdaa(key, cr.counter, kDigest), TPM2_RC_VALUE | kP2);
    Esys_FlushContext(ctx_, key);
  }
}

// With an Empty Point P1 and no s2, E := [r]G; a TPM-generated ECDAA key then signs so that
// [s]G = E + [T]Q. Counters count up; the window and the used bits are enforced.
TEST_F(EphemeralTest, CommitWithoutPointsGivesRGAndCountersAreTracked) {
  Curve c(TPM2_ECC_BN_P256);
  crypto::EccPoint q;
  ESYS_TR key = Primary(EccTemplate(TPM2_ECC_BN_P256, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_ECDAA),
                        &q);
  TPM2B_ECC_POINT empty{};
  CommitResult first = Commit(key, empty, {}, {});
  ASSERT_EQ(first.rc, TSS2_RC_SUCCESS);
  EXPECT_TRUE(first.k.x.empty() && first.k.y.empty() && first.l.x.empty());
  CommitResult second = Commit(key, empty, {}, {});
  ASSERT_EQ(second.rc, TSS2_RC_SUCCESS);
  EXPECT_EQ(first.counter, 0);
  EXPECT_EQ(second.counter, 1);
  EXPECT_NE(first.e.x, second.e.x);

  Bytes k, s;
  ASSERT_EQ(SignEcdaa(key, second.counter, kDigest, &k, &s), TSS2_RC_SUCCESS);
  BnPtr t = c.EcdaaT(k, kDigest);
  BnPtr s_bn = Curve::Bn(s), one = Curve::Bn(Bytes{1});
  const crypto::EccPoint lhs = c.MulAdd(s_bn.get(), c.g());
  const crypto::EccPoint rhs = c.MulAdd(one.get(), second.e, t.get(), q);
  EXPECT_EQ(lhs.x, rhs.x);
  EXPECT_EQ(lhs.y, rhs.y);
  // The first commit still works after the second was used; then neither.
  EXPECT_EQ(SignEcdaa(key, first.counter, kDigest), TSS2_RC_SUCCESS);
  EXPECT_EQ(SignEcdaa(key, first.counter, kDigest), TPM2_RC_VALUE | kP2);
  // Never issued (counter == commitCount) or outside the window: TPM_RC_RANGE.
  EXPECT_EQ(SignEcdaa(key, 2, kDigest), TPM2_RC_RANGE | kP2);
  EXPECT_EQ(SignEcdaa(key, 0xFFFF, kDigest), TPM2_RC_VALUE | kP2);  // in the window, never set
  for (int i = 0; i < 64; ++i) {
    ASSERT_EQ(Commit(key, empty, {}, {}).rc, TSS2_RC_SUCCESS);
  }
  // commitCount is 66: counters 3..65 are pending, 2 has left the 2^6 window.
  EXPECT_EQ(SignEcdaa(key, 2, kDigest), TPM2_RC_RANGE | kP2);
  EXPECT_EQ(SignEcdaa(key, 3, kDigest), TSS2_RC_SUCCESS);
  // The TPM does not verify ECDAA signatures (Part 1 §44.3.3.1).
  TPM2B_DIGEST d{};
  d.size = 32;
  TPMT_SIGNATURE sig{};
  sig.sigAlg = TPM2_ALG_ECDAA;
  sig.signature.ecdaa.hash = TPM2_ALG_SHA256;
  sig.signature.ecdaa.signatureR = Param(k);
  sig.signature.ecdaa.signatureS = Param(s);
  TPMT_TK_VERIFIED* ticket = nullptr;
  EXPECT_EQ(Esys_VerifySignature(ctx_, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &d, &sig,
                                 &ticket),
            TPM2_RC_SCHEME | kP2);
}

TEST_F(EphemeralTest, CommitErrors) {
  Curve c(TPM2_ECC_NIST_P256);
  ESYS_TR key = Primary(EccTemplate(TPM2_ECC_NIST_P256, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_ECDAA));
  ESYS_TR ecdsa = Primary(EccTemplate(TPM2_ECC_NIST_P256, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_ECDSA));
  TPM2B_ECC_POINT empty{};
  const auto [s2, b] = c.BasePoint("name");
  EXPECT_EQ(Commit(key, empty, s2, {}).rc, TPM2_RC_SIZE | kP3);  // s2 without y2
  EXPECT_EQ(Commit(key, empty, {}, b.y).rc, TPM2_RC_SIZE | kP3);  // y2 without s2
  Bytes bad_y = b.y;
  bad_y.back() ^= 1;
  EXPECT_EQ(Commit(key, empty, s2, bad_y).rc, TPM2_RC_ECC_POINT | kP2);
  crypto::EccPoint off = c.g();
  off.y.back() ^= 1;
  EXPECT_EQ(Commit(key, ToTss(off), {}, {}).rc, TPM2_RC_ECC_POINT | kP1);
  EXPECT_EQ(Commit(ecdsa, empty, {}, {}).rc, TPM2_RC_SCHEME | kH1);
  // Failed commits do not advance the counter.
  CommitResult ok = Commit(key, ToTss(c.g()), s2, b.y);
  ASSERT_EQ(ok.rc, TSS2_RC_SUCCESS);
  EXPECT_EQ(ok.counter, 0);
  // P1 as an Empty Buffer (size 0) rather than an Empty Point: TPM_RC_INSUFFICIENT.
  TPM2_HANDLE raw = 0;
  ASSERT_EQ(Esys_TR_GetTpmHandle(ctx_, key, &raw), TSS2_RC_SUCCESS);
  Bytes params = {0, 0, 0, 0, 0, 0};  // P1 size 0, s2 empty, y2 empty
  Bytes rsp = tpm_.Run(Command(TpmCc::Commit).Handle(raw).Password().Raw(params));
  EXPECT_RC(rsp, Rc::Insufficient.Param(1));
  // An RSA key is not an ECC key.
  TPM2B_PUBLIC rsa{};
  rsa.publicArea.type = TPM2_ALG_RSA;
  rsa.publicArea.nameAlg = TPM2_ALG_SHA256;
  rsa.publicArea.objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
  rsa.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  rsa.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  rsa.publicArea.parameters.rsaDetail.keyBits = 2048;
  ESYS_TR rsa_key = Primary(rsa);
  EXPECT_EQ(Commit(rsa_key, empty, {}, {}).rc, TPM2_RC_KEY | kH1);
}

// TPM2_EC_Ephemeral gives QeA := [deA]G; party B (software) has (dsB, deB). ECDH: Zs = [dsA]QsB
// = [dsB]QsA and Ze = [deA]QeB = [deB]QeA.
TEST_F(EphemeralTest, ZGen2PhaseEcdhAgreesWithTheOtherParty) {
  Curve c(TPM2_ECC_NIST_P256);
  crypto::EccPoint qs_a;
  ESYS_TR key_a = Primary(EccTemplate(TPM2_ECC_NIST_P256, TPMA_OBJECT_DECRYPT, TPM2_ALG_NULL),
                          &qs_a);
  EphemeralResult eph = EcEphemeral(TPM2_ECC_NIST_P256);
  ASSERT_EQ(eph.rc, TSS2_RC_SUCCESS);
  const Bytes ds_b = *crypto::Hash(TpmAlg::Sha256, ToBytes("B static"));
  const Bytes de_b = *crypto::Hash(TpmAlg::Sha256, ToBytes("B ephemeral"));
  const crypto::EccPoint qs_b = c.Mul(ds_b, c.g()), qe_b = c.Mul(de_b, c.g());
  TPM2B_ECC_POINT z1{}, z2{};
  ASSERT_EQ(ZGen(key_a, qs_b, qe_b, TPM2_ALG_ECDH, eph.counter, &z1, &z2), TSS2_RC_SUCCESS);
  const crypto::EccPoint want_zs = c.Mul(ds_b, qs_a), want_ze = c.Mul(de_b, eph.q);
  EXPECT_EQ(Of(z1.point.x), want_zs.x);
  EXPECT_EQ(Of(z1.point.y), want_zs.y);
  EXPECT_EQ(Of(z2.point.x), want_ze.x);
  EXPECT_EQ(Of(z2.point.y), want_ze.y);
  // The ephemeral key is used once.
  EXPECT_EQ(ZGen(key_a, qs_b, qe_b, TPM2_ALG_ECDH, eph.counter), TPM2_RC_VALUE | kP4);
}

// MQV: the TPM's Z equals party B's MQV computation (SP 800-56A §5.7.2.3, B's view); outZ2 is
// an Empty Point.
TEST_F(EphemeralTest, ZGen2PhaseMqvAgreesWithTheOtherParty) {
  for (uint16_t scheme : {uint16_t{TPM2_ALG_ECMQV}, uint16_t{TPM2_ALG_NULL}}) {
    Curve c(TPM2_ECC_NIST_P256);
    crypto::EccPoint qs_a;
    ESYS_TR key_a =
        Primary(EccTemplate(TPM2_ECC_NIST_P256, TPMA_OBJECT_DECRYPT, scheme), &qs_a);
    EphemeralResult eph = EcEphemeral(TPM2_ECC_NIST_P256);
    ASSERT_EQ(eph.rc, TSS2_RC_SUCCESS);
    const Bytes ds_b = *crypto::Hash(TpmAlg::Sha256, ToBytes("B static"));
    const Bytes de_b = *crypto::Hash(TpmAlg::Sha256, ToBytes("B ephemeral"));
    const crypto::EccPoint qs_b = c.Mul(ds_b, c.g()), qe_b = c.Mul(de_b, c.g());
    TPM2B_ECC_POINT z1{}, z2{};
    ASSERT_EQ(ZGen(key_a, qs_b, qe_b, TPM2_ALG_ECMQV, eph.counter, &z1, &z2), TSS2_RC_SUCCESS);
    auto want = crypto::EcMqvZ(TPM2_ECC_NIST_P256, ds_b, de_b, qs_a, eph.q);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(Of(z1.point.x), want->x);
    EXPECT_EQ(Of(z1.point.y), want->y);
    EXPECT_EQ(z2.point.x.size, 0);
    EXPECT_EQ(z2.point.y.size, 0);
    Esys_FlushContext(ctx_, key_a);
  }
}

TEST_F(EphemeralTest, ZGen2PhaseAndEcEphemeralErrors) {
  Curve c(TPM2_ECC_NIST_P256);
  ESYS_TR ecdh = Primary(EccTemplate(TPM2_ECC_NIST_P256, TPMA_OBJECT_DECRYPT, TPM2_ALG_ECDH));
  ESYS_TR sign = Primary(EccTemplate(TPM2_ECC_NIST_P256, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_NULL));
  const crypto::EccPoint q = c.Mul(Bytes{3}, c.g());
  crypto::EccPoint off = q;
  off.x.back() ^= 1;
  EphemeralResult eph = EcEphemeral(TPM2_ECC_NIST_P256);
  ASSERT_EQ(eph.rc, TSS2_RC_SUCCESS);
  EXPECT_EQ(ZGen(ecdh, q, q, TPM2_ALG_ECDSA, eph.counter), TPM2_RC_SCHEME | kP3);
  EXPECT_EQ(ZGen(ecdh, q, q, TPM2_ALG_SM2, eph.counter), TPM2_RC_SCHEME | kP3);
  EXPECT_EQ(ZGen(ecdh, q, q, TPM2_ALG_ECMQV, eph.counter), TPM2_RC_SCHEME | kP3);  // key: ECDH
  EXPECT_EQ(ZGen(ecdh, off, q, TPM2_ALG_ECDH, eph.counter), TPM2_RC_ECC_POINT | kP1);
  EXPECT_EQ(ZGen(ecdh, q, off, TPM2_ALG_ECDH, eph.counter), TPM2_RC_ECC_POINT | kP2);
  EXPECT_EQ(ZGen(sign, q, q, TPM2_ALG_ECDH, eph.counter), TPM2_RC_ATTRIBUTES | kH1);
  EXPECT_EQ(ZGen(ecdh, q, q, TPM2_ALG_ECDH, static_cast<uint16_t>(eph.counter + 1)),
            TPM2_RC_RANGE | kP4);
  // None of the failures used the ephemeral key up.
  EXPECT_EQ(ZGen(ecdh, q, q, TPM2_ALG_ECDH, eph.counter), TSS2_RC_SUCCESS);
  EXPECT_EQ(EcEphemeral(TPM2_ECC_NIST_P192).rc, TPM2_RC_CURVE | kP1);
  EXPECT_EQ(EcEphemeral(0x7777).rc, TPM2_RC_CURVE | kP1);
}

// Part 1 §34.4.4: the commit state is TPM Reset data: kept by Shutdown(STATE) (across a process
// restart and a volatile-state hand-off), renewed by a TPM Reset.
TEST_F(EphemeralTest, CommitStateFollowsTheResetRules) {
  crypto::EccPoint q;
  TPM2B_PUBLIC tmpl = EccTemplate(TPM2_ECC_BN_P256, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_ECDAA);
  ESYS_TR key = Primary(tmpl, &q);
  TPM2B_ECC_POINT empty{};
  CommitResult a = Commit(key, empty, {}, {});
  CommitResult b = Commit(key, empty, {}, {});
  ASSERT_EQ(a.rc, TSS2_RC_SUCCESS);
  ASSERT_EQ(b.rc, TSS2_RC_SUCCESS);
  // Volatile hand-off to a new instance.
  auto blob = tpm_.tpm().SaveVolatile();
  ASSERT_TRUE(blob.ok());
  client_.reset();
  tpm_.Create();
  ASSERT_TRUE(tpm_.tpm().RestoreVolatile(*blob).ok());
  Connect();
  ESYS_TR key2 = ESYS_TR_NONE;
  ASSERT_EQ(Esys_TR_FromTPMPublic(ctx_, 0x80000000, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  &key2),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(SignEcdaa(key2, a.counter, kDigest), TSS2_RC_SUCCESS);
  // Shutdown(STATE), a process restart, Startup(STATE): b is still pending.
  ASSERT_SUCCESS(tpm_.Run(Command(TpmCc::Shutdown).U16(TpmSu::State)));
  client_.reset();
  tpm_.Create();
  tpm_.Startup(TpmSu::State);
  Connect();
  key = Primary(tmpl);
  Bytes k, s;
  ASSERT_EQ(SignEcdaa(key, b.counter, kDigest, &k, &s), TSS2_RC_SUCCESS);
  // ...and the signature still verifies against E from before the restart.
  Curve c(TPM2_ECC_BN_P256);
  BnPtr t = c.EcdaaT(k, kDigest);
  BnPtr s_bn = Curve::Bn(s), one = Curve::Bn(Bytes{1});
  const crypto::EccPoint lhs = c.MulAdd(s_bn.get(), c.g());
  const crypto::EccPoint rhs = c.MulAdd(one.get(), b.e, t.get(), q);
  EXPECT_EQ(lhs.x, rhs.x);
  // A TPM Reset starts over: counter 0 again, and the old counters are gone.
  CommitResult c2 = Commit(key, empty, {}, {});
  ASSERT_EQ(c2.rc, TSS2_RC_SUCCESS);
  EXPECT_EQ(c2.counter, 2);
  ASSERT_SUCCESS(tpm_.Run(Command(TpmCc::Shutdown).U16(TpmSu::Clear)));
  client_.reset();
  tpm_.Create();
  tpm_.Startup(TpmSu::Clear);
  Connect();
  key = Primary(tmpl);
  EXPECT_EQ(SignEcdaa(key, c2.counter, kDigest), TPM2_RC_RANGE | kP2);
  CommitResult fresh = Commit(key, empty, {}, {});
  ASSERT_EQ(fresh.rc, TSS2_RC_SUCCESS);
  EXPECT_EQ(fresh.counter, 0);
}

// Part 1 §28.5 and §44.3.3.3: an ECDAA attestation leaves qualifiedSigner and extraData (and, in
// TPM2_Certify, the certified qualifiedName) empty and signs P := H(qualifyingData || H(attest)),
// so that [s]G = E + [T]Q with T = H(k || P) mod n.
TEST_F(EphemeralTest, AttestationsSignAnonymouslyWithEcdaa) {
  Curve c(TPM2_ECC_BN_P256);
  crypto::EccPoint q;
  ESYS_TR key = Primary(EccTemplate(TPM2_ECC_BN_P256, TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_ECDAA),
                        &q);
  const Bytes nonce = ToBytes("verifier nonce");
  TPM2B_DATA qualifying{};
  qualifying.size = static_cast<UINT16>(nonce.size());
  std::copy(nonce.begin(), nonce.end(), qualifying.buffer);
  TPM2B_ECC_POINT empty{};
  auto check = [&](const TPM2B_ATTEST& attest, const TPMT_SIGNATURE& sig,
                   const CommitResult& commit) {
    Bytes a(attest.attestationData, attest.attestationData + attest.size);
    Bytes p = nonce;
    Bytes h = *crypto::Hash(TpmAlg::Sha256, a);
    p.insert(p.end(), h.begin(), h.end());
    const Bytes value = *crypto::Hash(TpmAlg::Sha256, p);
    ASSERT_EQ(sig.sigAlg, TPM2_ALG_ECDAA);
    BnPtr t = c.EcdaaT(Of(sig.signature.ecdaa.signatureR), value);
    BnPtr s_bn = Curve::Bn(Of(sig.signature.ecdaa.signatureS)), one = Curve::Bn(Bytes{1});
    const crypto::EccPoint lhs = c.MulAdd(s_bn.get(), c.g());
    const crypto::EccPoint rhs = c.MulAdd(one.get(), commit.e, t.get(), q);
    EXPECT_EQ(lhs.x, rhs.x);
    EXPECT_EQ(lhs.y, rhs.y);
  };
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_ECDAA;
  scheme.details.ecdaa.hashAlg = TPM2_ALG_SHA256;

  CommitResult commit = Commit(key, empty, {}, {});
  ASSERT_EQ(commit.rc, TSS2_RC_SUCCESS);
  scheme.details.ecdaa.count = commit.counter;
  TPML_PCR_SELECTION pcrs{};
  pcrs.count = 1;
  pcrs.pcrSelections[0].hash = TPM2_ALG_SHA256;
  pcrs.pcrSelections[0].sizeofSelect = 3;
  pcrs.pcrSelections[0].pcrSelect[0] = 0x01;
  TPM2B_ATTEST* attest = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  ASSERT_EQ(Esys_Quote(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                       &scheme, &pcrs, &attest, &sig),
            TSS2_RC_SUCCESS);
  TPMS_ATTEST parsed{};
  ASSERT_EQ(Tss2_MU_TPMS_ATTEST_Unmarshal(attest->attestationData, attest->size, nullptr, &parsed),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(parsed.type, TPM2_ST_ATTEST_QUOTE);
  EXPECT_EQ(parsed.qualifiedSigner.size, 0u);
  EXPECT_EQ(parsed.extraData.size, 0u);
  check(*attest, *sig, commit);
  Esys_Free(attest);
  Esys_Free(sig);
  // The commit is used up.
  EXPECT_EQ(Esys_Quote(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                       &scheme, &pcrs, &attest, &sig),
            TPM2_RC_VALUE | kP2);

  commit = Commit(key, empty, {}, {});
  ASSERT_EQ(commit.rc, TSS2_RC_SUCCESS);
  scheme.details.ecdaa.count = commit.counter;
  ASSERT_EQ(Esys_Certify(ctx_, key, key, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                         &qualifying, &scheme, &attest, &sig),
            TSS2_RC_SUCCESS);
  parsed = TPMS_ATTEST{};
  ASSERT_EQ(Tss2_MU_TPMS_ATTEST_Unmarshal(attest->attestationData, attest->size, nullptr, &parsed),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(parsed.type, TPM2_ST_ATTEST_CERTIFY);
  EXPECT_EQ(parsed.qualifiedSigner.size, 0u);
  EXPECT_EQ(parsed.extraData.size, 0u);
  EXPECT_EQ(parsed.attested.certify.qualifiedName.size, 0u);
  TPM2B_NAME* name = nullptr;
  ASSERT_EQ(Esys_TR_GetName(ctx_, key, &name), TSS2_RC_SUCCESS);
  const TPM2B_NAME& certified = parsed.attested.certify.name;
  EXPECT_EQ(Bytes(certified.name, certified.name + certified.size),
            Bytes(name->name, name->name + name->size));
  Esys_Free(name);
  check(*attest, *sig, commit);
  Esys_Free(attest);
  Esys_Free(sig);

  // Without ECDAA the same key (its scheme is ECDAA) cannot sign: ECDSA is refused.
  scheme.scheme = TPM2_ALG_ECDSA;
  EXPECT_EQ(Esys_Quote(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &qualifying,
                       &scheme, &pcrs, &attest, &sig),
            TPM2_RC_SCHEME | kP2);
}

TEST_F(EphemeralTest, CapabilitiesListTheNewCommandsAndAlgorithms) {
  TPMS_CAPABILITY_DATA* data = nullptr;
  ASSERT_EQ(Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS,
                               TPM2_ALG_ECDH, 8, nullptr, &data),
            TSS2_RC_SUCCESS);
  bool ecdaa = false, ecmqv = false;
  for (UINT32 i = 0; i < data->data.algorithms.count; ++i) {
    const auto& a = data->data.algorithms.algProperties[i];
    ecdaa = ecdaa || (a.alg == TPM2_ALG_ECDAA && (a.algProperties & TPMA_ALGORITHM_SIGNING) != 0);
    ecmqv = ecmqv || (a.alg == TPM2_ALG_ECMQV && (a.algProperties & TPMA_ALGORITHM_METHOD) != 0);
  }
  EXPECT_TRUE(ecdaa);
  EXPECT_TRUE(ecmqv);
  Esys_Free(data);
  ASSERT_EQ(Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_COMMANDS,
                               TPM2_CC_Commit, 4, nullptr, &data),
            TSS2_RC_SUCCESS);
  std::vector<uint32_t> codes;
  for (UINT32 i = 0; i < data->data.command.count; ++i) {
    codes.push_back(data->data.command.commandAttributes[i] & TPMA_CC_COMMANDINDEX_MASK);
  }
  EXPECT_EQ(codes, (std::vector<uint32_t>{TPM2_CC_Commit, TPM2_CC_PolicyPassword,
                                          TPM2_CC_ZGen_2Phase, TPM2_CC_EC_Ephemeral}));
  Esys_Free(data);
  ASSERT_EQ(Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               TPM2_CAP_TPM_PROPERTIES, TPM2_PT_SPLIT_MAX, 1, nullptr, &data),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(data->data.tpmProperties.count, 1u);
  EXPECT_EQ(data->data.tpmProperties.tpmProperty[0].value, 63u);
  Esys_Free(data);
}

}  // namespace
}  // namespace tpm2emu::engine::test
