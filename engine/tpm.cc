#include "engine/tpm.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/wire/marshal.h"

namespace tpm2emu::engine {
namespace {

// TPM_PT_CLOCK_UPDATE: how far the NV copy of Clock may lag the real value.
constexpr uint64_t kClockUpdateMs = 1u << 16;
constexpr uint8_t kRecordVersion = 1;

void PutSecret(wire::Writer& w, ByteSpan s) {
  w.U16(static_cast<uint16_t>(s.size()));
  w.Raw(s);
}

RcStatus GetSecret(wire::Reader& r, SecretBytes& out) {
  uint16_t n = 0;
  TRY(r.U16(n));
  TRY_ASSIGN(auto s, r.Take(n));
  out = SecretBytes(s);
  return {};
}

void PutSelections(wire::Writer& w, const std::vector<wire::TpmsPcrSelection>& sel) {
  w.U32(static_cast<uint32_t>(sel.size()));
  for (const auto& s : sel) {
    wire::Marshal(w, s);
  }
}

RcStatus GetSelections(wire::Reader& r, std::vector<wire::TpmsPcrSelection>& sel) {
  uint32_t n = 0;
  TRY(r.U32(n));
  if (n > wire::kHashCount) {
    return Rc::Size;
  }
  sel.resize(n);
  for (auto& s : sel) {
    TRY(wire::Unmarshal(r, s));
  }
  return {};
}

void PutPcrValues(wire::Writer& w, const std::vector<std::vector<Bytes>>& banks) {
  w.U32(static_cast<uint32_t>(banks.size()));
  for (const auto& bank : banks) {
    w.U32(static_cast<uint32_t>(bank.size()));
    for (const auto& v : bank) {
      PutSecret(w, v);
    }
  }
}

RcStatus GetPcrValues(wire::Reader& r, std::vector<std::vector<Bytes>>& banks) {
  uint32_t n = 0;
  TRY(r.U32(n));
  if (n > wire::kHashCount) {
    return Rc::Size;
  }
  banks.assign(n, {});
  for (auto& bank : banks) {
    uint32_t m = 0;
    TRY(r.U32(m));
    if (m > kPcrCount) {
      return Rc::Size;
    }
    bank.resize(m);
    for (auto& v : bank) {
      uint16_t len = 0;
      TRY(r.U16(len));
      TRY_ASSIGN(auto s, r.Take(len));
      v.assign(s.begin(), s.end());
    }
  }
  return {};
}

wire::TpmtHa NullPolicy() { return wire::TpmtHa{TpmAlg::Null, {}}; }

}  // namespace

void OsEntropy::Fill(std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      std::fprintf(stderr, "tpm2emu: getrandom failed (%s)\n", std::strerror(errno));
      std::abort();
    }
    done += static_cast<size_t>(n);
  }
}

Tpm::Tpm(nvstore::Store& store, Clock& clock, EntropySource& entropy, const Profile& profile)
    : store_(store), clock_(clock), entropy_(entropy), profile_(profile) {
  Bytes seed(48);
  entropy_.Fill(seed);
  drbg_ = std::make_unique<crypto::Drbg>(seed, ToBytes(std::string_view("tpm2emu DRBG")));
  SecureWipe(seed.data(), seed.size());
  persistent_.owner_policy = persistent_.endorsement_policy = persistent_.lockout_policy =
      NullPolicy();
  clear_.platform_policy = NullPolicy();
}

SecretBytes Tpm::RandomSecret(size_t n) {
  SecretBytes s(n);
  drbg_->Generate(std::span<uint8_t>(s.data(), s.size()));
  return s;
}

Status Tpm::Load() {
  TRY_ASSIGN(auto records, store_.Load());
  if (records.empty()) {
    // First start: make the seeds and proofs, allocate the PC Client default banks.
    persistent_.eps = RandomSecret(kSeedSize);
    persistent_.sps = RandomSecret(kSeedSize);
    persistent_.pps = RandomSecret(kSeedSize);
    persistent_.eh_proof = RandomSecret(kProofSize);
    persistent_.sh_proof = RandomSecret(kProofSize);
    persistent_.ph_proof = RandomSecret(kProofSize);
    wire::TpmsPcrSelection all;
    all.pcr_select = {0xFF, 0xFF, 0xFF};
    for (uint16_t alg : {TpmAlg::Sha1, TpmAlg::Sha256}) {
      all.hash.value = alg;
      persistent_.pcr_allocation.push_back(all);
    }
    for (uint16_t alg : {TpmAlg::Sha384, TpmAlg::Sha512}) {
      wire::TpmsPcrSelection none;
      none.hash.value = alg;
      none.pcr_select = {0, 0, 0};
      persistent_.pcr_allocation.push_back(none);
    }
    persistent_.pending_allocation = persistent_.pcr_allocation;
    Status st = Persist();
    if (!st.ok()) {
      return st;
    }
  } else {
    TRY(DecodeRecords(records));
  }
  last_persisted_clock_ms_ = persistent_.clock_ms;
  clock_ms_base_ = persistent_.clock_ms;
  clock_base_host_ms_ = clock_.NowMs();
  return Status::Ok();
}

nvstore::Records Tpm::EncodeRecords() {
  nvstore::Records out;
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    for (const SecretBytes* s : {&persistent_.eps, &persistent_.sps, &persistent_.pps,
                                 &persistent_.eh_proof, &persistent_.sh_proof,
                                 &persistent_.ph_proof}) {
      PutSecret(w, *s);
    }
    out["seeds"] = w.Take();
  }
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    for (const SecretBytes* s :
         {&persistent_.owner_auth, &persistent_.endorsement_auth, &persistent_.lockout_auth}) {
      PutSecret(w, *s);
    }
    for (const wire::TpmtHa* p : {&persistent_.owner_policy, &persistent_.endorsement_policy,
                                  &persistent_.lockout_policy}) {
      wire::Marshal(w, *p);
    }
    out["hierarchy"] = w.Take();
  }
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    w.U64(persistent_.clock_ms);
    w.U32(persistent_.reset_count);
    w.U32(persistent_.restart_count);
    w.U8(persistent_.orderly ? 1 : 0);
    w.U16(persistent_.shutdown_type);
    w.U8(static_cast<uint8_t>(persistent_.clock_adjust));
    out["clock"] = w.Take();
  }
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    PutSelections(w, persistent_.pcr_allocation);
    PutSelections(w, persistent_.pending_allocation);
    out["pcr_allocation"] = w.Take();
  }
  nv::Encode(*this, out);
  if (persistent_.shutdown_type == TpmSu::State) {
    wire::Writer w;
    w.U8(kRecordVersion);
    PutPcrValues(w, persistent_.saved_pcrs);
    w.U32(persistent_.saved_pcr_update_counter);
    PutSecret(w, reset_.null_proof);
    PutSecret(w, reset_.null_seed);
    out["saved_state"] = w.Take();
  }
  return out;
}

Status Tpm::DecodeRecords(const nvstore::Records& records) {
  auto corrupt = [](const std::string& what) {
    return CorruptError("TPM state record '" + what + "' is malformed; refusing to start");
  };
  auto get = [&](const char* key) -> const Bytes* {
    auto it = records.find(key);
    return it == records.end() ? nullptr : &it->second;
  };
  for (const char* key : {"seeds", "hierarchy", "clock", "pcr_allocation"}) {
    const Bytes* b = get(key);
    if (b == nullptr) {
      return CorruptError(std::string("TPM state lacks record '") + key +
                          "'; refusing to start");
    }
    if (b->empty() || (*b)[0] != kRecordVersion) {
      return CorruptError(std::string("TPM state record '") + key +
                          "' has an unknown format version; refusing to start");
    }
  }
  {
    wire::Reader r(*get("seeds"));
    uint8_t v = 0;
    bool ok = r.U8(v).ok();
    for (SecretBytes* s : {&persistent_.eps, &persistent_.sps, &persistent_.pps,
                           &persistent_.eh_proof, &persistent_.sh_proof, &persistent_.ph_proof}) {
      ok = ok && GetSecret(r, *s).ok();
    }
    if (!ok || !r.empty()) {
      return corrupt("seeds");
    }
  }
  {
    wire::Reader r(*get("hierarchy"));
    uint8_t v = 0;
    bool ok = r.U8(v).ok();
    for (SecretBytes* s :
         {&persistent_.owner_auth, &persistent_.endorsement_auth, &persistent_.lockout_auth}) {
      ok = ok && GetSecret(r, *s).ok();
    }
    for (wire::TpmtHa* p : {&persistent_.owner_policy, &persistent_.endorsement_policy,
                            &persistent_.lockout_policy}) {
      ok = ok && wire::Unmarshal(r, *p).ok();
    }
    if (!ok || !r.empty()) {
      return corrupt("hierarchy");
    }
  }
  {
    wire::Reader r(*get("clock"));
    uint8_t v = 0, orderly = 0, adjust = 0;
    bool ok = r.U8(v).ok() && r.U64(persistent_.clock_ms).ok() &&
              r.U32(persistent_.reset_count).ok() && r.U32(persistent_.restart_count).ok() &&
              r.U8(orderly).ok() && r.U16(persistent_.shutdown_type).ok() && r.U8(adjust).ok();
    if (!ok || !r.empty()) {
      return corrupt("clock");
    }
    persistent_.orderly = orderly != 0;
    persistent_.clock_adjust = static_cast<int8_t>(adjust);
  }
  {
    wire::Reader r(*get("pcr_allocation"));
    uint8_t v = 0;
    bool ok = r.U8(v).ok() && GetSelections(r, persistent_.pcr_allocation).ok() &&
              GetSelections(r, persistent_.pending_allocation).ok();
    if (!ok || !r.empty()) {
      return corrupt("pcr_allocation");
    }
  }
  if (const Bytes* b = get("saved_state"); b != nullptr) {
    wire::Reader r(*b);
    uint8_t v = 0;
    bool ok = r.U8(v).ok() && v == kRecordVersion && GetPcrValues(r, persistent_.saved_pcrs).ok() &&
              r.U32(persistent_.saved_pcr_update_counter).ok() &&
              GetSecret(r, reset_.null_proof).ok() && GetSecret(r, reset_.null_seed).ok();
    if (!ok || !r.empty()) {
      return corrupt("saved_state");
    }
  }
  TRY(nv::Decode(*this, records));
  committed_ = records;
  return Status::Ok();
}

Status Tpm::Persist() {
  nvstore::Records now = EncodeRecords();
  nvstore::Batch batch;
  for (auto& [key, value] : now) {
    auto it = committed_.find(key);
    if (it == committed_.end() || it->second != value) {
      batch.changes[key] = value;
    }
  }
  for (const auto& [key, value] : committed_) {
    if (now.find(key) == now.end()) {
      batch.changes[key] = std::nullopt;
    }
  }
  if (batch.empty()) {
    return Status::Ok();
  }
  Status st = store_.Commit(batch);
  if (!st.ok()) {
    return st;
  }
  committed_ = std::move(now);
  return Status::Ok();
}

void Tpm::EnterFailureMode(const std::string& why) {
  if (!failure_mode_) {
    std::fprintf(stderr, "tpm2emu: entering failure mode: %s\n", why.c_str());
  }
  failure_mode_ = true;
  self_test_result_ = Rc::Failure.value();
}

// --- Power ------------------------------------------------------------------------------------

void Tpm::TpmInit() {
  // _TPM_Init (Part 1 §12.2.2): volatile memory is gone; Startup must come next.
  started_ = false;
  reset_.objects.clear();
  reset_.sessions.clear();
  init_host_ms_ = clock_.NowMs();
  clock_base_host_ms_ = init_host_ms_;
  clock_ms_base_ = std::max(clock_ms_base_, persistent_.clock_ms);
}

void Tpm::PowerOn() {
  if (powered_) {
    return;
  }
  powered_ = true;
  TpmInit();
}

void Tpm::PowerOff() {
  if (!powered_) {
    return;
  }
  clock_ms_base_ = clock_ms();
  // Power loss: if Shutdown did not run, the next Startup sees a disorderly shutdown.
  (void)Flush();
  powered_ = false;
  started_ = false;
  reset_.objects.clear();
  reset_.sessions.clear();
}

void Tpm::Reset() {
  if (!powered_) {
    return;
  }
  clock_ms_base_ = clock_ms();
  TpmInit();
}

Status Tpm::Flush() {
  persistent_.clock_ms = std::max(persistent_.clock_ms, clock_ms());
  last_persisted_clock_ms_ = persistent_.clock_ms;
  return Persist();
}

// --- Clock ------------------------------------------------------------------------------------

uint64_t Tpm::clock_ms() {
  uint64_t now = clock_.NowMs();
  if (!powered_) {
    return clock_ms_base_;
  }
  uint64_t elapsed = now >= clock_base_host_ms_ ? now - clock_base_host_ms_ : 0;
  // ClockRateAdjust: each step changes the rate by a small fraction (Part 3 §29.3 leaves the
  // size to the implementation); coarse = 3 steps of 1/1000 here.
  int64_t scaled = static_cast<int64_t>(elapsed) +
                   static_cast<int64_t>(elapsed) * persistent_.clock_adjust / 1000;
  return clock_ms_base_ + static_cast<uint64_t>(std::max<int64_t>(scaled, 0));
}

uint64_t Tpm::time_ms() {
  uint64_t now = clock_.NowMs();
  return powered_ && now >= init_host_ms_ ? now - init_host_ms_ : 0;
}

void Tpm::SetClock(uint64_t new_clock_ms) {
  clock_ms_base_ = new_clock_ms;
  clock_base_host_ms_ = clock_.NowMs();
  persistent_.clock_ms = new_clock_ms;
  last_persisted_clock_ms_ = new_clock_ms;
}

void Tpm::SetClockRate(int8_t per_mille) {
  clock_ms_base_ = clock_ms();
  clock_base_host_ms_ = clock_.NowMs();
  persistent_.clock_adjust = per_mille;
}

RcStatus Tpm::SaveClockToNv() {
  persistent_.clock_ms = std::max(persistent_.clock_ms, clock_ms());
  last_persisted_clock_ms_ = persistent_.clock_ms;
  return {};
}

void Tpm::StirEntropy(ByteSpan additional) {
  Bytes fresh(32);
  entropy_.Fill(fresh);
  drbg_->Reseed(fresh, additional);
  SecureWipe(fresh.data(), fresh.size());
}

void Tpm::UpdateNvClock() {
  uint64_t now = clock_ms();
  if (now >= last_persisted_clock_ms_ + kClockUpdateMs) {
    persistent_.clock_ms = now;
    last_persisted_clock_ms_ = now;
    clock_safe_ = true;
  }
}

wire::TpmsClockInfo Tpm::ClockInfo() {
  wire::TpmsClockInfo info;
  info.clock = clock_ms();
  info.reset_count = persistent_.reset_count;
  info.restart_count = persistent_.restart_count;
  info.safe = clock_safe_ ? 1 : 0;
  return info;
}

// --- PCRs -------------------------------------------------------------------------------------

std::optional<size_t> Tpm::BankIndex(uint16_t hash_alg) const {
  for (size_t i = 0; i < persistent_.pcr_allocation.size(); ++i) {
    if (persistent_.pcr_allocation[i].hash == hash_alg) {
      return i;
    }
  }
  return std::nullopt;
}

bool Tpm::IsPcrAllocated(size_t bank, size_t pcr) const {
  return bank < persistent_.pcr_allocation.size() &&
         persistent_.pcr_allocation[bank].IsSelected(pcr);
}

// --- Hierarchies ------------------------------------------------------------------------------

bool Tpm::IsHierarchyEnabled(uint32_t handle) const {
  switch (handle) {
    case TpmRh::Owner:
      return clear_.sh_enable;
    case TpmRh::Endorsement:
      return clear_.eh_enable;
    case TpmRh::Platform:
    case TpmRh::PlatformNv:
      return clear_.ph_enable;
    default:
      return true;
  }
}

const SecretBytes* Tpm::HierarchyProof(uint32_t hierarchy) const {
  switch (hierarchy) {
    case TpmRh::Owner:
      return &persistent_.sh_proof;
    case TpmRh::Endorsement:
      return &persistent_.eh_proof;
    case TpmRh::Platform:
      return &persistent_.ph_proof;
    case TpmRh::Null:
      return &reset_.null_proof;
    default:
      return nullptr;
  }
}

SecretBytes* Tpm::AuthValueFor(uint32_t handle) {
  switch (handle) {
    case TpmRh::Owner:
      return &persistent_.owner_auth;
    case TpmRh::Endorsement:
      return &persistent_.endorsement_auth;
    case TpmRh::Lockout:
      return &persistent_.lockout_auth;
    case TpmRh::Platform:
      return &clear_.platform_auth;
    default:
      break;
  }
  auto it = reset_.objects.find(handle);
  if (it != reset_.objects.end()) {
    return &it->second.auth;
  }
  return nullptr;
}

Bytes Tpm::Ticket(uint32_t hierarchy, uint16_t tag, ByteSpan data) {
  const SecretBytes* proof = HierarchyProof(hierarchy);
  Bytes msg;
  AppendBe16(msg, tag);
  msg.insert(msg.end(), data.begin(), data.end());
  auto mac = crypto::Hmac(kContextHashAlg, proof != nullptr ? proof->span() : ByteSpan{}, msg);
  return mac.ok() ? std::move(mac).value() : Bytes{};
}

uint32_t Tpm::AllocateTransientHandle() {
  for (uint32_t tries = 0; tries < 0x00FFFFFF; ++tries) {
    uint32_t h = reset_.next_transient;
    reset_.next_transient = h == 0x80FFFFFF ? 0x80000000 : h + 1;
    if (reset_.objects.find(h) == reset_.objects.end()) {
      return h;
    }
  }
  return 0;
}

RcStatus Tpm::CheckHandleReference(uint32_t handle, uint32_t n) {
  uint8_t ht = static_cast<uint8_t>(handle >> 24);
  switch (ht) {
    case TpmHt::Pcr:
      return {};
    case TpmHt::Transient:
      if (reset_.objects.find(handle) == reset_.objects.end()) {
        return Rc::ReferenceH(n);
      }
      return {};
    case TpmHt::HmacSession:
    case TpmHt::PolicySession:
      if (reset_.sessions.find(handle) == reset_.sessions.end()) {
        return Rc::ReferenceH(n);
      }
      return {};
    case TpmHt::Permanent:
      if (!IsHierarchyEnabled(handle)) {
        return Rc::Hierarchy.Handle(n + 1);
      }
      return {};
    case TpmHt::NvIndex:
      return nv::CheckReference(*this, handle, n);
    default:
      // Persistent objects, NV indices and sessions as handles come with later work.
      return Rc::Handle.Handle(n + 1);
  }
}

TpmRc Tpm::AuthFailure(uint32_t handle, uint32_t session_number) const {
  // Part 1 §16.? only lockoutAuth among the permanent handles is DA-protected.
  return handle == TpmRh::Lockout ? Rc::AuthFail.Session(session_number)
                                  : Rc::BadAuth.Session(session_number);
}

RcStatus Tpm::AuthorizeWithPassword(uint32_t handle, ByteSpan password, uint32_t session_number) {
  TRY_ASSIGN(ByteSpan expected, EntityAuth(handle));
  if (!ConstantTimeEqual(TrimTrailingZeros(expected), TrimTrailingZeros(password))) {
    return AuthFailure(handle, session_number);
  }
  return {};
}

Result<SecretBytes> Tpm::DecryptSalt(uint32_t /*tpm_key*/, ByteSpan /*encrypted*/) {
  // Only sequence objects can be loaded so far, and they are not asymmetric keys.
  return Rc::Key.Handle(1);
}

Result<ByteSpan> Tpm::EntityAuth(uint32_t handle) {
  uint8_t ht = static_cast<uint8_t>(handle >> 24);
  if (ht == TpmHt::NvIndex) {
    return nv::Auth(*this, handle);
  }
  if (ht == TpmHt::Pcr || handle == TpmRh::Null) {
    return ByteSpan{};  // PCR authValues are empty in this profile (no PCR_SetAuthValue yet)
  }
  const SecretBytes* auth = AuthValueFor(handle);
  if (auth == nullptr) {
    return Rc::AuthUnavailable;
  }
  return auth->span();
}

Result<Bytes> Tpm::EntityName(uint32_t handle) {
  if (static_cast<uint8_t>(handle >> 24) == TpmHt::NvIndex) {
    return nv::Name(*this, handle);
  }
  Bytes name;
  AppendBe32(name, handle);
  return name;
}

wire::TpmtHa Tpm::EntityPolicy(uint32_t handle) {
  switch (handle) {
    case TpmRh::Owner:
      return persistent_.owner_policy;
    case TpmRh::Endorsement:
      return persistent_.endorsement_policy;
    case TpmRh::Lockout:
      return persistent_.lockout_policy;
    case TpmRh::Platform:
      return clear_.platform_policy;
    default:
      if (static_cast<uint8_t>(handle >> 24) == TpmHt::NvIndex) {
        return nv::Policy(*this, handle);
      }
      return NullPolicy();
  }
}

Result<uint32_t> Tpm::AllocateSessionHandle(bool policy) {
  size_t loaded = reset_.sessions.size();
  if (loaded >= kMaxLoadedSessions) {
    return Rc::SessionMemory;
  }
  for (uint32_t index = 0; index < kMaxActiveSessions; ++index) {
    uint32_t hmac = TpmHr::HmacSessionFirst + index;
    uint32_t pol = TpmHr::PolicySessionFirst + index;
    if (reset_.sessions.count(hmac) == 0 && reset_.sessions.count(pol) == 0) {
      return policy ? pol : hmac;
    }
  }
  return Rc::SessionHandles;
}

// --- Volatile state ---------------------------------------------------------------------------

StatusOr<Bytes> Tpm::SaveVolatile() {
  wire::Writer w;
  w.U8(kRecordVersion);
  w.U8(powered_ ? 1 : 0);
  w.U8(started_ ? 1 : 0);
  w.U64(clock_ms());
  PutPcrValues(w, pcr_values_);
  w.U32(reset_.pcr_update_counter);
  PutSecret(w, reset_.null_proof);
  PutSecret(w, reset_.null_seed);
  PutSecret(w, clear_.platform_auth);
  wire::Marshal(w, clear_.platform_policy);
  w.U8(static_cast<uint8_t>((clear_.ph_enable ? 1 : 0) | (clear_.sh_enable ? 2 : 0) |
                            (clear_.eh_enable ? 4 : 0) | (clear_.ph_enable_nv ? 8 : 0)));
  // Sequence objects are not kept: OpenSSL cannot export a digest's running state.
  return w.Take();
}

Status Tpm::RestoreVolatile(std::span<const uint8_t> blob) {
  wire::Reader r(blob);
  uint8_t version = 0, powered = 0, started = 0, enables = 0;
  uint64_t clock = 0;
  std::vector<std::vector<Bytes>> pcrs;
  ResetState reset;
  ClearState clear;
  bool ok = r.U8(version).ok() && version == kRecordVersion && r.U8(powered).ok() &&
            r.U8(started).ok() && r.U64(clock).ok() && GetPcrValues(r, pcrs).ok() &&
            r.U32(reset.pcr_update_counter).ok() && GetSecret(r, reset.null_proof).ok() &&
            GetSecret(r, reset.null_seed).ok() && GetSecret(r, clear.platform_auth).ok() &&
            wire::Unmarshal(r, clear.platform_policy).ok() && r.U8(enables).ok() && r.empty();
  if (!ok || pcrs.size() != persistent_.pcr_allocation.size()) {
    return CorruptError("saved volatile TPM state is malformed");
  }
  clear.ph_enable = (enables & 1) != 0;
  clear.sh_enable = (enables & 2) != 0;
  clear.eh_enable = (enables & 4) != 0;
  clear.ph_enable_nv = (enables & 8) != 0;
  pcr_values_ = std::move(pcrs);
  reset_ = std::move(reset);
  clear_ = std::move(clear);
  powered_ = false;
  PowerOn();
  clock_ms_base_ = std::max(clock, persistent_.clock_ms);
  started_ = started != 0;
  if (powered == 0) {
    PowerOff();
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<TpmInstance>> CreateTpm(nvstore::Store& store, Clock& clock,
                                                 EntropySource& entropy, const Profile& profile) {
  auto tpm = std::make_unique<Tpm>(store, clock, entropy, profile);
  Status st = tpm->Load();
  if (!st.ok()) {
    return st;
  }
  return std::unique_ptr<TpmInstance>(std::move(tpm));
}

}  // namespace tpm2emu::engine
