// StaticNetwork: a sequential CNN fixed at compile time, for firmware. Each layer is a type naming its primitive,
// its parameters and its weights (references to constexpr arrays, which stay in flash); shapes, layouts, the
// conversions between layers and the memory one inference needs are all worked out by the compiler, so the caller
// declares that memory as a static array. init() packs the weights (the only allocation); run() then allocates
// nothing, throws nothing and uses no RTTI or threads. It is a binding searched once and baked in: name the
// primitives primsel-bench chose (conv_primitive_named<binding[i]>), or name them by type. See docs/embedded.md.
//
//   using Net = StaticNetwork<Input<1, 1, 8, 8>,
//                             layers::Conv<DirectSmallIc, ConvParams{.kernel = {3, 3}, .pads = {1, 1, 1, 1},
//                                                                    .activation = Activation::relu()}, w0, b0>,
//                             layers::MaxPool<PoolParams{.kernel = {2, 2}, .stride = {2, 2}}>,
//                             layers::FullyConnected<w1, b1>>;
//   alignas(tensor_alignment) static std::byte arena[Net::arena_bytes];   // activations + scratch
//   static Net net;
//   net.init(arena);                       // Status: plans every layer, checks every view it will use
//   float logits[Net::output_size];
//   net.run(image, logits);                // image: Net::input_size floats, nchw
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "primsel/core/denormals.hpp"
#include "primsel/core/error.hpp"
#include "primsel/core/layout_convert.hpp"
#include "primsel/core/tensor.hpp"
#include "primsel/graph/shape_inference.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/default_primitives.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"
#include "primsel/primitives/ops/fully_connected.hpp"
#include "primsel/primitives/ops/pooling.hpp"

namespace primsel {

/// An activation's shape as a template argument (Shape is not a structural type): [n, c, h, w], or [n, c] when
/// rank is 2 (a fully connected layer's output, h = w = 1).
struct Dims {
  std::int64_t n = 1, c = 1, h = 1, w = 1;
  int rank = 4;

  constexpr Shape shape() const noexcept { return rank == 2 ? Shape{n, c} : Shape{n, c, h, w}; }
  constexpr std::int64_t elements() const noexcept { return n * c * h * w; }
  friend constexpr bool operator==(const Dims&, const Dims&) = default;
};

/// The network input: one nchw f32 tensor of N x C x H x W.
template <std::int64_t N, std::int64_t C, std::int64_t H, std::int64_t W>
struct Input {
  static_assert(N > 0 && C > 0 && H > 0 && W > 0, "input dimensions must be positive");
  static constexpr Dims dims{N, C, H, W};
};

/// For a layer without bias: `layers::Conv<P, params, weight, no_bias>`.
inline constexpr std::array<float, 0> no_bias{};

// ---- conv primitives at compile time -------------------------------------------------------------------------

/// What a static network must know about conv primitive P before run time: the layouts it reads and writes and the
/// scratch it needs on one thread. The primitives answer these at run time only (their functions are not
/// constexpr), so the entries below restate them; StaticNetwork::init() compares each with P's own answer and
/// refuses to start on a mismatch, so a stale entry is a start-up error, never an overrun. Primitives without an
/// entry (winograd_*, fft_conv: their scratch depends on tiling chosen at run time) cannot be used statically.
template <class P>
struct StaticConvTraits {
  static constexpr bool known = false;
};

namespace detail {
constexpr std::size_t align_bytes(std::int64_t bytes) noexcept {
  return static_cast<std::size_t>(gemm::round_up(bytes, static_cast<std::int64_t>(tensor_alignment)));
}
}  // namespace detail

template <>
struct StaticConvTraits<Im2colGemm> {
  static constexpr bool known = true;
  static constexpr Layout input_layout = Layout::nchw, output_layout = Layout::nchw;
  /// The unrolled patches of one group, then one packed GEMM block (1 MiB: too much for most microcontrollers).
  static constexpr std::size_t workspace_bytes(const ConvDesc& d) noexcept {
    return detail::align_bytes(d.ic / d.groups * d.kh * d.kw * d.oh * d.ow * 4) + gemm::packed_workspace_bytes(1);
  }
};
template <>
struct StaticConvTraits<Conv1x1Gemm> {
  static constexpr bool known = true;
  static constexpr Layout input_layout = Layout::nchw, output_layout = Layout::nchw;
  static constexpr std::size_t workspace_bytes(const ConvDesc&) noexcept { return gemm::packed_workspace_bytes(1); }
};
template <>
struct StaticConvTraits<DirectNchwc> {
  static constexpr bool known = true;
  static constexpr Layout input_layout = native_blocked_layout, output_layout = native_blocked_layout;
  static constexpr std::size_t workspace_bytes(const ConvDesc&) noexcept { return 0; }
};
template <>
struct StaticConvTraits<DirectSmallIc> {
  static constexpr bool known = true;
  static constexpr Layout input_layout = Layout::nchw, output_layout = native_blocked_layout;
  static constexpr std::size_t workspace_bytes(const ConvDesc&) noexcept { return 0; }
};
template <>
struct StaticConvTraits<Depthwise> {
  static constexpr bool known = true;
  static constexpr Layout input_layout = native_blocked_layout, output_layout = native_blocked_layout;
  static constexpr std::size_t workspace_bytes(const ConvDesc&) noexcept { return 0; }
};

/// A primitive's name as a template argument (std::string_view is not structural); converts from a string_view.
struct PrimitiveName {
  static constexpr std::size_t capacity = 48;
  char text[capacity] = {};
  std::size_t size = 0;

  constexpr PrimitiveName(std::string_view s) noexcept : size(s.size()) {
    for (std::size_t i = 0; i < s.size() && i < capacity; ++i) text[i] = s[i];
  }
  constexpr std::string_view view() const noexcept { return {text, size <= capacity ? size : 0}; }
};

namespace detail {
template <PrimitiveName Name, class List>
struct PrimitiveNamed;
template <PrimitiveName Name, class... Ps>
struct PrimitiveNamed<Name, PrimitiveList<Ps...>> {
  static constexpr std::size_t index = [] {
    constexpr std::string_view names[] = {std::string_view(Ps::name)...};
    for (std::size_t i = 0; i < sizeof...(Ps); ++i)
      if (names[i] == Name.view()) return i;
    return sizeof...(Ps);
  }();
  static_assert(index < sizeof...(Ps), "no convolution primitive in the list has this name (primsel-bench --list)");
  using type = std::tuple_element_t<index, std::tuple<Ps...>>;
};
}  // namespace detail

/// The conv primitive called `Name` in `List`: how a binding emitted by `primsel-bench --emit-binding` (an array of
/// names, one per node) becomes types, e.g. `layers::Conv<conv_primitive_named<small_binding[0]>, ...>`. An
/// unknown name does not compile.
template <PrimitiveName Name, class List = DefaultConvPrimitives>
using conv_primitive_named = typename detail::PrimitiveNamed<Name, List>::type;

// ---- layers ----------------------------------------------------------------------------------------------------

/// A layer type L is bound to its input shape as `L::At<dims>`; the bound layer says what it outputs, which
/// layouts it reads and writes (given the layout it receives), how much scratch it needs, and plans, checks and
/// runs. The layouts and scratch are constants, so the network's arena is one.
template <class B>
concept StaticLayer = requires(const typename B::Plan& p, ConstTensorView x, TensorView y, const Context& ctx) {
  { B::name } -> std::convertible_to<std::string_view>;
  { B::output } -> std::convertible_to<Dims>;
  { B::workspace_bytes } -> std::convertible_to<std::size_t>;
  { B::input_layout(Layout::nchw) } -> std::same_as<Layout>;
  { B::output_layout(Layout::nchw) } -> std::same_as<Layout>;
  { B::plan() } -> std::same_as<Expected<typename B::Plan>>;
  { B::check(p, x, y, ctx) } -> std::same_as<Status>;
  { B::run(p, x, y, ctx) } noexcept;
};

namespace detail {
template <const auto& Values>
constexpr std::int64_t count_of() noexcept {
  static_assert(std::is_same_v<std::remove_cvref_t<decltype(*std::data(Values))>, float>, "weights must be floats");
  return static_cast<std::int64_t>(std::size(Values));
}
template <const auto& Values>
ConstTensorView view_of(Shape shape) noexcept {
  return {reinterpret_cast<const std::byte*>(std::data(Values)), shape};
}
}  // namespace detail

namespace layers {

/// A convolution run by primitive P (a ConvPrimitive with a StaticConvTraits entry). Weight: OIHW floats,
/// [OC, C/groups, KH, KW] (OC follows from its size); Bias: OC floats or no_bias. The activation in Params is fused.
template <class P, ConvParams Params, const auto& Weight, const auto& Bias = no_bias>
struct Conv {
  template <Dims In>
  struct At {
    static_assert(ConvPrimitive<P>);
    static_assert(StaticConvTraits<P>::known,
                  "no compile-time layouts and scratch for this primitive (StaticConvTraits): use im2col_gemm, "
                  "conv1x1_gemm, direct_nchwc, direct_small_ic or depthwise_nchwc");
    static_assert(In.rank == 4, "Conv needs a 4-D [N, C, H, W] input");
    static_assert(Params.groups >= 1 && In.c % Params.groups == 0, "input channels are not divisible by groups");
    static_assert(Params.kernel[0] >= 1 && Params.kernel[1] >= 1 && Params.stride[0] >= 1 && Params.stride[1] >= 1 &&
                      Params.dilation[0] >= 1 && Params.dilation[1] >= 1,
                  "kernel, stride and dilation must be >= 1");
    static constexpr std::int64_t filter_size = In.c / Params.groups * Params.kernel[0] * Params.kernel[1];
    static_assert(detail::count_of<Weight>() % filter_size == 0,
                  "the weight array is not a whole number of [C/groups, KH, KW] filters for this input");

    static constexpr ConvDesc desc = [] {
      ConvDesc d;
      d.n = In.n, d.groups = Params.groups, d.ic = In.c, d.ih = In.h, d.iw = In.w;
      d.oc = detail::count_of<Weight>() / filter_size;
      d.kh = Params.kernel[0], d.kw = Params.kernel[1];
      d.sh = Params.stride[0], d.sw = Params.stride[1];
      d.dh = Params.dilation[0], d.dw = Params.dilation[1];
      d.pads = Params.pads;
      d.oh = window_output_size(In.h, d.kh, d.sh, d.pads.top, d.pads.bottom, d.dh);
      d.ow = window_output_size(In.w, d.kw, d.sw, d.pads.left, d.pads.right, d.dw);
      d.has_bias = detail::count_of<Bias>() != 0;
      d.activation = Params.activation;
      return d;
    }();
    static_assert(desc.oc > 0 && desc.oc % Params.groups == 0, "output channels are not divisible by groups");
    static_assert(!desc.has_bias || detail::count_of<Bias>() == desc.oc, "the bias needs one value per output channel");
    static_assert(desc.oh > 0 && desc.ow > 0, "the kernel does not fit the padded input");

    using Traits = StaticConvTraits<P>;
    using Plan = typename P::Plan;
    static constexpr std::string_view name = P::name;
    static constexpr Dims output{In.n, desc.oc, desc.oh, desc.ow};
    static constexpr std::size_t workspace_bytes = Traits::workspace_bytes(desc);
    static constexpr Layout input_layout(Layout) noexcept { return Traits::input_layout; }
    static constexpr Layout output_layout(Layout) noexcept { return Traits::output_layout; }

    static Expected<Plan> plan() {
      if (Support s = P::supports(desc); !s)
        return Error(ErrorCode::unsupported, std::string(s.why) + ": " + to_string(desc));
      // The traits restate P's run-time answers; disagreeing here beats overrunning the arena later.
      PRIMSEL_CHECK(P::input_format(desc) == Format{Traits::input_layout} &&
                        P::output_format(desc) == Format{Traits::output_layout},
                    ErrorCode::internal, "StaticConvTraits<" + std::string(name) + "> has stale layouts");
      PRIMSEL_CHECK(P::workspace_bytes(desc, 1) <= workspace_bytes, ErrorCode::internal,
                    "StaticConvTraits<" + std::string(name) + "> says " + std::to_string(workspace_bytes) +
                        " bytes of scratch, the primitive needs " + std::to_string(P::workspace_bytes(desc, 1)));
      const ConstTensorView bias = desc.has_bias ? detail::view_of<Bias>(Shape{desc.oc}) : ConstTensorView{};
      return P::plan(
          desc, {detail::view_of<Weight>(Shape{desc.oc, filter_size / (desc.kh * desc.kw), desc.kh, desc.kw}), bias});
    }
    /// plan() validated the layer; the views come from the same shapes.
    static Status check(const Plan&, ConstTensorView, ConstTensorView, const Context&) { return {}; }
    static void run(const Plan& p, ConstTensorView x, TensorView y, const Context& ctx) noexcept {
      P::run(p, x, y, ctx);
    }
  };
};

/// MaxPool (K = max) or AveragePool (K = average), in whatever layout the previous layer wrote: never a conversion.
template <ops::PoolKind K, PoolParams Params>
struct Pool {
  template <Dims In>
  struct At {
    static_assert(In.rank == 4, "pooling needs a 4-D [N, C, H, W] input");
    static_assert(Params.kernel[0] >= 1 && Params.kernel[1] >= 1 && Params.stride[0] >= 1 && Params.stride[1] >= 1,
                  "kernel and stride must be >= 1");
    static_assert(Params.pads.top >= 0 && Params.pads.left >= 0 && Params.pads.bottom >= 0 && Params.pads.right >= 0,
                  "pads must be >= 0");
    static constexpr Dims output{In.n, In.c,
                                 window_output_size(In.h, Params.kernel[0], Params.stride[0], Params.pads.top,
                                                    Params.pads.bottom, 1, Params.ceil_mode),
                                 window_output_size(In.w, Params.kernel[1], Params.stride[1], Params.pads.left,
                                                    Params.pads.right, 1, Params.ceil_mode)};
    static_assert(output.h > 0 && output.w > 0, "the window does not fit the padded input");

    struct Plan {};
    static constexpr std::string_view name = ops::Pool2d<K>::name;
    static constexpr std::size_t workspace_bytes = 0;
    static constexpr Layout input_layout(Layout received) noexcept { return received; }
    static constexpr Layout output_layout(Layout received) noexcept { return received; }

    static Expected<Plan> plan() { return Plan{}; }
    static Status check(const Plan&, ConstTensorView x, ConstTensorView y, const Context&) {
      return ops::Pool2d<K>::check(x, Params, y);
    }
    static void run(const Plan&, ConstTensorView x, TensorView y, const Context& ctx) noexcept {
      ops::Pool2d<K>::run(x, Params, y, ctx.pool);
    }
  };
};
template <PoolParams Params>
using MaxPool = Pool<ops::PoolKind::max, Params>;
template <PoolParams Params>
using AveragePool = Pool<ops::PoolKind::average, Params>;

/// GlobalAveragePool: [N, C, H, W] -> [N, C, 1, 1], in the layout it receives.
struct GlobalAveragePool {
  template <Dims In>
  struct At {
    static_assert(In.rank == 4, "global pooling needs a 4-D [N, C, H, W] input");
    struct Plan {};
    static constexpr std::string_view name = ops::GlobalAveragePool::name;
    static constexpr Dims output{In.n, In.c, 1, 1};
    static constexpr std::size_t workspace_bytes = 0;
    static constexpr Layout input_layout(Layout received) noexcept { return received; }
    static constexpr Layout output_layout(Layout received) noexcept { return received; }

    static Expected<Plan> plan() { return Plan{}; }
    static Status check(const Plan&, ConstTensorView x, ConstTensorView y, const Context&) {
      return ops::GlobalAveragePool::check(x, y);
    }
    static void run(const Plan&, ConstTensorView x, TensorView y, const Context& ctx) noexcept {
      ops::GlobalAveragePool::run(x, y, ctx.pool);
    }
  };
};

/// y[N, OUT] = act(flatten(x) W^T + b): Weight [OUT, IN] floats with IN = C * H * W of the input (OUT follows
/// from its size), Bias OUT floats or no_bias. Flattening reads nchw; a [N, C, 1, 1] input is read in any layout.
template <const auto& Weight, const auto& Bias = no_bias, Activation Act = Activation{}>
struct FullyConnected {
  template <Dims In>
  struct At {
    static constexpr std::int64_t in_features = In.c * In.h * In.w;
    static_assert(detail::count_of<Weight>() % in_features == 0,
                  "the weight array is not [OUT, IN] for this input's C * H * W features");
    static constexpr std::int64_t out_features = detail::count_of<Weight>() / in_features;
    static_assert(out_features > 0, "no weights");
    static_assert(detail::count_of<Bias>() == 0 || detail::count_of<Bias>() == out_features,
                  "the bias needs one value per output feature");
    static_assert(Act.lo <= Act.hi, "the activation's clamp range is empty");

    using Plan = ops::FullyConnected::Plan;
    static constexpr std::string_view name = "fully_connected";
    static constexpr Dims output{In.n, out_features, 1, 1, 2};
    /// The matrix-vector path expands x (MR copies of each input); larger batches pack a GEMM block.
    static constexpr std::size_t workspace_bytes =
        In.n <= ops::FullyConnected::gemv_max_batch
            ? detail::align_bytes(In.n * in_features * gemm::MR * 4)
            : detail::align_bytes(In.n * out_features * 4) + gemm::packed_workspace_bytes(1);
    static constexpr Layout input_layout(Layout received) noexcept {
      return In.h * In.w == 1 ? received : Layout::nchw;
    }
    static constexpr Layout output_layout(Layout) noexcept { return Layout::nchw; }

    static Expected<Plan> plan() {
      const ConstTensorView bias =
          detail::count_of<Bias>() ? detail::view_of<Bias>(Shape{out_features}) : ConstTensorView{};
      PRIMSEL_ASSIGN_OR_RETURN(
          Plan p, ops::FullyConnected::plan(detail::view_of<Weight>(Shape{out_features, in_features}), bias, Act));
      PRIMSEL_CHECK(ops::FullyConnected::workspace_bytes(p, In.n, 1) <= workspace_bytes, ErrorCode::internal,
                    "fully_connected needs " + std::to_string(ops::FullyConnected::workspace_bytes(p, In.n, 1)) +
                        " bytes of scratch, the static count is " + std::to_string(workspace_bytes));
      return p;
    }
    static Status check(const Plan& p, ConstTensorView x, ConstTensorView y, const Context& ctx) {
      return ops::FullyConnected::check(p, x, y, ctx);
    }
    static void run(const Plan& p, ConstTensorView x, TensorView y, const Context& ctx) noexcept {
      ops::FullyConnected::run(p, x, y, ctx);
    }
  };
};

}  // namespace layers

// ---- the network -----------------------------------------------------------------------------------------------

namespace detail {
/// Binds each layer to the output shape of the one before: std::tuple<L0::At<in>, L1::At<L0 out>, ...>.
template <Dims In, class... Layers>
struct BindStaticLayers {
  using type = std::tuple<>;
};
template <Dims In, class L, class... Rest>
struct BindStaticLayers<In, L, Rest...> {
  using Bound = typename L::template At<In>;
  using type = decltype(std::tuple_cat(std::declval<std::tuple<Bound>>(),
                                       std::declval<typename BindStaticLayers<Bound::output, Rest...>::type>()));
};

template <class Bound>
struct StaticPlans;
template <class... Bs>
struct StaticPlans<std::tuple<Bs...>> {
  using type = std::tuple<typename Bs::Plan...>;
  static constexpr bool all_layers = (StaticLayer<Bs> && ...);
};

constexpr std::size_t activation_bytes(Dims d, Layout l) noexcept {
  return static_cast<std::size_t>(storage_elements(d.shape(), l)) * sizeof(float);
}

/// Where every tensor of a static network lives: layer K reads buffer in_buffer[K] in in_layout[K] (after a
/// conversion from the other buffer when converts[K]) and writes the other buffer in out_layout[K].
template <std::size_t Depth>
struct StaticSchedule {
  std::array<Dims, Depth> in_dims{};
  std::array<Layout, Depth> in_layout{}, out_layout{};
  std::array<int, Depth> in_buffer{};
  std::array<bool, Depth> converts{};
  int output_buffer = 0;
  std::size_t largest_tensor = 0, workspace = 0;
};

template <Dims Input, class Bound>
struct ScheduleOf;
template <Dims Input, class... Bs>
struct ScheduleOf<Input, std::tuple<Bs...>> {
  static constexpr StaticSchedule<sizeof...(Bs)> value = [] {
    StaticSchedule<sizeof...(Bs)> s;
    Dims dims = Input;
    using First = std::tuple_element_t<0, std::tuple<Bs...>>;
    Layout layout = First::input_layout(Layout::nchw);  // the caller's nchw input is converted straight into it
    int buffer = 0;
    std::size_t k = 0;
    s.largest_tensor = activation_bytes(dims, layout);
    auto step = [&]<class B>() {
      const Layout wanted = B::input_layout(layout);
      s.converts[k] = wanted != layout;
      if (s.converts[k])
        buffer = 1 - buffer, s.largest_tensor = std::max(s.largest_tensor, activation_bytes(dims, wanted));
      s.in_dims[k] = dims, s.in_layout[k] = wanted, s.in_buffer[k] = buffer;
      dims = B::output, layout = B::output_layout(wanted), buffer = 1 - buffer;
      s.out_layout[k] = layout;
      s.largest_tensor = std::max(s.largest_tensor, activation_bytes(dims, layout));
      s.workspace = std::max<std::size_t>(s.workspace, B::workspace_bytes);
      ++k;
    };
    (step.template operator()<Bs>(), ...);
    s.output_buffer = buffer;
    return s;
  }();
};
}  // namespace detail

/// A sequential network of `Layers` on one input of `In` (an Input<N, C, H, W>). Two activation buffers take
/// turns (each layer reads one and writes the other) and a scratch area follows; all three are sized at compile
/// time from the layers' shapes in the layouts they use, so `arena_bytes` is exact for this target's primitives.
/// Where consecutive layers disagree on layout a conversion runs into the other buffer first. The input is
/// converted from the caller's nchw into buffer 0, the output from the last buffer into the caller's nchw.
/// One thread; a StaticNetwork is not reentrant (run() writes its arena).
template <class In, class... Layers>
class StaticNetwork {
  using Bound = typename detail::BindStaticLayers<In::dims, Layers...>::type;
  static_assert(sizeof...(Layers) > 0, "a network needs at least one layer");
  static_assert(detail::StaticPlans<Bound>::all_layers, "every bound layer must satisfy StaticLayer");

 public:
  /// Layer K bound to its input shape (layer<K>::output, ::name, ::workspace_bytes, ...).
  template <std::size_t K>
  using layer = std::tuple_element_t<K, Bound>;
  static constexpr std::size_t depth = sizeof...(Layers);
  static constexpr Dims input_dims = In::dims;
  static constexpr Dims output_dims = layer<depth - 1>::output;
  /// Floats run() reads and writes (nchw).
  static constexpr std::size_t input_size = static_cast<std::size_t>(input_dims.elements());
  static constexpr std::size_t output_size = static_cast<std::size_t>(output_dims.elements());

 private:
  static constexpr auto schedule = detail::ScheduleOf<input_dims, Bound>::value;
  static_assert(!schedule.converts[0], "a layer's input_layout() must keep the layout it asks for");

 public:
  /// Bytes of each activation buffer and of the scratch area (multiples of tensor_alignment).
  static constexpr std::size_t buffer_bytes = detail::align_bytes(static_cast<std::int64_t>(schedule.largest_tensor));
  static constexpr std::size_t workspace_bytes = detail::align_bytes(static_cast<std::int64_t>(schedule.workspace));
  /// The memory init() needs, aligned to tensor_alignment: `alignas(tensor_alignment) static std::byte
  /// arena[Net::arena_bytes];`
  static constexpr std::size_t arena_bytes = 2 * buffer_bytes + workspace_bytes;
  /// Layout conversions run per inference (between layers, not counting the input's and the output's).
  static constexpr int conversions = [] {
    int n = 0;
    for (bool c : schedule.converts) n += c;
    return n;
  }();

  StaticNetwork() = default;
  StaticNetwork(const StaticNetwork&) = delete;  // a copy would share the arena
  StaticNetwork& operator=(const StaticNetwork&) = delete;

  /// Plans every layer (packs its weights: allocates, once) and checks every view run() will use on `arena`,
  /// which must hold arena_bytes and be aligned to tensor_alignment; the network keeps using it. Fails with the
  /// layer's index and primitive in the error. May be called again (it replans).
  Status init(std::span<std::byte> arena) {
    arena_ = nullptr;
    PRIMSEL_CHECK(arena.size() >= arena_bytes, ErrorCode::out_of_memory,
                  "the arena has " + std::to_string(arena.size()) + " bytes; this network needs " +
                      std::to_string(arena_bytes) + " (StaticNetwork::arena_bytes)");
    PRIMSEL_CHECK(reinterpret_cast<std::uintptr_t>(arena.data()) % tensor_alignment == 0, ErrorCode::invalid_argument,
                  "the arena must be aligned to " + std::to_string(tensor_alignment) + " bytes");
    Status status;
    auto plan_layer = [&]<std::size_t K>() {
      if (!status) return;
      auto plan = layer<K>::plan();
      Status s =
          plan ? layer<K>::check(*plan, input_of<K>(arena.data()), output_of<K>(arena.data()), context(arena.data()))
               : plan.status();
      if (!s) {
        status = std::move(s).error().with_context({std::string(layer<K>::name), "layer " + std::to_string(K), {}});
        return;
      }
      std::get<K>(plans_) = std::move(*plan);
    };
    [&]<std::size_t... K>(std::index_sequence<K...>) { (plan_layer.template operator()<K>(), ...); }
    (std::make_index_sequence<depth>{});
    if (status) arena_ = arena.data();
    return status;
  }

  /// Whether init() has succeeded.
  bool ready() const noexcept { return arena_ != nullptr; }

  /// One inference: `x` nchw (input_size floats) to `y` nchw (output_size floats). Allocates nothing; the only
  /// error is running before a successful init(). Denormals are flushed to zero meanwhile where primsel can (x86,
  /// aarch64; on a Cortex-M, FPSCR.FZ is the firmware's to set).
  Status run(std::span<const float, input_size> x, std::span<float, output_size> y) {
    PRIMSEL_CHECK(ready(), ErrorCode::invalid_argument, "StaticNetwork::run() before a successful init()");
    ScopedFlushDenormals flush;
    relayout(ConstTensorView(reinterpret_cast<const std::byte*>(x.data()), input_dims.shape()),
             view(arena_, 0, input_dims, schedule.in_layout[0]));
    const Context ctx = context(arena_);
    [&]<std::size_t... K>(std::index_sequence<K...>) { (run_layer<K>(ctx), ...); }
    (std::make_index_sequence<depth>{});
    relayout(view(arena_, schedule.output_buffer, output_dims, schedule.out_layout[depth - 1]),
             TensorView(reinterpret_cast<std::byte*>(y.data()), output_dims.shape()));
    return {};
  }

 private:
  static TensorView view(std::byte* arena, int buffer, Dims d, Layout l) noexcept {
    return {arena + static_cast<std::size_t>(buffer) * buffer_bytes, d.shape(), Format{l}};
  }
  template <std::size_t K>
  static TensorView input_of(std::byte* arena) noexcept {
    return view(arena, schedule.in_buffer[K], schedule.in_dims[K], schedule.in_layout[K]);
  }
  template <std::size_t K>
  static TensorView output_of(std::byte* arena) noexcept {
    return view(arena, 1 - schedule.in_buffer[K], layer<K>::output, schedule.out_layout[K]);
  }
  static Context context(std::byte* arena) noexcept {
    return {nullptr, std::span<std::byte>(arena + 2 * buffer_bytes, workspace_bytes)};
  }
  /// A layout conversion between views init() has checked: shapes and dtypes agree by construction, so it cannot
  /// fail (and builds no error message, so allocates nothing).
  static void relayout(ConstTensorView from, TensorView to) noexcept { static_cast<void>(convert(from, to)); }

  template <std::size_t K>
  void run_layer(const Context& ctx) noexcept {
    if constexpr (schedule.converts[K])
      relayout(view(arena_, 1 - schedule.in_buffer[K], schedule.in_dims[K], schedule.out_layout[K - 1]),
               input_of<K>(arena_));
    layer<K>::run(std::get<K>(plans_), input_of<K>(arena_), output_of<K>(arena_), ctx);
  }

  typename detail::StaticPlans<Bound>::type plans_;
  std::byte* arena_ = nullptr;
};

}  // namespace primsel
