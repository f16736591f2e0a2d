#pragma once
// A small std::expected stand-in (C++20 has none): either a value or an error.

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace tpm2emu {

template <class E>
struct Unexpected {
  E error;
};

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  using value_type = T;
  using error_type = E;

  Expected()
    requires std::is_default_constructible_v<T>
      : v_(std::in_place_index<0>) {}
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Expected(E error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  Expected(Unexpected<E> u) : v_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Expected<void, E> {
 public:
  using value_type = void;
  using error_type = E;

  Expected() = default;
  Expected(E error) : err_(std::move(error)) {}  // NOLINT
  Expected(Unexpected<E> u) : err_(std::move(u.error)) {}  // NOLINT

  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const E& error() const { assert(!ok()); return *err_; }

 private:
  std::optional<E> err_;
};

namespace internal {
template <class T, class E>
E TakeError(const Expected<T, E>& e) {
  return e.error();
}
}  // namespace internal

}  // namespace tpm2emu

#define TPM2EMU_CONCAT_INNER(a, b) a##b
#define TPM2EMU_CONCAT(a, b) TPM2EMU_CONCAT_INNER(a, b)

// TRY(expr): returns the error of an Expected from the enclosing function.
#define TRY(expr)                                              \
  do {                                                         \
    auto&& tpm2emu_try_result = (expr);                        \
    if (!tpm2emu_try_result.ok()) {                            \
      return ::tpm2emu::internal::TakeError(tpm2emu_try_result); \
    }                                                          \
  } while (false)

#define TPM2EMU_TRY_ASSIGN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) {                               \
    return ::tpm2emu::internal::TakeError(tmp);  \
  }                                              \
  decl = std::move(tmp).value()

// TRY_ASSIGN(auto x, expr): declares x from the value of an Expected, or returns its error.
#define TRY_ASSIGN(decl, expr) \
  TPM2EMU_TRY_ASSIGN_IMPL(TPM2EMU_CONCAT(tpm2emu_try_, __LINE__), decl, expr)
