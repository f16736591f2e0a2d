// Part 3 §22 Integrity collection (PCR).

#include <algorithm>

#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/commands/pcr_attributes.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::pcr {
namespace {

// PC Client Platform TPM Profile PCR table: 0-15 static (extend at any locality, kept by
// Shutdown(STATE)); 16 debug; 17-22 D-RTM (start at all ones after a TPM Reset, zero after a
// D-RTM event); 23 application.
constexpr PcrAttributes kStatic{true, 0x00, 0x1F, 0x00, false};
constexpr PcrAttributes kAttributes[kPcrCount] = {
    kStatic, kStatic, kStatic, kStatic, kStatic, kStatic, kStatic, kStatic,
    kStatic, kStatic, kStatic, kStatic, kStatic, kStatic, kStatic, kStatic,
    {false, 0x1F, 0x1F, 0x00, false},  // 16 debug
    {false, 0x10, 0x1C, 0xFF, true},   // 17
    {false, 0x10, 0x1C, 0xFF, true},   // 18
    {false, 0x10, 0x1C, 0xFF, true},   // 19
    {false, 0x14, 0x1E, 0xFF, true},   // 20
    {false, 0x04, 0x04, 0xFF, true},   // 21
    {false, 0x04, 0x04, 0xFF, true},   // 22
    {false, 0x1F, 0x1F, 0x00, false},  // 23 application
};

void ExtendOne(Tpm& tpm, size_t bank, uint32_t pcr, ByteSpan digest) {
  Bytes& value = tpm.pcr_values()[bank][pcr];
  Bytes msg = value;
  msg.insert(msg.end(), digest.begin(), digest.end());
  auto h = crypto::Hash(tpm.persistent().pcr_allocation[bank].hash, msg);
  if (h.ok()) {
    value = std::move(h).value();
  }
}

}  // namespace

const PcrAttributes& AttributesOf(size_t n) { return kAttributes[n]; }

void ExtendBanks(Tpm& tpm, uint32_t pcr, const wire::TpmlDigestValues& digests) {
  for (const auto& d : digests.items) {
    auto bank = tpm.BankIndex(d.hash_alg);
    if (bank && tpm.IsPcrAllocated(*bank, pcr)) {
      ExtendOne(tpm, *bank, pcr, d.digest);
    }
  }
}

RcStatus ExtendAll(Tpm& tpm, uint32_t pcr, const wire::TpmlDigestValues& digests) {
  ExtendBanks(tpm, pcr, digests);
  if (CountsUpdates(pcr)) {
    ++tpm.reset_state().pcr_update_counter;
  }
  return {};
}

// Part 3 §22.2 TPM2_PCR_Extend
Result<Empty> PcrExtend(Tpm& tpm, const PcrExtendIn& in) {
  if (in.pcr_handle == TpmRh::Null) {
    return Empty{};
  }
  if (!CanExtend(in.pcr_handle, tpm.locality())) {
    return Rc::Locality;
  }
  TRY(ExtendAll(tpm, in.pcr_handle, in.digests));
  return Empty{};
}

// Part 3 §22.3 TPM2_PCR_Event: digests of the event with every implemented hash.
Result<hash::DigestValuesOut> PcrEvent(Tpm& tpm, const PcrEventIn& in) {
  if (in.pcr_handle != TpmRh::Null && !CanExtend(in.pcr_handle, tpm.locality())) {
    return Rc::Locality;
  }
  hash::DigestValuesOut out;
  for (uint16_t alg : wire::kHashAlgs) {
    TRY_ASSIGN(auto digest, crypto::Hash(alg, in.event_data.span()));
    out.results.items.push_back(wire::TpmtHa{alg, std::move(digest)});
  }
  if (in.pcr_handle != TpmRh::Null) {
    TRY(ExtendAll(tpm, in.pcr_handle, out.results));
  }
  return out;
}

// Part 3 §22.4 TPM2_PCR_Read: up to eight digests, in selection order then PCR order; the
// output selection says which were returned.
Result<PcrReadOut> PcrRead(Tpm& tpm, const PcrReadIn& in) {
  PcrReadOut out;
  out.pcr_update_counter = tpm.reset_state().pcr_update_counter;
  for (const auto& sel : in.selection.items) {
    wire::TpmsPcrSelection returned;
    returned.hash = sel.hash;
    returned.pcr_select.assign(sel.pcr_select.size(), 0);
    auto bank = tpm.BankIndex(sel.hash);
    for (size_t pcr = 0; bank && pcr < sel.pcr_select.size() * 8 && pcr < kPcrCount; ++pcr) {
      if (!sel.IsSelected(pcr) || !tpm.IsPcrAllocated(*bank, pcr)) {
        continue;
      }
      if (out.values.items.size() == 8) {
        break;
      }
      returned.pcr_select[pcr / 8] = static_cast<uint8_t>(returned.pcr_select[pcr / 8] |
                                                          (1u << (pcr % 8)));
      out.values.items.push_back(wire::Tpm2bDigest{tpm.pcr_values()[*bank][pcr]});
    }
    out.selection_out.items.push_back(std::move(returned));
  }
  return out;
}

// Part 3 §22.5 TPM2_PCR_Allocate: changes only the banks listed (the last selection for a
// bank wins) and takes effect at the next TPM Reset.
Result<PcrAllocateOut> PcrAllocate(Tpm& tpm, const PcrAllocateIn& in) {
  PersistentState& p = tpm.persistent();
  std::vector<wire::TpmsPcrSelection> next = p.pending_allocation;
  for (const auto& sel : in.allocation.items) {
    for (auto& bank : next) {
      if (bank.hash == sel.hash) {
        bank.pcr_select = sel.pcr_select;
        bank.pcr_select.resize(wire::kPcrSelectMax, 0);
      }
    }
  }
  PcrAllocateOut out;
  out.max_pcr = kPcrCount;
  // Every bank has room for all PCRs, so the space is the banks' full size.
  uint32_t available = 0;
  uint32_t needed = 0;
  for (const auto& bank : next) {
    size_t digest = crypto::DigestSize(bank.hash);
    available += static_cast<uint32_t>(digest * kPcrCount);
    for (size_t pcr = 0; pcr < kPcrCount; ++pcr) {
      if (bank.IsSelected(pcr)) {
        needed += static_cast<uint32_t>(digest);
      }
    }
  }
  out.size_needed = needed;
  out.size_available = available;
  // The D-RTM PCR must stay allocated in at least one bank (Part 3 §22.5.1).
  bool drtm =
      std::any_of(next.begin(), next.end(), [](const auto& b) { return b.IsSelected(kDrtmPcr); });
  if (!drtm) {
    out.allocation_success = 0;
    return out;
  }
  p.pending_allocation = std::move(next);
  out.allocation_success = 1;
  return out;
}

// Part 3 §22.8 TPM2_PCR_Reset
Result<Empty> PcrReset(Tpm& tpm, const PcrResetIn& in) {
  if (!LocalityAllowed(AttributesOf(in.pcr_handle).reset_mask, tpm.locality())) {
    return Rc::Locality;
  }
  for (size_t bank = 0; bank < tpm.pcr_values().size(); ++bank) {
    if (tpm.IsPcrAllocated(bank, in.pcr_handle)) {
      auto& value = tpm.pcr_values()[bank][in.pcr_handle];
      std::fill(value.begin(), value.end(), 0);
    }
  }
  if (CountsUpdates(in.pcr_handle)) {
    ++tpm.reset_state().pcr_update_counter;
  }
  return Empty{};
}

}  // namespace tpm2emu::engine::pcr

namespace tpm2emu::engine {

void Tpm::InitPcrs(bool restore_saved) {
  const auto& alloc = persistent_.pcr_allocation;
  pcr_values_.assign(alloc.size(), {});
  for (size_t bank = 0; bank < alloc.size(); ++bank) {
    size_t digest = crypto::DigestSize(alloc[bank].hash);
    auto& values = pcr_values_[bank];
    values.resize(kPcrCount);
    for (size_t pcr = 0; pcr < kPcrCount; ++pcr) {
      const auto& attrs = pcr::AttributesOf(pcr);
      bool have_saved = restore_saved && bank < persistent_.saved_pcrs.size() &&
                        pcr < persistent_.saved_pcrs[bank].size() &&
                        persistent_.saved_pcrs[bank][pcr].size() == digest;
      if (attrs.state_save && have_saved) {
        values[pcr] = persistent_.saved_pcrs[bank][pcr];
      } else {
        values[pcr].assign(digest, attrs.initial_octet);
      }
    }
  }
  if (restore_saved) {
    reset_.pcr_update_counter = persistent_.saved_pcr_update_counter;
    return;
  }
  // Part 1 §14.1 and §31.3: PCR[0] starts at the Startup's locality (PC Client: 3 when it came
  // at locality 3), or after an H-CRTM Event Sequence before this Startup at 0...04, extended
  // with that sequence's digests (Part 3 §22.11 equation 2, applied at the end of Startup).
  uint8_t origin = StartupMethod();
  for (auto& values : pcr_values_) {
    if (origin != 0 && !values[pcr::kHcrtmPcr].empty()) {
      values[pcr::kHcrtmPcr].back() = origin;
    }
  }
  if (hcrtm_.pre_startup) {
    pcr::ExtendBanks(*this, pcr::kHcrtmPcr, *hcrtm_.pre_startup);
  }
}

}  // namespace tpm2emu::engine
