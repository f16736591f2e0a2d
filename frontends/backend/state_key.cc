#include "frontends/backend/state_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
#include <system_error>
#include <utility>

namespace tpm2emu::backend {
namespace {

// Longer than any valid key file: 64 hex digits and "\r\n".
constexpr size_t kMaxKeyFileBytes = 2 * kStateKeyBytes + 2;

std::string ErrnoText(int err) {
  return std::generic_category().message(err);
}

std::optional<uint8_t> HexDigit(uint8_t c) {
  if (c >= '0' && c <= '9') {
    return static_cast<uint8_t>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<uint8_t>(c - 'a' + 10);
  }
  if (c >= 'A' && c <= 'F') {
    return static_cast<uint8_t>(c - 'A' + 10);
  }
  return std::nullopt;
}

// The key in 64 hex digits, or nullopt when `text` is not exactly that.
std::optional<SecretBytes> ParseHexKey(ByteSpan text) {
  if (!text.empty() && text.back() == '\n') {
    text = text.first(text.size() - 1);
    if (!text.empty() && text.back() == '\r') {
      text = text.first(text.size() - 1);
    }
  }
  if (text.size() != 2 * kStateKeyBytes) {
    return std::nullopt;
  }
  SecretBytes key(kStateKeyBytes);
  for (size_t i = 0; i < kStateKeyBytes; ++i) {
    auto hi = HexDigit(text[2 * i]);
    auto lo = HexDigit(text[2 * i + 1]);
    if (!hi || !lo) {
      return std::nullopt;
    }
    key[i] = static_cast<uint8_t>((*hi << 4) | *lo);
  }
  return key;
}

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

}  // namespace

StatusOr<SecretBytes> ReadStateKeyFile(const std::string& path) {
  const std::string what = "state key file " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    return IoError("cannot open " + what + " (" + ErrnoText(errno) + ")");
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return IoError("cannot stat " + what + " (" + ErrnoText(errno) + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status(StatusCode::kFailedPrecondition, what + " is not a regular file");
  }
  if ((st.st_mode & 077) != 0) {
    return Status(StatusCode::kFailedPrecondition,
                  what + " is accessible by group or others (mode " + ModeText(st.st_mode) +
                      "); a key must be private: chmod 600 " + path);
  }
  // One byte more than any valid key file, to tell "too long" without reading it all.
  SecretBytes data(kMaxKeyFileBytes + 1);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return IoError("cannot read " + what + " (" + ErrnoText(errno) + ")");
    }
    if (n == 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  ByteSpan text = data.span().first(done);
  if (text.size() == kStateKeyBytes) {
    return SecretBytes(text);
  }
  if (auto key = ParseHexKey(text)) {
    return std::move(*key);
  }
  std::string size_text = done > kMaxKeyFileBytes ? "more than " + std::to_string(kMaxKeyFileBytes)
                                                  : std::to_string(done);
  return InvalidArgument(what + " must hold exactly " + std::to_string(kStateKeyBytes) +
                         " bytes, or " + std::to_string(2 * kStateKeyBytes) +
                         " hex digits (e.g. from `openssl rand -hex " +
                         std::to_string(kStateKeyBytes) + "`); it holds " + size_text + " bytes");
}

}  // namespace tpm2emu::backend
