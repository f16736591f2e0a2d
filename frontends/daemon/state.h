#pragma once
// What the daemon's subcommands (serve, ek-cert) share: opening a state directory locked, so
// that a second process on the same directory is refused, with the state key if one is given;
// starting a TPM on it; printing errors.

#include <memory>
#include <string>

#include "engine/base/status.h"
#include "engine/host.h"
#include "frontends/backend/engine_backend.h"
#include "nvstore/store.h"

namespace tpm2emu::daemon {

// Opens `dir` (created if missing) with an exclusive lock, not waiting for it; `key_file` (if
// not empty) holds the state key (backend::ReadStateKeyFile). Errors carry a message ready to
// print after "tpm2emu: ", naming the directory and, for a key mismatch, the option.
StatusOr<std::unique_ptr<nvstore::Store>> OpenLockedState(const std::string& dir, bool keep_backup,
                                                          const std::string& key_file);

// `status` from the store or the engine, as a message naming the directory (and the key
// option when the key does not fit the state).
std::string StateError(const std::string& dir, const std::string& key_file, const Status& status);

// A TPM over `store`, powered on fresh (as after a power cycle; clients send TPM2_Startup).
// `dir` is the state directory (empty for a store in memory): the volatile state the in-process
// TCTI may have left there is stale then, and removed. The store, clock and entropy must
// outlive the TPM. Errors carry a message ready to print.
StatusOr<std::unique_ptr<backend::EngineBackend>> StartTpm(nvstore::Store& store,
                                                           engine::Clock& clock,
                                                           engine::EntropySource& entropy,
                                                           const std::string& dir,
                                                           const std::string& key_file);

// Prints "tpm2emu: MESSAGE" on stderr; returns 1, the exit code for it.
int Fail(const std::string& message);

}  // namespace tpm2emu::daemon
