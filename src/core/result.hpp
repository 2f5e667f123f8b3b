#pragma once
// Result<T>: the error channel of the data path (ingest → shard → store → analytics → flow),
// where exceptions are not used. C++23's std::expected is not in GCC 12, so this is a small one.
// An Error carries a module-specific code (any enum, stored as int plus the module name) and a
// message a user can act on.
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace strata {

// Why an operation failed, in a form a user can act on.
struct Error {
  int code = 0;         // the value of the module's own errc enum
  std::string message;  // names the thing and the fix

  template <class E>
  static Error of(E e, std::string msg) {
    return Error{static_cast<int>(e), std::move(msg)};
  }
  template <class E>
  [[nodiscard]] bool is(E e) const {
    return code == static_cast<int>(e);
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  [[nodiscard]] bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
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
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  [[nodiscard]] const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that yields nothing but may fail.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  [[nodiscard]] const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace strata
