// Part 3 §15 symmetric primitives and §17.2 TPM2_HMAC_Start.

#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "engine/commands/commands.h"
#include "engine/tpm.h"

namespace tpm2emu::engine::sym {
namespace {

using wire::TpmaObject::Decrypt;
using wire::TpmaObject::Restricted;
using wire::TpmaObject::SignEncrypt;

// The shared body of TPM2_EncryptDecrypt and TPM2_EncryptDecrypt2; positions are those of
// EncryptDecrypt (the caller of EncryptDecrypt2 remaps them).
struct Positions {
  uint32_t decrypt, mode, iv, data;
};

Result<EncryptDecryptOut> Crypt(Tpm& tpm, uint32_t handle, uint8_t decrypt, uint16_t mode,
                                const wire::Tpm2bIv& iv_in, const wire::Tpm2bMaxBuffer& data,
                                Positions pos) {
  TRY_ASSIGN(Object * key, tpm.FindObject(handle, 1));
  if (key->sequence || key->pub.type != TpmAlg::SymCipher || key->public_only) {
    return Rc::Key.Handle(1);
  }
  if (key->pub.Has(Restricted)) {
    return Rc::Attributes.Handle(1);
  }
  if (decrypt > 1) {
    return Rc::Value.Param(pos.decrypt);
  }
  // For a symmetric key, decrypt allows decryption and sign allows encryption.
  if ((decrypt == 1 && !key->pub.Has(Decrypt)) || (decrypt == 0 && !key->pub.Has(SignEncrypt))) {
    return Rc::Attributes.Handle(1);
  }
  const auto& d = std::get<wire::SymCipherDetail>(key->pub.detail);
  uint16_t use_mode = d.sym.mode;
  if (use_mode == TpmAlg::Null) {
    use_mode = mode;
  } else if (mode != TpmAlg::Null && mode != use_mode) {
    return Rc::Mode.Param(pos.mode);
  }
  if (use_mode != TpmAlg::Cfb && use_mode != TpmAlg::Cbc && use_mode != TpmAlg::Ctr &&
      use_mode != TpmAlg::Ofb && use_mode != TpmAlg::Ecb) {
    return Rc::Mode.Param(pos.mode);
  }
  Bytes iv = iv_in.data;
  if (use_mode != TpmAlg::Ecb && iv.size() != 16) {
    return Rc::Size.Param(pos.iv);
  }
  if ((use_mode == TpmAlg::Cbc || use_mode == TpmAlg::Ecb) && data.size() % 16 != 0) {
    return Rc::Size.Param(pos.data);
  }
  auto out = crypto::SymCrypt(use_mode, decrypt == 1, key->sensitive, iv, data.span());
  if (!out.ok()) {
    return out.error().Param(pos.data);
  }
  EncryptDecryptOut r;
  r.out_data.data = std::move(out).value();
  r.iv_out.data = use_mode == TpmAlg::Ecb ? Bytes{} : iv;
  return r;
}

// The HMAC key behind a handle, with the hash to use (Part 3 §15.5.1).
Result<uint16_t> HmacHash(const Object& key, uint16_t requested) {
  if (key.sequence || key.pub.type != TpmAlg::KeyedHash || key.public_only) {
    return Rc::Type.Handle(1);
  }
  if (key.pub.Has(Restricted)) {
    return Rc::Attributes.Handle(1);
  }
  if (!key.pub.Has(SignEncrypt)) {
    return Rc::Key.Handle(1);
  }
  const auto& d = std::get<wire::KeyedHashDetail>(key.pub.detail);
  uint16_t own = d.scheme.scheme == TpmAlg::Hmac ? d.scheme.hash_alg : TpmAlg::Null;
  if (own != TpmAlg::Null) {
    if (requested != TpmAlg::Null && requested != own) {
      return Rc::Value.Param(2);
    }
    return own;
  }
  if (requested == TpmAlg::Null) {
    return Rc::Value.Param(2);
  }
  return requested;
}

}  // namespace

// Part 3 §15.2 TPM2_EncryptDecrypt
Result<EncryptDecryptOut> EncryptDecrypt(Tpm& tpm, const EncryptDecryptIn& in) {
  return Crypt(tpm, in.key_handle, in.decrypt, in.mode, in.iv_in, in.in_data, {1, 2, 3, 4});
}

// Part 3 §15.3 TPM2_EncryptDecrypt2: the same with the data first (so it can be encrypted).
Result<EncryptDecryptOut> EncryptDecrypt2(Tpm& tpm, const EncryptDecrypt2In& in) {
  return Crypt(tpm, in.key_handle, in.decrypt, in.mode, in.iv_in, in.in_data, {2, 3, 4, 1});
}

// Part 3 §15.5 TPM2_HMAC
Result<HmacOut> Hmac(Tpm& tpm, const HmacIn& in) {
  TRY_ASSIGN(Object * key, tpm.FindObject(in.handle, 1));
  TRY_ASSIGN(uint16_t hash_alg, HmacHash(*key, in.hash_alg));
  HmacOut out;
  TRY_ASSIGN(out.out_hmac.data, crypto::Hmac(hash_alg, key->sensitive, in.buffer.span()));
  return out;
}

// Part 3 §17.2 TPM2_HMAC_Start
Result<hash::HandleOut> HmacStart(Tpm& tpm, const HmacStartIn& in) {
  TRY_ASSIGN(Object * key, tpm.FindObject(in.handle, 1));
  TRY_ASSIGN(uint16_t hash_alg, HmacHash(*key, in.hash_alg));
  SequenceObject seq;
  seq.is_hmac = true;
  TRY_ASSIGN(seq.hmac, crypto::ResumableHmac::Start(hash_alg, key->sensitive));
  Object obj;
  obj.auth = SecretBytes(TrimTrailingZeros(in.auth.span()));
  obj.pub.name_alg = TpmAlg::Null;  // Part 1 §14: a sequence object's Name is empty
  obj.sequence = std::move(seq);
  TRY_ASSIGN(uint32_t handle, tpm.InsertObject(std::move(obj)));
  hash::HandleOut out;
  out.handle = handle;
  return out;
}

}  // namespace tpm2emu::engine::sym
