#pragma once
// The tpm2emu command line, parsed by hand (it is small):
//
//   tpm2emu --help | --version
//   tpm2emu serve [--state DIR | --ephemeral] [--state-backup] [--state-key FILE]
//                 [--mssim HOST:PORT] [--swtpm HOST:PORT] [--log-level error|warn|info|debug]
//   tpm2emu ek-cert --state DIR --ca-dir DIR [--state-key FILE] [--force]
//
// Options take their value as the next argument or after '='. Errors are InvalidArgument with
// the text to print after "tpm2emu: ".

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "engine/base/status.h"
#include "frontends/backend/log.h"

namespace tpm2emu::daemon {

inline constexpr char kDefaultStateDir[] = "./tpm2emu-state";
inline constexpr char kDefaultHost[] = "127.0.0.1";
inline constexpr uint16_t kDefaultPort = 2321;

struct ServeOptions {
  std::string state_dir = kDefaultStateDir;
  bool ephemeral = false;      // in-memory TPM, nothing written
  bool state_backup = false;   // DirStoreOptions::keep_backup
  std::string state_key_file;  // DirStoreOptions::key from this file (state_key.h); empty: none
  std::string host = kDefaultHost;
  uint16_t port = kDefaultPort;        // command port; platform = port + 1 (both ephemeral for 0)
  bool mssim = true;                   // false when only --swtpm was given
  std::string swtpm_host;              // with swtpm_port, from --swtpm
  std::optional<uint16_t> swtpm_port;  // data port; control = port + 1; nullopt: no swtpm
  backend::LogLevel log_level = backend::LogLevel::kWarn;
};

// `tpm2emu ek-cert`: EK certificates from a local CA into the TPM's NV (ekca/).
struct EkCertOptions {
  std::string state_dir;       // required
  std::string ca_dir;          // required; ekca::LocalCa::Open
  std::string state_key_file;  // as ServeOptions::state_key_file
  bool force = false;          // replace existing certificate indices
};

enum class Action { kHelp, kServeHelp, kVersion, kServe, kEkCertHelp, kEkCert };

struct Invocation {
  Action action = Action::kHelp;
  ServeOptions serve;
  EkCertOptions ek_cert;
};

// `args` excludes the program name.
StatusOr<Invocation> ParseCommandLine(std::span<const char* const> args);

std::string HelpText();
std::string ServeHelpText();
std::string EkCertHelpText();
std::string VersionText();

}  // namespace tpm2emu::daemon
