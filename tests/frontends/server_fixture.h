#pragma once
// A GoogleTest fixture for the socket frontends (mssim::Server, swtpm::Server): the server on
// 127.0.0.1 with free ports over a FakeBackend, its io_context run on a thread of its own;
// STOP / SHUTDOWN (on_stop) only count in stops_. `kPort` is the option naming the first port.

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

#include "tests/frontends/fake_backend.h"

namespace tpm2emu::testing {

template <typename ServerT, typename OptionsT, uint16_t OptionsT::*kPort>
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(OptionsT options) {
    options.host = "127.0.0.1";
    options.*kPort = 0;
    options.on_stop = [this] { ++stops_; };
    auto server = ServerT::Listen(io_, backend_, std::move(options));
    ASSERT_TRUE(server.ok()) << server.error().message();
    server_ = std::move(*server);
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) {
      boost::asio::post(io_, [this] { server_->Stop(); });
    }
    io_.stop();
    if (thread_.joinable()) {
      thread_.join();
    }
    server_.reset();
  }

  boost::asio::io_context io_;
  FakeBackend backend_;
  std::unique_ptr<ServerT> server_;
  std::thread thread_;
  std::atomic<int> stops_ = 0;
};

}  // namespace tpm2emu::testing
