// The renderings of a ManPage: --help text and roff (man macros).
#include <cctype>
#include <string_view>

#include "config/manual.h"

namespace config {
namespace {

// Appends `text` wrapped to `width` columns, each line indented by `indent`.
// The first line continues from column `col` when that is past the indent.
void append_wrapped(std::string& out, std::string_view text, std::size_t indent,
                    std::size_t col = 0, std::size_t width = 79) {
  if (col < indent) {
    out.append(indent - col, ' ');
    col = indent;
  }
  bool line_start = true;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (!line_start && col + 1 + word.size() > width) {
      out += '\n';
      out.append(indent, ' ');
      col = indent;
      line_start = true;
    }
    if (!line_start) {
      out += ' ';
      ++col;
    }
    for (char c : word) out += c == kNoBreak ? ' ' : c;
    col += word.size();
    line_start = false;
  }
  out += '\n';
}

// A term and its explanation: the text goes under the term, or beside it
// when the term is short (exit codes).
void append_item(std::string& out, std::string_view term, std::string_view text) {
  out.append(4, ' ');
  out += term;
  if (term.size() < 3) {
    append_wrapped(out, text, 8, 4 + term.size());
  } else {
    out += '\n';
    append_wrapped(out, text, 8);
  }
}

// roff text: backslashes and hyphens escaped, no line starting with a
// control character, kNoBreak as an unpaddable space.
std::string roff_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (c == kNoBreak) {
      out += "\\ ";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out.insert(0, "\\&");
  return out;
}

// Each line escaped on its own (so that none starts with a control
// character), each ending in a newline.
std::string roff_lines(std::string_view text) {
  std::string out;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    out += roff_escape(text.substr(0, nl)) + "\n";
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void roff_block(std::string& out, const ManBlock& b) {
  switch (b.kind) {
    case ManBlock::Kind::kParagraph: out += ".PP\n" + roff_escape(b.text) + "\n"; break;
    case ManBlock::Kind::kItem:
      out += ".TP\n.B " + roff_escape(b.term) + "\n" + roff_escape(b.text) + "\n";
      break;
    case ManBlock::Kind::kSubheading: out += ".SS " + roff_escape(b.term) + "\n"; break;
    case ManBlock::Kind::kVerbatim: out += ".PP\n.nf\n" + roff_lines(b.text) + ".fi\n"; break;
  }
}

}  // namespace

std::string render_text(const ManPage& page) {
  std::string out = "Usage: " + page.synopsis + "\n";
  for (const ManSection& s : page.sections) {
    out += "\n" + s.title + "\n";
    for (const ManBlock& b : s.blocks) {
      switch (b.kind) {
        case ManBlock::Kind::kParagraph: append_wrapped(out, b.text, 4); break;
        case ManBlock::Kind::kItem: append_item(out, b.term, b.text); break;
        case ManBlock::Kind::kSubheading: out += "\n  " + b.term + ":\n"; break;
        case ManBlock::Kind::kVerbatim: out += b.text + "\n"; break;
      }
    }
  }
  return out;
}

std::string render_roff(const ManPage& page, const std::string& version) {
  std::string out = ".TH " + upper(roff_escape(page.name)) + " " + std::to_string(page.section) +
                    " \"\" \"coapd " + version + "\" \"" +
                    (page.section == 8   ? "System Administration"
                     : page.section == 1 ? "User Commands"
                                         : "File Formats") +
                    "\"\n";
  // Ragged right, no hyphenation: URIs and key = value examples are long
  // unbreakable words, which justified lines cannot fit.
  out += ".ad l\n.nh\n";
  out += ".SH NAME\n" + roff_escape(page.name) + " \\- " + roff_escape(page.summary) + "\n";
  out += ".SH SYNOPSIS\n" + roff_escape(page.synopsis) + "\n";
  for (const ManSection& s : page.sections) {
    out += ".SH " + roff_escape(s.title) + "\n";
    for (const ManBlock& b : s.blocks) roff_block(out, b);
  }
  return out;
}

}  // namespace config
