#pragma once
// Typed parameters and handlers of the implemented commands, grouped by Part 3 family.
// In: handles first (kHandles), then parameters; Out: response handles first, then parameters.

#include <cstdint>
#include <tuple>

#include "engine/base/tpm_rc.h"
#include "engine/command.h"
#include "engine/state/object.h"
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

// Event sequences, shared with the H-CRTM Event Sequence (Part 1 §31): a new one with a digest
// per implemented hash; more data for any sequence; an event sequence's digests (it is finished).
Result<SequenceObject> StartEventSequence();
void UpdateSequence(SequenceObject& seq, ByteSpan data);
wire::TpmlDigestValues FinishEventSequence(SequenceObject& seq);
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
// Signs `digest` with `key` under `scheme` (TPM_RC_SCHEME at parameter scheme_param when the
// scheme does not fit the key).
Result<wire::TpmtSignature> SignDigest(const Object& key, const wire::TpmtScheme& scheme,
                                       ByteSpan digest, uint32_t scheme_param);
// Part 1 §44.3.3.3: the ECDAA half of a split signing operation over `digest` (P), using up the
// pending commit that scheme.count names.
Result<wire::TpmtSignature> EcdaaSignDigest(Tpm& tpm, const Object& key,
                                            const wire::TpmtScheme& scheme, ByteSpan digest,
                                            uint32_t scheme_param);
// The scheme a signing command uses: the key's own, or the caller's when the key has none.
Result<wire::TpmtScheme> SigningScheme(const Object& key, const wire::TpmtScheme& in,
                                       uint32_t scheme_param);
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
// Part 3 §14.7 TPM2_ZGen_2Phase
struct ZGen2PhaseIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject key_a;
  wire::Tpm2bEccPoint in_qs_b;
  wire::Tpm2bEccPoint in_qe_b;
  uint16_t in_scheme = 0;  // TPMI_ECC_KEY_EXCHANGE: checked by the handler (TPM_RC_SCHEME)
  uint16_t counter = 0;
  static constexpr auto kFields =
      std::tuple{&ZGen2PhaseIn::key_a, &ZGen2PhaseIn::in_qs_b, &ZGen2PhaseIn::in_qe_b,
                 &ZGen2PhaseIn::in_scheme, &ZGen2PhaseIn::counter};
};
struct ZGen2PhaseOut {
  wire::Tpm2bEccPoint out_z1;
  wire::Tpm2bEccPoint out_z2;
  static constexpr auto kFields = std::tuple{&ZGen2PhaseOut::out_z1, &ZGen2PhaseOut::out_z2};
};
Result<ZGen2PhaseOut> ZGen2Phase(Tpm& tpm, const ZGen2PhaseIn& in);
}  // namespace asym

// Part 3 §19 ephemeral EC keys and the commit mechanism of split operations (Part 1 §44.2).
namespace ephemeral {
// Part 1 §44.2.2: commit values are pseudo-random, r := KDFa(nameAlg, commitNonce,
// "ECDAA Commit", name, commitCount, bits(n)); commitArray has kCommitArrayBits bits, so at
// most kCommitArrayBits - 1 commits can be pending at once (TPM_PT_SPLIT_MAX).
inline constexpr uint32_t kCommitArrayBits = 64;
inline constexpr uint32_t kSplitMax = kCommitArrayBits - 1;
// Twice the security strength of the strongest curve (P-521).
inline constexpr size_t kCommitNonceSize = 64;
// The commit value r (mod n) for the full count `count`, for a key with `hash_alg` (its
// nameAlg) and Name `name`; TPM2_EC_Ephemeral uses the context hash and an empty name.
Result<SecretBytes> CommitValue(Tpm& tpm, uint16_t hash_alg, ByteSpan name, uint16_t curve,
                                uint64_t count);
// Records a finished first phase: marks commitCount pending, advances it and returns the old
// value's low 16 bits (the counter returned to the caller).
uint16_t RecordCommit(Tpm& tpm);
// Part 1 §44.2.5: the commit value of a pending `counter` (TPM_RC_RANGE outside the window of
// pending counters, TPM_RC_VALUE when already used; both at parameter `param`).
Result<SecretBytes> PendingCommitValue(Tpm& tpm, uint16_t hash_alg, ByteSpan name, uint16_t curve,
                                       uint16_t counter, uint32_t param);
// After the second phase succeeded: the counter cannot be used again.
void ReleaseCommit(Tpm& tpm, uint16_t counter);

// TPM2B_ECC_POINT as TPM2_Commit takes P1: an Empty Buffer is TPM_RC_INSUFFICIENT (Part 1
// §44.2.3); an Empty Point (two Empty Buffers) is allowed.
struct CommitPoint {
  wire::Tpm2bEccPoint point;
};
RcStatus Unmarshal(wire::Reader& r, CommitPoint& v);
// Part 3 §19.2 TPM2_Commit
struct CommitIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject sign_handle;
  CommitPoint p1;
  wire::Tpm2bSensitiveData s2;
  wire::Tpm2bBytes<wire::kMaxEccKeyBytes> y2;  // TPM2B_ECC_PARAMETER
  static constexpr auto kFields =
      std::tuple{&CommitIn::sign_handle, &CommitIn::p1, &CommitIn::s2, &CommitIn::y2};
};
struct CommitOut {
  wire::Tpm2bEccPoint k;
  wire::Tpm2bEccPoint l;
  wire::Tpm2bEccPoint e;
  uint16_t counter = 0;
  static constexpr auto kFields =
      std::tuple{&CommitOut::k, &CommitOut::l, &CommitOut::e, &CommitOut::counter};
};
Result<CommitOut> Commit(Tpm& tpm, const CommitIn& in);
// Part 3 §19.3 TPM2_EC_Ephemeral
struct EcEphemeralIn {
  uint16_t curve_id = 0;  // TPMI_ECC_CURVE: checked by the handler (TPM_RC_CURVE)
  static constexpr auto kFields = std::tuple{&EcEphemeralIn::curve_id};
};
struct EcEphemeralOut {
  wire::Tpm2bEccPoint q;
  uint16_t counter = 0;
  static constexpr auto kFields = std::tuple{&EcEphemeralOut::q, &EcEphemeralOut::counter};
};
Result<EcEphemeralOut> EcEphemeral(Tpm& tpm, const EcEphemeralIn& in);
}  // namespace ephemeral

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

namespace attest {
// Part 3 §18.4 TPM2_Quote
struct QuoteIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject sign_handle;
  wire::Tpm2bData qualifying_data;
  wire::TpmtSigScheme in_scheme;
  wire::TpmlPcrSelection pcr_select;
  static constexpr auto kFields = std::tuple{&QuoteIn::sign_handle, &QuoteIn::qualifying_data,
                                             &QuoteIn::in_scheme, &QuoteIn::pcr_select};
};
struct AttestOut {
  wire::Tpm2bBytes<1024> attest;  // TPM2B_ATTEST
  wire::TpmtSignature signature;
  static constexpr auto kFields = std::tuple{&AttestOut::attest, &AttestOut::signature};
};
Result<AttestOut> Quote(Tpm& tpm, const QuoteIn& in);
// Part 3 §18.2 TPM2_Certify
struct CertifyIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObject object_handle;
  uint32_t sign_handle = 0;  // TPMI_DH_OBJECT+
  wire::Tpm2bData qualifying_data;
  wire::TpmtSigScheme in_scheme;
  static constexpr auto kFields = std::tuple{&CertifyIn::object_handle, &CertifyIn::sign_handle,
                                             &CertifyIn::qualifying_data, &CertifyIn::in_scheme};
};
Result<AttestOut> Certify(Tpm& tpm, const CertifyIn& in);
// Part 3 §18.3 TPM2_CertifyCreation
struct CertifyCreationIn {
  static constexpr size_t kHandles = 2;
  uint32_t sign_handle = 0;  // TPMI_DH_OBJECT+
  wire::TpmiDhObject object_handle;
  wire::Tpm2bData qualifying_data;
  wire::Tpm2bDigest creation_hash;
  wire::TpmtSigScheme in_scheme;
  wire::TpmtTicket creation_ticket;
  static constexpr auto kFields =
      std::tuple{&CertifyCreationIn::sign_handle,     &CertifyCreationIn::object_handle,
                 &CertifyCreationIn::qualifying_data, &CertifyCreationIn::creation_hash,
                 &CertifyCreationIn::in_scheme,       &CertifyCreationIn::creation_ticket};
};
Result<AttestOut> CertifyCreation(Tpm& tpm, const CertifyCreationIn& in);
// Part 3 §18.7 TPM2_GetTime
struct GetTimeIn {
  static constexpr size_t kHandles = 2;
  uint32_t privacy_admin_handle = 0;  // TPMI_RH_ENDORSEMENT
  uint32_t sign_handle = 0;           // TPMI_DH_OBJECT+
  wire::Tpm2bData qualifying_data;
  wire::TpmtSigScheme in_scheme;
  static constexpr auto kFields = std::tuple{&GetTimeIn::privacy_admin_handle,
                                             &GetTimeIn::sign_handle, &GetTimeIn::qualifying_data,
                                             &GetTimeIn::in_scheme};
};
Result<AttestOut> GetTime(Tpm& tpm, const GetTimeIn& in);
// Part 3 §18.5 TPM2_GetSessionAuditDigest
struct GetSessionAuditDigestIn {
  static constexpr size_t kHandles = 3;
  uint32_t privacy_admin_handle = 0;  // TPMI_RH_ENDORSEMENT
  uint32_t sign_handle = 0;           // TPMI_DH_OBJECT+
  uint32_t session_handle = 0;        // TPMI_SH_HMAC
  wire::Tpm2bData qualifying_data;
  wire::TpmtSigScheme in_scheme;
  static constexpr auto kFields =
      std::tuple{&GetSessionAuditDigestIn::privacy_admin_handle,
                 &GetSessionAuditDigestIn::sign_handle, &GetSessionAuditDigestIn::session_handle,
                 &GetSessionAuditDigestIn::qualifying_data, &GetSessionAuditDigestIn::in_scheme};
};
Result<AttestOut> GetSessionAuditDigest(Tpm& tpm, const GetSessionAuditDigestIn& in);
// Part 3 §18.6 TPM2_GetCommandAuditDigest: the same parameters as TPM2_GetTime.
Result<AttestOut> GetCommandAuditDigest(Tpm& tpm, const GetTimeIn& in);
// Part 3 §21.2 TPM2_SetCommandCodeAuditStatus
struct SetCommandCodeAuditStatusIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiRhProvision auth;
  wire::TpmiAlgHashOrNull audit_alg;
  wire::TpmlCc set_list;
  wire::TpmlCc clear_list;
  static constexpr auto kFields =
      std::tuple{&SetCommandCodeAuditStatusIn::auth, &SetCommandCodeAuditStatusIn::audit_alg,
                 &SetCommandCodeAuditStatusIn::set_list, &SetCommandCodeAuditStatusIn::clear_list};
};
Result<Empty> SetCommandCodeAuditStatus(Tpm& tpm, const SetCommandCodeAuditStatusIn& in);
// Part 3 §18.8 TPM2_CertifyX509
struct CertifyX509In {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObject object_handle;
  wire::TpmiDhObject sign_handle;
  wire::Tpm2bData reserved;
  wire::TpmtSigScheme in_scheme;
  wire::Tpm2bMaxBuffer partial_certificate;
  static constexpr auto kFields =
      std::tuple{&CertifyX509In::object_handle, &CertifyX509In::sign_handle,
                 &CertifyX509In::reserved, &CertifyX509In::in_scheme,
                 &CertifyX509In::partial_certificate};
};
struct CertifyX509Out {
  wire::Tpm2bMaxBuffer added_to_certificate;
  wire::Tpm2bDigest tbs_digest;
  wire::TpmtSignature signature;
  static constexpr auto kFields = std::tuple{&CertifyX509Out::added_to_certificate,
                                             &CertifyX509Out::tbs_digest,
                                             &CertifyX509Out::signature};
};
Result<CertifyX509Out> CertifyX509(Tpm& tpm, const CertifyX509In& in);
// Part 3 §31.16 TPM2_NV_Certify
struct NvCertifyIn {
  static constexpr size_t kHandles = 3;
  uint32_t sign_handle = 0;  // TPMI_DH_OBJECT+
  uint32_t auth_handle = 0;  // TPMI_RH_NV_AUTH
  uint32_t nv_index = 0;     // TPMI_RH_NV_INDEX
  wire::Tpm2bData qualifying_data;
  wire::TpmtSigScheme in_scheme;
  uint16_t size = 0;
  uint16_t offset = 0;
  static constexpr auto kFields =
      std::tuple{&NvCertifyIn::sign_handle,     &NvCertifyIn::auth_handle,
                 &NvCertifyIn::nv_index,        &NvCertifyIn::qualifying_data,
                 &NvCertifyIn::in_scheme,       &NvCertifyIn::size,
                 &NvCertifyIn::offset};
};
Result<AttestOut> NvCertify(Tpm& tpm, const NvCertifyIn& in);
// Part 3 §12.6 TPM2_MakeCredential
struct MakeCredentialIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject handle;
  wire::Tpm2bDigest credential;
  wire::Tpm2bName object_name;
  static constexpr auto kFields = std::tuple{&MakeCredentialIn::handle,
                                             &MakeCredentialIn::credential,
                                             &MakeCredentialIn::object_name};
};
struct MakeCredentialOut {
  wire::Tpm2bBytes<2 + 64 + 2 + 64> credential_blob;  // TPM2B_ID_OBJECT
  wire::Tpm2bEncryptedSecret secret;
  static constexpr auto kFields =
      std::tuple{&MakeCredentialOut::credential_blob, &MakeCredentialOut::secret};
};
Result<MakeCredentialOut> MakeCredential(Tpm& tpm, const MakeCredentialIn& in);
// Part 3 §12.5 TPM2_ActivateCredential
struct ActivateCredentialIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObject activate_handle;
  wire::TpmiDhObject key_handle;
  wire::Tpm2bBytes<2 + 64 + 2 + 64> credential_blob;
  wire::Tpm2bEncryptedSecret secret;
  static constexpr auto kFields =
      std::tuple{&ActivateCredentialIn::activate_handle, &ActivateCredentialIn::key_handle,
                 &ActivateCredentialIn::credential_blob, &ActivateCredentialIn::secret};
};
struct ActivateCredentialOut {
  wire::Tpm2bDigest cert_info;
  static constexpr auto kFields = std::tuple{&ActivateCredentialOut::cert_info};
};
Result<ActivateCredentialOut> ActivateCredential(Tpm& tpm, const ActivateCredentialIn& in);
}  // namespace attest

namespace duplication {
struct SymDefObjectParam {
  wire::TpmtSymDefObject value;
};
RcStatus Unmarshal(wire::Reader& r, SymDefObjectParam& v);
// Part 3 §13.1 TPM2_Duplicate
struct DuplicateIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObject object_handle;
  uint32_t new_parent_handle = 0;  // TPMI_DH_OBJECT+
  wire::Tpm2bData encryption_key_in;
  SymDefObjectParam symmetric_alg;
  static constexpr auto kFields =
      std::tuple{&DuplicateIn::object_handle, &DuplicateIn::new_parent_handle,
                 &DuplicateIn::encryption_key_in, &DuplicateIn::symmetric_alg};
};
struct DuplicateOut {
  wire::Tpm2bData encryption_key_out;
  wire::Tpm2bPrivate duplicate;
  wire::Tpm2bEncryptedSecret out_sym_seed;
  static constexpr auto kFields = std::tuple{&DuplicateOut::encryption_key_out,
                                             &DuplicateOut::duplicate, &DuplicateOut::out_sym_seed};
};
Result<DuplicateOut> Duplicate(Tpm& tpm, const DuplicateIn& in);
// Part 3 §13.2 TPM2_Rewrap
struct RewrapIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObjectOrNull old_parent;
  wire::TpmiDhObjectOrNull new_parent;
  wire::Tpm2bPrivate in_duplicate;
  wire::Tpm2bName name;
  wire::Tpm2bEncryptedSecret in_sym_seed;
  static constexpr auto kFields = std::tuple{&RewrapIn::old_parent, &RewrapIn::new_parent,
                                             &RewrapIn::in_duplicate, &RewrapIn::name,
                                             &RewrapIn::in_sym_seed};
};
struct RewrapOut {
  wire::Tpm2bPrivate out_duplicate;
  wire::Tpm2bEncryptedSecret out_sym_seed;
  static constexpr auto kFields = std::tuple{&RewrapOut::out_duplicate, &RewrapOut::out_sym_seed};
};
Result<RewrapOut> Rewrap(Tpm& tpm, const RewrapIn& in);
// Part 3 §13.3 TPM2_Import
struct ImportIn {
  static constexpr size_t kHandles = 1;
  wire::TpmiDhObject parent_handle;
  wire::Tpm2bData encryption_key;
  wire::Tpm2bPublic object_public;
  wire::Tpm2bPrivate duplicate;
  wire::Tpm2bEncryptedSecret in_sym_seed;
  SymDefObjectParam symmetric_alg;
  static constexpr auto kFields =
      std::tuple{&ImportIn::parent_handle, &ImportIn::encryption_key, &ImportIn::object_public,
                 &ImportIn::duplicate, &ImportIn::in_sym_seed, &ImportIn::symmetric_alg};
};
struct ImportOut {
  wire::Tpm2bPrivate out_private;
  static constexpr auto kFields = std::tuple{&ImportOut::out_private};
};
Result<ImportOut> Import(Tpm& tpm, const ImportIn& in);
}  // namespace duplication

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

struct Session;
namespace policy {
// Part 2 §9.10 TPMI_SH_POLICY: a policy (or trial) session handle.
struct PolicySessionDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    return static_cast<uint8_t>(v >> 24) == TpmHt::PolicySession ? std::nullopt
                                                                 : std::optional<TpmRc>(Rc::Value);
  }
};
using TpmiShPolicy = wire::Checked<uint32_t, PolicySessionDomain>;
// Part 2 §9.6 TPMI_DH_ENTITY: TPMI_DH_ENTITY+ without TPM_RH_NULL.
struct EntityDomain {
  static constexpr std::optional<TpmRc> Check(uint32_t v) {
    return v == TpmRh::Null ? std::optional<TpmRc>(Rc::Value) : wire::EntityOrNullDomain::Check(v);
  }
};
using TpmiDhEntity = wire::Checked<uint32_t, EntityDomain>;
// Part 2 §9.2 TPMI_YES_NO
struct YesNoDomain {
  static constexpr std::optional<TpmRc> Check(uint8_t v) {
    return v <= 1 ? std::nullopt : std::optional<TpmRc>(Rc::Value);
  }
};
using TpmiYesNo = wire::Checked<uint8_t, YesNoDomain>;
// Part 2 §6.8 TPM_EO
namespace TpmEo {
inline constexpr uint16_t Eq = 0x0000;
inline constexpr uint16_t Neq = 0x0001;
inline constexpr uint16_t SignedGt = 0x0002;
inline constexpr uint16_t UnsignedGt = 0x0003;
inline constexpr uint16_t SignedLt = 0x0004;
inline constexpr uint16_t UnsignedLt = 0x0005;
inline constexpr uint16_t SignedGe = 0x0006;
inline constexpr uint16_t UnsignedGe = 0x0007;
inline constexpr uint16_t SignedLe = 0x0008;
inline constexpr uint16_t UnsignedLe = 0x0009;
inline constexpr uint16_t Bitset = 0x000A;
inline constexpr uint16_t Bitclear = 0x000B;
}  // namespace TpmEo
struct EoDomain {
  static constexpr std::optional<TpmRc> Check(uint16_t v) {
    return v <= TpmEo::Bitclear ? std::nullopt : std::optional<TpmRc>(Rc::Value);
  }
};
using Operation = wire::Checked<uint16_t, EoDomain>;
// Part 2 §10.3.6 TPM2B_OPERAND (sizeof(TPMU_HA)) and §10.3.10 TPM2B_TIMEOUT (sizeof(UINT64)).
using Tpm2bOperand = wire::Tpm2bBytes<wire::kMaxDigestSize>;
using Tpm2bTimeout = wire::Tpm2bBytes<8>;
// Part 2 §10.6.6 TPMT_TK_AUTH and §10.6.5 TPMT_TK_VERIFIED: tickets whose tag is checked
// (TPM_RC_TAG) when they are command parameters.
struct AuthTagDomain {
  static constexpr std::optional<TpmRc> Check(uint16_t v) {
    return v == TpmSt::AuthSigned || v == TpmSt::AuthSecret ? std::nullopt
                                                            : std::optional<TpmRc>(Rc::Tag);
  }
};
struct VerifiedTagDomain {
  static constexpr std::optional<TpmRc> Check(uint16_t v) {
    return v == TpmSt::Verified ? std::nullopt : std::optional<TpmRc>(Rc::Tag);
  }
};
template <class TagDomain>
struct CheckedTicket {
  wire::Checked<uint16_t, TagDomain> tag;
  wire::TpmiRhHierarchyOrNull hierarchy;
  wire::Tpm2bDigest digest;
  static constexpr auto kFields =
      std::tuple{&CheckedTicket::tag, &CheckedTicket::hierarchy, &CheckedTicket::digest};
};
using TpmtTkAuth = CheckedTicket<AuthTagDomain>;
using TpmtTkVerified = CheckedTicket<VerifiedTagDomain>;

// The handle of the commands that take only a policy session: TPM2_PolicyRestart (§11.2),
// TPM2_PolicyPhysicalPresence (§23.12), TPM2_PolicyAuthValue (§23.17), TPM2_PolicyPassword
// (§23.18) and TPM2_PolicyGetDigest (§23.19).
struct SessionIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  static constexpr auto kFields = std::tuple{&SessionIn::policy_session};
};
// Part 3 §11.2 TPM2_PolicyRestart
Result<Empty> PolicyRestart(Tpm& tpm, const SessionIn& in);
// Part 3 §23.3 TPM2_PolicySigned
struct PolicySignedIn {
  static constexpr size_t kHandles = 2;
  wire::TpmiDhObject auth_object;
  TpmiShPolicy policy_session;
  wire::Tpm2bNonce nonce_tpm;
  wire::Tpm2bDigest cp_hash_a;
  wire::Tpm2bNonce policy_ref;
  uint32_t expiration = 0;  // INT32
  wire::TpmtSignature auth;
  static constexpr auto kFields = std::tuple{
      &PolicySignedIn::auth_object, &PolicySignedIn::policy_session, &PolicySignedIn::nonce_tpm,
      &PolicySignedIn::cp_hash_a,   &PolicySignedIn::policy_ref,     &PolicySignedIn::expiration,
      &PolicySignedIn::auth};
};
struct PolicyAuthOut {
  Tpm2bTimeout timeout;
  wire::TpmtTicket policy_ticket;
  static constexpr auto kFields =
      std::tuple{&PolicyAuthOut::timeout, &PolicyAuthOut::policy_ticket};
};
Result<PolicyAuthOut> PolicySigned(Tpm& tpm, const PolicySignedIn& in);
// Part 3 §23.4 TPM2_PolicySecret; the dispatcher has authorized authHandle.
struct PolicySecretIn {
  static constexpr size_t kHandles = 2;
  TpmiDhEntity auth_handle;
  TpmiShPolicy policy_session;
  wire::Tpm2bNonce nonce_tpm;
  wire::Tpm2bDigest cp_hash_a;
  wire::Tpm2bNonce policy_ref;
  uint32_t expiration = 0;  // INT32
  static constexpr auto kFields = std::tuple{
      &PolicySecretIn::auth_handle, &PolicySecretIn::policy_session, &PolicySecretIn::nonce_tpm,
      &PolicySecretIn::cp_hash_a,   &PolicySecretIn::policy_ref,     &PolicySecretIn::expiration};
};
Result<PolicyAuthOut> PolicySecret(Tpm& tpm, const PolicySecretIn& in);
// Part 3 §23.5 TPM2_PolicyTicket
struct PolicyTicketIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  Tpm2bTimeout timeout;
  wire::Tpm2bDigest cp_hash_a;
  wire::Tpm2bNonce policy_ref;
  wire::Tpm2bName auth_name;
  TpmtTkAuth ticket;
  static constexpr auto kFields = std::tuple{
      &PolicyTicketIn::policy_session, &PolicyTicketIn::timeout,   &PolicyTicketIn::cp_hash_a,
      &PolicyTicketIn::policy_ref,     &PolicyTicketIn::auth_name, &PolicyTicketIn::ticket};
};
Result<Empty> PolicyTicket(Tpm& tpm, const PolicyTicketIn& in);
// Part 3 §23.6 TPM2_PolicyOR
struct PolicyOrIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  wire::TpmlDigest p_hash_list;
  static constexpr auto kFields = std::tuple{&PolicyOrIn::policy_session, &PolicyOrIn::p_hash_list};
};
Result<Empty> PolicyOr(Tpm& tpm, const PolicyOrIn& in);
// Part 3 §23.7 TPM2_PolicyPCR
struct PolicyPcrIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  wire::Tpm2bDigest pcr_digest;
  wire::TpmlPcrSelection pcrs;
  static constexpr auto kFields =
      std::tuple{&PolicyPcrIn::policy_session, &PolicyPcrIn::pcr_digest, &PolicyPcrIn::pcrs};
};
Result<Empty> PolicyPcr(Tpm& tpm, const PolicyPcrIn& in);
// Part 3 §23.8 TPM2_PolicyLocality
struct PolicyLocalityIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  uint8_t locality = 0;  // TPMA_LOCALITY
  static constexpr auto kFields =
      std::tuple{&PolicyLocalityIn::policy_session, &PolicyLocalityIn::locality};
};
Result<Empty> PolicyLocality(Tpm& tpm, const PolicyLocalityIn& in);
// Part 3 §23.9 TPM2_PolicyNV
struct PolicyNvIn {
  static constexpr size_t kHandles = 3;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  TpmiShPolicy policy_session;
  Tpm2bOperand operand_b;
  uint16_t offset = 0;
  Operation operation;
  static constexpr auto kFields =
      std::tuple{&PolicyNvIn::auth_handle, &PolicyNvIn::nv_index, &PolicyNvIn::policy_session,
                 &PolicyNvIn::operand_b,   &PolicyNvIn::offset,   &PolicyNvIn::operation};
};
Result<Empty> PolicyNv(Tpm& tpm, const PolicyNvIn& in);
// Part 3 §23.10 TPM2_PolicyCounterTimer
struct PolicyCounterTimerIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  Tpm2bOperand operand_b;
  uint16_t offset = 0;
  Operation operation;
  static constexpr auto kFields =
      std::tuple{&PolicyCounterTimerIn::policy_session, &PolicyCounterTimerIn::operand_b,
                 &PolicyCounterTimerIn::offset, &PolicyCounterTimerIn::operation};
};
Result<Empty> PolicyCounterTimer(Tpm& tpm, const PolicyCounterTimerIn& in);
// Part 3 §23.11 TPM2_PolicyCommandCode
struct PolicyCommandCodeIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  uint32_t code = 0;
  static constexpr auto kFields =
      std::tuple{&PolicyCommandCodeIn::policy_session, &PolicyCommandCodeIn::code};
};
Result<Empty> PolicyCommandCode(Tpm& tpm, const PolicyCommandCodeIn& in);
// Part 3 §23.12 TPM2_PolicyPhysicalPresence
Result<Empty> PolicyPhysicalPresence(Tpm& tpm, const SessionIn& in);
// A policy session and one digest: TPM2_PolicyCpHash (§23.13), TPM2_PolicyNameHash (§23.14)
// and TPM2_PolicyTemplate (§23.21).
struct PolicyDigestIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  wire::Tpm2bDigest digest;
  static constexpr auto kFields =
      std::tuple{&PolicyDigestIn::policy_session, &PolicyDigestIn::digest};
};
Result<Empty> PolicyCpHash(Tpm& tpm, const PolicyDigestIn& in);
Result<Empty> PolicyNameHash(Tpm& tpm, const PolicyDigestIn& in);
// Part 3 §23.15 TPM2_PolicyDuplicationSelect
struct PolicyDuplicationSelectIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  wire::Tpm2bName object_name;
  wire::Tpm2bName new_parent_name;
  TpmiYesNo include_object;
  static constexpr auto kFields = std::tuple{
      &PolicyDuplicationSelectIn::policy_session, &PolicyDuplicationSelectIn::object_name,
      &PolicyDuplicationSelectIn::new_parent_name, &PolicyDuplicationSelectIn::include_object};
};
Result<Empty> PolicyDuplicationSelect(Tpm& tpm, const PolicyDuplicationSelectIn& in);
// Part 3 §23.16 TPM2_PolicyAuthorize
struct PolicyAuthorizeIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  wire::Tpm2bDigest approved_policy;
  wire::Tpm2bNonce policy_ref;
  wire::Tpm2bName key_sign;
  TpmtTkVerified check_ticket;
  static constexpr auto kFields =
      std::tuple{&PolicyAuthorizeIn::policy_session, &PolicyAuthorizeIn::approved_policy,
                 &PolicyAuthorizeIn::policy_ref, &PolicyAuthorizeIn::key_sign,
                 &PolicyAuthorizeIn::check_ticket};
};
Result<Empty> PolicyAuthorize(Tpm& tpm, const PolicyAuthorizeIn& in);
// Part 3 §23.17 TPM2_PolicyAuthValue and §23.18 TPM2_PolicyPassword
Result<Empty> PolicyAuthValue(Tpm& tpm, const SessionIn& in);
Result<Empty> PolicyPassword(Tpm& tpm, const SessionIn& in);
// Part 3 §23.19 TPM2_PolicyGetDigest
struct PolicyGetDigestOut {
  wire::Tpm2bDigest policy_digest;
  static constexpr auto kFields = std::tuple{&PolicyGetDigestOut::policy_digest};
};
Result<PolicyGetDigestOut> PolicyGetDigest(Tpm& tpm, const SessionIn& in);
// Part 3 §23.20 TPM2_PolicyNvWritten
struct PolicyNvWrittenIn {
  static constexpr size_t kHandles = 1;
  TpmiShPolicy policy_session;
  TpmiYesNo written_set;
  static constexpr auto kFields =
      std::tuple{&PolicyNvWrittenIn::policy_session, &PolicyNvWrittenIn::written_set};
};
Result<Empty> PolicyNvWritten(Tpm& tpm, const PolicyNvWrittenIn& in);
// Part 3 §23.21 TPM2_PolicyTemplate
Result<Empty> PolicyTemplate(Tpm& tpm, const PolicyDigestIn& in);
// Part 3 §23.22 TPM2_PolicyAuthorizeNV
struct PolicyAuthorizeNvIn {
  static constexpr size_t kHandles = 3;
  wire::TpmiRhNvAuth auth_handle;
  wire::TpmiRhNvIndex nv_index;
  TpmiShPolicy policy_session;
  static constexpr auto kFields =
      std::tuple{&PolicyAuthorizeNvIn::auth_handle, &PolicyAuthorizeNvIn::nv_index,
                 &PolicyAuthorizeNvIn::policy_session};
};
Result<Empty> PolicyAuthorizeNv(Tpm& tpm, const PolicyAuthorizeNvIn& in);

// --- Hooks for the dispatcher ---------------------------------------------------------------

// Part 3 §5.6 items 6 and 8 (and the deferred assertions of Part 1 §16.7.8): whether the policy
// session `session` (session number `session_number`) may authorize `entity` in `role` for the
// command being executed (tpm.command_code(), at tpm.locality()). `cp_data` is commandCode ||
// Names of the handles || parameters as received; the Names end at `names_end`. Errors, in this
// order: TPM_RC_EXPIRED, TPM_RC_POLICY_FAIL (cpHash, nameHash or template), TPM_RC_POLICY_CC,
// TPM_RC_POLICY_FAIL (policyDigest, ADMIN/DUP role without TPM2_PolicyCommandCode,
// TPMA_NV_WRITTEN), TPM_RC_PCR_CHANGED, TPM_RC_LOCALITY, TPM_RC_PP, TPM_RC_MODE (PolicySecret
// authorized by a policy that needs no authValue); each format-one code with +S<n>.
RcStatus CheckAtUse(Tpm& tpm, const Session& session, uint32_t entity, Role role,
                    uint32_t session_number, ByteSpan cp_data, size_t names_end);
// Part 1 §16.7.1: after a policy session authorized a command, its context starts over (the
// new nonceTPM's time becomes its startTime). `authorized` is false for a policy session that
// was only used for encryption or audit: only its startTime follows the new nonceTPM.
void AfterUse(Tpm& tpm, Session& session, bool authorized);
}  // namespace policy

}  // namespace tpm2emu::engine
