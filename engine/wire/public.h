#pragma once
// Part 2 §12 object structures: TPMT_PUBLIC with its parameter and unique unions (one
// std::variant member per object type, so parameters and unique field cannot disagree),
// TPMT_SENSITIVE, TPMS_SENSITIVE_CREATE, schemes, TPMS_CREATION_DATA, tickets and signatures.

#include <cstdint>
#include <variant>

#include "engine/wire/types.h"

namespace tpm2emu::wire {

inline constexpr size_t kMaxRsaKeyBytes = 512;   // RSA-4096
inline constexpr size_t kMaxEccKeyBytes = 66;    // P-521
inline constexpr size_t kMaxSymKeyBytes = 32;    // AES-256
inline constexpr size_t kRsaPrivateSize = kMaxRsaKeyBytes / 2;  // one prime

// Part 2 §8.3 TPMA_OBJECT
namespace TpmaObject {
inline constexpr uint32_t FixedTpm = 1u << 1;
inline constexpr uint32_t StClear = 1u << 2;
inline constexpr uint32_t FixedParent = 1u << 4;
inline constexpr uint32_t SensitiveDataOrigin = 1u << 5;
inline constexpr uint32_t UserWithAuth = 1u << 6;
inline constexpr uint32_t AdminWithPolicy = 1u << 7;
inline constexpr uint32_t FirmwareLimited = 1u << 8;
inline constexpr uint32_t SvnLimited = 1u << 9;
inline constexpr uint32_t NoDa = 1u << 10;
inline constexpr uint32_t EncryptedDuplication = 1u << 11;
inline constexpr uint32_t Restricted = 1u << 16;
inline constexpr uint32_t Decrypt = 1u << 17;
inline constexpr uint32_t SignEncrypt = 1u << 18;
inline constexpr uint32_t X509Sign = 1u << 19;
inline constexpr uint32_t Reserved = 0xFFF0F009u;
}  // namespace TpmaObject

// Part 2 §11.1.7 TPMT_SYM_DEF_OBJECT(+): like TPMT_SYM_DEF but without XOR.
struct TpmtSymDefObject {
  uint16_t algorithm = TpmAlg::Null;
  uint16_t key_bits = 0;
  uint16_t mode = TpmAlg::Null;
  friend bool operator==(const TpmtSymDefObject&, const TpmtSymDefObject&) = default;
};

// A scheme with its details (Part 2 §11.2): every TPM scheme carries at most a hash, an
// ECDAA count or an XOR KDF, so one shape serves TPMT_RSA_SCHEME, TPMT_ECC_SCHEME,
// TPMT_KEYEDHASH_SCHEME, TPMT_SIG_SCHEME, TPMT_RSA_DECRYPT and TPMT_KDF_SCHEME.
struct TpmtScheme {
  uint16_t scheme = TpmAlg::Null;
  uint16_t hash_alg = TpmAlg::Null;
  uint16_t count = 0;             // ECDAA
  uint16_t kdf = TpmAlg::Null;    // XOR
  friend bool operator==(const TpmtScheme&, const TpmtScheme&) = default;
};

struct RsaDetail {
  TpmtSymDefObject symmetric;
  TpmtScheme scheme;
  uint16_t key_bits = 0;
  uint32_t exponent = 0;
  Bytes unique;  // TPM2B_PUBLIC_KEY_RSA: the modulus
  friend bool operator==(const RsaDetail&, const RsaDetail&) = default;
};
struct EccDetail {
  TpmtSymDefObject symmetric;
  TpmtScheme scheme;
  uint16_t curve = 0;
  TpmtScheme kdf;
  Bytes x, y;  // TPMS_ECC_POINT
  friend bool operator==(const EccDetail&, const EccDetail&) = default;
};
struct KeyedHashDetail {
  TpmtScheme scheme;
  Bytes unique;  // TPM2B_DIGEST
  friend bool operator==(const KeyedHashDetail&, const KeyedHashDetail&) = default;
};
struct SymCipherDetail {
  TpmtSymDefObject sym;
  Bytes unique;  // TPM2B_DIGEST
  friend bool operator==(const SymCipherDetail&, const SymCipherDetail&) = default;
};

// Part 2 §12.2.4 TPMT_PUBLIC
struct TpmtPublic {
  uint16_t type = TpmAlg::Null;
  uint16_t name_alg = TpmAlg::Null;
  uint32_t attributes = 0;
  Bytes auth_policy;
  std::variant<RsaDetail, EccDetail, KeyedHashDetail, SymCipherDetail> detail;
  bool Has(uint32_t attribute) const { return (attributes & attribute) != 0; }
  friend bool operator==(const TpmtPublic&, const TpmtPublic&) = default;
};
RcStatus Unmarshal(Reader& r, TpmtPublic& v);
void Marshal(Writer& w, const TpmtPublic& v);

// Part 2 §12.2.3.7 TPMT_PUBLIC_PARMS: the type and its parameters, without unique.
RcStatus UnmarshalPublicParms(Reader& r, TpmtPublic& v);

// Part 2 §12.2.5 TPM2B_PUBLIC: a non-empty sized TPMT_PUBLIC.
struct Tpm2bPublic {
  TpmtPublic value;
};
RcStatus Unmarshal(Reader& r, Tpm2bPublic& v);
void Marshal(Writer& w, const Tpm2bPublic& v);

// Part 2 §12.3.2.4 TPMT_SENSITIVE
struct TpmtSensitive {
  uint16_t type = TpmAlg::Null;
  Bytes auth_value;
  Bytes seed_value;
  Bytes sensitive;  // prime, ECC private, HMAC key / sealed data, or symmetric key
};
RcStatus Unmarshal(Reader& r, TpmtSensitive& v);
void Marshal(Writer& w, const TpmtSensitive& v);

// Part 2 §11.1.15 TPMS_SENSITIVE_CREATE in its TPM2B
struct Tpm2bSensitiveCreate {
  Bytes user_auth;
  Bytes data;
};
RcStatus Unmarshal(Reader& r, Tpm2bSensitiveCreate& v);

// Schemes with their spec-named TPMI checks.
enum class SchemeKind { kRsa, kEcc, kKeyedHash, kSig, kRsaDecrypt, kKdf, kAsym };
RcStatus UnmarshalScheme(Reader& r, TpmtScheme& v, SchemeKind kind);
void MarshalScheme(Writer& w, const TpmtScheme& v);

// Scheme wrappers usable as command parameters.
template <SchemeKind Kind>
struct SchemeParam {
  TpmtScheme value;
};
template <SchemeKind Kind>
RcStatus Unmarshal(Reader& r, SchemeParam<Kind>& v) {
  return UnmarshalScheme(r, v.value, Kind);
}
template <SchemeKind Kind>
void Marshal(Writer& w, const SchemeParam<Kind>& v) {
  MarshalScheme(w, v.value);
}
using TpmtSigScheme = SchemeParam<SchemeKind::kSig>;
using TpmtRsaDecrypt = SchemeParam<SchemeKind::kRsaDecrypt>;

// Part 2 §11.3.6 TPMT_SIGNATURE
struct TpmtSignature {
  uint16_t sig_alg = TpmAlg::Null;
  uint16_t hash_alg = TpmAlg::Null;
  Bytes rsa_or_hmac;  // RSASSA/RSAPSS signature, or the HMAC digest
  Bytes r, s;         // ECC signatures
};
RcStatus Unmarshal(Reader& r, TpmtSignature& v);
void Marshal(Writer& w, const TpmtSignature& v);

// Part 2 §11.2.5.2 TPMS_ECC_POINT in its TPM2B
struct Tpm2bEccPoint {
  Bytes x, y;
};
RcStatus Unmarshal(Reader& r, Tpm2bEccPoint& v);
void Marshal(Writer& w, const Tpm2bEccPoint& v);

using Tpm2bPublicKeyRsa = Tpm2bBytes<kMaxRsaKeyBytes>;
using Tpm2bName = Tpm2bBytes<kMaxDigestSize + 2>;
using Tpm2bIv = Tpm2bBytes<16>;
using Tpm2bPrivate = Tpm2bBytes<2 + kMaxDigestSize + 2 + 2 + 2 + kMaxDigestSize + 2 +
                                kMaxDigestSize + 2 + kMaxRsaKeyBytes>;
using Tpm2bTemplate = Tpm2bBytes<1024>;  // sizeof(TPMT_PUBLIC)
using Tpm2bSensitiveBlob = Tpm2bBytes<1024>;

// Part 2 §15.1 TPMS_CREATION_DATA
struct TpmsCreationData {
  TpmlPcrSelection pcr_select;
  Tpm2bDigest pcr_digest;
  uint8_t locality = 0;
  uint16_t parent_name_alg = TpmAlg::Null;
  Tpm2bName parent_name;
  Tpm2bName parent_qualified_name;
  Tpm2bData outside_info;
  static constexpr auto kFields =
      std::tuple{&TpmsCreationData::pcr_select,      &TpmsCreationData::pcr_digest,
                 &TpmsCreationData::locality,        &TpmsCreationData::parent_name_alg,
                 &TpmsCreationData::parent_name,     &TpmsCreationData::parent_qualified_name,
                 &TpmsCreationData::outside_info};
};

// Part 2 §10.6.1 tickets with a tag, a hierarchy and an HMAC (CREATION, VERIFIED, AUTH_*).
struct TpmtTicket {
  uint16_t tag = 0;
  uint32_t hierarchy = TpmRh::Null;
  Tpm2bDigest digest;
  static constexpr auto kFields =
      std::tuple{&TpmtTicket::tag, &TpmtTicket::hierarchy, &TpmtTicket::digest};
};

}  // namespace tpm2emu::wire
