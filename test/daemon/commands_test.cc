// The control contract, end to end without a socket: every command has one
// handler on coapd's side, every message survives encode and decode, and
// coapctl's formatting is run against what coapd's own encoders produce.
#include "daemon/coapd/commands.h"

#include <gtest/gtest.h>

#include "coap/code.h"
#include "coap/option.h"
#include "daemon/coapctl/format.h"
#include "daemon/coapd/results.h"
#include "daemon/control/messages.h"

namespace coapd {
namespace {

using control::Command;

TEST(CommandTable, EveryCommandHasItsOwnHandlerInOrder) {
  const auto& table = command_table();
  for (std::size_t i = 0; i < control::kCommandCount; ++i) {
    EXPECT_EQ(static_cast<std::size_t>(table[i].command), i) << i;
    EXPECT_NE(table[i].handler, nullptr) << control::command_name(table[i].command);
  }
}

TEST(CommandTable, NamesRoundTrip) {
  for (std::size_t i = 0; i < control::kCommandCount; ++i) {
    const auto c = static_cast<Command>(i);
    EXPECT_EQ(control::command_from_name(control::command_name(c)), c);
  }
  EXPECT_FALSE(control::command_from_name("no_such_command"));
  EXPECT_STREQ(control::command_name(Command::kDebugTimerProbe), "debug_timer_probe");
}

coap::ClientResult sample_response() {
  coap::ClientResult r;
  r.status = coap::ClientResult::Status::kResponse;
  r.code = coap::codes::kContent;
  r.session = 4;
  uint8_t cf[4];
  const std::size_t n = coap::encode_uint(50, cf);
  r.options.emplace_back(coap::opt::kETag, std::vector<uint8_t>{0x0a, 0x0b});
  r.options.emplace_back(coap::opt::kLocationPath, std::vector<uint8_t>{'s', 'e', 'n'});
  r.options.emplace_back(coap::opt::kContentFormat, std::vector<uint8_t>(cf, cf + n));
  r.options.emplace_back(65000, std::vector<uint8_t>{0xff});
  r.payload = {'{', '}'};
  return r;
}

TEST(Contract, RequestResultCarriesEachOptionValueInItsDocumentedType) {
  const nlohmann::json j = request_result(sample_response()).encode();
  const auto& opts = j.at("options");
  ASSERT_EQ(opts.size(), 4u);
  EXPECT_EQ(
      opts[0],
      (nlohmann::json{{"number", 4}, {"name", "ETag"}, {"format", "opaque"}, {"value", "0a0b"}}));
  EXPECT_EQ(opts[1]["format"], "string");
  EXPECT_EQ(opts[1]["value"], "sen");
  EXPECT_EQ(opts[2]["format"], "uint");
  EXPECT_TRUE(opts[2]["value"].is_number_unsigned());
  EXPECT_EQ(opts[2]["value"], 50);
  EXPECT_EQ(opts[3]["name"], "65000");
  EXPECT_EQ(opts[3]["value"], "ff");
  EXPECT_EQ(j["payload_b64"], "e30=");
  EXPECT_EQ(j["code"], "2.05");
  EXPECT_EQ(j["session"], 4);
}

TEST(Contract, CoapctlFormatsWhatCoapdEncodes) {
  // Through JSON text, as over the socket.
  const auto text = request_result(sample_response()).encode().dump();
  auto decoded = control::RequestResult::decode(nlohmann::json::parse(text));
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_EQ(coapctl::format_response_head(*decoded),
            "2.05 Content\nETag: 0a0b\nLocation-Path: sen\nContent-Format: 50\n65000: ff\n\n");
  EXPECT_EQ(decoded->payload, (std::vector<uint8_t>{'{', '}'}));
  EXPECT_EQ(decoded->code_class(), 2);
}

TEST(Contract, FailedRequestsCarryTheirStatusAndSentence) {
  const auto r =
      coap::ClientResult::failed(coap::ClientResult::Status::kTimeout, 3, "no response within 1 s");
  auto decoded = control::RequestResult::decode(request_result(r).encode());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->status, "timeout");
  EXPECT_EQ(decoded->error, "no response within 1 s");
  EXPECT_EQ(decoded->session, 3u);
}

TEST(Contract, EventsKeepTheirOptionalFieldsOptional) {
  coap::Event e{coap::Clock::now(),
                coap::EventKind::kReconnectFailed,
                7,
                coap::Address::v4(192, 0, 2, 1, 5683),
                "reset",
                2};
  const nlohmann::json j = event_record(e).encode();
  EXPECT_EQ(j["event"], "reconnect_failed");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["reason"], "reset");
  EXPECT_EQ(coapctl::format_event_line(j).substr(j["time"].get<std::string>().size()),
            " reconnect_failed session=7 peer=192.0.2.1:5683 reason=reset attempt=2");
  coap::Event plain{coap::Clock::now(), coap::EventKind::kTcpConnected, 1, {}, {}, 0};
  const nlohmann::json p = event_record(plain).encode();
  EXPECT_FALSE(p.contains("reason"));
  EXPECT_FALSE(p.contains("attempt"));
  EXPECT_EQ(p["peer"], "");
}

}  // namespace
}  // namespace coapd
