// coapd-manpages OUTDIR: writes coapd.8, coapd.conf.5 and coapctl.1 into
// OUTDIR, rendered from the tables that also make `coapd --help` and
// `coapctl --help` (config/manual.h, daemon/coapctl/manual.h). Run by the
// build; not installed.
#include <cstdio>
#include <fstream>
#include <string>

#include "config/manual.h"
#include "daemon/coapctl/manual.h"

namespace {

bool write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) std::fprintf(stderr, "coapd-manpages: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fputs("usage: coapd-manpages OUTDIR\n", stderr);
    return 2;
  }
  const std::string dir = argv[1];
  bool ok = write(dir + "/coapd.8", config::render_roff(config::coapd_manual(), COAPD_VERSION));
  ok &=
      write(dir + "/coapd.conf.5", config::render_roff(config::coapd_conf_manual(), COAPD_VERSION));
  ok &= write(dir + "/coapctl.1", config::render_roff(coapctl::coapctl_manual(), COAPD_VERSION));
  return ok ? 0 : 1;
}
