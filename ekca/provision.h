#pragma once
// EK provisioning as a client of a TPM (TCG EK Credential Profile for TPM Family 2.0): creates
// the default EKs with TPM2_CreatePrimary, has a LocalCa certify them and stores the
// certificates in the platform NV indices clients read (tpm2_getekcertificate, FAPI). Every
// step is an ordinary TPM command sent through Backend::Execute at locality 0, with empty
// password authorisation for the endorsement and platform hierarchies.

#include <cstdint>
#include <string>
#include <vector>

#include "ekca/ca.h"
#include "engine/base/status.h"
#include "engine/wire/public.h"
#include "frontends/backend/backend.h"

namespace tpm2emu::ekca {

// EK Credential Profile §2.2.1.4 low range: RSA 2048 (template L-1) and ECC NIST P-256 (L-2).
inline constexpr uint32_t kRsaEkCertIndex = 0x01C00002;
inline constexpr uint32_t kEccEkCertIndex = 0x01C0000A;

// TPMA_NV of the certificate indices: platform-created, written with physical presence (the
// platform hierarchy), readable by platform, owner and with the index's (empty) auth, no
// dictionary-attack protection, and write-lockable by TPM2_NV_WriteLock (WRITEDEFINE).
uint32_t EkCertNvAttributes();

// The default EK templates, the ones `tpm2_createek -G rsa|ecc` uses: restricted decryption
// keys with fixedTPM, fixedParent, sensitiveDataOrigin and adminWithPolicy, the
// PolicySecret(TPM_RH_ENDORSEMENT) policy, AES-128-CFB, and a zero-filled unique field.
wire::TpmtPublic RsaEkTemplate();  // L-1
wire::TpmtPublic EccEkTemplate();  // L-2

// TPM2_Startup(CLEAR) and TPM2_Shutdown(CLEAR); an error names the response code.
Status StartupClear(backend::Backend& tpm);
Status ShutdownClear(backend::Backend& tpm);

// The TPM's identity for the certificate, from TPM2_GetCapability(TPM_PROPERTIES).
StatusOr<TpmIdentity> ReadTpmIdentity(backend::Backend& tpm);

struct ProvisionedEk {
  uint32_t nv_index = 0;
  std::string key_type;   // "RSA 2048" or "ECC NIST P-256"
  wire::TpmtPublic ek;    // the EK's public area as the TPM returned it
  Bytes certificate;      // DER, as written to nv_index
  bool replaced = false;  // the index existed and was redefined (force)
};

// Creates the RSA and ECC EKs, certifies them and writes the certificates (a started TPM is
// required). An existing certificate index is kFailedPrecondition (naming it and --force)
// unless `force`, which undefines and redefines it. TPM errors are kInternal with the command
// and the response code.
StatusOr<std::vector<ProvisionedEk>> ProvisionEkCertificates(backend::Backend& tpm,
                                                             const LocalCa& ca, bool force);

}  // namespace tpm2emu::ekca
