#include "coap/result.h"

namespace coap {

Error error_of(std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (std::string_view p : parts) n += p.size();
  Error e;
  e.message.reserve(n);
  for (std::string_view p : parts) e.message.append(p);
  return e;
}

}  // namespace coap
