// TLS for client connections (issue 14): the server's OpenSSL context, built from the tls-*
// settings and replaceable at run time, and one session per TLS connection that encrypts and
// decrypts through memory BIOs.
//
// Contract: OpenSSL never touches a socket. The connection reads ciphertext with libuv, hands it
// to Feed(), takes plaintext from Read(), and before each socket write Seal() turns its pending
// plaintext into ciphertext (with whatever handshake records OpenSSL queued). So an I/O thread
// never blocks in OpenSSL, and a handshake cut mid-way costs only its own connection.
// TlsContextHolder may be reconfigured from any thread; a session keeps the context it was made
// from (OpenSSL counts the references), so a reload affects new connections only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace strata::server {

// The tls-* directives, as Redis names them.
struct TlsSettings {
  enum class ClientAuth { kNo, kYes, kOptional };
  std::string cert_file;
  std::string key_file;
  std::string key_file_pass;
  std::string ca_cert_file;
  std::string ca_cert_dir;
  ClientAuth auth_clients = ClientAuth::kYes;
  std::string protocols;     // "TLSv1.2 TLSv1.3" (empty: those two)
  std::string ciphers;       // TLSv1.2 and below (OpenSSL's cipher list syntax)
  std::string ciphersuites;  // TLSv1.3
  bool prefer_server_ciphers = false;
  bool session_caching = true;
  int64_t session_cache_size = 20480;
  int64_t session_cache_timeout = 300;
};

// The context new TLS connections are made from.
class TlsContextHolder {
 public:
  TlsContextHolder() = default;
  ~TlsContextHolder();
  TlsContextHolder(const TlsContextHolder&) = delete;
  TlsContextHolder& operator=(const TlsContextHolder&) = delete;

  // Builds a context from `settings` (certificate, key, CA, protocols...) and makes it the one new
  // sessions use. On error the previous context stays, and the status says what OpenSSL refused.
  absl::Status Configure(const TlsSettings& settings);
  bool configured() const;
  // A new server-side session from the current context; nullptr if there is none.
  SSL* NewSession();

 private:
  mutable absl::Mutex mu_;
  SSL_CTX* context_ = nullptr;  // under mu_
};

// One connection's TLS state (its I/O thread only).
class TlsSession {
 public:
  // Takes ownership of `ssl` (from TlsContextHolder::NewSession).
  explicit TlsSession(SSL* ssl);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  // Ciphertext read from the socket.
  void Feed(const char* data, size_t length);
  // Plaintext into `buffer`: the number of bytes (> 0), kNeedMore when OpenSSL needs more
  // ciphertext first (the handshake included), kClosed when the peer sent close_notify, kFailed
  // on a protocol error (error() says which).
  static constexpr long kNeedMore = 0;
  static constexpr long kClosed = -1;
  static constexpr long kFailed = -2;
  long Read(char* buffer, size_t capacity);
  // Replaces the plaintext in `output` with its ciphertext, preceded by any records OpenSSL has
  // queued (handshake, session tickets, alerts). `output` may be empty on entry and non-empty on
  // return. False on an error (error() says which).
  bool Seal(std::string* output);
  bool handshake_done() const;
  // Ciphertext OpenSSL has queued that no Seal has taken yet (records it wrote while reading).
  size_t pending_ciphertext() const;
  const std::string& error() const { return error_; }
  // The negotiated protocol and cipher ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), for logs.
  std::string Describe() const;

 private:
  void TakeOpenSslError(std::string_view what);

  SSL* ssl_;
  BIO* in_;   // ciphertext from the peer; owned by ssl_
  BIO* out_;  // ciphertext to the peer; owned by ssl_
  std::string error_;
};

}  // namespace strata::server
