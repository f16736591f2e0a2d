#include "frontends/backend/log.h"

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace tpm2emu::backend {
namespace {

TEST(LogTest, ParsesLevelNames) {
  EXPECT_EQ(ParseLogLevel("error"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(ParseLogLevel("verbose"), std::nullopt);
  EXPECT_EQ(ParseLogLevel(""), std::nullopt);
}

TEST(LogTest, WritesOnlyEnabledLevelsAsOneLineEach) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  Logger logger(LogLevel::kInfo, fds[1]);
  logger.Debug("hidden");
  logger.Info("shown");
  logger.Error("bad");
  ::close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  EXPECT_EQ(out, "tpm2emu: info: shown\ntpm2emu: error: bad\n");
}

}  // namespace
}  // namespace tpm2emu::backend
