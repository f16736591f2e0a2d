#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nvstore/record_format.h"
#include "nvstore/store.h"
#include "tests/nvstore/test_util.h"

namespace tpm2emu::nvstore {
namespace {

using testing::MakeBatch;
using testing::MakeRecords;
using testing::ReadFileBytes;
using testing::TempDir;
using testing::WriteFileBytes;

class DirStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tmp_.ok());
    dir_ = tmp_.path() + "/state";
    state_path_ = dir_ + "/" + kStateFileName;
    backup_path_ = dir_ + "/" + kBackupFileName;
  }

  DirStoreOptions BackupOptions() {
    DirStoreOptions options;
    options.keep_backup = true;
    options.warn = [this](std::string_view message) { warnings_.emplace_back(message); };
    return options;
  }

  std::unique_ptr<Store> Open(const DirStoreOptions& options = {}) {
    auto store = OpenDirStore(dir_, options);
    EXPECT_TRUE(store.ok()) << store.error().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Opens, loads and commits each batch in turn, then closes the store.
  void CommitAll(const std::vector<Batch>& batches, const DirStoreOptions& options = {}) {
    auto store = Open(options);
    ASSERT_TRUE(store);
    auto loaded = store->Load();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    for (const Batch& batch : batches) {
      Status st = store->Commit(batch);
      ASSERT_TRUE(st.ok()) << st.message();
    }
  }

  StatusOr<Records> Reload(const DirStoreOptions& options = {}) {
    auto store = Open(options);
    if (!store) {
      return Status(StatusCode::kInternal, "open failed");
    }
    return store->Load();
  }

  static State DecodeFile(const std::string& path) {
    auto state = DecodeState(ReadFileBytes(path));
    EXPECT_TRUE(state.ok()) << path << ": " << state.error().message();
    return state.ok() ? *state : State{};
  }

  static mode_t ModeOf(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  TempDir tmp_;
  std::string dir_;
  std::string state_path_;
  std::string backup_path_;
  std::vector<std::string> warnings_;
};

TEST_F(DirStoreTest, NewDirectoryLoadsEmpty) {
  auto records = Reload();
  ASSERT_TRUE(records.ok());
  EXPECT_TRUE(records->empty());
  EXPECT_TRUE(std::filesystem::is_directory(dir_));
  EXPECT_FALSE(std::filesystem::exists(state_path_));  // nothing is written until a commit
}

TEST_F(DirStoreTest, CreatedFilesArePrivateWhateverTheUmask) {
  mode_t old_umask = ::umask(0);
  CommitAll({MakeBatch({{"a", "1"}}), MakeBatch({{"a", "2"}})}, BackupOptions());
  ::umask(old_umask);
  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(state_path_), 0600u);
  EXPECT_EQ(ModeOf(backup_path_), 0600u);
  EXPECT_EQ(ModeOf(dir_ + "/" + kLockFileName), 0600u);
}

TEST_F(DirStoreTest, ExistingDirectoryKeepsItsMode) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0750), 0);
  ASSERT_EQ(::chmod(dir_.c_str(), 0750), 0);
  CommitAll({MakeBatch({{"a", "1"}})});
  EXPECT_EQ(ModeOf(dir_), 0750u);
}

TEST_F(DirStoreTest, CommittedRecordsSurviveReopen) {
  CommitAll({MakeBatch({{"a", "1"}, {"b", "2"}, {"c", "3"}}),
             MakeBatch({{"a", std::nullopt}, {"b", "two"}})});
  auto records = Reload();
  ASSERT_TRUE(records.ok()) << records.error().message();
  EXPECT_EQ(*records, MakeRecords({{"b", "two"}, {"c", "3"}}));
}

TEST_F(DirStoreTest, BinaryAndLargeRecordsRoundTrip) {
  Batch batch;
  for (int i = 0; i < 200; ++i) {
    batch.changes["object." + std::to_string(i)] = Bytes(1024, static_cast<uint8_t>(i));
  }
  batch.changes[std::string("\x00\xff", 2)] = Bytes{0, 0xff, 0};
  batch.changes["empty"] = Bytes{};
  CommitAll({batch});
  auto records = Reload();
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 202u);
  EXPECT_EQ(records->at(std::string("\x00\xff", 2)), (Bytes{0, 0xff, 0}));
  EXPECT_EQ(records->at("object.7"), Bytes(1024, 7));
  EXPECT_TRUE(records->at("empty").empty());
}

TEST_F(DirStoreTest, LoadSeesTheStoresOwnCommits) {
  auto store = Open();
  ASSERT_TRUE(store->Load().ok());
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  EXPECT_EQ(*store->Load(), MakeRecords({{"a", "1"}}));
}

TEST_F(DirStoreTest, StateFileIsTheVersionedImageWithAGenerationPerCommit) {
  auto store = Open();
  ASSERT_TRUE(store->Load().ok());
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  EXPECT_EQ(DecodeFile(state_path_).generation, 1u);
  ASSERT_TRUE(store->Commit(MakeBatch({{"b", "2"}})).ok());
  State state = DecodeFile(state_path_);
  EXPECT_EQ(state.generation, 2u);
  EXPECT_EQ(state.records, MakeRecords({{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ReadFileBytes(state_path_), *EncodeState(state));
  ASSERT_TRUE(store->Commit(Batch{}).ok());  // nothing to make durable, nothing written
  EXPECT_EQ(DecodeFile(state_path_).generation, 2u);
}

TEST_F(DirStoreTest, GenerationContinuesAcrossReopen) {
  CommitAll({MakeBatch({{"a", "1"}}), MakeBatch({{"a", "2"}})});
  CommitAll({MakeBatch({{"a", "3"}})});
  EXPECT_EQ(DecodeFile(state_path_).generation, 3u);
}

TEST_F(DirStoreTest, RejectedBatchAppliesNothing) {
  auto store = Open();
  ASSERT_TRUE(store->Load().ok());
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  Status st = store->Commit(
      MakeBatch({{"a", "changed"}, {"b", "new"}, {std::string(kMaxKeySize + 1, 'k'), "v"}}));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*store->Load(), MakeRecords({{"a", "1"}}));
  EXPECT_EQ(DecodeFile(state_path_).generation, 1u);
}

TEST_F(DirStoreTest, FailedWriteAppliesNothingAndCommitWorksAgainAfterwards) {
  auto store = Open();
  ASSERT_TRUE(store->Load().ok());
  ASSERT_TRUE(store->Commit(MakeBatch({{"a", "1"}})).ok());
  // A directory under the temp file's name makes creating it fail, even for root.
  std::string temp_path = dir_ + "/tpm2emu-state.bin.tmp";
  ASSERT_EQ(::mkdir(temp_path.c_str(), 0700), 0);
  Status st = store->Commit(MakeBatch({{"a", "lost"}, {"b", "lost"}}));
  EXPECT_EQ(st.code(), StatusCode::kIo);
  EXPECT_EQ(st.message(), "cannot create " + temp_path + " (File exists)");
  EXPECT_EQ(*store->Load(), MakeRecords({{"a", "1"}}));

  ASSERT_EQ(::rmdir(temp_path.c_str()), 0);
  ASSERT_TRUE(store->Commit(MakeBatch({{"c", "3"}})).ok());
  store.reset();
  EXPECT_EQ(*Reload(), MakeRecords({{"a", "1"}, {"c", "3"}}));
}

TEST_F(DirStoreTest, CommitBeforeLoadIsRefused) {
  CommitAll({MakeBatch({{"a", "1"}})});
  auto store = Open();
  Status st = store->Commit(MakeBatch({{"b", "2"}}));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find(dir_), std::string::npos);
  store.reset();
  EXPECT_EQ(*Reload(), MakeRecords({{"a", "1"}}));
}

TEST_F(DirStoreTest, FlippedByteIsRefusedNamingTheFileAndLeftAlone) {
  CommitAll({MakeBatch({{"seed", "value"}})});
  Bytes image = ReadFileBytes(state_path_);
  image[image.size() - 40] ^= 0x01;  // inside the record area
  WriteFileBytes(state_path_, image);

  auto store = Open();
  auto records = store->Load();
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kCorrupt);
  EXPECT_EQ(records.error().message(),
            "state file " + state_path_ +
                " fails its checksum (corrupted or truncated); refusing to start");
  // The state stays as found, for a human to look at, and nothing can overwrite it.
  EXPECT_EQ(store->Commit(MakeBatch({{"x", "y"}})).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFileBytes(state_path_), image);
}

TEST_F(DirStoreTest, TruncatedFileIsRefused) {
  CommitAll({MakeBatch({{"seed", "value"}})});
  Bytes image = ReadFileBytes(state_path_);
  for (size_t keep : {size_t{4}, size_t{20}, size_t{40}, image.size() - 1, size_t{0}}) {
    WriteFileBytes(state_path_, ByteSpan(image).first(keep));
    auto records = Reload();
    ASSERT_FALSE(records.ok()) << "kept " << keep;
    EXPECT_EQ(records.error().code(), StatusCode::kCorrupt);
    EXPECT_EQ(records.error().message().rfind("state file " + state_path_ + " ", 0), 0u)
        << records.error().message();
  }
  EXPECT_EQ(Reload().error().message(),
            "state file " + state_path_ + " is empty (truncated); refusing to start");
}

TEST_F(DirStoreTest, UnknownFormatVersionIsRefused) {
  CommitAll({MakeBatch({{"seed", "value"}})});
  Bytes image = ReadFileBytes(state_path_);
  image[11] = 2;
  WriteFileBytes(state_path_, image);
  auto records = Reload();
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kCorrupt);
  EXPECT_EQ(records.error().message(),
            "state file " + state_path_ +
                " has format version 2, but this tpm2emu reads only version 1 (written by a "
                "newer tpm2emu, or damaged); refusing to start");
}

TEST_F(DirStoreTest, ForeignOrOddStateFilesAreRefused) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  WriteFileBytes(state_path_, ToBytes("{\"json\": true}"));
  EXPECT_EQ(Reload().error().message(), "state file " + state_path_ +
                                            " is not a tpm2emu state file (wrong magic); "
                                            "refusing to start");

  std::filesystem::resize_file(state_path_, kMaxImageSize + 1);  // sparse: nothing allocated
  EXPECT_NE(Reload().error().message().find("is larger than any state tpm2emu writes"),
            std::string::npos);

  std::filesystem::remove(state_path_);
  ASSERT_EQ(::mkdir(state_path_.c_str(), 0700), 0);
  EXPECT_EQ(Reload().error().message(),
            "state file " + state_path_ + " is not a regular file; refusing to start");
}

TEST_F(DirStoreTest, BackupHoldsThePreviousGeneration) {
  CommitAll({MakeBatch({{"k", "a"}}), MakeBatch({{"k", "b"}}), MakeBatch({{"k", "c"}})},
            BackupOptions());
  State backup = DecodeFile(backup_path_);
  EXPECT_EQ(backup.generation, 2u);
  EXPECT_EQ(backup.records, MakeRecords({{"k", "b"}}));
  EXPECT_EQ(DecodeFile(state_path_).generation, 3u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/tpm2emu-state.bin.bak.tmp"));
}

TEST_F(DirStoreTest, NoBackupWithoutTheOption) {
  CommitAll({MakeBatch({{"k", "a"}}), MakeBatch({{"k", "b"}})});
  EXPECT_FALSE(std::filesystem::exists(backup_path_));
}

TEST_F(DirStoreTest, CorruptStateFallsBackToTheBackupAndSaysSo) {
  CommitAll({MakeBatch({{"k", "old"}}), MakeBatch({{"k", "new"}})}, BackupOptions());
  Bytes image = ReadFileBytes(state_path_);
  image.resize(image.size() - 5);
  WriteFileBytes(state_path_, image);

  auto records = Reload(BackupOptions());
  ASSERT_TRUE(records.ok()) << records.error().message();
  EXPECT_EQ(*records, MakeRecords({{"k", "old"}}));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0], "state file " + state_path_ +
                              " fails its checksum (corrupted or truncated); loaded the backup " +
                              backup_path_ +
                              " (generation 1) instead; changes committed after it are lost");
}

TEST_F(DirStoreTest, DefaultWarningGoesToStderr) {
  DirStoreOptions options;
  options.keep_backup = true;
  CommitAll({MakeBatch({{"k", "old"}}), MakeBatch({{"k", "new"}})}, options);
  WriteFileBytes(state_path_, ToBytes("garbage"));
  ::testing::internal::CaptureStderr();
  auto records = Reload(options);
  std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(err.rfind("tpm2emu: state file " + state_path_, 0), 0u) << err;
  EXPECT_NE(err.find("loaded the backup"), std::string::npos);
}

TEST_F(DirStoreTest, BackupSurvivesTheFirstCommitAfterAFallback) {
  CommitAll({MakeBatch({{"k", "a"}}), MakeBatch({{"k", "b"}})}, BackupOptions());
  WriteFileBytes(state_path_, ToBytes("garbage"));
  {
    auto store = Open(BackupOptions());
    ASSERT_EQ(*store->Load(), MakeRecords({{"k", "a"}}));
    // The damaged file must not become the backup here.
    ASSERT_TRUE(store->Commit(MakeBatch({{"k", "c"}})).ok());
    EXPECT_EQ(DecodeFile(backup_path_).records, MakeRecords({{"k", "a"}}));
    EXPECT_EQ(DecodeFile(state_path_).generation, 2u);
    ASSERT_TRUE(store->Commit(MakeBatch({{"k", "d"}})).ok());
    EXPECT_EQ(DecodeFile(backup_path_).records, MakeRecords({{"k", "c"}}));
  }
  EXPECT_EQ(*Reload(BackupOptions()), MakeRecords({{"k", "d"}}));
}

TEST_F(DirStoreTest, CorruptStateAndCorruptBackupAreRefused) {
  CommitAll({MakeBatch({{"k", "a"}}), MakeBatch({{"k", "b"}})}, BackupOptions());
  WriteFileBytes(state_path_, ToBytes("garbage"));
  WriteFileBytes(backup_path_, Bytes{});
  auto records = Reload(BackupOptions());
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kCorrupt);
  EXPECT_EQ(records.error().message(),
            "state file " + state_path_ + " is not a tpm2emu state file (wrong magic), and " +
                "backup state file " + backup_path_ + " is empty (truncated); refusing to start");
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(DirStoreTest, CorruptStateWithoutBackupOptionIsRefusedEvenIfABackupExists) {
  CommitAll({MakeBatch({{"k", "a"}}), MakeBatch({{"k", "b"}})}, BackupOptions());
  WriteFileBytes(state_path_, ToBytes("garbage"));
  auto records = Reload();
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.error().code(), StatusCode::kCorrupt);
}

TEST_F(DirStoreTest, MissingStateFileBesideABackupIsNotANewTpm) {
  CommitAll({MakeBatch({{"k", "a"}}), MakeBatch({{"k", "b"}})}, BackupOptions());
  std::filesystem::remove(state_path_);

  auto refused = Reload();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), StatusCode::kCorrupt);
  EXPECT_EQ(refused.error().message(),
            "state file " + state_path_ + " is missing but " + backup_path_ +
                " exists; refusing to start as a new TPM (copy the backup over the state file "
                "to use it)");

  auto records = Reload(BackupOptions());
  ASSERT_TRUE(records.ok()) << records.error().message();
  EXPECT_EQ(*records, MakeRecords({{"k", "a"}}));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("loaded the backup (generation 1)"), std::string::npos);
}

TEST_F(DirStoreTest, LeftoverTempFilesAreIgnoredAndRemoved) {
  CommitAll({MakeBatch({{"k", "v"}})}, BackupOptions());
  std::string temp = dir_ + "/tpm2emu-state.bin.tmp";
  std::string backup_temp = dir_ + "/tpm2emu-state.bin.bak.tmp";
  WriteFileBytes(temp, ToBytes("half a state file"));
  WriteFileBytes(backup_temp, ToBytes("garbage"));
  auto store = Open(BackupOptions());
  auto records = store->Load();
  ASSERT_TRUE(records.ok()) << records.error().message();
  EXPECT_EQ(*records, MakeRecords({{"k", "v"}}));
  EXPECT_FALSE(std::filesystem::exists(temp));
  EXPECT_FALSE(std::filesystem::exists(backup_temp));
  ASSERT_TRUE(store->Commit(MakeBatch({{"k", "w"}})).ok());
  store.reset();
  EXPECT_EQ(*Reload(), MakeRecords({{"k", "w"}}));
}

TEST_F(DirStoreTest, SecondOpenIsBusyWhileTheFirstLives) {
  auto first = Open();
  ASSERT_TRUE(first);
  auto second = OpenDirStore(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kBusy);
  EXPECT_EQ(second.error().message(),
            "state directory " + dir_ + " is in use by another tpm2emu process");
  first.reset();
  EXPECT_TRUE(OpenDirStore(dir_).ok());
}

TEST_F(DirStoreTest, LockHoldsAgainstAnotherProcess) {
  auto first = Open();
  ASSERT_TRUE(first);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto second = OpenDirStore(dir_);
    ::_exit(!second.ok() && second.error().code() == StatusCode::kBusy ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(DirStoreTest, WaitForLockBlocksUntilTheHolderCloses) {
  auto first = Open();
  ASSERT_TRUE(first);
  std::atomic<bool> opened{false};
  bool ok = false;
  std::thread waiter([&] {
    DirStoreOptions options;
    options.wait_for_lock = true;
    auto second = OpenDirStore(dir_, options);
    ok = second.ok();
    opened = true;
  });
  // The sleep only gives the waiter time to reach flock; the check holds whatever the timing.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(opened.load());
  first.reset();
  waiter.join();
  EXPECT_TRUE(opened.load());
  EXPECT_TRUE(ok);
}

TEST_F(DirStoreTest, WithoutLockingASecondStoreMayOpen) {
  DirStoreOptions unlocked;
  unlocked.lock = false;
  auto first = Open();
  ASSERT_TRUE(first);
  EXPECT_TRUE(OpenDirStore(dir_, unlocked).ok());
}

TEST_F(DirStoreTest, UnusableDirectoriesGiveClearErrors) {
  std::string file = tmp_.path() + "/file";
  WriteFileBytes(file, ToBytes("x"));

  auto under_file = OpenDirStore(file + "/state");
  ASSERT_FALSE(under_file.ok());
  EXPECT_EQ(under_file.error().code(), StatusCode::kIo);
  EXPECT_EQ(under_file.error().message(),
            "cannot create state directory " + file + "/state (Not a directory)");

  auto is_file = OpenDirStore(file);
  ASSERT_FALSE(is_file.ok());
  EXPECT_EQ(is_file.error().message(), "state directory " + file + " is not a directory");

  auto missing_parent = OpenDirStore(tmp_.path() + "/no/such");
  ASSERT_FALSE(missing_parent.ok());
  EXPECT_EQ(missing_parent.error().message(), "cannot create state directory " + tmp_.path() +
                                                  "/no/such (No such file or directory)");

  auto empty = OpenDirStore("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), StatusCode::kInvalidArgument);
}

// Root ignores directory permissions, so as root the open runs in a child process that has
// given up root for nobody (65534); the child sends back the error message through a pipe.
TEST_F(DirStoreTest, UnwritableDirectoryIsRefusedAtOpen) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0555), 0);
  auto open_message = [this]() -> std::string {
    auto store = OpenDirStore(dir_);
    return store.ok() ? "opened" : store.error().message();
  };
  std::string message;
  if (::geteuid() != 0) {
    message = open_message();
  } else {
    // nobody must be able to reach the directory: the temporary parent is 0700.
    ASSERT_EQ(::chmod(tmp_.path().c_str(), 0755), 0);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      std::string out = (::setgid(65534) == 0 && ::setuid(65534) == 0) ? open_message()
                                                                       : "cannot drop root";
      ssize_t written = ::write(fds[1], out.data(), out.size());
      ::_exit(written == static_cast<ssize_t>(out.size()) ? 0 : 1);
    }
    ::close(fds[1]);
    char buf[512];
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) {
      message.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(message, "cannot write state directory " + dir_ + " (Permission denied)");
  ::chmod(dir_.c_str(), 0700);
}

TEST_F(DirStoreTest, RelativePathWorks) {
  std::string old_cwd = std::filesystem::current_path();
  std::filesystem::current_path(tmp_.path());
  {
    auto store = OpenDirStore("relative-state");
    ASSERT_TRUE(store.ok()) << store.error().message();
    ASSERT_TRUE((*store)->Load().ok());
    EXPECT_TRUE((*store)->Commit(MakeBatch({{"a", "1"}})).ok());
  }
  std::filesystem::current_path(old_cwd);
  EXPECT_TRUE(std::filesystem::exists(tmp_.path() + "/relative-state/" + kStateFileName));
}

}  // namespace
}  // namespace tpm2emu::nvstore
