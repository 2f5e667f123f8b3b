#include "govern/secrets.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace strata::govern {

bool secrets_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string new_token(std::string_view prefix) {
  secrets_ready();
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof raw);
  return std::string(prefix) + b64;
}

std::string token_hash(std::string_view token) {
  unsigned char h[32];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(token.data()),
                     token.size(), nullptr, 0);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, h, sizeof h);
  return hex;
}

Result<std::string> password_hash(std::string_view password) {
  if (!secrets_ready()) return Error::of(errc::crypto, "libsodium failed to initialise");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    return Error::of(errc::crypto, "password hashing ran out of memory");
  return std::string(out);
}

bool password_matches(const std::string& hash, std::string_view password) {
  return secrets_ready() &&
         crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<Pseudonymiser> Pseudonymiser::from_key_file(const std::filesystem::path& file) {
  std::array<std::uint8_t, 32> key{};
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    const ssize_t n = ::read(fd, key.data(), key.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(key.size()))
      return Error::of(errc::io, "pseudonymisation key " + file.string() +
                                     " is not 32 bytes; restore it from a backup (a new key "
                                     "would change every pseudonym)");
    return Pseudonymiser(key);
  }
  if (!secrets_ready()) return Error::of(errc::crypto, "libsodium failed to initialise");
  randombytes_buf(key.data(), key.size());
  fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return Error::of(errc::io, "cannot create " + file.string() + ": " + std::strerror(errno));
  const bool written =
      ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return Error::of(errc::io, "cannot write " + file.string());
  return Pseudonymiser(key);
}

double Pseudonymiser::pseudonym(std::string_view value) const {
  unsigned char h[8];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(value.data()),
                     value.size(), key_.data(), key_.size());
  std::uint64_t v = 0;
  for (unsigned char b : h) v = (v << 8) | b;
  return static_cast<double>(v >> 16);
}

}  // namespace strata::govern
