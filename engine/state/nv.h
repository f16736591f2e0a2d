#pragma once
// NV indices (Part 1 §34.2, Part 2 §13): the state and the hooks the core engine calls for
// handles of type TPM_HT_NV_INDEX. The commands are in engine/commands/nv.cc.
//
// Every change made here is committed by the dispatcher after the command (Tpm::Persist diffs
// the records that Encode produces), so indices are always written through: TPMA_NV_ORDERLY
// changes when WRITTEN is lost, never whether an update survives a crash.

#include <cstdint>
#include <map>
#include <vector>

#include "engine/base/bytes.h"
#include "engine/base/status.h"
#include "engine/base/tpm_rc.h"
#include "engine/wire/nv_types.h"
#include "engine/wire/types.h"
#include "nvstore/store.h"

namespace tpm2emu::engine {

class Tpm;
enum class Role : uint8_t;

// NV memory budget (Part 1 §34.2.2): each index costs its data size plus kNvIndexOverhead
// octets of metadata; TPM2_NV_DefineSpace gives TPM_RC_NV_SPACE past either limit.
inline constexpr size_t kNvMemoryBytes = 128 * 1024;
inline constexpr size_t kNvIndexOverhead = 128;
inline constexpr size_t kMaxNvIndices = 256;
// MAX_ORDERLY_COUNT (TPM_PT_ORDERLY_COUNT). Counters are written through, so nothing is lost at
// a disorderly shutdown; the smallest value the spec allows keeps the Startup adjustment small.
inline constexpr uint64_t kMaxOrderlyCount = 1;

// One defined index: its public area with the current TPMA_NV_WRITTEN and lock bits, its
// authValue (trailing zeros removed) and dataSize octets of data (all zero while unwritten).
struct NvIndex {
  wire::TpmsNvPublic pub;
  SecretBytes auth;
  Bytes data;
};

struct NvState {
  std::map<uint32_t, NvIndex> indices;  // by handle
  // Part 1 §34.2.6.3: the largest count any deleted counter index had; a new counter's first
  // increment goes above it, so no counter Name ever repeats a value.
  uint64_t max_counter = 0;
};

namespace nv {

// --- Hooks for the core engine ------------------------------------------------------------

// Part 3 §5.4 for an NV index handle: TPM_RC_HANDLE (with position n+1; n is 0-based) when it
// is not defined or its hierarchy is disabled (shEnable for owner indices, phEnableNV for
// platform indices).
RcStatus CheckReference(Tpm& tpm, uint32_t handle, uint32_t n);
// Part 1 §13: nameAlg || H_nameAlg(TPMS_NV_PUBLIC), over the current attributes.
Result<Bytes> Name(Tpm& tpm, uint32_t handle);
// The index's authValue (TPM_RC_HANDLE when it is not defined, e.g. just deleted).
Result<ByteSpan> Auth(Tpm& tpm, uint32_t handle);
wire::TpmtHa Policy(Tpm& tpm, uint32_t handle);
// Part 3 §5.6 items 5.2 and 7.2, before any HMAC or password is checked, for an authorization
// of the index `handle` in the role `role` for the command `command_code`, by a policy session
// (`policy`) or by the index's authValue: TPM_RC_AUTH_TYPE (ADMIN role without a policy
// session), TPM_RC_AUTH_UNAVAILABLE (the attributes do not allow this kind of authorization for
// this command, or a PIN index's authValue is locked out), TPM_RC_NV_UNINITIALIZED (reading an
// unwritten index: Part 3 §31.1 requires this before the authValue is checked).
RcStatus CheckAuthorization(Tpm& tpm, uint32_t handle, uint32_t command_code, Role role,
                            bool policy);
// After the authorization of `handle` succeeded. With the authValue (not a policy), a PIN Pass
// index counts the use and a PIN Fail index resets its failure count (Part 1 §34.2.6.6).
void OnAuthorized(Tpm& tpm, uint32_t handle, bool policy);
// Whether authorization failures of the index count for dictionary-attack protection
// (TPMA_NV_NO_DA CLEAR, Part 2 §13.4); false for an undefined index.
bool IsDaProtected(const NvState& state, uint32_t handle);
// After a failed authValue check of the index: a PIN Fail index counts the failure (Part 1
// §34.2.6.6; the dispatcher commits it although the command fails).
void OnAuthFailure(Tpm& tpm, uint32_t handle);

// The defined indices, ascending (GetCapability HANDLES).
std::vector<uint32_t> Handles(Tpm& tpm);

// What TPM2_GetCapability reports (TPM_PT_HR_NV_INDEX, TPM_PT_NV_COUNTERS,
// TPM_PT_NV_COUNTERS_AVAIL).
struct Usage {
  uint32_t indices = 0;
  uint32_t counters = 0;
  uint32_t counters_available = 0;
};
Usage GetUsage(Tpm& tpm);

// Persistence: each index is its own record "nv/<handle, 8 hex digits>"; "nv" holds the
// global values. Decode fails with kCorrupt naming the record.
void Encode(Tpm& tpm, nvstore::Records& out);
Status Decode(Tpm& tpm, const nvstore::Records& in);

// Startup(CLEAR) (clear = true: TPM Reset or TPM Restart) or Startup(STATE) (TPM Resume), after
// tpm.clear_state().orderly_startup and the reset/restart counts are updated: clears
// READLOCKED, WRITELOCKED unless WRITEDEFINE and WRITTEN, WRITTEN for CLEAR_STCLEAR indices
// and, at a TPM Reset, for orderly indices other than counters (Part 1 §34.2.4, Part 2 §13.4);
// after a disorderly shutdown, ORs MAX_ORDERLY_COUNT into orderly counters.
void OnStartup(Tpm& tpm, bool clear);

// For TPM2_Clear (Part 3 §24.6): removes every index defined with Owner Authorization.
void OnClear(Tpm& tpm);

// --- For the NV commands ------------------------------------------------------------------

// The index, or nullptr.
NvIndex* Find(Tpm& tpm, uint32_t handle);
// TPM2_NV_Certify's read (Part 3 §31.16): the same access checks as TPM2_NV_Read, then
// `size` octets at `offset` (handles are positions 2 and 3 of that command).
Result<Bytes> ReadForCertify(Tpm& tpm, uint32_t auth_handle, uint32_t nv_index, uint16_t size,
                             uint16_t offset);
// Removes an index, remembering a counter's value in max_counter.
void Remove(Tpm& tpm, uint32_t handle);
// An index's data as an 8-octet big-endian value (counter, bit field, PIN parameters).
uint64_t ValueOf(const NvIndex& index);
void SetValue(NvIndex& index, uint64_t value);
// NV memory an index with `data_size` octets takes.
size_t Cost(size_t data_size);
size_t UsedBytes(Tpm& tpm);

}  // namespace nv
}  // namespace tpm2emu::engine
