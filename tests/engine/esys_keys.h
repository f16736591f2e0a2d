#pragma once
// A GoogleTest fixture with an ESYS client over a TestTpm, and key templates built from a few
// choices, for tests that need keys of several kinds (duplication, certification).

#include <cstring>
#include <memory>

#include <gtest/gtest.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include "engine/base/bytes.h"
#include "tests/engine/esys_client.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {

// A key template: RSA-2048 or ECC P-256, SHA-256 Name; storage keys get AES-128-CFB.
inline TPM2B_PUBLIC KeyTemplate(TPM2_ALG_ID type, TPMA_OBJECT attributes, ByteSpan policy = {}) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = type;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = attributes;
  p.authPolicy.size = static_cast<uint16_t>(policy.size());
  if (!policy.empty()) {
    std::copy(policy.begin(), policy.end(), p.authPolicy.buffer);
  }
  bool storage = (attributes & TPMA_OBJECT_RESTRICTED) && (attributes & TPMA_OBJECT_DECRYPT);
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = storage ? TPM2_ALG_AES : TPM2_ALG_NULL;
  sym.keyBits.aes = storage ? 128 : 0;
  sym.mode.aes = storage ? TPM2_ALG_CFB : TPM2_ALG_NULL;
  if (type == TPM2_ALG_RSA) {
    p.parameters.rsaDetail.symmetric = sym;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.rsaDetail.keyBits = 2048;
  } else {
    p.parameters.eccDetail.symmetric = sym;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  }
  return t;
}

// An HMAC key template: KEYEDHASH with the HMAC scheme over `hash`, SHA-256 Name.
inline TPM2B_PUBLIC HmacKeyTemplate(TPMI_ALG_HASH hash, TPMA_OBJECT attributes) {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_KEYEDHASH;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = attributes;
  t.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
  t.publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = hash;
  return t;
}

inline constexpr TPMA_OBJECT kStorageAttrs =
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

template <class T>
Bytes Buf(const T& b) {
  return Bytes(b.buffer, b.buffer + b.size);
}

// TPM_RC without the ESYS layer: what the TPM answered.
inline uint32_t TpmCode(TSS2_RC rc) {
  return rc & 0xFFFF;
}

class EsysKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_unique<EsysClient>(tpm_.tpm());
    ASSERT_EQ(client_->init_rc(), TSS2_RC_SUCCESS);
    ctx_ = client_->ctx();
  }
  ESYS_TR Primary(const TPM2B_PUBLIC& tmpl, ESYS_TR hierarchy = ESYS_TR_RH_OWNER) {
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(
        Esys_CreatePrimary(ctx_, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                           &tmpl, &outside, &pcrs, &handle, nullptr, nullptr, nullptr, nullptr),
        TSS2_RC_SUCCESS);
    return handle;
  }
  // Creates a child of `parent` and loads it; its public area goes to `pub` if given.
  ESYS_TR Child(ESYS_TR parent, const TPM2B_PUBLIC& tmpl, TPM2B_PUBLIC* pub = nullptr) {
    TPM2B_SENSITIVE_CREATE sens{};
    TPM2B_TEMPLATE marshaled{};
    size_t offset = 0;
    EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&tmpl.publicArea, marshaled.buffer,
                                          sizeof(marshaled.buffer), &offset),
              TSS2_RC_SUCCESS);
    marshaled.size = static_cast<uint16_t>(offset);
    ESYS_TR handle = ESYS_TR_NONE;
    TPM2B_PUBLIC* out_pub = nullptr;
    EXPECT_EQ(Esys_CreateLoaded(ctx_, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                &marshaled, &handle, nullptr, &out_pub),
              TSS2_RC_SUCCESS);
    if (pub != nullptr && out_pub != nullptr) {
      *pub = *out_pub;
    }
    Esys_Free(out_pub);
    return handle;
  }
  TPM2B_NAME NameOf(ESYS_TR handle) {
    TPM2B_NAME* name = nullptr;
    EXPECT_EQ(Esys_TR_GetName(ctx_, handle, &name), TSS2_RC_SUCCESS);
    TPM2B_NAME out = name != nullptr ? *name : TPM2B_NAME{};
    Esys_Free(name);
    return out;
  }

  TestTpm tpm_;
  std::unique_ptr<EsysClient> client_;
  ESYS_CONTEXT* ctx_ = nullptr;
};

}  // namespace tpm2emu::engine::test
