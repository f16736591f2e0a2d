#include "frontends/daemon/ek_cert.h"

#include <cstdio>
#include <string>
#include <utility>

#include "ekca/ca.h"
#include "ekca/provision.h"
#include "engine/host.h"
#include "frontends/backend/engine_backend.h"
#include "frontends/daemon/state.h"

namespace tpm2emu::daemon {
int RunEkCert(const EkCertOptions& options) {
  // The CA first: a CA problem should not leave the TPM started for nothing.
  auto ca = ekca::LocalCa::Open(options.ca_dir);
  if (!ca.ok()) {
    std::string message = ca.error().message();
    if (message.find(options.ca_dir) == std::string::npos) {
      message = "CA directory " + options.ca_dir + ": " + message;
    }
    return Fail("ek-cert: " + message);
  }
  auto store = OpenLockedState(options.state_dir, /*keep_backup=*/false, options.state_key_file);
  if (!store.ok()) {
    return Fail("ek-cert: " + store.error().message());
  }
  engine::SteadyClock clock;
  engine::OsEntropy entropy;
  auto tpm = StartTpm(**store, clock, entropy, options.state_dir, options.state_key_file);
  if (!tpm.ok()) {
    return Fail("ek-cert: " + tpm.error().message());
  }
  backend::EngineBackend& backend = **tpm;
  Status started = ekca::StartupClear(backend);
  if (!started.ok()) {
    return Fail("ek-cert: " + started.message());
  }

  auto provisioned = ekca::ProvisionEkCertificates(backend, *ca, options.force);
  // Shut down orderly whatever happened, so the state is saved as a clean stop.
  Status shutdown = ekca::ShutdownClear(backend);
  Status flushed = backend.Flush();
  if (!provisioned.ok()) {
    return Fail("ek-cert: " + provisioned.error().message());
  }
  if (!shutdown.ok()) {
    return Fail("ek-cert: " + shutdown.message());
  }
  if (!flushed.ok()) {
    return Fail("ek-cert: cannot save the TPM state: " + flushed.message());
  }
  for (const ekca::ProvisionedEk& ek : *provisioned) {
    std::printf("tpm2emu: %s EK certificate (%zu bytes) %s NV index 0x%08X\n", ek.key_type.c_str(),
                ek.certificate.size(), ek.replaced ? "replaced in" : "written to", ek.nv_index);
  }
  std::printf("tpm2emu: CA certificate %s\n", ca->certificate_path().c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace tpm2emu::daemon
