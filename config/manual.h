// coapd's manual as data: the one source of `coapd --help` and of the
// coapd(8) and coapd.conf(5) manual pages, built from the option table, so
// that no option text exists twice.
#pragma once

#include <string>
#include <vector>

namespace config {

// A paragraph, an indented item (term and its explanation), a subheading
// inside a section, or preformatted lines (shown as they are, not filled).
struct ManBlock {
  enum class Kind { kParagraph, kItem, kSubheading, kVerbatim } kind;
  std::string term;  // items and subheadings
  std::string text;  // paragraphs and items
};

struct ManSection {
  std::string title;  // "OPTIONS"
  std::vector<ManBlock> blocks;
};

struct ManPage {
  std::string name;     // "coapd"
  int section = 8;      // man section
  std::string summary;  // for NAME: "CoAP endpoint on its own lwIP stack"
  std::string synopsis;
  std::vector<ManSection> sections;
};

// In texts, joins two words that must not be split across lines
// (`tap = "coap0"`); rendered as a space.
inline constexpr char kNoBreak = '\x01';

// coapd(8): what --help prints.
ManPage coapd_manual();
// coapd.conf(5): the config file.
ManPage coapd_conf_manual();
// coapctl(1) is made from coapctl's own --help text: daemon/coapctl/manual.h.

// As --help: wrapped to 79 columns.
std::string render_text(const ManPage& page);
// As a man page (roff, man macros).
std::string render_roff(const ManPage& page, const std::string& version);

}  // namespace config
