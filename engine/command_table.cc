// The command table: every implemented command, once, in the vocabulary of Part 3 §4.2.

#include <algorithm>
#include <iterator>

#include "engine/command.h"
#include "engine/commands/commands.h"

namespace tpm2emu::engine {
namespace {

constexpr Role N = Role::kNone;
constexpr Role U = Role::kUser;
constexpr Role A = Role::kAdmin;
constexpr Role D = Role::kDup;

constexpr CommandDef kCommands[] = {
    Def<nv::UndefineSpaceSpecial>(TpmCc::NvUndefineSpaceSpecial, {A, U, N}, kNv),
    Def<object::EvictControl>(TpmCc::EvictControl, {U, N, N}, kNv),
    Def<hierarchy::HierarchyControl>(TpmCc::HierarchyControl, {U, N, N}, kNv),
    Def<nv::UndefineSpace>(TpmCc::NvUndefineSpace, {U, N, N}, kNv),
    Def<hierarchy::ChangeEps>(TpmCc::ChangeEps, {U, N, N}, kNv),
    Def<hierarchy::ChangePps>(TpmCc::ChangePps, {U, N, N}, kNv),
    Def<hierarchy::Clear>(TpmCc::Clear, {U, N, N}, kNv),
    Def<hierarchy::ClearControl>(TpmCc::ClearControl, {U, N, N}, kNv),
    Def<clock::ClockSet>(TpmCc::ClockSet, {U, N, N}, kNv),
    Def<hierarchy::HierarchyChangeAuth>(TpmCc::HierarchyChangeAuth, {U, N, N}, kNv | kDecrypt2),
    Def<nv::DefineSpace>(TpmCc::NvDefineSpace, {U, N, N}, kNv | kDecrypt2),
    Def<pcr::PcrAllocate>(TpmCc::PcrAllocate, {U, N, N}, kNv),
    Def<hierarchy::SetPrimaryPolicy>(TpmCc::SetPrimaryPolicy, {U, N, N}, kNv | kDecrypt2),
    Def<clock::ClockRateAdjust>(TpmCc::ClockRateAdjust, {U, N, N}, 0),
    Def<object::CreatePrimary>(TpmCc::CreatePrimary, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<nv::GlobalWriteLock>(TpmCc::NvGlobalWriteLock, {U, N, N}, kNv),
    Def<attest::GetCommandAuditDigest>(TpmCc::GetCommandAuditDigest, {U, U, N},
                                       kNv | kDecrypt2 | kEncrypt2),
    Def<nv::Increment>(TpmCc::NvIncrement, {U, N, N}, kNv),
    Def<nv::SetBits>(TpmCc::NvSetBits, {U, N, N}, kNv),
    Def<nv::Extend>(TpmCc::NvExtend, {U, N, N}, kNv | kDecrypt2),
    Def<nv::Write>(TpmCc::NvWrite, {U, N, N}, kNv | kDecrypt2),
    Def<nv::WriteLock>(TpmCc::NvWriteLock, {U, N, N}, kNv),
    Def<hierarchy::DictionaryAttackLockReset>(TpmCc::DictionaryAttackLockReset, {U, N, N}, kNv),
    Def<hierarchy::DictionaryAttackParameters>(TpmCc::DictionaryAttackParameters, {U, N, N}, kNv),
    Def<nv::ChangeAuth>(TpmCc::NvChangeAuth, {A, N, N}, kNv | kDecrypt2),
    Def<pcr::PcrEvent>(TpmCc::PcrEvent, {U, N, N}, kDecrypt2),
    Def<pcr::PcrReset>(TpmCc::PcrReset, {U, N, N}, 0),
    Def<hash::SequenceComplete>(TpmCc::SequenceComplete, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<attest::SetCommandCodeAuditStatus>(TpmCc::SetCommandCodeAuditStatus, {U, N, N},
                                           kNv | kPp),
    Def<testing::IncrementalSelfTest>(TpmCc::IncrementalSelfTest, {N, N, N}, 0),
    Def<testing::SelfTest>(TpmCc::SelfTest, {N, N, N}, 0),
    Def<startup::Startup>(TpmCc::Startup, {N, N, N}, kNv | kNoSessions),
    Def<startup::Shutdown>(TpmCc::Shutdown, {N, N, N}, kNv),
    Def<random::StirRandom>(TpmCc::StirRandom, {N, N, N}, kDecrypt2),
    Def<attest::ActivateCredential>(TpmCc::ActivateCredential, {A, U, N}, kDecrypt2 | kEncrypt2),
    Def<attest::Certify>(TpmCc::Certify, {A, U, N}, kDecrypt2 | kEncrypt2),
    Def<policy::PolicyNv>(TpmCc::PolicyNV, {U, N, N}, kDecrypt2),
    Def<attest::CertifyCreation>(TpmCc::CertifyCreation, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<duplication::Duplicate>(TpmCc::Duplicate, {D, N, N}, kDecrypt2 | kEncrypt2),
    Def<attest::GetTime>(TpmCc::GetTime, {U, U, N}, kDecrypt2 | kEncrypt2),
    Def<attest::GetSessionAuditDigest>(TpmCc::GetSessionAuditDigest, {U, U, N},
                                       kDecrypt2 | kEncrypt2),
    Def<nv::Read>(TpmCc::NvRead, {U, N, N}, kEncrypt2),
    Def<nv::ReadLock>(TpmCc::NvReadLock, {U, N, N}, kNv),
    Def<object::ObjectChangeAuth>(TpmCc::ObjectChangeAuth, {A, N, N}, kDecrypt2 | kEncrypt2),
    Def<policy::PolicySecret>(TpmCc::PolicySecret, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<duplication::Rewrap>(TpmCc::Rewrap, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<object::Create>(TpmCc::Create, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<asym::EcdhZGen>(TpmCc::EcdhZGen, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<sym::Hmac>(TpmCc::Hmac, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<duplication::Import>(TpmCc::Import, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<object::Load>(TpmCc::Load, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<attest::Quote>(TpmCc::Quote, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<asym::RsaDecrypt>(TpmCc::RsaDecrypt, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<sym::HmacStart>(TpmCc::HmacStart, {U, N, N}, kDecrypt2),
    Def<hash::SequenceUpdate>(TpmCc::SequenceUpdate, {U, N, N}, kDecrypt2),
    Def<asym::Sign>(TpmCc::Sign, {U, N, N}, kDecrypt2),
    Def<object::Unseal>(TpmCc::Unseal, {U, N, N}, kEncrypt2),
    Def<policy::PolicySigned>(TpmCc::PolicySigned, {N, N, N}, kDecrypt2 | kEncrypt2),
    Def<context::ContextLoad>(TpmCc::ContextLoad, {N, N, N}, kNoSessions),
    Def<context::ContextSave>(TpmCc::ContextSave, {N, N, N}, kNoSessions),
    Def<asym::EcdhKeyGen>(TpmCc::EcdhKeyGen, {N, N, N}, kEncrypt2),
    Def<sym::EncryptDecrypt>(TpmCc::EncryptDecrypt, {U, N, N}, kEncrypt2),
    Def<context::FlushContext>(TpmCc::FlushContext, {N, N, N}, kNoSessions),
    Def<object::LoadExternal>(TpmCc::LoadExternal, {N, N, N}, kDecrypt2 | kEncrypt2),
    Def<attest::MakeCredential>(TpmCc::MakeCredential, {N, N, N}, kDecrypt2 | kEncrypt2),
    Def<nv::ReadPublic>(TpmCc::NvReadPublic, {N, N, N}, kEncrypt2),
    Def<policy::PolicyAuthorize>(TpmCc::PolicyAuthorize, {N, N, N}, kDecrypt2),
    Def<policy::PolicyAuthValue>(TpmCc::PolicyAuthValue, {N, N, N}, 0),
    Def<policy::PolicyCommandCode>(TpmCc::PolicyCommandCode, {N, N, N}, 0),
    Def<policy::PolicyCounterTimer>(TpmCc::PolicyCounterTimer, {N, N, N}, kDecrypt2),
    Def<policy::PolicyCpHash>(TpmCc::PolicyCpHash, {N, N, N}, kDecrypt2),
    Def<policy::PolicyLocality>(TpmCc::PolicyLocality, {N, N, N}, 0),
    Def<policy::PolicyNameHash>(TpmCc::PolicyNameHash, {N, N, N}, kDecrypt2),
    Def<policy::PolicyOr>(TpmCc::PolicyOr, {N, N, N}, 0),
    Def<policy::PolicyTicket>(TpmCc::PolicyTicket, {N, N, N}, kDecrypt2),
    Def<object::ReadPublic>(TpmCc::ReadPublic, {N, N, N}, kEncrypt2),
    Def<asym::RsaEncrypt>(TpmCc::RsaEncrypt, {N, N, N}, kDecrypt2 | kEncrypt2),
    Def<session::StartAuthSession>(TpmCc::StartAuthSession, {N, N, N}, kDecrypt2 | kEncrypt2),
    Def<asym::VerifySignature>(TpmCc::VerifySignature, {N, N, N}, kDecrypt2),
    Def<asym::EccParameters>(TpmCc::EccParameters, {N, N, N}, 0),
    Def<capability::GetCapability>(TpmCc::GetCapability, {N, N, N}, 0),
    Def<random::GetRandom>(TpmCc::GetRandom, {N, N, N}, kEncrypt2),
    Def<testing::GetTestResult>(TpmCc::GetTestResult, {N, N, N}, kEncrypt2),
    Def<hash::Hash>(TpmCc::Hash, {N, N, N}, kDecrypt2 | kEncrypt2),
    Def<pcr::PcrRead>(TpmCc::PcrRead, {N, N, N}, 0),
    Def<policy::PolicyPcr>(TpmCc::PolicyPCR, {N, N, N}, kDecrypt2),
    Def<policy::PolicyRestart>(TpmCc::PolicyRestart, {N, N, N}, 0),
    Def<clock::ReadClock>(TpmCc::ReadClock, {N, N, N}, 0),
    Def<pcr::PcrExtend>(TpmCc::PcrExtend, {U, N, N}, 0),
    Def<attest::NvCertify>(TpmCc::NvCertify, {U, U, N}, kDecrypt2 | kEncrypt2),
    Def<hash::EventSequenceComplete>(TpmCc::EventSequenceComplete, {U, U, N}, kDecrypt2),
    Def<hash::HashSequenceStart>(TpmCc::HashSequenceStart, {N, N, N}, kDecrypt2),
    Def<policy::PolicyPhysicalPresence>(TpmCc::PolicyPhysicalPresence, {N, N, N}, 0),
    Def<policy::PolicyDuplicationSelect>(TpmCc::PolicyDuplicationSelect, {N, N, N}, kDecrypt2),
    Def<policy::PolicyGetDigest>(TpmCc::PolicyGetDigest, {N, N, N}, kEncrypt2),
    Def<capability::TestParms>(TpmCc::TestParms, {N, N, N}, 0),
    Def<ephemeral::Commit>(TpmCc::Commit, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<policy::PolicyPassword>(TpmCc::PolicyPassword, {N, N, N}, 0),
    Def<asym::ZGen2Phase>(TpmCc::ZGen2Phase, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<ephemeral::EcEphemeral>(TpmCc::EcEphemeral, {N, N, N}, kEncrypt2),
    Def<policy::PolicyNvWritten>(TpmCc::PolicyNvWritten, {N, N, N}, 0),
    Def<policy::PolicyTemplate>(TpmCc::PolicyTemplate, {N, N, N}, kDecrypt2),
    Def<object::CreateLoaded>(TpmCc::CreateLoaded, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<policy::PolicyAuthorizeNv>(TpmCc::PolicyAuthorizeNV, {U, N, N}, 0),
    Def<sym::EncryptDecrypt2>(TpmCc::EncryptDecrypt2, {U, N, N}, kDecrypt2 | kEncrypt2),
    Def<attest::CertifyX509>(TpmCc::CertifyX509, {A, U, N}, kDecrypt2 | kEncrypt2),
};

constexpr bool IsSorted() {
  for (size_t i = 1; i < std::size(kCommands); ++i) {
    if (kCommands[i - 1].code >= kCommands[i].code) {
      return false;
    }
  }
  return true;
}
static_assert(IsSorted(), "the command table must be sorted by command code");

}  // namespace

const CommandDef* FindCommand(uint32_t code) {
  auto it = std::lower_bound(std::begin(kCommands), std::end(kCommands), code,
                             [](const CommandDef& d, uint32_t c) { return d.code < c; });
  return it != std::end(kCommands) && it->code == code ? &*it : nullptr;
}

std::span<const CommandDef> AllCommands() { return kCommands; }

}  // namespace tpm2emu::engine
