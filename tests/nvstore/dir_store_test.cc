#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "nvstore/store.h"

namespace tpm2emu::nvstore {
namespace {

class DirStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tpm2emu-store-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/state";
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(dir_).parent_path()); }

  std::unique_ptr<Store> Open(DirStoreOptions opts = {}) {
    auto s = OpenDirStore(dir_, opts);
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message());
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static Batch Put(const std::string& k, const std::string& v) {
    Batch b;
    b.changes[k] = Bytes(v.begin(), v.end());
    return b;
  }
  void Corrupt(size_t offset_from_end) {
    std::string path = dir_ + "/tpm2emu-state.bin";
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    auto size = static_cast<std::streamoff>(f.tellg());
    f.seekp(size - static_cast<std::streamoff>(offset_from_end));
    char c = 0x5A;
    f.write(&c, 1);
  }
  std::string dir_;
};

TEST_F(DirStoreTest, NewDirectoryLoadsEmptyWithPrivateModes) {
  auto s = Open();
  ASSERT_TRUE(s);
  auto r = s->Load();
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  ASSERT_TRUE(s->Commit(Put("a", "1")).ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir_ + "/tpm2emu-state.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(DirStoreTest, CommittedRecordsSurviveReopen) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Load().ok());
    ASSERT_TRUE(s->Commit(Put("a", "1")).ok());
    Batch b = Put("b", "2");
    b.changes["a"] = std::nullopt;
    ASSERT_TRUE(s->Commit(b).ok());
  }
  auto s = Open();
  auto r = s->Load();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count("a"), 0u);
  EXPECT_EQ(r->at("b"), Bytes({'2'}));
}

TEST_F(DirStoreTest, SecondOpenIsRefusedWhileLocked) {
  auto first = Open();
  auto second = OpenDirStore(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kBusy);
  EXPECT_NE(second.error().message().find("in use"), std::string::npos);
  first.reset();
  EXPECT_TRUE(OpenDirStore(dir_).ok());
}

TEST_F(DirStoreTest, CorruptedFileIsRefusedNamingTheFile) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Load().ok());
    ASSERT_TRUE(s->Commit(Put("seed", "value")).ok());
  }
  Corrupt(40);
  auto s = Open();
  auto r = s->Load();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kCorrupt);
  EXPECT_NE(r.error().message().find("tpm2emu-state.bin"), std::string::npos);
  EXPECT_NE(r.error().message().find("checksum"), std::string::npos);
}

TEST_F(DirStoreTest, TruncatedFileIsRefused) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Load().ok());
    ASSERT_TRUE(s->Commit(Put("seed", "value")).ok());
  }
  std::filesystem::resize_file(dir_ + "/tpm2emu-state.bin", 20);
  auto s = Open();
  EXPECT_EQ(s->Load().error().code(), StatusCode::kCorrupt);
}

TEST_F(DirStoreTest, BackupIsUsedWhenTheStateFileIsCorrupt) {
  DirStoreOptions opts;
  opts.keep_backup = true;
  {
    auto s = Open(opts);
    ASSERT_TRUE(s->Load().ok());
    ASSERT_TRUE(s->Commit(Put("k", "old")).ok());
    ASSERT_TRUE(s->Commit(Put("k", "new")).ok());
  }
  Corrupt(5);
  auto s = Open(opts);
  auto r = s->Load();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("k"), Bytes({'o', 'l', 'd'}));
}

TEST_F(DirStoreTest, LeftoverTempFileIsIgnored) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Load().ok());
    ASSERT_TRUE(s->Commit(Put("k", "v")).ok());
  }
  std::ofstream(dir_ + "/tpm2emu-state.bin.tmp") << "garbage";
  auto s = Open();
  auto r = s->Load();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("k"), Bytes({'v'}));
}

TEST_F(DirStoreTest, UnusableDirectoryGivesClearError) {
  auto s = OpenDirStore("/proc/definitely/not/here");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("cannot create state directory"), std::string::npos);
}

TEST(MemoryStore, CommitsAndLoads) {
  auto s = NewMemoryStore();
  Batch b;
  b.changes["x"] = Bytes{1};
  ASSERT_TRUE(s->Commit(b).ok());
  EXPECT_EQ(s->Load()->at("x"), Bytes{1});
}

}  // namespace
}  // namespace tpm2emu::nvstore
