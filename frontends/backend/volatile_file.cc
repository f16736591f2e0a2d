#include "frontends/backend/volatile_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include "engine/base/endian.h"

namespace tpm2emu::backend {
namespace {

// File layout: magic, u32 format version, u32 blob length, blob (all big-endian).
constexpr std::string_view kMagic = "T2EMUVOL";
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderSize = 8 + 4 + 4;
constexpr size_t kMaxBlobSize = 16u << 20;

std::string PathOf(const std::string& dir, std::string_view name) {
  std::string path = dir.empty() ? std::string(".") : dir;
  if (path.back() != '/') {
    path += '/';
  }
  path += name;
  return path;
}

Status Errno(std::string_view what, const std::string& path) {
  return IoError("cannot " + std::string(what) + " " + path + " (" + std::strerror(errno) + ")");
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

Status WriteAll(int fd, const uint8_t* p, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Errno("write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  std::string path = dir.empty() ? std::string(".") : dir;
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Errno("open directory", path);
  }
  if (::fsync(fd.get()) != 0) {
    return Errno("sync directory", path);
  }
  return Status::Ok();
}

}  // namespace

Status WriteVolatileFile(const std::string& dir, std::span<const uint8_t> blob) {
  if (blob.size() > kMaxBlobSize) {
    return InvalidArgument("volatile state blob too large (" + std::to_string(blob.size()) +
                           " bytes)");
  }
  Bytes data(kMagic.begin(), kMagic.end());
  AppendBe32(data, kFormatVersion);
  AppendBe32(data, static_cast<uint32_t>(blob.size()));
  data.insert(data.end(), blob.begin(), blob.end());

  std::string path = PathOf(dir, kVolatileFileName);
  std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      return Errno("create", tmp);
    }
    TRY(WriteAll(fd.get(), data.data(), data.size(), tmp));
    if (::fsync(fd.get()) != 0) {
      return Errno("sync", tmp);
    }
    if (::close(fd.Release()) != 0) {
      return Errno("close", tmp);
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Errno("rename into place", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  return SyncDir(dir);
}

StatusOr<std::optional<Bytes>> TakeVolatileFile(const std::string& dir) {
  std::string path = PathOf(dir, kVolatileFileName);
  Bytes data;
  {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT) {
        return std::optional<Bytes>();
      }
      return Errno("open", path);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return Errno("stat", path);
    }
    if (st.st_size < 0 || static_cast<uint64_t>(st.st_size) > kHeaderSize + kMaxBlobSize) {
      return CorruptError(path + " is not a tpm2emu volatile state file (size)");
    }
    data.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::read(fd.get(), data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return Errno("read", path);
      }
      if (n == 0) {
        break;
      }
      got += static_cast<size_t>(n);
    }
    data.resize(got);
  }
  TRY(RemoveVolatileFile(dir));
  if (data.size() < kHeaderSize ||
      std::string_view(reinterpret_cast<const char*>(data.data()), kMagic.size()) != kMagic) {
    return CorruptError(path + " is not a tpm2emu volatile state file");
  }
  uint32_t version = LoadBe32(data.data() + 8);
  uint32_t length = LoadBe32(data.data() + 12);
  if (version != kFormatVersion) {
    return CorruptError(path + " has unknown format version " + std::to_string(version));
  }
  if (length != data.size() - kHeaderSize) {
    return CorruptError(path + " is truncated");
  }
  return std::optional<Bytes>(Bytes(data.begin() + kHeaderSize, data.end()));
}

Status RemoveVolatileFile(const std::string& dir) {
  std::string path = PathOf(dir, kVolatileFileName);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) {
      return Status::Ok();
    }
    return Errno("remove", path);
  }
  return SyncDir(dir);
}

}  // namespace tpm2emu::backend
