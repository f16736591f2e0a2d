#pragma once
// Typed parameters and handlers of the implemented commands, grouped by Part 3 family.
// In: handles first (kHandles), then parameters; Out: response handles first, then parameters.

#include <cstdint>
#include <tuple>

#include "engine/base/tpm_rc.h"
#include "engine/command.h"
#include "engine/wire/types.h"

namespace tpm2emu::engine {

class Tpm;

namespace startup {
// Part 3 §9.3 TPM2_Startup
struct StartupIn {
  uint16_t startup_type = 0;
  static constexpr auto kFields = std::tuple{&StartupIn::startup_type};
};
Result<Empty> Startup(Tpm& tpm, const StartupIn& in);
// Part 3 §9.4 TPM2_Shutdown
struct ShutdownIn {
  uint16_t shutdown_type = 0;
  static constexpr auto kFields = std::tuple{&ShutdownIn::shutdown_type};
};
Result<Empty> Shutdown(Tpm& tpm, const ShutdownIn& in);
}  // namespace startup

namespace testing {
// Part 3 §10.2 TPM2_SelfTest
struct SelfTestIn {
  uint8_t full_test = 0;
  static constexpr auto kFields = std::tuple{&SelfTestIn::full_test};
};
Result<Empty> SelfTest(Tpm& tpm, const SelfTestIn& in);
// Part 3 §10.3 TPM2_IncrementalSelfTest
struct AlgList {
  wire::List<uint16_t, 64> algs;
  static constexpr auto kFields = std::tuple{&AlgList::algs};
};
Result<AlgList> IncrementalSelfTest(Tpm& tpm, const AlgList& in);
// Part 3 §10.4 TPM2_GetTestResult
struct GetTestResultOut {
  wire::Tpm2bMaxBuffer out_data;
  uint32_t test_result = 0;
  static constexpr auto kFields =
      std::tuple{&GetTestResultOut::out_data, &GetTestResultOut::test_result};
};
Result<GetTestResultOut> GetTestResult(Tpm& tpm, const Empty& in);
}  // namespace testing

namespace random {
// Part 3 §16.1 TPM2_GetRandom
struct GetRandomIn {
  uint16_t bytes_requested = 0;
  static constexpr auto kFields = std::tuple{&GetRandomIn::bytes_requested};
};
struct GetRandomOut {
  wire::Tpm2bDigest random_bytes;
  static constexpr auto kFields = std::tuple{&GetRandomOut::random_bytes};
};
Result<GetRandomOut> GetRandom(Tpm& tpm, const GetRandomIn& in);
// Part 3 §16.2 TPM2_StirRandom
struct StirRandomIn {
  wire::Tpm2bSensitiveData in_data;
  static constexpr auto kFields = std::tuple{&StirRandomIn::in_data};
};
Result<Empty> StirRandom(Tpm& tpm, const StirRandomIn& in);
}  // namespace random

namespace capability {
// Part 3 §30.2 TPM2_GetCapability
struct GetCapabilityIn {
  uint32_t capability = 0;
  uint32_t property = 0;
  uint32_t property_count = 0;
  static constexpr auto kFields = std::tuple{&GetCapabilityIn::capability,
                                             &GetCapabilityIn::property,
                                             &GetCapabilityIn::property_count};
};
struct GetCapabilityOut {
  uint8_t more_data = 0;
  wire::Rest capability_data;  // a marshaled TPMS_CAPABILITY_DATA
  static constexpr auto kFields =
      std::tuple{&GetCapabilityOut::more_data, &GetCapabilityOut::capability_data};
};
Result<GetCapabilityOut> GetCapability(Tpm& tpm, const GetCapabilityIn& in);
// Part 3 §30.3 TPM2_TestParms; the parameters are a TPMT_PUBLIC_PARMS read by the handler.
struct TestParmsIn {
  wire::Rest parameters;
  static constexpr auto kFields = std::tuple{&TestParmsIn::parameters};
};
Result<Empty> TestParms(Tpm& tpm, const TestParmsIn& in);
}  // namespace capability

namespace hash {
// Part 3 §15.4 TPM2_Hash
struct HashIn {
  wire::Tpm2bMaxBuffer data;
  wire::TpmiAlgHash hash_alg;
  wire::TpmiRhHierarchyOrNull hierarchy;
  static constexpr auto kFields = std::tuple{&HashIn::data, &HashIn::hash_alg, &HashIn::hierarchy};
};
struct HashOut {
  wire::Tpm2bDigest out_hash;
  wire::TpmtTkHashcheck validation;
  static constexpr auto kFields = std::tuple{&HashOut::out_hash, &HashOut::validation};
};
Result<HashOut> Hash(Tpm& tpm, const HashIn& in);
// Part 3 §17.3 TPM2_HashSequenceStart
struct HashSequenceStartIn {
  wire::Tpm2bAuth auth;
  wire::TpmiAlgHashOrNull hash_alg;
  static constexpr auto kFields =
      std::tuple{&HashSequenceStartIn::auth, &HashSequenceStartIn::hash_alg};
};
struct HandleOut {
  static constexpr size_t kHandles = 1;
  uint32_t handle = 0;
  static constexpr auto kFields = std::tuple{&HandleOut::handle};
};
Result<HandleOut> HashSequenceStart(Tpm& tpm, const HashSequenceStartIn& in);
// Part 3 §17.4 TPM2_SequenceUpdate
struct SequenceUpdateIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject sequence_handle;
  wire::Tpm2bMaxBuffer buffer;
  static constexpr auto kFields =
      std::tuple{&SequenceUpdateIn::sequence_handle, &SequenceUpdateIn::buffer};
};
Result<Empty> SequenceUpdate(Tpm& tpm, const SequenceUpdateIn& in);
// Part 3 §17.5 TPM2_SequenceComplete
struct SequenceCompleteIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject sequence_handle;
  wire::Tpm2bMaxBuffer buffer;
  wire::TpmiRhHierarchyOrNull hierarchy;
  static constexpr auto kFields =
      std::tuple{&SequenceCompleteIn::sequence_handle, &SequenceCompleteIn::buffer,
                 &SequenceCompleteIn::hierarchy};
};
struct SequenceCompleteOut {
  wire::Tpm2bDigest result;
  wire::TpmtTkHashcheck validation;
  static constexpr auto kFields =
      std::tuple{&SequenceCompleteOut::result, &SequenceCompleteOut::validation};
};
Result<SequenceCompleteOut> SequenceComplete(Tpm& tpm, const SequenceCompleteIn& in);
// Part 3 §17.6 TPM2_EventSequenceComplete
struct EventSequenceCompleteIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhPcrOrNull pcr_handle;
  wire::TpmiDhObject sequence_handle;
  wire::Tpm2bMaxBuffer buffer;
  static constexpr auto kFields =
      std::tuple{&EventSequenceCompleteIn::pcr_handle, &EventSequenceCompleteIn::sequence_handle,
                 &EventSequenceCompleteIn::buffer};
};
struct DigestValuesOut {
  wire::TpmlDigestValues results;
  static constexpr auto kFields = std::tuple{&DigestValuesOut::results};
};
Result<DigestValuesOut> EventSequenceComplete(Tpm& tpm, const EventSequenceCompleteIn& in);
}  // namespace hash

namespace pcr {
// Part 3 §22.2 TPM2_PCR_Extend
struct PcrExtendIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhPcrOrNull pcr_handle;
  wire::TpmlDigestValues digests;
  static constexpr auto kFields = std::tuple{&PcrExtendIn::pcr_handle, &PcrExtendIn::digests};
};
Result<Empty> PcrExtend(Tpm& tpm, const PcrExtendIn& in);
// Part 3 §22.3 TPM2_PCR_Event
struct PcrEventIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhPcrOrNull pcr_handle;
  wire::Tpm2bEvent event_data;
  static constexpr auto kFields = std::tuple{&PcrEventIn::pcr_handle, &PcrEventIn::event_data};
};
Result<hash::DigestValuesOut> PcrEvent(Tpm& tpm, const PcrEventIn& in);
// Part 3 §22.4 TPM2_PCR_Read
struct PcrReadIn {
  wire::TpmlPcrSelection selection;
  static constexpr auto kFields = std::tuple{&PcrReadIn::selection};
};
struct PcrReadOut {
  uint32_t pcr_update_counter = 0;
  wire::TpmlPcrSelection selection_out;
  wire::TpmlDigest values;
  static constexpr auto kFields =
      std::tuple{&PcrReadOut::pcr_update_counter, &PcrReadOut::selection_out, &PcrReadOut::values};
};
Result<PcrReadOut> PcrRead(Tpm& tpm, const PcrReadIn& in);
// Part 3 §22.5 TPM2_PCR_Allocate
struct PcrAllocateIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhPlatform auth_handle;
  wire::TpmlPcrSelection allocation;
  static constexpr auto kFields =
      std::tuple{&PcrAllocateIn::auth_handle, &PcrAllocateIn::allocation};
};
struct PcrAllocateOut {
  uint8_t allocation_success = 0;
  uint32_t max_pcr = 0;
  uint32_t size_needed = 0;
  uint32_t size_available = 0;
  static constexpr auto kFields =
      std::tuple{&PcrAllocateOut::allocation_success, &PcrAllocateOut::max_pcr,
                 &PcrAllocateOut::size_needed, &PcrAllocateOut::size_available};
};
Result<PcrAllocateOut> PcrAllocate(Tpm& tpm, const PcrAllocateIn& in);
// Part 3 §22.8 TPM2_PCR_Reset
struct PcrResetIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhPcr pcr_handle;
  static constexpr auto kFields = std::tuple{&PcrResetIn::pcr_handle};
};
Result<Empty> PcrReset(Tpm& tpm, const PcrResetIn& in);
}  // namespace pcr

namespace clock {
// Part 3 §29.1 TPM2_ReadClock
struct ReadClockOut {
  wire::TpmsTimeInfo current_time;
  static constexpr auto kFields = std::tuple{&ReadClockOut::current_time};
};
Result<ReadClockOut> ReadClock(Tpm& tpm, const Empty& in);
// Part 3 §29.2 TPM2_ClockSet
struct ClockSetIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhProvision auth;
  uint64_t new_time = 0;
  static constexpr auto kFields = std::tuple{&ClockSetIn::auth, &ClockSetIn::new_time};
};
Result<Empty> ClockSet(Tpm& tpm, const ClockSetIn& in);
// Part 3 §29.3 TPM2_ClockRateAdjust
struct ClockRateAdjustIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhProvision auth;
  int8_t rate_adjust = 0;
  static constexpr auto kFields = std::tuple{&ClockRateAdjustIn::auth, &ClockRateAdjustIn::rate_adjust};
};
Result<Empty> ClockRateAdjust(Tpm& tpm, const ClockRateAdjustIn& in);
}  // namespace clock

namespace session {
// Part 3 §11.1 TPM2_StartAuthSession
struct StartAuthSessionIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObjectOrNull tpm_key;
  wire::TpmiDhEntityOrNull bind;
  wire::Tpm2bNonce nonce_caller;
  wire::Tpm2bEncryptedSecret encrypted_salt;
  uint8_t session_type = 0;
  wire::TpmtSymDef symmetric;
  wire::TpmiAlgHash auth_hash;
  static constexpr auto kFields =
      std::tuple{&StartAuthSessionIn::tpm_key,      &StartAuthSessionIn::bind,
                 &StartAuthSessionIn::nonce_caller, &StartAuthSessionIn::encrypted_salt,
                 &StartAuthSessionIn::session_type, &StartAuthSessionIn::symmetric,
                 &StartAuthSessionIn::auth_hash};
};
struct StartAuthSessionOut {
  static constexpr size_t kHandles = 1;
  uint32_t session_handle = 0;
  wire::Tpm2bNonce nonce_tpm;
  static constexpr auto kFields =
      std::tuple{&StartAuthSessionOut::session_handle, &StartAuthSessionOut::nonce_tpm};
};
Result<StartAuthSessionOut> StartAuthSession(Tpm& tpm, const StartAuthSessionIn& in);
}  // namespace session

namespace context {
// Part 3 §28.4 TPM2_FlushContext: the handle is a parameter (TPMI_DH_CONTEXT).
struct FlushContextIn {
  uint32_t flush_handle = 0;
  static constexpr auto kFields = std::tuple{&FlushContextIn::flush_handle};
};
Result<Empty> FlushContext(Tpm& tpm, const FlushContextIn& in);
}  // namespace context

namespace hierarchy {
// Part 3 §24.8 TPM2_HierarchyChangeAuth
struct HierarchyChangeAuthIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhHierarchyAuth auth_handle;
  wire::Tpm2bAuth new_auth;
  static constexpr auto kFields =
      std::tuple{&HierarchyChangeAuthIn::auth_handle, &HierarchyChangeAuthIn::new_auth};
};
Result<Empty> HierarchyChangeAuth(Tpm& tpm, const HierarchyChangeAuthIn& in);
}  // namespace hierarchy

}  // namespace tpm2emu::engine
