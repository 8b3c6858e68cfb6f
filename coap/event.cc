#include "coap/event.h"

namespace coap {
namespace {

constexpr const char* kNames[] = {
#define COAP_EVENT_NAME(kind, name) name,
    COAP_EVENT_KINDS(COAP_EVENT_NAME)
#undef COAP_EVENT_NAME
};

}  // namespace

const char* event_name(EventKind kind) { return kNames[static_cast<std::size_t>(kind)]; }

}  // namespace coap
