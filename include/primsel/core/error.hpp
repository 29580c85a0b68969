// primsel's one error type, and how fallible code reports it.
//
// Every fallible function returns `Status` or `Expected<T>`; nothing inside the library throws. That keeps one
// code path for hosted builds and for firmware built with -fno-exceptions. `Expected<T>::value()` is the bridge
// for host code that prefers exceptions: it throws `primsel::Error` when exceptions are enabled, and calls the
// fatal-error handler (default: print and abort) when they are not.
//
//   primsel::Expected<primsel::Graph> g = primsel::onnx::load("net.onnx");
//   if (!g) std::puts(g.error().what());        // status style (works everywhere)
//   primsel::Graph g2 = load(...).value();      // exception style (hosted builds)
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
#define PRIMSEL_HAS_EXCEPTIONS 1
#include <exception>
#else
#define PRIMSEL_HAS_EXCEPTIONS 0
#endif

namespace primsel {

/// What kind of failure; the message says the details.
enum class ErrorCode {
  invalid_argument,  ///< a caller passed a value outside the contract
  shape_mismatch,    ///< tensor shapes disagree (graph validation, run() input)
  unsupported,       ///< valid input primsel does not handle (op, attribute, layout)
  invalid_model,     ///< a graph or model file is malformed (cycle, dangling input, corrupt bytes)
  io_error,          ///< a file could not be read or written
  out_of_memory,     ///< an allocation failed or would exceed a stated bound
  internal,          ///< a broken invariant inside primsel: a bug to report
};

constexpr std::string_view to_string(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::invalid_argument: return "invalid argument";
    case ErrorCode::shape_mismatch: return "shape mismatch";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::invalid_model: return "invalid model";
    case ErrorCode::io_error: return "I/O error";
    case ErrorCode::out_of_memory: return "out of memory";
    case ErrorCode::internal: return "internal error";
  }
  return "error";
}

/// Where an error happened: which op, which node, which shapes. Any field may be empty.
struct ErrorContext {
  std::string op;      ///< op kind, e.g. "Conv"
  std::string node;    ///< node name in the graph, e.g. "layer1.0.conv1"
  std::string shapes;  ///< the shapes involved, e.g. "input 1x3x224x224, weight 64x3x7x7"
};

/// The error value. `what()` reads e.g.
/// `shape mismatch: Conv 'conv1' (input 1x4x8x8, weight 8x3x3x3): input has 4 channels, weight expects 3`.
class Error
#if PRIMSEL_HAS_EXCEPTIONS
    : public std::exception
#endif
{
 public:
  Error(ErrorCode code, std::string message, ErrorContext context = {})
      : code_(code), message_(std::move(message)), context_(std::move(context)) {
    format();
  }

  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  const ErrorContext& context() const noexcept { return context_; }
  const char* what() const noexcept
#if PRIMSEL_HAS_EXCEPTIONS
      override
#endif
  {
    return full_.c_str();
  }

  /// Adds context the thrower did not know (e.g. the node name, added by the graph walker). Keeps fields already set.
  Error&& with_context(const ErrorContext& outer) && {
    if (context_.op.empty()) context_.op = outer.op;
    if (context_.node.empty()) context_.node = outer.node;
    if (context_.shapes.empty()) context_.shapes = outer.shapes;
    format();
    return std::move(*this);
  }

 private:
  void format() {
    full_ = std::string(to_string(code_)) + ": ";
    std::string where = context_.op;
    if (!context_.node.empty()) where += (where.empty() ? "'" : " '") + context_.node + "'";
    if (!context_.shapes.empty()) where += (where.empty() ? "(" : " (") + context_.shapes + ")";
    if (!where.empty()) full_ += where + ": ";
    full_ += message_;
  }

  ErrorCode code_;
  std::string message_;
  ErrorContext context_;
  std::string full_;
};

/// Called by `value()` on a failed result when exceptions are disabled. Firmware may install its own
/// (e.g. log over UART and reset); it must not return.
using FatalHandler = void (*)(const Error&);
inline void default_fatal_handler(const Error& e) {
  std::fputs(e.what(), stderr);
  std::fputc('\n', stderr);
  std::abort();
}
inline FatalHandler& fatal_handler() noexcept {
  static FatalHandler handler = &default_fatal_handler;
  return handler;
}

[[noreturn]] inline void raise(Error e) {
#if PRIMSEL_HAS_EXCEPTIONS
  throw std::move(e);
#else
  fatal_handler()(e);
  std::abort();  // a handler that returns still must not continue
#endif
}

/// The result of a fallible operation that produces no value.
class [[nodiscard]] Status {
 public:
  Status() = default;  // success
  Status(Error e) : error_(std::move(e)) {}

  bool ok() const noexcept { return !error_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return *error_; }
  Error&& error() && { return std::move(*error_); }
  /// Throws (or calls the fatal handler) if this is an error.
  void value() const {
    if (error_) raise(*error_);
  }

 private:
  std::optional<Error> error_;
};

/// A value or the error that prevented it (std::expected is C++23; this is the part primsel needs).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Expected(Error e) : v_(std::in_place_index<1>, std::move(e)) {}
  Expected(Status s) : v_(std::in_place_index<1>, std::move(s).error()) {}  // only from a failed Status

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }
  Status status() const { return ok() ? Status{} : Status{error()}; }

  /// The value; throws (or calls the fatal handler) if this holds an error.
  T& value() & {
    if (!ok()) raise(error());
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) raise(error());
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) raise(error());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace primsel

// Checks a condition on input; on failure returns an Error from the enclosing function (which returns Status or
// Expected<T>). Usage: PRIMSEL_CHECK(k > 0, ErrorCode::invalid_argument, "kernel size must be positive", ctx);
#define PRIMSEL_CHECK(cond, code, ...)                                             \
  do {                                                                             \
    if (!(cond)) return ::primsel::Error(::primsel::code, __VA_ARGS__);             \
  } while (0)

// Propagates a failed Status (or Expected) to the caller.
#define PRIMSEL_RETURN_IF_ERROR(expr)                             \
  do {                                                            \
    if (auto primsel_status_ = (expr); !primsel_status_)          \
      return std::move(primsel_status_).error();                  \
  } while (0)

#define PRIMSEL_CONCAT_INNER_(a, b) a##b
#define PRIMSEL_CONCAT_(a, b) PRIMSEL_CONCAT_INNER_(a, b)
// `PRIMSEL_ASSIGN_OR_RETURN(auto g, load(path));` declares g from an Expected, or returns its error.
#define PRIMSEL_ASSIGN_OR_RETURN(lhs, expr)                                         \
  auto PRIMSEL_CONCAT_(primsel_expected_, __LINE__) = (expr);                       \
  if (!PRIMSEL_CONCAT_(primsel_expected_, __LINE__))                                \
    return std::move(PRIMSEL_CONCAT_(primsel_expected_, __LINE__)).error();        \
  lhs = std::move(*PRIMSEL_CONCAT_(primsel_expected_, __LINE__))
