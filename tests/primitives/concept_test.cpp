#include <catch2/catch.hpp>

#include "primsel/primitives/concept.hpp"

using namespace primsel;

namespace {
// A minimal model of the concept, to pin down its shape (real primitives are tested through the conv tester).
struct Declines5x5 {
  static constexpr std::string_view name = "declines_5x5";
  struct Plan {
    ConvDesc desc;
  };
  static Support supports(const ConvDesc& d) { return d.kh == 5 ? Support::no("kernel is 5x5") : Support::yes(); }
  static Format input_format(const ConvDesc&) { return {}; }
  static Format output_format(const ConvDesc&) { return {Layout::nchw8c}; }
  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights&) { return Plan{d}; }
  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    return static_cast<std::size_t>(d.ic * threads);
  }
  static void run(const Plan&, ConstTensorView, TensorView, const Context&) noexcept {}
};
struct Other : Declines5x5 {
  static constexpr std::string_view name = "other";
};
struct MayThrow : Declines5x5 {
  static void run(const Plan&, ConstTensorView, TensorView, const Context&) {}
};
}  // namespace

static_assert(ConvPrimitive<Declines5x5>);
static_assert(!ConvPrimitive<MayThrow>, "run() must be noexcept");
static_assert(!ConvPrimitive<int>);
static_assert(PrimitiveList<Declines5x5, Other>::names_unique());
static_assert(!PrimitiveList<Declines5x5, Other, Declines5x5>::names_unique());

TEST_CASE("support says why a primitive declines") {
  ConvDesc d{.kh = 5, .kw = 5};
  const Support s = Declines5x5::supports(d);
  CHECK_FALSE(s);
  CHECK(s.why == "kernel is 5x5");
  CHECK(static_cast<bool>(Declines5x5::supports(ConvDesc{})));
}

TEST_CASE("a primitive list visits its members in order") {
  std::vector<std::string_view> names;
  PrimitiveList<Declines5x5, Other>::for_each([&]<class P>() { names.push_back(P::name); });
  CHECK(names == std::vector<std::string_view>{"declines_5x5", "other"});
  CHECK(PrimitiveList<Declines5x5, Other>::size == 2);
}

TEST_CASE("a context without a pool has one thread") {
  Context ctx;
  CHECK(ctx.threads() == 1);
  ThreadPool pool(2);
  ctx.pool = &pool;
  CHECK(ctx.threads() == 2);
}
