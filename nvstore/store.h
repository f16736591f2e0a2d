#pragma once
// The engine's view of non-volatile storage: keyed records, loaded once and changed in atomic
// batches. Commit returns only once the batch is durable (it survives kill -9 and power loss),
// so the engine can answer a command after it. Implementations are not thread-safe; one Store
// belongs to one Tpm.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
  // Applies the batch atomically and durably. After a failure the batch is either wholly
  // applied or not at all, and the caller cannot tell which (a failure after the new state
  // reached the disk cannot be undone, as when the process dies just before Commit returns).
  // Batches hold absolute values, so committing the same batch again is always safe.
  virtual Status Commit(const Batch& batch) = 0;
};

// Records kept in memory: tests and the in-process TCTI's ephemeral mode. Applies the same limits
// as the directory store (kInvalidArgument), so what works here also works on disk.
std::unique_ptr<Store> NewMemoryStore();

struct DirStoreOptions {
  bool keep_backup = false;    // keep the previous good state as a fallback
  bool lock = true;            // take an exclusive lock on the directory
  bool wait_for_lock = false;  // block until the lock is free instead of failing
  // Encrypts the state at rest with AES-256-GCM under this key (kStateKeySize bytes), with a
  // fresh nonce from getrandom() for every Commit (record_format.h has the layout). Load then
  // refuses, with kFailedPrecondition naming the file, a state that is not encrypted or was
  // encrypted under another key, and treats a file that fails its GCM tag as damaged (kCorrupt).
  // Without a key, an encrypted state is refused the same way. OpenDirStore refuses a key of
  // another size (kInvalidArgument). The key is never logged.
  std::optional<SecretBytes> key;
  // Receives what the store wants a human to know but that is not an error, such as "the state
  // file was corrupt, so the backup was loaded". Null writes "tpm2emu: <message>" to stderr, so
  // that falling back to older state is never silent.
  std::function<void(std::string_view)> warn;
};

// The files of a state directory, for tools and tests; everything else in it is left alone.
inline constexpr char kStateFileName[] = "tpm2emu-state.bin";
inline constexpr char kBackupFileName[] = "tpm2emu-state.bin.bak";  // previous generation
inline constexpr char kLockFileName[] = "tpm2emu.lock";
inline constexpr size_t kStateKeySize = 32;  // DirStoreOptions::key, AES-256

// A state directory (created with mode 0700 if missing; files are created 0600). Fails with a
// clear message when the directory is unusable (kIo, naming it and the errno text) or, with
// `lock`, when another process holds its lock (kBusy). The Store holds the lock (a flock on
// kLockFileName) for its lifetime; without `lock` the caller must guarantee that no other store
// uses the directory at the same time.
//
// Load() reads kStateFileName: a missing file is a new, empty store (unless a backup exists,
// which means there was state once); a damaged or unknown file is kCorrupt naming the file and
// the problem, and is left as found, unless `keep_backup` and the backup is intact, in which case
// the backup is loaded and `warn` says so. Commit() requires a successful Load() first
// (kFailedPrecondition otherwise: it would replace state it has not read), rejects a batch the
// format cannot hold with kInvalidArgument, and reports I/O failures as kIo. A Commit costs one
// file write and two fsyncs (the file, then the directory), with or without the backup.
StatusOr<std::unique_ptr<Store>> OpenDirStore(const std::string& dir,
                                              const DirStoreOptions& options = {});

}  // namespace tpm2emu::nvstore
