#include "bench/client.h"

#include <cstdio>
#include <string>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

namespace tpm2emu::bench {
namespace {

Status Check(TSS2_RC rc, const char* what) {
  if (rc == TSS2_RC_SUCCESS) {
    return Status::Ok();
  }
  char code[16];
  std::snprintf(code, sizeof(code), "0x%08x", rc);
  return Status(StatusCode::kInternal,
                std::string(what) + " failed: " + Tss2_RC_Decode(rc) + " (" + code + ")");
}

void PutBe32(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }
}

constexpr TPMA_OBJECT kKeyAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                       TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
constexpr TPMA_OBJECT kStorageAttributes =
    kKeyAttributes | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
constexpr TPMA_OBJECT kSigningAttributes = kKeyAttributes | TPMA_OBJECT_SIGN_ENCRYPT;

// RSA-2048 or ECC P-256 with a SHA-256 Name: storage keys get AES-128-CFB and no scheme,
// signing keys RSASSA or ECDSA with SHA-256.
TPM2B_PUBLIC KeyTemplate(TPM2_ALG_ID type, TPMA_OBJECT attributes) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = type;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = attributes;
  bool storage = (attributes & TPMA_OBJECT_DECRYPT) != 0;
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = storage ? TPM2_ALG_AES : TPM2_ALG_NULL;
  sym.keyBits.aes = storage ? 128 : 0;
  sym.mode.aes = storage ? TPM2_ALG_CFB : TPM2_ALG_NULL;
  if (type == TPM2_ALG_RSA) {
    p.parameters.rsaDetail.symmetric = sym;
    p.parameters.rsaDetail.scheme.scheme = storage ? TPM2_ALG_NULL : TPM2_ALG_RSASSA;
    p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = storage ? 0 : TPM2_ALG_SHA256;
    p.parameters.rsaDetail.keyBits = 2048;
  } else {
    p.parameters.eccDetail.symmetric = sym;
    p.parameters.eccDetail.scheme.scheme = storage ? TPM2_ALG_NULL : TPM2_ALG_ECDSA;
    p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = storage ? 0 : TPM2_ALG_SHA256;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  }
  return t;
}

StatusOr<ESYS_TR> CreatePrimary(ESYS_CONTEXT* esys, const TPM2B_PUBLIC& tmpl) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_DATA outside_info{};
  TPML_PCR_SELECTION creation_pcr{};
  ESYS_TR handle = ESYS_TR_NONE;
  TRY(Check(Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               &sensitive, &tmpl, &outside_info, &creation_pcr, &handle, nullptr,
                               nullptr, nullptr, nullptr),
            "Esys_CreatePrimary"));
  return handle;
}

}  // namespace

StatusOr<std::unique_ptr<Client>> Client::Open(const std::string& name, const std::string& config) {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  TRY(Check(Tss2_TctiLdr_Initialize_Ex(name.c_str(), config.c_str(), &tcti),
            ("Tss2_TctiLdr_Initialize_Ex(" + name + ", " + config + ")").c_str()));
  ESYS_CONTEXT* esys = nullptr;
  Status s = Check(Esys_Initialize(&esys, tcti, nullptr), "Esys_Initialize");
  if (!s.ok()) {
    Tss2_TctiLdr_Finalize(&tcti);
    return s;
  }
  return std::unique_ptr<Client>(new Client(tcti, esys));
}

Client::~Client() {
  Esys_Finalize(&esys_);
  Tss2_TctiLdr_Finalize(&tcti_);
}

Status Client::Startup() {
  TSS2_RC rc = Esys_Startup(esys_, TPM2_SU_CLEAR);
  return rc == TPM2_RC_INITIALIZE ? Status::Ok() : Check(rc, "Esys_Startup");
}

Status Client::GetRandom(uint16_t bytes) {
  TPM2B_DIGEST* random = nullptr;
  TSS2_RC rc = Esys_GetRandom(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, bytes, &random);
  Esys_Free(random);
  return Check(rc, "Esys_GetRandom");
}

Status Client::PcrRead() {
  TPML_PCR_SELECTION selection{};
  selection.count = 1;
  selection.pcrSelections[0].hash = TPM2_ALG_SHA256;
  selection.pcrSelections[0].sizeofSelect = 3;
  selection.pcrSelections[0].pcrSelect[0] = 0xFF;
  UINT32 update_counter = 0;
  TPML_PCR_SELECTION* selection_out = nullptr;
  TPML_DIGEST* values = nullptr;
  TSS2_RC rc = Esys_PCR_Read(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &selection,
                             &update_counter, &selection_out, &values);
  Esys_Free(selection_out);
  Esys_Free(values);
  return Check(rc, "Esys_PCR_Read");
}

StatusOr<ESYS_TR> Client::CreateStoragePrimary(TPM2_ALG_ID type, uint32_t unique) {
  TPM2B_PUBLIC tmpl = KeyTemplate(type, kStorageAttributes);
  if (type == TPM2_ALG_RSA) {
    tmpl.publicArea.unique.rsa.size = 256;
    PutBe32(tmpl.publicArea.unique.rsa.buffer, unique);
  } else {
    tmpl.publicArea.unique.ecc.x.size = 32;
    tmpl.publicArea.unique.ecc.y.size = 32;
    PutBe32(tmpl.publicArea.unique.ecc.x.buffer, unique);
  }
  return CreatePrimary(esys_, tmpl);
}

StatusOr<ESYS_TR> Client::CreateSigningPrimary(TPM2_ALG_ID type) {
  return CreatePrimary(esys_, KeyTemplate(type, kSigningAttributes));
}

Status Client::Sign(ESYS_TR key, uint32_t counter) {
  TPM2B_DIGEST digest{};
  digest.size = 32;
  PutBe32(digest.buffer, counter);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the key's own
  TPMT_TK_HASHCHECK validation{};
  validation.tag = TPM2_ST_HASHCHECK;
  validation.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* signature = nullptr;
  TSS2_RC rc = Esys_Sign(esys_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &digest, &scheme,
                         &validation, &signature);
  Esys_Free(signature);
  return Check(rc, "Esys_Sign");
}

StatusOr<ESYS_TR> Client::DefineNv(TPM2_HANDLE index, uint16_t size, const std::string& auth) {
  TPM2B_AUTH auth_value{};
  auth_value.size = static_cast<uint16_t>(auth.size());
  auth.copy(reinterpret_cast<char*>(auth_value.buffer), sizeof(auth_value.buffer));
  TPM2B_NV_PUBLIC pub{};
  pub.nvPublic.nvIndex = index;
  pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
  pub.nvPublic.attributes =
      TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE | TPMA_NV_OWNERREAD | TPMA_NV_OWNERWRITE;
  pub.nvPublic.dataSize = size;
  ESYS_TR nv = ESYS_TR_NONE;
  TRY(Check(Esys_NV_DefineSpace(esys_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                ESYS_TR_NONE, &auth_value, &pub, &nv),
            "Esys_NV_DefineSpace"));
  TRY(Check(Esys_TR_SetAuth(esys_, nv, &auth_value), "Esys_TR_SetAuth"));
  return nv;
}

Status Client::NvWrite(ESYS_TR nv, uint16_t size, uint32_t counter) {
  TPM2B_MAX_NV_BUFFER data{};
  data.size = size;
  for (uint16_t i = 0; i + 4 <= size; i = static_cast<uint16_t>(i + 4)) {
    PutBe32(data.buffer + i, counter + i);
  }
  return Check(Esys_NV_Write(esys_, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, 0),
               "Esys_NV_Write");
}

StatusOr<ESYS_TR> Client::StartHmacSession() {
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  ESYS_TR session = ESYS_TR_NONE;
  TRY(Check(Esys_StartAuthSession(esys_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &symmetric, TPM2_ALG_SHA256,
                                  &session),
            "Esys_StartAuthSession"));
  TRY(Check(Esys_TRSess_SetAttributes(esys_, session,
                                      TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_ENCRYPT, 0xFF),
            "Esys_TRSess_SetAttributes"));
  return session;
}

Status Client::NvRead(ESYS_TR nv, ESYS_TR session, uint16_t size) {
  TPM2B_MAX_NV_BUFFER* data = nullptr;
  TSS2_RC rc = Esys_NV_Read(esys_, nv, nv, session, ESYS_TR_NONE, ESYS_TR_NONE, size, 0, &data);
  Esys_Free(data);
  return Check(rc, "Esys_NV_Read");
}

Status Client::Flush(ESYS_TR handle) {
  return Check(Esys_FlushContext(esys_, handle), "Esys_FlushContext");
}

}  // namespace tpm2emu::bench
