// The protobuf wire reader on hand-built bytes: every wire type, packed and unpacked lists, and every way a
// file can lie (truncation, overflow, lengths past the end, groups, bad wire types), each with its own error.
#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include "primsel/io/protobuf.hpp"

using namespace primsel;
using namespace primsel::io::proto;

namespace {
std::string parse_error_of(std::string_view data) {
  Reader r(data);
  while (!r.done()) {
    auto f = r.next();
    if (!f) return f.error().what();
  }
  return "";
}
}  // namespace

TEST_CASE("every wire type round-trips through the writer and the reader") {
  const std::string nested = Writer().varint(1, 42).str();
  Writer w;
  w.varint(1, 0).varint(2, 300).varint(3, std::numeric_limits<std::uint64_t>::max()).fixed32(4, -1.5f).bytes(5, "onnx").bytes(6, nested);
  Reader r(w.str());
  auto field = [&]() {
    auto f = r.next();
    REQUIRE(f.ok());
    return *f;
  };
  Field f = field();
  CHECK((f.number == 1 && f.type == WireType::varint && f.value == 0));
  CHECK(field().value == 300);
  f = field();
  CHECK(f.value == std::numeric_limits<std::uint64_t>::max());
  CHECK(f.as_int64() == -1);
  f = field();
  CHECK((f.type == WireType::fixed32 && f.as_float() == -1.5f));
  f = field();
  CHECK((f.type == WireType::bytes && f.bytes == "onnx"));
  f = field();
  Reader inner = sub(f);
  auto g = inner.next();
  REQUIRE(g.ok());
  CHECK((g->number == 1 && g->value == 42));
  CHECK(inner.done());
  CHECK(r.done());
}

TEST_CASE("repeated fields decode packed and unpacked alike") {
  std::string packed_ints = Writer::varint_bytes(1) + Writer::varint_bytes(150) + Writer::varint_bytes(static_cast<std::uint64_t>(-2));
  Writer w;
  w.bytes(1, packed_ints).varint(1, 7);
  std::string floats;
  for (float v : {1.0f, -0.25f}) floats += Writer().fixed32(1, v).str().substr(1);  // strip the key byte
  w.bytes(2, floats).fixed32(2, 3.5f);
  Reader r(w.str());
  std::vector<std::int64_t> ints;
  std::vector<float> fl;
  while (!r.done()) {
    auto f = r.next();
    REQUIRE(f.ok());
    if (f->number == 1) REQUIRE(append_int64s(*f, ints).ok());
    if (f->number == 2) REQUIRE(append_floats(*f, fl).ok());
  }
  CHECK(ints == std::vector<std::int64_t>{1, 150, -2, 7});
  CHECK(fl == std::vector<float>{1.0f, -0.25f, 3.5f});
}

TEST_CASE("malformed bytes get a specific error with the byte offset") {
  CHECK_THAT(parse_error_of("\x08"), Catch::Contains("varint runs past the end"));                    // key, no value
  CHECK_THAT(parse_error_of("\x08\xff\xff"), Catch::Contains("varint runs past the end"));
  CHECK_THAT(parse_error_of(std::string("\x08") + std::string(9, '\xff') + "\x02"), Catch::Contains("overflows 64 bits"));
  CHECK_THAT(parse_error_of(std::string("\x08") + std::string(10, '\x80') + "\x01"), Catch::Contains("overflows"));
  CHECK_THAT(parse_error_of("\x0a\x05" "abc"), Catch::Contains("claims 5 bytes, 3 remain"));
  CHECK_THAT(parse_error_of("\x0a\xff\xff\xff\xff\x0f"), Catch::Contains("claims 4294967295 bytes"));
  CHECK_THAT(parse_error_of("\x0d\x01\x02"), Catch::Contains("needs 4 bytes, 2 remain"));
  CHECK_THAT(parse_error_of("\x09\x01"), Catch::Contains("needs 8 bytes"));
  CHECK_THAT(parse_error_of("\x0b"), Catch::Contains("groups"));
  CHECK_THAT(parse_error_of("\x0e"), Catch::Contains("invalid wire type 6"));
  CHECK_THAT(parse_error_of(std::string("\x00\x01", 2)), Catch::Contains("invalid field number 0"));
  CHECK_THAT(parse_error_of("\x08\x01\x0a\x09"), Catch::Contains("at byte 3"));  // offsets count from the start
  // Packed lists that do not add up.
  Writer w;
  w.bytes(1, "\x01\x02\x03");
  Reader r(w.str());
  auto f = r.next();
  REQUIRE(f.ok());
  std::vector<float> fl;
  const Status s = append_floats(*f, fl);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error().what(), Catch::Contains("not a multiple of 4"));
  std::vector<std::int64_t> ints;
  Writer bad;
  bad.bytes(1, "\x80");
  Reader r2(bad.str());
  auto g = r2.next();
  REQUIRE(g.ok());
  CHECK_FALSE(append_int64s(*g, ints).ok());
}

TEST_CASE("no input makes the reader read out of bounds: every prefix of a valid message fails cleanly or parses") {
  Writer w;
  w.varint(1, 123456789).fixed32(2, 2.0f).bytes(3, std::string(200, 'x')).bytes(4, Writer().varint(1, 1).str());
  const std::string full = w.str();
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const std::string prefix = full.substr(0, n);  // a copy: ASan sees any read past its end
    const std::string e = parse_error_of(prefix);
    CHECK((e.empty() || e.find("corrupt protobuf at byte") != std::string::npos));
  }
  CHECK(parse_error_of(full).empty());
}
