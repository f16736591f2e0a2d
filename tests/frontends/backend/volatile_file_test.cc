#include "frontends/backend/volatile_file.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace tpm2emu::backend {
namespace {

class VolatileFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tpm2emu-volatile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file() const { return dir_ + "/" + kVolatileFileName; }

  std::string dir_;
};

TEST_F(VolatileFileTest, MissingFileGivesNothing) {
  auto taken = TakeVolatileFile(dir_);
  ASSERT_TRUE(taken.ok()) << taken.error().message();
  EXPECT_FALSE(taken->has_value());
}

TEST_F(VolatileFileTest, WriteThenTakeRoundTripsOnce) {
  Bytes blob = {9, 8, 7, 6, 5};
  ASSERT_TRUE(WriteVolatileFile(dir_, blob).ok());
  EXPECT_TRUE(std::filesystem::exists(file()));
  EXPECT_FALSE(std::filesystem::exists(file() + ".tmp"));
  auto taken = TakeVolatileFile(dir_);
  ASSERT_TRUE(taken.ok());
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ(**taken, blob);
  // Taken means gone: a second process starts powered-cycled.
  EXPECT_FALSE(std::filesystem::exists(file()));
  auto again = TakeVolatileFile(dir_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

TEST_F(VolatileFileTest, EmptyBlobRoundTrips) {
  ASSERT_TRUE(WriteVolatileFile(dir_, Bytes{}).ok());
  auto taken = TakeVolatileFile(dir_);
  ASSERT_TRUE(taken.ok());
  ASSERT_TRUE(taken->has_value());
  EXPECT_TRUE((*taken)->empty());
}

TEST_F(VolatileFileTest, ForeignFileIsCorruptAndNamed) {
  std::ofstream(file()) << "not ours at all";
  auto taken = TakeVolatileFile(dir_);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), StatusCode::kCorrupt);
  EXPECT_NE(taken.error().message().find(file()), std::string::npos);
}

TEST_F(VolatileFileTest, TruncatedFileIsCorrupt) {
  ASSERT_TRUE(WriteVolatileFile(dir_, Bytes(100, 1)).ok());
  std::filesystem::resize_file(file(), 50);
  auto taken = TakeVolatileFile(dir_);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code(), StatusCode::kCorrupt);
}

TEST_F(VolatileFileTest, RemoveIsIdempotent) {
  ASSERT_TRUE(WriteVolatileFile(dir_, Bytes{1}).ok());
  EXPECT_TRUE(RemoveVolatileFile(dir_).ok());
  EXPECT_TRUE(RemoveVolatileFile(dir_).ok());
  EXPECT_FALSE(std::filesystem::exists(file()));
}

TEST_F(VolatileFileTest, UnwritableDirectoryNamesThePath) {
  auto status = WriteVolatileFile(dir_ + "/missing/sub", Bytes{1});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.message().find("missing/sub"), std::string::npos);
}

}  // namespace
}  // namespace tpm2emu::backend
