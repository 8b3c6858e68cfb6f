// coapctl's manual, one text for two renderings: `coapctl --help` (CLI11
// prints the description and the footer) and the coapctl(1) man page
// (coapctl_manual(), rendered by config/manual.h's render_roff).
#pragma once

#include "config/manual.h"

namespace coapctl {

// The --help description ("coapctl - SUMMARY", then paragraphs) and footer
// (sections: a heading at column 0, lines indented by two).
extern const char* const kDescription;
extern const char* const kFooter;

config::ManPage coapctl_manual();

}  // namespace coapctl
