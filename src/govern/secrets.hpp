#pragma once
// Secrets: how Strata makes and keeps credentials (libsodium). Access tokens are 256 random bits,
// so a fast keyless hash (BLAKE2b-256) is the right thing to keep at rest: it cannot be inverted
// and lets a token be found by its hash in one lookup. Passwords people choose (device secrets)
// are low-entropy and get Argon2id instead. Personal values (an operator's badge) are replaced at
// ingestion by a keyed hash, so the same badge always maps to the same pseudonym and nobody
// without the key can tell whose it is.
#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace strata::govern {

enum class errc { io = 1, crypto, invalid_argument, not_found, conflict };

// Initialises libsodium (idempotent); false when the library cannot start.
bool secrets_ready();

// A new token: `prefix` + 43 base64url characters (32 random bytes), e.g. "stk_…" for users and
// "dvt_…" for devices.
std::string new_token(std::string_view prefix);
// The hex BLAKE2b-256 of a token: what is stored and looked up.
std::string token_hash(std::string_view token);

// Argon2id (libsodium's interactive limits) of a password, and its check.
Result<std::string> password_hash(std::string_view password);
bool password_matches(const std::string& hash, std::string_view password);

// Keyed BLAKE2b of personal values; the key lives in a 0600 file under the data directory.
class Pseudonymiser {
 public:
  // Reads the key file, creating it with a random key when absent.
  static Result<Pseudonymiser> from_key_file(const std::filesystem::path& file);
  explicit Pseudonymiser(const std::array<std::uint8_t, 32>& key) : key_(key) {}
  // A stable pseudonym as a number a double holds exactly (48 bits), so it is a series value.
  [[nodiscard]] double pseudonym(std::string_view value) const;

 private:
  std::array<std::uint8_t, 32> key_;
};

}  // namespace strata::govern
