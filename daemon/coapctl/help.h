// coapctl's help text: the description, the manual-style footer of
// `coapctl --help`, and the footer of every request command.
#pragma once

namespace coapctl {

extern const char* const kDescription;
extern const char* const kFooter;
extern const char* const kRequestFooter;

}  // namespace coapctl
