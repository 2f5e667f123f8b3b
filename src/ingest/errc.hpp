#pragma once
// What every decoder of this module shares in its interface: the error codes of its Results and
// the block size its file readers use. In a header of its own so that one decoder's header need
// not include another's.
#include <cstddef>

namespace strata::ingest {

// Error codes of the ingest module (Error::code of the decoders' Results).
enum class errc {
  syntax = 1,  // the text does not follow the format
  bad_header,  // CSV: the header row is missing or unusable (the whole file is refused)
  io,          // a file could not be opened or read
};

// Block size of the file helpers: large enough to amortise the reads, small enough for the cache.
inline constexpr std::size_t kImportBlockBytes = std::size_t{4} << 20;

}  // namespace strata::ingest
