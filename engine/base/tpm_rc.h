#pragma once
// TPM response codes (Part 2 §6.6 TPM_RC) as a strong type that cannot hold success, plus the
// Result<T> used throughout engine and crypto.

#include <cstdint>
#include <string>

#include "engine/base/expected.h"

namespace tpm2emu {

class TpmRc {
 public:
  constexpr explicit TpmRc(uint32_t value) : value_(value) {}
  constexpr uint32_t value() const { return value_; }
  // Part 2 §6.6.3: format-one codes carry the handle, parameter or session number.
  constexpr bool IsFormatOne() const { return (value_ & 0x080) != 0; }
  constexpr TpmRc Param(uint32_t n) const { return Position(0x040, n); }
  constexpr TpmRc Handle(uint32_t n) const { return Position(0x000, n); }
  constexpr TpmRc Session(uint32_t n) const { return Position(0x800, n); }
  // The code with any position stripped (for comparing a kind of failure).
  constexpr TpmRc Base() const { return IsFormatOne() ? TpmRc(value_ & 0x0BF) : *this; }
  friend constexpr bool operator==(TpmRc a, TpmRc b) { return a.value_ == b.value_; }

 private:
  constexpr TpmRc Position(uint32_t kind, uint32_t n) const {
    if (!IsFormatOne() || n == 0 || (value_ & 0xF40) != 0) {
      return *this;  // only an unpositioned format-one code takes a position
    }
    uint32_t limit = kind == 0x040 ? 15u : 7u;
    if (n > limit) {
      return *this;
    }
    return TpmRc(value_ | kind | (n << 8));
  }
  uint32_t value_;
};

// A readable name for logs and test failures, e.g. "TPM_RC_VALUE+P2".
std::string RcName(uint32_t rc);

namespace Rc {
inline constexpr TpmRc BadTag{0x01E};
inline constexpr TpmRc Initialize{0x100};
inline constexpr TpmRc Failure{0x101};
inline constexpr TpmRc Sequence{0x103};
inline constexpr TpmRc Private{0x10B};
inline constexpr TpmRc Hmac{0x119};
inline constexpr TpmRc Disabled{0x120};
inline constexpr TpmRc Exclusive{0x121};
inline constexpr TpmRc AuthType{0x124};
inline constexpr TpmRc AuthMissing{0x125};
inline constexpr TpmRc Policy{0x126};
inline constexpr TpmRc Pcr{0x127};
inline constexpr TpmRc PcrChanged{0x128};
inline constexpr TpmRc Upgrade{0x12D};
inline constexpr TpmRc TooManyContexts{0x12E};
inline constexpr TpmRc AuthUnavailable{0x12F};
inline constexpr TpmRc Reboot{0x130};
inline constexpr TpmRc Unbalanced{0x131};
inline constexpr TpmRc CommandSize{0x142};
inline constexpr TpmRc CommandCode{0x143};
inline constexpr TpmRc AuthSize{0x144};
inline constexpr TpmRc AuthContext{0x145};
inline constexpr TpmRc NvRange{0x146};
inline constexpr TpmRc NvSize{0x147};
inline constexpr TpmRc NvLocked{0x148};
inline constexpr TpmRc NvAuthorization{0x149};
inline constexpr TpmRc NvUninitialized{0x14A};
inline constexpr TpmRc NvSpace{0x14B};
inline constexpr TpmRc NvDefined{0x14C};
inline constexpr TpmRc BadContext{0x150};
inline constexpr TpmRc CpHash{0x151};
inline constexpr TpmRc Parent{0x152};
inline constexpr TpmRc NeedsTest{0x153};
inline constexpr TpmRc NoResult{0x154};
inline constexpr TpmRc Sensitive{0x155};
inline constexpr TpmRc Asymmetric{0x081};
inline constexpr TpmRc Attributes{0x082};
inline constexpr TpmRc Hash{0x083};
inline constexpr TpmRc Value{0x084};
inline constexpr TpmRc Hierarchy{0x085};
inline constexpr TpmRc KeySize{0x087};
inline constexpr TpmRc Mgf{0x088};
inline constexpr TpmRc Mode{0x089};
inline constexpr TpmRc Type{0x08A};
inline constexpr TpmRc Handle{0x08B};
inline constexpr TpmRc Kdf{0x08C};
inline constexpr TpmRc Range{0x08D};
inline constexpr TpmRc AuthFail{0x08E};
inline constexpr TpmRc Nonce{0x08F};
inline constexpr TpmRc Pp{0x090};
inline constexpr TpmRc Scheme{0x092};
inline constexpr TpmRc Size{0x095};
inline constexpr TpmRc Symmetric{0x096};
inline constexpr TpmRc Tag{0x097};
inline constexpr TpmRc Selector{0x098};
inline constexpr TpmRc Insufficient{0x09A};
inline constexpr TpmRc Signature{0x09B};
inline constexpr TpmRc Key{0x09C};
inline constexpr TpmRc PolicyFail{0x09D};
inline constexpr TpmRc Integrity{0x09F};
inline constexpr TpmRc Ticket{0x0A0};
inline constexpr TpmRc ReservedBits{0x0A1};
inline constexpr TpmRc BadAuth{0x0A2};
inline constexpr TpmRc Expired{0x0A3};
inline constexpr TpmRc PolicyCc{0x0A4};
inline constexpr TpmRc Binding{0x0A5};
inline constexpr TpmRc Curve{0x0A6};
inline constexpr TpmRc EccPoint{0x0A7};
inline constexpr TpmRc ContextGap{0x901};
inline constexpr TpmRc ObjectMemory{0x902};
inline constexpr TpmRc SessionMemory{0x903};
inline constexpr TpmRc Memory{0x904};
inline constexpr TpmRc SessionHandles{0x905};
inline constexpr TpmRc ObjectHandles{0x906};
inline constexpr TpmRc Locality{0x907};
inline constexpr TpmRc Yielded{0x908};
inline constexpr TpmRc Canceled{0x909};
inline constexpr TpmRc Testing{0x90A};
inline constexpr TpmRc ReferenceH0{0x910};
inline constexpr TpmRc ReferenceS0{0x918};
inline constexpr TpmRc NvRate{0x920};
inline constexpr TpmRc Lockout{0x921};
inline constexpr TpmRc Retry{0x922};
inline constexpr TpmRc NvUnavailable{0x923};
// TPM_RC_REFERENCE_Hn for handle index n (0-based).
constexpr TpmRc ReferenceH(uint32_t n) { return TpmRc(0x910 + n); }
constexpr TpmRc ReferenceS(uint32_t n) { return TpmRc(0x918 + n); }
}  // namespace Rc

template <class T>
using Result = Expected<T, TpmRc>;
using RcStatus = Expected<void, TpmRc>;

}  // namespace tpm2emu
