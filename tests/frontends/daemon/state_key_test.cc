#include "frontends/backend/state_key.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>

#include "frontends/daemon/cli.h"

namespace tpm2emu::daemon {
namespace {

using backend::kStateKeyBytes;
using backend::ReadStateKeyFile;

class StateKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = "/tmp/tpm2emu-state-key-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/key";
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  void Write(const std::string& contents, mode_t mode = 0600) {
    ::unlink(path_.c_str());
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    ASSERT_EQ(::close(fd), 0);
    ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
  }

  static Bytes Expected() {
    Bytes key(kStateKeyBytes);
    for (size_t i = 0; i < key.size(); ++i) {
      key[i] = static_cast<uint8_t>(0xA0 + i);
    }
    return key;
  }

  static std::string Hex(const Bytes& bytes, bool upper = false) {
    static constexpr char kLower[] = "0123456789abcdef";
    static constexpr char kUpper[] = "0123456789ABCDEF";
    const char* digits = upper ? kUpper : kLower;
    std::string out;
    for (uint8_t b : bytes) {
      out += digits[b >> 4];
      out += digits[b & 15];
    }
    return out;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(StateKeyFileTest, RawKey) {
  Bytes expected = Expected();
  Write(std::string(expected.begin(), expected.end()));
  auto key = ReadStateKeyFile(path_);
  ASSERT_TRUE(key.ok()) << key.error().message();
  EXPECT_EQ(ToBytes(key->span()), expected);
}

TEST_F(StateKeyFileTest, HexKeyInEitherCaseWithOrWithoutANewline) {
  for (std::string text : {Hex(Expected()), Hex(Expected()) + "\n", Hex(Expected(), true),
                           Hex(Expected(), true) + "\r\n"}) {
    Write(text);
    auto key = ReadStateKeyFile(path_);
    ASSERT_TRUE(key.ok()) << text << ": " << key.error().message();
    EXPECT_EQ(ToBytes(key->span()), Expected()) << text;
  }
}

TEST_F(StateKeyFileTest, WrongContentsAreRefusedWithoutEchoingThem) {
  std::string hex = Hex(Expected());
  std::vector<std::string> bad = {"",
                                  std::string(31, 'k'),
                                  std::string(33, 'k'),
                                  hex.substr(2),
                                  hex + "00",
                                  hex.substr(0, 63) + "g",
                                  hex + "\n\n",
                                  " " + hex,
                                  std::string(4096, 'k')};
  for (const std::string& text : bad) {
    Write(text);
    auto key = ReadStateKeyFile(path_);
    ASSERT_FALSE(key.ok()) << text.size();
    EXPECT_EQ(key.error().code(), StatusCode::kInvalidArgument);
    const std::string& message = key.error().message();
    const std::string prefix =
        "state key file " + path_ + " must hold exactly 32 bytes, or 64 hex digits";
    EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
    EXPECT_EQ(message.find("kkkk"), std::string::npos) << message;
    EXPECT_EQ(message.find(hex.substr(2, 16)), std::string::npos) << message;
  }
  Write(std::string(31, 'k'));
  EXPECT_NE(ReadStateKeyFile(path_).error().message().find("it holds 31 bytes"), std::string::npos);
  Write(std::string(4096, 'k'));
  EXPECT_NE(ReadStateKeyFile(path_).error().message().find("it holds more than 66 bytes"),
            std::string::npos);
}

TEST_F(StateKeyFileTest, GroupOrWorldAccessibleKeyIsRefused) {
  Bytes expected = Expected();
  for (mode_t mode : {0640, 0604, 0620, 0644, 0660, 0666}) {
    Write(std::string(expected.begin(), expected.end()), mode);
    auto key = ReadStateKeyFile(path_);
    ASSERT_FALSE(key.ok()) << std::oct << mode;
    EXPECT_EQ(key.error().code(), StatusCode::kFailedPrecondition);
    char mode_text[8];
    std::snprintf(mode_text, sizeof(mode_text), "%04o", static_cast<unsigned>(mode));
    EXPECT_EQ(key.error().message(), "state key file " + path_ +
                                         " is accessible by group or others (mode " + mode_text +
                                         "); a key must be private: chmod 600 " + path_);
  }
  for (mode_t mode : {0400, 0600}) {
    Write(std::string(expected.begin(), expected.end()), mode);
    EXPECT_TRUE(ReadStateKeyFile(path_).ok()) << std::oct << mode;
  }
}

TEST_F(StateKeyFileTest, MissingFileOrDirectoryIsRefusedNamingIt) {
  auto missing = ReadStateKeyFile(path_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), StatusCode::kIo);
  EXPECT_EQ(missing.error().message(),
            "cannot open state key file " + path_ + " (No such file or directory)");
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  auto directory = ReadStateKeyFile(dir_);
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.error().message(), "state key file " + dir_ + " is not a regular file");
}

TEST(StateKeyCliTest, StateKeyOption) {
  std::vector<const char*> args = {"serve", "--state", "/s", "--state-key", "/k/key"};
  auto inv = ParseCommandLine(args);
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->serve.state_key_file, "/k/key");

  args = {"serve", "--state-key=/k2"};
  inv = ParseCommandLine(args);
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->serve.state_key_file, "/k2");

  args = {"serve"};
  EXPECT_TRUE(ParseCommandLine(args)->serve.state_key_file.empty());

  args = {"serve", "--state-key"};
  EXPECT_EQ(ParseCommandLine(args).error().message(),
            "option --state-key needs a value (see tpm2emu serve --help)");
  args = {"serve", "--state-key="};
  EXPECT_FALSE(ParseCommandLine(args).ok());
  args = {"serve", "--ephemeral", "--state-key", "/k"};
  EXPECT_EQ(ParseCommandLine(args).error().message(),
            "--ephemeral keeps no state; it excludes --state, --state-backup and --state-key");
  EXPECT_NE(ServeHelpText().find("--state-key FILE"), std::string::npos);
}

}  // namespace
}  // namespace tpm2emu::daemon
