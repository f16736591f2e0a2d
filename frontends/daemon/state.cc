#include "frontends/daemon/state.h"

#include <cstdio>
#include <utility>

#include "engine/tpm_api.h"
#include "frontends/backend/state_key.h"
#include "frontends/backend/volatile_file.h"

namespace tpm2emu::daemon {

static_assert(backend::kStateKeyBytes == nvstore::kStateKeySize);

std::string StateError(const std::string& dir, const std::string& key_file, const Status& status) {
  std::string message = status.message();
  if (message.find(dir) == std::string::npos) {
    message = "state directory " + dir + ": " + message;
  }
  // The state key does not fit the state (nvstore::DirStoreOptions::key).
  if (status.code() == StatusCode::kFailedPrecondition) {
    message += key_file.empty() ? " (give its key with --state-key FILE)"
                                : " (--state-key " + key_file + ")";
  }
  return message;
}

StatusOr<std::unique_ptr<nvstore::Store>> OpenLockedState(const std::string& dir, bool keep_backup,
                                                          const std::string& key_file) {
  nvstore::DirStoreOptions store_options;
  store_options.keep_backup = keep_backup;
  store_options.lock = true;
  store_options.wait_for_lock = false;  // a second process on the same state is refused
  if (!key_file.empty()) {
    auto key = backend::ReadStateKeyFile(key_file);
    if (!key.ok()) {
      return Status(key.error().code(), key.error().message());
    }
    store_options.key = std::move(*key);
  }
  auto opened = nvstore::OpenDirStore(dir, store_options);
  if (!opened.ok()) {
    return Status(opened.error().code(), StateError(dir, key_file, opened.error()));
  }
  return std::move(*opened);
}

StatusOr<std::unique_ptr<backend::EngineBackend>> StartTpm(nvstore::Store& store,
                                                           engine::Clock& clock,
                                                           engine::EntropySource& entropy,
                                                           const std::string& dir,
                                                           const std::string& key_file) {
  auto tpm = engine::CreateTpm(store, clock, entropy);
  if (!tpm.ok()) {
    return Status(tpm.error().code(), StateError(dir, key_file, tpm.error()));
  }
  auto backend = std::make_unique<backend::EngineBackend>(std::move(*tpm));
  if (!dir.empty()) {
    TRY(backend::RemoveVolatileFile(dir));
  }
  Status powered = backend->PowerOn();
  if (!powered.ok()) {
    return Status(powered.code(), "cannot power the TPM on: " + powered.message());
  }
  return backend;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "tpm2emu: %s\n", message.c_str());
  return 1;
}

}  // namespace tpm2emu::daemon
