#pragma once
// Typed parameters and handlers of the implemented commands, grouped by Part 3 family.
// In: handles first (kHandles), then parameters; Out: response handles first, then parameters.

#include <cstdint>
#include <tuple>

#include "engine/base/tpm_rc.h"
#include "engine/command.h"
#include "engine/wire/nv_types.h"
#include "engine/wire/public.h"
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

// Part 2 §14.3 TPMS_CONTEXT
struct TpmsContext {
  uint64_t sequence = 0;
  uint32_t saved_handle = 0;
  uint32_t hierarchy = 0;
  wire::Tpm2bBytes<4096> context_blob;
  static constexpr auto kFields = std::tuple{&TpmsContext::sequence, &TpmsContext::saved_handle,
                                             &TpmsContext::hierarchy, &TpmsContext::context_blob};
};
// Part 3 §28.2 TPM2_ContextSave
struct ContextSaveIn {
  static constexpr size_t kHandles = 1;
  uint32_t save_handle = 0;  // TPMI_DH_SAVED: a loaded object or session
  static constexpr auto kFields = std::tuple{&ContextSaveIn::save_handle};
};
struct ContextOut {
  TpmsContext context;
  static constexpr auto kFields = std::tuple{&ContextOut::context};
};
Result<ContextOut> ContextSave(Tpm& tpm, const ContextSaveIn& in);
// Part 3 §28.3 TPM2_ContextLoad
struct ContextLoadIn {
  TpmsContext context;
  static constexpr auto kFields = std::tuple{&ContextLoadIn::context};
};
struct ContextLoadOut {
  static constexpr size_t kHandles = 1;
  uint32_t loaded_handle = 0;
  static constexpr auto kFields = std::tuple{&ContextLoadOut::loaded_handle};
};
Result<ContextLoadOut> ContextLoad(Tpm& tpm, const ContextLoadIn& in);
}  // namespace context

namespace object {
using Tpm2bCreationData = wire::Tpm2b<wire::TpmsCreationData>;
// Part 3 §24.1 TPM2_CreatePrimary
struct CreatePrimaryIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhHierarchyOrNull primary_handle;
  wire::Tpm2bSensitiveCreate in_sensitive;
  wire::Tpm2bPublic in_public;
  wire::Tpm2bData outside_info;
  wire::TpmlPcrSelection creation_pcr;
  static constexpr auto kFields =
      std::tuple{&CreatePrimaryIn::primary_handle, &CreatePrimaryIn::in_sensitive,
                 &CreatePrimaryIn::in_public, &CreatePrimaryIn::outside_info,
                 &CreatePrimaryIn::creation_pcr};
};
struct CreatePrimaryOut {
  static constexpr size_t kHandles = 1;
  uint32_t object_handle = 0;
  wire::Tpm2bPublic out_public;
  Tpm2bCreationData creation_data;
  wire::Tpm2bDigest creation_hash;
  wire::TpmtTicket creation_ticket;
  wire::Tpm2bName name;
  static constexpr auto kFields =
      std::tuple{&CreatePrimaryOut::object_handle, &CreatePrimaryOut::out_public,
                 &CreatePrimaryOut::creation_data, &CreatePrimaryOut::creation_hash,
                 &CreatePrimaryOut::creation_ticket, &CreatePrimaryOut::name};
};
Result<CreatePrimaryOut> CreatePrimary(Tpm& tpm, const CreatePrimaryIn& in);

// Part 3 §12.1 TPM2_Create
struct CreateIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject parent_handle;
  wire::Tpm2bSensitiveCreate in_sensitive;
  wire::Tpm2bPublic in_public;
  wire::Tpm2bData outside_info;
  wire::TpmlPcrSelection creation_pcr;
  static constexpr auto kFields =
      std::tuple{&CreateIn::parent_handle, &CreateIn::in_sensitive, &CreateIn::in_public,
                 &CreateIn::outside_info, &CreateIn::creation_pcr};
};
struct CreateOut {
  wire::Tpm2bPrivate out_private;
  wire::Tpm2bPublic out_public;
  Tpm2bCreationData creation_data;
  wire::Tpm2bDigest creation_hash;
  wire::TpmtTicket creation_ticket;
  static constexpr auto kFields =
      std::tuple{&CreateOut::out_private, &CreateOut::out_public, &CreateOut::creation_data,
                 &CreateOut::creation_hash, &CreateOut::creation_ticket};
};
Result<CreateOut> Create(Tpm& tpm, const CreateIn& in);

// Part 3 §12.2 TPM2_Load
struct LoadIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject parent_handle;
  wire::Tpm2bPrivate in_private;
  wire::Tpm2bPublic in_public;
  static constexpr auto kFields =
      std::tuple{&LoadIn::parent_handle, &LoadIn::in_private, &LoadIn::in_public};
};
struct LoadOut {
  static constexpr size_t kHandles = 1;
  uint32_t object_handle = 0;
  wire::Tpm2bName name;
  static constexpr auto kFields = std::tuple{&LoadOut::object_handle, &LoadOut::name};
};
Result<LoadOut> Load(Tpm& tpm, const LoadIn& in);

// Part 3 §12.3 TPM2_LoadExternal
struct LoadExternalIn {
  wire::Tpm2bSensitiveBlob in_private;
  wire::Tpm2bPublic in_public;
  wire::TpmiRhHierarchyOrNull hierarchy;
  static constexpr auto kFields = std::tuple{&LoadExternalIn::in_private,
                                             &LoadExternalIn::in_public,
                                             &LoadExternalIn::hierarchy};
};
Result<LoadOut> LoadExternal(Tpm& tpm, const LoadExternalIn& in);

// Part 3 §12.4 TPM2_ReadPublic
struct ReadPublicIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject object_handle;
  static constexpr auto kFields = std::tuple{&ReadPublicIn::object_handle};
};
struct ReadPublicOut {
  wire::Tpm2bPublic out_public;
  wire::Tpm2bName name;
  wire::Tpm2bName qualified_name;
  static constexpr auto kFields =
      std::tuple{&ReadPublicOut::out_public, &ReadPublicOut::name, &ReadPublicOut::qualified_name};
};
Result<ReadPublicOut> ReadPublic(Tpm& tpm, const ReadPublicIn& in);

// Part 3 §12.7 TPM2_Unseal
struct UnsealIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject item_handle;
  static constexpr auto kFields = std::tuple{&UnsealIn::item_handle};
};
struct UnsealOut {
  wire::Tpm2bSensitiveData out_data;
  static constexpr auto kFields = std::tuple{&UnsealOut::out_data};
};
Result<UnsealOut> Unseal(Tpm& tpm, const UnsealIn& in);

// Part 3 §12.8 TPM2_ObjectChangeAuth
struct ObjectChangeAuthIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObject object_handle;
  wire::TpmiDhObject parent_handle;
  wire::Tpm2bAuth new_auth;
  static constexpr auto kFields = std::tuple{&ObjectChangeAuthIn::object_handle,
                                             &ObjectChangeAuthIn::parent_handle,
                                             &ObjectChangeAuthIn::new_auth};
};
struct ObjectChangeAuthOut {
  wire::Tpm2bPrivate out_private;
  static constexpr auto kFields = std::tuple{&ObjectChangeAuthOut::out_private};
};
Result<ObjectChangeAuthOut> ObjectChangeAuth(Tpm& tpm, const ObjectChangeAuthIn& in);

// Part 3 §12.9 TPM2_CreateLoaded
struct CreateLoadedIn {
  static constexpr size_t kHandles = 1;
  uint32_t parent_handle = 0;  // TPMI_DH_PARENT+: a hierarchy or a storage parent
  wire::Tpm2bSensitiveCreate in_sensitive;
  wire::Tpm2bTemplate in_public;
  static constexpr auto kFields = std::tuple{&CreateLoadedIn::parent_handle,
                                             &CreateLoadedIn::in_sensitive,
                                             &CreateLoadedIn::in_public};
};
struct CreateLoadedOut {
  static constexpr size_t kHandles = 1;
  uint32_t object_handle = 0;
  wire::Tpm2bPrivate out_private;
  wire::Tpm2bPublic out_public;
  wire::Tpm2bName name;
  static constexpr auto kFields =
      std::tuple{&CreateLoadedOut::object_handle, &CreateLoadedOut::out_private,
                 &CreateLoadedOut::out_public, &CreateLoadedOut::name};
};
Result<CreateLoadedOut> CreateLoaded(Tpm& tpm, const CreateLoadedIn& in);

// Part 3 §28.5 TPM2_EvictControl
struct EvictControlIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhProvision auth;
  wire::TpmiDhObject object_handle;
  uint32_t persistent_handle = 0;  // TPMI_DH_PERSISTENT
  static constexpr auto kFields = std::tuple{&EvictControlIn::auth, &EvictControlIn::object_handle,
                                             &EvictControlIn::persistent_handle};
};
Result<Empty> EvictControl(Tpm& tpm, const EvictControlIn& in);
}  // namespace object

namespace asym {
// Part 3 §20.2 TPM2_Sign
struct SignIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bDigest digest;
  wire::TpmtSigScheme in_scheme;
  wire::TpmtTkHashcheck validation;
  static constexpr auto kFields = std::tuple{&SignIn::key_handle, &SignIn::digest,
                                             &SignIn::in_scheme, &SignIn::validation};
};
struct SignOut {
  wire::TpmtSignature signature;
  static constexpr auto kFields = std::tuple{&SignOut::signature};
};
Result<SignOut> Sign(Tpm& tpm, const SignIn& in);
// Part 3 §20.1 TPM2_VerifySignature
struct VerifySignatureIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bDigest digest;
  wire::TpmtSignature signature;
  static constexpr auto kFields = std::tuple{&VerifySignatureIn::key_handle,
                                             &VerifySignatureIn::digest,
                                             &VerifySignatureIn::signature};
};
struct VerifySignatureOut {
  wire::TpmtTicket validation;
  static constexpr auto kFields = std::tuple{&VerifySignatureOut::validation};
};
Result<VerifySignatureOut> VerifySignature(Tpm& tpm, const VerifySignatureIn& in);
// Part 3 §14.2 TPM2_RSA_Encrypt
struct RsaEncryptIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bPublicKeyRsa message;
  wire::TpmtRsaDecrypt in_scheme;
  wire::Tpm2bData label;
  static constexpr auto kFields = std::tuple{&RsaEncryptIn::key_handle, &RsaEncryptIn::message,
                                             &RsaEncryptIn::in_scheme, &RsaEncryptIn::label};
};
struct RsaEncryptOut {
  wire::Tpm2bPublicKeyRsa out_data;
  static constexpr auto kFields = std::tuple{&RsaEncryptOut::out_data};
};
Result<RsaEncryptOut> RsaEncrypt(Tpm& tpm, const RsaEncryptIn& in);
// Part 3 §14.3 TPM2_RSA_Decrypt
struct RsaDecryptIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bPublicKeyRsa cipher_text;
  wire::TpmtRsaDecrypt in_scheme;
  wire::Tpm2bData label;
  static constexpr auto kFields = std::tuple{&RsaDecryptIn::key_handle, &RsaDecryptIn::cipher_text,
                                             &RsaDecryptIn::in_scheme, &RsaDecryptIn::label};
};
Result<RsaEncryptOut> RsaDecrypt(Tpm& tpm, const RsaDecryptIn& in);
// Part 3 §14.4 TPM2_ECDH_KeyGen
struct EcdhKeyGenIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  static constexpr auto kFields = std::tuple{&EcdhKeyGenIn::key_handle};
};
struct EcdhKeyGenOut {
  wire::Tpm2bEccPoint z_point;
  wire::Tpm2bEccPoint pub_point;
  static constexpr auto kFields = std::tuple{&EcdhKeyGenOut::z_point, &EcdhKeyGenOut::pub_point};
};
Result<EcdhKeyGenOut> EcdhKeyGen(Tpm& tpm, const EcdhKeyGenIn& in);
// Part 3 §14.5 TPM2_ECDH_ZGen
struct EcdhZGenIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bEccPoint in_point;
  static constexpr auto kFields = std::tuple{&EcdhZGenIn::key_handle, &EcdhZGenIn::in_point};
};
struct EcdhZGenOut {
  wire::Tpm2bEccPoint out_point;
  static constexpr auto kFields = std::tuple{&EcdhZGenOut::out_point};
};
Result<EcdhZGenOut> EcdhZGen(Tpm& tpm, const EcdhZGenIn& in);
// Part 3 §14.7 TPM2_ECC_Parameters
struct EccParametersIn {
  uint16_t curve_id = 0;
  static constexpr auto kFields = std::tuple{&EccParametersIn::curve_id};
};
struct EccParametersOut {
  wire::Rest parameters;  // TPMS_ALGORITHM_DETAIL_ECC
  static constexpr auto kFields = std::tuple{&EccParametersOut::parameters};
};
Result<EccParametersOut> EccParameters(Tpm& tpm, const EccParametersIn& in);
}  // namespace asym

namespace sym {
// Part 3 §15.2 TPM2_EncryptDecrypt
struct EncryptDecryptIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  uint8_t decrypt = 0;
  uint16_t mode = 0;
  wire::Tpm2bIv iv_in;
  wire::Tpm2bMaxBuffer in_data;
  static constexpr auto kFields =
      std::tuple{&EncryptDecryptIn::key_handle, &EncryptDecryptIn::decrypt,
                 &EncryptDecryptIn::mode, &EncryptDecryptIn::iv_in, &EncryptDecryptIn::in_data};
};
// Part 3 §15.3 TPM2_EncryptDecrypt2
struct EncryptDecrypt2In {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bMaxBuffer in_data;
  uint8_t decrypt = 0;
  uint16_t mode = 0;
  wire::Tpm2bIv iv_in;
  static constexpr auto kFields =
      std::tuple{&EncryptDecrypt2In::key_handle, &EncryptDecrypt2In::in_data,
                 &EncryptDecrypt2In::decrypt, &EncryptDecrypt2In::mode, &EncryptDecrypt2In::iv_in};
};
struct EncryptDecryptOut {
  wire::Tpm2bMaxBuffer out_data;
  wire::Tpm2bIv iv_out;
  static constexpr auto kFields = std::tuple{&EncryptDecryptOut::out_data, &EncryptDecryptOut::iv_out};
};
Result<EncryptDecryptOut> EncryptDecrypt(Tpm& tpm, const EncryptDecryptIn& in);
Result<EncryptDecryptOut> EncryptDecrypt2(Tpm& tpm, const EncryptDecrypt2In& in);
// Part 3 §15.5 TPM2_HMAC
struct HmacIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject handle;
  wire::Tpm2bMaxBuffer buffer;
  wire::TpmiAlgHashOrNull hash_alg;
  static constexpr auto kFields = std::tuple{&HmacIn::handle, &HmacIn::buffer, &HmacIn::hash_alg};
};
struct HmacOut {
  wire::Tpm2bDigest out_hmac;
  static constexpr auto kFields = std::tuple{&HmacOut::out_hmac};
};
Result<HmacOut> Hmac(Tpm& tpm, const HmacIn& in);
// Part 3 §17.2 TPM2_HMAC_Start
struct HmacStartIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject handle;
  wire::Tpm2bAuth auth;
  wire::TpmiAlgHashOrNull hash_alg;
  static constexpr auto kFields =
      std::tuple{&HmacStartIn::handle, &HmacStartIn::auth, &HmacStartIn::hash_alg};
};
Result<hash::HandleOut> HmacStart(Tpm& tpm, const HmacStartIn& in);
}  // namespace sym

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
// Part 3 §24.2 TPM2_HierarchyControl
struct HierarchyControlIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhHierarchy auth_handle;
  uint32_t enable = 0;  // TPMI_RH_ENABLES
  uint8_t state = 0;
  static constexpr auto kFields = std::tuple{&HierarchyControlIn::auth_handle,
                                             &HierarchyControlIn::enable,
                                             &HierarchyControlIn::state};
};
Result<Empty> HierarchyControl(Tpm& tpm, const HierarchyControlIn& in);
// Part 3 §24.3 TPM2_SetPrimaryPolicy
struct SetPrimaryPolicyIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhHierarchyAuth auth_handle;
  wire::Tpm2bDigest auth_policy;
  wire::TpmiAlgHashOrNull hash_alg;
  static constexpr auto kFields = std::tuple{&SetPrimaryPolicyIn::auth_handle,
                                             &SetPrimaryPolicyIn::auth_policy,
                                             &SetPrimaryPolicyIn::hash_alg};
};
Result<Empty> SetPrimaryPolicy(Tpm& tpm, const SetPrimaryPolicyIn& in);
// Part 3 §24.4 TPM2_ChangePPS and §24.5 TPM2_ChangeEPS
struct PlatformIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhPlatform auth_handle;
  static constexpr auto kFields = std::tuple{&PlatformIn::auth_handle};
};
Result<Empty> ChangePps(Tpm& tpm, const PlatformIn& in);
Result<Empty> ChangeEps(Tpm& tpm, const PlatformIn& in);
// Part 3 §24.6 TPM2_Clear
struct ClearIn {
  static constexpr size_t kHandles = 1;
  uint32_t auth_handle = 0;  // TPMI_RH_CLEAR
  static constexpr auto kFields = std::tuple{&ClearIn::auth_handle};
};
Result<Empty> Clear(Tpm& tpm, const ClearIn& in);
// Part 3 §24.7 TPM2_ClearControl
struct ClearControlIn {
  static constexpr size_t kHandles = 1;
  uint32_t auth = 0;  // TPMI_RH_CLEAR
  uint8_t disable = 0;
  static constexpr auto kFields = std::tuple{&ClearControlIn::auth, &ClearControlIn::disable};
};
Result<Empty> ClearControl(Tpm& tpm, const ClearControlIn& in);
// Part 3 §25.2 TPM2_DictionaryAttackLockReset
struct LockoutIn {
  static constexpr size_t kHandles = 1;
  uint32_t lock_handle = 0;  // TPMI_RH_LOCKOUT
  static constexpr auto kFields = std::tuple{&LockoutIn::lock_handle};
};
Result<Empty> DictionaryAttackLockReset(Tpm& tpm, const LockoutIn& in);
// Part 3 §25.3 TPM2_DictionaryAttackParameters
struct DictionaryAttackParametersIn {
  static constexpr size_t kHandles = 1;
  uint32_t lock_handle = 0;
  uint32_t new_max_tries = 0;
  uint32_t new_recovery_time = 0;
  uint32_t lockout_recovery = 0;
  static constexpr auto kFields =
      std::tuple{&DictionaryAttackParametersIn::lock_handle,
                 &DictionaryAttackParametersIn::new_max_tries,
                 &DictionaryAttackParametersIn::new_recovery_time,
                 &DictionaryAttackParametersIn::lockout_recovery};
};
Result<Empty> DictionaryAttackParameters(Tpm& tpm, const DictionaryAttackParametersIn& in);
}  // namespace hierarchy

namespace nv {
// Part 3 §31.3 TPM2_NV_DefineSpace
struct NvDefineSpaceIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhProvision auth_handle;
  wire::Tpm2bAuth auth;
  wire::Tpm2bNvPublic public_info;
  static constexpr auto kFields = std::tuple{&NvDefineSpaceIn::auth_handle, &NvDefineSpaceIn::auth,
                                             &NvDefineSpaceIn::public_info};
};
Result<Empty> DefineSpace(Tpm& tpm, const NvDefineSpaceIn& in);
// Part 3 §31.4 TPM2_NV_UndefineSpace
struct NvUndefineSpaceIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhProvision auth_handle;
  wire::TpmiRhNvDefinedIndex nv_index;
  static constexpr auto kFields =
      std::tuple{&NvUndefineSpaceIn::auth_handle, &NvUndefineSpaceIn::nv_index};
};
Result<Empty> UndefineSpace(Tpm& tpm, const NvUndefineSpaceIn& in);
// Part 3 §31.5 TPM2_NV_UndefineSpaceSpecial
struct NvUndefineSpaceSpecialIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhNvDefinedIndex nv_index;
  wire::TpmiRhPlatform platform;
  static constexpr auto kFields =
      std::tuple{&NvUndefineSpaceSpecialIn::nv_index, &NvUndefineSpaceSpecialIn::platform};
};
Result<Empty> UndefineSpaceSpecial(Tpm& tpm, const NvUndefineSpaceSpecialIn& in);
// Part 3 §31.6 TPM2_NV_ReadPublic
struct NvReadPublicIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhNvLegacyIndex nv_index;
  static constexpr auto kFields = std::tuple{&NvReadPublicIn::nv_index};
};
struct NvReadPublicOut {
  wire::Tpm2bNvPublic nv_public;
  wire::Tpm2bName nv_name;
  static constexpr auto kFields =
      std::tuple{&NvReadPublicOut::nv_public, &NvReadPublicOut::nv_name};
};
Result<NvReadPublicOut> ReadPublic(Tpm& tpm, const NvReadPublicIn& in);
// Part 3 §31.7 TPM2_NV_Write
struct NvWriteIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  wire::Tpm2bMaxNvBuffer data;
  uint16_t offset = 0;
  static constexpr auto kFields = std::tuple{&NvWriteIn::auth_handle, &NvWriteIn::nv_index,
                                             &NvWriteIn::data, &NvWriteIn::offset};
};
Result<Empty> Write(Tpm& tpm, const NvWriteIn& in);
// The handles of TPM2_NV_Increment (§31.8), TPM2_NV_WriteLock (§31.11) and TPM2_NV_ReadLock
// (§31.14), which have no parameters.
struct NvIndexIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  static constexpr auto kFields = std::tuple{&NvIndexIn::auth_handle, &NvIndexIn::nv_index};
};
// Part 3 §31.8 TPM2_NV_Increment
Result<Empty> Increment(Tpm& tpm, const NvIndexIn& in);
// Part 3 §31.9 TPM2_NV_Extend
struct NvExtendIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  wire::Tpm2bMaxNvBuffer data;
  static constexpr auto kFields =
      std::tuple{&NvExtendIn::auth_handle, &NvExtendIn::nv_index, &NvExtendIn::data};
};
Result<Empty> Extend(Tpm& tpm, const NvExtendIn& in);
// Part 3 §31.10 TPM2_NV_SetBits
struct NvSetBitsIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  uint64_t bits = 0;
  static constexpr auto kFields =
      std::tuple{&NvSetBitsIn::auth_handle, &NvSetBitsIn::nv_index, &NvSetBitsIn::bits};
};
Result<Empty> SetBits(Tpm& tpm, const NvSetBitsIn& in);
// Part 3 §31.11 TPM2_NV_WriteLock
Result<Empty> WriteLock(Tpm& tpm, const NvIndexIn& in);
// Part 3 §31.12 TPM2_NV_GlobalWriteLock
struct NvGlobalWriteLockIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhProvision auth_handle;
  static constexpr auto kFields = std::tuple{&NvGlobalWriteLockIn::auth_handle};
};
Result<Empty> GlobalWriteLock(Tpm& tpm, const NvGlobalWriteLockIn& in);
// Part 3 §31.13 TPM2_NV_Read
struct NvReadIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  uint16_t size = 0;
  uint16_t offset = 0;
  static constexpr auto kFields =
      std::tuple{&NvReadIn::auth_handle, &NvReadIn::nv_index, &NvReadIn::size, &NvReadIn::offset};
};
struct NvReadOut {
  wire::Tpm2bMaxNvBuffer data;
  static constexpr auto kFields = std::tuple{&NvReadOut::data};
};
Result<NvReadOut> Read(Tpm& tpm, const NvReadIn& in);
// Part 3 §31.14 TPM2_NV_ReadLock
Result<Empty> ReadLock(Tpm& tpm, const NvIndexIn& in);
// Part 3 §31.15 TPM2_NV_ChangeAuth
struct NvChangeAuthIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhNvIndex nv_index;
  wire::Tpm2bAuth new_auth;
  static constexpr auto kFields = std::tuple{&NvChangeAuthIn::nv_index, &NvChangeAuthIn::new_auth};
};
Result<Empty> ChangeAuth(Tpm& tpm, const NvChangeAuthIn& in);
}  // namespace nv

}  // namespace tpm2emu::engine
