#include "frontends/daemon/cli.h"

#include <initializer_list>
#include <vector>

#include <gtest/gtest.h>

namespace tpm2emu::daemon {
namespace {

StatusOr<Invocation> Parse(std::initializer_list<const char*> args) {
  std::vector<const char*> v(args);
  return ParseCommandLine(v);
}

std::string ErrorOf(std::initializer_list<const char*> args) {
  auto r = Parse(args);
  return r.ok() ? std::string("(parsed)") : r.error().message();
}

TEST(CliTest, ServeDefaults) {
  auto inv = Parse({"serve"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->action, Action::kServe);
  EXPECT_EQ(inv->serve.state_dir, "./tpm2emu-state");
  EXPECT_EQ(inv->serve.host, "127.0.0.1");
  EXPECT_EQ(inv->serve.port, 2321);
  EXPECT_EQ(inv->serve.log_level, backend::LogLevel::kWarn);
  EXPECT_FALSE(inv->serve.ephemeral);
  EXPECT_FALSE(inv->serve.state_backup);
}

TEST(CliTest, ServeAllOptions) {
  auto inv = Parse({"serve", "--state", "/tmp/s", "--mssim", "0.0.0.0:5000", "--log-level", "debug",
                    "--state-backup"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->serve.state_dir, "/tmp/s");
  EXPECT_EQ(inv->serve.host, "0.0.0.0");
  EXPECT_EQ(inv->serve.port, 5000);
  EXPECT_EQ(inv->serve.log_level, backend::LogLevel::kDebug);
  EXPECT_TRUE(inv->serve.state_backup);
}

TEST(CliTest, EqualsFormAndIpv6) {
  auto inv = Parse({"serve", "--mssim=[::1]:0", "--state=/x", "--log-level=info"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->serve.host, "::1");
  EXPECT_EQ(inv->serve.port, 0);
  EXPECT_EQ(inv->serve.state_dir, "/x");
  EXPECT_EQ(inv->serve.log_level, backend::LogLevel::kInfo);
}

TEST(CliTest, ServeWithoutSwtpmServesOnlyMssim) {
  auto inv = Parse({"serve"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->serve.mssim);
  EXPECT_FALSE(inv->serve.swtpm_port);
}

TEST(CliTest, SwtpmAloneOrBesideMssim) {
  auto alone = Parse({"serve", "--swtpm", "127.0.0.1:2331"});
  ASSERT_TRUE(alone.ok()) << alone.error().message();
  EXPECT_FALSE(alone->serve.mssim);
  EXPECT_EQ(alone->serve.swtpm_host, "127.0.0.1");
  EXPECT_EQ(alone->serve.swtpm_port, 2331);

  auto both = Parse({"serve", "--swtpm=[::1]:0", "--mssim", "127.0.0.1:5000"});
  ASSERT_TRUE(both.ok()) << both.error().message();
  EXPECT_TRUE(both->serve.mssim);
  EXPECT_EQ(both->serve.port, 5000);
  EXPECT_EQ(both->serve.swtpm_host, "::1");
  EXPECT_EQ(both->serve.swtpm_port, 0);

  EXPECT_EQ(ErrorOf({"serve", "--swtpm", "h:65535"}),
            "bad value 'h:65535' for --swtpm (expected HOST:PORT, PORT 0-65534)");
  EXPECT_EQ(ErrorOf({"serve", "--swtpm"}),
            "option --swtpm needs a value (see tpm2emu serve --help)");
  EXPECT_NE(ServeHelpText().find("--swtpm HOST:PORT"), std::string::npos);
}

TEST(CliTest, Ephemeral) {
  auto inv = Parse({"serve", "--ephemeral"});
  ASSERT_TRUE(inv.ok());
  EXPECT_TRUE(inv->serve.ephemeral);
  EXPECT_NE(ErrorOf({"serve", "--ephemeral", "--state", "/x"}), "(parsed)");
}

TEST(CliTest, HelpAndVersion) {
  EXPECT_EQ(Parse({"--help"})->action, Action::kHelp);
  EXPECT_EQ(Parse({"-h"})->action, Action::kHelp);
  EXPECT_EQ(Parse({"--version"})->action, Action::kVersion);
  EXPECT_EQ(Parse({"serve", "--help"})->action, Action::kServeHelp);
  EXPECT_EQ(Parse({"serve", "--mssim", "x:1", "-h"})->action, Action::kServeHelp);
  EXPECT_NE(HelpText().find("serve"), std::string::npos);
  EXPECT_NE(ServeHelpText().find("--mssim HOST:PORT"), std::string::npos);
  EXPECT_EQ(VersionText().rfind("tpm2emu ", 0), 0u);
}

TEST(CliTest, UnknownOptionMessage) {
  EXPECT_EQ(ErrorOf({"serve", "--foo"}), "unknown option --foo (see tpm2emu --help)");
  EXPECT_EQ(ErrorOf({"serve", "--foo=1"}), "unknown option --foo (see tpm2emu --help)");
  EXPECT_EQ(ErrorOf({"--foo"}), "unknown option --foo (see tpm2emu --help)");
}

TEST(CliTest, UnknownCommandAndMissingCommand) {
  EXPECT_EQ(ErrorOf({"frobnicate"}), "unknown command 'frobnicate' (see tpm2emu --help)");
  EXPECT_EQ(ErrorOf({}), "missing command (see tpm2emu --help)");
  EXPECT_NE(ErrorOf({"serve", "extra"}), "(parsed)");
}

TEST(CliTest, BadValues) {
  EXPECT_EQ(ErrorOf({"serve", "--log-level", "loud"}),
            "bad value 'loud' for --log-level (expected error, warn, info or debug)");
  EXPECT_EQ(ErrorOf({"serve", "--state"}),
            "option --state needs a value (see tpm2emu serve --help)");
  for (const char* bad : {"127.0.0.1:99999", "127.0.0.1", ":2321", "127.0.0.1:", "h:12x", "h:-1",
                          "::1:2321", "h:65535"}) {
    EXPECT_NE(ErrorOf({"serve", "--mssim", bad}).find("bad value"), std::string::npos) << bad;
  }
  EXPECT_NE(ErrorOf({"serve", "--ephemeral=1"}), "(parsed)");
}

TEST(CliTest, EkCertOptions) {
  auto inv = Parse({"ek-cert", "--state", "/s", "--ca-dir=/ca", "--state-key", "/k", "--force"});
  ASSERT_TRUE(inv.ok()) << inv.error().message();
  EXPECT_EQ(inv->action, Action::kEkCert);
  EXPECT_EQ(inv->ek_cert.state_dir, "/s");
  EXPECT_EQ(inv->ek_cert.ca_dir, "/ca");
  EXPECT_EQ(inv->ek_cert.state_key_file, "/k");
  EXPECT_TRUE(inv->ek_cert.force);
  auto plain = Parse({"ek-cert", "--state=/s", "--ca-dir", "/ca"});
  ASSERT_TRUE(plain.ok()) << plain.error().message();
  EXPECT_FALSE(plain->ek_cert.force);
  EXPECT_TRUE(plain->ek_cert.state_key_file.empty());
}

TEST(CliTest, EkCertHelpAndErrors) {
  EXPECT_EQ(Parse({"ek-cert", "--help"})->action, Action::kEkCertHelp);
  EXPECT_EQ(Parse({"ek-cert", "-h"})->action, Action::kEkCertHelp);
  EXPECT_NE(HelpText().find("ek-cert"), std::string::npos);
  EXPECT_NE(EkCertHelpText().find("--ca-dir DIR"), std::string::npos);
  EXPECT_NE(EkCertHelpText().find("0x01C00002"), std::string::npos);
  EXPECT_EQ(ErrorOf({"ek-cert", "--ca-dir", "/ca"}),
            "ek-cert needs --state DIR, the TPM's state directory");
  EXPECT_EQ(ErrorOf({"ek-cert", "--state", "/s"}),
            "ek-cert needs --ca-dir DIR, the local CA's directory");
  EXPECT_EQ(ErrorOf({"ek-cert", "--state", "/s", "--ca-dir"}),
            "option --ca-dir needs a value (see tpm2emu ek-cert --help)");
  EXPECT_EQ(ErrorOf({"ek-cert", "--state", "/s", "--ca-dir", "/ca", "--force=yes"}),
            "option --force takes no value");
  EXPECT_EQ(ErrorOf({"ek-cert", "--mssim", "h:1"}), "unknown option --mssim (see tpm2emu --help)");
  EXPECT_EQ(ErrorOf({"ek-cert", "--state", "/s", "--ca-dir", "/ca", "x"}),
            "unexpected argument 'x' (see tpm2emu ek-cert --help)");
  EXPECT_EQ(ErrorOf({"ek-cert", "--state=", "--ca-dir", "/ca"}),
            "bad value '' for --state (expected a directory)");
}

}  // namespace
}  // namespace tpm2emu::daemon
