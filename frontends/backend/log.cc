#include "frontends/backend/log.h"

#include <unistd.h>

#include <cerrno>

namespace tpm2emu::backend {

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (auto level : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
    if (name == LogLevelName(level)) {
      return level;
    }
  }
  return std::nullopt;
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

void Logger::Log(LogLevel level, std::string_view message) const {
  if (!Enabled(level)) {
    return;
  }
  std::string line = "tpm2emu: ";
  line += LogLevelName(level);
  line += ": ";
  line += message;
  line += '\n';
  // One write per line so lines from different threads do not interleave; a failing stderr is
  // not worth more than dropping the line.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace tpm2emu::backend
