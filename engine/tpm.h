#pragma once
// class Tpm: one TPM's whole state and the command engine. No globals: two Tpms in one process
// never see each other. Single-threaded; callers serialise.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "crypto/drbg.h"
#include "crypto/hash.h"
#include "engine/base/bytes.h"
#include "engine/base/tpm_rc.h"
#include "engine/host.h"
#include "engine/state/nv.h"
#include "engine/state/object.h"
#include "engine/state/session.h"
#include "engine/tpm_api.h"
#include "engine/wire/types.h"
#include "nvstore/store.h"

namespace tpm2emu::engine {

inline constexpr size_t kPcrCount = wire::kImplementationPcr;
inline constexpr size_t kSeedSize = 64;
inline constexpr size_t kProofSize = 32;
inline constexpr uint16_t kContextHashAlg = TpmAlg::Sha256;  // TPM_PT_CONTEXT_HASH
inline constexpr size_t kMaxLoadedObjects = 16;                // TPM_PT_HR_TRANSIENT_MIN
inline constexpr size_t kMaxLoadedSessions = 16;               // TPM_PT_HR_LOADED_MIN
inline constexpr size_t kMaxActiveSessions = 64;               // TPM_PT_ACTIVE_SESSIONS_MAX
// TPM_PT_MAX_OBJECT_CONTEXT / _SESSION_CONTEXT: the largest context blob (an RSA-4096 key with
// its public area, one prime and the protection overhead; a session context is small).
inline constexpr uint32_t kMaxObjectContext = 2048;
inline constexpr uint32_t kMaxSessionContext = 128;
inline constexpr size_t kMaxPersistentObjects = 64;            // TPM_PT_HR_PERSISTENT_MIN
// How TPM2_Startup initialised PCR[0] (Part 1 §31.3): the Startup's locality (0 or 3), or
// kStartupHcrtm after an H-CRTM Event Sequence; kStartupUnknown in state kept from before this
// was recorded.
inline constexpr uint8_t kStartupHcrtm = 4;
inline constexpr uint8_t kStartupUnknown = 0xFF;

// State that survives everything but TPM2_Clear or a change of seed (kept in the store).
struct PersistentState {
  SecretBytes eps, sps, pps;                    // primary seeds
  SecretBytes eh_proof, sh_proof, ph_proof;     // hierarchy proofs
  SecretBytes owner_auth, endorsement_auth, lockout_auth;
  wire::TpmtHa owner_policy, endorsement_policy, lockout_policy;
  uint64_t clock_ms = 0;          // last persisted value of Clock
  uint32_t reset_count = 0;
  uint32_t restart_count = 0;
  bool orderly = true;            // the last shutdown was orderly (TPM2_Shutdown before power loss)
  uint16_t shutdown_type = 0xFFFF;  // TPM_SU of the last Shutdown, or none
  std::vector<wire::TpmsPcrSelection> pcr_allocation;  // active banks
  std::vector<wire::TpmsPcrSelection> pending_allocation;  // takes effect at the next reset
  // Shutdown(STATE): PCR values kept for Startup(STATE), per bank in pcr_allocation order.
  std::vector<std::vector<Bytes>> saved_pcrs;
  uint32_t saved_pcr_update_counter = 0;
  int8_t clock_adjust = 0;
  bool disable_clear = false;  // TPM2_ClearControl
  // Persistent objects (TPM2_EvictControl), each its own record "obj/<handle in hex>".
  std::map<uint32_t, Object> objects;
  // Dictionary-attack protection (Part 1 §16.8): failures counted against maxTries, one
  // forgiven every recoveryTime seconds; lockoutAuth itself locks for lockoutRecovery seconds.
  uint32_t failed_tries = 0;
  uint32_t max_tries = 3;
  uint32_t recovery_time_s = 1000;
  uint32_t lockout_recovery_s = 1000;
  // Both in Time (time_ms), re-based at every TPM2_Startup. ~0: until the next Startup.
  uint64_t lockout_auth_locked_until_ms = 0;  // 0 = not locked
  uint64_t last_recovery_ms = 0;              // Time of the last forgiven failure
  // Command audit (Part 1 §32): the audited commands (TPM2_SetCommandCodeAuditStatus always
  // among them), the audit hash, the count of audit logs started, and the audit digest
  // register (empty while no log is open).
  uint16_t audit_alg = TpmAlg::Sha256;
  std::set<uint32_t> audit_commands = {TpmCc::SetCommandCodeAuditStatus};
  uint64_t audit_counter = 0;
  Bytes audit_digest;
  // PC Client TPM_ACCESS.tpmEstablishment: set by _TPM_Hash_Start, cleared only by
  // ResetEstablished(); it tells a later boot that a D-RTM ran, so it survives power cycles.
  bool tpm_established = false;
  // StartupMethod() of the last TPM2_Startup; TPM Resume must use the same one (Part 3 §9.3.1).
  uint8_t startup_method = kStartupUnknown;
};

// Volatile state cleared by a TPM Reset (Startup(CLEAR) without a saved state).
struct ResetState {
  SecretBytes null_proof;
  SecretBytes null_seed;
  uint32_t pcr_update_counter = 0;
  // Split operations (Part 1 §44.2.2, §34.4.4): commitNonce, commitCounter and commitArray (bit
  // i set: the commit whose count has low bits i is pending).
  SecretBytes commit_nonce;
  uint64_t commit_count = 0;
  uint64_t commit_array = 0;
  std::map<uint32_t, Object> objects;  // transient handle -> object
  uint32_t next_transient = 0x80000000;
  std::map<uint32_t, Session> sessions;        // session handle -> session
  uint64_t context_counter = 0;                // TPMS_CONTEXT.sequence of the next save
  uint32_t exclusive_audit_session = 0;        // Part 1 §17.2; 0: none
};

// Volatile state cleared by a TPM Reset or Restart.
struct ClearState {
  SecretBytes platform_auth;
  wire::TpmtHa platform_policy;
  bool ph_enable = true, sh_enable = true, eh_enable = true, ph_enable_nv = true;
  bool orderly_startup = false;  // TPMA_STARTUP_CLEAR.orderly: Shutdown preceded this Startup
};

// The H-CRTM Event Sequence (Part 1 §31; Part 3 §22.9-§22.11): the one in progress, between
// _TPM_Hash_Start and _TPM_Hash_End (an event sequence with one digest per implemented hash),
// and the digests of one completed before TPM2_Startup, which that Startup puts in PCR[0].
// Volatile: _TPM_Init ends both.
struct HcrtmState {
  std::optional<SequenceObject> sequence;
  std::optional<wire::TpmlDigestValues> pre_startup;
};

// One entry of a command's authorization area (Part 2 §10.13.2 TPMS_AUTH_COMMAND), with the
// session it names (nullptr for a password).
struct AuthSession {
  uint32_t handle = 0;
  wire::Tpm2bNonce nonce;
  uint8_t attributes = 0;
  wire::Tpm2bAuth hmac;
  Session* session = nullptr;
};

// How a command uses its sessions: which decrypts and encrypts (index into the area).
struct SessionUse {
  std::optional<size_t> decrypt;
  std::optional<size_t> encrypt;
  std::optional<size_t> audit;
  size_t auth_handles = 0;
};

struct CommandDef;
enum class Role : uint8_t;

class Tpm final : public TpmInstance {
 public:
  Tpm(nvstore::Store& store, Clock& clock, EntropySource& entropy, const Profile& profile);
  // Loads or creates the persistent state.
  Status Load();

  Bytes Execute(std::span<const uint8_t> command, uint8_t locality) noexcept override;
  void PowerOn() override;
  void PowerOff() override;
  void Reset() override;
  bool IsPoweredOn() const override { return powered_; }
  void SetNvAvailable(bool on) override { nv_available_ = on; }
  void SetPhysicalPresence(bool on) override { physical_presence_ = on; }
  void SetCancel(bool on) override { cancel_ = on; }
  bool TpmEstablished() const override { return persistent_.tpm_established; }
  Status ResetEstablished() override;
  Status HashStart() override;
  void HashData(std::span<const uint8_t> data) override;
  Status HashEnd() override;
  Status Flush() override;
  StatusOr<Bytes> SaveVolatile() override;
  Status RestoreVolatile(std::span<const uint8_t> blob) override;

  // --- Used by command handlers --------------------------------------------------------------
  PersistentState& persistent() { return persistent_; }
  NvState& nv() { return nv_; }
  ResetState& reset_state() { return reset_; }
  ClearState& clear_state() { return clear_; }
  const Profile& profile() const { return profile_; }
  bool started() const { return started_; }
  void set_started(bool v) { started_ = v; }
  uint8_t locality() const { return locality_; }
  // The command code of the command being executed (set by the dispatcher before the
  // authorization checks, which depend on it for NV indices).
  uint32_t command_code() const { return command_code_; }
  bool physical_presence() const { return physical_presence_; }
  crypto::Drbg& drbg() { return *drbg_; }
  void Random(std::span<uint8_t> out) { drbg_->Generate(out); }
  // Random() as a callable, for code that takes a RandomFn.
  auto RandomSource() {
    return [this](std::span<uint8_t> out) { Random(out); };
  }
  SecretBytes RandomSecret(size_t n);

  // PCR banks: values_[bank][pcr], banks in persistent_.pcr_allocation order.
  std::vector<std::vector<Bytes>>& pcr_values() { return pcr_values_; }
  // The bank index for a hash algorithm if allocated, with at least one PCR selected.
  std::optional<size_t> BankIndex(uint16_t hash_alg) const;
  bool IsPcrAllocated(size_t bank, size_t pcr) const;
  // TPM2_Startup's PCR initialisation: the saved values (TPM Resume) or the initial ones, with
  // PCR[0] as StartupMethod() says.
  void InitPcrs(bool restore_saved);
  HcrtmState& hcrtm() { return hcrtm_; }
  // How the Startup being executed initialises PCR[0]: kStartupHcrtm after a completed H-CRTM
  // Event Sequence, else its locality (3, or 0 for any other).
  uint8_t StartupMethod() const;

  // Clock (Part 1 §36): clock_ms() advances while powered; time_ms() restarts at _TPM_Init.
  uint64_t clock_ms();
  uint64_t time_ms();
  bool clock_safe() const { return clock_safe_; }
  void SetClockSafe(bool safe) { clock_safe_ = safe; }
  void SetClockRate(int8_t per_mille);
  // Brings the NV copy of Clock up to date (committed with the command's other changes).
  RcStatus SaveClockToNv();
  // TPM2_StirRandom: fresh host entropy plus the caller's data reseed the DRBG.
  void StirEntropy(ByteSpan additional);
  void SetClock(uint64_t new_clock_ms);
  wire::TpmsClockInfo ClockInfo();

  // Hierarchy helpers.
  bool IsHierarchyEnabled(uint32_t handle) const;
  const SecretBytes* HierarchyProof(uint32_t hierarchy) const;
  SecretBytes* AuthValueFor(uint32_t handle);

  // Part 2 §10.6.1 tickets: HMAC(proof, tag || data...) with the context hash.
  Bytes Ticket(uint32_t hierarchy, uint16_t tag, ByteSpan data);

  uint32_t AllocateTransientHandle();
  // A loaded transient or persistent object (TPM_RC_REFERENCE_Hn for a missing transient,
  // TPM_RC_HANDLE+Hn for a missing persistent object; handle_number is 1-based).
  Result<Object*> FindObject(uint32_t handle, uint32_t handle_number);
  // The transient or persistent object with this handle, or null.
  Object* LookupObject(uint32_t handle);
  const Object* LookupObject(uint32_t handle) const;
  // Loads an object into a free slot (TPM_RC_OBJECT_MEMORY when full).
  Result<uint32_t> InsertObject(Object obj);
  // Whether DA-protected authorizations are refused now (after forgiving elapsed failures).
  bool InLockout();
  // Part 1 §16.8: the DA timeouts count Time, which restarts at _TPM_Init, so TPM2_Startup
  // restarts the self-healing and lockoutRecovery intervals (a lockoutAuth lockout with
  // lockoutRecovery 0 ends here).
  void RestartDaTimers();
  // Whether authorization i (0-based) of the command being executed was a policy session that
  // succeeded (TPM2_DictionaryAttackLockReset with lockoutPolicy ends the lockoutAuth lockout).
  bool AuthorizedByPolicy(size_t i) const {
    return i < policy_authorized_.size() && policy_authorized_[i];
  }
  // The primary seed of a hierarchy (the null seed for TPM_RH_NULL), or null.
  const SecretBytes* HierarchySeed(uint32_t hierarchy) const;
  // Secret sharing (Part 1 §8.4.5.2): recovers a seed encrypted to the loaded key `key_handle`
  // (RSA-OAEP with `label`, or ECDH + KDFe with `label`): "SECRET" for session salts,
  // "IDENTITY" for credentials, "DUPLICATE" for imports. Errors carry `param`.
  Result<SecretBytes> DecryptSecret(uint32_t key_handle, std::string_view label,
                                    ByteSpan encrypted, uint32_t param);
  // The other direction: a fresh seed and its encryption to `key` (TPM2_MakeCredential).
  Result<std::pair<SecretBytes, Bytes>> EncryptSecret(const Object& key, std::string_view label);
  // A free session handle of the given type (Part 2 §7.5: HMAC 0x02xxxxxx, policy 0x03xxxxxx),
  // or TPM_RC_SESSION_HANDLES / TPM_RC_SESSION_MEMORY when none is available.
  Result<uint32_t> AllocateSessionHandle(bool policy);
  // Part 1 §14: the Name of an entity (a handle for permanent entities, PCRs, sessions and
  // sequence objects).
  Result<Bytes> EntityName(uint32_t handle);
  // The authValue an entity would be authorized with (PCRs and TPM_RH_NULL: empty).
  Result<ByteSpan> EntityAuth(uint32_t handle);
  // The authPolicy of an entity (TPM_ALG_NULL when it has none).
  wire::TpmtHa EntityPolicy(uint32_t handle);
  size_t LoadedObjectCount() const { return reset_.objects.size(); }

  uint32_t self_test_result() const { return self_test_result_; }
  // TPM2_SetCommandCodeAuditStatus changing the audit hash is not itself audited.
  void SkipCommandAudit() { skip_command_audit_ = true; }
  // Part 1 §32: the digest of the audited command codes (TPMS_COMMAND_AUDIT_INFO.commandDigest).
  Bytes AuditedCommandsDigest() const;

 private:
  Bytes ExecuteChecked(std::span<const uint8_t> command);
  // Part 3 §5.3: a handle must name something that exists and is enabled (n is 0-based).
  RcStatus CheckHandleReference(uint32_t handle, uint32_t n);
  // Part 1 §16.4: a password session's hmac field is the entity's authValue.
  RcStatus AuthorizeWithPassword(uint32_t handle, ByteSpan password, uint32_t session_number);
  // The error for a failed authorization of `handle` (DA-protected entities: TPM_RC_AUTH_FAIL,
  // counted against the lockout).
  TpmRc AuthFailure(uint32_t handle, uint32_t session_number);
  // Whether authorizing `handle` is subject to dictionary-attack protection.
  bool IsDaProtected(uint32_t handle) const;
  // TPM_RC_LOCKOUT while the TPM (or, for lockoutAuth, the lockout hierarchy) is locked out.
  RcStatus CheckLockout(uint32_t handle);

  // Part 1 §16.6 and §18: session checks, HMAC authorization, parameter encryption.
  Result<SessionUse> CheckSessions(const CommandDef& def, std::vector<AuthSession>& sessions,
                                   size_t auth_handles,
                                   const std::array<uint32_t, 3>& auth_entity);
  RcStatus AuthorizeSessions(std::vector<AuthSession>& sessions, SessionUse& use,
                             size_t auth_handles, const std::array<uint32_t, 3>& auth_entity,
                             const std::array<Role, 3>& auth_role, ByteSpan cp_data,
                             size_t names_end);
  RcStatus CryptParameter(const AuthSession& s, const SessionUse& use, size_t index,
                          const std::array<uint32_t, 3>& auth_entity, Bytes& params,
                          bool command);
  Bytes ResponseHmac(const AuthSession& s, const SessionUse& use, size_t index,
                     const std::array<uint32_t, 3>& auth_entity, ByteSpan rp_data);
  // sessionKey || authValue for a session's HMAC or parameter encryption.
  SecretBytes SessionValue(const Session& s, ByteSpan auth);
  // Keeps the NV copy of Clock within TPM_PT_CLOCK_UPDATE of the real value.
  void UpdateNvClock();
  void TpmInit();
  Status Persist();  // commits changed records
  // Persist() outside a command (the indications): a failure puts the TPM in failure mode.
  Status CommitOutsideCommand();
  nvstore::Records EncodeRecords();
  Status DecodeRecords(const nvstore::Records& records);
  void EnterFailureMode(const std::string& why);
  // After a successful command: the audit session's digest and the exclusive audit session
  // (Part 1 §17), and the command audit digest (Part 1 §32).
  void RecordAudit(const CommandDef& def, std::vector<AuthSession>& sessions,
                   const SessionUse& use, ByteSpan cp_data, ByteSpan rp_data);

  nvstore::Store& store_;
  Clock& clock_;
  EntropySource& entropy_;
  Profile profile_;
  std::unique_ptr<crypto::Drbg> drbg_;

  PersistentState persistent_;
  NvState nv_;
  ResetState reset_;
  ClearState clear_;
  std::vector<std::vector<Bytes>> pcr_values_;
  HcrtmState hcrtm_;
  nvstore::Records committed_;

  bool powered_ = false;
  bool started_ = false;
  bool failure_mode_ = false;
  bool nv_available_ = true;
  bool physical_presence_ = false;
  bool cancel_ = false;
  bool skip_command_audit_ = false;
  bool clock_safe_ = true;
  uint8_t locality_ = 0;
  uint32_t command_code_ = 0;
  std::array<bool, 3> policy_authorized_{};
  uint32_t self_test_result_ = 0;
  uint64_t init_host_ms_ = 0;      // host time at _TPM_Init
  uint64_t clock_base_host_ms_ = 0;  // host time at which clock_ms_base_ applied
  uint64_t clock_ms_base_ = 0;
  uint64_t last_persisted_clock_ms_ = 0;
};

}  // namespace tpm2emu::engine
