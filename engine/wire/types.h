#pragma once
// Part 2 structures used by the engine, each declared once with its fields in spec order.

#include <cstdint>
#include <optional>

#include "engine/wire/constants.h"
#include "engine/wire/marshal.h"

namespace tpm2emu::wire {

// Implementation sizes (Part 2 §6 and the PC Client profile).
inline constexpr size_t kMaxDigestSize = 64;       // sizeof(TPMU_HA) with SHA-512
inline constexpr size_t kMaxDigestBuffer = 1024;   // MAX_DIGEST_BUFFER
inline constexpr size_t kMaxSymData = 128;         // MAX_SYM_DATA
inline constexpr size_t kImplementationPcr = 24;
inline constexpr size_t kPcrSelectMin = 3;
inline constexpr size_t kPcrSelectMax = 3;
inline constexpr size_t kHashCount = 4;            // SHA-1, SHA-256, SHA-384, SHA-512
inline constexpr size_t kMaxCommandSize = 4096;
inline constexpr size_t kMaxResponseSize = 4096;
inline constexpr size_t kMaxCapBuffer = 1024;
inline constexpr size_t kMaxSessionNumber = 3;

// The hash algorithms this TPM implements, in TPM_ALG_ID order.
inline constexpr uint16_t kHashAlgs[] = {TpmAlg::Sha1, TpmAlg::Sha256, TpmAlg::Sha384,
                                         TpmAlg::Sha512};
constexpr bool IsImplementedHash(uint16_t alg) {
  for (uint16_t h : kHashAlgs) {
    if (h == alg) {
      return true;
    }
  }
  return false;
}

// Part 2 §9.27 TPMI_ALG_HASH (+NULL when AllowNull).
template <bool AllowNull>
struct HashDomain {
  static constexpr std::optional<TpmRc> Check(uint16_t v) {
    if (IsImplementedHash(v) || (AllowNull && v == TpmAlg::Null)) {
      return std::nullopt;
    }
    return Rc::Hash;
  }
};
using TpmiAlgHash = Checked<uint16_t, HashDomain<false>>;
using TpmiAlgHashOrNull = Checked<uint16_t, HashDomain<true>>;

// Part 2 §9.8 TPMI_SH_AUTH_SESSION handled by the dispatcher; §9.13 TPMI_RH_HIERARCHY (+NULL).
template <bool AllowNull>
struct HierarchyDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    if (v == TpmRh::Owner || v == TpmRh::Endorsement || v == TpmRh::Platform ||
        (AllowNull && v == TpmRh::Null)) {
      return std::nullopt;
    }
    return Rc::Value;
  }
};
using TpmiRhHierarchy = Checked<uint32_t, HierarchyDomain<false>>;
using TpmiRhHierarchyOrNull = Checked<uint32_t, HierarchyDomain<true>>;

// Part 2 §9.14 TPMI_RH_HIERARCHY_AUTH
struct HierarchyAuthDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    if (v == TpmRh::Owner || v == TpmRh::Endorsement || v == TpmRh::Platform ||
        v == TpmRh::Lockout) {
      return std::nullopt;
    }
    return Rc::Value;
  }
};
using TpmiRhHierarchyAuth = Checked<uint32_t, HierarchyAuthDomain>;

// Part 2 §9.16 TPMI_RH_PROVISION (owner or platform)
struct ProvisionDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    if (v == TpmRh::Owner || v == TpmRh::Platform) {
      return std::nullopt;
    }
    return Rc::Value;
  }
};
using TpmiRhProvision = Checked<uint32_t, ProvisionDomain>;

// Part 2 §9.13 TPMI_RH_PLATFORM
struct PlatformDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    return v == TpmRh::Platform ? std::nullopt : std::optional<TpmRc>(Rc::Value);
  }
};
using TpmiRhPlatform = Checked<uint32_t, PlatformDomain>;

// Part 2 §9.6 TPMI_DH_PCR (+NULL when AllowNull)
template <bool AllowNull>
struct PcrDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    if (v < kImplementationPcr || (AllowNull && v == TpmRh::Null)) {
      return std::nullopt;
    }
    return Rc::Value;
  }
};
using TpmiDhPcr = Checked<uint32_t, PcrDomain<false>>;
using TpmiDhPcrOrNull = Checked<uint32_t, PcrDomain<true>>;

// Part 2 §9.3 TPMI_DH_OBJECT: transient or persistent handles (loaded-ness checked later).
struct ObjectDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    uint8_t ht = static_cast<uint8_t>(v >> 24);
    if (ht == TpmHt::Transient || ht == TpmHt::Persistent) {
      return std::nullopt;
    }
    return Rc::Value;
  }
};
using TpmiDhObject = Checked<uint32_t, ObjectDomain>;
struct ObjectOrNullDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    return v == TpmRh::Null ? std::nullopt : ObjectDomain::Check(v);
  }
};
using TpmiDhObjectOrNull = Checked<uint32_t, ObjectOrNullDomain>;

// Part 2 §9.6 TPMI_DH_ENTITY(+NULL): anything that has an authValue.
struct EntityOrNullDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    uint8_t ht = static_cast<uint8_t>(v >> 24);
    bool ok = v == TpmRh::Null || v == TpmRh::Owner || v == TpmRh::Endorsement ||
              v == TpmRh::Platform || v == TpmRh::Lockout ||
              (v >= TpmRh::Auth00 && v <= TpmRh::AuthFf) || ht == TpmHt::Transient ||
              ht == TpmHt::Persistent || ht == TpmHt::NvIndex ||
              (ht == TpmHt::Pcr && v < kImplementationPcr);
    return ok ? std::nullopt : std::optional<TpmRc>(Rc::Value);
  }
};
using TpmiDhEntityOrNull = Checked<uint32_t, EntityOrNullDomain>;

// Part 2 §10.4 sized buffers
using Tpm2bDigest = Tpm2bBytes<kMaxDigestSize>;
using Tpm2bNonce = Tpm2bBytes<kMaxDigestSize>;
using Tpm2bAuth = Tpm2bBytes<kMaxDigestSize>;
using Tpm2bData = Tpm2bBytes<kMaxDigestSize>;
using Tpm2bMaxBuffer = Tpm2bBytes<kMaxDigestBuffer>;
using Tpm2bEvent = Tpm2bBytes<kMaxDigestBuffer>;
using Tpm2bSensitiveData = Tpm2bBytes<kMaxSymData>;
using Tpm2bEncryptedSecret = Tpm2bBytes<512>;  // sizeof(TPMU_ENCRYPTED_SECRET) with RSA-4096

// Part 2 §11.1.6 TPMT_SYM_DEF(+): algorithm, then keyBits and mode unless NULL; XOR carries a
// hash algorithm in keyBits and no mode.
struct TpmtSymDef {
  uint16_t algorithm = TpmAlg::Null;
  uint16_t key_bits = 0;
  uint16_t mode = TpmAlg::Null;
  friend bool operator==(const TpmtSymDef&, const TpmtSymDef&) = default;
};
RcStatus Unmarshal(Reader& r, TpmtSymDef& v);
void Marshal(Writer& w, const TpmtSymDef& v);

// Part 2 §10.3.2 TPMT_HA: a hash algorithm and a digest of its size (union TPMU_HA).
struct TpmtHa {
  uint16_t hash_alg = TpmAlg::Null;
  Bytes digest;
  friend bool operator==(const TpmtHa&, const TpmtHa&) = default;
};
RcStatus Unmarshal(Reader& r, TpmtHa& v);
void Marshal(Writer& w, const TpmtHa& v);

// Part 2 §10.5.2 TPMS_PCR_SELECTION
struct TpmsPcrSelection {
  TpmiAlgHash hash;
  Bytes pcr_select;  // u8 count (PCR_SELECT_MIN..PCR_SELECT_MAX), then the bitmap
  bool IsSelected(size_t pcr) const {
    return pcr / 8 < pcr_select.size() && (pcr_select[pcr / 8] & (1u << (pcr % 8))) != 0;
  }
  friend bool operator==(const TpmsPcrSelection&, const TpmsPcrSelection&) = default;
};
RcStatus Unmarshal(Reader& r, TpmsPcrSelection& v);
void Marshal(Writer& w, const TpmsPcrSelection& v);

// Part 2 §10.6.3 TPMT_TK_HASHCHECK
struct TpmtTkHashcheck {
  uint16_t tag = TpmSt::Hashcheck;
  TpmiRhHierarchyOrNull hierarchy;
  Tpm2bDigest digest;
  static constexpr auto kFields =
      std::tuple{&TpmtTkHashcheck::tag, &TpmtTkHashcheck::hierarchy, &TpmtTkHashcheck::digest};
};

// Part 2 §10.9 lists
using TpmlDigest = List<Tpm2bDigest, 8>;
using TpmlCc = List<uint32_t, 256>;  // MAX_CAP_CC
using TpmlDigestValues = List<TpmtHa, kHashCount>;
using TpmlPcrSelection = List<TpmsPcrSelection, kHashCount>;

// Part 2 §10.11.1 TPMS_CLOCK_INFO
struct TpmsClockInfo {
  uint64_t clock = 0;
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  uint8_t safe = 0;  // TPMI_YES_NO
  static constexpr auto kFields =
      std::tuple{&TpmsClockInfo::clock, &TpmsClockInfo::reset_count,
                 &TpmsClockInfo::restart_count, &TpmsClockInfo::safe};
};

// Part 2 §10.11.6 TPMS_TIME_INFO
struct TpmsTimeInfo {
  uint64_t time = 0;
  TpmsClockInfo clock_info;
  static constexpr auto kFields = std::tuple{&TpmsTimeInfo::time, &TpmsTimeInfo::clock_info};
};

// Part 2 §8.2 TPMA_ALGORITHM, §8.9 TPMA_CC, §8.7 TPMA_SESSION bits.
namespace TpmaSession {
inline constexpr uint8_t ContinueSession = 0x01;
inline constexpr uint8_t AuditExclusive = 0x02;
inline constexpr uint8_t AuditReset = 0x04;
inline constexpr uint8_t Decrypt = 0x20;
inline constexpr uint8_t Encrypt = 0x40;
inline constexpr uint8_t Audit = 0x80;
inline constexpr uint8_t Reserved = 0x18;
}  // namespace TpmaSession

}  // namespace tpm2emu::wire
