#include "engine/base/tpm_rc.h"

#include <cstdio>

namespace tpm2emu {
namespace {

struct RcEntry {
  uint32_t value;
  const char* name;
};

constexpr RcEntry kNames[] = {
    {0x000, "TPM_RC_SUCCESS"},        {0x01E, "TPM_RC_BAD_TAG"},
    {0x100, "TPM_RC_INITIALIZE"},     {0x101, "TPM_RC_FAILURE"},
    {0x103, "TPM_RC_SEQUENCE"},       {0x120, "TPM_RC_DISABLED"},
    {0x121, "TPM_RC_EXCLUSIVE"},      {0x124, "TPM_RC_AUTH_TYPE"},
    {0x125, "TPM_RC_AUTH_MISSING"},   {0x126, "TPM_RC_POLICY"},
    {0x127, "TPM_RC_PCR"},            {0x128, "TPM_RC_PCR_CHANGED"},
    {0x12F, "TPM_RC_AUTH_UNAVAILABLE"}, {0x130, "TPM_RC_REBOOT"},
    {0x131, "TPM_RC_UNBALANCED"},     {0x142, "TPM_RC_COMMAND_SIZE"},
    {0x143, "TPM_RC_COMMAND_CODE"},   {0x144, "TPM_RC_AUTHSIZE"},
    {0x145, "TPM_RC_AUTH_CONTEXT"},   {0x146, "TPM_RC_NV_RANGE"},
    {0x147, "TPM_RC_NV_SIZE"},        {0x148, "TPM_RC_NV_LOCKED"},
    {0x149, "TPM_RC_NV_AUTHORIZATION"}, {0x14A, "TPM_RC_NV_UNINITIALIZED"},
    {0x14B, "TPM_RC_NV_SPACE"},       {0x14C, "TPM_RC_NV_DEFINED"},
    {0x150, "TPM_RC_BAD_CONTEXT"},    {0x151, "TPM_RC_CPHASH"},
    {0x152, "TPM_RC_PARENT"},         {0x153, "TPM_RC_NEEDS_TEST"},
    {0x154, "TPM_RC_NO_RESULT"},      {0x155, "TPM_RC_SENSITIVE"},
    {0x081, "TPM_RC_ASYMMETRIC"},     {0x082, "TPM_RC_ATTRIBUTES"},
    {0x083, "TPM_RC_HASH"},           {0x084, "TPM_RC_VALUE"},
    {0x085, "TPM_RC_HIERARCHY"},      {0x087, "TPM_RC_KEY_SIZE"},
    {0x088, "TPM_RC_MGF"},            {0x089, "TPM_RC_MODE"},
    {0x08A, "TPM_RC_TYPE"},           {0x08B, "TPM_RC_HANDLE"},
    {0x08C, "TPM_RC_KDF"},            {0x08D, "TPM_RC_RANGE"},
    {0x08E, "TPM_RC_AUTH_FAIL"},      {0x08F, "TPM_RC_NONCE"},
    {0x090, "TPM_RC_PP"},             {0x092, "TPM_RC_SCHEME"},
    {0x095, "TPM_RC_SIZE"},           {0x096, "TPM_RC_SYMMETRIC"},
    {0x097, "TPM_RC_TAG"},            {0x098, "TPM_RC_SELECTOR"},
    {0x09A, "TPM_RC_INSUFFICIENT"},   {0x09B, "TPM_RC_SIGNATURE"},
    {0x09C, "TPM_RC_KEY"},            {0x09D, "TPM_RC_POLICY_FAIL"},
    {0x09F, "TPM_RC_INTEGRITY"},      {0x0A0, "TPM_RC_TICKET"},
    {0x0A1, "TPM_RC_RESERVED_BITS"},  {0x0A2, "TPM_RC_BAD_AUTH"},
    {0x0A3, "TPM_RC_EXPIRED"},        {0x0A4, "TPM_RC_POLICY_CC"},
    {0x0A5, "TPM_RC_BINDING"},        {0x0A6, "TPM_RC_CURVE"},
    {0x0A7, "TPM_RC_ECC_POINT"},      {0x901, "TPM_RC_CONTEXT_GAP"},
    {0x902, "TPM_RC_OBJECT_MEMORY"},  {0x903, "TPM_RC_SESSION_MEMORY"},
    {0x904, "TPM_RC_MEMORY"},         {0x905, "TPM_RC_SESSION_HANDLES"},
    {0x906, "TPM_RC_OBJECT_HANDLES"}, {0x907, "TPM_RC_LOCALITY"},
    {0x908, "TPM_RC_YIELDED"},        {0x909, "TPM_RC_CANCELED"},
    {0x90A, "TPM_RC_TESTING"},        {0x920, "TPM_RC_NV_RATE"},
    {0x921, "TPM_RC_LOCKOUT"},        {0x922, "TPM_RC_RETRY"},
    {0x923, "TPM_RC_NV_UNAVAILABLE"},
};

const char* Lookup(uint32_t v) {
  for (const auto& e : kNames) {
    if (e.value == v) {
      return e.name;
    }
  }
  return nullptr;
}

}  // namespace

std::string RcName(uint32_t rc) {
  char buf[64];
  if (const char* n = Lookup(rc)) {
    return n;
  }
  if ((rc & 0x080) != 0) {
    const char* base = Lookup(rc & 0x0BF);
    uint32_t n = (rc >> 8) & 0xF;
    const char* kind = (rc & 0x040) != 0 ? "P" : ((rc & 0x800) != 0 ? "S" : "H");
    if ((rc & 0x040) == 0) {
      n &= 0x7;
    }
    if (base != nullptr) {
      std::snprintf(buf, sizeof(buf), "%s+%s%u", base, kind, n);
      return buf;
    }
  }
  if (rc >= 0x910 && rc <= 0x91E) {
    std::snprintf(buf, sizeof(buf), "TPM_RC_REFERENCE_%c%u", rc >= 0x918 ? 'S' : 'H',
                  (rc - 0x910) % 8);
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "0x%03X", rc);
  return buf;
}

}  // namespace tpm2emu
