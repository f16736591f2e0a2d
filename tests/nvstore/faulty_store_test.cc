#include "nvstore/faulty_store.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/nvstore/test_util.h"

namespace tpm2emu::nvstore {
namespace {

using testing::MakeBatch;
using testing::MakeRecords;
using testing::TempDir;

TEST(FaultyStore, PassesThroughUntilTheFailingCommit) {
  auto inner = NewMemoryStore();
  FaultyStore store(*inner, 3);
  ASSERT_TRUE(store.Commit(MakeBatch({{"a", "1"}})).ok());
  ASSERT_TRUE(store.Commit(MakeBatch({{"b", "2"}})).ok());
  EXPECT_FALSE(store.failed());
  Status st = store.Commit(MakeBatch({{"c", "3"}}));
  EXPECT_EQ(st.code(), StatusCode::kIo);
  EXPECT_EQ(st.message(), "injected failure at commit 3");
  EXPECT_TRUE(store.failed());
  EXPECT_EQ(store.commits(), 3u);
  EXPECT_EQ(*store.Load(), MakeRecords({{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(*inner->Load(), MakeRecords({{"a", "1"}, {"b", "2"}}));
}

TEST(FaultyStore, LaterCommitsPassAgainUnlessSticky) {
  auto inner = NewMemoryStore();
  FaultyStore transient(*inner, 1);
  EXPECT_FALSE(transient.Commit(MakeBatch({{"a", "1"}})).ok());
  EXPECT_TRUE(transient.Commit(MakeBatch({{"a", "2"}})).ok());
  EXPECT_EQ(*inner->Load(), MakeRecords({{"a", "2"}}));

  FaultyStore sticky(*inner, FaultOptions{.fail_at_commit = 1, .sticky = true});
  EXPECT_FALSE(sticky.Commit(MakeBatch({{"a", "3"}})).ok());
  Status st = sticky.Commit(MakeBatch({{"a", "4"}}));
  EXPECT_EQ(st.code(), StatusCode::kIo);
  EXPECT_EQ(st.message(), "injected failure: commit 2 after the failed commit 1");
  EXPECT_EQ(sticky.commits(), 2u);
  EXPECT_EQ(*inner->Load(), MakeRecords({{"a", "2"}}));
}

TEST(FaultyStore, AppliedModeCommitsTheBatchButReportsFailure) {
  auto inner = NewMemoryStore();
  FaultyStore store(*inner, FaultOptions{.fail_at_commit = 1, .mode = FaultMode::kBatchApplied});
  EXPECT_EQ(store.Commit(MakeBatch({{"a", "1"}})).code(), StatusCode::kIo);
  EXPECT_EQ(*inner->Load(), MakeRecords({{"a", "1"}}));
}

TEST(FaultyStore, ZeroNeverFailsAndCountsEveryCall) {
  auto inner = NewMemoryStore();
  FaultyStore store(*inner, 0);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store.Commit(MakeBatch({{"k", std::to_string(i)}})).ok());
  }
  ASSERT_TRUE(store.Commit(Batch{}).ok());
  EXPECT_EQ(store.commits(), 6u);
  EXPECT_FALSE(store.failed());
}

TEST(FaultyStore, InnerErrorsPassThroughUnchanged) {
  auto inner = NewMemoryStore();
  FaultyStore store(*inner, 5);
  Batch bad = MakeBatch({{std::string(70000, 'k'), "v"}});
  EXPECT_EQ(store.Commit(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.commits(), 1u);
}

// The shape of an engine crash test, run against the directory store: fail at every commit of a
// scenario in turn, reopen the directory as a restarted process would, and find the state before
// or after the failing commit, never anything else.
TEST(FaultyStore, DirStoreRestartAfterAnyFailingCommitSeesOldOrNewState) {
  const std::vector<Batch> scenario = {
      MakeBatch({{"seed", "s1"}, {"auth", ""}}),
      MakeBatch({{"auth", "secret"}}),
      MakeBatch({{"nv.1", "data"}, {"seed", "s2"}}),
      MakeBatch({{"nv.1", std::nullopt}}),
  };
  std::vector<Records> after = {Records{}};
  for (const Batch& batch : scenario) {
    Records next = after.back();
    for (const auto& [key, value] : batch.changes) {
      if (value) {
        next[key] = *value;
      } else {
        next.erase(key);
      }
    }
    after.push_back(next);
  }
  for (FaultMode mode : {FaultMode::kBatchLost, FaultMode::kBatchApplied}) {
    for (uint64_t fail_at = 1; fail_at <= scenario.size(); ++fail_at) {
      TempDir tmp;
      ASSERT_TRUE(tmp.ok());
      {
        auto inner = OpenDirStore(tmp.path());
        ASSERT_TRUE(inner.ok()) << inner.error().message();
        FaultyStore store(**inner,
                          FaultOptions{.fail_at_commit = fail_at, .mode = mode, .sticky = true});
        ASSERT_TRUE(store.Load().ok());
        for (const Batch& batch : scenario) {
          if (!store.Commit(batch).ok()) {
            break;  // a real engine stops here: the process has "crashed"
          }
        }
      }
      auto reopened = OpenDirStore(tmp.path());
      ASSERT_TRUE(reopened.ok());
      auto records = (*reopened)->Load();
      ASSERT_TRUE(records.ok()) << records.error().message();
      const Records& expected = mode == FaultMode::kBatchLost ? after[fail_at - 1] : after[fail_at];
      EXPECT_EQ(*records, expected) << "failing commit " << fail_at;
    }
  }
}

}  // namespace
}  // namespace tpm2emu::nvstore
