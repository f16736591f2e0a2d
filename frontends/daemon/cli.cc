#include "frontends/daemon/cli.h"

#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#ifndef TPM2EMU_VERSION
#define TPM2EMU_VERSION "unknown"
#endif

namespace tpm2emu::daemon {
namespace {

Status UnknownOption(std::string_view arg) {
  return InvalidArgument("unknown option " + std::string(arg) + " (see tpm2emu --help)");
}

Status BadValue(std::string_view option, std::string_view value, std::string_view expected) {
  return InvalidArgument("bad value '" + std::string(value) + "' for " + std::string(option) +
                         " (expected " + std::string(expected) + ")");
}

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// HOST:PORT for `option`, HOST may be [IPv6]. The second port is PORT + 1, so PORT stops at
// 65534.
StatusOr<HostPort> ParseHostPort(std::string_view option, std::string_view value) {
  constexpr std::string_view kExpected = "HOST:PORT, PORT 0-65534";
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    return BadValue(option, value, kExpected);
  }
  std::string_view host = value.substr(0, colon);
  std::string_view port_text = value.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return BadValue(option, value, "HOST:PORT, an IPv6 host in brackets");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port > 65534) {
    return BadValue(option, value, kExpected);
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

// One option at a time: `--name value`, `--name=value` or a flag, for the subcommand `command`.
class OptionCursor {
 public:
  OptionCursor(std::span<const char* const> args, std::string_view command)
      : args_(args), command_(command) {}

  // Moves to the next argument; false at the end.
  bool Next() {
    if (++i_ >= args_.size()) {
      return false;
    }
    arg_ = args_[i_];
    name_ = arg_;
    inline_value_.reset();
    if (arg_.starts_with("--")) {
      size_t eq = arg_.find('=');
      if (eq != std::string_view::npos) {
        name_ = arg_.substr(0, eq);
        inline_value_ = arg_.substr(eq + 1);
      }
    }
    return true;
  }
  std::string_view arg() const { return arg_; }
  std::string_view name() const { return name_; }
  bool IsHelp() const { return name_ == "-h" || name_ == "--help"; }

  StatusOr<std::string_view> Value() {
    if (inline_value_) {
      return *inline_value_;
    }
    if (i_ + 1 >= args_.size()) {
      return InvalidArgument("option " + std::string(name_) + " needs a value (see tpm2emu " +
                             std::string(command_) + " --help)");
    }
    return std::string_view(args_[++i_]);
  }
  // A non-empty value: a file or directory name.
  StatusOr<std::string> PathValue(std::string_view expected) {
    TRY_ASSIGN(auto value, Value());
    if (value.empty()) {
      return BadValue(name_, value, expected);
    }
    return std::string(value);
  }
  Status NoValue() const {
    if (inline_value_) {
      return InvalidArgument("option " + std::string(name_) + " takes no value");
    }
    return Status::Ok();
  }
  // The error for an argument no option matched.
  Status Unexpected() const {
    if (arg_.starts_with("-")) {
      return UnknownOption(name_);
    }
    return InvalidArgument("unexpected argument '" + std::string(arg_) + "' (see tpm2emu " +
                           std::string(command_) + " --help)");
  }

 private:
  std::span<const char* const> args_;
  std::string_view command_;
  size_t i_ = static_cast<size_t>(-1);
  std::string_view arg_;
  std::string_view name_;
  std::optional<std::string_view> inline_value_;
};

StatusOr<ServeOptions> ParseServe(std::span<const char* const> args, bool& help) {
  ServeOptions out;
  bool state_given = false;
  bool mssim_given = false;
  OptionCursor opt(args, "serve");
  while (opt.Next()) {
    std::string_view name = opt.name();
    if (opt.IsHelp()) {
      help = true;
      return out;
    }
    if (name == "--state") {
      TRY_ASSIGN(out.state_dir, opt.PathValue("a directory"));
      state_given = true;
    } else if (name == "--ephemeral") {
      TRY(opt.NoValue());
      out.ephemeral = true;
    } else if (name == "--state-backup") {
      TRY(opt.NoValue());
      out.state_backup = true;
    } else if (name == "--state-key") {
      TRY_ASSIGN(out.state_key_file, opt.PathValue("a key file"));
    } else if (name == "--mssim") {
      TRY_ASSIGN(auto value, opt.Value());
      TRY_ASSIGN(auto endpoint, ParseHostPort(name, value));
      out.host = std::move(endpoint.host);
      out.port = endpoint.port;
      mssim_given = true;
    } else if (name == "--swtpm") {
      TRY_ASSIGN(auto value, opt.Value());
      TRY_ASSIGN(auto endpoint, ParseHostPort(name, value));
      out.swtpm_host = std::move(endpoint.host);
      out.swtpm_port = endpoint.port;
    } else if (name == "--log-level") {
      TRY_ASSIGN(auto value, opt.Value());
      auto level = backend::ParseLogLevel(value);
      if (!level) {
        return BadValue(name, value, "error, warn, info or debug");
      }
      out.log_level = *level;
    } else {
      return opt.Unexpected();
    }
  }
  if (out.ephemeral && (state_given || out.state_backup || !out.state_key_file.empty())) {
    return InvalidArgument(
        "--ephemeral keeps no state; it excludes --state, --state-backup and --state-key");
  }
  // --swtpm alone serves only the swtpm ports; with --mssim, both.
  out.mssim = mssim_given || !out.swtpm_port;
  return out;
}

StatusOr<EkCertOptions> ParseEkCert(std::span<const char* const> args, bool& help) {
  EkCertOptions out;
  OptionCursor opt(args, "ek-cert");
  while (opt.Next()) {
    std::string_view name = opt.name();
    if (opt.IsHelp()) {
      help = true;
      return out;
    }
    if (name == "--state") {
      TRY_ASSIGN(out.state_dir, opt.PathValue("a directory"));
    } else if (name == "--ca-dir") {
      TRY_ASSIGN(out.ca_dir, opt.PathValue("a directory"));
    } else if (name == "--state-key") {
      TRY_ASSIGN(out.state_key_file, opt.PathValue("a key file"));
    } else if (name == "--force") {
      TRY(opt.NoValue());
      out.force = true;
    } else {
      return opt.Unexpected();
    }
  }
  if (out.state_dir.empty()) {
    return InvalidArgument("ek-cert needs --state DIR, the TPM's state directory");
  }
  if (out.ca_dir.empty()) {
    return InvalidArgument("ek-cert needs --ca-dir DIR, the local CA's directory");
  }
  return out;
}

}  // namespace

StatusOr<Invocation> ParseCommandLine(std::span<const char* const> args) {
  Invocation inv;
  if (args.empty()) {
    return InvalidArgument("missing command (see tpm2emu --help)");
  }
  std::string_view first = args[0];
  if (first == "-h" || first == "--help" || first == "help") {
    inv.action = Action::kHelp;
    return inv;
  }
  if (first == "-V" || first == "--version") {
    inv.action = Action::kVersion;
    return inv;
  }
  if (first == "serve") {
    bool help = false;
    TRY_ASSIGN(inv.serve, ParseServe(args.subspan(1), help));
    inv.action = help ? Action::kServeHelp : Action::kServe;
    return inv;
  }
  if (first == "ek-cert") {
    bool help = false;
    TRY_ASSIGN(inv.ek_cert, ParseEkCert(args.subspan(1), help));
    inv.action = help ? Action::kEkCertHelp : Action::kEkCert;
    return inv;
  }
  if (first.starts_with("-")) {
    return UnknownOption(first);
  }
  return InvalidArgument("unknown command '" + std::string(first) + "' (see tpm2emu --help)");
}

std::string HelpText() {
  return "Usage: tpm2emu COMMAND [OPTIONS]\n"
         "\n"
         "A TPM 2.0 software emulator.\n"
         "\n"
         "Commands:\n"
         "  serve        run a TPM and serve it over the mssim (or swtpm) socket protocol\n"
         "               (see tpm2emu serve --help)\n"
         "  ek-cert      create the EKs and store certificates from a local CA in NV\n"
         "               (see tpm2emu ek-cert --help)\n"
         "\n"
         "Options:\n"
         "  -h, --help     show this help\n"
         "  -V, --version  show the version\n"
         "\n"
         "Without a daemon, TSS2 clients can load the TPM in-process: -T tpm2emu:<state dir>\n"
         "(libtss2-tcti-tpm2emu.so).\n";
}

std::string ServeHelpText() {
  return "Usage: tpm2emu serve [OPTIONS]\n"
         "\n"
         "Runs a TPM and serves it on an mssim command port and platform port (PORT + 1),\n"
         "as tpm2-tss's mssim TCTI expects (e.g. TPM2TOOLS_TCTI=mssim:port=2321). Prints\n"
         "  tpm2emu: ready mssim=HOST:PORT platform=HOST:PORT state=DIR\n"
         "once it accepts connections. SIGTERM or SIGINT stops it cleanly.\n"
         "\n"
         "Options:\n"
         "  --state DIR        the TPM's state directory, created if missing\n"
         "                     (default ./tpm2emu-state); one daemon per directory\n"
         "  --ephemeral        keep the TPM in memory only; nothing is written\n"
         "  --state-backup     keep the previous good state as a fallback\n"
         "  --state-key FILE   encrypt the state at rest (AES-256-GCM) with the key in FILE:\n"
         "                     32 raw bytes or 64 hex digits (openssl rand -hex 32), mode\n"
         "                     0600 or stricter; a state is always opened with the key it\n"
         "                     was created with, or without one if it was created without\n"
         "  --mssim HOST:PORT  where to listen (default 127.0.0.1:2321); PORT 0 picks free\n"
         "                     ports for both, printed on the ready line\n"
         "  --swtpm HOST:PORT  serve the swtpm protocol (swtpm socket mode: the data port\n"
         "                     PORT for bare TPM commands, the control channel on PORT + 1,\n"
         "                     e.g. TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=2331); without\n"
         "                     --mssim, only these ports are served. The ready line adds\n"
         "                     swtpm=HOST:PORT ctrl=HOST:PORT\n"
         "  --log-level LEVEL  error, warn, info or debug (default warn); logs go to stderr\n"
         "  -h, --help         show this help\n";
}

std::string EkCertHelpText() {
  return "Usage: tpm2emu ek-cert --state DIR --ca-dir DIR [OPTIONS]\n"
         "\n"
         "Provisions EK certificates (TCG EK Credential Profile): powers the TPM in DIR on,\n"
         "creates the default RSA 2048 and ECC NIST P-256 EKs (the templates tpm2_createek\n"
         "uses), has the local CA certify them and stores the certificates in the platform\n"
         "NV indices 0x01C00002 (RSA) and 0x01C0000A (ECC), where tpm2_getekcertificate and\n"
         "FAPI find them. Run it while no daemon uses the state directory.\n"
         "\n"
         "Options:\n"
         "  --state DIR        the TPM's state directory, created if missing\n"
         "  --ca-dir DIR       the local CA: ca-key.pem (ECDSA P-256, mode 0600) and\n"
         "                     ca-cert.pem, created (mode 0700) on first use and reused;\n"
         "                     verify EK certificates with -CAfile DIR/ca-cert.pem\n"
         "  --state-key FILE   the state's key, as for tpm2emu serve\n"
         "  --force            replace certificates already in the TPM (the EKs stay the\n"
         "                     same; the certificates are new)\n"
         "  -h, --help         show this help\n";
}

std::string VersionText() {
  return std::string("tpm2emu ") + TPM2EMU_VERSION + "\n";
}

}  // namespace tpm2emu::daemon
