// Hash, HMAC and event sequences saved and reloaded through ESYS (Part 3 §28.2, §28.3; Part 1
// §27.2.3, §27.8), the way a resource manager (tpm2-abrmd) does around every command. Results
// are checked against OpenSSL, computed here in the test.

#include <cstring>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "engine/tpm.h"
#include "tests/engine/esys_keys.h"
#include "tests/engine/test_util.h"

namespace tpm2emu::engine::test {
namespace {

constexpr uint32_t kSavedSequence = 0x80000001;

// OpenSSL's digest for a TPM_ALG_ID of crypto/hash.h.
const EVP_MD* OpenSslMd(uint16_t alg) {
  const char* name = alg == TpmAlg::Sha1     ? "SHA1"
                     : alg == TpmAlg::Sha256 ? "SHA256"
                     : alg == TpmAlg::Sha384 ? "SHA384"
                                             : "SHA512";
  return EVP_get_digestbyname(name);
}

Bytes SoftwareHash(uint16_t alg, const Bytes& data) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &len, OpenSslMd(alg), nullptr), 1);
  return Bytes(md, md + len);
}

Bytes SoftwareHmac(uint16_t alg, const Bytes& key, const Bytes& data) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_NE(HMAC(OpenSslMd(alg), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
                 md, &len),
            nullptr);
  return Bytes(md, md + len);
}

// `size` octets starting at `first`, wrapping (a pattern that is different in every block).
Bytes Pattern(uint8_t first, size_t size) {
  Bytes out(size);
  for (size_t i = 0; i < size; ++i) {
    out[i] = static_cast<uint8_t>(first + i * 7);
  }
  return out;
}

TPM2B_MAX_BUFFER Buffer(ByteSpan data) {
  TPM2B_MAX_BUFFER b{};
  b.size = static_cast<UINT16>(data.size());
  std::copy(data.begin(), data.end(), b.buffer);
  return b;
}

TPM2B_AUTH Auth(std::string_view s) {
  TPM2B_AUTH a{};
  a.size = static_cast<UINT16>(s.size());
  std::copy(s.begin(), s.end(), a.buffer);
  return a;
}

class EsysSequenceTest : public EsysKeysTest {
 protected:
  // A power cycle: a new Tpm over the same store, then Startup(type), and a new ESYS context.
  void PowerCycle(uint16_t startup_type) {
    client_.reset();
    tpm_.Create();
    tpm_.Startup(startup_type);
    SetUp();
  }

  ESYS_TR StartHash(uint16_t alg, std::string_view auth) {
    TPM2B_AUTH a = Auth(auth);
    ESYS_TR seq = ESYS_TR_NONE;
    EXPECT_EQ(Esys_HashSequenceStart(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &a, alg, &seq),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(Esys_TR_SetAuth(ctx_, seq, &a), TSS2_RC_SUCCESS);
    return seq;
  }
  // A loaded HMAC key (keyedHash, HMAC scheme with `alg`) holding `key`.
  ESYS_TR HmacKey(uint16_t alg, const Bytes& key) {
    TPM2B_PUBLIC tmpl =
        HmacKeyTemplate(alg, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT);
    TPM2B_SENSITIVE_CREATE sens{};
    sens.sensitive.data.size = static_cast<UINT16>(key.size());
    std::copy(key.begin(), key.end(), sens.sensitive.data.buffer);
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR handle = ESYS_TR_NONE;
    EXPECT_EQ(Esys_CreatePrimary(ctx_, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &handle, nullptr,
                                 nullptr, nullptr, nullptr),
              TSS2_RC_SUCCESS);
    return handle;
  }
  ESYS_TR StartHmac(ESYS_TR key, std::string_view auth) {
    TPM2B_AUTH a = Auth(auth);
    ESYS_TR seq = ESYS_TR_NONE;
    EXPECT_EQ(Esys_HMAC_Start(ctx_, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &a,
                              TPM2_ALG_NULL, &seq),
              TSS2_RC_SUCCESS);
    return seq;
  }
  void Update(ESYS_TR seq, ByteSpan data) {
    TPM2B_MAX_BUFFER b = Buffer(data);
    ASSERT_EQ(Esys_SequenceUpdate(ctx_, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &b),
              TSS2_RC_SUCCESS);
  }
  // What tpm2-abrmd does after each command: save the context, flush the object; later load
  // it again (with a new handle). Checks the context's metadata (Part 1 §27.2.3, §27.2.4).
  TPMS_CONTEXT* Save(ESYS_TR seq) {
    TPMS_CONTEXT* saved = nullptr;
    EXPECT_EQ(Esys_ContextSave(ctx_, seq, &saved), TSS2_RC_SUCCESS);
    if (saved != nullptr) {
      EXPECT_EQ(saved->savedHandle, kSavedSequence);
      EXPECT_EQ(saved->hierarchy, TPM2_RH_NULL);
      // Within TPM_PT_MAX_OBJECT_CONTEXT even with ESYS's metadata added.
      EXPECT_LT(saved->contextBlob.size, kMaxObjectContext);
    }
    return saved;
  }
  ESYS_TR Load(const TPMS_CONTEXT* saved, std::string_view auth) {
    ESYS_TR seq = ESYS_TR_NONE;
    EXPECT_EQ(Esys_ContextLoad(ctx_, saved, &seq), TSS2_RC_SUCCESS);
    TPM2B_AUTH a = Auth(auth);
    EXPECT_EQ(Esys_TR_SetAuth(ctx_, seq, &a), TSS2_RC_SUCCESS);
    return seq;
  }
  ESYS_TR SaveFlushLoad(ESYS_TR seq, std::string_view auth) {
    TPMS_CONTEXT* saved = Save(seq);
    EXPECT_EQ(Esys_FlushContext(ctx_, seq), TSS2_RC_SUCCESS);
    ESYS_TR loaded = Load(saved, auth);
    Esys_Free(saved);
    return loaded;
  }
  uint32_t TransientCount() {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* cap = nullptr;
    EXPECT_EQ(Esys_GetCapability(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                 TPM2_TRANSIENT_FIRST, 32, &more, &cap),
              TSS2_RC_SUCCESS);
    uint32_t n = cap == nullptr ? 0 : cap->data.handles.count;
    Esys_Free(cap);
    return n;
  }
  struct Completed {
    Bytes digest;
    uint32_t ticket_hierarchy = 0;
    Bytes ticket;
  };
  Completed Complete(ESYS_TR seq, ByteSpan last, ESYS_TR hierarchy) {
    TPM2B_MAX_BUFFER b = Buffer(last);
    TPM2B_DIGEST* result = nullptr;
    TPMT_TK_HASHCHECK* ticket = nullptr;
    Completed c;
    EXPECT_EQ(Esys_SequenceComplete(ctx_, seq, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &b,
                                    hierarchy, &result, &ticket),
              TSS2_RC_SUCCESS);
    if (result != nullptr && ticket != nullptr) {
      c.digest = Buf(*result);
      EXPECT_EQ(ticket->tag, TPM2_ST_HASHCHECK);
      c.ticket_hierarchy = ticket->hierarchy;
      c.ticket = Buf(ticket->digest);
    }
    Esys_Free(result);
    Esys_Free(ticket);
    return c;
  }
};

// Every chunk size class around the SHA-1/SHA-256 (64) and SHA-384/SHA-512 (128) blocks, so the
// saved states have every kind of partial block.
const std::vector<size_t> kChunks = {1, 63, 64, 65, 127, 128, 129, 1024, 7, 0, 191, 333};

TEST_F(EsysSequenceTest, HashHmacAndEventSequencesSurviveRepeatedSaveFlushLoad) {
  const Bytes hmac_key = Pattern(0x5A, 100);  // longer than a SHA-256 block: hashed to K0
  ESYS_TR key = HmacKey(TPM2_ALG_SHA256, hmac_key);
  ESYS_TR hash_seq = StartHash(TPM2_ALG_SHA256, "hash auth");
  ESYS_TR hmac_seq = StartHmac(key, "hmac auth");
  ESYS_TR event_seq = StartHash(TPM2_ALG_NULL, "");
  ASSERT_EQ(Esys_FlushContext(ctx_, key), TSS2_RC_SUCCESS);  // the sequence has its own copy
  Bytes all;
  uint8_t first = 1;
  for (size_t chunk : kChunks) {
    const Bytes data = Pattern(first++, chunk);
    all.insert(all.end(), data.begin(), data.end());
    Update(hash_seq, data);
    Update(hmac_seq, data);
    Update(event_seq, data);
    hash_seq = SaveFlushLoad(hash_seq, "hash auth");
    hmac_seq = SaveFlushLoad(hmac_seq, "hmac auth");
    event_seq = SaveFlushLoad(event_seq, "");
    EXPECT_EQ(TransientCount(), 3u);
  }
  const Bytes last = Pattern(0xEE, 50);
  all.insert(all.end(), last.begin(), last.end());
  ASSERT_GT(all.size(), 1024u);  // beyond what TPM2_Hash takes: why tools use a sequence

  Completed hash = Complete(hash_seq, last, ESYS_TR_RH_OWNER);
  EXPECT_EQ(hash.digest, SoftwareHash(TpmAlg::Sha256, all));
  EXPECT_EQ(hash.ticket_hierarchy, TPM2_RH_OWNER);
  EXPECT_EQ(hash.ticket.size(), 32u);
  Completed hmac = Complete(hmac_seq, last, ESYS_TR_RH_NULL);
  EXPECT_EQ(hmac.digest, SoftwareHmac(TpmAlg::Sha256, hmac_key, all));
  EXPECT_EQ(hmac.ticket_hierarchy, TPM2_RH_NULL);

  TPM2B_MAX_BUFFER b = Buffer(last);
  TPML_DIGEST_VALUES* results = nullptr;
  ASSERT_EQ(Esys_EventSequenceComplete(ctx_, ESYS_TR_PCR16, event_seq, ESYS_TR_PASSWORD,
                                       ESYS_TR_PASSWORD, ESYS_TR_NONE, &b, &results),
            TSS2_RC_SUCCESS);
  ASSERT_EQ(results->count, 4u);
  const uint16_t algs[] = {TpmAlg::Sha1, TpmAlg::Sha256, TpmAlg::Sha384, TpmAlg::Sha512};
  for (uint32_t i = 0; i < results->count; ++i) {
    const TPMT_HA& ha = results->digests[i];
    EXPECT_EQ(ha.hashAlg, algs[i]);
    size_t size = SoftwareHash(algs[i], {}).size();
    EXPECT_EQ(Bytes(ha.digest.sha512, ha.digest.sha512 + size), SoftwareHash(algs[i], all))
        << "bank " << algs[i];
  }
  Esys_Free(results);
  EXPECT_EQ(TransientCount(), 0u);
}

// The ticket of a saved and reloaded hash sequence is the one TPM2_Hash gives for the same
// data, and a restricted signing key accepts it (and not a tampered one).
TEST_F(EsysSequenceTest, HashcheckTicketOfReloadedSequenceIsValid) {
  const Bytes data = Pattern(9, 1000);
  ESYS_TR seq = StartHash(TPM2_ALG_SHA256, "");
  for (size_t pos = 0; pos < data.size(); pos += 300) {
    Update(seq, ByteSpan(data).subspan(pos, std::min<size_t>(300, data.size() - pos)));
    seq = SaveFlushLoad(seq, "");
  }
  Completed c = Complete(seq, {}, ESYS_TR_RH_OWNER);
  EXPECT_EQ(c.digest, SoftwareHash(TpmAlg::Sha256, data));

  TPM2B_MAX_BUFFER b = Buffer(data);
  TPM2B_DIGEST* digest = nullptr;
  TPMT_TK_HASHCHECK* ticket = nullptr;
  ASSERT_EQ(Esys_Hash(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &b, TPM2_ALG_SHA256,
                      ESYS_TR_RH_OWNER, &digest, &ticket),
            TSS2_RC_SUCCESS);
  EXPECT_EQ(Buf(*digest), c.digest);
  EXPECT_EQ(ticket->hierarchy, c.ticket_hierarchy);
  EXPECT_EQ(Buf(ticket->digest), c.ticket);

  // A restricted RSASSA-SHA256 key signs the digest only with a valid ticket.
  TPM2B_PUBLIC tmpl =
      KeyTemplate(TPM2_ALG_RSA, TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT);
  tmpl.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  tmpl.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  ESYS_TR signer = Primary(tmpl);
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  EXPECT_EQ(Esys_Sign(ctx_, signer, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, digest, &scheme,
                      ticket, &sig),
            TSS2_RC_SUCCESS);
  Esys_Free(sig);
  sig = nullptr;
  ticket->digest.buffer[0] ^= 1;
  TSS2_RC rc = Esys_Sign(ctx_, signer, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, digest,
                         &scheme, ticket, &sig);
  EXPECT_EQ(rc & 0xFFF, Rc::Ticket.Param(3).value());
  Esys_Free(sig);
  Esys_Free(digest);
  Esys_Free(ticket);
}

// Whether the first block began with TPM_GENERATED_VALUE is part of the saved sequence: the
// reloaded sequence still gives a NULL ticket (Part 3 §17.5).
TEST_F(EsysSequenceTest, GeneratedValuePrefixIsKeptAcrossSaveLoad) {
  const Bytes generated = {0xFF, 'T', 'C', 'G', 1, 2, 3};
  ESYS_TR seq = StartHash(TPM2_ALG_SHA1, "a");
  Update(seq, generated);
  seq = SaveFlushLoad(seq, "a");
  Update(seq, Pattern(3, 70));
  seq = SaveFlushLoad(seq, "a");
  Completed c = Complete(seq, {}, ESYS_TR_RH_OWNER);
  Bytes all = generated;
  Bytes rest = Pattern(3, 70);
  all.insert(all.end(), rest.begin(), rest.end());
  EXPECT_EQ(c.digest, SoftwareHash(TpmAlg::Sha1, all));
  EXPECT_EQ(c.ticket_hierarchy, TPM2_RH_NULL);
  EXPECT_TRUE(c.ticket.empty());
}

// Part 1 §27.8: a saved sequence has no replay protection. A context saved earlier loads again
// after the sequence moved on or completed, and continues from where it was saved; it is the
// caller's job (e.g. lengths in the data) to notice.
TEST_F(EsysSequenceTest, OlderContextOfASequenceLoadsAgainFromItsSavedState) {
  ESYS_TR seq = StartHash(TPM2_ALG_SHA384, "x");
  const Bytes part1 = Pattern(1, 200);
  const Bytes part2 = Pattern(2, 300);
  Update(seq, part1);
  TPMS_CONTEXT* early = Save(seq);
  Update(seq, part2);
  Bytes both = part1;
  both.insert(both.end(), part2.begin(), part2.end());
  EXPECT_EQ(Complete(seq, {}, ESYS_TR_RH_NULL).digest, SoftwareHash(TpmAlg::Sha384, both));
  // The completed sequence's handle is gone: it cannot be saved any more.
  TPMS_CONTEXT* none = nullptr;
  EXPECT_NE(Esys_ContextSave(ctx_, seq, &none), TSS2_RC_SUCCESS);
  ESYS_TR again = Load(early, "x");
  EXPECT_EQ(Complete(again, part2, ESYS_TR_RH_NULL).digest, SoftwareHash(TpmAlg::Sha384, both));
  again = Load(early, "x");
  EXPECT_EQ(Complete(again, {}, ESYS_TR_RH_NULL).digest, SoftwareHash(TpmAlg::Sha384, part1));
  Esys_Free(early);
}

TEST_F(EsysSequenceTest, TamperedSequenceContextGivesIntegrity) {
  ESYS_TR seq = StartHash(TPM2_ALG_SHA256, "");
  Update(seq, Pattern(5, 100));
  TPMS_CONTEXT* saved = Save(seq);
  ASSERT_NE(saved, nullptr);
  ESYS_TR loaded = ESYS_TR_NONE;
  // A bit of our integrity value and two of the encrypted state (ESYS puts a u32 and the u16
  // size before the TPM's blob), then each field of TPMS_CONTEXT that the integrity HMAC covers.
  for (size_t offset : {size_t{10}, size_t{40}, size_t{60}}) {
    TPMS_CONTEXT copy = *saved;
    copy.contextBlob.buffer[offset] ^= 0x01;
    EXPECT_EQ(Esys_ContextLoad(ctx_, &copy, &loaded) & 0xFFF, Rc::Integrity.Param(1).value())
        << "offset " << offset;
  }
  TPMS_CONTEXT copy = *saved;
  copy.savedHandle = 0x80000000;  // claims to be an ordinary object
  EXPECT_EQ(Esys_ContextLoad(ctx_, &copy, &loaded) & 0xFFF, Rc::Integrity.Param(1).value());
  copy = *saved;
  copy.hierarchy = TPM2_RH_OWNER;  // another proof
  EXPECT_EQ(Esys_ContextLoad(ctx_, &copy, &loaded) & 0xFFF, Rc::Integrity.Param(1).value());
  copy = *saved;
  ASSERT_GE(copy.sequence, 1u);
  copy.sequence -= 1;
  EXPECT_EQ(Esys_ContextLoad(ctx_, &copy, &loaded) & 0xFFF, Rc::Integrity.Param(1).value());
  // The untouched context still loads.
  EXPECT_EQ(Esys_ContextLoad(ctx_, saved, &loaded), TSS2_RC_SUCCESS);
  Esys_Free(saved);
}

TEST_F(EsysSequenceTest, LoadingNeedsAFreeObjectSlot) {
  ESYS_TR seq = StartHash(TPM2_ALG_SHA256, "");
  TPMS_CONTEXT* saved = Save(seq);
  std::vector<ESYS_TR> fillers;
  for (size_t i = 1; i < kMaxLoadedObjects; ++i) {
    fillers.push_back(StartHash(TPM2_ALG_SHA1, ""));
  }
  ESYS_TR loaded = ESYS_TR_NONE;
  EXPECT_EQ(Esys_ContextLoad(ctx_, saved, &loaded) & 0xFFF, Rc::ObjectMemory.value());
  ASSERT_EQ(Esys_FlushContext(ctx_, fillers.back()), TSS2_RC_SUCCESS);
  EXPECT_EQ(Esys_ContextLoad(ctx_, saved, &loaded), TSS2_RC_SUCCESS);
  Esys_Free(saved);
}

// Saved sequence contexts are in the NULL hierarchy: they survive TPM Restart and TPM Resume
// (Shutdown(STATE) keeps the null proof) but not a TPM Reset (Part 1 §27.1). The loaded
// sequence itself does not survive any Startup.
TEST_F(EsysSequenceTest, SavedSequenceSurvivesRestartAndResumeButNotReset) {
  const Bytes part1 = Pattern(1, 150);
  const Bytes part2 = Pattern(2, 10);
  ESYS_TR seq = StartHash(TPM2_ALG_SHA512, "s");
  Update(seq, part1);
  TPMS_CONTEXT* saved = Save(seq);
  Bytes both = part1;
  both.insert(both.end(), part2.begin(), part2.end());
  for (uint16_t startup : {TpmSu::State, TpmSu::Clear}) {
    ASSERT_EQ(Esys_Shutdown(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_STATE),
              TSS2_RC_SUCCESS);
    PowerCycle(startup);
    EXPECT_EQ(TransientCount(), 0u) << "startup " << startup;
    ESYS_TR loaded = Load(saved, "s");
    EXPECT_EQ(Complete(loaded, part2, ESYS_TR_RH_NULL).digest, SoftwareHash(TpmAlg::Sha512, both))
        << "startup " << startup;
  }
  ASSERT_EQ(Esys_Shutdown(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_SU_CLEAR),
            TSS2_RC_SUCCESS);
  PowerCycle(TpmSu::Clear);  // TPM Reset: a new null proof
  ESYS_TR loaded = ESYS_TR_NONE;
  EXPECT_EQ(Esys_ContextLoad(ctx_, saved, &loaded) & 0xFFF, Rc::Integrity.Param(1).value());
  Esys_Free(saved);
}

}  // namespace
}  // namespace tpm2emu::engine::test
