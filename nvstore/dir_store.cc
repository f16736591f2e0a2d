// The directory backend: every record in one state file (record_format.h), replaced atomically.
// Commit writes a temp file, fsyncs it, renames it over the state file and fsyncs the directory:
// one file write and two fsyncs, so a small state commits cheaply. At every instant the state
// file name points at a complete, fsynced image (the old or the new one), which is why a crash
// never leaves a state that fails to load. A later journal can add checksummed batches beside
// the state file without changing this interface. With DirStoreOptions::key, every image written
// (state file and, through its hard link, the backup) is the encrypted image of record_format.h.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "nvstore/record_format.h"
#include "nvstore/store.h"

namespace tpm2emu::nvstore {
namespace {

// Names of our own in-flight files. Only a crash leaves them behind, and their content was never
// acknowledged, so they are removed (or overwritten) rather than read.
constexpr char kTempFileName[] = "tpm2emu-state.bin.tmp";
constexpr char kBackupTempFileName[] = "tpm2emu-state.bin.bak.tmp";

std::string ErrnoText(int err) {
  return std::generic_category().message(err);
}

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes and reports close()'s error, which can be the first sign of a failed write.
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  void Reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  int fd_ = -1;
};

// Wipes a buffer that held state (it contains seeds and proofs) before freeing it.
class WipedBytes {
 public:
  explicit WipedBytes(Bytes bytes) : bytes_(std::move(bytes)) {}
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  ~WipedBytes() { SecureWipe(bytes_.data(), bytes_.size()); }
  Bytes& get() { return bytes_; }

 private:
  Bytes bytes_;
};

std::string ParentOf(const std::string& path) {
  size_t end = path.find_last_not_of('/');
  if (end == std::string::npos) {
    return "/";
  }
  size_t slash = path.rfind('/', end);
  if (slash == std::string::npos) {
    return ".";
  }
  size_t parent_end = path.find_last_not_of('/', slash);
  return parent_end == std::string::npos ? "/" : path.substr(0, parent_end + 1);
}

// A GCM nonce from the kernel's CSPRNG: 96 random bits per commit make a repeat under one key
// negligible for far more commits than a TPM makes.
StatusOr<std::array<uint8_t, kStateNonceSize>> FreshNonce() {
  std::array<uint8_t, kStateNonceSize> nonce{};
  size_t done = 0;
  while (done < nonce.size()) {
    ssize_t n = ::getrandom(nonce.data() + done, nonce.size() - done, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Status(
          StatusCode::kInternal,
          "cannot draw a nonce for the state encryption (getrandom: " + ErrnoText(errno) + ")");
    }
    done += static_cast<size_t>(n);
  }
  return nonce;
}

Status SyncDirectory(int dir_fd, const std::string& dir) {
  if (::fsync(dir_fd) != 0) {
    return IoError("cannot sync state directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  return Status::Ok();
}

class DirStore final : public Store {
 public:
  DirStore(std::string dir, DirStoreOptions options, UniqueFd dir_fd, UniqueFd lock_fd)
      : dir_(std::move(dir)),
        options_(std::move(options)),
        dir_fd_(std::move(dir_fd)),
        lock_fd_(std::move(lock_fd)) {}

  StatusOr<Records> Load() override {
    loaded_ = false;
    // Without our lock another process may be mid-Commit, and its temp file is not ours to
    // remove; Commit replaces a leftover anyway.
    if (options_.lock) {
      ::unlinkat(dir_fd_.get(), kTempFileName, 0);
      ::unlinkat(dir_fd_.get(), kBackupTempFileName, 0);
    }
    auto state = ReadState(kStateFileName, "state file");
    if (!state.ok() && state.error().code() == StatusCode::kFailedPrecondition) {
      // The state key does not fit the state; no backup would fit it either.
      return Status(StatusCode::kFailedPrecondition,
                    state.error().message() + "; refusing to start");
    }
    if (!state.ok() && state.error().code() != StatusCode::kCorrupt) {
      return state.error();  // an I/O problem is to be fixed, not a reason to use older state
    }
    if (state.ok() && state->has_value()) {
      Adopt(std::move(**state), /*state_file_valid=*/true);
      return records_;
    }
    if (state.ok()) {
      return LoadWithoutStateFile();
    }
    const std::string& problem = state.error().message();
    if (!options_.keep_backup) {
      return CorruptError(problem + "; refusing to start");
    }
    auto backup = ReadState(kBackupFileName, "backup state file");
    if (!backup.ok() || !backup->has_value()) {
      std::string backup_problem =
          backup.ok() ? "there is no backup " + PathOf(kBackupFileName) : backup.error().message();
      return CorruptError(problem + ", and " + backup_problem + "; refusing to start");
    }
    uint64_t generation = (*backup)->generation;
    Warn(problem + "; loaded the backup " + PathOf(kBackupFileName) + " (generation " +
         std::to_string(generation) + ") instead; changes committed after it are lost");
    // The damaged file must not become the backup at the next Commit, or we lose the good copy.
    Adopt(std::move(**backup), /*state_file_valid=*/false);
    return records_;
  }

  Status Commit(const Batch& batch) override {
    if (!loaded_) {
      return Status(StatusCode::kFailedPrecondition,
                    "state directory " + dir_ + " was not loaded successfully; refusing to " +
                        "replace state that was not read");
    }
    TRY(CheckBatch(batch));
    if (batch.empty()) {
      return Status::Ok();
    }
    State next{records_, generation_ + 1};
    ApplyBatch(batch, next.records);
    TRY_ASSIGN(Bytes encoded, Encode(next));
    WipedBytes image(std::move(encoded));
    TRY(WriteTempFile(image.get()));
    if (options_.keep_backup && rotate_backup_) {
      Status kept = KeepBackup();
      if (!kept.ok()) {
        ::unlinkat(dir_fd_.get(), kTempFileName, 0);
        return kept;
      }
    }
    if (::renameat(dir_fd_.get(), kTempFileName, dir_fd_.get(), kStateFileName) != 0) {
      int err = errno;
      ::unlinkat(dir_fd_.get(), kTempFileName, 0);
      return IoError("cannot replace " + PathOf(kStateFileName) + " (" + ErrnoText(err) + ")");
    }
    // The new state file is in place: whatever the directory fsync says, it is what Load reads
    // now, and its generation must never be written again.
    records_ = std::move(next.records);
    generation_ = next.generation;
    rotate_backup_ = true;
    // One directory fsync makes both the rename and the backup's rename durable: they are
    // entries of the same directory.
    return SyncDirectory(dir_fd_.get(), dir_);
  }

 private:
  std::string PathOf(const char* name) const { return dir_ + "/" + name; }

  StatusOr<Bytes> Encode(const State& state) const {
    if (!options_.key) {
      return EncodeState(state);
    }
    TRY_ASSIGN(auto nonce, FreshNonce());
    return EncodeEncryptedState(state, *options_.key, nonce);
  }

  void Warn(const std::string& message) const {
    if (options_.warn) {
      options_.warn(message);
    } else {
      std::fprintf(stderr, "tpm2emu: %s\n", message.c_str());
    }
  }

  void Adopt(State state, bool state_file_valid) {
    records_ = std::move(state.records);
    generation_ = state.generation;
    rotate_backup_ = state_file_valid;
    loaded_ = true;
  }

  // No state file: a new TPM, unless a backup shows that there was state once.
  StatusOr<Records> LoadWithoutStateFile() {
    auto backup = ReadState(kBackupFileName, "backup state file");
    if (backup.ok() && !backup->has_value()) {
      Adopt(State{}, /*state_file_valid=*/true);
      return records_;
    }
    std::string problem = "state file " + PathOf(kStateFileName) + " is missing but " +
                          PathOf(kBackupFileName) + " exists";
    if (!options_.keep_backup) {
      return CorruptError(problem + "; refusing to start as a new TPM (copy the backup over " +
                          "the state file to use it)");
    }
    if (!backup.ok()) {
      return CorruptError(problem + ", and " + backup.error().message() + "; refusing to start");
    }
    uint64_t generation = (*backup)->generation;
    Warn(problem + "; loaded the backup (generation " + std::to_string(generation) + ")");
    Adopt(std::move(**backup), /*state_file_valid=*/true);
    return records_;
  }

  // The decoded file; nullopt if it does not exist; kCorrupt naming the file and the problem.
  StatusOr<std::optional<State>> ReadState(const char* name, const char* what) const {
    std::string path = PathOf(name);
    // O_NONBLOCK: a FIFO planted under the name must not hang the open.
    UniqueFd fd(::openat(dir_fd_.get(), name, O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
      if (errno == ENOENT) {
        return std::optional<State>();
      }
      return IoError("cannot read " + std::string(what) + " " + path + " (" + ErrnoText(errno) +
                     ")");
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return IoError("cannot stat " + std::string(what) + " " + path + " (" + ErrnoText(errno) +
                     ")");
    }
    if (!S_ISREG(st.st_mode)) {
      return CorruptError(std::string(what) + " " + path + " is not a regular file");
    }
    // The size is checked before allocating for it.
    auto size = static_cast<size_t>(st.st_size);
    if (size > kMaxImageSize) {
      return CorruptError(std::string(what) + " " + path + " is larger than any state tpm2emu " +
                          "writes (" + std::to_string(size) + " bytes)");
    }
    WipedBytes data{Bytes(size)};
    size_t done = 0;
    while (done < size) {
      ssize_t n = ::read(fd.get(), data.get().data() + done, size - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return IoError("cannot read " + std::string(what) + " " + path + " (" + ErrnoText(errno) +
                       ")");
      }
      if (n == 0) {
        break;  // shrank since fstat; the decoder reports it as truncated
      }
      done += static_cast<size_t>(n);
    }
    ByteSpan image = ByteSpan(data.get()).first(done);
    auto state = options_.key ? DecodeEncryptedState(image, *options_.key) : DecodeState(image);
    if (!state.ok() && state.error().code() == StatusCode::kInternal) {
      return state.error();
    }
    if (!state.ok()) {
      // kCorrupt, or kFailedPrecondition for a state key that does not fit the file: Load
      // refuses that at once, as the backup would not fit either.
      return Status(state.error().code(),
                    std::string(what) + " " + path + " " + state.error().message());
    }
    return std::optional<State>(std::move(*state));
  }

  Status WriteTempFile(ByteSpan image) {
    std::string path = PathOf(kTempFileName);
    // O_EXCL after removing a leftover: a file someone else created under the name could carry
    // other modes or links.
    ::unlinkat(dir_fd_.get(), kTempFileName, 0);
    UniqueFd fd(::openat(dir_fd_.get(), kTempFileName,
                         O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) {
      return IoError("cannot create " + path + " (" + ErrnoText(errno) + ")");
    }
    Status written = WriteAndSync(fd, path, image);
    if (!written.ok()) {
      ::unlinkat(dir_fd_.get(), kTempFileName, 0);
    }
    return written;
  }

  static Status WriteAndSync(UniqueFd& fd, const std::string& path, ByteSpan image) {
    // Exactly 0600 whatever the umask: the file holds the TPM's seeds.
    if (::fchmod(fd.get(), 0600) != 0) {
      return IoError("cannot set the mode of " + path + " (" + ErrnoText(errno) + ")");
    }
    size_t done = 0;
    while (done < image.size()) {
      ssize_t n = ::write(fd.get(), image.data() + done, image.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return IoError("cannot write " + path + " (" + ErrnoText(errno) + ")");
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      return IoError("cannot sync " + path + " (" + ErrnoText(errno) + ")");
    }
    if (fd.Close() != 0) {
      return IoError("cannot close " + path + " (" + ErrnoText(errno) + ")");
    }
    return Status::Ok();
  }

  // Points the backup name at the current state file. A hard link copies nothing, and renaming
  // the link over the backup means there is always some backup, never a moment without one.
  Status KeepBackup() {
    ::unlinkat(dir_fd_.get(), kBackupTempFileName, 0);
    if (::linkat(dir_fd_.get(), kStateFileName, dir_fd_.get(), kBackupTempFileName, 0) != 0) {
      if (errno == ENOENT) {
        return Status::Ok();  // the first commit: no previous generation yet
      }
      return IoError("cannot keep the backup " + PathOf(kBackupFileName) +
                     " (link: " + ErrnoText(errno) + ")");
    }
    if (::renameat(dir_fd_.get(), kBackupTempFileName, dir_fd_.get(), kBackupFileName) != 0) {
      int err = errno;
      ::unlinkat(dir_fd_.get(), kBackupTempFileName, 0);
      return IoError("cannot keep the backup " + PathOf(kBackupFileName) + " (" + ErrnoText(err) +
                     ")");
    }
    return Status::Ok();
  }

  std::string dir_;
  DirStoreOptions options_;
  UniqueFd dir_fd_;
  UniqueFd lock_fd_;  // holds the flock; closing it releases the lock
  bool loaded_ = false;
  // Whether the state file on disk is a valid image that may become the backup.
  bool rotate_backup_ = false;
  Records records_;
  uint64_t generation_ = 0;
};

StatusOr<UniqueFd> TakeLock(int dir_fd, const std::string& dir, bool wait) {
  UniqueFd fd(::openat(dir_fd, kLockFileName, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) {
    return IoError("cannot create lock file " + dir + "/" + kLockFileName + " (" +
                   ErrnoText(errno) + ")");
  }
  // flock rather than a pid file: the kernel drops it when the process dies, even by kill -9,
  // so a stale lock never needs cleaning up.
  int rc = 0;
  do {
    rc = ::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    if (errno == EWOULDBLOCK) {
      return Status(StatusCode::kBusy,
                    "state directory " + dir + " is in use by another tpm2emu process");
    }
    return IoError("cannot lock state directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  return fd;
}

}  // namespace

StatusOr<std::unique_ptr<Store>> OpenDirStore(const std::string& dir,
                                              const DirStoreOptions& options) {
  if (dir.empty()) {
    return InvalidArgument("the state directory path is empty");
  }
  if (options.key && options.key->size() != kStateKeySize) {
    return InvalidArgument("a state key must be " + std::to_string(kStateKeySize) + " bytes, not " +
                           std::to_string(options.key->size()));
  }
  if (::mkdir(dir.c_str(), 0700) == 0) {
    // A caller's umask (tpm2-tools sets 0177) must not leave us a directory we cannot enter.
    if (::chmod(dir.c_str(), 0700) != 0) {
      return IoError("cannot set the mode of state directory " + dir + " (" + ErrnoText(errno) +
                     ")");
    }
    // Make the new directory's entry durable, or a power loss could drop the directory with
    // everything committed in it, and the TPM would silently start anew.
    std::string parent = ParentOf(dir);
    UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!parent_fd.valid() || ::fsync(parent_fd.get()) != 0) {
      return IoError("cannot sync " + parent + " after creating state directory " + dir + " (" +
                     ErrnoText(errno) + ")");
    }
  } else if (errno != EEXIST) {
    return IoError("cannot create state directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) {
    if (errno == ENOTDIR) {
      return IoError("state directory " + dir + " is not a directory");
    }
    return IoError("cannot open state directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  // Checked now so that the first Commit, after the TPM has answered commands, does not find out.
  if (::faccessat(dir_fd.get(), ".", W_OK | X_OK, AT_EACCESS) != 0) {
    return IoError("cannot write state directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  UniqueFd lock_fd;
  if (options.lock) {
    TRY_ASSIGN(lock_fd, TakeLock(dir_fd.get(), dir, options.wait_for_lock));
  }
  return std::unique_ptr<Store>(
      std::make_unique<DirStore>(dir, options, std::move(dir_fd), std::move(lock_fd)));
}

}  // namespace tpm2emu::nvstore
