#pragma once
// A small leveled logger for the frontends and the daemon: one line per message on stderr,
// "tpm2emu: <level>: <message>". Thread-safe (each line is one write(2)).

#include <optional>
#include <string>
#include <string_view>

namespace tpm2emu::backend {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info" or "debug"; nullopt for anything else.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  explicit Logger(LogLevel max_level = LogLevel::kWarn, int fd = 2)
      : max_level_(max_level), fd_(fd) {}

  bool Enabled(LogLevel level) const { return level <= max_level_; }
  void Log(LogLevel level, std::string_view message) const;
  void Error(std::string_view message) const { Log(LogLevel::kError, message); }
  void Warn(std::string_view message) const { Log(LogLevel::kWarn, message); }
  void Info(std::string_view message) const { Log(LogLevel::kInfo, message); }
  void Debug(std::string_view message) const { Log(LogLevel::kDebug, message); }

 private:
  LogLevel max_level_;
  int fd_;
};

}  // namespace tpm2emu::backend
