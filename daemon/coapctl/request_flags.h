// The request options of coapctl's request commands as people write them:
// -O NUM[,VALUE], --no-response CLASSES, --token HEX, --block-size N. Each
// parser's error is a phrase completing "-O 'TEXT': ...".
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "coap/result.h"
#include "daemon/control/messages.h"

namespace coapctl {

// NUM 1..65535; VALUE as hex after 0x, a decimal number for an option of
// uint format (Max-Age, say), anything else as text; no VALUE: empty.
coap::Result<control::RequestOption> parse_option_flag(std::string_view text);

// The No-Response value (RFC 7967 2.1): a comma list of the response
// classes not wanted (2, 4, 5; "2.xx" also), or "none" (the value 0: every
// response wanted).
coap::Result<uint32_t> parse_no_response(std::string_view text);

// --block-size: 16, 32, ... 1024 (RFC 7959), or BERT for CoAP over TCP
// (RFC 8323 6): a multiple of 1024 up to control::kMaxBertBytes (the most
// bytes per message), or "bert" (as many as the peer's Max-Message-Size
// takes, up to that).
coap::Result<uint32_t> parse_block_size(std::string_view text);

// 0 to 8 bytes of hex, with or without 0x ("" is the empty token).
coap::Result<std::vector<uint8_t>> parse_token(std::string_view text);

}  // namespace coapctl
