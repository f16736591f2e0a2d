#pragma once
// The engine's view of non-volatile storage: keyed records, loaded once and changed in atomic
// batches. Commit returns only once the batch is durable (it survives kill -9 and power loss),
// so the engine can answer a command after it. Implementations are not thread-safe; one Store
// belongs to one Tpm.

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "engine/base/bytes.h"
#include "engine/base/status.h"

namespace tpm2emu::nvstore {

using Records = std::map<std::string, Bytes>;

// A set of changes applied all-or-nothing: a value replaces a record, nullopt deletes it.
struct Batch {
  std::map<std::string, std::optional<Bytes>> changes;
  bool empty() const { return changes.empty(); }
};

class Store {
 public:
  virtual ~Store() = default;
  // The last committed records (empty for a new store), or a clear error naming the file and
  // what is wrong with it (kCorrupt for a checksum/version failure). Never resets silently.
  virtual StatusOr<Records> Load() = 0;
  // Applies the batch atomically and durably.
  virtual Status Commit(const Batch& batch) = 0;
};

// Records kept in memory: tests and the in-process TCTI's ephemeral mode.
std::unique_ptr<Store> NewMemoryStore();

struct DirStoreOptions {
  bool keep_backup = false;  // keep the previous good state as a fallback
  bool lock = true;          // take an exclusive lock on the directory
  bool wait_for_lock = false;  // block until the lock is free instead of failing
};

// A state directory (created with mode 0700 if missing). Fails with a clear message when the
// directory is unusable or another process holds its lock.
StatusOr<std::unique_ptr<Store>> OpenDirStore(const std::string& dir,
                                              const DirStoreOptions& options = {});

}  // namespace tpm2emu::nvstore
