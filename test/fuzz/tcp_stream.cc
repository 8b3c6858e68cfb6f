// Fuzz target tcp_stream: coap::FrameDecoder (RFC 8323 3.2 framing) on a byte
// stream cut into pieces at points the input chooses.
//
// Input: one byte choosing the decoder's maximum frame size, one byte with
// the number of pieces (bit 7: one byte at a time instead), that many piece
// lengths, then the stream; what the pieces leave over is the last piece.
//
// Checked against an independent walk over the frame headers:
//  - the same frames (message and size), in order, and the same first error,
//    whether the stream is fed at once or in pieces; each frame's bytes are
//    exactly its re-encoding (the length encoding is unique);
//  - an error is reported by the very piece that completes the bytes it
//    needs: for a frame over the limit, its header (Len/TKL and extended
//    length), with nothing of it buffered beyond that header;
//  - between pieces the decoder holds exactly the partial frame at the cut.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "coap/tcp_framing.h"
#include "test/fuzz/fuzz_util.h"

namespace coap::fuzz {
namespace {

constexpr std::size_t kLimits[] = {16,         64,      1152,
                                   65805 + 64, 1 << 20, std::numeric_limits<std::size_t>::max()};

struct Frame {
  OwnedMessage msg;
  std::size_t size;
  bool operator==(const Frame&) const = default;
};

// What the headers alone say about the stream.
struct Walk {
  std::vector<std::size_t> starts;  // of every frame begun, complete or not
  std::vector<std::size_t> sizes;   // of the complete ones
  FrameError error = FrameError::kNone;
  std::size_t error_at = 0;  // stream offset by which the error is known
  uint64_t announced = 0;    // frame size, for kTooLarge
};

Walk walk(std::span<const uint8_t> s, std::size_t limit) {
  Walk w;
  std::size_t pos = 0;
  while (pos < s.size()) {
    w.starts.push_back(pos);
    const uint8_t nibble = s[pos] >> 4, tkl = s[pos] & 15;
    if (tkl > 8) {
      w.error = FrameError::kBadTokenLength;
      w.error_at = pos + 1;
      break;
    }
    const std::size_t ext = nibble < 13 ? 0 : nibble == 13 ? 1 : nibble == 14 ? 2 : 4;
    if (pos + 1 + ext > s.size()) break;
    uint64_t body = nibble;
    if (ext) {
      uint64_t v = 0;
      for (std::size_t i = 1; i <= ext; ++i) v = v << 8 | s[pos + i];
      body = v + (ext == 1 ? 13 : ext == 2 ? 269 : 65805);
    }
    const uint64_t total = 1 + ext + 1 + tkl + body;
    if (total > limit) {
      w.error = FrameError::kTooLarge;
      w.error_at = pos + 1 + ext;
      w.announced = total;
      break;
    }
    if (pos + total > s.size()) break;
    w.sizes.push_back(static_cast<std::size_t>(total));
    pos += static_cast<std::size_t>(total);
  }
  return w;
}

struct Run {
  std::vector<Frame> frames;
  FrameError error = FrameError::kNone;
  uint64_t announced = 0;
};

FrameDecoder::FrameHandler collector(std::vector<Frame>& out) {
  return [&out](const Message& m, std::size_t size) {
    out.push_back({own(m), size});
    return true;
  };
}

// Feeds the whole stream at once; resolves what the walk cannot know (a
// frame whose options do not parse) into w.
Run all_at_once(std::span<const uint8_t> s, std::size_t limit, Walk& w) {
  Run r;
  FrameDecoder dec(limit);
  r.error = dec.feed(s, collector(r.frames), &r.announced);
  const std::size_t n = r.frames.size();
  if (r.error == FrameError::kBadMessage) {
    FUZZ_CHECK(n < w.sizes.size(), "kBadMessage after %zu frames, but only %zu are complete", n,
               w.sizes.size());
    w.error = FrameError::kBadMessage;
    w.error_at = w.starts[n] + w.sizes[n];
    w.sizes.resize(n);
  }
  FUZZ_CHECK(r.error == w.error, "error %d, the headers say %d", static_cast<int>(r.error),
             static_cast<int>(w.error));
  FUZZ_CHECK(n == w.sizes.size(), "%zu frames decoded, %zu complete", n, w.sizes.size());
  for (std::size_t i = 0; i < n; ++i) {
    FUZZ_CHECK(r.frames[i].size == w.sizes[i], "frame %zu: size %zu, header says %zu", i,
               r.frames[i].size, w.sizes[i]);
    const std::vector<uint8_t> again = encode_tcp(r.frames[i].msg);
    const auto orig = s.subspan(w.starts[i], w.sizes[i]);
    FUZZ_CHECK(std::equal(again.begin(), again.end(), orig.begin(), orig.end()),
               "frame %zu re-encodes differently: %s -> %s", i, hex(orig).c_str(),
               hex(again).c_str());
  }
  if (r.error == FrameError::kTooLarge)
    FUZZ_CHECK(r.announced == w.announced, "announced %llu, header says %llu",
               static_cast<unsigned long long>(r.announced),
               static_cast<unsigned long long>(w.announced));
  if (r.error == FrameError::kNone) {
    const std::size_t partial = w.starts.size() > n ? s.size() - w.starts[n] : 0;
    FUZZ_CHECK(dec.buffered() == partial, "holds %zu bytes, the partial frame has %zu",
               dec.buffered(), partial);
  }
  return r;
}

// Bytes of the frame under way at stream offset `at` (0 at a frame boundary),
// for offsets that never decrease: the cursor walks the frames once, so one
// byte per piece stays linear in the stream.
class PartialCursor {
 public:
  explicit PartialCursor(const Walk& w) : w_(w) {}
  std::size_t at(std::size_t off) {
    while (i_ < w_.sizes.size() && w_.starts[i_] + w_.sizes[i_] <= off) ++i_;
    return i_ < w_.starts.size() && w_.starts[i_] <= off ? off - w_.starts[i_] : 0;
  }

 private:
  const Walk& w_;
  std::size_t i_ = 0;
};

void in_pieces(std::span<const uint8_t> s, std::size_t limit, const std::vector<std::size_t>& cuts,
               const Walk& w, const Run& whole) {
  FrameDecoder dec(limit);
  std::vector<Frame> frames;
  const auto handler = collector(frames);
  PartialCursor partial(w);
  std::size_t a = 0;
  for (std::size_t i = 0; i <= cuts.size() && a <= s.size(); ++i) {
    const std::size_t b = i < cuts.size() ? std::min(s.size(), a + cuts[i]) : s.size();
    uint64_t announced = 0;
    const FrameError e = dec.feed(s.subspan(a, b - a), handler, &announced);
    const bool due = w.error != FrameError::kNone && a < w.error_at && w.error_at <= b;
    FUZZ_CHECK(e == (due ? w.error : FrameError::kNone),
               "piece [%zu,%zu): error %d, expected %d (known at offset %zu)", a, b,
               static_cast<int>(e), static_cast<int>(due ? w.error : FrameError::kNone),
               w.error_at);
    if (e != FrameError::kNone) {
      if (e == FrameError::kTooLarge) {
        FUZZ_CHECK(announced == whole.announced, "announced size differs in pieces");
        FUZZ_CHECK(dec.buffered() <= 5, "%zu bytes buffered of a frame over the limit",
                   dec.buffered());
      }
      break;
    }
    const std::size_t expected = partial.at(b);
    FUZZ_CHECK(dec.buffered() == expected, "after [%zu,%zu): holds %zu, partial is %zu", a, b,
               dec.buffered(), expected);
    if (b == s.size()) break;
    a = b;
  }
  FUZZ_CHECK(frames == whole.frames, "%zu frames in pieces, %zu at once", frames.size(),
             whole.frames.size());
}

}  // namespace
}  // namespace coap::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace coap::fuzz;
  Reader in({data, size});
  const std::size_t limit = in.pick(kLimits);
  const uint8_t spec = in.u8();
  std::vector<std::size_t> cuts;
  for (std::size_t i = 0, n = spec % 33; i < n; ++i) cuts.push_back(in.u8());
  const std::span<const uint8_t> stream = in.rest();
  if (spec & 0x80) cuts.assign(stream.size(), 1);

  Walk w = walk(stream, limit);
  const Run whole = all_at_once(stream, limit, w);
  in_pieces(stream, limit, cuts, w, whole);
  return 0;
}
