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
#include "engine/tpm_api.h"
#include "frontends/backend/engine_backend.h"
#include "frontends/backend/log.h"
#include "frontends/backend/volatile_file.h"
#include "frontends/backend/state_key.h"
#include "frontends/mssim/server.h"
#include "nvstore/store.h"

namespace tpm2emu::daemon {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "tpm2emu: %s\n", message.c_str());
  return 1;
}

// The store's message, naming the directory if the store did not.
std::string StateError(const ServeOptions& options, const Status& status) {
  std::string message = status.message();
  if (message.find(options.state_dir) == std::string::npos) {
    message = "state directory " + options.state_dir + ": " + message;
  }
  // The state key does not fit the state (nvstore::DirStoreOptions::key).
  if (status.code() == StatusCode::kFailedPrecondition) {
    message += options.state_key_file.empty() ? " (give its key with --state-key FILE)"
                                              : " (--state-key " + options.state_key_file + ")";
  }
  return message;
}

static_assert(backend::kStateKeyBytes == nvstore::kStateKeySize);

}  // namespace

int RunServe(const ServeOptions& options) {
  backend::Logger logger(options.log_level);

  std::unique_ptr<nvstore::Store> store;
  if (options.ephemeral) {
    store = nvstore::NewMemoryStore();
  } else {
    nvstore::DirStoreOptions store_options;
    store_options.keep_backup = options.state_backup;
    store_options.lock = true;
    store_options.wait_for_lock = false;  // a second daemon on the same state is refused
    if (!options.state_key_file.empty()) {
      auto key = backend::ReadStateKeyFile(options.state_key_file);
      if (!key.ok()) {
        return Fail(key.error().message());
      }
      store_options.key = std::move(*key);
    }
    auto opened = nvstore::OpenDirStore(options.state_dir, store_options);
    if (!opened.ok()) {
      return Fail(StateError(options, opened.error()));
    }
    store = std::move(*opened);
  }

  engine::SteadyClock clock;
  engine::OsEntropy entropy;
  auto tpm = engine::CreateTpm(*store, clock, entropy);
  if (!tpm.ok()) {
    return Fail(StateError(options, tpm.error()));
  }
  backend::EngineBackend backend(std::move(*tpm));

  if (!options.ephemeral) {
    // We power the TPM up fresh, so a volatile state the in-process TCTI left is stale now.
    Status removed = backend::RemoveVolatileFile(options.state_dir);
    if (!removed.ok()) {
      return Fail(removed.message());
    }
  }
  // A simulator starts powered (clients send TPM2_Startup).
  Status powered = backend.PowerOn();
  if (!powered.ok()) {
    return Fail("cannot power the TPM on: " + powered.message());
  }

  boost::asio::io_context io(1);
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

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&io, &logger](const boost::system::error_code& ec, int signal_number) {
    if (!ec) {
      logger.Info(std::string("stopping (") + (signal_number == SIGINT ? "SIGINT" : "SIGTERM") +
                  ")");
      io.stop();
    }
  });
  (*server)->Start();

  std::printf("tpm2emu: ready mssim=%s platform=%s state=%s\n",
              (*server)->command_endpoint().c_str(), (*server)->platform_endpoint().c_str(),
              options.ephemeral ? "(ephemeral)" : options.state_dir.c_str());
  std::fflush(stdout);

  io.run();

  // Close the listeners and connections and let their coroutines finish.
  (*server)->Stop();
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
