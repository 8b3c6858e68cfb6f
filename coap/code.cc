#include "coap/code.h"

#include <strings.h>

#include <cstdio>

namespace coap {

const char* type_name(Type t) {
  switch (t) {
    case Type::kCon: return "CON";
    case Type::kNon: return "NON";
    case Type::kAck: return "ACK";
    case Type::kRst: return "RST";
  }
  return "?";
}

std::string Code::str() const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%u.%02u", cls(), detail());
  return buf;
}

const char* Code::name() const {
  switch (raw) {
    case codes::kGet.raw: return "GET";
    case codes::kPost.raw: return "POST";
    case codes::kPut.raw: return "PUT";
    case codes::kDelete.raw: return "DELETE";
    case codes::kFetch.raw: return "FETCH";
    case codes::kPatch.raw: return "PATCH";
    case codes::kIPatch.raw: return "iPATCH";
    case codes::kCreated.raw: return "Created";
    case codes::kDeleted.raw: return "Deleted";
    case codes::kValid.raw: return "Valid";
    case codes::kChanged.raw: return "Changed";
    case codes::kContent.raw: return "Content";
    case codes::kContinue.raw: return "Continue";
    case codes::kBadRequest.raw: return "Bad Request";
    case codes::kUnauthorized.raw: return "Unauthorized";
    case codes::kBadOption.raw: return "Bad Option";
    case codes::kForbidden.raw: return "Forbidden";
    case codes::kNotFound.raw: return "Not Found";
    case codes::kMethodNotAllowed.raw: return "Method Not Allowed";
    case codes::kNotAcceptable.raw: return "Not Acceptable";
    case codes::kRequestEntityIncomplete.raw: return "Request Entity Incomplete";
    case codes::kPreconditionFailed.raw: return "Precondition Failed";
    case codes::kRequestEntityTooLarge.raw: return "Request Entity Too Large";
    case codes::kUnsupportedContentFormat.raw: return "Unsupported Content-Format";
    case codes::kConflict.raw: return "Conflict";
    case codes::kUnprocessableEntity.raw: return "Unprocessable Entity";
    case codes::kInternalServerError.raw: return "Internal Server Error";
    case codes::kNotImplemented.raw: return "Not Implemented";
    case codes::kServiceUnavailable.raw: return "Service Unavailable";
    case codes::kGatewayTimeout.raw: return "Gateway Timeout";
    case codes::kProxyingNotSupported.raw: return "Proxying Not Supported";
    case codes::kCsm.raw: return "CSM";
    case codes::kPing.raw: return "Ping";
    case codes::kPong.raw: return "Pong";
    case codes::kRelease.raw: return "Release";
    case codes::kAbort.raw: return "Abort";
    default: return "";
  }
}

Code method_from_name(const std::string& name) {
  static constexpr struct {
    const char* name;
    Code code;
  } kMethods[] = {{"GET", codes::kGet},       {"POST", codes::kPost},   {"PUT", codes::kPut},
                  {"DELETE", codes::kDelete}, {"FETCH", codes::kFetch}, {"PATCH", codes::kPatch},
                  {"IPATCH", codes::kIPatch}};
  for (const auto& m : kMethods)
    if (strcasecmp(m.name, name.c_str()) == 0) return m.code;
  return codes::kEmpty;
}

}  // namespace coap
