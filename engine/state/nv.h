#pragma once
// NV indices (Part 1 §31, Part 2 §13): the state and the hooks the core engine calls for
// handles of type TPM_HT_NV_INDEX. Owned by the NV module (engine/commands/nv.cc).

#include <cstdint>
#include <vector>

#include "engine/base/bytes.h"
#include "engine/base/status.h"
#include "engine/base/tpm_rc.h"
#include "engine/wire/types.h"
#include "nvstore/store.h"

namespace tpm2emu::engine {

class Tpm;

struct NvState {};

namespace nv {

// Part 3 §5.3 for an NV index handle: TPM_RC_HANDLE (with position n+1) when it is not defined
// or its hierarchy is disabled.
RcStatus CheckReference(Tpm& tpm, uint32_t handle, uint32_t n);
// Part 1 §14: nameAlg || H(TPMS_NV_PUBLIC).
Result<Bytes> Name(Tpm& tpm, uint32_t handle);
Result<ByteSpan> Auth(Tpm& tpm, uint32_t handle);
wire::TpmtHa Policy(Tpm& tpm, uint32_t handle);
// The defined indices, ascending (GetCapability HANDLES).
std::vector<uint32_t> Handles(Tpm& tpm);
// Persistence: each index is its own record, keyed "nv/<handle in hex>".
void Encode(Tpm& tpm, nvstore::Records& out);
Status Decode(Tpm& tpm, const nvstore::Records& in);
// Startup(CLEAR) (clear = true) or Startup(STATE): resets the STCLEAR locks.
void OnStartup(Tpm& tpm, bool clear);

}  // namespace nv
}  // namespace tpm2emu::engine
