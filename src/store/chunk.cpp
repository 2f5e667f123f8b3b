#include "store/chunk.hpp"

#include <cstring>
#include <numeric>

#include "core/crc32c.hpp"

namespace strata::store {
namespace {

enum TimestampMode : std::uint8_t { kDeltaOfDelta = 0, kDeltaFromBase = 1 };

// Timestamps after t0, in units of the deltas' greatest common divisor (a minute-aligned series
// pays nothing for its zero microseconds), as the smaller of delta-of-delta or delta-from-base.
void encode_timestamps(std::span<const Sample> samples, std::vector<std::uint8_t>& out) {
  std::int64_t unit = 0;
  std::int64_t base = kMaxTimestamp;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const std::int64_t d = samples[i].ts - samples[i - 1].ts;
    unit = std::gcd(unit, d);
    base = std::min(base, d);
  }
  base /= unit;
  std::vector<std::uint64_t> dods(samples.size() - 2);
  std::vector<std::uint64_t> deltas(samples.size() - 1);
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const std::int64_t d = (samples[i].ts - samples[i - 1].ts) / unit;
    deltas[i - 1] = static_cast<std::uint64_t>(d - base);
    if (i >= 2) dods[i - 2] = zigzag(d - (samples[i - 1].ts - samples[i - 2].ts) / unit);
  }
  ByteWriter w(out);
  w.varint(static_cast<std::uint64_t>(unit));
  const ResidualPlan by_dod = plan_residuals(dods);
  const ResidualPlan by_delta = plan_residuals(deltas);
  if (by_dod.bits <= by_delta.bits) {
    w.u8(kDeltaOfDelta);
    w.varint(static_cast<std::uint64_t>((samples[1].ts - samples[0].ts) / unit));
    encode_residuals(dods, by_dod, out);
  } else {
    w.u8(kDeltaFromBase);
    w.varint(static_cast<std::uint64_t>(base));
    encode_residuals(deltas, by_delta, out);
  }
}

}  // namespace

std::vector<std::uint8_t> encode_chunk(std::span<const Sample> samples) {
  std::vector<std::uint8_t> out;
  out.reserve(samples.size() * 2 + 64);
  ByteWriter w(out);
  w.u8(kChunkMagic);
  w.u8(kChunkFormat);
  const std::size_t codec_at = out.size();
  w.u8(0);
  w.u8(0);
  w.varint(samples.size());
  w.svarint(samples[0].ts);
  if (samples.size() >= 2) encode_timestamps(samples, out);
  std::vector<double> values(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) values[i] = samples[i].value;
  // Values: the smallest of the codecs that apply. A dictionary must beat the decimal codec by a
  // 32nd, as decimal chunks aggregate on integers (the faster query path).
  const std::size_t values_at = out.size();
  ValueCodec codec = ValueCodec::decimal;
  if (!encode_decimal(values, out)) codec = ValueCodec::gorilla;
  auto adopt = [&](const std::vector<std::uint8_t>& payload, ValueCodec c) {
    out.resize(values_at);
    out.insert(out.end(), payload.begin(), payload.end());
    codec = c;
  };
  std::vector<std::uint8_t> other;
  const std::size_t to_beat =  // without a decimal encoding, anything is worth pricing
      codec == ValueCodec::gorilla ? samples.size() * 16 : out.size() - values_at;
  if (encode_dictionary(values, to_beat, other) &&
      (codec == ValueCodec::gorilla || other.size() + (other.size() >> 5) < out.size() - values_at))
    adopt(other, ValueCodec::dictionary);
  // Gorilla spends at least a bit a value: below that it cannot win.
  if (codec == ValueCodec::gorilla || out.size() - values_at > samples.size() / 8) {
    other.clear();
    encode_gorilla(values, other);
    if (codec == ValueCodec::gorilla || other.size() < out.size() - values_at)
      adopt(other, ValueCodec::gorilla);
  }
  out[codec_at] = static_cast<std::uint8_t>(codec);
  w.u32(crc32c(out.data(), out.size()));
  return out;
}

bool chunk_checksum_ok(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 9) return false;
  std::uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  return crc32c(bytes.data(), bytes.size() - 4) == stored;
}

Result<std::unique_ptr<ChunkDecoder>> ChunkDecoder::open(std::span<const std::uint8_t> bytes,
                                                         bool verify_crc) {
  auto corrupt = [](const char* what) {
    return Error::of(chunk_errc::corrupt, std::string("chunk: ") + what);
  };
  if (bytes.size() < 9) return corrupt("too short");
  if (verify_crc && !chunk_checksum_ok(bytes)) return corrupt("checksum mismatch");
  ByteReader in(bytes.first(bytes.size() - 4));
  if (in.u8() != kChunkMagic) return corrupt("bad magic");
  if (in.u8() != kChunkFormat) return corrupt("unknown format version");
  const std::uint8_t codec = in.u8();
  in.u8();
  std::unique_ptr<ChunkDecoder> d(new ChunkDecoder);  // default-initialised: no 48 KB memset
  d->count_ = in.varint();
  if (d->count_ == 0 || d->count_ > kMaxChunkPoints) return corrupt("bad count");
  d->ts_ = in.svarint();
  if (d->count_ >= 2) {
    d->unit_ = static_cast<std::int64_t>(in.varint());
    d->ts_mode_ = in.u8();
    d->delta_ = static_cast<std::int64_t>(in.varint());  // the first delta, or the base
    if (d->unit_ <= 0 || d->ts_mode_ > 1 || d->delta_ < 0 || d->delta_ > kMaxTimestamp / d->unit_)
      return corrupt("bad timestamp header");
    if (!d->dods_.open(in)) return corrupt("bad timestamp block");
  }
  if (codec == static_cast<std::uint8_t>(ValueCodec::decimal)) {
    d->codec_ = ValueCodec::decimal;
    if (!d->decimal_.open(in, d->count_)) return corrupt("bad decimal block");
  } else if (codec == static_cast<std::uint8_t>(ValueCodec::gorilla)) {
    d->codec_ = ValueCodec::gorilla;
    if (!d->gorilla_.open(in, d->count_)) return corrupt("bad gorilla block");
  } else if (codec == static_cast<std::uint8_t>(ValueCodec::dictionary)) {
    d->codec_ = ValueCodec::dictionary;
    if (!d->dictionary_.open(in, d->count_)) return corrupt("bad dictionary block");
  } else {
    return corrupt("unknown value codec");
  }
  if (in.failed()) return corrupt("truncated");
  return d;
}

std::size_t ChunkDecoder::timestamps(Timestamp* out, std::size_t max) {
  const std::size_t n = std::min(max, count_ - index_);
  std::size_t i = 0;
  if (n == 0 || failed_) return 0;
  Timestamp ts = ts_;
  if (regular()) {
    // Every delta is the first one; a null `out` only moves on (see regular()).
    if (index_ == 0) {
      if (out) out[0] = ts;
      i = 1;
    }
    const std::int64_t step = delta_;
    const std::uint64_t room =
        static_cast<std::uint64_t>(kMaxTimestamp) - static_cast<std::uint64_t>(ts);
    // n − i steps remain (none for a single sample, whose delta is never stored).
    if (i < n && (step <= 0 || step > kMaxTimestamp / unit_ ||
                  static_cast<std::uint64_t>(step * unit_) > room / (n - i))) {
      failed_ = true;
      return 0;
    }
    if (out) {
      for (std::size_t k = i; k < n; ++k)
        out[k] = ts + static_cast<Timestamp>(k - i + 1) * (step * unit_);
    }
    ts_ = ts + static_cast<Timestamp>(n - i) * (step * unit_);
    return n;
  }
  const std::size_t at = index_;
  if (index_ == 0) out[i++] = ts;
  for (; i < n; ++i) {
    // Wrapping arithmetic, then range checks: corrupt input must not be undefined behaviour.
    std::uint64_t d;
    if (ts_mode_ == 0) {
      d = at + i == 1 ? static_cast<std::uint64_t>(delta_)
                      : static_cast<std::uint64_t>(delta_) +
                            static_cast<std::uint64_t>(unzigzag(dods_.next()));
      delta_ = static_cast<std::int64_t>(d);
    } else {
      d = static_cast<std::uint64_t>(delta_) + dods_.next();
    }
    const auto units = static_cast<std::int64_t>(d);
    if (units <= 0 || units > kMaxTimestamp / unit_ || ts > kMaxTimestamp - units * unit_) {
      failed_ = true;
      return 0;
    }
    out[i] = ts += units * unit_;
  }
  ts_ = ts;
  return n;
}

std::size_t ChunkDecoder::next_block(Timestamp* ts, double* values, std::size_t max) {
  const std::size_t n = timestamps(ts, max);
  if (n == 0) return 0;
  if (codec_ == ValueCodec::decimal) {
    decimal_.values(values, n);
  } else if (codec_ == ValueCodec::dictionary) {
    dictionary_.values(values, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) values[i] = gorilla_.next();
  }
  index_ += n;
  if (failed()) {
    failed_ = true;
    return 0;
  }
  return n;
}

std::size_t ChunkDecoder::next_block_mantissas(Timestamp* ts, std::int64_t* mantissas,
                                               std::size_t max) {
  const std::size_t n = timestamps(ts, max);
  if (n == 0) return 0;
  decimal_.mantissas(mantissas, n);
  index_ += n;
  if (failed()) {
    failed_ = true;
    return 0;
  }
  return n;
}

std::size_t ChunkDecoder::next(Sample* out, std::size_t max) {
  Timestamp ts[256];
  double v[256];
  std::size_t total = 0;
  while (total < max) {
    const std::size_t n = next_block(ts, v, std::min<std::size_t>(256, max - total));
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) out[total + i] = Sample{ts[i], v[i]};
    total += n;
  }
  return total;
}

bool ChunkDecoder::failed() const {
  if (failed_ || dods_.failed()) return true;
  switch (codec_) {
    case ValueCodec::decimal:
      return decimal_.failed();
    case ValueCodec::gorilla:
      return gorilla_.failed();
    case ValueCodec::dictionary:
      return dictionary_.failed();
  }
  return true;
}

Result<std::vector<Sample>> decode_chunk(std::span<const std::uint8_t> bytes) {
  auto d = ChunkDecoder::open(bytes);
  if (!d) return d.error();
  std::vector<Sample> out((*d)->count());
  std::size_t got = 0;
  while (got < out.size()) {
    const std::size_t n = (*d)->next(out.data() + got, out.size() - got);
    if (n == 0) break;
    got += n;
  }
  if (got != out.size() || (*d)->failed())
    return Error::of(chunk_errc::corrupt, "chunk: corrupt payload");
  return out;
}

}  // namespace strata::store
