#include "test/bench/secure_common.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace bench {
namespace {

void random_bytes(std::span<uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = getrandom(out.data() + done, out.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::perror("getrandom");
      std::exit(2);
    }
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::unique_ptr<coap::SecurityContext> make_client_context(const Options& opts) {
  auto key = coap::parse_psk_key(opts.psk_key);
  if (!key) {
    std::fprintf(stderr, "coap_load: --psk-key: the key %s\n", key.error().c_str());
    std::exit(2);
  }
  coap::Credentials creds;
  creds.client_psk = coap::PskEntry{opts.psk_identity, std::move(*key)};
  auto ctx = coap::SecurityContext::create(creds, random_bytes);
  if (!ctx) {
    std::fprintf(stderr, "coap_load: %s\n", ctx.error().c_str());
    std::exit(2);
  }
  return std::move(*ctx);
}

coap::ClientSecurity client_security(const Options& opts) {
  coap::ClientSecurity s;
  s.ciphersuites = opts.ciphersuites;
  return s;
}

}  // namespace bench
