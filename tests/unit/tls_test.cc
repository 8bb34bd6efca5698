// TlsContextHolder and TlsSession (server/tls.h): a server session driven only through Feed, Read
// and Seal, against an OpenSSL client over memory BIOs, the way a Connection drives it with
// libuv's bytes.
#include "server/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace strata::server {
namespace {

// A self-signed certificate and its key, written as PEM files in a fresh directory.
struct CertificateFiles {
  std::string cert;
  std::string key;
};

CertificateFiles MakeCertificate(const std::string& dir, const std::string& name, long serial) {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* subject = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509_sign(cert, key, EVP_sha256());
  CertificateFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  FILE* f = fopen(files.cert.c_str(), "w");
  PEM_write_X509(f, cert);
  fclose(f);
  f = fopen(files.key.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  fclose(f);
  X509_free(cert);
  EVP_PKEY_free(key);
  return files;
}

// An OpenSSL client whose network is two memory BIOs, pumped by hand to and from a TlsSession.
class Client {
 public:
  Client() : ctx_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    ssl_ = SSL_new(ctx_);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    BIO_set_mem_eof_return(out_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_connect_state(ssl_);
  }
  ~Client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  SSL* ssl() { return ssl_; }
  std::string TakeOutput() {
    std::string bytes(BIO_ctrl_pending(out_), '\0');
    if (!bytes.empty()) BIO_read(out_, bytes.data(), static_cast<int>(bytes.size()));
    return bytes;
  }
  void Give(const std::string& bytes) {
    if (!bytes.empty()) BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
  }
  void Write(const std::string& plaintext) { ASSERT_EQ(SSL_write(ssl_, plaintext.data(), static_cast<int>(plaintext.size())), static_cast<int>(plaintext.size())); }
  std::string ReadAll() {
    std::string got;
    char buffer[16384];
    int n;
    while ((n = SSL_read(ssl_, buffer, sizeof(buffer))) > 0) got.append(buffer, static_cast<size_t>(n));
    return got;
  }

 private:
  SSL_CTX* ctx_;
  SSL* ssl_;
  BIO* in_;
  BIO* out_;
};

// Everything the session decrypts from what it was fed, as a Connection's read loop takes it.
std::string ReadPlaintext(TlsSession& session, long* last = nullptr) {
  std::string got;
  char buffer[4096];  // smaller than a record: Read is called again for the rest
  long n;
  while ((n = session.Read(buffer, sizeof(buffer))) > 0) got.append(buffer, static_cast<size_t>(n));
  if (last != nullptr) *last = n;
  return got;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("strata-tls-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    first_ = MakeCertificate(dir_, "first", 1);
    second_ = MakeCertificate(dir_, "second", 2);
    settings_.cert_file = first_.cert;
    settings_.key_file = first_.key;
    settings_.auth_clients = TlsSettings::ClientAuth::kNo;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Drives the handshake between `client` and `server` until both are done.
  static void Connect(Client& client, TlsSession& server) {
    for (int round = 0; round < 10 && !(SSL_is_init_finished(client.ssl()) && server.handshake_done()); ++round) {
      SSL_do_handshake(client.ssl());
      const std::string hello = client.TakeOutput();
      server.Feed(hello.data(), hello.size());
      long last;
      EXPECT_EQ(ReadPlaintext(server, &last), "");
      ASSERT_EQ(last, TlsSession::kNeedMore) << server.error();
      std::string reply;
      ASSERT_TRUE(server.Seal(&reply));
      client.Give(reply);
    }
    ASSERT_TRUE(SSL_is_init_finished(client.ssl()));
    ASSERT_TRUE(server.handshake_done());
  }

  static std::string PeerCommonName(Client& client) {
    X509* cert = SSL_get1_peer_certificate(client.ssl());
    char name[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name, sizeof(name));
    X509_free(cert);
    return name;
  }

  std::filesystem::path dir_;
  CertificateFiles first_, second_;
  TlsSettings settings_;
};

TEST_F(TlsTest, ASessionCarriesDataBothWaysThroughMemoryBuffersOnly) {
  TlsContextHolder holder;
  ASSERT_TRUE(holder.Configure(settings_).ok());
  Client client;
  TlsSession server(holder.NewSession());
  Connect(client, server);
  EXPECT_EQ(PeerCommonName(client), "first");

  client.Write("*1\r\n$4\r\nPING\r\n");
  const std::string request = client.TakeOutput();
  // Ciphertext may arrive in pieces: a partial record yields nothing until the rest comes.
  server.Feed(request.data(), 5);
  EXPECT_EQ(ReadPlaintext(server), "");
  server.Feed(request.data() + 5, request.size() - 5);
  EXPECT_EQ(ReadPlaintext(server), "*1\r\n$4\r\nPING\r\n");

  std::string output = "+PONG\r\n";
  ASSERT_TRUE(server.Seal(&output));
  EXPECT_EQ(output.find("PONG"), std::string::npos) << "Seal replaces the plaintext with ciphertext";
  client.Give(output);
  EXPECT_EQ(client.ReadAll(), "+PONG\r\n");
}

TEST_F(TlsTest, ALargeReplySpansManyRecordsAndArrivesWhole) {
  TlsContextHolder holder;
  ASSERT_TRUE(holder.Configure(settings_).ok());
  Client client;
  TlsSession server(holder.NewSession());
  Connect(client, server);
  std::string big(3 * 1024 * 1024 + 17, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  std::string output = big;
  ASSERT_TRUE(server.Seal(&output));
  client.Give(output);
  EXPECT_EQ(client.ReadAll(), big);
}

TEST_F(TlsTest, PlainTextOnTheTlsPortFailsTheSessionWithAReason) {
  TlsContextHolder holder;
  ASSERT_TRUE(holder.Configure(settings_).ok());
  TlsSession server(holder.NewSession());
  const std::string plain = "*1\r\n$4\r\nPING\r\n";
  server.Feed(plain.data(), plain.size());
  long last;
  EXPECT_EQ(ReadPlaintext(server, &last), "");
  EXPECT_EQ(last, TlsSession::kFailed);
  EXPECT_NE(server.error().find("TLS handshake"), std::string::npos) << server.error();
}

TEST_F(TlsTest, ThePeersCloseNotifyEndsTheSession) {
  TlsContextHolder holder;
  ASSERT_TRUE(holder.Configure(settings_).ok());
  Client client;
  TlsSession server(holder.NewSession());
  Connect(client, server);
  SSL_shutdown(client.ssl());
  const std::string bye = client.TakeOutput();
  server.Feed(bye.data(), bye.size());
  long last;
  ReadPlaintext(server, &last);
  EXPECT_EQ(last, TlsSession::kClosed);
}

TEST_F(TlsTest, AReloadServesNewSessionsWhileOldOnesKeepTheirCertificate) {
  TlsContextHolder holder;
  ASSERT_TRUE(holder.Configure(settings_).ok());
  Client old_client;
  TlsSession old_session(holder.NewSession());
  Connect(old_client, old_session);

  TlsSettings renewed = settings_;
  renewed.cert_file = second_.cert;
  renewed.key_file = second_.key;
  ASSERT_TRUE(holder.Configure(renewed).ok());
  Client new_client;
  TlsSession new_session(holder.NewSession());
  Connect(new_client, new_session);
  EXPECT_EQ(PeerCommonName(new_client), "second");

  std::string output = "+STILL\r\n";
  ASSERT_TRUE(old_session.Seal(&output));
  old_client.Give(output);
  EXPECT_EQ(old_client.ReadAll(), "+STILL\r\n");
  EXPECT_EQ(PeerCommonName(old_client), "first");
}

TEST_F(TlsTest, ARefusedConfigurationKeepsThePreviousContext) {
  TlsContextHolder holder;
  EXPECT_FALSE(holder.configured());
  EXPECT_EQ(holder.NewSession(), nullptr);
  ASSERT_TRUE(holder.Configure(settings_).ok());

  TlsSettings bad = settings_;
  bad.key_file = second_.key;  // not the certificate's key
  absl::Status status = holder.Configure(bad);
  EXPECT_FALSE(status.ok());
  // OpenSSL finds the mismatch as it loads the key.
  EXPECT_NE(status.message().find("key values mismatch"), absl::string_view::npos) << status.message();

  bad = settings_;
  bad.cert_file = (dir_ / "missing.crt").string();
  status = holder.Configure(bad);
  EXPECT_NE(status.message().find("No such file"), absl::string_view::npos) << status.message();

  bad = settings_;
  bad.protocols = "TLSv1.2 SSLv3";
  EXPECT_EQ(holder.Configure(bad).message(),
            "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");

  bad = settings_;
  bad.auth_clients = TlsSettings::ClientAuth::kYes;  // and no CA
  EXPECT_NE(holder.Configure(bad).message().find("tls-ca-cert-file or tls-ca-cert-dir"), absl::string_view::npos);

  ASSERT_TRUE(holder.configured());
  Client client;
  TlsSession server(holder.NewSession());
  Connect(client, server);
  EXPECT_EQ(PeerCommonName(client), "first");
}

TEST_F(TlsTest, TlsProtocolsLimitsTheVersionsOffered) {
  settings_.protocols = "tlsv1.3";
  TlsContextHolder holder;
  ASSERT_TRUE(holder.Configure(settings_).ok());
  Client client;
  SSL_set_max_proto_version(client.ssl(), TLS1_2_VERSION);
  TlsSession server(holder.NewSession());
  SSL_do_handshake(client.ssl());
  const std::string hello = client.TakeOutput();
  server.Feed(hello.data(), hello.size());
  long last;
  ReadPlaintext(server, &last);
  EXPECT_EQ(last, TlsSession::kFailed);
  EXPECT_NE(server.error().find("protocol"), std::string::npos) << server.error();
}

}  // namespace
}  // namespace strata::server
