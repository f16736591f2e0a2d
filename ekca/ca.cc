#include "ekca/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <utility>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekca/ossl.h"
#include "engine/wire/constants.h"

namespace tpm2emu::ekca {
namespace {

using ossl::Asn1ObjectPtr;
using ossl::BioPtr;
using ossl::BnPtr;
using ossl::GeneralNamePtr;
using ossl::GeneralNamesPtr;
using ossl::OctetStringPtr;
using ossl::ParamBld;
using ossl::Params;
using ossl::Pkey;
using ossl::PkeyCtx;
using ossl::X509ExtPtr;
using ossl::X509NamePtr;
using ossl::X509Ptr;

// TCG OIDs (EK Credential Profile, TCG OID registry).
constexpr char kOidTpmManufacturer[] = "2.23.133.2.1";
constexpr char kOidTpmModel[] = "2.23.133.2.2";
constexpr char kOidTpmVersion[] = "2.23.133.2.3";
constexpr char kOidEkCertificate[] = "2.23.133.8.1";
constexpr char kOidSubjectDirectoryAttributes[] = "2.5.29.9";
// tcg-at-tpmSpecification (2.23.133.2.16) in DER, the attribute type of TPMSpecification.
constexpr uint8_t kDerOidTpmSpecification[] = {0x06, 0x05, 0x67, 0x81, 0x05, 0x02, 0x10};

constexpr char kCaCommonName[] = "tpm2emu local EK CA";
constexpr char kCaOrganization[] = "tpm2emu";
// RFC 5280 §4.1.2.5: "no well-defined expiration date"; the EK profile allows it.
constexpr char kNotAfter[] = "99991231235959Z";

// Drains OpenSSL's error queue into the message.
Status OpenSslError(const std::string& what) {
  std::string details;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof(text));
    details += (details.empty() ? "" : "; ") + std::string(text);
  }
  return Status(StatusCode::kInternal, details.empty() ? what : what + " (" + details + ")");
}

std::string ErrnoText(int err) {
  return std::strerror(err);
}

std::string JoinPath(const std::string& dir, const char* file) {
  return dir.ends_with('/') ? dir + file : dir + "/" + file;
}

// The file's contents, or kNotFound. With `private_key`, refuses a file group or others may
// access, like a state key (frontends/backend/state_key.cc).
StatusOr<Bytes> ReadFile(const std::string& path, bool private_key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return Status(StatusCode::kNotFound, path + " does not exist");
    }
    return IoError("cannot open " + path + " (" + ErrnoText(err) + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::kFailedPrecondition, path + " is not a regular file");
  }
  if (private_key && (st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Status(StatusCode::kFailedPrecondition,
                  "CA key " + path + " is accessible by group or others (mode " + mode +
                      "); a key must be private: chmod 600 " + path);
  }
  Bytes out;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return IoError("cannot read " + path + " (" + ErrnoText(err) + ")");
    }
    if (n == 0) {
      break;
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return IoError("cannot open directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return IoError("cannot sync directory " + dir + " (" + ErrnoText(err) + ")");
  }
  return Status::Ok();
}

// Writes `data` to `path` atomically (temporary file, fsync, rename, fsync of the directory)
// with `mode`.
Status WriteFileAtomic(const std::string& dir, const std::string& path, ByteSpan data,
                       mode_t mode) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) {
    return IoError("cannot create " + tmp + " (" + ErrnoText(errno) + ")");
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot write " + tmp + " (" + ErrnoText(err) + ")");
    }
    done += static_cast<size_t>(n);
  }
  // The umask may have narrowed the mode; the certificate is meant to be readable.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return IoError("cannot write " + tmp + " (" + ErrnoText(err) + ")");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return IoError("cannot rename " + tmp + " to " + path + " (" + ErrnoText(err) + ")");
  }
  return SyncDir(dir);
}

StatusOr<Bytes> BioContents(BIO* bio) {
  size_t pending = BIO_ctrl_pending(bio);
  Bytes out(pending);
  if (pending > 0 &&
      BIO_read(bio, out.data(), static_cast<int>(pending)) != static_cast<int>(pending)) {
    return OpenSslError("cannot read a memory BIO");
  }
  return out;
}

StatusOr<Bytes> CertificateDer(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    return OpenSslError("cannot encode a certificate");
  }
  Bytes out(static_cast<size_t>(len));
  uint8_t* p = out.data();
  if (i2d_X509(cert, &p) != len) {
    return OpenSslError("cannot encode a certificate");
  }
  return out;
}

// A random positive serial number of 16 octets (RFC 5280 §4.1.2.2 allows up to 20).
Status SetRandomSerial(X509* cert) {
  uint8_t serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslError("cannot draw a serial number");
  }
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7F) | 0x40);  // positive, 16 octets
  BnPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return OpenSslError("cannot set the serial number");
  }
  return Status::Ok();
}

Status SetValidity(X509* cert) {
  if (X509_gmtime_adj(X509_getm_notBefore(cert), 0) == nullptr ||
      ASN1_TIME_set_string_X509(X509_getm_notAfter(cert), kNotAfter) != 1) {
    return OpenSslError("cannot set the validity");
  }
  return Status::Ok();
}

// Adds an extension in OpenSSL's configuration syntax ("critical,CA:FALSE").
Status AddConfExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(std::string("cannot add extension ") + OBJ_nid2sn(nid) + "=" + value);
  }
  return Status::Ok();
}

Status AddRawExtension(X509* cert, const char* oid, bool critical, ByteSpan der) {
  Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
  OctetStringPtr value(ASN1_OCTET_STRING_new());
  if (!obj || !value ||
      ASN1_OCTET_STRING_set(value.get(), der.data(), static_cast<int>(der.size())) != 1) {
    return OpenSslError(std::string("cannot build extension ") + oid);
  }
  X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, value.get()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(std::string("cannot add extension ") + oid);
  }
  return Status::Ok();
}

// A DER TLV; the contents built here stay well under 256 octets (short or one-octet long form).
void AppendTlv(Bytes& out, uint8_t tag, ByteSpan content) {
  out.push_back(tag);
  if (content.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(content.size()));
  } else {
    out.push_back(0x81);
    out.push_back(static_cast<uint8_t>(content.size()));
  }
  out.insert(out.end(), content.begin(), content.end());
}

void AppendDerInteger(Bytes& out, uint32_t v) {
  Bytes content;
  bool started = false;
  for (int shift = 24; shift >= 0; shift -= 8) {
    auto byte = static_cast<uint8_t>(v >> shift);
    if (!started && byte == 0 && shift != 0) {
      continue;
    }
    if (!started && (byte & 0x80) != 0) {
      content.push_back(0);  // stay positive
    }
    started = true;
    content.push_back(byte);
  }
  AppendTlv(out, 0x02, content);
}

// subjectDirectoryAttributes (RFC 5280 §4.2.1.8) with one attribute, tcg-at-tpmSpecification:
// TPMSpecification ::= SEQUENCE { family UTF8String, level INTEGER, revision INTEGER }.
Bytes SubjectDirectoryAttributes(const TpmIdentity& tpm) {
  Bytes spec;
  constexpr uint8_t kFamily[] = {'2', '.', '0'};
  AppendTlv(spec, 0x0C, kFamily);
  AppendDerInteger(spec, tpm.spec_level);
  AppendDerInteger(spec, tpm.spec_revision);
  Bytes spec_seq;
  AppendTlv(spec_seq, 0x30, spec);
  Bytes values;
  AppendTlv(values, 0x31, spec_seq);
  Bytes attribute(std::begin(kDerOidTpmSpecification), std::end(kDerOidTpmSpecification));
  attribute.insert(attribute.end(), values.begin(), values.end());
  Bytes attribute_seq;
  AppendTlv(attribute_seq, 0x30, attribute);
  Bytes out;
  AppendTlv(out, 0x30, attribute_seq);
  return out;
}

std::string HexId(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof(text), "id:%08X", v);
  return text;
}

Status AddNameEntry(X509_NAME* name, const char* oid, const std::string& value) {
  Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
  if (!obj || X509_NAME_add_entry_by_OBJ(name, obj.get(), MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, 0) != 1) {
    return OpenSslError(std::string("cannot add name attribute ") + oid);
  }
  return Status::Ok();
}

// subjectAltName: one directoryName with the TPM's manufacturer, model and version, each its
// own RDN, critical because the subject is empty (RFC 5280 §4.2.1.6).
Status AddTpmSubjectAltName(X509* cert, const TpmIdentity& tpm) {
  X509NamePtr dir_name(X509_NAME_new());
  if (!dir_name) {
    return OpenSslError("cannot allocate a name");
  }
  TRY(AddNameEntry(dir_name.get(), kOidTpmManufacturer, HexId(tpm.manufacturer)));
  TRY(AddNameEntry(dir_name.get(), kOidTpmModel, tpm.model.empty() ? "unknown" : tpm.model));
  TRY(AddNameEntry(dir_name.get(), kOidTpmVersion, HexId(tpm.firmware_version)));
  GeneralNamePtr general_name(GENERAL_NAME_new());
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!general_name || !names) {
    return OpenSslError("cannot allocate a subjectAltName");
  }
  GENERAL_NAME_set0_value(general_name.get(), GEN_DIRNAME, dir_name.release());
  if (sk_GENERAL_NAME_push(names.get(), general_name.get()) == 0) {
    return OpenSslError("cannot build the subjectAltName");
  }
  general_name.release();  // owned by `names` now
  if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 1, X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError("cannot add the subjectAltName");
  }
  return Status::Ok();
}

// The EK's public key as an EVP_PKEY, from its TPMT_PUBLIC.
StatusOr<Pkey> EkPublicKey(const wire::TpmtPublic& ek) {
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld) {
    return OpenSslError("cannot allocate key parameters");
  }
  const char* type = nullptr;
  BnPtr n;
  BnPtr e;
  Bytes point;
  if (const auto* rsa = std::get_if<wire::RsaDetail>(&ek.detail)) {
    if (ek.type != TpmAlg::Rsa || rsa->key_bits != 2048 || rsa->unique.size() != 256) {
      return InvalidArgument("EK: only RSA 2048 and ECC NIST P-256 keys are certified");
    }
    type = "RSA";
    n.reset(BN_bin2bn(rsa->unique.data(), static_cast<int>(rsa->unique.size()), nullptr));
    e.reset(BN_new());
    if (!n || !e || BN_set_word(e.get(), rsa->exponent == 0 ? 65537 : rsa->exponent) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
      return OpenSslError("cannot build the EK's RSA parameters");
    }
  } else if (const auto* ecc = std::get_if<wire::EccDetail>(&ek.detail)) {
    if (ek.type != TpmAlg::Ecc || ecc->curve != TpmEccCurve::NistP256 || ecc->x.size() != 32 ||
        ecc->y.size() != 32) {
      return InvalidArgument("EK: only RSA 2048 and ECC NIST P-256 keys are certified");
    }
    type = "EC";
    point.push_back(0x04);  // uncompressed point (SEC 1 §2.3.3)
    point.insert(point.end(), ecc->x.begin(), ecc->x.end());
    point.insert(point.end(), ecc->y.begin(), ecc->y.end());
    if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
            1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1) {
      return OpenSslError("cannot build the EK's ECC parameters");
    }
  } else {
    return InvalidArgument("EK: only RSA 2048 and ECC NIST P-256 keys are certified");
  }
  Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return InvalidArgument("EK: the public key is not a valid " + std::string(type) + " key");
  }
  return Pkey(raw);
}

StatusOr<X509Ptr> MakeCaCertificate(EVP_PKEY* key) {
  X509Ptr cert(X509_new());
  X509NamePtr name(X509_NAME_new());
  if (!cert || !name || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_NAME_add_entry_by_txt(name.get(), "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(kCaOrganization), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(kCaCommonName), -1, -1,
                                 0) != 1 ||
      X509_set_subject_name(cert.get(), name.get()) != 1 ||
      X509_set_issuer_name(cert.get(), name.get()) != 1 || X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("cannot build the CA certificate");
  }
  TRY(SetRandomSerial(cert.get()));
  TRY(SetValidity(cert.get()));
  TRY(AddConfExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  TRY(AddConfExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  TRY(AddConfExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("cannot sign the CA certificate");
  }
  return cert;
}

}  // namespace

struct LocalCa::Impl {
  Pkey key;
  X509Ptr cert;
  Bytes cert_der;
  std::string cert_path;
};

LocalCa::LocalCa(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalCa::LocalCa(LocalCa&&) noexcept = default;
LocalCa& LocalCa::operator=(LocalCa&&) noexcept = default;
LocalCa::~LocalCa() = default;

const Bytes& LocalCa::certificate_der() const {
  return impl_->cert_der;
}
const std::string& LocalCa::certificate_path() const {
  return impl_->cert_path;
}

StatusOr<LocalCa> LocalCa::Open(const std::string& dir) {
  if (dir.empty()) {
    return InvalidArgument("the CA directory is empty");
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return IoError("cannot create CA directory " + dir + " (" + ErrnoText(errno) + ")");
  }
  auto impl = std::make_unique<Impl>();
  std::string key_path = JoinPath(dir, kCaKeyFile);
  impl->cert_path = JoinPath(dir, kCaCertFile);

  auto key_pem = ReadFile(key_path, /*private_key=*/true);
  if (key_pem.ok()) {
    BioPtr bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
    impl->key.reset(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    OPENSSL_cleanse(key_pem->data(), key_pem->size());
    if (!impl->key) {
      ERR_clear_error();
      return CorruptError("CA key " + key_path + " is not a PEM private key");
    }
  } else if (key_pem.error().code() == StatusCode::kNotFound) {
    if (::access(impl->cert_path.c_str(), F_OK) == 0) {
      return Status(StatusCode::kFailedPrecondition,
                    "CA certificate " + impl->cert_path + " exists without its key " + key_path);
    }
    impl->key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!impl->key || !bio ||
        PEM_write_bio_PrivateKey(bio.get(), impl->key.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) != 1) {
      return OpenSslError("cannot create the CA key");
    }
    TRY_ASSIGN(auto pem, BioContents(bio.get()));
    Status written = WriteFileAtomic(dir, key_path, pem, 0600);
    OPENSSL_cleanse(pem.data(), pem.size());
    TRY(written);
  } else {
    return key_pem.error();
  }

  auto cert_pem = ReadFile(impl->cert_path, /*private_key=*/false);
  if (cert_pem.ok()) {
    BioPtr bio(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
    impl->cert.reset(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!impl->cert) {
      ERR_clear_error();
      return CorruptError("CA certificate " + impl->cert_path + " is not a PEM certificate");
    }
    if (X509_check_private_key(impl->cert.get(), impl->key.get()) != 1) {
      ERR_clear_error();
      return CorruptError("CA certificate " + impl->cert_path + " does not match the key " +
                          key_path);
    }
  } else if (cert_pem.error().code() == StatusCode::kNotFound) {
    TRY_ASSIGN(impl->cert, MakeCaCertificate(impl->key.get()));
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_X509(bio.get(), impl->cert.get()) != 1) {
      return OpenSslError("cannot encode the CA certificate");
    }
    TRY_ASSIGN(auto pem, BioContents(bio.get()));
    TRY(WriteFileAtomic(dir, impl->cert_path, pem, 0644));
  } else {
    return cert_pem.error();
  }
  TRY_ASSIGN(impl->cert_der, CertificateDer(impl->cert.get()));
  return LocalCa(std::move(impl));
}

StatusOr<Bytes> LocalCa::IssueEkCertificate(const wire::TpmtPublic& ek,
                                            const TpmIdentity& tpm) const {
  TRY_ASSIGN(auto ek_key, EkPublicKey(ek));
  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_issuer_name(cert.get(), X509_get_subject_name(impl_->cert.get())) != 1 ||
      X509_set_pubkey(cert.get(), ek_key.get()) != 1) {
    return OpenSslError("cannot build the EK certificate");
  }
  TRY(SetRandomSerial(cert.get()));
  TRY(SetValidity(cert.get()));
  X509* ca = impl_->cert.get();
  // An EK decrypts (RSA) or agrees keys (ECC); it never signs.
  bool rsa = ek.type == TpmAlg::Rsa;
  TRY(AddConfExtension(cert.get(), ca, NID_key_usage,
                       rsa ? "critical,keyEncipherment" : "critical,keyAgreement"));
  TRY(AddConfExtension(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE"));
  TRY(AddConfExtension(cert.get(), ca, NID_ext_key_usage, kOidEkCertificate));
  TRY(AddConfExtension(cert.get(), ca, NID_authority_key_identifier, "keyid:always"));
  TRY(AddTpmSubjectAltName(cert.get(), tpm));
  TRY(AddRawExtension(cert.get(), kOidSubjectDirectoryAttributes, false,
                      SubjectDirectoryAttributes(tpm)));
  if (X509_sign(cert.get(), impl_->key.get(), EVP_sha256()) <= 0) {
    return OpenSslError("cannot sign the EK certificate");
  }
  return CertificateDer(cert.get());
}

}  // namespace tpm2emu::ekca
