// coapctl's request shaping: -O, --no-response, --token, --block-size and
// --non as parsed (request_flags) and as sent to coapd (the real binary
// against FakeCoapd), and the FETCH/PATCH/iPATCH commands.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/coapctl/request_flags.h"
#include "daemon/control/codec.h"
#include "test/daemon/fake_coapd.h"
#include "test/daemon/subprocess.h"

namespace coapctl_test {
namespace {

using coapctl::parse_no_response;
using coapctl::parse_option_flag;
using coapctl::parse_token;
using nlohmann::json;

RunResult coapctl(const FakeCoapd& server, std::vector<std::string> args) {
  args.insert(args.begin(), {"--socket", server.socket_path()});
  return run(COAPCTL_PATH, args, {}, "");
}

json changed() {
  return {{"status", "response"},     {"code", "2.04"},    {"code_name", "Changed"},
          {"options", json::array()}, {"payload_b64", ""}, {"session", 1}};
}

TEST(RequestFlags, OptionValuesAreHexANumberForUintOptionsOrText) {
  auto hex = parse_option_flag("4,0xa0B1");
  ASSERT_TRUE(hex);
  EXPECT_EQ(hex->number, 4);
  EXPECT_EQ(hex->value, (std::vector<uint8_t>{0xa0, 0xb1}));
  auto max_age = parse_option_flag("14,300");  // Max-Age is a uint option
  ASSERT_TRUE(max_age);
  EXPECT_EQ(max_age->value, (std::vector<uint8_t>{0x01, 0x2c}));
  auto zero = parse_option_flag("14,0");
  ASSERT_TRUE(zero);
  EXPECT_TRUE(zero->value.empty()) << "uint 0 is zero bytes (RFC 7252 3.2)";
  auto text = parse_option_flag("2049,300");  // unknown: the text as given
  ASSERT_TRUE(text);
  EXPECT_EQ(text->value, (std::vector<uint8_t>{'3', '0', '0'}));
  auto empty = parse_option_flag("65535");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->number, 65535);
  EXPECT_TRUE(empty->value.empty());
  auto comma = parse_option_flag("8,a,b");  // the value may hold commas
  ASSERT_TRUE(comma);
  EXPECT_EQ(std::string(comma->value.begin(), comma->value.end()), "a,b");
}

TEST(RequestFlags, BadOptionsSayWhatIsWrong) {
  EXPECT_EQ(parse_option_flag("65536,x").error(), "the option number '65536' is not 1..65535");
  EXPECT_FALSE(parse_option_flag("0,x"));
  EXPECT_FALSE(parse_option_flag("abc"));
  EXPECT_FALSE(parse_option_flag(",x"));
  EXPECT_EQ(parse_option_flag("4,0xzz").error(), "the value '0xzz' is not hex after 0x");
  auto not_a_number = parse_option_flag("14,soon");
  ASSERT_FALSE(not_a_number);
  EXPECT_NE(not_a_number.error().find("Max-Age"), std::string::npos) << not_a_number.error();
  EXPECT_FALSE(parse_option_flag("14,4294967296"));
}

TEST(RequestFlags, NoResponseClassesAreTheRfc7967Bits) {
  EXPECT_EQ(*parse_no_response("2"), 2u);
  EXPECT_EQ(*parse_no_response("4"), 8u);
  EXPECT_EQ(*parse_no_response("5"), 16u);
  EXPECT_EQ(*parse_no_response("2,4,5"), 26u);
  EXPECT_EQ(*parse_no_response("2.xx, 5.xx"), 18u);
  EXPECT_EQ(*parse_no_response("none"), 0u);
  EXPECT_FALSE(parse_no_response("3"));
  EXPECT_FALSE(parse_no_response(""));
  EXPECT_FALSE(parse_no_response("2,,5"));
}

TEST(RequestFlags, TokensAreZeroToEightBytesOfHex) {
  EXPECT_EQ(*parse_token("0a0b"), (std::vector<uint8_t>{0x0a, 0x0b}));
  EXPECT_EQ(*parse_token("0x01"), std::vector<uint8_t>{0x01});
  EXPECT_TRUE(parse_token("")->empty());
  EXPECT_TRUE(parse_token("0102030405060708"));
  EXPECT_FALSE(parse_token("010203040506070809"));
  EXPECT_FALSE(parse_token("abc"));
  EXPECT_FALSE(parse_token("zz"));
}

TEST(CoapctlRequest, BlockSizesArePowersOfTwoOrBert) {
  auto size = [](const char* text) {
    auto r = coapctl::parse_block_size(text);
    return r ? *r : 0u;
  };
  EXPECT_EQ(size("16"), 16u);
  EXPECT_EQ(size("1024"), 1024u);
  EXPECT_EQ(size("4096"), 4096u);  // BERT: up to 4 blocks a message
  EXPECT_EQ(size("bert"), 1048576u);
  for (const char* bad : {"", "8", "100", "1500", "3000", "2097152", "0x400", "4096 ", "BERT"})
    EXPECT_FALSE(coapctl::parse_block_size(bad)) << bad;
}

TEST(CoapctlRequest, ShapingFlagsTravelInTheRequest) {
  FakeCoapd server(FakeCoapd::answer(changed()));
  RunResult r = coapctl(
      server, {"put", "coap://h/x", "--payload", "v", "--non", "-O", "2049,hi", "-O", "4,0x0102",
               "--no-response", "2,5", "--token", "cafe", "--block-size", "64"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const json req = server.only_request();
  EXPECT_EQ(req["non"], true);
  EXPECT_EQ(req["token_hex"], "cafe");
  EXPECT_EQ(req["block_size"], 64);
  EXPECT_EQ(req["options"], json::parse(R"([{"number":2049,"value_hex":"6869"},
      {"number":4,"value_hex":"0102"},{"number":258,"value_hex":"12"}])"));
}

TEST(CoapctlRequest, WithoutShapingFlagsNoneIsSent) {
  FakeCoapd server(FakeCoapd::answer(changed()));
  EXPECT_EQ(coapctl(server, {"get", "coap://h/x"}).exit_code, 0);
  const json req = server.only_request();
  for (const char* key : {"non", "options", "token_hex", "block_size"})
    EXPECT_FALSE(req.contains(key)) << key;
}

TEST(CoapctlRequest, FetchPatchAndIpatchSendTheirMethods) {
  for (const auto& [command, method] :
       {std::pair{"fetch", "FETCH"}, {"patch", "PATCH"}, {"ipatch", "IPATCH"}}) {
    FakeCoapd server(FakeCoapd::answer(changed()));
    RunResult r =
        coapctl(server, {command, "coap://h/x", "--payload", "{}", "--content-format", "50"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const json req = server.only_request();
    EXPECT_EQ(req["method"], method);
    EXPECT_EQ(req["content_format"], 50);
  }
}

TEST(CoapctlRequest, BadShapingFlagsAreUsageErrorsNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-O", "70000,x"}, "-O"},
      {{"-O", "14,soon"}, "-O"},
      {{"--no-response", "3"}, "--no-response"},
      {{"--token", "010203040506070809"}, "--token"},
      {{"--block-size", "100"}, "--block-size"},
      {{"--block-size", "1500"}, "--block-size"},
      {{"--block-size", "bertie"}, "--block-size"},
  };
  for (const auto& [flags, name] : cases) {
    FakeCoapd server(FakeCoapd::answer(changed()));
    std::vector<std::string> args = {"get", "coap://h/x"};
    args.insert(args.end(), flags.begin(), flags.end());
    RunResult r = coapctl(server, args);
    EXPECT_EQ(r.exit_code, 2) << name;
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace coapctl_test
