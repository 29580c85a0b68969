#include <catch2/catch.hpp>

#include "primsel/core/error.hpp"

using namespace primsel;

namespace {
Expected<int> parse_positive(int v) {
  PRIMSEL_CHECK(v > 0, ErrorCode::invalid_argument, "value must be positive, got " + std::to_string(v),
                ErrorContext{"Parse", "node7", {}});
  return v;
}
Expected<int> doubled(int v) {
  PRIMSEL_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}
Status validate(int v) {
  PRIMSEL_RETURN_IF_ERROR(parse_positive(v));
  return {};
}
}  // namespace

TEST_CASE("errors format code, op, node, shapes and message") {
  const Error e(ErrorCode::shape_mismatch, "input has 4 channels", ErrorContext{"Conv", "conv1", "x 1x4x8x8"});
  CHECK(std::string(e.what()) == "shape mismatch: Conv 'conv1' (x 1x4x8x8): input has 4 channels");
  CHECK(std::string(Error(ErrorCode::io_error, "cannot open").what()) == "I/O error: cannot open");
  Error outer = Error(ErrorCode::internal, "boom", ErrorContext{{}, "n", {}}).with_context({"Add", "ignored", "s"});
  CHECK(std::string(outer.what()) == "internal error: Add 'n' (s): boom");
}

TEST_CASE("Expected and Status carry values and errors through the macros") {
  CHECK(*doubled(4) == 8);
  auto bad = doubled(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::invalid_argument);
  CHECK_THAT(bad.error().what(), Catch::Contains("Parse 'node7'") && Catch::Contains("got -1"));
  CHECK(validate(3).ok());
  CHECK_FALSE(validate(0).ok());
  CHECK(bad.status().error().message() == "value must be positive, got -1");
}

TEST_CASE("value() throws the error in hosted builds") {
  CHECK(doubled(2).value() == 4);
  CHECK_THROWS_WITH(doubled(-5).value(), Catch::Contains("got -5"));
  CHECK_THROWS_AS(validate(-1).value(), Error);
  CHECK_NOTHROW(validate(1).value());
}
