#include "frontends/tcti/engine_session.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include <openssl/crypto.h>

#include "engine/host.h"
#include "engine/tpm_api.h"
#include "frontends/backend/engine_backend.h"
#include "frontends/backend/state_key.h"
#include "frontends/backend/volatile_file.h"
#include "frontends/tcti/tcti_config.h"
#include "nvstore/record_format.h"
#include "nvstore/store.h"

namespace tpm2emu::tcti {
namespace {

static_assert(backend::kStateKeyBytes == nvstore::kStateKeySize);

// The record that holds the volatile blob inside an encrypted image (nvstore/record_format.h).
constexpr char kVolatileRecord[] = "volatile";

class EngineSession final : public Session {
 public:
  explicit EngineSession(TctiConfig config) : config_(std::move(config)), dir_(config_.dir) {}

  Status Open() {
    if (dir_.empty()) {
      store_ = nvstore::NewMemoryStore();
    } else {
      nvstore::DirStoreOptions options;
      options.lock = true;
      options.wait_for_lock = true;
      options.keep_backup = config_.state_backup;
      if (!config_.state_key_file.empty()) {
        TRY_ASSIGN(options.key, backend::ReadStateKeyFile(config_.state_key_file));
        key_ = options.key;
      }
      TRY_ASSIGN(store_, nvstore::OpenDirStore(dir_, options));
    }
    TRY_ASSIGN(auto tpm, engine::CreateTpm(*store_, clock_, entropy_));
    backend_ = std::make_unique<backend::EngineBackend>(std::move(tpm));
    if (!dir_.empty()) {
      auto saved = TakeVolatile();
      if (!saved.ok() && saved.error().code() != StatusCode::kCorrupt &&
          saved.error().code() != StatusCode::kFailedPrecondition) {
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
      saved = blob.ok() ? WriteVolatile(*blob) : blob.error();
    }
    return saved.ok() ? flushed : saved;
  }

 private:
  // With a state key, the volatile hand-off is encrypted like the state: it holds the null
  // seed and proof, session keys and the sensitive areas of loaded objects.
  Status WriteVolatile(const Bytes& blob) {
    if (!key_) {
      return backend::WriteVolatileFile(dir_, blob);
    }
    nvstore::State state;
    state.records[kVolatileRecord] = blob;
    std::array<uint8_t, nvstore::kStateNonceSize> nonce{};
    entropy_.Fill(nonce);
    TRY_ASSIGN(Bytes image, nvstore::EncodeEncryptedState(state, *key_, nonce));
    return backend::WriteVolatileFile(dir_, image);
  }
  // The saved volatile blob, if any; kCorrupt or kFailedPrecondition (another key, or not
  // encrypted) when it cannot be used.
  StatusOr<std::optional<Bytes>> TakeVolatile() {
    TRY_ASSIGN(std::optional<Bytes> saved, backend::TakeVolatileFile(dir_));
    if (!saved || !key_) {
      return saved;
    }
    std::string file = dir_ + "/" + backend::kVolatileFileName;
    auto state = nvstore::DecodeEncryptedState(*saved, *key_);
    if (!state.ok()) {
      return Status(state.error().code(), file + " " + state.error().message());
    }
    auto it = state->records.find(kVolatileRecord);
    if (it == state->records.end() || state->records.size() != 1) {
      return CorruptError(file + " does not hold a volatile TPM state");
    }
    return std::optional<Bytes>(std::move(it->second));
  }

  static void Warn(const std::string& message) {
    std::fprintf(stderr, "tcti-tpm2emu: warning: %s\n", message.c_str());
  }

  TctiConfig config_;
  std::string dir_;
  std::optional<SecretBytes> key_;
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
  TRY_ASSIGN(TctiConfig parsed, ParseTctiConfig(config));
  auto session = std::make_unique<EngineSession>(std::move(parsed));
  TRY(session->Open());
  return std::unique_ptr<Session>(std::move(session));
}

}  // namespace tpm2emu::tcti
