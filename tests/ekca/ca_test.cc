#include "ekca/ca.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ekca/provision.h"
#include "engine/wire/constants.h"
#include "tests/ekca/ossl_test_util.h"

namespace tpm2emu::ekca {
namespace {

using testing::OidText;
using testing::ParseDer;
using testing::PublicOf;
using testing::TempDir;

TpmIdentity Identity() {
  TpmIdentity id;
  id.manufacturer = 0x454D5520;  // "EMU "
  id.model = "tpm2emu";
  id.firmware_version = 0x00010002;
  id.spec_level = 0;
  id.spec_revision = 185;
  return id;
}

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string EntryText(const X509_NAME_ENTRY* entry) {
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
  EXPECT_EQ(ASN1_STRING_type(data), V_ASN1_UTF8STRING);
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                     static_cast<size_t>(ASN1_STRING_length(data)));
}

const X509_EXTENSION* ExtensionByOid(X509* cert, const char* oid) {
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    if (OidText(X509_EXTENSION_get_object(ext)) == oid) {
      return ext;
    }
  }
  return nullptr;
}

bool Critical(X509* cert, int nid) {
  int at = X509_get_ext_by_NID(cert, nid, -1);
  EXPECT_GE(at, 0) << OBJ_nid2sn(nid);
  return at >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, at)) == 1;
}

// Checks every field the EK Credential Profile asks for, and the chain to the CA.
void CheckEkCertificate(const LocalCa& ca, const Bytes& der, EVP_PKEY* ek_key,
                        const char* key_usage_name, uint32_t key_usage) {
  SCOPED_TRACE(key_usage_name);
  auto cert = ParseDer(der);
  ASSERT_TRUE(cert);
  auto ca_cert = ParseDer(ca.certificate_der());
  ASSERT_TRUE(ca_cert);

  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  testing::BnPtr serial_bn(ASN1_INTEGER_to_BN(serial, nullptr));
  EXPECT_FALSE(BN_is_negative(serial_bn.get()));
  EXPECT_GE(BN_num_bits(serial_bn.get()), 64);

  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca_cert.get())),
            0);
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(cert.get())), 0);

  ossl::Asn1TimePtr not_after(ASN1_TIME_new());
  ASSERT_EQ(ASN1_TIME_set_string_X509(not_after.get(), "99991231235959Z"), 1);
  EXPECT_EQ(ASN1_TIME_compare(X509_get0_notAfter(cert.get()), not_after.get()), 0);
  EXPECT_LE(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);

  // Subject alternative name: critical, one directoryName with the TPM's identity.
  EXPECT_TRUE(Critical(cert.get(), NID_subject_alt_name));
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  ASSERT_TRUE(names);
  ASSERT_EQ(sk_GENERAL_NAME_num(names.get()), 1);
  const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), 0);
  ASSERT_EQ(name->type, GEN_DIRNAME);
  const X509_NAME* dir_name = name->d.directoryName;
  ASSERT_EQ(X509_NAME_entry_count(dir_name), 3);
  EXPECT_EQ(OidText(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(dir_name, 0))), "2.23.133.2.1");
  EXPECT_EQ(EntryText(X509_NAME_get_entry(dir_name, 0)), "id:454D5520");
  EXPECT_EQ(OidText(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(dir_name, 1))), "2.23.133.2.2");
  EXPECT_EQ(EntryText(X509_NAME_get_entry(dir_name, 1)), "tpm2emu");
  EXPECT_EQ(OidText(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(dir_name, 2))), "2.23.133.2.3");
  EXPECT_EQ(EntryText(X509_NAME_get_entry(dir_name, 2)), "id:00010002");

  // keyUsage (critical), basicConstraints CA:FALSE, EKU tcg-kp-EKCertificate.
  EXPECT_TRUE(Critical(cert.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(cert.get()), key_usage);
  EXPECT_TRUE((X509_get_extension_flags(cert.get()) & EXFLAG_BCONS) != 0);
  EXPECT_TRUE((X509_get_extension_flags(cert.get()) & EXFLAG_CA) == 0);
  ossl::ExtKeyUsagePtr eku(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert.get(), NID_ext_key_usage, nullptr, nullptr)));
  ASSERT_TRUE(eku);
  ASSERT_EQ(sk_ASN1_OBJECT_num(eku.get()), 1);
  EXPECT_EQ(OidText(sk_ASN1_OBJECT_value(eku.get(), 0)), "2.23.133.8.1");

  // authorityKeyIdentifier = the CA's subjectKeyIdentifier.
  const ASN1_OCTET_STRING* aki = X509_get0_authority_key_id(cert.get());
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(ca_cert.get());
  ASSERT_NE(aki, nullptr);
  ASSERT_NE(ski, nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(aki, ski), 0);

  // subjectDirectoryAttributes: tcg-at-tpmSpecification { "2.0", 0, 185 }.
  const X509_EXTENSION* sda = ExtensionByOid(cert.get(), "2.5.29.9");
  ASSERT_NE(sda, nullptr);
  EXPECT_EQ(X509_EXTENSION_get_critical(sda), 0);
  const ASN1_OCTET_STRING* sda_value = X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(sda));
  const Bytes expected = {0x30, 0x19, 0x30, 0x17, 0x06, 0x05, 0x67, 0x81, 0x05,
                          0x02, 0x10, 0x31, 0x0E, 0x30, 0x0C, 0x0C, 0x03, '2',
                          '.',  '0',  0x02, 0x01, 0x00, 0x02, 0x02, 0x00, 0xB9};
  EXPECT_EQ(Bytes(ASN1_STRING_get0_data(sda_value),
                  ASN1_STRING_get0_data(sda_value) + ASN1_STRING_length(sda_value)),
            expected);

  // The certified key is the EK, and the CA's signature verifies.
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), ek_key), 1);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(ca_cert.get())), 1);
  EXPECT_EQ(testing::VerifyAgainst(ca_cert.get(), cert.get()), X509_V_OK);
}

TEST(LocalCaTest, FirstOpenCreatesPrivateKeyAndSelfSignedCa) {
  TempDir tmp;
  std::string dir = tmp.path() + "/ca";
  auto ca = LocalCa::Open(dir);
  ASSERT_TRUE(ca.ok()) << ca.error().message();
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/" + kCaKeyFile), 0600u);
  EXPECT_EQ(ca->certificate_path(), dir + "/" + kCaCertFile);

  auto cert = ParseDer(ca->certificate_der());
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())), 0);
  EXPECT_TRUE((X509_get_extension_flags(cert.get()) & EXFLAG_CA) != 0);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1);
  EXPECT_EQ(testing::VerifyAgainst(cert.get(), cert.get()), X509_V_OK);
}

TEST(LocalCaTest, SecondOpenReusesKeyAndCertificate) {
  TempDir tmp;
  auto first = LocalCa::Open(tmp.path());
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto second = LocalCa::Open(tmp.path());
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(first->certificate_der(), second->certificate_der());

  // A certificate from the reopened CA verifies against the first one's certificate.
  auto key = testing::NewRsaKey();
  auto der = second->IssueEkCertificate(PublicOf(key.get(), RsaEkTemplate()), Identity());
  ASSERT_TRUE(der.ok()) << der.error().message();
  CheckEkCertificate(*first, *der, key.get(), "RSA", KU_KEY_ENCIPHERMENT);
}

TEST(LocalCaTest, KeyReadableByOthersIsRefused) {
  TempDir tmp;
  ASSERT_TRUE(LocalCa::Open(tmp.path()).ok());
  std::string key = tmp.path() + "/" + kCaKeyFile;
  ASSERT_EQ(::chmod(key.c_str(), 0640), 0);
  auto ca = LocalCa::Open(tmp.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(ca.error().message().find(key), std::string::npos) << ca.error().message();
  EXPECT_NE(ca.error().message().find("chmod 600"), std::string::npos) << ca.error().message();
}

TEST(LocalCaTest, CertificateOfAnotherKeyIsRefused) {
  TempDir a;
  TempDir b;
  ASSERT_TRUE(LocalCa::Open(a.path()).ok());
  ASSERT_TRUE(LocalCa::Open(b.path()).ok());
  std::filesystem::copy_file(b.path() + "/" + kCaCertFile, a.path() + "/" + kCaCertFile,
                             std::filesystem::copy_options::overwrite_existing);
  auto ca = LocalCa::Open(a.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.error().code(), StatusCode::kCorrupt);
}

TEST(LocalCaTest, GarbageKeyIsCorrupt) {
  TempDir tmp;
  std::string key = tmp.path() + "/" + kCaKeyFile;
  {
    std::ofstream out(key);
    out << "not a key\n";
  }
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  auto ca = LocalCa::Open(tmp.path());
  ASSERT_FALSE(ca.ok());
  EXPECT_EQ(ca.error().code(), StatusCode::kCorrupt);
}

TEST(LocalCaTest, RsaEkCertificateFollowsTheProfile) {
  TempDir tmp;
  auto ca = LocalCa::Open(tmp.path());
  ASSERT_TRUE(ca.ok()) << ca.error().message();
  auto key = testing::NewRsaKey();
  auto der = ca->IssueEkCertificate(PublicOf(key.get(), RsaEkTemplate()), Identity());
  ASSERT_TRUE(der.ok()) << der.error().message();
  CheckEkCertificate(*ca, *der, key.get(), "RSA", KU_KEY_ENCIPHERMENT);
}

TEST(LocalCaTest, EccEkCertificateFollowsTheProfile) {
  TempDir tmp;
  auto ca = LocalCa::Open(tmp.path());
  ASSERT_TRUE(ca.ok()) << ca.error().message();
  auto key = testing::NewEccKey();
  auto der = ca->IssueEkCertificate(PublicOf(key.get(), EccEkTemplate()), Identity());
  ASSERT_TRUE(der.ok()) << der.error().message();
  CheckEkCertificate(*ca, *der, key.get(), "ECC", KU_KEY_AGREEMENT);
}

TEST(LocalCaTest, SerialNumbersDiffer) {
  TempDir tmp;
  auto ca = LocalCa::Open(tmp.path());
  ASSERT_TRUE(ca.ok());
  auto key = testing::NewEccKey();
  auto ek = PublicOf(key.get(), EccEkTemplate());
  auto a = ca->IssueEkCertificate(ek, Identity());
  auto b = ca->IssueEkCertificate(ek, Identity());
  ASSERT_TRUE(a.ok() && b.ok());
  auto ca_a = ParseDer(*a);
  auto ca_b = ParseDer(*b);
  EXPECT_NE(
      ASN1_INTEGER_cmp(X509_get0_serialNumber(ca_a.get()), X509_get0_serialNumber(ca_b.get())), 0);
}

TEST(LocalCaTest, UnsupportedKeysAreInvalidArgument) {
  TempDir tmp;
  auto ca = LocalCa::Open(tmp.path());
  ASSERT_TRUE(ca.ok());
  wire::TpmtPublic rsa1024 = RsaEkTemplate();
  auto& rsa = std::get<wire::RsaDetail>(rsa1024.detail);
  rsa.key_bits = 1024;
  rsa.unique.assign(128, 0xC5);
  auto refused = ca->IssueEkCertificate(rsa1024, Identity());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);

  wire::TpmtPublic p384 = EccEkTemplate();
  auto& ecc = std::get<wire::EccDetail>(p384.detail);
  ecc.curve = TpmEccCurve::NistP384;
  auto refused_ecc = ca->IssueEkCertificate(p384, Identity());
  ASSERT_FALSE(refused_ecc.ok());
  EXPECT_EQ(refused_ecc.error().code(), StatusCode::kInvalidArgument);

  // A point that is not on the curve is not a key.
  wire::TpmtPublic bad_point = EccEkTemplate();
  auto& bad = std::get<wire::EccDetail>(bad_point.detail);
  bad.x.assign(32, 1);
  bad.y.assign(32, 2);
  auto refused_point = ca->IssueEkCertificate(bad_point, Identity());
  ASSERT_FALSE(refused_point.ok());
  EXPECT_EQ(refused_point.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tpm2emu::ekca
