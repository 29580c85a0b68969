// TensorProto decoding: every data encoding ONNX exporters use, and every way a tensor can disagree with itself.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "primsel/io/onnx.hpp"

using namespace primsel;
using namespace primsel::io;

namespace {

std::string le_bytes(const void* p, std::size_t n) { return {static_cast<const char*>(p), n}; }

std::string dims(std::initializer_list<std::int64_t> ds) {
  std::string packed;
  for (std::int64_t d : ds) packed += proto::Writer::varint_bytes(static_cast<std::uint64_t>(d));
  return packed;
}

Expected<onnx::TensorData> parse(const std::string& bytes) { return onnx::parse_tensor(proto::Reader(bytes)); }

}  // namespace

TEST_CASE("float tensors from raw_data, packed float_data and double_data") {
  const float values[] = {1.5f, -2.0f, 0.25f, 8.0f, 0.0f, -0.5f};
  proto::Writer raw;
  raw.bytes(1, dims({2, 3})).varint(2, 1).bytes(8, "conv.weight").bytes(9, le_bytes(values, sizeof values));
  auto t = parse(raw.str());
  REQUIRE(t.ok());
  CHECK(t->name == "conv.weight");
  CHECK(t->dims == std::vector<std::int64_t>{2, 3});
  CHECK(t->floats == std::vector<float>(std::begin(values), std::end(values)));

  proto::Writer typed;
  typed.varint(1, 3).varint(2, 1).bytes(4, le_bytes(values, 12));  // unpacked dims, packed floats
  auto u = parse(typed.str());
  REQUIRE(u.ok());
  CHECK(u->floats == std::vector<float>{1.5f, -2.0f, 0.25f});

  const double d[] = {0.5, -3.0};
  proto::Writer dbl;
  dbl.varint(1, 2).varint(2, 11).bytes(10, le_bytes(d, sizeof d));
  auto v = parse(dbl.str());
  REQUIRE(v.ok());
  CHECK(v->floats == std::vector<float>{0.5f, -3.0f});
}

TEST_CASE("integer tensors (shapes, pads, axes) from int64_data and raw_data") {
  proto::Writer typed;
  typed.varint(1, 4).varint(2, 7).bytes(7, dims({1, -1, 7, 7}));
  auto t = parse(typed.str());
  REQUIRE(t.ok());
  CHECK(t->ints == std::vector<std::int64_t>{1, -1, 7, 7});
  const std::int64_t shape[] = {0, -1};
  proto::Writer raw;
  raw.varint(1, 2).varint(2, 7).bytes(9, le_bytes(shape, sizeof shape));
  auto u = parse(raw.str());
  REQUIRE(u.ok());
  CHECK(u->ints == std::vector<std::int64_t>{0, -1});
  const std::int8_t s8[] = {-3, 4};
  proto::Writer i8;
  i8.varint(1, 2).varint(2, 3).bytes(9, le_bytes(s8, 2));
  CHECK(parse(i8.str())->ints == std::vector<std::int64_t>{-3, 4});
  proto::Writer scalar;  // no dims: a scalar, one value
  scalar.varint(2, 1).fixed32(4, 6.0f);
  CHECK(parse(scalar.str())->floats == std::vector<float>{6.0f});
}

TEST_CASE("a tensor that disagrees with itself is rejected, naming it") {
  const float values[] = {1, 2, 3};
  auto rejects = [](const std::string& bytes, const std::string& reason, ErrorCode code = ErrorCode::invalid_model) {
    auto t = parse(bytes);
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().code() == code);
    CHECK_THAT(t.error().what(), Catch::Contains(reason));
  };
  proto::Writer short_raw;
  short_raw.bytes(1, dims({2, 2})).varint(2, 1).bytes(8, "w").bytes(9, le_bytes(values, 12));
  rejects(short_raw.str(), "tensor 'w' has 12 bytes of raw_data, its dims need 16");
  proto::Writer short_typed;
  short_typed.bytes(1, dims({4})).varint(2, 1).bytes(8, "b").bytes(4, le_bytes(values, 12));
  rejects(short_typed.str(), "tensor 'b' holds 3 values, its dims need 4");
  proto::Writer huge;  // claims 2^50 elements with a few bytes: refused before allocating
  huge.bytes(1, dims({1 << 25, 1 << 25})).varint(2, 1).bytes(9, "abcd");
  rejects(huge.str(), "more than 2^40 elements");
  proto::Writer negative;
  negative.bytes(1, dims({-2})).varint(2, 1);
  rejects(negative.str(), "negative dimension");
  proto::Writer bf16;
  bf16.varint(1, 1).varint(2, 16).bytes(8, "x");
  rejects(bf16.str(), "data type 16", ErrorCode::unsupported);
  proto::Writer external;
  external.varint(1, 1).varint(2, 1).bytes(8, "big").varint(14, 1);
  rejects(external.str(), "external file", ErrorCode::unsupported);
  proto::Writer mixed;  // float tensor whose values sit in int64_data
  mixed.varint(1, 1).varint(2, 1).fixed32(4, 1.0f).varint(7, 5);
  rejects(mixed.str(), "does not match its data type");
  rejects(std::string("\x0a\x09", 2), "claims 9 bytes");  // truncated
}
