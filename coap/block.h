// Block1/Block2 option values (RFC 7959 section 2.2) and BERT (RFC 8323
// section 6): NUM << 4 | M << 3 | SZX, block size 2^(SZX+4); SZX 7 is BERT,
// whose payload is any multiple of 1024 bytes and whose NUM counts 1024-byte
// units.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace coap {

struct BlockOption {
  uint32_t num = 0;
  bool more = false;
  uint8_t szx = 6;

  bool bert() const { return szx == 7; }
  // Unit of NUM, in bytes.
  std::size_t unit() const { return bert() ? 1024 : std::size_t{1} << (szx + 4); }
  std::size_t offset() const { return std::size_t{num} * unit(); }
  uint32_t encode() const { return (num << 4) | (more ? 8u : 0u) | szx; }

  // nullopt when NUM does not fit in 20 bits.
  static std::optional<BlockOption> decode(uint32_t v) {
    if (v > 0xffffff) return std::nullopt;
    return BlockOption{v >> 4, (v & 8) != 0, static_cast<uint8_t>(v & 7)};
  }
};

// Largest SZX (0..6) whose block size is <= bytes; 0 if bytes < 16.
inline uint8_t szx_for(std::size_t bytes) {
  uint8_t szx = 0;
  while (szx < 6 && (std::size_t{1} << (szx + 5)) <= bytes) ++szx;
  return szx;
}

}  // namespace coap
