#pragma once
// The explicit, versioned encoding of a whole set of records (the DirStore state file image),
// kept apart from the file I/O so that it can be tested and fuzzed alone, and so that a later
// append-only journal can reuse the record layout inside its checksummed batches.
//
// Layout, integers big-endian:
//   magic "T2EMUST\0" | u32 format version (1) | u64 generation | u32 record count |
//   count x (u16 key length, key, u32 value length, value) | SHA-256 of every byte before it
// Keys are strictly ascending (bytewise), so one Records value has exactly one image and a
// decoder can reject duplicated keys instead of silently picking one.
//
// An encrypted image (DirStoreOptions::key) wraps the image above:
//   magic "T2EMUEN\0" | u32 encrypted format version (1) | u8[8] key id | u8[12] nonce |
//   AES-256-GCM ciphertext of the plain image (same length) | u8[16] GCM tag
// The 32 header bytes are the GCM additional data, so the tag authenticates every byte of the
// file. The key id (the first 8 bytes of HMAC-SHA-256(key, "tpm2emu state key id")) tells a
// wrong key from a damaged file without revealing anything about the key.
//
// All functions are pure and thread-safe.

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/base/bytes.h"
#include "engine/base/status.h"
#include "nvstore/store.h"

namespace tpm2emu::nvstore {

inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kMaxKeySize = 0xFFFF;  // the u16 key length
// Upper bound of a whole image. A TPM's NV state is a few hundred KiB at most; the bound exists
// so that a damaged length or file size read from disk cannot make us allocate without limit.
// Commit refuses state beyond it, so a store never writes an image it would refuse to load.
inline constexpr size_t kMaxImageSize = size_t{64} << 20;

// The records plus the generation counter that each Commit increments.
struct State {
  Records records;
  uint64_t generation = 0;
};

// kInvalidArgument when a key in the batch is longer than kMaxKeySize. Checking the batch before
// applying any of it keeps Commit all-or-nothing.
Status CheckBatch(const Batch& batch);

// Applies an already checked batch: a value replaces a record, nullopt deletes it.
void ApplyBatch(const Batch& batch, Records& records);

// The size of the image of `records` (no limit is checked; the result does not overflow for
// anything that fits in memory).
size_t EncodedSize(const Records& records);

// kInvalidArgument when the image of `records` would exceed kMaxImageSize or a key kMaxKeySize.
Status CheckRecords(const Records& records);

// The image of `state`: kInvalidArgument as CheckRecords, kInternal if OpenSSL fails to hash.
StatusOr<Bytes> EncodeState(const State& state);

// Decodes an image. On failure returns kCorrupt whose message is a reason phrased to follow the
// file's name, e.g. "fails its checksum (corrupted or truncated)"; the caller adds the name.
// An encrypted image is kFailedPrecondition ("is encrypted, but no state key was given").
// Never allocates more than the size of `image` (which may hold anything).
StatusOr<State> DecodeState(ByteSpan image);

inline constexpr uint32_t kEncryptedFormatVersion = 1;
inline constexpr size_t kStateNonceSize = 12;  // the GCM nonce
inline constexpr size_t kEncryptionOverhead = 8 + 4 + 8 + kStateNonceSize + 16;

// The encrypted image of `state` under `key` (kStateKeySize bytes) with `nonce`, which must never
// repeat under one key (the caller draws it from the OS for every image). kInvalidArgument as
// CheckRecords, also when the encrypted image would exceed kMaxImageSize or the key has the wrong
// size; kInternal if OpenSSL fails.
StatusOr<Bytes> EncodeEncryptedState(const State& state, const SecretBytes& key,
                                     std::span<const uint8_t, kStateNonceSize> nonce);

// Decrypts and decodes an encrypted image. Messages follow the file's name as in DecodeState:
// kFailedPrecondition when the image is not encrypted ("is not encrypted, but a state key was
// given") or was encrypted under another key; kCorrupt when it is damaged or tampered with
// (including a failed GCM tag) or the image inside is; kInvalidArgument for a key of the wrong
// size; kInternal if OpenSSL fails. The plaintext is wiped before returning. Never allocates more than twice the size of `image`.
StatusOr<State> DecodeEncryptedState(ByteSpan image, const SecretBytes& key);

}  // namespace tpm2emu::nvstore
