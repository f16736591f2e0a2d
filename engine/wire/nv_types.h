#pragma once
// Part 2 §13 NV storage structures (TPM_NT, TPMA_NV, TPMS_NV_PUBLIC, TPM2B_NV_PUBLIC,
// TPMS_NV_PIN_COUNTER_PARAMETERS) and the NV handle interface types of Part 2 §9.23-§9.27.
// Only NV indices of type TPM_HT_NV_INDEX (32-bit attributes) are implemented.

#include <cstdint>
#include <optional>
#include <tuple>

#include "engine/wire/marshal.h"
#include "engine/wire/public.h"
#include "engine/wire/types.h"

namespace tpm2emu::wire {

// Implementation limits, reported as TPM_PT_NV_INDEX_MAX and TPM_PT_NV_BUFFER_MAX.
inline constexpr size_t kMaxNvIndexSize = 2048;   // MAX_NV_INDEX_SIZE
inline constexpr size_t kMaxNvBufferSize = 1024;  // MAX_NV_BUFFER_SIZE

// Part 2 §7.5 NV_INDEX_FIRST..NV_INDEX_LAST
inline constexpr uint32_t kNvIndexFirst = 0x01000000;
inline constexpr uint32_t kNvIndexLast = 0x01FFFFFF;
constexpr bool IsNvIndexHandle(uint32_t h) {
  return h >= kNvIndexFirst && h <= kNvIndexLast;
}

// Part 2 §13.2 TPM_NT (bits 7:4 of TPMA_NV)
namespace TpmNt {
inline constexpr uint8_t Ordinary = 0x0;
inline constexpr uint8_t Counter = 0x1;
inline constexpr uint8_t Bits = 0x2;
inline constexpr uint8_t Extend = 0x4;
inline constexpr uint8_t PinFail = 0x8;
inline constexpr uint8_t PinPass = 0x9;
}  // namespace TpmNt

// Part 2 §13.4 TPMA_NV bits
namespace TpmaNv {
inline constexpr uint32_t PpWrite = 1u << 0;
inline constexpr uint32_t OwnerWrite = 1u << 1;
inline constexpr uint32_t AuthWrite = 1u << 2;
inline constexpr uint32_t PolicyWrite = 1u << 3;
inline constexpr uint32_t TpmNtShift = 4;
inline constexpr uint32_t TpmNtMask = 0xFu << TpmNtShift;
inline constexpr uint32_t PolicyDelete = 1u << 10;
inline constexpr uint32_t WriteLocked = 1u << 11;
inline constexpr uint32_t WriteAll = 1u << 12;
inline constexpr uint32_t WriteDefine = 1u << 13;
inline constexpr uint32_t WriteStclear = 1u << 14;
inline constexpr uint32_t GlobalLock = 1u << 15;
inline constexpr uint32_t PpRead = 1u << 16;
inline constexpr uint32_t OwnerRead = 1u << 17;
inline constexpr uint32_t AuthRead = 1u << 18;
inline constexpr uint32_t PolicyRead = 1u << 19;
inline constexpr uint32_t NoDa = 1u << 25;
inline constexpr uint32_t Orderly = 1u << 26;
inline constexpr uint32_t ClearStclear = 1u << 27;
inline constexpr uint32_t ReadLocked = 1u << 28;
inline constexpr uint32_t Written = 1u << 29;
inline constexpr uint32_t PlatformCreate = 1u << 30;
inline constexpr uint32_t ReadStclear = 1u << 31;
inline constexpr uint32_t Reserved = 0x00000300 | 0x01F00000;  // bits 9:8 and 24:20

inline constexpr uint32_t AnyWrite = PpWrite | OwnerWrite | AuthWrite | PolicyWrite;
inline constexpr uint32_t AnyRead = PpRead | OwnerRead | AuthRead | PolicyRead;

constexpr uint8_t TypeOf(uint32_t attributes) {
  return static_cast<uint8_t>((attributes & TpmNtMask) >> TpmNtShift);
}
constexpr uint32_t WithType(uint32_t attributes, uint8_t type) {
  return (attributes & ~TpmNtMask) | (uint32_t{type} << TpmNtShift);
}
}  // namespace TpmaNv

using TpmaNvBits = Attributes<uint32_t, TpmaNv::Reserved>;

// Part 2 §9.23 TPMI_RH_NV_AUTH: Platform or Owner Authorization, or an NV index's own.
struct NvAuthDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    if (v == TpmRh::Owner || v == TpmRh::Platform || IsNvIndexHandle(v)) {
      return std::nullopt;
    }
    return Rc::Value;
  }
};
using TpmiRhNvAuth = Checked<uint32_t, NvAuthDomain>;

// Part 2 §9.25 TPMI_RH_NV_INDEX, §9.26 TPMI_RH_NV_DEFINED_INDEX and §9.27
// TPMI_RH_NV_LEGACY_INDEX: without external or permanent NV, all three are the NV index range.
struct NvIndexDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    return IsNvIndexHandle(v) ? std::nullopt : std::optional<TpmRc>(Rc::Value);
  }
};
using TpmiRhNvIndex = Checked<uint32_t, NvIndexDomain>;
using TpmiRhNvDefinedIndex = Checked<uint32_t, NvIndexDomain>;
using TpmiRhNvLegacyIndex = Checked<uint32_t, NvIndexDomain>;

// Part 2 §13.6 TPMS_NV_PUBLIC.dataSize{:MAX_NV_INDEX_SIZE} (#TPM_RC_SIZE)
struct NvDataSizeDomain {
  static constexpr std::optional<TpmRc> Check(uint16_t v) {
    return v <= kMaxNvIndexSize ? std::nullopt : std::optional<TpmRc>(Rc::Size);
  }
};

// Part 2 §13.6 TPMS_NV_PUBLIC
struct TpmsNvPublic {
  TpmiRhNvLegacyIndex nv_index;
  TpmiAlgHash name_alg;
  TpmaNvBits attributes;
  Tpm2bDigest auth_policy;
  Checked<uint16_t, NvDataSizeDomain> data_size;
  uint8_t type() const { return TpmaNv::TypeOf(attributes.value); }
  bool Has(uint32_t bit) const { return attributes.Has(bit); }
  void Set(uint32_t bit) { attributes.value |= bit; }
  void Clear(uint32_t bit) { attributes.value &= ~bit; }
  friend bool operator==(const TpmsNvPublic&, const TpmsNvPublic&) = default;
  static constexpr auto kFields =
      std::tuple{&TpmsNvPublic::nv_index, &TpmsNvPublic::name_alg, &TpmsNvPublic::attributes,
                 &TpmsNvPublic::auth_policy, &TpmsNvPublic::data_size};
};

// Part 2 §13.7 TPM2B_NV_PUBLIC (a zero size unmarshals as not present)
using Tpm2bNvPublic = Tpm2b<TpmsNvPublic>;

// Part 2 §13.3 TPMS_NV_PIN_COUNTER_PARAMETERS: the eight data octets of a PIN index.
struct TpmsNvPinCounterParameters {
  uint32_t pin_count = 0;
  uint32_t pin_limit = 0;
  static constexpr auto kFields =
      std::tuple{&TpmsNvPinCounterParameters::pin_count, &TpmsNvPinCounterParameters::pin_limit};
};

// Part 2 §10.3.9 TPM2B_MAX_NV_BUFFER
using Tpm2bMaxNvBuffer = Tpm2bBytes<kMaxNvBufferSize>;

}  // namespace tpm2emu::wire
