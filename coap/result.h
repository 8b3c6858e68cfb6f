// The one error convention of coap/, lwip_tap/ and config/: a fallible
// function returns Result<T> (a value, or an Error) or Status (nothing, or an
// Error). No exceptions cross a module boundary; no out-parameters carry
// errors; no sentinel values mean failure.
//
// An Error's message is a full sentence naming the problem ("cannot bind UDP
// port 5683: ERR_USE"), without a trailing period, ready to be logged or
// shown to a user. Callers add context in front ("session 3: ...").
#pragma once

#include <cassert>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace coap {

struct Error {
  std::string message;
};

// An Error whose sentence is the parts joined.
Error error_of(std::initializer_list<std::string_view> parts);
template <typename... Parts>
Error error(const Parts&... parts) {
  return error_of({std::string_view(parts)...});
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok().
  const std::string& error() const {
    assert(!ok());
    return std::get<1>(v_).message;
  }
  // The error, to pass on from a function returning another Result.
  Error take_error() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Success, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error e) : error_(std::move(e.message)), failed_(true) {}  // NOLINT: implicit

  static Status ok_status() { return {}; }
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  // REQUIRES: !ok().
  const std::string& error() const {
    assert(failed_);
    return error_;
  }
  Error take_error() && {
    assert(failed_);
    return Error{std::move(error_)};
  }

 private:
  std::string error_;
  bool failed_ = false;
};

}  // namespace coap
