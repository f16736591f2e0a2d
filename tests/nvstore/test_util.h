#pragma once
// Helpers shared by the nvstore tests: a private temp directory, batches and file access.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "engine/base/bytes.h"
#include "nvstore/store.h"

namespace tpm2emu::nvstore::testing {

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/tpm2emu-nvstore-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) {
      path_ = tmpl;
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (!path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(path_, ignored);
    }
  }
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A batch from (key, value) pairs; a nullopt value deletes.
inline Batch MakeBatch(
    std::initializer_list<std::pair<std::string, std::optional<std::string>>> changes) {
  Batch batch;
  for (const auto& [key, value] : changes) {
    batch.changes[key] = value ? std::optional<Bytes>(ToBytes(*value)) : std::nullopt;
  }
  return batch;
}

inline Records MakeRecords(std::initializer_list<std::pair<std::string, std::string>> records) {
  Records out;
  for (const auto& [key, value] : records) {
    out[key] = ToBytes(value);
  }
  return out;
}

inline Bytes ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, ByteSpan data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

}  // namespace tpm2emu::nvstore::testing
