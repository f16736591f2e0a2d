#pragma once
// The key file of `tpm2emu serve --state-key FILE` and of the in-process TCTI's state-key=FILE:
// the AES-256 key that encrypts the state at rest (nvstore::DirStoreOptions::key).

#include <cstddef>
#include <string>

#include "engine/base/bytes.h"
#include "engine/base/status.h"

namespace tpm2emu::backend {

inline constexpr size_t kStateKeyBytes = 32;

// Reads a key file: exactly kStateKeyBytes raw bytes, or 2 * kStateKeyBytes hex digits (either
// case) with at most one trailing newline, as `openssl rand -hex 32` writes. Refuses, with
// kFailedPrecondition and a message that names the file and the fix, a key file that is not a
// regular file or that its group or others may access (mode & 077, like ssh); other problems are
// kInvalidArgument (wrong contents) or kIo. Messages never include the file's contents, and the
// bytes read are wiped.
StatusOr<SecretBytes> ReadStateKeyFile(const std::string& path);

}  // namespace tpm2emu::backend
