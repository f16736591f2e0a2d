#pragma once
// A Store for failure and crash tests: passes everything through to another store, except that
// the Nth Commit fails with kIo, as a full disk, a failing fsync or a crash would. Engine tests
// run a scenario once to count its commits, then once per commit number, failing there, and
// check that a Tpm restarted on the inner store sees the old state or the new one.
// Not thread-safe, like every Store.

#include <cstdint>

#include "nvstore/store.h"

namespace tpm2emu::nvstore {

enum class FaultMode {
  // The failing batch never reaches the inner store: the failure came before the state file was
  // replaced.
  kBatchLost,
  // The failing batch is committed to the inner store, then failure is reported: the crash came
  // after the state file was replaced but before Commit returned, so nobody saw it succeed.
  kBatchApplied,
};

struct FaultOptions {
  uint64_t fail_at_commit = 0;  // 1-based number of the Commit call that fails; 0 never fails
  FaultMode mode = FaultMode::kBatchLost;
  // Every Commit after the failing one fails too (and reaches nothing), as from a process that
  // has crashed or a disk that has died. Otherwise later commits pass through again.
  bool sticky = false;
};

class FaultyStore final : public Store {
 public:
  // `inner` is not owned and must outlive this store; tests keep it to restart on it.
  FaultyStore(Store& inner, FaultOptions options) : inner_(inner), options_(options) {}
  FaultyStore(Store& inner, uint64_t fail_at_commit)
      : FaultyStore(inner, FaultOptions{.fail_at_commit = fail_at_commit}) {}

  // Passes through.
  StatusOr<Records> Load() override { return inner_.Load(); }
  // Counts the call, then fails it or passes it through as FaultOptions says. An error of the
  // inner store is passed back as it is.
  Status Commit(const Batch& batch) override;

  // Commit calls so far, failed ones included (empty batches too).
  uint64_t commits() const { return commits_; }
  // Whether the planned failure has happened.
  bool failed() const { return failed_; }

 private:
  Store& inner_;
  FaultOptions options_;
  uint64_t commits_ = 0;
  bool failed_ = false;
};

}  // namespace tpm2emu::nvstore
