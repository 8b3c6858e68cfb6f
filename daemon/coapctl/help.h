// The footer of every request command's --help (the description and the
// footer of `coapctl --help` are in manual.h).
#pragma once

namespace coapctl {

extern const char* const kRequestFooter;
extern const char* const kObserveFooter;

}  // namespace coapctl
