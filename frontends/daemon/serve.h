#pragma once
// `tpm2emu serve`: opens the state, powers the TPM on, serves mssim until SIGTERM/SIGINT (or
// an mssim STOP), then flushes. Prints the ready line on stdout and errors on stderr.

#include "frontends/daemon/cli.h"

namespace tpm2emu::daemon {

// The process exit code: 0 after a clean stop, 1 when the state or the ports are unusable.
int RunServe(const ServeOptions& options);

}  // namespace tpm2emu::daemon
