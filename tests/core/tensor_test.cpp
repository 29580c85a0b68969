#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "primsel/core/tensor.hpp"

using namespace primsel;

TEST_CASE("tensors are zeroed, aligned and sized by their layout") {
  Tensor t({1, 13, 5, 3}, Format{Layout::nchw8c});
  CHECK(reinterpret_cast<std::uintptr_t>(t.bytes()) % tensor_alignment == 0);
  CHECK(t.size_bytes() == 16 * 5 * 3 * sizeof(float));
  CHECK(t.numel() == 13 * 5 * 3);
  for (float v : t.floats()) CHECK(v == 0.0f);
  Tensor q({2, 3}, Format{Layout::nchw, DType::s8}, QuantParams{0.5f, -3});
  CHECK(q.size_bytes() == 6);
  CHECK(q.quant() == QuantParams{0.5f, -3});
}

TEST_CASE("copies are deep, moves steal") {
  Tensor a = Tensor::from({2, 2}, std::vector<float>{1, 2, 3, 4});
  Tensor b = a;
  b.floats()[0] = 9;
  CHECK(a.floats()[0] == 1);
  CHECK(b.floats()[0] == 9);
  const std::byte* data = a.bytes();
  Tensor c = std::move(a);
  CHECK(c.bytes() == data);
  CHECK(a.bytes() == nullptr);  // NOLINT(bugprone-use-after-move): moved-from tensors are empty by contract
  Tensor empty;
  Tensor copy_of_empty = empty;
  CHECK(copy_of_empty.empty());
}

TEST_CASE("views see the tensor's data and convert to const") {
  Tensor t({1, 2, 2, 2}, Format{Layout::nhwc});
  TensorView v = t.view();
  v.data<float>()[3] = 5;
  ConstTensorView cv = v;
  CHECK(cv.data<float>()[3] == 5);
  CHECK(cv.layout() == Layout::nhwc);
  CHECK(cv.size_bytes() == t.size_bytes());
}

TEST_CASE("create() refuses impossible tensors with a reason") {
  auto neg = Tensor::create({1, -2, 3});
  REQUIRE_FALSE(neg.ok());
  CHECK_THAT(neg.error().what(), Catch::Contains("1x-2x3") && Catch::Contains("negative or too large"));
  auto huge = Tensor::create({1 << 20, 1 << 20, 1 << 20});
  REQUIRE_FALSE(huge.ok());
  CHECK(huge.error().code() == ErrorCode::invalid_argument);
  auto rank = Tensor::create({4, 4}, Format{Layout::nchw16c});
  REQUIRE_FALSE(rank.ok());
  CHECK_THAT(rank.error().what(), Catch::Contains("nchw16c needs a 4-D tensor"));
  CHECK_THROWS_AS(Tensor::from({3}, std::vector<float>{1, 2}), Error);
}

TEST_CASE("shapes print, compare and check their size") {
  CHECK(to_string(Shape{1, 3, 224, 224}) == "1x3x224x224");
  CHECK(to_string(Shape{}) == "scalar");
  CHECK(Shape{2, 3}.numel() == 6);
  CHECK(Shape{2, 3} != Shape{3, 2});
  CHECK(Shape{2, 0, 5}.checked_numel() == 0);
  CHECK(Shape{1 << 30, 1 << 30}.checked_numel(std::int64_t{1} << 40) == -1);
  const std::vector<std::int64_t> dims(7, 1);
  bool ok = true;
  Shape::from_dims(dims.begin(), dims.end(), &ok);
  CHECK_FALSE(ok);
}
