#include <string>

#include <gtest/gtest.h>

#include "nvstore/record_format.h"
#include "nvstore/store.h"
#include "tests/nvstore/test_util.h"

namespace tpm2emu::nvstore {
namespace {

using testing::MakeBatch;
using testing::MakeRecords;

TEST(MemoryStore, NewStoreLoadsEmpty) {
  auto store = NewMemoryStore();
  auto records = store->Load();
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
}

TEST(MemoryStore, CommitsReplaceAndDelete) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}, {"b", "2"}})).ok());
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", std::nullopt}, {"b", "two"}, {"c", "3"}})).ok());
  EXPECT_EQ(*store->Load(), MakeRecords({{"b", "two"}, {"c", "3"}}));
}

TEST(MemoryStore, EmptyBatchChangesNothing) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  ASSERT_TRUE(store->Commit(Batch{}).ok());
  EXPECT_EQ(*store->Load(), MakeRecords({{"a", "1"}}));
}

TEST(MemoryStore, RejectedBatchAppliesNothing) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  Status st = store->Commit(
      MakeBatch({{"a", "changed"}, {"b", "new"}, {std::string(kMaxKeySize + 1, 'k'), "v"}}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store->Load(), MakeRecords({{"a", "1"}}));
}

TEST(MemoryStore, StateBeyondTheFileLimitIsRejectedLikeOnDisk) {
  auto store = NewMemoryStore();
  Batch big;
  big.changes["v"] = Bytes(kMaxImageSize, 0);
  EXPECT_EQ(store->Commit(big).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(store->Load()->empty());
}

TEST(MemoryStore, LoadedRecordsAreACopy) {
  auto store = NewMemoryStore();
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  Records before = *store->Load();
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "2"}})).ok());
  EXPECT_EQ(before, MakeRecords({{"a", "1"}}));
}

}  // namespace
}  // namespace tpm2emu::nvstore
