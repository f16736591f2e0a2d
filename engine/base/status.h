#pragma once
// Status: a code plus a human message, for nvstore, frontends, ekca and the CLI.

#include <string>
#include <utility>

#include "engine/base/expected.h"

namespace tpm2emu {

enum class StatusCode { kOk, kInvalidArgument, kNotFound, kIo, kCorrupt, kBusy, kUnsupported,
                        kFailedPrecondition, kInternal };

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // Lets TRY() propagate a failed Status from a function returning Status.
  const Status& error() const { return *this; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <class T>
using StatusOr = Expected<T, Status>;

inline Status IoError(std::string m) { return Status(StatusCode::kIo, std::move(m)); }
inline Status CorruptError(std::string m) { return Status(StatusCode::kCorrupt, std::move(m)); }
inline Status InvalidArgument(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}

namespace internal {
inline Status TakeError(const Status& s) { return s; }
}  // namespace internal

}  // namespace tpm2emu
