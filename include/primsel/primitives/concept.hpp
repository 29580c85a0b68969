// The contract of a convolution primitive: a stateless policy type implementing one algorithm. The search binds
// each Conv layer to one primitive whose supports() holds; plan() packs the weights once, run() computes.
//
//   struct MyConv {
//     static constexpr std::string_view name = "my_conv";          // unique; used in reports, cache and --searcher
//     static Support supports(const ConvDesc& d);                   // {ok, why}: why it declines, for the verbose log
//     static Format input_format(const ConvDesc& d);                // what run() reads ...
//     static Format output_format(const ConvDesc& d);               // ... and writes
//     struct Plan { ... };                                          // packed/transformed weights + the desc
//     static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w);   // once, may allocate, may fail
//     static std::size_t workspace_bytes(const ConvDesc& d, int threads);    // scratch run() needs, all threads
//     static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept;
//   };
//   static_assert(ConvPrimitive<MyConv>);
//
// run() allocates nothing, never fails (plan() already validated everything) and uses only ctx.workspace for
// scratch, split between ctx.pool's threads as it likes.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstring>
#include <string>
#include <span>
#include <string_view>
#include <type_traits>

#include "primsel/core/error.hpp"
#include "primsel/core/format.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/core/thread_pool.hpp"
#include "primsel/graph/conv_desc.hpp"

namespace primsel {

/// Whether a primitive handles a layer, and if not, why: `why` is a static string such as "kernel is not 3x3".
struct Support {
  bool ok = true;
  std::string_view why;

  static constexpr Support yes() noexcept { return {true, {}}; }
  static constexpr Support no(std::string_view why) noexcept { return {false, why}; }
  explicit constexpr operator bool() const noexcept { return ok; }
};

/// A convolution's weights as the graph stores them: OIHW f32 weight [OC, IC/groups, KH, KW] and an optional bias
/// [OC] (an empty view when the layer has none).
struct ConvWeights {
  ConstTensorView weight;
  ConstTensorView bias;
  bool has_bias() const noexcept { return bias.bytes() != nullptr; }
};

/// The layer's bias in a zero-filled [size] tensor (size >= OC, e.g. padded to the channel block); all zeros when
/// the layer has none. Fails when the descriptor says there is a bias and `w` does not carry one of [OC].
inline Expected<Tensor> plan_bias(const ConvDesc& d, const ConvWeights& w, std::int64_t size) {
  PRIMSEL_ASSIGN_OR_RETURN(Tensor bias, Tensor::create({size}));
  if (d.has_bias) {
    PRIMSEL_CHECK(w.has_bias() && w.bias.shape() == Shape{d.oc}, ErrorCode::shape_mismatch,
                  "bias must have " + std::to_string(d.oc) + " elements for layer " + to_string(d));
    std::memcpy(bias.bytes(), w.bias.bytes(), static_cast<std::size_t>(d.oc) * sizeof(float));
  }
  return bias;
}

/// What run() may use: the thread pool for intra-op parallelism and a scratch buffer of at least
/// workspace_bytes(desc, pool.size()) bytes, aligned to tensor_alignment.
struct Context {
  ThreadPool* pool = nullptr;
  std::span<std::byte> workspace;

  int threads() const noexcept { return pool ? pool->size() : 1; }
};

template <class P>
concept ConvPrimitive = requires(const ConvDesc& d, const ConvWeights& w, const typename P::Plan& plan,
                                 ConstTensorView in, TensorView out, const Context& ctx, int threads) {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::supports(d) } -> std::same_as<Support>;
  { P::input_format(d) } -> std::same_as<Format>;
  { P::output_format(d) } -> std::same_as<Format>;
  { P::plan(d, w) } -> std::same_as<Expected<typename P::Plan>>;
  { P::workspace_bytes(d, threads) } -> std::same_as<std::size_t>;
  { P::run(plan, in, out, ctx) } noexcept;
};

/// A compile-time list of primitives: `PrimitiveList<Im2colGemm, WinogradF43>`. Network, the tests, the benchmarks
/// and the report all read one list (the default is in primitives/default_primitives.hpp).
template <class... Ps>
struct PrimitiveList {
  static constexpr std::size_t size = sizeof...(Ps);

  /// Calls f.template operator()<P>() for each primitive, in order.
  template <class F>
  static constexpr void for_each(F&& f) {
    (f.template operator()<Ps>(), ...);
  }

  /// Names must be unique: they key the tuning cache and the report.
  static constexpr bool names_unique() {
    constexpr std::string_view names[] = {std::string_view(Ps::name)..., std::string_view{}};
    for (std::size_t i = 0; i < sizeof...(Ps); ++i)
      for (std::size_t j = i + 1; j < sizeof...(Ps); ++j)
        if (names[i] == names[j]) return false;
    return true;
  }
};

}  // namespace primsel
