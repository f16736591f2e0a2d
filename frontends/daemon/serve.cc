#include "frontends/daemon/serve.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "engine/host.h"
#include "frontends/backend/engine_backend.h"
#include "frontends/backend/log.h"
#include "frontends/daemon/state.h"
#include "frontends/mssim/server.h"
#include "frontends/swtpm/server.h"
#include "nvstore/store.h"

namespace tpm2emu::daemon {
int RunServe(const ServeOptions& options) {
  backend::Logger logger(options.log_level);

  std::unique_ptr<nvstore::Store> store;
  if (options.ephemeral) {
    store = nvstore::NewMemoryStore();
  } else {
    auto opened = OpenLockedState(options.state_dir, options.state_backup, options.state_key_file);
    if (!opened.ok()) {
      return Fail(opened.error().message());
    }
    store = std::move(*opened);
  }

  engine::SteadyClock clock;
  engine::OsEntropy entropy;
  auto started = StartTpm(*store, clock, entropy, options.ephemeral ? "" : options.state_dir,
                          options.state_key_file);
  if (!started.ok()) {
    return Fail(started.error().message());
  }
  backend::EngineBackend& backend = **started;

  boost::asio::io_context io(1);
  std::unique_ptr<mssim::Server> mssim_server;
  if (options.mssim) {
    mssim::ServerOptions server_options;
    server_options.host = options.host;
    server_options.command_port = options.port;
    server_options.logger = &logger;
    server_options.on_stop = [&io, &logger] {
      logger.Info("stopping (mssim STOP)");
      io.stop();
    };
    auto server = mssim::Server::Listen(io, backend, std::move(server_options));
    if (!server.ok()) {
      return Fail(server.error().message());
    }
    mssim_server = std::move(*server);
  }
  std::unique_ptr<swtpm::Server> swtpm_server;
  if (options.swtpm_port) {
    swtpm::ServerOptions server_options;
    server_options.host = options.swtpm_host;
    server_options.data_port = *options.swtpm_port;
    server_options.logger = &logger;
    server_options.on_stop = [&io, &logger] {
      logger.Info("stopping (swtpm SHUTDOWN)");
      io.stop();
    };
    auto server = swtpm::Server::Listen(io, backend, std::move(server_options));
    if (!server.ok()) {
      return Fail(server.error().message());
    }
    swtpm_server = std::move(*server);
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io, &logger](const boost::system::error_code& ec, int signal_number) {
    if (!ec) {
      logger.Info(std::string("stopping (") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
                  ")");
      io.stop();
    }
  });
  std::string ready = "tpm2emu: ready";
  if (mssim_server) {
    mssim_server->Start();
    ready += " mssim=" + mssim_server->command_endpoint() +
             " platform=" + mssim_server->platform_endpoint();
  }
  if (swtpm_server) {
    swtpm_server->Start();
    ready += " swtpm=" + swtpm_server->data_endpoint() + " ctrl=" + swtpm_server->ctrl_endpoint();
  }
  ready += std::string(" state=") + (options.ephemeral ? "(ephemeral)" : options.state_dir);
  std::printf("%s\n", ready.c_str());
  std::fflush(stdout);

  io.run();

  // Close the listeners and connections and let their coroutines finish.
  if (mssim_server) {
    mssim_server->Stop();
  }
  if (swtpm_server) {
    swtpm_server->Stop();
  }
  boost::system::error_code ignored;
  signals.cancel(ignored);
  io.restart();
  io.run_for(std::chrono::milliseconds(500));

  Status flushed = backend.Flush();
  if (!flushed.ok()) {
    return Fail("cannot save the TPM state: " + flushed.message());
  }
  return 0;
}

}  // namespace tpm2emu::daemon
