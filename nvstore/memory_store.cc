#include <memory>

#include "nvstore/record_format.h"
#include "nvstore/store.h"

namespace tpm2emu::nvstore {
namespace {

class MemoryStore final : public Store {
 public:
  StatusOr<Records> Load() override { return records_; }

  Status Commit(const Batch& batch) override {
    TRY(CheckBatch(batch));
    Records next = records_;
    ApplyBatch(batch, next);
    // Same limits as a state file, so an engine test on memory cannot pass with state that the
    // directory store would refuse.
    TRY(CheckRecords(next));
    records_ = std::move(next);
    return Status::Ok();
  }

 private:
  Records records_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() {
  return std::make_unique<MemoryStore>();
}

}  // namespace tpm2emu::nvstore
