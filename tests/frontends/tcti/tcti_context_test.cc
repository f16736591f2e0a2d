#include "frontends/tcti/tcti_context.h"

#include <cstdlib>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "engine/base/endian.h"
#include "tests/frontends/fake_backend.h"
#include "tests/frontends/tcti_calls.h"

namespace tpm2emu::tcti {
namespace {

using namespace tpm2emu::testing;  // NOLINT: the Tcti* call helpers

// What the fake sessions report back (SessionOpener is a plain function pointer).
struct Observed {
  int opened = 0;
  int closed = 0;
  std::string last_config;
  FakeBackend* backend = nullptr;
};
Observed g_observed;

class FakeSession : public Session {
 public:
  FakeSession() { g_observed.backend = &backend_; }
  ~FakeSession() override { g_observed.backend = nullptr; }
  backend::Backend& backend() override { return backend_; }
  Status Close() override {
    ++g_observed.closed;
    return Status::Ok();
  }

 private:
  FakeBackend backend_;
};

StatusOr<std::unique_ptr<Session>> OpenFake(std::string_view config) {
  ++g_observed.opened;
  g_observed.last_config = std::string(config);
  if (config == "fail-io") {
    return IoError("cannot open fail-io");
  }
  if (config == "fail-arg") {
    return InvalidArgument("bad config");
  }
  if (config == "throw") {
    throw std::runtime_error("boom");
  }
  return std::unique_ptr<Session>(std::make_unique<FakeSession>());
}

Bytes GetRandomCommand(uint16_t n = 8) {
  Bytes c;
  AppendBe16(c, 0x8001);
  AppendBe32(c, 12);
  AppendBe32(c, 0x0000017B);
  AppendBe16(c, n);
  return c;
}

class TctiContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_observed = {};
    size_t size = 0;
    ASSERT_EQ(InitContext(nullptr, &size, "cfg", OpenFake), TSS2_RC_SUCCESS);
    ASSERT_EQ(size, ContextSize());
    buffer_.assign(size, 0);
    ASSERT_EQ(InitContext(ctx(), &size, "cfg", OpenFake), TSS2_RC_SUCCESS);
    EXPECT_EQ(g_observed.last_config, "cfg");
  }
  void TearDown() override {
    if (!finalized_) {
      TctiFinalize(ctx());
    }
  }
  TSS2_TCTI_CONTEXT* ctx() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(buffer_.data()); }

  TSS2_RC Transmit(const Bytes& command) {
    return TctiTransmit(ctx(), command.size(), command.data());
  }

  std::vector<uint8_t, std::allocator<uint8_t>> buffer_;
  bool finalized_ = false;
};

TEST_F(TctiContextTest, CommonHeaderIsVersionTwo) {
  EXPECT_EQ(Common(ctx())->v1.magic, kContextMagic);
  EXPECT_EQ(Common(ctx())->v1.version, 2u);
  EXPECT_NE(Common(ctx())->makeSticky, nullptr);
}

TEST_F(TctiContextTest, TransmitReceiveRoundTrip) {
  Bytes command = GetRandomCommand();
  ASSERT_EQ(Transmit(command), TSS2_RC_SUCCESS);
  Bytes response(4096);
  size_t size = response.size();
  ASSERT_EQ(TctiReceive(ctx(), &size, response.data(), TSS2_TCTI_TIMEOUT_BLOCK), TSS2_RC_SUCCESS);
  response.resize(size);
  EXPECT_EQ(response, FakeBackend::ResponseFor(command, 0));
}

TEST_F(TctiContextTest, ReceiveSizeQueryAndShortBuffer) {
  Bytes command = GetRandomCommand();
  Bytes expected = FakeBackend::ResponseFor(command, 0);
  ASSERT_EQ(Transmit(command), TSS2_RC_SUCCESS);
  size_t size = 0;
  ASSERT_EQ(TctiReceive(ctx(), &size, nullptr, TSS2_TCTI_TIMEOUT_NONE), TSS2_RC_SUCCESS);
  EXPECT_EQ(size, expected.size());
  Bytes response(expected.size() - 1);
  size = response.size();
  EXPECT_EQ(TctiReceive(ctx(), &size, response.data(), 0), TSS2_TCTI_RC_INSUFFICIENT_BUFFER);
  EXPECT_EQ(size, expected.size());
  response.resize(size);
  ASSERT_EQ(TctiReceive(ctx(), &size, response.data(), 0), TSS2_RC_SUCCESS);
  EXPECT_EQ(response, expected);
}

TEST_F(TctiContextTest, OutOfOrderCallsAreBadSequence) {
  Bytes response(4096);
  size_t size = response.size();
  EXPECT_EQ(TctiReceive(ctx(), &size, response.data(), -1), TSS2_TCTI_RC_BAD_SEQUENCE);
  ASSERT_EQ(Transmit(GetRandomCommand()), TSS2_RC_SUCCESS);
  EXPECT_EQ(Transmit(GetRandomCommand()), TSS2_TCTI_RC_BAD_SEQUENCE);
  EXPECT_EQ(TctiSetLocality(ctx(), 1), TSS2_TCTI_RC_BAD_SEQUENCE);
  ASSERT_EQ(TctiReceive(ctx(), &size, response.data(), -1), TSS2_RC_SUCCESS);
  size = response.size();
  EXPECT_EQ(TctiReceive(ctx(), &size, response.data(), -1), TSS2_TCTI_RC_BAD_SEQUENCE);
  EXPECT_EQ(Transmit(GetRandomCommand()), TSS2_RC_SUCCESS);
}

TEST_F(TctiContextTest, NullArgumentsAreBadReference) {
  Bytes command = GetRandomCommand();
  EXPECT_EQ(Common(ctx())->v1.transmit(nullptr, command.size(), command.data()),
            TSS2_TCTI_RC_BAD_REFERENCE);
  EXPECT_EQ(TctiTransmit(ctx(), command.size(), nullptr), TSS2_TCTI_RC_BAD_REFERENCE);
  ASSERT_EQ(Transmit(command), TSS2_RC_SUCCESS);
  EXPECT_EQ(TctiReceive(ctx(), nullptr, nullptr, -1), TSS2_TCTI_RC_BAD_REFERENCE);
  size_t size = 0;
  EXPECT_EQ(Common(ctx())->v1.receive(nullptr, &size, nullptr, -1), TSS2_TCTI_RC_BAD_REFERENCE);
  Common(ctx())->v1.finalize(nullptr);  // no crash
}

TEST_F(TctiContextTest, BadTimeoutAndBadCommandSizesAreBadValue) {
  Bytes command = GetRandomCommand();
  EXPECT_EQ(TctiTransmit(ctx(), 5, command.data()), TSS2_TCTI_RC_BAD_VALUE);
  EXPECT_EQ(TctiTransmit(ctx(), command.size() - 1, command.data()), TSS2_TCTI_RC_BAD_VALUE);
  ASSERT_EQ(Transmit(command), TSS2_RC_SUCCESS);
  Bytes response(4096);
  size_t size = response.size();
  EXPECT_EQ(TctiReceive(ctx(), &size, response.data(), -2), TSS2_TCTI_RC_BAD_VALUE);
  EXPECT_EQ(TctiReceive(ctx(), &size, response.data(), 0), TSS2_RC_SUCCESS);
}

TEST_F(TctiContextTest, SetLocalityAppliesToTheNextCommand) {
  ASSERT_EQ(TctiSetLocality(ctx(), 3), TSS2_RC_SUCCESS);
  Bytes command = GetRandomCommand();
  ASSERT_EQ(Transmit(command), TSS2_RC_SUCCESS);
  Bytes response(4096);
  size_t size = response.size();
  ASSERT_EQ(TctiReceive(ctx(), &size, response.data(), -1), TSS2_RC_SUCCESS);
  ASSERT_NE(g_observed.backend, nullptr);
  EXPECT_EQ(g_observed.backend->localities().back(), 3);
}

TEST_F(TctiContextTest, OptionalFunctionsAreNotImplemented) {
  EXPECT_EQ(TctiCancel(ctx()), TSS2_TCTI_RC_NOT_IMPLEMENTED);
  size_t n = 0;
  EXPECT_EQ(TctiGetPollHandles(ctx(), nullptr, &n), TSS2_TCTI_RC_NOT_IMPLEMENTED);
  TPM2_HANDLE handle = 0x80000000;
  EXPECT_EQ(TctiMakeSticky(ctx(), &handle, 1), TSS2_TCTI_RC_NOT_IMPLEMENTED);
}

TEST_F(TctiContextTest, FinalizeClosesTheSessionOnce) {
  TctiFinalize(ctx());
  finalized_ = true;
  EXPECT_EQ(g_observed.closed, 1);
  EXPECT_EQ(g_observed.backend, nullptr);
  // A finalized context is no longer ours.
  Bytes command = GetRandomCommand();
  EXPECT_EQ(Transmit(command), TSS2_TCTI_RC_BAD_CONTEXT);
  TctiFinalize(ctx());
  EXPECT_EQ(g_observed.closed, 1);
}

TEST_F(TctiContextTest, CloseAllSessionsLeavesContextsThatOnlyFinalize) {
  CloseAllSessions();
  EXPECT_EQ(g_observed.closed, 1);
  EXPECT_EQ(g_observed.backend, nullptr);
  Bytes command = GetRandomCommand();
  EXPECT_EQ(Transmit(command), TSS2_TCTI_RC_GENERAL_FAILURE);
  TctiFinalize(ctx());
  finalized_ = true;
  EXPECT_EQ(g_observed.closed, 1);
}

TEST(TctiInitTest, SizeRulesAndOpenerErrors) {
  EXPECT_EQ(InitContext(nullptr, nullptr, nullptr, OpenFake), TSS2_TCTI_RC_BAD_VALUE);
  std::vector<uint8_t> buffer(ContextSize());
  auto* ctx = reinterpret_cast<TSS2_TCTI_CONTEXT*>(buffer.data());
  size_t small = ContextSize() - 1;
  EXPECT_EQ(InitContext(ctx, &small, nullptr, OpenFake), TSS2_TCTI_RC_INSUFFICIENT_BUFFER);
  size_t size = ContextSize();
  EXPECT_EQ(InitContext(ctx, &size, "fail-io", OpenFake), TSS2_TCTI_RC_IO_ERROR);
  EXPECT_EQ(InitContext(ctx, &size, "fail-arg", OpenFake), TSS2_TCTI_RC_BAD_VALUE);
  EXPECT_EQ(InitContext(ctx, &size, "throw", OpenFake), TSS2_TCTI_RC_GENERAL_FAILURE);
  // A failed init leaves the caller's buffer untouched (no function pointers to call).
  EXPECT_EQ(Common(ctx)->v1.magic, 0u);
  EXPECT_EQ(Common(ctx)->v1.transmit, nullptr);
  // NULL config means "".
  EXPECT_EQ(InitContext(ctx, &size, nullptr, OpenFake), TSS2_RC_SUCCESS);
  EXPECT_EQ(g_observed.last_config, "");
  TctiFinalize(ctx);
}

}  // namespace
}  // namespace tpm2emu::tcti
