#include <memory>

#include "nvstore/store.h"

namespace tpm2emu::nvstore {
namespace {

class MemoryStore final : public Store {
 public:
  StatusOr<Records> Load() override { return records_; }
  Status Commit(const Batch& batch) override {
    for (const auto& [key, value] : batch.changes) {
      if (value) {
        records_[key] = *value;
      } else {
        records_.erase(key);
      }
    }
    return Status::Ok();
  }

 private:
  Records records_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace tpm2emu::nvstore
