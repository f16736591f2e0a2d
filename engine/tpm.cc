#include "engine/tpm.h"

#include <sys/random.h>

#include <algorithm>
#include <utility>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "crypto/ecc.h"
#include "crypto/kdf.h"
#include "crypto/rsa.h"
#include "engine/state/object_util.h"
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

// The commit state of split operations (TPM Reset data, kept by Shutdown(STATE)).
void PutCommitState(wire::Writer& w, const ResetState& s) {
  PutSecret(w, s.commit_nonce);
  w.U64(s.commit_count);
  w.U64(s.commit_array);
}

bool GetCommitState(wire::Reader& r, ResetState& s) {
  return GetSecret(r, s.commit_nonce).ok() && r.U64(s.commit_count).ok() &&
         r.U64(s.commit_array).ok();
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

// The optional H-CRTM section at the end of the saved volatile state.
constexpr uint8_t kVolatileHcrtmSequence = 1;
constexpr uint8_t kVolatileHcrtmDigests = 2;

bool GetVolatileHcrtm(wire::Reader& r, HcrtmState& out) {
  uint8_t flags = 0;
  if (!r.U8(flags).ok() || flags == 0 ||
      (flags & ~(kVolatileHcrtmSequence | kVolatileHcrtmDigests)) != 0) {
    return false;
  }
  if ((flags & kVolatileHcrtmSequence) != 0) {
    uint32_t len = 0;
    if (!r.U32(len).ok()) {
      return false;
    }
    auto enc = r.Take(len);
    auto obj = enc.ok() ? DecodeObject(*enc) : Result<Object>(Rc::Size);
    // It must be what _TPM_Hash_Start makes: an event sequence.
    if (!obj.ok() || !obj->sequence || !obj->sequence->is_event) {
      return false;
    }
    out.sequence = std::move(obj->sequence);
  }
  if ((flags & kVolatileHcrtmDigests) != 0) {
    wire::TpmlDigestValues digests;
    if (!wire::Unmarshal(r, digests).ok()) {
      return false;
    }
    // (Unmarshal sized each digest by its algorithm.)
    for (const wire::TpmtHa& d : digests.items) {
      if (!wire::IsImplementedHash(d.hash_alg)) {
        return false;
      }
    }
    out.pre_startup = std::move(digests);
  }
  return true;
}

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
    w.U8(persistent_.disable_clear ? 1 : 0);
    w.U32(persistent_.failed_tries);
    w.U32(persistent_.max_tries);
    w.U32(persistent_.recovery_time_s);
    w.U32(persistent_.lockout_recovery_s);
    w.U64(persistent_.lockout_auth_locked_until_ms);
    w.U64(persistent_.last_recovery_ms);
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
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    w.U16(persistent_.audit_alg);
    w.U64(persistent_.audit_counter);
    PutSecret(w, persistent_.audit_digest);
    w.U32(static_cast<uint32_t>(persistent_.audit_commands.size()));
    for (uint32_t cc : persistent_.audit_commands) {
      w.U32(cc);
    }
    out["audit"] = w.Take();
  }
  {
    wire::Writer w;
    w.U8(kRecordVersion);
    w.U8(persistent_.tpm_established ? 1 : 0);
    w.U8(persistent_.startup_method);
    out["rtm"] = w.Take();
  }
  nv::Encode(*this, out);
  for (const auto& [handle, obj] : persistent_.objects) {
    char key[16];
    std::snprintf(key, sizeof(key), "obj/%08x", handle);
    out[key] = EncodeObject(obj);
  }
  if (persistent_.shutdown_type == TpmSu::State) {
    wire::Writer w;
    w.U8(kRecordVersion);
    PutPcrValues(w, persistent_.saved_pcrs);
    w.U32(persistent_.saved_pcr_update_counter);
    PutSecret(w, reset_.null_proof);
    PutSecret(w, reset_.null_seed);
    PutCommitState(w, reset_);
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
    uint8_t disable_clear = 0;
    ok = ok && r.U8(disable_clear).ok() && r.U32(persistent_.failed_tries).ok() &&
         r.U32(persistent_.max_tries).ok() && r.U32(persistent_.recovery_time_s).ok() &&
         r.U32(persistent_.lockout_recovery_s).ok() &&
         r.U64(persistent_.lockout_auth_locked_until_ms).ok() &&
         r.U64(persistent_.last_recovery_ms).ok();
    persistent_.disable_clear = disable_clear != 0;
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
    if (ok && !r.empty()) {  // absent in states saved before TPM2_Commit
      ok = GetCommitState(r, reset_);
    }
    if (!ok || !r.empty()) {
      return corrupt("saved_state");
    }
  }
  if (const Bytes* b = get("audit"); b != nullptr) {  // absent in states from before audit
    wire::Reader r(*b);
    uint8_t v = 0;
    uint32_t count = 0;
    SecretBytes digest;
    bool ok = r.U8(v).ok() && v == kRecordVersion && r.U16(persistent_.audit_alg).ok() &&
              r.U64(persistent_.audit_counter).ok() && GetSecret(r, digest).ok() &&
              r.U32(count).ok() && count <= r.remaining() / 4;
    persistent_.audit_commands.clear();
    for (uint32_t i = 0; ok && i < count; ++i) {
      uint32_t cc = 0;
      ok = r.U32(cc).ok();
      persistent_.audit_commands.insert(cc);
    }
    if (!ok || !r.empty() || !crypto::IsHashSupported(persistent_.audit_alg)) {
      return corrupt("audit");
    }
    persistent_.audit_digest = ToBytes(digest.span());
    persistent_.audit_commands.insert(TpmCc::SetCommandCodeAuditStatus);
  }
  if (const Bytes* b = get("rtm"); b != nullptr) {  // absent in states from before H-CRTM
    wire::Reader r(*b);
    uint8_t v = 0, established = 0;
    bool ok = r.U8(v).ok() && v == kRecordVersion && r.U8(established).ok() &&
              r.U8(persistent_.startup_method).ok() && r.empty() && established <= 1;
    if (!ok) {
      return corrupt("rtm");
    }
    persistent_.tpm_established = established != 0;
  }
  TRY(nv::Decode(*this, records));
  for (auto it = records.lower_bound("obj/"); it != records.end() && it->first.rfind("obj/", 0) == 0;
       ++it) {
    uint32_t handle = 0;
    auto obj = DecodeObject(it->second);
    if (std::sscanf(it->first.c_str(), "obj/%8x", &handle) != 1 || !obj.ok() ||
        static_cast<uint8_t>(handle >> 24) != TpmHt::Persistent) {
      return corrupt(it->first);
    }
    persistent_.objects.emplace(handle, std::move(obj).value());
  }
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
  hcrtm_ = HcrtmState{};
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
  hcrtm_ = HcrtmState{};
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

Status Tpm::CommitOutsideCommand() {
  Status st = Persist();
  if (!st.ok()) {
    EnterFailureMode("cannot commit state: " + st.message());
  }
  return st;
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
  if (Object* obj = LookupObject(handle)) {
    return &obj->auth;
  }
  return nullptr;
}

Object* Tpm::LookupObject(uint32_t handle) {
  return const_cast<Object*>(std::as_const(*this).LookupObject(handle));
}

const Object* Tpm::LookupObject(uint32_t handle) const {
  if (auto it = reset_.objects.find(handle); it != reset_.objects.end()) {
    return &it->second;
  }
  if (auto it = persistent_.objects.find(handle); it != persistent_.objects.end()) {
    return &it->second;
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
      if (auto it = reset_.sessions.find(handle);
          it == reset_.sessions.end() || !it->second.loaded) {
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
    case TpmHt::Persistent: {
      auto it = persistent_.objects.find(handle);
      if (it == persistent_.objects.end() ||
          (it->second.hierarchy != TpmRh::Null && !IsHierarchyEnabled(it->second.hierarchy))) {
        return Rc::Handle.Handle(n + 1);
      }
      return {};
    }
    default:
      return Rc::Handle.Handle(n + 1);
  }
}

bool Tpm::IsDaProtected(uint32_t handle) const {
  if (handle == TpmRh::Lockout) {
    return true;
  }
  if (const Object* obj = LookupObject(handle)) {
    return !obj->sequence && !obj->pub.Has(wire::TpmaObject::NoDa);
  }
  if (static_cast<uint8_t>(handle >> 24) == TpmHt::NvIndex) {
    return nv::IsDaProtected(nv_, handle);
  }
  // Other permanent handles (owner, endorsement, platform) and PCRs are not DA-protected.
  return false;
}

bool Tpm::InLockout() {
  PersistentState& p = persistent_;
  // Part 1 §16.8.4: one failure is forgiven per recoveryTime of Time (Part 3 §25.3.1: the TPM
  // must stay powered for it); recoveryTime 0 disables DA protection, so nothing is counted.
  if (p.recovery_time_s != 0 && p.failed_tries > 0) {
    uint64_t now = time_ms();
    uint64_t step = uint64_t{p.recovery_time_s} * 1000;
    if (p.last_recovery_ms > now) {
      p.last_recovery_ms = now;
    }
    uint64_t forgiven = (now - p.last_recovery_ms) / step;
    if (forgiven > 0) {
      p.failed_tries =
          forgiven >= p.failed_tries ? 0 : p.failed_tries - static_cast<uint32_t>(forgiven);
      p.last_recovery_ms += forgiven * step;
    }
  }
  return p.failed_tries >= p.max_tries;
}

void Tpm::RestartDaTimers() {
  PersistentState& p = persistent_;
  uint64_t now = time_ms();
  p.last_recovery_ms = now;
  if (p.lockout_auth_locked_until_ms != 0) {
    p.lockout_auth_locked_until_ms =
        p.lockout_recovery_s == 0 ? 0 : now + uint64_t{p.lockout_recovery_s} * 1000;
  }
}

RcStatus Tpm::CheckLockout(uint32_t handle) {
  if (!IsDaProtected(handle)) {
    return {};
  }
  if (handle == TpmRh::Lockout) {
    uint64_t until = persistent_.lockout_auth_locked_until_ms;
    if (until != 0 && time_ms() < until) {
      return Rc::Lockout;
    }
    return {};
  }
  if (InLockout()) {
    return Rc::Lockout;
  }
  return {};
}

TpmRc Tpm::AuthFailure(uint32_t handle, uint32_t session_number) {
  if (static_cast<uint8_t>(handle >> 24) == TpmHt::NvIndex) {
    nv::OnAuthFailure(*this, handle);  // a PIN Fail index counts its own failures
  }
  if (!IsDaProtected(handle)) {
    return Rc::BadAuth.Session(session_number);
  }
  PersistentState& p = persistent_;
  if (handle == TpmRh::Lockout) {
    // Part 1 §16.8.5: a wrong lockoutAuth blocks it for lockoutRecovery of Time (until the next
    // TPM2_Startup when that is 0).
    p.lockout_auth_locked_until_ms = p.lockout_recovery_s == 0
                                         ? ~uint64_t{0}
                                         : time_ms() + uint64_t{p.lockout_recovery_s} * 1000;
  } else if (p.recovery_time_s == 0) {
    // Part 3 §25.3.1: DA protection is disabled; a failure that is not counted is
    // TPM_RC_BAD_AUTH (Part 1 §16.8.3).
    return Rc::BadAuth.Session(session_number);
  } else {
    InLockout();
    if (p.failed_tries == 0) {
      p.last_recovery_ms = time_ms();
    }
    if (p.failed_tries < p.max_tries) {
      ++p.failed_tries;
    }
  }
  return Rc::AuthFail.Session(session_number);
}

RcStatus Tpm::AuthorizeWithPassword(uint32_t handle, ByteSpan password, uint32_t session_number) {
  TRY_ASSIGN(ByteSpan expected, EntityAuth(handle));
  if (!ConstantTimeEqual(TrimTrailingZeros(expected), TrimTrailingZeros(password))) {
    return AuthFailure(handle, session_number);
  }
  return {};
}

Result<Object*> Tpm::FindObject(uint32_t handle, uint32_t handle_number) {
  if (Object* obj = LookupObject(handle)) {
    return obj;
  }
  if (static_cast<uint8_t>(handle >> 24) == TpmHt::Persistent) {
    return Rc::Handle.Handle(handle_number);
  }
  return Rc::ReferenceH(handle_number - 1);
}

Result<uint32_t> Tpm::InsertObject(Object obj) {
  if (reset_.objects.size() >= kMaxLoadedObjects) {
    return Rc::ObjectMemory;
  }
  uint32_t handle = AllocateTransientHandle();
  if (handle == 0) {
    return Rc::ObjectHandles;
  }
  reset_.objects.emplace(handle, std::move(obj));
  return handle;
}

const SecretBytes* Tpm::HierarchySeed(uint32_t hierarchy) const {
  switch (hierarchy) {
    case TpmRh::Owner:
      return &persistent_.sps;
    case TpmRh::Endorsement:
      return &persistent_.eps;
    case TpmRh::Platform:
      return &persistent_.pps;
    case TpmRh::Null:
      return &reset_.null_seed;
    default:
      return nullptr;
  }
}

Result<SecretBytes> Tpm::DecryptSecret(uint32_t key_handle, std::string_view label,
                                       ByteSpan encrypted, uint32_t param) {
  TRY_ASSIGN(Object * key, FindObject(key_handle, 1));
  if (key->sequence || (key->pub.type != TpmAlg::Rsa && key->pub.type != TpmAlg::Ecc) ||
      key->public_only) {
    return Rc::Key.Handle(1);
  }
  if (!key->pub.Has(wire::TpmaObject::Decrypt)) {
    return Rc::Attributes.Handle(1);
  }
  uint16_t h = key->pub.name_alg;
  size_t digest = crypto::DigestSize(h);
  if (const auto* rsa = std::get_if<wire::RsaDetail>(&key->pub.detail)) {
    if (rsa->scheme.scheme != TpmAlg::Null && rsa->scheme.scheme != TpmAlg::Oaep) {
      return Rc::Value.Param(param);
    }
    TRY_ASSIGN(auto priv, crypto::RsaFromPrime(crypto::RsaPublicKey{rsa->unique, rsa->exponent},
                                               key->sensitive));
    Bytes oaep_label(label.begin(), label.end());
    oaep_label.push_back(0);  // the label includes its terminating zero octet
    auto seed = crypto::RsaDecrypt(priv, TpmAlg::Oaep, h, oaep_label, encrypted);
    if (!seed.ok() || seed->size() > digest) {
      return Rc::Value.Param(param);
    }
    return std::move(seed).value();
  }
  const auto& ecc = std::get<wire::EccDetail>(key->pub.detail);
  if (ecc.scheme.scheme != TpmAlg::Null && ecc.scheme.scheme != TpmAlg::EcDh) {
    return Rc::Value.Param(param);
  }
  // The caller's ephemeral point Qe; Z = d·Qe; seed = KDFe(nameAlg, Z.x, label, Qe.x, Qs.x).
  wire::Reader r(encrypted);
  wire::Tpm2bBytes<wire::kMaxEccKeyBytes> x, y;
  if (!wire::Unmarshal(r, x).ok() || !wire::Unmarshal(r, y).ok() || !r.empty()) {
    return Rc::Value.Param(param);
  }
  auto z = crypto::EcdhZ(ecc.curve, key->sensitive, crypto::EccPoint{x.data, y.data});
  if (!z.ok()) {
    return Rc::EccPoint.Param(param);
  }
  return crypto::KdfE(h, z->x, label, x.data, ecc.x, static_cast<uint32_t>(digest * 8));
}

Result<std::pair<SecretBytes, Bytes>> Tpm::EncryptSecret(const Object& key,
                                                         std::string_view label) {
  uint16_t h = key.pub.name_alg;
  size_t digest = crypto::DigestSize(h);
  if (const auto* rsa = std::get_if<wire::RsaDetail>(&key.pub.detail)) {
    SecretBytes seed = RandomSecret(digest);
    Bytes oaep_label(label.begin(), label.end());
    oaep_label.push_back(0);
    TRY_ASSIGN(Bytes enc, crypto::RsaEncrypt(crypto::RsaPublicKey{rsa->unique, rsa->exponent},
                                             TpmAlg::Oaep, h, oaep_label, seed));
    return std::make_pair(std::move(seed), std::move(enc));
  }
  if (const auto* ecc = std::get_if<wire::EccDetail>(&key.pub.detail)) {
    TRY_ASSIGN(auto eph, crypto::EccEphemeral(ecc->curve, [this](std::span<uint8_t> o) {
                 Random(o);
               }));
    TRY_ASSIGN(crypto::EccPoint z,
               crypto::EcdhZ(ecc->curve, eph.first, crypto::EccPoint{ecc->x, ecc->y}));
    TRY_ASSIGN(SecretBytes seed, crypto::KdfE(h, z.x, label, eph.second.x, ecc->x,
                                              static_cast<uint32_t>(digest * 8)));
    wire::Writer w;
    wire::Marshal(w, wire::Tpm2bBytes<wire::kMaxEccKeyBytes>{eph.second.x});
    wire::Marshal(w, wire::Tpm2bBytes<wire::kMaxEccKeyBytes>{eph.second.y});
    return std::make_pair(std::move(seed), w.Take());
  }
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
  if (const Object* obj = LookupObject(handle)) {
    return obj->name;
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
      if (const Object* obj = LookupObject(handle)) {
        const wire::TpmtPublic& pub = obj->pub;
        return pub.auth_policy.empty() ? NullPolicy() : wire::TpmtHa{pub.name_alg, pub.auth_policy};
      }
      return NullPolicy();
  }
}

Result<uint32_t> Tpm::AllocateSessionHandle(bool policy) {
  size_t loaded = 0;
  for (const auto& [h, s] : reset_.sessions) {
    loaded += s.loaded ? 1 : 0;
  }
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
  w.U64(time_ms());
  PutPcrValues(w, pcr_values_);
  w.U32(reset_.pcr_update_counter);
  PutSecret(w, reset_.null_proof);
  PutSecret(w, reset_.null_seed);
  PutCommitState(w, reset_);
  PutSecret(w, clear_.platform_auth);
  wire::Marshal(w, clear_.platform_policy);
  w.U8(static_cast<uint8_t>((clear_.ph_enable ? 1 : 0) | (clear_.sh_enable ? 2 : 0) |
                            (clear_.eh_enable ? 4 : 0) | (clear_.ph_enable_nv ? 8 : 0)));
  // Loaded objects, sequence objects with their running digests included (this is the TPM's
  // volatile memory while it stays powered, not a Shutdown: Startup never sees it), and
  // sessions.
  w.U32(static_cast<uint32_t>(reset_.objects.size()));
  for (const auto& [h, obj] : reset_.objects) {
    w.U32(h);
    Result<Bytes> enc = EncodeLoadedObject(obj);
    if (!enc.ok()) {
      return Status(StatusCode::kInternal, "a sequence object's digest state cannot be saved");
    }
    w.U32(static_cast<uint32_t>(enc->size()));
    w.Raw(*enc);
    SecureWipe(enc->data(), enc->size());
  }
  w.U32(static_cast<uint32_t>(reset_.sessions.size()));
  for (const auto& [h, ses] : reset_.sessions) {
    w.U32(h);
    w.U8(ses.type);
    w.U16(ses.auth_hash);
    PutSecret(w, ses.session_key);
    PutSecret(w, ses.nonce_tpm);
    PutSecret(w, ses.nonce_caller);
    wire::Marshal(w, ses.symmetric);
    PutSecret(w, ses.bind_name);
    PutSecret(w, ses.bind_auth);
    PutSecret(w, ses.policy_digest);
    w.U8(static_cast<uint8_t>((ses.bound ? 1 : 0) | (ses.needs_auth_value ? 2 : 0) |
                              (ses.needs_password ? 4 : 0) | (ses.loaded ? 8 : 0)));
    w.U64(ses.context_sequence);
    PutSecret(w, ses.cp_hash);
    w.U8(ses.cp_hash_kind);
    w.U32(ses.command_code);
    w.U8(ses.command_locality);
    w.U8(static_cast<uint8_t>((ses.pp_required ? 1 : 0) | (ses.check_nv_written ? 2 : 0) |
                              (ses.nv_written_state ? 4 : 0) |
                              (ses.has_pcr_update_counter ? 8 : 0)));
    w.U32(ses.pcr_update_counter);
    w.U64(ses.start_time_ms);
    w.U64(ses.timeout_ms);
    w.U8(ses.audit ? 1 : 0);
    PutSecret(w, ses.audit_digest);
  }
  w.U64(reset_.context_counter);
  w.U32(reset_.next_transient);
  w.U32(reset_.exclusive_audit_session);
  // The H-CRTM Event Sequence state, only when there is any (so that the blob is otherwise the
  // same as before it existed): flags, the running sequence, the pre-Startup digests.
  uint8_t hcrtm_flags = static_cast<uint8_t>((hcrtm_.sequence ? kVolatileHcrtmSequence : 0) |
                                             (hcrtm_.pre_startup ? kVolatileHcrtmDigests : 0));
  if (hcrtm_flags != 0) {
    w.U8(hcrtm_flags);
  }
  if (hcrtm_.sequence) {
    Object holder;
    holder.pub.name_alg = TpmAlg::Null;
    holder.sequence = std::move(hcrtm_.sequence);
    Result<Bytes> enc = EncodeLoadedObject(holder);
    hcrtm_.sequence = std::move(holder.sequence);
    if (!enc.ok()) {
      return Status(StatusCode::kInternal, "the H-CRTM sequence's digest state cannot be saved");
    }
    w.U32(static_cast<uint32_t>(enc->size()));
    w.Raw(*enc);
    SecureWipe(enc->data(), enc->size());
  }
  if (hcrtm_.pre_startup) {
    wire::Marshal(w, *hcrtm_.pre_startup);
  }
  return w.Take();
}

Status Tpm::RestoreVolatile(std::span<const uint8_t> blob) {
  wire::Reader r(blob);
  uint8_t version = 0, powered = 0, started = 0, enables = 0;
  uint64_t clock = 0;
  uint64_t time = 0;
  std::vector<std::vector<Bytes>> pcrs;
  ResetState reset;
  ClearState clear;
  bool ok = r.U8(version).ok() && version == kRecordVersion && r.U8(powered).ok() &&
            r.U8(started).ok() && r.U64(clock).ok() && r.U64(time).ok() &&
            GetPcrValues(r, pcrs).ok() &&
            r.U32(reset.pcr_update_counter).ok() && GetSecret(r, reset.null_proof).ok() &&
            GetSecret(r, reset.null_seed).ok() && GetCommitState(r, reset) &&
            GetSecret(r, clear.platform_auth).ok() &&
            wire::Unmarshal(r, clear.platform_policy).ok() && r.U8(enables).ok();
  uint32_t objects = 0;
  ok = ok && r.U32(objects).ok() && objects <= kMaxLoadedObjects;
  for (uint32_t i = 0; ok && i < objects; ++i) {
    uint32_t h = 0, len = 0;
    ok = r.U32(h).ok() && r.U32(len).ok();
    auto enc = ok ? r.Take(len) : Result<ByteSpan>(Rc::Size);
    auto obj = enc.ok() ? DecodeObject(*enc) : Result<Object>(Rc::Size);
    ok = ok && obj.ok();
    if (ok) {
      reset.objects.emplace(h, std::move(obj).value());
    }
  }
  uint32_t sessions = 0;
  ok = ok && r.U32(sessions).ok() && sessions <= kMaxActiveSessions;
  for (uint32_t i = 0; ok && i < sessions; ++i) {
    Session ses;
    uint32_t h = 0;
    uint8_t flags = 0;
    uint8_t policy_flags = 0;
    uint8_t audit = 0;
    SecretBytes nt, nc, bn, pd, cp, ad;
    ok = r.U32(h).ok() && r.U8(ses.type).ok() && r.U16(ses.auth_hash).ok() &&
         GetSecret(r, ses.session_key).ok() && GetSecret(r, nt).ok() && GetSecret(r, nc).ok() &&
         wire::Unmarshal(r, ses.symmetric).ok() && GetSecret(r, bn).ok() &&
         GetSecret(r, ses.bind_auth).ok() && GetSecret(r, pd).ok() && r.U8(flags).ok() &&
         r.U64(ses.context_sequence).ok() && GetSecret(r, cp).ok() &&
         r.U8(ses.cp_hash_kind).ok() && r.U32(ses.command_code).ok() &&
         r.U8(ses.command_locality).ok() && r.U8(policy_flags).ok() &&
         r.U32(ses.pcr_update_counter).ok() && r.U64(ses.start_time_ms).ok() &&
         r.U64(ses.timeout_ms).ok() && r.U8(audit).ok() && GetSecret(r, ad).ok();
    ses.audit = audit != 0;
    ses.audit_digest = ToBytes(ad.span());
    ses.cp_hash = ToBytes(cp.span());
    ses.pp_required = (policy_flags & 1) != 0;
    ses.check_nv_written = (policy_flags & 2) != 0;
    ses.nv_written_state = (policy_flags & 4) != 0;
    ses.has_pcr_update_counter = (policy_flags & 8) != 0;
    ses.handle = h;
    ses.nonce_tpm = ToBytes(nt.span());
    ses.nonce_caller = ToBytes(nc.span());
    ses.bind_name = ToBytes(bn.span());
    ses.policy_digest = ToBytes(pd.span());
    ses.bound = (flags & 1) != 0;
    ses.needs_auth_value = (flags & 2) != 0;
    ses.needs_password = (flags & 4) != 0;
    ses.loaded = (flags & 8) != 0;
    if (ok) {
      reset.sessions.emplace(h, std::move(ses));
    }
  }
  ok = ok && r.U64(reset.context_counter).ok() && r.U32(reset.next_transient).ok() &&
       r.U32(reset.exclusive_audit_session).ok();
  HcrtmState hcrtm;
  if (ok && !r.empty()) {
    ok = GetVolatileHcrtm(r, hcrtm);
  }
  ok = ok && r.empty();
  if (!ok || (started != 0 && pcrs.size() != persistent_.pcr_allocation.size())) {
    return CorruptError("saved volatile TPM state is malformed");
  }
  clear.ph_enable = (enables & 1) != 0;
  clear.sh_enable = (enables & 2) != 0;
  clear.eh_enable = (enables & 4) != 0;
  clear.ph_enable_nv = (enables & 8) != 0;
  // Power on first (it is _TPM_Init, which empties volatile memory), then put the saved
  // volatile state back, with Clock and Time continuing where they stopped.
  powered_ = false;
  PowerOn();
  pcr_values_ = std::move(pcrs);
  reset_ = std::move(reset);
  clear_ = std::move(clear);
  hcrtm_ = std::move(hcrtm);
  clock_ms_base_ = std::max(clock, persistent_.clock_ms);
  uint64_t now = clock_.NowMs();
  init_host_ms_ = now >= time ? now - time : 0;
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
