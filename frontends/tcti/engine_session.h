#pragma once
// The Session the in-process TCTI uses: one of our TPMs over a state directory, or in memory.
//
// Config (tcti_config.h) "" or null: a fresh in-memory TPM, powered on, gone at finalize.
// Config DIR or dir=DIR[,state-key=FILE][,state-backup]: the TPM stored in DIR (created if
// missing), optionally encrypted at rest, with the previous good state kept. The directory's lock is held from
// init to finalize, waiting for it if another process holds it, so tools run one after another
// serialize. Consecutive processes see one continuously powered TPM: finalize saves the
// volatile state (PCRs, startup state, clock) next to the store (backend/volatile_file.h) and
// the next init resumes it; without a saved state (first use, or the last user crashed) init
// powers the TPM on fresh and the client sends TPM2_Startup.

#include <memory>
#include <string_view>

#include "frontends/tcti/tcti_context.h"

namespace tpm2emu::tcti {

StatusOr<std::unique_ptr<Session>> OpenEngineSession(std::string_view config);

}  // namespace tpm2emu::tcti
