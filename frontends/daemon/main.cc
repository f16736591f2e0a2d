// tpm2emu: the daemon's entry point. See cli.h for the command line.

#include <signal.h>

#include <cstdio>
#include <exception>
#include <span>

#include "frontends/daemon/cli.h"
#include "frontends/daemon/ek_cert.h"
#include "frontends/daemon/serve.h"

int main(int argc, char** argv) {
  using tpm2emu::daemon::Action;
  // A client that disconnects must not kill us through a write.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    auto invocation = tpm2emu::daemon::ParseCommandLine(
        std::span<const char* const>(argv + 1, static_cast<size_t>(argc > 0 ? argc - 1 : 0)));
    if (!invocation.ok()) {
      std::fprintf(stderr, "tpm2emu: %s\n", invocation.error().message().c_str());
      return 2;
    }
    switch (invocation->action) {
      case Action::kHelp:
        std::fputs(tpm2emu::daemon::HelpText().c_str(), stdout);
        return 0;
      case Action::kServeHelp:
        std::fputs(tpm2emu::daemon::ServeHelpText().c_str(), stdout);
        return 0;
      case Action::kVersion:
        std::fputs(tpm2emu::daemon::VersionText().c_str(), stdout);
        return 0;
      case Action::kServe:
        return tpm2emu::daemon::RunServe(invocation->serve);
      case Action::kEkCertHelp:
        std::fputs(tpm2emu::daemon::EkCertHelpText().c_str(), stdout);
        return 0;
      case Action::kEkCert:
        return tpm2emu::daemon::RunEkCert(invocation->ek_cert);
    }
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tpm2emu: internal error: %s\n", e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "tpm2emu: internal error\n");
    return 1;
  }
}
