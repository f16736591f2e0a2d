#include "frontends/daemon/cli.h"

#include <charconv>
#include <optional>
#include <string_view>

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

// HOST:PORT, HOST may be [IPv6]. The platform port is PORT + 1, so PORT stops at 65534.
Status ParseMssim(std::string_view value, ServeOptions& out) {
  constexpr std::string_view kExpected = "HOST:PORT, PORT 0-65534";
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    return BadValue("--mssim", value, kExpected);
  }
  std::string_view host = value.substr(0, colon);
  std::string_view port_text = value.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return BadValue("--mssim", value, "HOST:PORT, an IPv6 host in brackets");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (host.empty() || port_text.empty() || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port > 65534) {
    return BadValue("--mssim", value, kExpected);
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(port);
  return Status::Ok();
}

StatusOr<ServeOptions> ParseServe(std::span<const char* const> args, bool& help) {
  ServeOptions out;
  bool state_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::string_view name = arg;
    std::optional<std::string_view> inline_value;
    if (arg.starts_with("--")) {
      size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        inline_value = arg.substr(eq + 1);
      }
    }
    auto takes_value = [&](std::string_view option) -> StatusOr<std::string_view> {
      if (inline_value) {
        return *inline_value;
      }
      if (i + 1 >= args.size()) {
        return InvalidArgument("option " + std::string(option) +
                               " needs a value (see tpm2emu serve --help)");
      }
      return std::string_view(args[++i]);
    };
    auto no_value = [&](std::string_view option) -> Status {
      if (inline_value) {
        return InvalidArgument("option " + std::string(option) + " takes no value");
      }
      return Status::Ok();
    };

    if (name == "-h" || name == "--help") {
      help = true;
      return out;
    }
    if (name == "--state") {
      TRY_ASSIGN(auto value, takes_value(name));
      if (value.empty()) {
        return BadValue(name, value, "a directory");
      }
      out.state_dir = std::string(value);
      state_given = true;
    } else if (name == "--ephemeral") {
      TRY(no_value(name));
      out.ephemeral = true;
    } else if (name == "--state-backup") {
      TRY(no_value(name));
      out.state_backup = true;
    } else if (name == "--state-key") {
      TRY_ASSIGN(auto value, takes_value(name));
      if (value.empty()) {
        return BadValue(name, value, "a key file");
      }
      out.state_key_file = std::string(value);
    } else if (name == "--mssim") {
      TRY_ASSIGN(auto value, takes_value(name));
      TRY(ParseMssim(value, out));
    } else if (name == "--log-level") {
      TRY_ASSIGN(auto value, takes_value(name));
      auto level = backend::ParseLogLevel(value);
      if (!level) {
        return BadValue(name, value, "error, warn, info or debug");
      }
      out.log_level = *level;
    } else if (arg.starts_with("-")) {
      return UnknownOption(name);
    } else {
      return InvalidArgument("unexpected argument '" + std::string(arg) +
                             "' (see tpm2emu serve --help)");
    }
  }
  if (out.ephemeral && (state_given || out.state_backup || !out.state_key_file.empty())) {
    return InvalidArgument(
        "--ephemeral keeps no state; it excludes --state, --state-backup and --state-key");
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
         "  serve        run a TPM and serve it over the mssim socket protocol\n"
         "               (see tpm2emu serve --help)\n"
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
         "  --log-level LEVEL  error, warn, info or debug (default warn); logs go to stderr\n"
         "  -h, --help         show this help\n";
}

std::string VersionText() {
  return std::string("tpm2emu ") + TPM2EMU_VERSION + "\n";
}

}  // namespace tpm2emu::daemon
