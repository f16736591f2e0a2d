// The directory backend: all records in one file, replaced atomically (write a temp file, fsync,
// rename over the old one, fsync the directory), with a format version and a SHA-256 checksum.
//
// File layout (big-endian): magic "T2EMUST\0", u32 version, u64 generation, u32 count,
// count x (u16 key length, key, u32 value length, value), then SHA-256 of all that precedes.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "engine/base/endian.h"
#include "nvstore/store.h"

namespace tpm2emu::nvstore {
namespace {

constexpr char kMagic[8] = {'T', '2', 'E', 'M', 'U', 'S', 'T', '\0'};
constexpr uint32_t kVersion = 1;
constexpr size_t kDigestSize = 32;
constexpr size_t kMaxFileSize = 256u << 20;  // far above any real state; guards allocation
constexpr const char* kStateFile = "tpm2emu-state.bin";
constexpr const char* kBackupFile = "tpm2emu-state.bin.bak";
constexpr const char* kTempFile = "tpm2emu-state.bin.tmp";
constexpr const char* kLockFile = "tpm2emu.lock";

std::string Errno() { return std::strerror(errno); }

std::array<uint8_t, kDigestSize> Sha256(ByteSpan data) {
  std::array<uint8_t, kDigestSize> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Bytes Encode(const Records& records, uint64_t generation) {
  Bytes out(kMagic, kMagic + sizeof(kMagic));
  AppendBe32(out, kVersion);
  AppendBe64(out, generation);
  AppendBe32(out, static_cast<uint32_t>(records.size()));
  for (const auto& [key, value] : records) {
    AppendBe16(out, static_cast<uint16_t>(key.size()));
    out.insert(out.end(), key.begin(), key.end());
    AppendBe32(out, static_cast<uint32_t>(value.size()));
    out.insert(out.end(), value.begin(), value.end());
  }
  auto digest = Sha256(out);
  out.insert(out.end(), digest.begin(), digest.end());
  return out;
}

// Decodes a state file image; on failure returns a reason (without the path).
StatusOr<std::pair<Records, uint64_t>> Decode(const Bytes& data) {
  constexpr size_t kHeader = sizeof(kMagic) + 4 + 8 + 4;
  if (data.size() < kHeader + kDigestSize || !std::equal(kMagic, kMagic + 8, data.begin())) {
    return CorruptError("is not a tpm2emu state file or is truncated");
  }
  ByteSpan body(data.data(), data.size() - kDigestSize);
  auto digest = Sha256(body);
  if (!std::equal(digest.begin(), digest.end(), data.end() - kDigestSize)) {
    return CorruptError("fails its checksum (corrupted or truncated)");
  }
  uint32_t version = LoadBe32(data.data() + 8);
  if (version != kVersion) {
    return CorruptError("has format version " + std::to_string(version) +
                        ", which this tpm2emu does not know");
  }
  uint64_t generation = LoadBe64(data.data() + 12);
  uint32_t count = LoadBe32(data.data() + 20);
  size_t pos = kHeader;
  Records records;
  for (uint32_t i = 0; i < count; ++i) {
    if (pos + 2 > body.size()) {
      return CorruptError("has a malformed record");
    }
    size_t klen = LoadBe16(body.data() + pos);
    pos += 2;
    if (pos + klen + 4 > body.size()) {
      return CorruptError("has a malformed record");
    }
    std::string key(body.begin() + static_cast<ptrdiff_t>(pos),
                    body.begin() + static_cast<ptrdiff_t>(pos + klen));
    pos += klen;
    size_t vlen = LoadBe32(body.data() + pos);
    pos += 4;
    if (vlen > body.size() - pos) {
      return CorruptError("has a malformed record");
    }
    records[key] = Bytes(body.begin() + static_cast<ptrdiff_t>(pos),
                         body.begin() + static_cast<ptrdiff_t>(pos + vlen));
    pos += vlen;
  }
  if (pos != body.size()) {
    return CorruptError("has trailing data");
  }
  return std::make_pair(std::move(records), generation);
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
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

// Reads a whole file; kNotFound when it does not exist.
StatusOr<Bytes> ReadFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return Status(StatusCode::kNotFound, path + " does not exist");
    }
    return IoError("cannot read " + path + " (" + Errno() + ")");
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return IoError("cannot stat " + path + " (" + Errno() + ")");
  }
  if (static_cast<size_t>(st.st_size) > kMaxFileSize) {
    return CorruptError("state file " + path + " is implausibly large; refusing to start");
  }
  Bytes data(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::read(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return IoError("cannot read " + path + " (" + (n < 0 ? Errno() : "short read") + ")");
    }
    done += static_cast<size_t>(n);
  }
  return data;
}

Status WriteFileDurably(const std::string& path, ByteSpan data) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return IoError("cannot write " + path + " (" + Errno() + ")");
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return IoError("cannot write " + path + " (" + Errno() + ")");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    return IoError("cannot sync " + path + " (" + Errno() + ")");
  }
  return Status::Ok();
}

Status SyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) {
    return IoError("cannot sync directory " + dir + " (" + Errno() + ")");
  }
  return Status::Ok();
}

class DirStore final : public Store {
 public:
  DirStore(std::string dir, DirStoreOptions options, int lock_fd)
      : dir_(std::move(dir)), options_(options), lock_fd_(lock_fd) {}
  ~DirStore() override {
    if (lock_fd_ >= 0) {
      ::close(lock_fd_);  // releases the flock
    }
  }

  StatusOr<Records> Load() override {
    std::string path = Path(kStateFile);
    ::unlink(Path(kTempFile).c_str());  // a crash mid-commit leaves this; it was never acknowledged
    auto data = ReadFile(path);
    if (!data.ok() && data.error().code() == StatusCode::kNotFound) {
      if (options_.keep_backup) {
        // The rename of the new file may have been lost while the backup link survived.
        auto backup = LoadFile(Path(kBackupFile));
        if (backup.ok()) {
          return backup;
        }
      }
      records_.clear();
      generation_ = 0;
      return records_;
    }
    if (!data.ok()) {
      return data.error();
    }
    auto decoded = Decode(*data);
    if (!decoded.ok()) {
      std::string why = "state file " + path + " " + decoded.error().message();
      if (options_.keep_backup) {
        auto backup = LoadFile(Path(kBackupFile));
        if (backup.ok()) {
          std::fprintf(stderr, "tpm2emu: %s; using the backup %s\n", why.c_str(),
                       Path(kBackupFile).c_str());
          return backup;
        }
      }
      return CorruptError(why + "; refusing to start");
    }
    records_ = std::move(decoded->first);
    generation_ = decoded->second;
    return records_;
  }

  Status Commit(const Batch& batch) override {
    Records next = records_;
    for (const auto& [key, value] : batch.changes) {
      if (value) {
        next[key] = *value;
      } else {
        next.erase(key);
      }
    }
    Bytes image = Encode(next, generation_ + 1);
    std::string tmp = Path(kTempFile);
    std::string path = Path(kStateFile);
    Status st = WriteFileDurably(tmp, image);
    if (!st.ok()) {
      return st;
    }
    if (options_.keep_backup) {
      std::string bak = Path(kBackupFile);
      ::unlink(bak.c_str());
      if (::link(path.c_str(), bak.c_str()) != 0 && errno != ENOENT) {
        return IoError("cannot keep backup " + bak + " (" + Errno() + ")");
      }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return IoError("cannot replace " + path + " (" + Errno() + ")");
    }
    st = SyncDir(dir_);
    if (!st.ok()) {
      return st;
    }
    records_ = std::move(next);
    ++generation_;
    return Status::Ok();
  }

 private:
  std::string Path(const char* name) const { return dir_ + "/" + name; }

  StatusOr<Records> LoadFile(const std::string& path) {
    auto data = ReadFile(path);
    if (!data.ok()) {
      return data.error();
    }
    auto decoded = Decode(*data);
    if (!decoded.ok()) {
      return decoded.error();
    }
    records_ = std::move(decoded->first);
    generation_ = decoded->second;
    return records_;
  }

  std::string dir_;
  DirStoreOptions options_;
  int lock_fd_;
  Records records_;
  uint64_t generation_ = 0;
};

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenDirStore(const std::string& dir,
                                              const DirStoreOptions& options) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError("cannot create state directory " + dir + " (" + Errno() + ")");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return IoError("state directory " + dir + " is not a directory");
  }
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    return IoError("cannot write state directory " + dir + " (" + Errno() + ")");
  }
  int lock_fd = -1;
  if (options.lock) {
    std::string lock_path = dir + "/" + kLockFile;
    Fd fd(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (fd.get() < 0) {
      return IoError("cannot create lock file " + lock_path + " (" + Errno() + ")");
    }
    int op = LOCK_EX | (options.wait_for_lock ? 0 : LOCK_NB);
    int rc = 0;
    do {
      rc = ::flock(fd.get(), op);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      if (errno == EWOULDBLOCK) {
        return Status(StatusCode::kBusy,
                      "state directory " + dir + " is in use by another tpm2emu process");
      }
      return IoError("cannot lock state directory " + dir + " (" + Errno() + ")");
    }
    lock_fd = fd.release();
  }
  return std::unique_ptr<Store>(std::make_unique<DirStore>(dir, options, lock_fd));
}

}  // namespace tpm2emu::nvstore
