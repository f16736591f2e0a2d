#pragma once
// Part 2 constants (§6 TPM_ALG_ID, TPM_ECC_CURVE, TPM_CC, TPM_ST, TPM_SU, TPM_CAP, TPM_PT,
// TPM_PT_PCR, TPM_HT, TPM_RH) as holders named by their spec prefix.

#include <cstdint>

namespace tpm2emu {

// Part 2 §6.5.2 TPM_CC
namespace TpmCc {
inline constexpr uint32_t NvUndefineSpaceSpecial = 0x11f;
inline constexpr uint32_t EvictControl = 0x120;
inline constexpr uint32_t HierarchyControl = 0x121;
inline constexpr uint32_t NvUndefineSpace = 0x122;
inline constexpr uint32_t ChangeEps = 0x124;
inline constexpr uint32_t ChangePps = 0x125;
inline constexpr uint32_t Clear = 0x126;
inline constexpr uint32_t ClearControl = 0x127;
inline constexpr uint32_t ClockSet = 0x128;
inline constexpr uint32_t HierarchyChangeAuth = 0x129;
inline constexpr uint32_t NvDefineSpace = 0x12a;
inline constexpr uint32_t PcrAllocate = 0x12b;
inline constexpr uint32_t PcrSetAuthPolicy = 0x12c;
inline constexpr uint32_t PpCommands = 0x12d;
inline constexpr uint32_t SetPrimaryPolicy = 0x12e;
inline constexpr uint32_t FieldUpgradeStart = 0x12f;
inline constexpr uint32_t ClockRateAdjust = 0x130;
inline constexpr uint32_t CreatePrimary = 0x131;
inline constexpr uint32_t NvGlobalWriteLock = 0x132;
inline constexpr uint32_t GetCommandAuditDigest = 0x133;
inline constexpr uint32_t NvIncrement = 0x134;
inline constexpr uint32_t NvSetBits = 0x135;
inline constexpr uint32_t NvExtend = 0x136;
inline constexpr uint32_t NvWrite = 0x137;
inline constexpr uint32_t NvWriteLock = 0x138;
inline constexpr uint32_t DictionaryAttackLockReset = 0x139;
inline constexpr uint32_t DictionaryAttackParameters = 0x13a;
inline constexpr uint32_t NvChangeAuth = 0x13b;
inline constexpr uint32_t PcrEvent = 0x13c;
inline constexpr uint32_t PcrReset = 0x13d;
inline constexpr uint32_t SequenceComplete = 0x13e;
inline constexpr uint32_t SetAlgorithmSet = 0x13f;
inline constexpr uint32_t SetCommandCodeAuditStatus = 0x140;
inline constexpr uint32_t FieldUpgradeData = 0x141;
inline constexpr uint32_t IncrementalSelfTest = 0x142;
inline constexpr uint32_t SelfTest = 0x143;
inline constexpr uint32_t Startup = 0x144;
inline constexpr uint32_t Shutdown = 0x145;
inline constexpr uint32_t StirRandom = 0x146;
inline constexpr uint32_t ActivateCredential = 0x147;
inline constexpr uint32_t Certify = 0x148;
inline constexpr uint32_t PolicyNV = 0x149;
inline constexpr uint32_t CertifyCreation = 0x14a;
inline constexpr uint32_t Duplicate = 0x14b;
inline constexpr uint32_t GetTime = 0x14c;
inline constexpr uint32_t GetSessionAuditDigest = 0x14d;
inline constexpr uint32_t NvRead = 0x14e;
inline constexpr uint32_t NvReadLock = 0x14f;
inline constexpr uint32_t ObjectChangeAuth = 0x150;
inline constexpr uint32_t PolicySecret = 0x151;
inline constexpr uint32_t Rewrap = 0x152;
inline constexpr uint32_t Create = 0x153;
inline constexpr uint32_t EcdhZGen = 0x154;
inline constexpr uint32_t Hmac = 0x155;
inline constexpr uint32_t Import = 0x156;
inline constexpr uint32_t Load = 0x157;
inline constexpr uint32_t Quote = 0x158;
inline constexpr uint32_t RsaDecrypt = 0x159;
inline constexpr uint32_t HmacStart = 0x15b;
inline constexpr uint32_t SequenceUpdate = 0x15c;
inline constexpr uint32_t Sign = 0x15d;
inline constexpr uint32_t Unseal = 0x15e;
inline constexpr uint32_t PolicySigned = 0x160;
inline constexpr uint32_t ContextLoad = 0x161;
inline constexpr uint32_t ContextSave = 0x162;
inline constexpr uint32_t EcdhKeyGen = 0x163;
inline constexpr uint32_t EncryptDecrypt = 0x164;
inline constexpr uint32_t FlushContext = 0x165;
inline constexpr uint32_t LoadExternal = 0x167;
inline constexpr uint32_t MakeCredential = 0x168;
inline constexpr uint32_t NvReadPublic = 0x169;
inline constexpr uint32_t PolicyAuthorize = 0x16a;
inline constexpr uint32_t PolicyAuthValue = 0x16b;
inline constexpr uint32_t PolicyCommandCode = 0x16c;
inline constexpr uint32_t PolicyCounterTimer = 0x16d;
inline constexpr uint32_t PolicyCpHash = 0x16e;
inline constexpr uint32_t PolicyLocality = 0x16f;
inline constexpr uint32_t PolicyNameHash = 0x170;
inline constexpr uint32_t PolicyOr = 0x171;
inline constexpr uint32_t PolicyTicket = 0x172;
inline constexpr uint32_t ReadPublic = 0x173;
inline constexpr uint32_t RsaEncrypt = 0x174;
inline constexpr uint32_t StartAuthSession = 0x176;
inline constexpr uint32_t VerifySignature = 0x177;
inline constexpr uint32_t EccParameters = 0x178;
inline constexpr uint32_t FirmwareRead = 0x179;
inline constexpr uint32_t GetCapability = 0x17a;
inline constexpr uint32_t GetRandom = 0x17b;
inline constexpr uint32_t GetTestResult = 0x17c;
inline constexpr uint32_t Hash = 0x17d;
inline constexpr uint32_t PcrRead = 0x17e;
inline constexpr uint32_t PolicyPCR = 0x17f;
inline constexpr uint32_t PolicyRestart = 0x180;
inline constexpr uint32_t ReadClock = 0x181;
inline constexpr uint32_t PcrExtend = 0x182;
inline constexpr uint32_t PcrSetAuthValue = 0x183;
inline constexpr uint32_t NvCertify = 0x184;
inline constexpr uint32_t EventSequenceComplete = 0x185;
inline constexpr uint32_t HashSequenceStart = 0x186;
inline constexpr uint32_t PolicyPhysicalPresence = 0x187;
inline constexpr uint32_t PolicyDuplicationSelect = 0x188;
inline constexpr uint32_t PolicyGetDigest = 0x189;
inline constexpr uint32_t TestParms = 0x18a;
inline constexpr uint32_t Commit = 0x18b;
inline constexpr uint32_t PolicyPassword = 0x18c;
inline constexpr uint32_t ZGen2Phase = 0x18d;
inline constexpr uint32_t EcEphemeral = 0x18e;
inline constexpr uint32_t PolicyNvWritten = 0x18f;
inline constexpr uint32_t PolicyTemplate = 0x190;
inline constexpr uint32_t CreateLoaded = 0x191;
inline constexpr uint32_t PolicyAuthorizeNV = 0x192;
inline constexpr uint32_t EncryptDecrypt2 = 0x193;
inline constexpr uint32_t AcGetCapability = 0x194;
inline constexpr uint32_t AcSend = 0x195;
inline constexpr uint32_t PolicyAcSendSelect = 0x196;
inline constexpr uint32_t CertifyX509 = 0x197;
inline constexpr uint32_t ActSetTimeout = 0x198;
}  // namespace TpmCc

// Part 2 §6.3 TPM_ALG_ID
namespace TpmAlg {
inline constexpr uint16_t Error = 0x0000;
inline constexpr uint16_t Rsa = 0x0001;
inline constexpr uint16_t Tdes = 0x0003;
inline constexpr uint16_t Sha1 = 0x0004;
inline constexpr uint16_t Hmac = 0x0005;
inline constexpr uint16_t Aes = 0x0006;
inline constexpr uint16_t Mgf1 = 0x0007;
inline constexpr uint16_t KeyedHash = 0x0008;
inline constexpr uint16_t Xor = 0x000A;
inline constexpr uint16_t Sha256 = 0x000B;
inline constexpr uint16_t Sha384 = 0x000C;
inline constexpr uint16_t Sha512 = 0x000D;
inline constexpr uint16_t Null = 0x0010;
inline constexpr uint16_t Sm3_256 = 0x0012;
inline constexpr uint16_t Sm4 = 0x0013;
inline constexpr uint16_t RsaSsa = 0x0014;
inline constexpr uint16_t RsaEs = 0x0015;
inline constexpr uint16_t RsaPss = 0x0016;
inline constexpr uint16_t Oaep = 0x0017;
inline constexpr uint16_t EcDsa = 0x0018;
inline constexpr uint16_t EcDh = 0x0019;
inline constexpr uint16_t EcDaa = 0x001A;
inline constexpr uint16_t Sm2 = 0x001B;
inline constexpr uint16_t EcSchnorr = 0x001C;
inline constexpr uint16_t EcMqv = 0x001D;
inline constexpr uint16_t Kdf1Sp800_56a = 0x0020;
inline constexpr uint16_t Kdf2 = 0x0021;
inline constexpr uint16_t Kdf1Sp800_108 = 0x0022;
inline constexpr uint16_t Ecc = 0x0023;
inline constexpr uint16_t SymCipher = 0x0025;
inline constexpr uint16_t Camellia = 0x0026;
inline constexpr uint16_t Sha3_256 = 0x0027;
inline constexpr uint16_t Sha3_384 = 0x0028;
inline constexpr uint16_t Sha3_512 = 0x0029;
inline constexpr uint16_t Ctr = 0x0040;
inline constexpr uint16_t Ofb = 0x0041;
inline constexpr uint16_t Cbc = 0x0042;
inline constexpr uint16_t Cfb = 0x0043;
inline constexpr uint16_t Ecb = 0x0044;
}  // namespace TpmAlg

// Part 2 §6.4 TPM_ECC_CURVE
namespace TpmEccCurve {
inline constexpr uint16_t None = 0x0000;
inline constexpr uint16_t NistP192 = 0x0001;
inline constexpr uint16_t NistP224 = 0x0002;
inline constexpr uint16_t NistP256 = 0x0003;
inline constexpr uint16_t NistP384 = 0x0004;
inline constexpr uint16_t NistP521 = 0x0005;
inline constexpr uint16_t BnP256 = 0x0010;
inline constexpr uint16_t BnP638 = 0x0011;
inline constexpr uint16_t Sm2P256 = 0x0020;
}  // namespace TpmEccCurve

// Part 2 §6.9 TPM_ST
namespace TpmSt {
inline constexpr uint16_t RspCommand = 0x00C4;
inline constexpr uint16_t Null = 0x8000;
inline constexpr uint16_t NoSessions = 0x8001;
inline constexpr uint16_t Sessions = 0x8002;
inline constexpr uint16_t AttestNv = 0x8014;
inline constexpr uint16_t AttestCommandAudit = 0x8015;
inline constexpr uint16_t AttestSessionAudit = 0x8016;
inline constexpr uint16_t AttestCertify = 0x8017;
inline constexpr uint16_t AttestQuote = 0x8018;
inline constexpr uint16_t AttestTime = 0x8019;
inline constexpr uint16_t AttestCreation = 0x801A;
inline constexpr uint16_t AttestNvDigest = 0x801C;
inline constexpr uint16_t Creation = 0x8021;
inline constexpr uint16_t Verified = 0x8022;
inline constexpr uint16_t AuthSecret = 0x8023;
inline constexpr uint16_t Hashcheck = 0x8024;
inline constexpr uint16_t AuthSigned = 0x8025;
inline constexpr uint16_t FuSequence = 0x8029;
}  // namespace TpmSt

// Part 2 §6.10 TPM_SU
namespace TpmSu {
inline constexpr uint16_t Clear = 0x0000;
inline constexpr uint16_t State = 0x0001;
}  // namespace TpmSu

// Part 2 §6.12 TPM_CAP
namespace TpmCap {
inline constexpr uint32_t Algs = 0x00000000;
inline constexpr uint32_t Handles = 0x00000001;
inline constexpr uint32_t Commands = 0x00000002;
inline constexpr uint32_t PpCommands = 0x00000003;
inline constexpr uint32_t AuditCommands = 0x00000004;
inline constexpr uint32_t Pcrs = 0x00000005;
inline constexpr uint32_t TpmProperties = 0x00000006;
inline constexpr uint32_t PcrProperties = 0x00000007;
inline constexpr uint32_t EccCurves = 0x00000008;
inline constexpr uint32_t AuthPolicies = 0x00000009;
inline constexpr uint32_t Act = 0x0000000A;
inline constexpr uint32_t Last = 0x0000000A;
inline constexpr uint32_t VendorProperty = 0x00000100;
}  // namespace TpmCap

// Part 2 §7.2 TPM_HT (the top octet of a handle)
namespace TpmHt {
inline constexpr uint8_t Pcr = 0x00;
inline constexpr uint8_t NvIndex = 0x01;
inline constexpr uint8_t HmacSession = 0x02;
inline constexpr uint8_t PolicySession = 0x03;
inline constexpr uint8_t Permanent = 0x40;
inline constexpr uint8_t Transient = 0x80;
inline constexpr uint8_t Persistent = 0x81;
inline constexpr uint8_t Ac = 0x90;
}  // namespace TpmHt

// Part 2 §7.4 TPM_RH
namespace TpmRh {
inline constexpr uint32_t Srk = 0x40000000;
inline constexpr uint32_t Owner = 0x40000001;
inline constexpr uint32_t Revoke = 0x40000002;
inline constexpr uint32_t Transport = 0x40000003;
inline constexpr uint32_t Operator = 0x40000004;
inline constexpr uint32_t Admin = 0x40000005;
inline constexpr uint32_t Ek = 0x40000006;
inline constexpr uint32_t Null = 0x40000007;
inline constexpr uint32_t Unassigned = 0x40000008;
inline constexpr uint32_t Pw = 0x40000009;  // TPM_RS_PW
inline constexpr uint32_t Lockout = 0x4000000A;
inline constexpr uint32_t Endorsement = 0x4000000B;
inline constexpr uint32_t Platform = 0x4000000C;
inline constexpr uint32_t PlatformNv = 0x4000000D;
inline constexpr uint32_t Auth00 = 0x40000010;
inline constexpr uint32_t AuthFf = 0x4000010F;
}  // namespace TpmRh

// Part 2 §7.5 TPM_HC: handle ranges
namespace TpmHr {
inline constexpr uint32_t PcrFirst = 0x00000000;
inline constexpr uint32_t HmacSessionFirst = 0x02000000;
inline constexpr uint32_t PolicySessionFirst = 0x03000000;
inline constexpr uint32_t TransientFirst = 0x80000000;
inline constexpr uint32_t PersistentFirst = 0x81000000;
inline constexpr uint32_t NvIndexFirst = 0x01000000;
inline constexpr uint32_t PermanentFirst = 0x40000000;
}  // namespace TpmHr

// Part 2 §6.13 TPM_PT
namespace TpmPt {
inline constexpr uint32_t None = 0x00000000;
inline constexpr uint32_t Fixed = 0x00000100;
inline constexpr uint32_t Var = 0x00000200;
inline constexpr uint32_t FamilyIndicator = 0x100;
inline constexpr uint32_t Level = 0x101;
inline constexpr uint32_t Revision = 0x102;
inline constexpr uint32_t DayOfYear = 0x103;
inline constexpr uint32_t Year = 0x104;
inline constexpr uint32_t Manufacturer = 0x105;
inline constexpr uint32_t VendorString1 = 0x106;
inline constexpr uint32_t VendorString2 = 0x107;
inline constexpr uint32_t VendorString3 = 0x108;
inline constexpr uint32_t VendorString4 = 0x109;
inline constexpr uint32_t VendorTpmType = 0x10a;
inline constexpr uint32_t FirmwareVersion1 = 0x10b;
inline constexpr uint32_t FirmwareVersion2 = 0x10c;
inline constexpr uint32_t InputBuffer = 0x10d;
inline constexpr uint32_t HrTransientMin = 0x10e;
inline constexpr uint32_t HrPersistentMin = 0x10f;
inline constexpr uint32_t HrLoadedMin = 0x110;
inline constexpr uint32_t ActiveSessionsMax = 0x111;
inline constexpr uint32_t PcrCount = 0x112;
inline constexpr uint32_t PcrSelectMin = 0x113;
inline constexpr uint32_t ContextGapMax = 0x114;
inline constexpr uint32_t NvCountersMax = 0x116;
inline constexpr uint32_t NvIndexMax = 0x117;
inline constexpr uint32_t Memory = 0x118;
inline constexpr uint32_t ClockUpdate = 0x119;
inline constexpr uint32_t ContextHash = 0x11a;
inline constexpr uint32_t ContextSym = 0x11b;
inline constexpr uint32_t ContextSymSize = 0x11c;
inline constexpr uint32_t OrderlyCount = 0x11d;
inline constexpr uint32_t MaxCommandSize = 0x11e;
inline constexpr uint32_t MaxResponseSize = 0x11f;
inline constexpr uint32_t MaxDigest = 0x120;
inline constexpr uint32_t MaxObjectContext = 0x121;
inline constexpr uint32_t MaxSessionContext = 0x122;
inline constexpr uint32_t PsFamilyIndicator = 0x123;
inline constexpr uint32_t PsLevel = 0x124;
inline constexpr uint32_t PsRevision = 0x125;
inline constexpr uint32_t PsDayOfYear = 0x126;
inline constexpr uint32_t PsYear = 0x127;
inline constexpr uint32_t SplitMax = 0x128;
inline constexpr uint32_t TotalCommands = 0x129;
inline constexpr uint32_t LibraryCommands = 0x12a;
inline constexpr uint32_t VendorCommands = 0x12b;
inline constexpr uint32_t NvBufferMax = 0x12c;
inline constexpr uint32_t Modes = 0x12d;
inline constexpr uint32_t MaxCapBuffer = 0x12e;
inline constexpr uint32_t Permanent = 0x200;
inline constexpr uint32_t StartupClear = 0x201;
inline constexpr uint32_t HrNvIndex = 0x202;
inline constexpr uint32_t HrLoaded = 0x203;
inline constexpr uint32_t HrLoadedAvail = 0x204;
inline constexpr uint32_t HrActive = 0x205;
inline constexpr uint32_t HrActiveAvail = 0x206;
inline constexpr uint32_t HrTransientAvail = 0x207;
inline constexpr uint32_t HrPersistent = 0x208;
inline constexpr uint32_t HrPersistentAvail = 0x209;
inline constexpr uint32_t NvCounters = 0x20a;
inline constexpr uint32_t NvCountersAvail = 0x20b;
inline constexpr uint32_t AlgorithmSet = 0x20c;
inline constexpr uint32_t LoadedCurves = 0x20d;
inline constexpr uint32_t LockoutCounter = 0x20e;
inline constexpr uint32_t MaxAuthFail = 0x20f;
inline constexpr uint32_t LockoutInterval = 0x210;
inline constexpr uint32_t LockoutRecovery = 0x211;
inline constexpr uint32_t NvWriteRecovery = 0x212;
inline constexpr uint32_t AuditCounter0 = 0x213;
inline constexpr uint32_t AuditCounter1 = 0x214;
}  // namespace TpmPt

// Part 2 §6.14 TPM_PT_PCR
namespace TpmPtPcr {
inline constexpr uint32_t Save = 0x00;
inline constexpr uint32_t ExtendL0 = 0x01;
inline constexpr uint32_t ResetL0 = 0x02;
inline constexpr uint32_t ExtendL1 = 0x03;
inline constexpr uint32_t ResetL1 = 0x04;
inline constexpr uint32_t ExtendL2 = 0x05;
inline constexpr uint32_t ResetL2 = 0x06;
inline constexpr uint32_t ExtendL3 = 0x07;
inline constexpr uint32_t ResetL3 = 0x08;
inline constexpr uint32_t ExtendL4 = 0x09;
inline constexpr uint32_t ResetL4 = 0x0A;
inline constexpr uint32_t NoIncrement = 0x11;
inline constexpr uint32_t DrtmReset = 0x12;
inline constexpr uint32_t Policy = 0x13;
inline constexpr uint32_t Auth = 0x14;
}  // namespace TpmPtPcr

// Part 2 §6.2 TPM_GENERATED_VALUE
inline constexpr uint32_t kTpmGeneratedValue = 0xFF544347;

}  // namespace tpm2emu
