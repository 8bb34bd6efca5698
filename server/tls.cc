#include "server/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/absl_compat.h"

namespace strata::server {
namespace {

// The first error OpenSSL queued on this thread, the most specific one ("No such file or
// directory" before "system lib"); the queue is emptied. `fallback` if there was none.
std::string TakeErrors(std::string_view fallback) {
  const unsigned long first = ERR_get_error();
  while (ERR_get_error() != 0) {
  }
  if (first == 0) return std::string(fallback);
  char text[256];
  ERR_error_string_n(first, text, sizeof(text));
  return text;
}

absl::Status Refused(std::string_view what, std::string_view fallback = "unknown error") {
  return absl::InvalidArgumentError(absl::StrCat(Absl(what), TakeErrors(fallback)));
}

// tls-key-file-pass for an encrypted key file.
int KeyPassword(char* buffer, int size, int, void* userdata) {
  const auto* password = static_cast<const std::string*>(userdata);
  if (password == nullptr || size <= 0) return 0;
  const int length = std::min(size - 1, static_cast<int>(password->size()));
  std::memcpy(buffer, password->data(), static_cast<size_t>(length));
  buffer[length] = '\0';
  return length;
}

// tls-protocols as Redis reads it: words among TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3, any case.
// The result is the SSL_OP_NO_* options for the versions not named.
absl::StatusOr<uint64_t> DisabledProtocols(std::string_view protocols) {
  bool v10 = false, v11 = false, v12 = false, v13 = false;
  if (protocols.find_first_not_of(' ') == std::string_view::npos) {
    v12 = v13 = true;
  } else {
    for (absl::string_view word : absl::StrSplit(Absl(protocols), ' ', absl::SkipEmpty())) {
      const std::string lower = absl::AsciiStrToLower(word);
      if (lower == "tlsv1") {
        v10 = true;
      } else if (lower == "tlsv1.1") {
        v11 = true;
      } else if (lower == "tlsv1.2") {
        v12 = true;
      } else if (lower == "tlsv1.3") {
        v13 = true;
      } else {
        return absl::InvalidArgumentError(
            "Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
      }
    }
  }
  uint64_t off = 0;
  if (!v10) off |= SSL_OP_NO_TLSv1;
  if (!v11) off |= SSL_OP_NO_TLSv1_1;
  if (!v12) off |= SSL_OP_NO_TLSv1_2;
  if (!v13) off |= SSL_OP_NO_TLSv1_3;
  return off;
}

// Builds a server context; Redis's messages for what is missing or refused.
absl::StatusOr<SSL_CTX*> BuildContext(const TlsSettings& settings) {
  if (settings.cert_file.empty()) return absl::InvalidArgumentError("No tls-cert-file configured!");
  if (settings.key_file.empty()) return absl::InvalidArgumentError("No tls-key-file configured!");
  if (settings.auth_clients != TlsSettings::ClientAuth::kNo && settings.ca_cert_file.empty() &&
      settings.ca_cert_dir.empty()) {
    return absl::InvalidArgumentError(
        "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or "
        "tls-auth-clients are enabled!");
  }
  absl::StatusOr<uint64_t> disabled = DisabledProtocols(settings.protocols);
  if (!disabled.ok()) return disabled.status();

  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Refused("Failed to create TLS context: ");
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> owned(ctx, SSL_CTX_free);

  // Renegotiation would let a client make a write wait for a read; compression invites CRIME.
  SSL_CTX_set_options(ctx, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE | *disabled);
  if (settings.prefer_server_ciphers) SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_dh_auto(ctx, 1);
  if (settings.session_caching) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, settings.session_cache_size);
    SSL_CTX_set_timeout(ctx, static_cast<long>(settings.session_cache_timeout));
    static constexpr unsigned char kSessionContext[] = "strata";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof(kSessionContext) - 1);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  }
  int verify = SSL_VERIFY_NONE;
  if (settings.auth_clients == TlsSettings::ClientAuth::kYes) verify = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  if (settings.auth_clients == TlsSettings::ClientAuth::kOptional) verify = SSL_VERIFY_PEER;
  SSL_CTX_set_verify(ctx, verify, nullptr);

  // The password callback reads `settings` only while the key is loaded, below.
  SSL_CTX_set_default_passwd_cb(ctx, KeyPassword);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&settings.key_file_pass));
  if (SSL_CTX_use_certificate_chain_file(ctx, settings.cert_file.c_str()) <= 0) {
    return Refused(absl::StrCat("Failed to load certificate: ", settings.cert_file, ": "));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, settings.key_file.c_str(), SSL_FILETYPE_PEM) <= 0) {
    return Refused(absl::StrCat("Failed to load private key: ", settings.key_file, ": "));
  }
  SSL_CTX_set_default_passwd_cb(ctx, nullptr);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (SSL_CTX_check_private_key(ctx) != 1) return Refused("The private key does not match the certificate: ");
  if (!settings.ca_cert_file.empty() || !settings.ca_cert_dir.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, settings.ca_cert_file.empty() ? nullptr : settings.ca_cert_file.c_str(),
                                      settings.ca_cert_dir.empty() ? nullptr : settings.ca_cert_dir.c_str()) != 1) {
      return Refused("Failed to configure CA certificate(s) file/directory: ");
    }
  }
  if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(ctx, settings.ciphers.c_str()) != 1) {
    return Refused("Failed to configure ciphers: ");
  }
  if (!settings.ciphersuites.empty() && SSL_CTX_set_ciphersuites(ctx, settings.ciphersuites.c_str()) != 1) {
    return Refused("Failed to configure ciphersuites: ");
  }
  return owned.release();
}

}  // namespace

TlsContextHolder::~TlsContextHolder() {
  if (context_ != nullptr) SSL_CTX_free(context_);
}

absl::Status TlsContextHolder::Configure(const TlsSettings& settings) {
  absl::StatusOr<SSL_CTX*> built = BuildContext(settings);
  if (!built.ok()) return built.status();
  SSL_CTX* previous;
  {
    absl::MutexLock lock(&mu_);
    previous = context_;
    context_ = *built;
  }
  // Sessions made from the previous context hold their own references to it.
  if (previous != nullptr) SSL_CTX_free(previous);
  return absl::OkStatus();
}

bool TlsContextHolder::configured() const {
  absl::MutexLock lock(&mu_);
  return context_ != nullptr;
}

SSL* TlsContextHolder::NewSession() {
  absl::MutexLock lock(&mu_);
  return context_ == nullptr ? nullptr : SSL_new(context_);
}

TlsSession::TlsSession(SSL* ssl) : ssl_(ssl) {
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  // An empty memory BIO must read as "retry later", not as the end of the stream.
  BIO_set_mem_eof_return(in_, -1);
  BIO_set_mem_eof_return(out_, -1);
  SSL_set_bio(ssl_, in_, out_);
  SSL_set_accept_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }  // frees the BIOs too

void TlsSession::Feed(const char* data, size_t length) {
  while (length > 0) {
    const int chunk = static_cast<int>(std::min<size_t>(length, INT_MAX));
    const int written = BIO_write(in_, data, chunk);
    if (written <= 0) return;  // only on allocation failure; the session then fails to read
    data += written;
    length -= static_cast<size_t>(written);
  }
}

long TlsSession::Read(char* buffer, size_t capacity) {
  ERR_clear_error();
  const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<size_t>(capacity, INT_MAX)));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return kNeedMore;
    case SSL_ERROR_ZERO_RETURN:
      return kClosed;
    default:
      TakeOpenSslError(handshake_done() ? "TLS read" : "TLS handshake");
      return kFailed;
  }
}

bool TlsSession::Seal(std::string* output) {
  if (!output->empty()) {
    ERR_clear_error();
    size_t written = 0;
    while (written < output->size()) {
      const int chunk = static_cast<int>(std::min<size_t>(output->size() - written, 1 << 30));
      const int n = SSL_write(ssl_, output->data() + written, chunk);
      if (n <= 0) {
        TakeOpenSslError("TLS write");
        return false;
      }
      written += static_cast<size_t>(n);
    }
  }
  const size_t pending = BIO_ctrl_pending(out_);
  output->resize(pending);
  size_t taken = 0;
  while (taken < pending) {
    const int n = BIO_read(out_, output->data() + taken, static_cast<int>(std::min<size_t>(pending - taken, INT_MAX)));
    if (n <= 0) break;
    taken += static_cast<size_t>(n);
  }
  output->resize(taken);
  return true;
}

bool TlsSession::handshake_done() const { return SSL_is_init_finished(ssl_) == 1; }

size_t TlsSession::pending_ciphertext() const { return BIO_ctrl_pending(out_); }

std::string TlsSession::Describe() const {
  return absl::StrCat(SSL_get_version(ssl_), " ", SSL_get_cipher_name(ssl_));
}

void TlsSession::TakeOpenSslError(std::string_view what) {
  error_ = absl::StrCat(Absl(what), ": ", TakeErrors("connection failed"));
}

}  // namespace strata::server
