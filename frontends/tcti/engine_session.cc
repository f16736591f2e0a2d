#include "frontends/tcti/engine_session.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>

#include <openssl/crypto.h>

#include "engine/host.h"
#include "engine/tpm_api.h"
#include "frontends/backend/engine_backend.h"
#include "frontends/backend/volatile_file.h"
#include "nvstore/store.h"

namespace tpm2emu::tcti {
namespace {

class EngineSession final : public Session {
 public:
  explicit EngineSession(std::string dir) : dir_(std::move(dir)) {}

  Status Open() {
    if (dir_.empty()) {
      store_ = nvstore::NewMemoryStore();
    } else {
      nvstore::DirStoreOptions options;
      options.lock = true;
      options.wait_for_lock = true;
      TRY_ASSIGN(store_, nvstore::OpenDirStore(dir_, options));
    }
    TRY_ASSIGN(auto tpm, engine::CreateTpm(*store_, clock_, entropy_));
    backend_ = std::make_unique<backend::EngineBackend>(std::move(tpm));
    if (!dir_.empty()) {
      auto saved = backend::TakeVolatileFile(dir_);
      if (!saved.ok() && saved.error().code() != StatusCode::kCorrupt) {
        return saved.error();
      }
      if (!saved.ok()) {
        Warn(saved.error().message() + "; starting with a power-cycled TPM");
      } else if (saved->has_value()) {
        Status restored = backend_->RestoreState(backend::StateBlob::kVolatile, **saved);
        if (restored.ok()) {
          return Status::Ok();
        }
        Warn("cannot resume the saved volatile TPM state (" + restored.message() +
             "); starting with a power-cycled TPM");
      }
    }
    return backend_->PowerOn();
  }

  backend::Backend& backend() override { return *backend_; }

  Status Close() override {
    // Flush first: it records Clock in NV, and the volatile snapshot taken after it then holds
    // a Clock and a Time read at the same moment. The other way round, the time spent writing
    // the snapshot would count towards Clock but not Time at every hand-off.
    Status flushed = backend_->Flush();
    Status saved = Status::Ok();
    if (!dir_.empty() && backend_->IsPoweredOn()) {
      auto blob = backend_->SaveState(backend::StateBlob::kVolatile);
      saved = blob.ok() ? backend::WriteVolatileFile(dir_, *blob) : blob.error();
    }
    return saved.ok() ? flushed : saved;
  }

 private:
  static void Warn(const std::string& message) {
    std::fprintf(stderr, "tcti-tpm2emu: warning: %s\n", message.c_str());
  }

  std::string dir_;
  // Declared before backend_: the TPM must go first.
  std::unique_ptr<nvstore::Store> store_;
  engine::SteadyClock clock_;
  engine::OsEntropy entropy_;
  std::unique_ptr<backend::EngineBackend> backend_;
};

void CloseSessionsAtExit() {
  CloseAllSessions();
}

// tpm2-tools (and others) finalize their TCTI from an atexit handler. OpenSSL cleans itself up
// from an atexit handler too, and atexit handlers run in reverse order of registration: make
// sure OpenSSL has registered its handler, then register ours, so ours runs first and saves and
// releases every TPM while OpenSSL is still usable.
void OrderExitHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Options 0 would return early without initializing anything; with a real option either
    // an earlier initialization (which registered OpenSSL's handler) covered it, or this call
    // registers the handler now.
    OPENSSL_init_crypto(OPENSSL_INIT_ADD_ALL_DIGESTS, nullptr);
    if (std::atexit(CloseSessionsAtExit) != 0) {
      std::fprintf(stderr, "tcti-tpm2emu: warning: cannot register the exit handler\n");
    }
  });
}

}  // namespace

StatusOr<std::unique_ptr<Session>> OpenEngineSession(std::string_view config) {
  OrderExitHandlers();
  auto session = std::make_unique<EngineSession>(std::string(config));
  TRY(session->Open());
  return std::unique_ptr<Session>(std::move(session));
}

}  // namespace tpm2emu::tcti
