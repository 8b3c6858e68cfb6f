#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "daemon/coapctl/format.h"
#include "daemon/control/codec.h"
#include "daemon/control/line_reader.h"
#include "daemon/control/protocol.h"

namespace control {
namespace {

using coapctl::format_event_line;

std::vector<uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string encode(std::string_view s) {
  auto b = bytes(s);
  return base64_encode(b);
}

TEST(Base64, EncodesRfc4648TestVectors) {
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg==");
  EXPECT_EQ(encode("fo"), "Zm8=");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foob"), "Zm9vYg==");
  EXPECT_EQ(encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, DecodesRfc4648TestVectors) {
  EXPECT_EQ(base64_decode(""), bytes(""));
  EXPECT_EQ(base64_decode("Zg=="), bytes("f"));
  EXPECT_EQ(base64_decode("Zm8="), bytes("fo"));
  EXPECT_EQ(base64_decode("Zm9v"), bytes("foo"));
  EXPECT_EQ(base64_decode("Zm9vYg=="), bytes("foob"));
  EXPECT_EQ(base64_decode("Zm9vYmE="), bytes("fooba"));
  EXPECT_EQ(base64_decode("Zm9vYmFy"), bytes("foobar"));
}

TEST(Base64, UsesTheStandardAlphabetNotUrlSafe) {
  std::vector<uint8_t> data = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(data), "+/+/");
  EXPECT_EQ(base64_decode("+/+/"), data);
  EXPECT_EQ(base64_decode("-_-_"), std::nullopt);
}

TEST(Base64, RoundTripsEveryLengthAndByteValue) {
  std::mt19937 rng(42);
  for (std::size_t len = 0; len < 300; ++len) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    std::string text = base64_encode(data);
    EXPECT_EQ(text.size() % 4, 0u);
    auto back = base64_decode(text);
    ASSERT_TRUE(back.has_value()) << "length " << len;
    EXPECT_EQ(*back, data);
  }
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(base64_decode(base64_encode(all)), all);
}

TEST(Base64, RejectsInvalidInput) {
  const char* invalid[] = {
      "Z",         // length not a multiple of 4
      "Zg=",       //
      "Zm9vY",     //
      "Zg",        // unpadded
      "Zm9vYg",    //
      "Zg==Zg==",  // padding in the middle
      "Z===",      // too much padding
      "====",      //
      "=Zg=",      // padding first
      "Zm=v",      // data after padding
      "Zm9v\n",    // whitespace
      "Zm 9",      //
      "Zm9*",      // outside the alphabet
      "Zh==",      // non-zero bits under the padding ("Zg==" is canonical)
      "Zm9=",      // ("Zm8=" is canonical)
      "Zm\x80v",   // high byte
  };
  for (const char* text : invalid) EXPECT_EQ(base64_decode(text), std::nullopt) << text;
  EXPECT_EQ(base64_decode(std::string_view("Zm\0v", 4)), std::nullopt);
}

TEST(Hex, EncodesLowercaseWithoutSeparators) {
  std::vector<uint8_t> data = {0x00, 0x0a, 0xbc, 0xff};
  EXPECT_EQ(hex_encode(data), "000abcff");
  EXPECT_EQ(hex_encode({}), "");
}

TEST(FormatEventLine, PrintsAllFields) {
  auto event = nlohmann::json::parse(
      R"({"time":"2024-05-01T10:00:00Z","event":"reconnecting","session_id":3,
          "peer":"192.0.2.1:5683","reason":"connection refused","attempt":2})");
  EXPECT_EQ(format_event_line(event),
            "2024-05-01T10:00:00Z reconnecting session=3 peer=192.0.2.1:5683 "
            "reason=connection refused attempt=2");
}

TEST(FormatEventLine, OmitsAbsentOptionalFieldsAndDashesMissingOnes) {
  auto event = nlohmann::json::parse(
      R"({"time":"2024-05-01T10:00:00Z","event":"opened","session_id":1,"peer":"[2001:db8::1]:5683"})");
  EXPECT_EQ(format_event_line(event),
            "2024-05-01T10:00:00Z opened session=1 peer=[2001:db8::1]:5683");
  EXPECT_EQ(format_event_line(nlohmann::json::object()), "- - session=- peer=-");
  EXPECT_EQ(format_event_line({{"time", "t"}, {"event", "e"}, {"session_id", 0}, {"peer", ""}}),
            "t e session=0 peer=-");
}

TEST(LineReader, SplitsLinesAcrossFeeds) {
  LineReader reader;
  EXPECT_TRUE(reader.feed("{\"a\":"));
  EXPECT_EQ(reader.next_line(), std::nullopt);
  EXPECT_TRUE(reader.feed("1}\n{\"b\":2}\r\n{\"c\""));
  EXPECT_EQ(reader.next_line(), "{\"a\":1}");
  EXPECT_EQ(reader.next_line(), "{\"b\":2}");
  EXPECT_EQ(reader.next_line(), std::nullopt);
  EXPECT_EQ(reader.pending_bytes(), 4u);
  EXPECT_TRUE(reader.feed(":3}\n\n"));
  EXPECT_EQ(reader.next_line(), "{\"c\":3}");
  EXPECT_EQ(reader.next_line(), "");
  EXPECT_EQ(reader.next_line(), std::nullopt);
  EXPECT_EQ(reader.pending_bytes(), 0u);
}

TEST(LineReader, ManySmallFeedsKeepOrder) {
  LineReader reader;
  std::string stream;
  for (int i = 0; i < 1000; ++i) stream += std::to_string(i) + "\n";
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < stream.size(); i += 7) {
    ASSERT_TRUE(reader.feed(std::string_view(stream).substr(i, 7)));
    while (auto line = reader.next_line()) lines.push_back(*line);
  }
  ASSERT_EQ(lines.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(lines[i], std::to_string(i));
}

TEST(LineReader, RejectsAnOverlongLine) {
  LineReader reader;
  std::string chunk(64 * 1024, 'x');
  bool ok = true;
  std::size_t fed = 0;
  while (ok && fed <= kMaxLineBytes) {
    ok = reader.feed(chunk);
    fed += chunk.size();
  }
  EXPECT_FALSE(ok);
  EXPECT_GT(fed, kMaxLineBytes);
}

TEST(LineReader, LongLinesUnderTheLimitAreFine) {
  LineReader reader;
  std::string line(kMaxLineBytes, 'y');
  EXPECT_TRUE(reader.feed("short\n"));
  EXPECT_TRUE(reader.feed(line));
  EXPECT_TRUE(reader.feed("\nnext"));
  EXPECT_EQ(reader.next_line(), "short");
  EXPECT_EQ(reader.next_line(), line);
  EXPECT_EQ(reader.next_line(), std::nullopt);
}

TEST(LineReader, AnAnswerReaderTakesLinesBeyondTheRequestLimit) {
  // coapctl reads `sessions` of 10,000 sessions: several MB on one line.
  LineReader reader(kMaxAnswerBytes);
  const std::string line(3 * kMaxLineBytes, 'z');
  EXPECT_TRUE(reader.feed(line));
  EXPECT_TRUE(reader.feed("\n"));
  EXPECT_EQ(reader.next_line(), line);
  LineReader small(16);
  EXPECT_FALSE(small.feed(std::string(17, 'a')));
}

}  // namespace
}  // namespace control
