#include "nvstore/faulty_store.h"

#include <string>

namespace tpm2emu::nvstore {

Status FaultyStore::Commit(const Batch& batch) {
  ++commits_;
  if (failed_ && options_.sticky) {
    return IoError("injected failure: commit " + std::to_string(commits_) +
                   " after the failed commit " + std::to_string(options_.fail_at_commit));
  }
  if (commits_ != options_.fail_at_commit) {
    return inner_.Commit(batch);
  }
  failed_ = true;
  if (options_.mode == FaultMode::kBatchApplied) {
    TRY(inner_.Commit(batch));
  }
  return IoError("injected failure at commit " + std::to_string(commits_));
}

}  // namespace tpm2emu::nvstore
