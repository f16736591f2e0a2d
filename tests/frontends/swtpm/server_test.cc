#include "frontends/swtpm/server.h"

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "engine/base/endian.h"
#include "tests/frontends/fake_backend.h"
#include "tests/frontends/server_fixture.h"
#include "tests/frontends/test_socket.h"

namespace tpm2emu::swtpm {
namespace {

using testing::FakeBackend;
using testing::TestSocket;

Bytes Command(size_t size, uint8_t fill = 0x22) {
  Bytes c;
  AppendBe16(c, 0x8001);
  AppendBe32(c, static_cast<uint32_t>(size));
  AppendBe32(c, 0x0000017B);
  c.resize(size, fill);
  return c;
}

// A control message: the code, then body words and bytes as given.
Bytes Ctrl(uint32_t request, std::vector<uint32_t> words = {}, Bytes tail = {}) {
  Bytes m;
  AppendBe32(m, request);
  for (uint32_t w : words) {
    AppendBe32(m, w);
  }
  m.insert(m.end(), tail.begin(), tail.end());
  return m;
}

Bytes Words(std::vector<uint32_t> words) {
  Bytes b;
  for (uint32_t w : words) {
    AppendBe32(b, w);
  }
  return b;
}

class SwtpmServerTest
    : public testing::ServerFixture<Server, ServerOptions, &ServerOptions::data_port> {
 protected:
  uint16_t data_port() const { return server_->data_port(); }
  uint16_t ctrl_port() const { return server_->ctrl_port(); }

  // Sends a control message and reads `answer_size` bytes of answer.
  std::optional<Bytes> Control(TestSocket& s, const Bytes& message, size_t answer_size = 4) {
    if (!s.Send(message)) {
      return std::nullopt;
    }
    return s.Recv(answer_size);
  }
  std::optional<Bytes> Control(const Bytes& message, size_t answer_size = 4) {
    TestSocket s(ctrl_port());
    return Control(s, message, answer_size);
  }

  // One command on a fresh data connection, as the swtpm TCTI sends it.
  std::optional<Bytes> Execute(const Bytes& command) {
    TestSocket s(data_port());
    if (!s.Send(command)) {
      return std::nullopt;
    }
    auto head = s.Recv(6);
    if (!head) {
      return std::nullopt;
    }
    auto rest = s.Recv(LoadBe32(head->data() + 2) - 6);
    if (!rest) {
      return std::nullopt;
    }
    head->insert(head->end(), rest->begin(), rest->end());
    return head;
  }
};

TEST_F(SwtpmServerTest, PortZeroBindsDataAndControlPorts) {
  EXPECT_NE(data_port(), 0);
  EXPECT_NE(ctrl_port(), 0);
  EXPECT_NE(data_port(), ctrl_port());
  EXPECT_EQ(server_->data_endpoint(), "127.0.0.1:" + std::to_string(data_port()));
  EXPECT_EQ(server_->ctrl_endpoint(), "127.0.0.1:" + std::to_string(ctrl_port()));
}

TEST_F(SwtpmServerTest, DataPortAnswersBareResponses) {
  Bytes command = Command(12);
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 0));
  // A kept connection takes more commands.
  TestSocket s(data_port());
  for (size_t size = 10; size < 40; ++size) {
    Bytes c = Command(size, static_cast<uint8_t>(size));
    ASSERT_TRUE(s.Send(c));
    Bytes expected = FakeBackend::ResponseFor(c, 0);
    EXPECT_EQ(s.Recv(expected.size()), expected) << size;
  }
  EXPECT_EQ(backend_.commands().size(), 31u);
}

TEST_F(SwtpmServerTest, GetCapabilityReportsExactlyTheImplementedCodes) {
  EXPECT_EQ(Control(Ctrl(code::kGetCapability), 8), Words({0, 0x00002FFF}));
  EXPECT_EQ(kCapabilities, 0x00002FFFu);
  EXPECT_EQ(kCapabilities &
                (cap::kSetDataFd | cap::kGetInfo | cap::kSendCommandHeader | cap::kLockStorage),
            0u);
}

TEST_F(SwtpmServerTest, SetLocalityAppliesToLaterCommandsOnAnyConnection) {
  Bytes one_byte = Ctrl(code::kSetLocality, {}, {3});
  EXPECT_EQ(Control(one_byte), Words({result::kOk}));
  Bytes command = Command(10);
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 3));
  // QEMU pads the byte to a word.
  EXPECT_EQ(Control(Ctrl(code::kSetLocality, {}, {4, 0, 0, 0})), Words({result::kOk}));
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 4));
  EXPECT_EQ(Control(Ctrl(code::kSetLocality, {}, {5})), Words({result::kBadLocality}));
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 4));
}

TEST_F(SwtpmServerTest, InitResetsWhenPoweredAndPowersOnOtherwise) {
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {0})), Words({result::kOk}));
  EXPECT_EQ(backend_.reset_calls(), 1);
  backend_.set_powered(false);
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {kInitDeleteVolatile})), Words({result::kOk}));
  EXPECT_EQ(backend_.power_on_calls(), 1);
  EXPECT_TRUE(backend_.IsPoweredOn());
}

TEST_F(SwtpmServerTest, StopPowersOffUntilInit) {
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kStop)), Words({result::kOk}));
  EXPECT_EQ(backend_.flush_calls(), 1);
  EXPECT_FALSE(backend_.IsPoweredOn());
  EXPECT_EQ(stops_, 0);  // the server keeps running
  Bytes failure = {0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01};
  EXPECT_EQ(Execute(Command(12)), failure);
  EXPECT_TRUE(backend_.commands().empty());
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {0})), Words({result::kOk}));
  Bytes command = Command(12);
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 0));
}

TEST_F(SwtpmServerTest, ShutdownAnswersThenStopsTheServer) {
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kShutdown)), Words({result::kOk}));
  EXPECT_TRUE(s.WaitClosed());
  EXPECT_EQ(stops_, 1);
  EXPECT_FALSE(backend_.IsPoweredOn());
  EXPECT_EQ(backend_.flush_calls(), 1);
}

TEST_F(SwtpmServerTest, GetTpmEstablishedAndReset) {
  EXPECT_EQ(Control(Ctrl(code::kGetTpmEstablished), 8), Words({0, 0}));
  EXPECT_EQ(Control(Ctrl(code::kResetTpmEstablished, {}, {3, 0, 0, 0})), Words({result::kOk}));
  EXPECT_EQ(Control(Ctrl(code::kResetTpmEstablished, {}, {7})), Words({result::kBadLocality}));
}

TEST_F(SwtpmServerTest, HashSequenceReachesTheBackend) {
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kHashStart)), Words({0}));
  EXPECT_EQ(Control(s, Ctrl(code::kHashData, {3}, {1, 2, 3})), Words({0}));
  EXPECT_EQ(Control(s, Ctrl(code::kHashEnd)), Words({0}));
  EXPECT_EQ(backend_.hash_signals(), (std::vector<std::string>{"start", "data", "end"}));
  EXPECT_EQ(backend_.hash_data(), (Bytes{1, 2, 3}));
  // More than a hash-data buffer: kSize, then the connection closes.
  EXPECT_EQ(Control(s, Ctrl(code::kHashData, {kMaxHashData + 1})), Words({result::kSize}));
  EXPECT_TRUE(s.WaitClosed());
}

TEST_F(SwtpmServerTest, CancelIsAcknowledgedAndLeavesNoCancelBehind) {
  EXPECT_EQ(Control(Ctrl(code::kCancelTpmCmd)), Words({0}));
  EXPECT_FALSE(backend_.cancel_on());
  Bytes command = Command(10);
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 0));
}

TEST_F(SwtpmServerTest, StateBlobRoundTrip) {
  backend_.set_volatile_blob({1, 2, 3, 4, 5});
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kGetStateBlob, {0, 2, 0}), 21), [] {
    Bytes b = Words({0, 0, 5, 5});
    b.insert(b.end(), {1, 2, 3, 4, 5});
    return b;
  }());
  EXPECT_EQ(Control(s, Ctrl(code::kGetStateBlob, {0, 2, 3}), 18), [] {
    Bytes b = Words({0, 0, 5, 2});
    b.insert(b.end(), {4, 5});
    return b;
  }());
  // The fake keeps only the volatile blob; the others are unsupported: a bad parameter.
  EXPECT_EQ(Control(s, Ctrl(code::kGetStateBlob, {0, 1, 0})), Words({result::kBadParameter}));
  EXPECT_EQ(Control(s, Ctrl(code::kGetStateBlob, {0, 9, 0})), Words({result::kBadParameter}));
  // Setting the volatile state needs a stopped TPM, and takes effect at INIT.
  EXPECT_EQ(Control(s, Ctrl(code::kSetStateBlob, {0, 2, 2}, {7, 8})), Words({result::kFail}));
  EXPECT_EQ(Control(s, Ctrl(code::kStop)), Words({0}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetStateBlob, {0, 2, 2}, {7, 8})), Words({0}));
  EXPECT_EQ(backend_.volatile_blob(), (Bytes{1, 2, 3, 4, 5}));
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {0})), Words({0}));
  EXPECT_EQ(backend_.volatile_blob(), (Bytes{7, 8}));
  EXPECT_TRUE(backend_.IsPoweredOn());
  EXPECT_EQ(Control(s, Ctrl(code::kSetStateBlob, {0, 1, 1}, {9})), Words({result::kBadParameter}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetStateBlob, {0, 4, 1}, {9})), Words({result::kBadParameter}));
  // Encrypted blobs need a key we do not have.
  EXPECT_EQ(Control(s, Ctrl(code::kSetStateBlob, {2, 2, 1}, {9})), Words({result::kBadParameter}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetStateBlob, {0, 2, 0xFFFFFFFF})), Words({result::kSize}));
  EXPECT_TRUE(s.WaitClosed());
}

TEST_F(SwtpmServerTest, StoreVolatileIsResumedByInitUnlessDeleted) {
  backend_.set_volatile_blob({4, 4});
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kStoreVolatile)), Words({0}));
  backend_.set_volatile_blob({5});
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {0})), Words({0}));
  EXPECT_EQ(backend_.volatile_blob(), (Bytes{4, 4}));
  EXPECT_EQ(backend_.reset_calls(), 0);
  EXPECT_EQ(Control(s, Ctrl(code::kStoreVolatile)), Words({0}));
  backend_.set_volatile_blob({5});
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {kInitDeleteVolatile})), Words({0}));
  EXPECT_EQ(backend_.volatile_blob(), (Bytes{5}));
  EXPECT_EQ(backend_.reset_calls(), 1);
}

TEST_F(SwtpmServerTest, GetConfigAndBufferSize) {
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kGetConfig), 8), Words({0, 0}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetBufferSize, {0}), 16), Words({0, 4096, 4096, 8192}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetBufferSize, {6000})), Words({result::kFail}));
  EXPECT_EQ(Control(s, Ctrl(code::kStop)), Words({0}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetBufferSize, {6000}), 16), Words({0, 6000, 4096, 8192}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetBufferSize, {100000}), 16), Words({0, 8192, 4096, 8192}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetBufferSize, {1}), 16), Words({0, 4096, 4096, 8192}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetBufferSize, {6000}), 16), Words({0, 6000, 4096, 8192}));
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {0})), Words({0}));
  Bytes big = Command(5000);
  EXPECT_EQ(Execute(big), FakeBackend::ResponseFor(big, 0));
}

TEST_F(SwtpmServerTest, UnsupportedAndUnknownCodesAnswerBadOrdinal) {
  TestSocket s(ctrl_port());
  for (uint32_t request :
       {code::kSetDataFd, code::kGetInfo, code::kLockStorage, 0u, 99u, 0xFFFFFFFFu}) {
    EXPECT_EQ(Control(s, Ctrl(request, {0, 0, 0})), Words({result::kBadOrdinal})) << request;
  }
  EXPECT_EQ(Control(s, Ctrl(code::kGetCapability), 8), Words({0, kCapabilities}));
}

TEST_F(SwtpmServerTest, MalformedDataFramesCloseTheConnection) {
  for (uint32_t size : {0u, 9u, 4097u, 0xFFFFFFFFu}) {
    TestSocket s(data_port());
    Bytes head;
    AppendBe16(head, 0x8001);
    AppendBe32(head, size);
    ASSERT_TRUE(s.Send(head));
    EXPECT_TRUE(s.WaitClosed()) << size;
  }
  EXPECT_TRUE(backend_.commands().empty());
  Bytes command = Command(10);
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 0));
}

TEST_F(SwtpmServerTest, TruncatedControlMessageDoesNotStopTheServer) {
  {
    TestSocket s(ctrl_port());
    ASSERT_TRUE(s.Send(Bytes{0, 0}));  // half a code, then gone
  }
  {
    TestSocket s(ctrl_port());
    ASSERT_TRUE(s.Send(Ctrl(code::kSetStateBlob, {0, 2, 100}, {1, 2})));  // short blob
  }
  EXPECT_EQ(Control(Ctrl(code::kGetCapability), 8), Words({0, kCapabilities}));
}

TEST_F(SwtpmServerTest, RandomMessagesNeverStopTheServer) {
  std::mt19937 rng(20261129);
  for (int i = 0; i < 400; ++i) {
    bool ctrl = i % 2 == 0;
    Bytes message;
    if (ctrl) {
      uint32_t request = static_cast<uint32_t>(rng());
      AppendBe32(message, i % 7 == 0 ? request : request % 22);
    } else {
      AppendBe16(message, i % 3 == 0 ? 0x8001 : static_cast<uint16_t>(rng()));
    }
    size_t len = rng() % 48;
    for (size_t j = 0; j < len; ++j) {
      message.push_back(static_cast<uint8_t>(rng()));
    }
    TestSocket s(ctrl ? ctrl_port() : data_port());
    ASSERT_TRUE(s.ok());
    (void)s.Send(message);
    // Wait until the server is done with it, so the checks below come after every message.
    s.ShutdownWrite();
    EXPECT_TRUE(s.WaitClosed()) << i;
  }
  // Whatever state the messages left (stopped, another buffer size or locality), it recovers.
  TestSocket s(ctrl_port());
  EXPECT_EQ(Control(s, Ctrl(code::kGetCapability), 8), Words({0, kCapabilities}));
  EXPECT_EQ(Control(s, Ctrl(code::kSetLocality, {}, {0})), Words({0}));
  EXPECT_EQ(Control(s, Ctrl(code::kInit, {1})), Words({0}));
  Bytes command = Command(10);
  EXPECT_EQ(Execute(command), FakeBackend::ResponseFor(command, 0));
}

TEST(SwtpmServerTimeoutTest, StalledMessageIsClosedAfterTheFrameTimeout) {
  boost::asio::io_context io;
  FakeBackend backend;
  ServerOptions options;
  options.data_port = 0;
  options.frame_timeout = std::chrono::milliseconds(100);
  auto server = Server::Listen(io, backend, options);
  ASSERT_TRUE(server.ok());
  (*server)->Start();
  std::thread thread([&io] { io.run(); });
  {
    TestSocket ctrl((*server)->ctrl_port());
    ASSERT_TRUE(ctrl.Send(Ctrl(code::kInit)));  // no flags word
    EXPECT_TRUE(ctrl.WaitClosed());
    TestSocket data((*server)->data_port());
    ASSERT_TRUE(data.Send(Bytes{0x80, 0x01, 0, 0}));
    EXPECT_TRUE(data.WaitClosed());
  }
  boost::asio::post(io, [&server] { (*server)->Stop(); });
  io.stop();
  thread.join();
  EXPECT_EQ(backend.reset_calls(), 0);
}

}  // namespace
}  // namespace tpm2emu::swtpm
