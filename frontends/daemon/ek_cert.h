#pragma once
// `tpm2emu ek-cert`: opens the state like `serve` (refused while a daemon holds it), powers the
// TPM on, runs TPM2_Startup(CLEAR), provisions the EK certificates (ekca/provision.h) from the
// local CA in --ca-dir, then TPM2_Shutdown(CLEAR) and saves the state. Prints one line per
// certificate on stdout and errors on stderr.

#include "frontends/daemon/cli.h"

namespace tpm2emu::daemon {

// The process exit code: 0 when both certificates are stored; 1 on any error, including
// certificates that are already there without --force.
int RunEkCert(const EkCertOptions& options);

}  // namespace tpm2emu::daemon
