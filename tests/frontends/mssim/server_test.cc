#include "frontends/mssim/server.h"

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "engine/base/endian.h"
#include "tests/frontends/fake_backend.h"
#include "tests/frontends/server_fixture.h"
#include "tests/frontends/test_socket.h"

namespace tpm2emu::mssim {
namespace {

using testing::FakeBackend;
using testing::TestSocket;

Bytes SampleCommand(uint8_t fill = 0x11, size_t extra = 2) {
  // TPM2_GetRandom(8)-shaped: a header plus a few parameter bytes.
  Bytes c;
  AppendBe16(c, 0x8001);
  AppendBe32(c, static_cast<uint32_t>(10 + extra));
  AppendBe32(c, 0x0000017B);
  for (size_t i = 0; i < extra; ++i) {
    c.push_back(fill);
  }
  return c;
}

Bytes SendCommandFrame(std::span<const uint8_t> command, uint8_t locality) {
  Bytes f;
  AppendBe32(f, code::kSendCommand);
  f.push_back(locality);
  AppendBe32(f, static_cast<uint32_t>(command.size()));
  f.insert(f.end(), command.begin(), command.end());
  return f;
}

class MssimServerTest
    : public testing::ServerFixture<Server, ServerOptions, &ServerOptions::command_port> {
 protected:
  uint16_t cmd_port() const { return server_->command_port(); }
  uint16_t plat_port() const { return server_->platform_port(); }

  // Sends SEND_COMMAND and returns the response body (nullopt if the framing is off).
  std::optional<Bytes> RoundTrip(TestSocket& s, std::span<const uint8_t> command,
                                 uint8_t locality = 0) {
    if (!s.Send(SendCommandFrame(command, locality))) {
      return std::nullopt;
    }
    auto len = s.RecvU32();
    if (!len) {
      return std::nullopt;
    }
    auto body = s.Recv(*len);
    auto trailer = s.RecvU32();
    if (!body || trailer != 0u) {
      return std::nullopt;
    }
    return body;
  }

  std::optional<uint32_t> Platform(TestSocket& s, uint32_t request) {
    if (!s.SendU32(request)) {
      return std::nullopt;
    }
    return s.RecvU32();
  }
};

TEST_F(MssimServerTest, PortZeroBindsTwoEphemeralPorts) {
  EXPECT_NE(cmd_port(), 0);
  EXPECT_NE(plat_port(), 0);
  EXPECT_NE(cmd_port(), plat_port());
  // Normally an adjacent pair, as mssim clients assume (a busy P + 1 is possible, though).
  if (plat_port() != cmd_port() + 1) {
    GTEST_LOG_(WARNING) << "no adjacent pair: " << cmd_port() << ", " << plat_port();
  }
  EXPECT_EQ(server_->command_endpoint(), "127.0.0.1:" + std::to_string(cmd_port()));
  EXPECT_EQ(server_->platform_endpoint(), "127.0.0.1:" + std::to_string(plat_port()));
}

TEST_F(MssimServerTest, SendCommandRoundTrip) {
  TestSocket s(cmd_port());
  ASSERT_TRUE(s.ok());
  Bytes command = SampleCommand();
  auto response = RoundTrip(s, command, 3);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, FakeBackend::ResponseFor(command, 3));
  ASSERT_EQ(backend_.commands().size(), 1u);
  EXPECT_EQ(backend_.commands()[0], command);
  EXPECT_EQ(backend_.localities()[0], 3);
}

TEST_F(MssimServerTest, ManyCommandsOnOneConnection) {
  TestSocket s(cmd_port());
  for (int i = 0; i < 50; ++i) {
    Bytes command = SampleCommand(static_cast<uint8_t>(i), static_cast<size_t>(i));
    auto response = RoundTrip(s, command);
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(*response, FakeBackend::ResponseFor(command, 0));
  }
}

TEST_F(MssimServerTest, LargestCommandIsAccepted) {
  TestSocket s(cmd_port());
  Bytes command = SampleCommand(0x5A, ServerOptions{}.max_command_size - 10);
  auto response = RoundTrip(s, command);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, FakeBackend::ResponseFor(command, 0));
}

TEST_F(MssimServerTest, RawCommandsAreDetectedAndAnsweredBare) {
  TestSocket s(cmd_port());
  for (int i = 0; i < 3; ++i) {
    Bytes command = SampleCommand(static_cast<uint8_t>(0x40 + i), 6);
    ASSERT_TRUE(s.Send(command));
    Bytes expected = FakeBackend::ResponseFor(command, 0);
    auto response = s.Recv(expected.size());
    ASSERT_TRUE(response);
    EXPECT_EQ(*response, expected);
  }
  // A session-tagged command too.
  Bytes with_sessions = SampleCommand(0x01, 4);
  with_sessions[1] = 0x02;
  ASSERT_TRUE(s.Send(with_sessions));
  auto response = s.Recv(FakeBackend::ResponseFor(with_sessions, 0).size());
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, FakeBackend::ResponseFor(with_sessions, 0));
}

TEST_F(MssimServerTest, RawCommandSizeOutOfRangeCloses) {
  {
    TestSocket s(cmd_port());
    Bytes huge = {0x80, 0x01, 0x7F, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0x7B};
    ASSERT_TRUE(s.Send(huge));
    EXPECT_TRUE(s.WaitClosed());
  }
  {
    TestSocket s(cmd_port());
    Bytes tiny = {0x80, 0x01, 0x00, 0x00, 0x00, 0x04};
    ASSERT_TRUE(s.Send(tiny));
    EXPECT_TRUE(s.WaitClosed());
  }
  EXPECT_TRUE(backend_.commands().empty());
}

TEST_F(MssimServerTest, HandshakeAnswersVersionAndFlags) {
  TestSocket s(cmd_port());
  ASSERT_TRUE(s.SendU32(code::kRemoteHandshake));
  ASSERT_TRUE(s.SendU32(1));
  EXPECT_EQ(s.RecvU32(), 1u);
  EXPECT_EQ(s.RecvU32(), kFlagPlatformAvailable | kFlagRawMode | kFlagSupportsPp);
  EXPECT_EQ(s.RecvU32(), 0u);
  // The connection stays usable.
  EXPECT_TRUE(RoundTrip(s, SampleCommand()));
}

TEST_F(MssimServerTest, HashSignalsReachTheBackendAndAnswerZero) {
  TestSocket s(cmd_port());
  ASSERT_TRUE(s.SendU32(code::kHashStart));
  EXPECT_EQ(s.RecvU32(), 0u);
  Bytes data;
  AppendBe32(data, code::kHashData);
  AppendBe32(data, 5);
  data.insert(data.end(), {1, 2, 3, 4, 5});
  ASSERT_TRUE(s.Send(data));
  EXPECT_EQ(s.RecvU32(), 0u);
  ASSERT_TRUE(s.SendU32(code::kHashEnd));
  EXPECT_EQ(s.RecvU32(), 0u);
  ASSERT_TRUE(s.SendU32(code::kSetAlternativeResult));
  ASSERT_TRUE(s.SendU32(7));
  EXPECT_EQ(s.RecvU32(), 0u);
  EXPECT_TRUE(RoundTrip(s, SampleCommand()));
  EXPECT_EQ(backend_.hash_signals(), (std::vector<std::string>{"start", "data", "end"}));
  EXPECT_EQ(backend_.hash_data(), (Bytes{1, 2, 3, 4, 5}));
}

TEST_F(MssimServerTest, SessionEndClosesWithoutAnswer) {
  TestSocket s(cmd_port());
  ASSERT_TRUE(s.SendU32(code::kSessionEnd));
  EXPECT_TRUE(s.WaitClosed());
}

TEST_F(MssimServerTest, UnknownCommandPortCodeCloses) {
  TestSocket s(cmd_port());
  ASSERT_TRUE(s.SendU32(99));
  EXPECT_TRUE(s.WaitClosed());
  TestSocket again(cmd_port());
  EXPECT_TRUE(RoundTrip(again, SampleCommand()));
}

TEST_F(MssimServerTest, OversizedLengthClosesWithoutCrash) {
  {
    TestSocket s(cmd_port());
    Bytes frame;
    AppendBe32(frame, code::kSendCommand);
    frame.push_back(0);
    AppendBe32(frame, 0xFFFFFFFF);
    ASSERT_TRUE(s.Send(frame));
    EXPECT_TRUE(s.WaitClosed());
  }
  {
    TestSocket s(cmd_port());
    Bytes frame;
    AppendBe32(frame, code::kSendCommand);
    frame.push_back(0);
    AppendBe32(frame, static_cast<uint32_t>(ServerOptions{}.max_command_size + 1));
    ASSERT_TRUE(s.Send(frame));
    EXPECT_TRUE(s.WaitClosed());
  }
  {
    TestSocket s(cmd_port());
    Bytes frame;
    AppendBe32(frame, code::kHashData);
    AppendBe32(frame, 0x10000000);
    ASSERT_TRUE(s.Send(frame));
    EXPECT_TRUE(s.WaitClosed());
  }
  EXPECT_TRUE(backend_.commands().empty());
  TestSocket s(cmd_port());
  EXPECT_TRUE(RoundTrip(s, SampleCommand()));
}

TEST_F(MssimServerTest, PlatformCodesReachTheBackend) {
  TestSocket p(plat_port());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(Platform(p, code::kPowerOn), 0u);
  EXPECT_EQ(backend_.power_on_calls(), 1);
  EXPECT_EQ(Platform(p, code::kNvOn), 0u);
  EXPECT_TRUE(backend_.nv_on());
  EXPECT_EQ(Platform(p, code::kNvOff), 0u);
  EXPECT_FALSE(backend_.nv_on());
  EXPECT_EQ(Platform(p, code::kPhysPresOn), 0u);
  EXPECT_TRUE(backend_.pp_on());
  EXPECT_EQ(Platform(p, code::kPhysPresOff), 0u);
  EXPECT_FALSE(backend_.pp_on());
  EXPECT_EQ(Platform(p, code::kCancelOn), 0u);
  EXPECT_TRUE(backend_.cancel_on());
  EXPECT_EQ(Platform(p, code::kCancelOff), 0u);
  EXPECT_FALSE(backend_.cancel_on());
  EXPECT_EQ(Platform(p, code::kReset), 0u);
  EXPECT_EQ(Platform(p, code::kRestart), 0u);
  EXPECT_EQ(backend_.reset_calls(), 2);
  EXPECT_EQ(Platform(p, code::kPowerOff), 0u);
  EXPECT_FALSE(backend_.IsPoweredOn());
  // Reset while powered off does nothing.
  EXPECT_EQ(Platform(p, code::kReset), 0u);
  EXPECT_EQ(backend_.reset_calls(), 2);
  EXPECT_EQ(Platform(p, code::kPowerOn), 0u);
  EXPECT_TRUE(backend_.IsPoweredOn());
  EXPECT_EQ(Platform(p, code::kSessionEnd), 0u);
  EXPECT_TRUE(p.WaitClosed());
}

TEST_F(MssimServerTest, PoweredOffSendCommandAnswersZeroLength) {
  TestSocket p(plat_port());
  EXPECT_EQ(Platform(p, code::kPowerOff), 0u);
  TestSocket s(cmd_port());
  ASSERT_TRUE(s.Send(SendCommandFrame(SampleCommand(), 0)));
  EXPECT_EQ(s.RecvU32(), 0u);  // rlen
  EXPECT_EQ(s.RecvU32(), 0u);  // trailer
  EXPECT_TRUE(backend_.commands().empty());
  EXPECT_EQ(Platform(p, code::kPowerOn), 0u);
  EXPECT_TRUE(RoundTrip(s, SampleCommand()));
}

TEST_F(MssimServerTest, UnknownPlatformCodeAnswersOneAndCloses) {
  TestSocket p(plat_port());
  EXPECT_EQ(Platform(p, 0x12345), 1u);
  EXPECT_TRUE(p.WaitClosed());
  TestSocket again(plat_port());
  EXPECT_EQ(Platform(again, code::kPowerOn), 0u);
}

TEST_F(MssimServerTest, StopOnEitherPortCallsOnStop) {
  {
    TestSocket s(cmd_port());
    ASSERT_TRUE(s.SendU32(code::kStop));
    EXPECT_TRUE(s.WaitClosed());
  }
  EXPECT_EQ(stops_.load(), 1);
  {
    TestSocket p(plat_port());
    EXPECT_EQ(Platform(p, code::kStop), 0u);
    EXPECT_TRUE(p.WaitClosed());
  }
  EXPECT_EQ(stops_.load(), 2);
}

TEST_F(MssimServerTest, HalfSentFrameDoesNotBlockOtherClients) {
  TestSocket stalled(cmd_port());
  Bytes partial;
  AppendBe32(partial, code::kSendCommand);
  partial.push_back(0);
  AppendBe32(partial, 100);
  partial.insert(partial.end(), 10, 0xAA);
  ASSERT_TRUE(stalled.Send(partial));
  TestSocket stalled_platform(plat_port());
  ASSERT_TRUE(stalled_platform.Send(Bytes{0, 0}));

  TestSocket s(cmd_port());
  EXPECT_TRUE(RoundTrip(s, SampleCommand()));
  TestSocket p(plat_port());
  EXPECT_EQ(Platform(p, code::kPowerOn), 0u);
}

TEST_F(MssimServerTest, GarbageOnBothPortsNeverBreaksTheServer) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    uint16_t port = (i % 2 == 0) ? cmd_port() : plat_port();
    TestSocket s(port, 2000);
    ASSERT_TRUE(s.ok()) << i;
    Bytes garbage(rng() % 300);
    for (auto& b : garbage) {
      b = static_cast<uint8_t>(rng());
    }
    // Some runs start with a valid code so the garbage lands inside a frame.
    if (i % 3 == 0 && garbage.size() >= 4) {
      uint32_t codes[] = {code::kSendCommand, code::kHashData, code::kRemoteHandshake};
      StoreBe32(garbage.data(), codes[rng() % 3]);
    }
    (void)s.Send(garbage);
    // Close straight away: half-read frames and resets must be handled.
  }
  TestSocket p(plat_port());
  ASSERT_EQ(Platform(p, code::kPowerOn), 0u);
  TestSocket s(cmd_port());
  Bytes command = SampleCommand();
  auto response = RoundTrip(s, command);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, FakeBackend::ResponseFor(command, 0));
}

TEST(MssimServerOptionsTest, StalledRequestTimesOut) {
  boost::asio::io_context io;
  FakeBackend backend;
  ServerOptions options;
  options.command_port = 0;
  options.frame_timeout = std::chrono::milliseconds(200);
  auto server = Server::Listen(io, backend, options);
  ASSERT_TRUE(server.ok()) << server.error().message();
  (*server)->Start();
  std::thread thread([&] { io.run(); });

  TestSocket idle((*server)->command_port(), 3000);
  TestSocket stalled((*server)->command_port(), 3000);
  Bytes partial;
  AppendBe32(partial, code::kSendCommand);
  partial.push_back(0);
  AppendBe32(partial, 100);
  ASSERT_TRUE(stalled.Send(partial));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(stalled.WaitClosed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // An idle connection (no request started) stays open and usable.
  ASSERT_TRUE(idle.Send(SendCommandFrame(SampleCommand(), 0)));
  auto len = idle.RecvU32();
  ASSERT_TRUE(len);
  EXPECT_TRUE(idle.Recv(*len));
  EXPECT_EQ(idle.RecvU32(), 0u);

  io.stop();
  thread.join();
}

TEST(MssimServerOptionsTest, BusyPortGivesClearError) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  uint16_t port = taken.local_endpoint().port();
  FakeBackend backend;
  ServerOptions options;
  options.command_port = port;
  auto server = Server::Listen(io, backend, options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().message(),
            "cannot listen on 127.0.0.1:" + std::to_string(port) + " (Address already in use)");
}

TEST(MssimServerOptionsTest, BusyPlatformPortGivesClearError) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  uint16_t busy = taken.local_endpoint().port();
  FakeBackend backend;
  ServerOptions options;
  options.command_port = static_cast<uint16_t>(busy - 1);
  auto server = Server::Listen(io, backend, options);
  ASSERT_FALSE(server.ok());
  // Either port may be the busy one if busy - 1 was taken too; the message names it.
  EXPECT_NE(server.error().message().find("(Address already in use)"), std::string::npos);
}

TEST(MssimServerOptionsTest, ExplicitPlatformPort) {
  boost::asio::io_context io;
  FakeBackend backend;
  ServerOptions options;
  options.command_port = 0;
  options.platform_port = 0;
  auto server = Server::Listen(io, backend, options);
  ASSERT_TRUE(server.ok()) << server.error().message();
  EXPECT_NE((*server)->platform_port(), 0);
}

TEST(MssimServerOptionsTest, StopWithoutHandlerClosesEverything) {
  boost::asio::io_context io;
  FakeBackend backend;
  ServerOptions options;
  options.command_port = 0;
  auto server = Server::Listen(io, backend, options);
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  std::thread thread([&] { io.run(); });
  TestSocket other((*server)->platform_port());
  ASSERT_TRUE(other.ok());
  {
    TestSocket s((*server)->command_port());
    ASSERT_TRUE(s.SendU32(code::kStop));
    EXPECT_TRUE(s.WaitClosed());
  }
  EXPECT_TRUE(other.WaitClosed());
  // With every handler gone, run() returns by itself.
  thread.join();
}

}  // namespace
}  // namespace tpm2emu::mssim
