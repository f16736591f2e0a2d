// tpm2emu-bench: measures a real `tpm2emu serve` over tpm2-tss's mssim TCTI and the in-process
// TCTI through tctildr, and checks the numbers against the targets in report.cc.

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/client.h"
#include "bench/daemon.h"
#include "bench/report.h"
#include "engine/base/status.h"

#ifndef TPM2EMU_PATH
#error "TPM2EMU_PATH must name the built tpm2emu executable"
#endif
#ifndef TCTI_PATH
#error "TCTI_PATH must name the built libtss2-tcti-tpm2emu.so"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TPM2EMU_BENCH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TPM2EMU_BENCH_ASAN 1
#endif
#endif

namespace tpm2emu::bench {
namespace {

#ifdef TPM2EMU_BENCH_ASAN
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

using Clock = std::chrono::steady_clock;

constexpr std::string_view kUsage =
    "usage: tpm2emu-bench [--daemon PATH] [--tcti-dir DIR] [--quick]\n"
    "\n"
    "Starts `tpm2emu serve` on free loopback ports with a temporary state directory (under\n"
    "$TMPDIR, default /tmp) and measures it through tpm2-tss's mssim TCTI; measures the\n"
    "in-process TCTI through tctildr; prints one line per measurement (name, value, unit,\n"
    "target, PASS/FAIL) and a summary line.\n"
    "\n"
    "  --daemon PATH   the tpm2emu executable (default: the one built with this bench)\n"
    "  --tcti-dir DIR  the directory holding libtss2-tcti-tpm2emu.so (default: the one built\n"
    "                  with this bench)\n"
    "  --quick         a few hundred iterations instead of thousands (the ctest smoke test)\n"
    "  --help          this text\n"
    "\n"
    "Exit status: 0 when every target is met, 1 when one is missed or a measurement fails,\n"
    "2 for a bad command line. Under ASan targets are reported, not enforced.\n";

struct Options {
  std::string daemon = TPM2EMU_PATH;
  std::string tcti_library = TCTI_PATH;
  bool quick = false;
  bool help = false;
};

// How many times each operation runs.
struct Iterations {
  int small;  // GetRandom and PCR_Read, each, per transport
  int rsa_primary;
  int ecc_primary;
  int sign;  // per key type
  int nv_write;
  int session;
};
constexpr Iterations kFull{2000, 20, 50, 200, 200, 200};
constexpr Iterations kQuick{300, 3, 10, 30, 20, 30};
constexpr int kWarmup = 20;

constexpr TPM2_HANDLE kNvIndex = 0x01000BE0;
constexpr uint16_t kNvSize = 64;

StatusOr<Options> ParseArgs(int argc, char** argv) {
  Options options;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    std::optional<std::string> value;
    size_t eq = arg.find('=');
    if (arg.starts_with("--") && eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    }
    bool takes_value = arg == "--daemon" || arg == "--tcti-dir";
    if (takes_value && !value) {
      if (i + 1 == args.size()) {
        return InvalidArgument(std::string(arg) + " needs a value (see tpm2emu-bench --help)");
      }
      value = std::string(args[++i]);
    }
    if (!takes_value && value) {
      return InvalidArgument(std::string(arg) + " takes no value (see tpm2emu-bench --help)");
    }
    if (takes_value && value->empty()) {
      return InvalidArgument(std::string(arg) + " needs a non-empty value");
    }
    if (arg == "--daemon") {
      options.daemon = *value;
    } else if (arg == "--tcti-dir") {
      options.tcti_library = *value + "/libtss2-tcti-tpm2emu.so";
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (!arg.starts_with("-")) {
      return InvalidArgument("unexpected argument '" + std::string(arg) +
                             "' (see tpm2emu-bench --help)");
    } else {
      return InvalidArgument("unknown option " + std::string(arg) + " (see tpm2emu-bench --help)");
    }
  }
  if (options.help) {
    return options;
  }
  if (::access(options.daemon.c_str(), X_OK) != 0) {
    return InvalidArgument("cannot run the daemon " + options.daemon + " (give --daemon PATH)");
  }
  if (::access(options.tcti_library.c_str(), R_OK) != 0) {
    return InvalidArgument("cannot read the TCTI library " + options.tcti_library +
                           " (give --tcti-dir DIR)");
  }
  return options;
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  static StatusOr<std::unique_ptr<TempDir>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tpm2emu-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return IoError("cannot create a temporary directory " + pattern);
    }
    return std::unique_ptr<TempDir>(new TempDir(pattern));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Join(std::string_view name) const { return path_ + "/" + std::string(name); }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Runs `op` (returning Status) once and adds its duration to `samples`.
template <class Op>
Status Timed(Samples& samples, Op&& op) {
  auto start = Clock::now();
  Status s = op();
  samples.Add(MsSince(start));
  return s;
}

// GetRandom(8), then PCR_Read, `n` times each after a warm-up; with `rates`, commands per
// second too.
Status SmallCommands(Client& client, std::string_view transport, int n, bool rates,
                     Report& report) {
  for (int i = 0; i < kWarmup; ++i) {
    TRY(client.GetRandom(8));
    TRY(client.PcrRead());
  }
  for (int which = 0; which < 2; ++which) {
    Samples samples;
    auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
      TRY(Timed(samples, [&] { return which == 0 ? client.GetRandom(8) : client.PcrRead(); }));
    }
    double seconds = MsSince(start) / 1000;
    std::string name = std::string(transport) + (which == 0 ? ".get_random" : ".pcr_read");
    if (rates) {
      report.Add(name + ".rate", n / seconds, "cmd/s");
    }
    report.AddLatency(name, samples);
  }
  return Status::Ok();
}

// The in-process TCTI: small commands, then a primary of each kind so that the memory
// measured includes key generation; the growth of this process's peak RSS.
Status InProcess(const Options& options, const Iterations& it, const TempDir& tmp, Report& report) {
  std::string state = tmp.Join("tcti-state");
  std::error_code ec;
  if (!std::filesystem::create_directory(state, ec)) {
    return IoError("cannot create " + state + " (" + ec.message() + ")");
  }
  TRY_ASSIGN(uint64_t before_kib, PeakRssKib("self"));
  uint64_t after_kib = 0;
  {
    TRY_ASSIGN(std::unique_ptr<Client> client, Client::Open(options.tcti_library, state));
    TRY(client->Startup());
    TRY(SmallCommands(*client, "tcti", it.small, true, report));
    for (TPM2_ALG_ID type : {TPM2_ALG_RSA, TPM2_ALG_ECC}) {
      TRY_ASSIGN(ESYS_TR key, client->CreateStoragePrimary(type, 1));
      TRY(client->Flush(key));
    }
    TRY_ASSIGN(after_kib, PeakRssKib("self"));
  }
  report.Add("mem.tcti_peak_rss_growth", static_cast<double>(after_kib - before_kib) / 1024, "MiB");
  return Status::Ok();
}

Status Primaries(Client& client, TPM2_ALG_ID type, int n, std::string_view name, Report& report) {
  Samples samples;
  for (int i = 0; i < n; ++i) {
    ESYS_TR key = ESYS_TR_NONE;
    TRY(Timed(samples, [&]() -> Status {
      // A new unique field each time: a new derivation, nothing to reuse.
      TRY_ASSIGN(key, client.CreateStoragePrimary(type, static_cast<uint32_t>(i + 1)));
      return Status::Ok();
    }));
    TRY(client.Flush(key));
  }
  report.AddLatency(name, samples);
  return Status::Ok();
}

Status Signing(Client& client, TPM2_ALG_ID type, int n, std::string_view name, Report& report) {
  TRY_ASSIGN(ESYS_TR key, client.CreateSigningPrimary(type));
  for (int i = 0; i < kWarmup / 4; ++i) {
    TRY(client.Sign(key, 0));
  }
  Samples samples;
  for (int i = 0; i < n; ++i) {
    TRY(Timed(samples, [&] { return client.Sign(key, static_cast<uint32_t>(i)); }));
  }
  TRY(client.Flush(key));
  report.AddLatency(name, samples);
  return Status::Ok();
}

// NV_Write (each one committed to the state file before it is answered), then HMAC sessions
// used once each for an NV_Read.
Status NvAndSessions(Client& client, const Iterations& it, Report& report) {
  TRY_ASSIGN(ESYS_TR nv, client.DefineNv(kNvIndex, kNvSize, "bench"));
  TRY(client.NvWrite(nv, kNvSize, 0));  // the first write also sets TPMA_NV_WRITTEN
  Samples writes;
  for (int i = 0; i < it.nv_write; ++i) {
    TRY(Timed(writes, [&] { return client.NvWrite(nv, kNvSize, static_cast<uint32_t>(i + 1)); }));
  }
  report.AddLatency("mssim.nv_write_64", writes);

  Samples starts;
  Samples reads;
  for (int i = 0; i < it.session; ++i) {
    ESYS_TR session = ESYS_TR_NONE;
    TRY(Timed(starts, [&]() -> Status {
      TRY_ASSIGN(session, client.StartHmacSession());
      return Status::Ok();
    }));
    TRY(Timed(reads, [&] { return client.NvRead(nv, session, kNvSize); }));
    TRY(client.Flush(session));
  }
  report.AddLatency("mssim.hmac_session_start", starts);
  report.AddLatency("mssim.hmac_session_nv_read", reads);
  return Status::Ok();
}

Status OverMssim(Client& client, const Iterations& it, Report& report) {
  TRY(client.Startup());
  TRY(SmallCommands(client, "mssim", it.small, false, report));
  TRY(Primaries(client, TPM2_ALG_RSA, it.rsa_primary, "mssim.create_primary_rsa2048", report));
  TRY(Primaries(client, TPM2_ALG_ECC, it.ecc_primary, "mssim.create_primary_ecc_p256", report));
  TRY(Signing(client, TPM2_ALG_RSA, it.sign, "mssim.sign_rsa2048", report));
  TRY(Signing(client, TPM2_ALG_ECC, it.sign, "mssim.sign_ecdsa_p256", report));
  return NvAndSessions(client, it, report);
}

// The daemon on its own state directory, driven through the mssim TCTI; then its peak RSS.
Status Mssim(const Options& options, const Iterations& it, const TempDir& tmp, Report& report) {
  TRY_ASSIGN(std::unique_ptr<Daemon> daemon,
             Daemon::Start(options.daemon, tmp.Join("daemon-state"), tmp.Join("daemon.stderr")));
  Status run = [&]() -> Status {
    TRY_ASSIGN(std::unique_ptr<Client> client,
               Client::Open("mssim", "host=127.0.0.1,port=" + std::to_string(daemon->port())));
    return OverMssim(*client, it, report);
  }();
  if (run.ok()) {
    TRY_ASSIGN(uint64_t peak_kib, PeakRssKib(std::to_string(daemon->pid())));
    report.Add("mem.daemon_peak_rss", static_cast<double>(peak_kib) / 1024, "MiB");
  }
  Status stopped = daemon->Stop();
  const Status& first = !run.ok() ? run : stopped;
  if (first.ok()) {
    return first;
  }
  std::string err = daemon->Stderr();
  return Status(first.code(), first.message() + (err.empty() ? "" : "; daemon stderr:\n" + err));
}

int Main(int argc, char** argv) {
  StatusOr<Options> parsed = ParseArgs(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "tpm2emu-bench: %s\n", parsed.error().message().c_str());
    return 2;
  }
  const Options& options = *parsed;
  if (options.help) {
    std::fputs(kUsage.data(), stdout);
    return 0;
  }
  // A daemon that dies mid-command must fail the run, not kill it with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  const Iterations& it = options.quick ? kQuick : kFull;
  std::string_view mode = options.quick ? "quick" : "full";
  StatusOr<std::unique_ptr<TempDir>> tmp = TempDir::Create();
  if (!tmp.ok()) {
    std::fprintf(stderr, "tpm2emu-bench: %s\n", tmp.error().message().c_str());
    return 1;
  }
  std::printf("tpm2emu-bench: %s run; daemon %s; TCTI %s; state under %s%s\n", mode.data(),
              options.daemon.c_str(), options.tcti_library.c_str(), (*tmp)->path().c_str(),
              kSanitized ? "; targets not enforced under ASan" : "");
  std::printf("%-36s %10s %-6s %-14s %s\n", "measurement", "value", "unit", "target", "result");
  Report report(!kSanitized);
  // In-process first, so the peak RSS it starts from is the bench's own.
  Status in_process = InProcess(options, it, **tmp, report);
  if (!in_process.ok()) {
    report.AddError("in-process TCTI: " + in_process.message());
  }
  Status mssim = Mssim(options, it, **tmp, report);
  if (!mssim.ok()) {
    report.AddError("mssim: " + mssim.message());
  }
  return report.Finish(mode);
}

}  // namespace
}  // namespace tpm2emu::bench

int main(int argc, char** argv) {
  return tpm2emu::bench::Main(argc, argv);
}
