// NV index state (Part 1 §34.2): lookup, Names, the authorization hooks the dispatcher calls,
// Startup processing and persistence.

#include "engine/state/nv.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "crypto/hash.h"
#include "engine/command.h"
#include "engine/tpm.h"
#include "engine/wire/marshal.h"

namespace tpm2emu::engine::nv {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr char kGlobalKey[] = "nv";
constexpr char kIndexPrefix[] = "nv/";

std::string KeyFor(uint32_t handle) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "nv/%08x", handle);
  return buf;
}

bool IsPin(uint8_t type) {
  return type == wire::TpmNt::PinFail || type == wire::TpmNt::PinPass;
}

// Part 3 §5.6 item 7.2: whether a command modifies the index data (the rest read it, or are
// TPM2_PolicySecret, which needs read authorization too).
bool IsWriteCommand(uint32_t code) {
  switch (code) {
    case TpmCc::NvWrite:
    case TpmCc::NvIncrement:
    case TpmCc::NvExtend:
    case TpmCc::NvSetBits:
    case TpmCc::NvWriteLock:
      return true;
    default:
      return false;
  }
}

bool Accessible(Tpm& tpm, const NvIndex& index) {
  const ClearState& c = tpm.clear_state();
  return index.pub.Has(wire::TpmaNv::PlatformCreate) ? c.ph_enable_nv : c.sh_enable;
}

wire::TpmsNvPinCounterParameters PinOf(const NvIndex& index) {
  uint64_t v = ValueOf(index);
  return {static_cast<uint32_t>(v >> 32), static_cast<uint32_t>(v)};
}

void SetPin(NvIndex& index, const wire::TpmsNvPinCounterParameters& pin) {
  SetValue(index, (uint64_t{pin.pin_count} << 32) | pin.pin_limit);
}

void ClearWritten(NvIndex& index) {
  index.pub.Clear(wire::TpmaNv::Written);
  std::fill(index.data.begin(), index.data.end(), 0);
}

}  // namespace

NvIndex* Find(Tpm& tpm, uint32_t handle) {
  auto& indices = tpm.nv().indices;
  auto it = indices.find(handle);
  return it == indices.end() ? nullptr : &it->second;
}

void Remove(Tpm& tpm, uint32_t handle) {
  NvState& s = tpm.nv();
  auto it = s.indices.find(handle);
  if (it == s.indices.end()) {
    return;
  }
  const NvIndex& index = it->second;
  if (index.pub.type() == wire::TpmNt::Counter && index.pub.Has(wire::TpmaNv::Written)) {
    s.max_counter = std::max(s.max_counter, ValueOf(index));
  }
  SecureWipe(it->second.data.data(), it->second.data.size());  // the authValue wipes itself
  s.indices.erase(it);
}

uint64_t ValueOf(const NvIndex& index) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < index.data.size(); ++i) {
    v = (v << 8) | index.data[i];
  }
  return v;
}

void SetValue(NvIndex& index, uint64_t value) {
  index.data.resize(8);
  for (size_t i = 0; i < 8; ++i) {
    index.data[7 - i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

size_t Cost(size_t data_size) {
  return data_size + kNvIndexOverhead;
}

size_t UsedBytes(Tpm& tpm) {
  size_t used = 0;
  for (const auto& [h, index] : tpm.nv().indices) {
    used += Cost(index.pub.data_size);
  }
  return used;
}

RcStatus CheckReference(Tpm& tpm, uint32_t handle, uint32_t n) {
  const NvIndex* index = Find(tpm, handle);
  if (index == nullptr || !Accessible(tpm, *index)) {
    return Rc::Handle.Handle(n + 1);
  }
  return {};
}

Result<Bytes> Name(Tpm& tpm, uint32_t handle) {
  const NvIndex* index = Find(tpm, handle);
  if (index == nullptr) {
    return Rc::Handle;
  }
  TRY_ASSIGN(Bytes digest, crypto::Hash(index->pub.name_alg, wire::MarshalToBytes(index->pub)));
  Bytes name;
  AppendBe16(name, index->pub.name_alg);
  name.insert(name.end(), digest.begin(), digest.end());
  return name;
}

Result<ByteSpan> Auth(Tpm& tpm, uint32_t handle) {
  const NvIndex* index = Find(tpm, handle);
  if (index == nullptr) {
    return Rc::Handle;
  }
  return index->auth.span();
}

wire::TpmtHa Policy(Tpm& tpm, uint32_t handle) {
  const NvIndex* index = Find(tpm, handle);
  if (index == nullptr || index->pub.auth_policy.empty()) {
    return wire::TpmtHa{TpmAlg::Null, {}};
  }
  return wire::TpmtHa{index->pub.name_alg, index->pub.auth_policy.data};
}

RcStatus CheckAuthorization(Tpm& tpm, uint32_t handle, uint32_t command_code, Role role,
                            bool policy) {
  const NvIndex* index = Find(tpm, handle);
  if (index == nullptr) {
    return Rc::Handle;  // CheckReference ran first
  }
  if (role == Role::kAdmin) {
    // Part 3 §5.6 item 5.2: ADMIN role for an index needs a policy session.
    return policy ? RcStatus{} : RcStatus{Rc::AuthType};
  }
  const wire::TpmsNvPublic& pub = index->pub;
  const bool write = IsWriteCommand(command_code);
  if (policy) {
    if (!pub.Has(write ? wire::TpmaNv::PolicyWrite : wire::TpmaNv::PolicyRead)) {
      return Rc::AuthUnavailable;
    }
    return {};
  }
  if (!pub.Has(write ? wire::TpmaNv::AuthWrite : wire::TpmaNv::AuthRead)) {
    return Rc::AuthUnavailable;
  }
  if (write) {
    return {};
  }
  if (!pub.Has(wire::TpmaNv::Written)) {
    // Part 3 §31.1: reading an unwritten index fails before its authValue is checked (and so
    // never counts as a failed authorization); TPM2_NV_ReadLock may lock it (§31.14.1).
    if (command_code != TpmCc::NvReadLock) {
      return Rc::NvUninitialized;
    }
    if (IsPin(pub.type())) {
      return Rc::AuthUnavailable;  // Part 1 §34.2.6.6: no PIN authValue before the first write
    }
  }
  if (IsPin(pub.type())) {
    auto pin = PinOf(*index);
    if (pin.pin_count >= pin.pin_limit) {
      return Rc::AuthUnavailable;  // Part 1 §34.2.6.6
    }
  }
  return {};
}

void OnAuthorized(Tpm& tpm, uint32_t handle, bool policy) {
  NvIndex* index = Find(tpm, handle);
  // Part 1 §34.2.8.2: authorization with the authPolicy leaves pinCount alone.
  if (index == nullptr || policy || !IsPin(index->pub.type()) ||
      !index->pub.Has(wire::TpmaNv::Written)) {
    return;
  }
  auto pin = PinOf(*index);
  if (index->pub.type() == wire::TpmNt::PinPass) {
    ++pin.pin_count;  // below pinLimit: CheckAuthorization made sure
  } else {
    pin.pin_count = 0;
  }
  SetPin(*index, pin);
}

bool IsDaProtected(const NvState& state, uint32_t handle) {
  auto it = state.indices.find(handle);
  return it != state.indices.end() && !it->second.pub.Has(wire::TpmaNv::NoDa);
}

void OnAuthFailure(Tpm& tpm, uint32_t handle) {
  NvIndex* index = Find(tpm, handle);
  if (index == nullptr || index->pub.type() != wire::TpmNt::PinFail ||
      !index->pub.Has(wire::TpmaNv::Written)) {
    return;
  }
  auto pin = PinOf(*index);
  if (pin.pin_count < pin.pin_limit) {
    ++pin.pin_count;
    SetPin(*index, pin);
  }
}

std::vector<uint32_t> Handles(Tpm& tpm) {
  std::vector<uint32_t> out;
  for (const auto& [h, index] : tpm.nv().indices) {
    out.push_back(h);
  }
  return out;
}

Usage GetUsage(Tpm& tpm) {
  Usage u;
  for (const auto& [h, index] : tpm.nv().indices) {
    ++u.indices;
    u.counters += index.pub.type() == wire::TpmNt::Counter ? 1 : 0;
  }
  size_t used = UsedBytes(tpm);
  size_t by_space = used < kNvMemoryBytes ? (kNvMemoryBytes - used) / Cost(8) : 0;
  size_t by_count = kMaxNvIndices - std::min<size_t>(u.indices, kMaxNvIndices);
  u.counters_available = static_cast<uint32_t>(std::min(by_space, by_count));
  return u;
}

void Encode(Tpm& tpm, nvstore::Records& out) {
  const NvState& s = tpm.nv();
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    w.U64(s.max_counter);
    out[kGlobalKey] = w.Take();
  }
  for (const auto& [h, index] : s.indices) {
    wire::Writer w;
    w.U8(kRecordVersion);
    wire::Marshal(w, index.pub);
    w.U16(static_cast<uint16_t>(index.auth.size()));
    w.Raw(index.auth.span());
    w.U16(static_cast<uint16_t>(index.data.size()));
    w.Raw(index.data);
    out[KeyFor(h)] = w.Take();
  }
}

Status Decode(Tpm& tpm, const nvstore::Records& in) {
  auto corrupt = [](const std::string& key) {
    return CorruptError("TPM state record '" + key + "' is malformed; refusing to start");
  };
  NvState s;
  if (auto it = in.find(kGlobalKey); it != in.end()) {
    wire::Reader r(it->second);
    uint8_t version = 0;
    if (!r.U8(version).ok() || version != kRecordVersion || !r.U64(s.max_counter).ok() ||
        !r.empty()) {
      return corrupt(kGlobalKey);
    }
  }
  const std::string prefix = kIndexPrefix;
  for (auto it = in.lower_bound(prefix); it != in.end() && it->first.starts_with(prefix); ++it) {
    wire::Reader r(it->second);
    uint8_t version = 0;
    NvIndex index;
    uint16_t auth_size = 0, data_size = 0;
    bool ok = r.U8(version).ok() && version == kRecordVersion &&
              wire::Unmarshal(r, index.pub).ok() && r.U16(auth_size).ok() &&
              auth_size <= wire::kMaxDigestSize;
    if (ok) {
      auto auth = r.Take(auth_size);
      ok = auth.ok();
      if (ok) {
        index.auth = SecretBytes(*auth);
      }
    }
    ok = ok && r.U16(data_size).ok() && data_size == index.pub.data_size;
    if (ok) {
      auto data = r.Take(data_size);
      ok = data.ok() && r.empty() && it->first == KeyFor(index.pub.nv_index);
      if (ok) {
        index.data.assign(data->begin(), data->end());
      }
    }
    if (!ok) {
      return corrupt(it->first);
    }
    s.indices.emplace(index.pub.nv_index, std::move(index));
  }
  tpm.nv() = std::move(s);
  return Status::Ok();
}

void OnStartup(Tpm& tpm, bool clear) {
  // A TPM Reset zeroes restartCount; a Restart or Resume counts up (Part 1 §33.5).
  const bool reset = clear && tpm.persistent().restart_count == 0;
  const bool disorderly = !tpm.clear_state().orderly_startup;
  for (auto& [h, index] : tpm.nv().indices) {
    wire::TpmsNvPublic& pub = index.pub;
    const bool counter = pub.type() == wire::TpmNt::Counter;
    if (counter && pub.Has(wire::TpmaNv::Orderly) && pub.Has(wire::TpmaNv::Written) && disorderly) {
      SetValue(index, ValueOf(index) | kMaxOrderlyCount);  // Part 1 §34.2.4.3
    }
    if (!clear) {
      continue;  // TPM Resume keeps every lock and value
    }
    // Part 2 §13.4 TPMA_NV_CLEAR_STCLEAR; Part 1 §34.2.4.2: at a TPM Reset an orderly index
    // (other than a counter) is unwritten, its RAM copy having been kept only for a Resume.
    if (!counter &&
        (pub.Has(wire::TpmaNv::ClearStclear) || (reset && pub.Has(wire::TpmaNv::Orderly)))) {
      ClearWritten(index);
    }
    pub.Clear(wire::TpmaNv::ReadLocked);
    // A lock survives only with WRITEDEFINE, and never on an unwritten index (Part 2 §13.4).
    if (!pub.Has(wire::TpmaNv::WriteDefine) || !pub.Has(wire::TpmaNv::Written)) {
      pub.Clear(wire::TpmaNv::WriteLocked);
    }
  }
}

void OnClear(Tpm& tpm) {
  std::vector<uint32_t> owner;
  for (const auto& [h, index] : tpm.nv().indices) {
    if (!index.pub.Has(wire::TpmaNv::PlatformCreate)) {
      owner.push_back(h);
    }
  }
  for (uint32_t h : owner) {
    Remove(tpm, h);
  }
}

}  // namespace tpm2emu::engine::nv
