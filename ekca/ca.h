#pragma once
// A local certificate authority kept in a directory, issuing EK certificates (TCG EK Credential
// Profile for TPM Family 2.0) for EK public keys read from a TPM.
//
// The directory holds ca-key.pem (the CA's ECDSA P-256 private key, PKCS#8 PEM, mode 0600) and
// ca-cert.pem (its self-signed certificate, mode 0644). Both are created on first use, the
// directory with mode 0700 if it is missing, and reused afterwards. A key file that group or
// others may access is refused, as are a key and a certificate that do not belong together.
//
// No OpenSSL type appears here. A LocalCa is immutable after Open and may be used from several
// threads.

#include <cstdint>
#include <memory>
#include <string>

#include "engine/base/bytes.h"
#include "engine/base/status.h"
#include "engine/wire/public.h"

namespace tpm2emu::ekca {

inline constexpr char kCaKeyFile[] = "ca-key.pem";
inline constexpr char kCaCertFile[] = "ca-cert.pem";

// What the certificate says about the TPM (its subjectAltName), from TPM2_GetCapability.
struct TpmIdentity {
  uint32_t manufacturer = 0;      // TPM_PT_MANUFACTURER
  std::string model;              // TPM_PT_VENDOR_STRING_1..4, trailing NULs dropped
  uint32_t firmware_version = 0;  // TPM_PT_FIRMWARE_VERSION_1
  uint32_t spec_level = 0;        // TPM_PT_LEVEL (tcg-at-tpmSpecification)
  uint32_t spec_revision = 0;     // TPM_PT_REVISION, e.g. 185 for 1.85
};

class LocalCa {
 public:
  // Opens the CA in `dir`, creating the directory, key and certificate if they are missing.
  // kFailedPrecondition for a key file readable or writable by group or others (naming the file
  // and `chmod 600`), kCorrupt for a key or certificate that does not parse or match, kIo for
  // file system errors.
  static StatusOr<LocalCa> Open(const std::string& dir);

  LocalCa(LocalCa&&) noexcept;
  LocalCa& operator=(LocalCa&&) noexcept;
  ~LocalCa();

  // Issues a DER certificate for `ek` (RSA with a 2048-bit modulus or ECC NIST P-256; others
  // are kInvalidArgument): X.509 v3, random positive 128-bit serial number, issuer = the CA's
  // subject, empty subject with a critical subjectAltName directoryName (tcg-at-tpmManufacturer,
  // tcg-at-tpmModel, tcg-at-tpmVersion), subjectDirectoryAttributes with tcg-at-tpmSpecification,
  // critical keyUsage keyEncipherment, basicConstraints CA:FALSE, extendedKeyUsage
  // tcg-kp-EKCertificate, authorityKeyIdentifier; valid from now until 9999-12-31 23:59:59 UTC.
  StatusOr<Bytes> IssueEkCertificate(const wire::TpmtPublic& ek, const TpmIdentity& tpm) const;

  // The CA certificate, DER.
  const Bytes& certificate_der() const;
  // Where the CA certificate is, for `openssl verify -CAfile`.
  const std::string& certificate_path() const;

 private:
  struct Impl;
  explicit LocalCa(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tpm2emu::ekca
