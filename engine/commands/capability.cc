// Part 3 §30 Capability commands. Every answer is derived from the same tables the engine
// runs on (the command table, the PCR attributes, the hash list), so it stays truthful.

#include <algorithm>
#include <vector>

#include "crypto/ecc.h"
#include "engine/commands/commands.h"
#include "engine/commands/pcr_attributes.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::capability {
namespace {

// Part 2 §8.2 TPMA_ALGORITHM bits
constexpr uint32_t kAsym = 0x1;
constexpr uint32_t kSym = 0x2;
constexpr uint32_t kAlgHash = 0x4;
constexpr uint32_t kObject = 0x8;
constexpr uint32_t kSigning = 0x100;
constexpr uint32_t kEncrypting = 0x200;
constexpr uint32_t kMethod = 0x400;

struct AlgProperty {
  uint16_t alg;
  uint32_t attributes;
};

// The algorithms the engine implements, in TPM_ALG_ID order.
constexpr AlgProperty kAlgorithms[] = {
    {TpmAlg::Rsa, kAsym | kObject},
    {TpmAlg::Sha1, kAlgHash},
    {TpmAlg::Hmac, kAlgHash | kSigning},
    {TpmAlg::Aes, kSym},
    {TpmAlg::Mgf1, kAlgHash | kMethod},
    {TpmAlg::KeyedHash, kAlgHash | kObject},
    {TpmAlg::Xor, kSym | kAlgHash},
    {TpmAlg::Sha256, kAlgHash},
    {TpmAlg::Sha384, kAlgHash},
    {TpmAlg::Sha512, kAlgHash},
    {TpmAlg::Null, 0},
    {TpmAlg::RsaSsa, kAsym | kSigning},
    {TpmAlg::RsaEs, kAsym | kEncrypting},
    {TpmAlg::RsaPss, kAsym | kSigning},
    {TpmAlg::Oaep, kAsym | kEncrypting},
    {TpmAlg::EcDsa, kAsym | kSigning},
    {TpmAlg::EcDh, kAsym | kMethod},
    {TpmAlg::EcDaa, kAsym | kSigning},
    {TpmAlg::EcSchnorr, kAsym | kSigning},
    {TpmAlg::EcMqv, kAsym | kMethod},
    {TpmAlg::Kdf1Sp800_56a, kAlgHash | kMethod},
    {TpmAlg::Kdf1Sp800_108, kAlgHash | kMethod},
    {TpmAlg::Ecc, kAsym | kObject},
    {TpmAlg::SymCipher, kObject},
    {TpmAlg::Ctr, kSym | kEncrypting},
    {TpmAlg::Ofb, kSym | kEncrypting},
    {TpmAlg::Cbc, kSym | kEncrypting},
    {TpmAlg::Cfb, kSym | kEncrypting},
    {TpmAlg::Ecb, kSym | kEncrypting},
};

// Part 2 §10.9 capacity of each list in MAX_CAP_BUFFER (less capability and count).
constexpr size_t kCapData = wire::kMaxCapBuffer - 8;

constexpr uint32_t kSpecDayOfYear = 71;  // the specification text in shared/spec: 2026-03-12
constexpr uint32_t kSpecYear = 2026;
constexpr uint32_t kSpecRevision = 185;

uint32_t FourChars(std::string_view s, size_t offset) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint8_t c = offset + i < s.size() ? static_cast<uint8_t>(s[offset + i]) : 0;
    v = (v << 8) | c;
  }
  return v;
}

// Part 2 §8.9 TPMA_CC for a table row.
uint32_t CommandAttributes(const CommandDef& def) {
  uint32_t a = def.code & 0xFFFF;
  if ((def.flags & kNv) != 0) {
    a |= 0x00400000;
  }
  if (def.code == TpmCc::SequenceComplete || def.code == TpmCc::EventSequenceComplete ||
      def.code == TpmCc::FlushContext) {
    a |= 0x01000000;  // flushed
  }
  a |= static_cast<uint32_t>(def.num_handles) << 25;
  if (def.num_response_handles != 0) {
    a |= 0x10000000;
  }
  return a;
}

std::vector<std::pair<uint32_t, uint32_t>> TpmProperties(Tpm& tpm) {
  const Profile& prof = tpm.profile();
  const PersistentState& p = tpm.persistent();
  uint32_t loaded_sessions = 0;
  for (const auto& [h, s] : tpm.reset_state().sessions) {
    loaded_sessions += s.loaded ? 1 : 0;
  }
  auto active_sessions = static_cast<uint32_t>(tpm.reset_state().sessions.size());
  const ClearState& c = tpm.clear_state();
  size_t commands = AllCommands().size();
  uint32_t permanent = (p.owner_auth.empty() ? 0u : 0x1u) |
                       (p.endorsement_auth.empty() ? 0u : 0x2u) |
                       (p.lockout_auth.empty() ? 0u : 0x4u) | (p.disable_clear ? 0x100u : 0u) |
                       (tpm.InLockout() ? 0x200u : 0u) | 0x400u;  // tpmGeneratedEPS
  uint32_t startup_clear = (c.ph_enable ? 0x1u : 0u) | (c.sh_enable ? 0x2u : 0u) |
                           (c.eh_enable ? 0x4u : 0u) | (c.ph_enable_nv ? 0x8u : 0u) |
                           (c.orderly_startup ? 0x80000000u : 0u);
  uint32_t loaded = static_cast<uint32_t>(tpm.LoadedObjectCount());
  nv::Usage nv_usage = nv::GetUsage(tpm);
  return {
      {TpmPt::FamilyIndicator, 0x322E3000},  // "2.0"
      {TpmPt::Level, 0},
      {TpmPt::Revision, kSpecRevision},
      {TpmPt::DayOfYear, kSpecDayOfYear},
      {TpmPt::Year, kSpecYear},
      {TpmPt::Manufacturer, FourChars(prof.manufacturer, 0)},
      {TpmPt::VendorString1, FourChars(prof.vendor, 0)},
      {TpmPt::VendorString2, FourChars(prof.vendor, 4)},
      {TpmPt::VendorString3, FourChars(prof.vendor, 8)},
      {TpmPt::VendorString4, FourChars(prof.vendor, 12)},
      {TpmPt::VendorTpmType, 1},
      {TpmPt::FirmwareVersion1, prof.firmware_version_1},
      {TpmPt::FirmwareVersion2, prof.firmware_version_2},
      {TpmPt::InputBuffer, wire::kMaxDigestBuffer},
      {TpmPt::HrTransientMin, kMaxLoadedObjects},
      {TpmPt::HrPersistentMin, kMaxPersistentObjects},
      {TpmPt::HrLoadedMin, kMaxLoadedSessions},
      {TpmPt::ActiveSessionsMax, kMaxActiveSessions},
      {TpmPt::PcrCount, kPcrCount},
      {TpmPt::PcrSelectMin, wire::kPcrSelectMin},
      {TpmPt::ContextGapMax, 0xFFFF},
      {TpmPt::NvCountersMax, 0},  // no fixed maximum: counters share the NV memory pool
      {TpmPt::NvIndexMax, wire::kMaxNvIndexSize},
      {TpmPt::Memory, 0x6},  // sharedNV, objectCopiedToRam
      {TpmPt::ClockUpdate, 1u << 16},
      {TpmPt::ContextHash, kContextHashAlg},
      {TpmPt::ContextSym, TpmAlg::Aes},
      {TpmPt::ContextSymSize, 256},
      {TpmPt::OrderlyCount, kMaxOrderlyCount},
      {TpmPt::MaxCommandSize, wire::kMaxCommandSize},
      {TpmPt::MaxResponseSize, wire::kMaxResponseSize},
      {TpmPt::MaxDigest, wire::kMaxDigestSize},
      {TpmPt::MaxObjectContext, kMaxObjectContext},
      {TpmPt::MaxSessionContext, kMaxSessionContext},
      {TpmPt::PsFamilyIndicator, 1},  // PC Client
      {TpmPt::PsLevel, 0},
      {TpmPt::PsRevision, 0x00000106},
      {TpmPt::PsDayOfYear, 0},
      {TpmPt::PsYear, 0},
      {TpmPt::SplitMax, ephemeral::kSplitMax},
      {TpmPt::TotalCommands, static_cast<uint32_t>(commands)},
      {TpmPt::LibraryCommands, static_cast<uint32_t>(commands)},
      {TpmPt::VendorCommands, 0},
      {TpmPt::NvBufferMax, wire::kMaxNvBufferSize},
      {TpmPt::Modes, 0},
      {TpmPt::MaxCapBuffer, wire::kMaxCapBuffer},
      {TpmPt::Permanent, permanent},
      {TpmPt::StartupClear, startup_clear},
      {TpmPt::HrNvIndex, nv_usage.indices},
      {TpmPt::HrLoaded, loaded_sessions},
      {TpmPt::HrLoadedAvail, static_cast<uint32_t>(kMaxLoadedSessions) - loaded_sessions},
      {TpmPt::HrActive, active_sessions},
      {TpmPt::HrActiveAvail, static_cast<uint32_t>(kMaxActiveSessions) - active_sessions},
      {TpmPt::HrTransientAvail, static_cast<uint32_t>(kMaxLoadedObjects) - loaded},
      {TpmPt::HrPersistent, static_cast<uint32_t>(p.objects.size())},
      {TpmPt::HrPersistentAvail, static_cast<uint32_t>(kMaxPersistentObjects - p.objects.size())},
      {TpmPt::NvCounters, nv_usage.counters},
      {TpmPt::NvCountersAvail, nv_usage.counters_available},
      {TpmPt::AlgorithmSet, 0},
      {TpmPt::LoadedCurves, 0},
      {TpmPt::LockoutCounter, p.failed_tries},
      {TpmPt::MaxAuthFail, p.max_tries},
      {TpmPt::LockoutInterval, p.recovery_time_s},
      {TpmPt::LockoutRecovery, p.lockout_recovery_s},
      {TpmPt::NvWriteRecovery, 0},
      {TpmPt::AuditCounter0, static_cast<uint32_t>(p.audit_counter >> 32)},
      {TpmPt::AuditCounter1, static_cast<uint32_t>(p.audit_counter)},
  };
}

// The PCR property tags (Part 2 §6.14) with the PCRs that have them.
std::vector<std::pair<uint32_t, uint32_t>> PcrPropertyMasks() {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  auto mask_of = [](auto pred) {
    uint32_t m = 0;
    for (size_t n = 0; n < kPcrCount; ++n) {
      if (pred(pcr::AttributesOf(n), n)) {
        m |= 1u << n;
      }
    }
    return m;
  };
  out.emplace_back(TpmPtPcr::Save, mask_of([](const auto& a, size_t) { return a.state_save; }));
  for (uint8_t loc = 0; loc <= 4; ++loc) {
    out.emplace_back(TpmPtPcr::ExtendL0 + 2u * loc, mask_of([loc](const auto& a, size_t) {
                       return pcr::LocalityAllowed(a.extend_mask, loc);
                     }));
    out.emplace_back(TpmPtPcr::ResetL0 + 2u * loc, mask_of([loc](const auto& a, size_t) {
                       return pcr::LocalityAllowed(a.reset_mask, loc);
                     }));
  }
  out.emplace_back(TpmPtPcr::NoIncrement,
                   mask_of([](const auto&, size_t n) { return !pcr::CountsUpdates(n); }));
  out.emplace_back(TpmPtPcr::DrtmReset,
                   mask_of([](const auto& a, size_t) { return a.drtm_reset; }));
  out.emplace_back(TpmPtPcr::Policy, 0);
  out.emplace_back(TpmPtPcr::Auth, 0);
  return out;
}

// Writes up to `max_items` entries from `items` starting at the first whose key >= property.
template <class T, class Key, class WriteItem>
uint8_t WriteList(wire::Writer& w, const std::vector<T>& items, Key key, uint32_t property,
                  uint32_t count, size_t max_items, WriteItem write_item) {
  size_t limit = std::min<size_t>(count, max_items);
  size_t count_mark = w.size();
  w.U32(0);
  uint32_t written = 0;
  bool more = false;
  for (const auto& item : items) {
    if (key(item) < property) {
      continue;
    }
    if (written == limit) {
      more = true;
      break;
    }
    write_item(item);
    ++written;
  }
  w.PatchU32(count_mark, written);
  return more ? 1 : 0;
}

}  // namespace

// Part 3 §30.2 TPM2_GetCapability
Result<GetCapabilityOut> GetCapability(Tpm& tpm, const GetCapabilityIn& in) {
  GetCapabilityOut out;
  wire::Writer w;
  w.U32(in.capability);
  uint32_t property = in.property;
  uint32_t count = in.property_count;
  switch (in.capability) {
    case TpmCap::Algs: {
      std::vector<AlgProperty> algs(std::begin(kAlgorithms), std::end(kAlgorithms));
      out.more_data = WriteList(
          w, algs, [](const AlgProperty& a) { return uint32_t{a.alg}; }, property, count,
          kCapData / 6, [&](const AlgProperty& a) {
            w.U16(a.alg);
            w.U32(a.attributes);
          });
      break;
    }
    case TpmCap::Handles: {
      std::vector<uint32_t> handles;
      switch (static_cast<uint8_t>(property >> 24)) {
        case TpmHt::Pcr:
          for (uint32_t n = 0; n < kPcrCount; ++n) {
            handles.push_back(n);
          }
          break;
        case TpmHt::Transient:
          for (const auto& [h, obj] : tpm.reset_state().objects) {
            handles.push_back(h);
          }
          break;
        case TpmHt::Permanent:
          handles = {TpmRh::Owner,       TpmRh::Null,     TpmRh::Pw,        TpmRh::Lockout,
                     TpmRh::Endorsement, TpmRh::Platform, TpmRh::PlatformNv};
          break;
        case TpmHt::NvIndex:
          handles = nv::Handles(tpm);
          break;
        case TpmHt::HmacSession:
        case TpmHt::PolicySession:
          for (const auto& [h, ses] : tpm.reset_state().sessions) {
            if (static_cast<uint8_t>(h >> 24) == static_cast<uint8_t>(property >> 24)) {
              handles.push_back(h);
            }
          }
          break;
        case TpmHt::Persistent:
          for (const auto& [h, obj] : tpm.persistent().objects) {
            handles.push_back(h);
          }
          break;
        default:
          return Rc::Handle.Param(2);
      }
      out.more_data = WriteList(
          w, handles, [](uint32_t h) { return h; }, property, count, kCapData / 4,
          [&](uint32_t h) { w.U32(h); });
      break;
    }
    case TpmCap::Commands: {
      std::vector<CommandDef> defs(AllCommands().begin(), AllCommands().end());
      out.more_data = WriteList(
          w, defs, [](const CommandDef& d) { return d.code; }, property, count, kCapData / 4,
          [&](const CommandDef& d) { w.U32(CommandAttributes(d)); });
      break;
    }
    case TpmCap::PpCommands:
    case TpmCap::AuditCommands: {
      // No command needs physical presence here; the audited ones are the owner's choice.
      std::vector<uint32_t> codes;
      if (in.capability == TpmCap::AuditCommands) {
        const auto& audited = tpm.persistent().audit_commands;
        codes.assign(audited.begin(), audited.end());
      }
      out.more_data = WriteList(
          w, codes, [](uint32_t c) { return c; }, property, count, kCapData / 4,
          [&](uint32_t c) { w.U32(c); });
      break;
    }
    case TpmCap::Pcrs: {
      wire::TpmlPcrSelection sel;
      sel.items = tpm.persistent().pcr_allocation;
      wire::Marshal(w, sel);
      break;
    }
    case TpmCap::TpmProperties: {
      auto props = TpmProperties(tpm);
      out.more_data = WriteList(
          w, props, [](const auto& p) { return p.first; }, property, count, kCapData / 8,
          [&](const auto& p) {
            w.U32(p.first);
            w.U32(p.second);
          });
      break;
    }
    case TpmCap::PcrProperties: {
      auto props = PcrPropertyMasks();
      out.more_data = WriteList(
          w, props, [](const auto& p) { return p.first; }, property, count, kCapData / 8,
          [&](const auto& p) {
            w.U32(p.first);
            w.U8(static_cast<uint8_t>(wire::kPcrSelectMax));
            w.U8(static_cast<uint8_t>(p.second));
            w.U8(static_cast<uint8_t>(p.second >> 8));
            w.U8(static_cast<uint8_t>(p.second >> 16));
          });
      break;
    }
    case TpmCap::EccCurves: {
      std::vector<uint16_t> curves;
      for (uint16_t c : {TpmEccCurve::NistP256, TpmEccCurve::NistP384, TpmEccCurve::NistP521,
                         TpmEccCurve::BnP256}) {
        if (crypto::EccCurve(c).ok()) {
          curves.push_back(c);
        }
      }
      out.more_data = WriteList(
          w, curves, [](uint16_t c) { return uint32_t{c}; }, property, count, kCapData / 2,
          [&](uint16_t c) { w.U16(c); });
      break;
    }
    case TpmCap::AuthPolicies: {
      const PersistentState& p = tpm.persistent();
      std::vector<std::pair<uint32_t, wire::TpmtHa>> policies = {
          {TpmRh::Owner, p.owner_policy},
          {TpmRh::Lockout, p.lockout_policy},
          {TpmRh::Endorsement, p.endorsement_policy},
          {TpmRh::Platform, tpm.clear_state().platform_policy},
      };
      out.more_data = WriteList(
          w, policies, [](const auto& e) { return e.first; }, property, count,
          kCapData / (4 + 2 + wire::kMaxDigestSize), [&](const auto& e) {
            w.U32(e.first);
            wire::Marshal(w, e.second);
          });
      break;
    }
    case TpmCap::Act: {
      w.U32(0);  // no authenticated countdown timers
      break;
    }
    default:
      return Rc::Value.Param(1);
  }
  out.capability_data.data = w.Take();
  return out;
}

// Part 3 §30.3 TPM2_TestParms: whether a TPMT_PUBLIC_PARMS could be used to create an object;
// the same unmarshaling rules as a template, plus the curve check.
Result<Empty> TestParms(Tpm& /*tpm*/, const TestParmsIn& in) {
  wire::Reader r(in.parameters.data);
  wire::TpmtPublic parms;
  if (auto st = wire::UnmarshalPublicParms(r, parms); !st.ok()) {
    return st.error().Param(1);
  }
  if (!r.empty()) {
    return Rc::Size;
  }
  if (const auto* e = std::get_if<wire::EccDetail>(&parms.detail)) {
    if (!crypto::EccCurve(e->curve).ok()) {
      return Rc::Curve.Param(1);
    }
  }
  return Empty{};
}

}  // namespace tpm2emu::engine::capability
