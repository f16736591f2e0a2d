#pragma once
// The volatile state of a TPM carried between processes that share a state directory (the
// in-process TCTI: consecutive tools behave like one continuously powered TPM). One file,
// <dir>/tcti-volatile.bin, holding a TpmInstance::SaveVolatile() blob behind a small header.
// Callers hold the state directory's lock (the Store's) while they use these.

#include <optional>
#include <span>
#include <string>

#include "engine/base/bytes.h"
#include "engine/base/status.h"

namespace tpm2emu::backend {

inline constexpr char kVolatileFileName[] = "tcti-volatile.bin";

// Replaces the file atomically and durably (temp file, fsync, rename, fsync of the directory).
Status WriteVolatileFile(const std::string& dir, std::span<const uint8_t> blob);

// Reads the blob and removes the file durably, so a saved state is resumed at most once: a
// process that dies without saving leaves a power-cycled TPM behind, never a rolled-back one.
// nullopt when there is no file; kCorrupt (naming the file) when it is not one of ours.
StatusOr<std::optional<Bytes>> TakeVolatileFile(const std::string& dir);

// Removes the file if present (durably). Used when something else powers the TPM up fresh
// (the daemon), which makes a saved volatile state stale.
Status RemoveVolatileFile(const std::string& dir);

}  // namespace tpm2emu::backend
