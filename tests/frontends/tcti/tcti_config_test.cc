#include "frontends/tcti/tcti_config.h"

#include <gtest/gtest.h>

namespace tpm2emu::tcti {
namespace {

TEST(TctiConfig, EmptyIsInMemoryAndABarePathIsTheDirectory) {
  auto empty = ParseTctiConfig("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->dir.empty());
  auto bare = ParseTctiConfig("/var/lib/tpm2emu, with a comma");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->dir, "/var/lib/tpm2emu, with a comma");
  EXPECT_TRUE(bare->state_key_file.empty());
  EXPECT_FALSE(bare->state_backup);
}

TEST(TctiConfig, OptionsInAnyOrder) {
  auto all = ParseTctiConfig("state-backup,state-key=/etc/k,dir=/s=t");
  ASSERT_TRUE(all.ok()) << all.error().message();
  EXPECT_EQ(all->dir, "/s=t");
  EXPECT_EQ(all->state_key_file, "/etc/k");
  EXPECT_TRUE(all->state_backup);
  auto dir_only = ParseTctiConfig("dir=/s");
  ASSERT_TRUE(dir_only.ok());
  EXPECT_EQ(dir_only->dir, "/s");
  EXPECT_FALSE(dir_only->state_backup);
}

TEST(TctiConfig, MistakesAreRefusedNamingTheProblem) {
  const std::string usage = " (use DIR, or dir=DIR[,state-key=FILE][,state-backup])";
  struct Case {
    const char* config;
    std::string problem;
  };
  for (const Case& c : {
           Case{"dir=/s,bogus=1", "unknown option \"bogus\""},
           Case{"dir=/s,", "unknown option \"\""},
           Case{"dir=", "option \"dir\" needs a value"},
           Case{"dir=/s,state-key=", "option \"state-key\" needs a value"},
           Case{"dir=/s,state-backup=1", "option \"state-backup\" takes no value"},
           Case{"dir=/s,dir=/t", "option \"dir\" is given twice"},
           Case{"state-key=/k", "state-key and state-backup need dir=DIR"},
       }) {
    auto parsed = ParseTctiConfig(c.config);
    ASSERT_FALSE(parsed.ok()) << c.config;
    EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().message(),
              "TCTI config \"" + std::string(c.config) + "\": " + c.problem + usage);
  }
}

}  // namespace
}  // namespace tpm2emu::tcti
