// Features of a convolution layer run by a given primitive, for the latency predictor (latency_predictor.hpp).
// Mostly logarithms of sizes: CPU convolution time is close to a power law in the work and the bytes moved, so a
// linear model on log-features is a product of powers. Besides the layer's own sizes, each primitive gets its
// *work proxy* — the multiplies its algorithm performs, with channel-block and tile padding (Winograd's
// (m+2)^2 / m^2 per tile, the FFT's tiles x bins x IC x OC) — and the padding-waste terms that make a size that
// is not a multiple of a vector or register tile slower than its FLOPs say. Everything is cheap: no planning.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "primsel/core/format.hpp"
#include "primsel/graph/conv_desc.hpp"

namespace primsel::predict {

/// Index of each feature in LayerFeatures; `feature_names` spells them for reports and the serialised file.
enum Feature : int {
  f_log_macs,        ///< log multiply-accumulates of the direct algorithm
  f_log_in_bytes,    ///< log bytes of the input activation
  f_log_out_bytes,   ///< log bytes of the output activation
  f_log_w_bytes,     ///< log bytes of the weights
  f_log_ic,          ///< log input channels per group
  f_log_oc,          ///< log output channels per group
  f_log_spatial,     ///< log output pixels over the batch (n * oh * ow): a GEMM's N
  f_log_kernel,      ///< log kernel taps (kh * kw)
  f_log_stride,      ///< log stride area (sh * sw): strided reads waste cache lines
  f_depthwise,       ///< 1 for a depthwise layer
  f_grouped,         ///< 1 for a grouped, not depthwise, layer
  f_log_threads,     ///< log threads the layer runs on
  f_log_dtype,       ///< log bytes per element (f32: 4; int8: 1)
  f_block16_waste,   ///< log of channel padding to blocks of 16 (nchw16c): padded IC x OC over real IC x OC
  f_block8_waste,    ///< the same for blocks of 8 (nchw8c, AVX2/NEON)
  f_gemm_waste,      ///< log of GEMM register-tile padding: M = OC/g to 6 rows, N = pixels to 16 columns
  f_log_k,           ///< log GEMM reduction length K = IC/g * kh * kw
  f_log_proxy,       ///< log of the primitive's work proxy (multiplies its algorithm does, padding included)
  f_proxy_saving,    ///< log(proxy / macs): < 0 for fast algorithms (Winograd, FFT), > 0 for padded ones
  f_tile_waste,      ///< log of Winograd/FFT output-tile padding: tiled pixels over real pixels (0 otherwise)
  f_log_copy_bytes,  ///< log bytes an im2col unrolling would write (K x N floats; 0 for a 1x1 stride-1 layer)
  feature_count
};

inline constexpr std::array<std::string_view, feature_count> feature_names = {
    "log_macs",     "log_in_bytes", "log_out_bytes", "log_w_bytes", "log_ic",       "log_oc",     "log_spatial",
    "log_kernel",   "log_stride",   "depthwise",     "grouped",     "log_threads",  "log_dtype",  "block16_waste",
    "block8_waste", "gemm_waste",   "log_k",         "log_proxy",   "proxy_saving", "tile_waste", "log_copy_bytes"};

using LayerFeatures = std::array<double, feature_count>;

namespace detail {

inline double round_up(double x, double m) { return std::ceil(x / m) * m; }
inline double safe_log(double x) { return std::log(std::max(x, 1.0)); }

/// Winograd F(m, 3)'s output tile from the primitive name (winograd_f23 -> 2), 0 for any other name.
inline int winograd_m(std::string_view primitive) {
  if (!primitive.starts_with("winograd_f") || primitive.size() < 11) return 0;
  const char c = primitive[10];
  return c >= '2' && c <= '9' ? c - '0' : 0;
}

/// The FFT's work: the cheapest of tile sizes 8, 16, 32 (as fft_conv.hpp chooses) of forward/inverse transforms
/// (~T^2 log T per channel and tile) plus the per-bin complex channel GEMM; strides become IC * s^2 channels of a
/// stride-1 problem (polyphase). Also returns the tile padding (tiled over real output pixels).
inline std::array<double, 2> fft_work(const ConvDesc& d) {
  const double kh = std::ceil(double(d.dh * (d.kh - 1) + 1) / double(d.sh));
  const double kw = std::ceil(double(d.dw * (d.kw - 1) + 1) / double(d.sw));
  const double icp = double(d.ic * d.sh * d.sw), oc = double(d.oc);
  std::array<double, 2> best{0, 1};
  for (double t : {8.0, 16.0, 32.0}) {
    const double mh = t - kh + 1, mw = t - kw + 1;
    if (mh < 1 || mw < 1) continue;
    const double ty = std::ceil(double(d.oh) / mh), tx = std::ceil(double(d.ow) / mw);
    const double tiles = double(d.n) * ty * tx;
    const double work = tiles * ((icp + oc) * t * t * std::log2(t) + t * (t / 2 + 1) * icp * oc * 4);
    if (best[0] == 0 || work < best[0]) best = {work, ty * mh * tx * mw / double(d.oh * d.ow)};
  }
  return best;
}

}  // namespace detail

/// The work proxy of `primitive` on layer `d` (multiplies, padding included) and its output-tile padding ratio.
/// Unknown primitives get the direct algorithm's MACs: the predictor then leans on the other features.
inline std::array<double, 2> work_proxy(const ConvDesc& d, std::string_view primitive) {
  using detail::round_up;
  const double macs = double(std::max<std::int64_t>(d.macs(), 1));
  const double px = double(d.n * d.oh * d.ow), taps = double(d.kh * d.kw);
  if (const int m = detail::winograd_m(primitive); m > 0) {
    const double a = m + 2, tiles = double(d.n) * std::ceil(double(d.oh) / m) * std::ceil(double(d.ow) / m);
    const double ic = round_up(double(d.ic), 16), oc = round_up(double(d.oc), 16);
    // channel GEMMs on alpha^2 planes + input and output transforms (~2 alpha^3 flops per tile and channel)
    const double work = tiles * a * a * ic * oc + tiles * 2 * a * a * a * (ic + oc);
    return {work, tiles * m * m / px};
  }
  if (primitive == "fft_conv") return detail::fft_work(d);
  if (primitive == "direct_nchwc")
    return {double(d.n * d.oh * d.ow) * round_up(double(d.oc), 16) * round_up(double(d.ic), 16) * taps, 1};
  if (primitive == "direct_small_ic") return {px * round_up(double(d.oc), 16) * double(d.ic) * taps, 1};
  if (primitive == "depthwise_nchwc") return {px * round_up(double(d.oc), 16) * taps, 1};
  return {macs, 1};
}

/// The features of layer `d` run by `primitive` on `threads` threads with elements of `dtype`.
inline LayerFeatures layer_features(const ConvDesc& d, std::string_view primitive, int threads,
                                    DType dtype = DType::f32) {
  using detail::round_up;
  using detail::safe_log;
  const double es = double(size_of(dtype));
  const double icg = double(std::max<std::int64_t>(d.ic_per_group(), 1));
  const double ocg = double(std::max<std::int64_t>(d.oc_per_group(), 1));
  const double px = double(std::max<std::int64_t>(d.n * d.oh * d.ow, 1));
  const double taps = double(d.kh * d.kw), k = icg * taps;
  const double macs = double(std::max<std::int64_t>(d.macs(), 1));
  // A depthwise layer pads its channels once (IC = OC = one block sequence); others pad both sides.
  const double real = d.is_depthwise() ? double(d.oc) : icg * ocg;
  auto padded = [&](double b) {
    return d.is_depthwise() ? round_up(double(d.oc), b) : round_up(icg, b) * round_up(ocg, b);
  };
  const auto [proxy, tile] = work_proxy(d, primitive);
  LayerFeatures f{};
  f[f_log_macs] = safe_log(macs);
  f[f_log_in_bytes] = safe_log(double(d.input_elements()) * es);
  f[f_log_out_bytes] = safe_log(double(d.output_elements()) * es);
  f[f_log_w_bytes] = safe_log(double(d.weight_elements()) * es);
  f[f_log_ic] = safe_log(icg);
  f[f_log_oc] = safe_log(ocg);
  f[f_log_spatial] = safe_log(px);
  f[f_log_kernel] = safe_log(taps);
  f[f_log_stride] = safe_log(double(d.sh * d.sw));
  f[f_depthwise] = d.is_depthwise() && d.groups > 1 ? 1 : 0;
  f[f_grouped] = d.groups > 1 && !d.is_depthwise() ? 1 : 0;
  f[f_log_threads] = safe_log(double(std::max(threads, 1)));
  f[f_log_dtype] = std::log(es);
  f[f_block16_waste] = std::log(padded(16) / real);
  f[f_block8_waste] = std::log(padded(8) / real);
  f[f_gemm_waste] = std::log(round_up(ocg, 6) / ocg * round_up(px, 16) / px);
  f[f_log_k] = safe_log(k);
  f[f_log_proxy] = safe_log(proxy);
  f[f_proxy_saving] = std::log(std::max(proxy, 1.0) / macs);
  f[f_tile_waste] = std::log(std::max(tile, 1.0));
  f[f_log_copy_bytes] = d.is_pointwise() ? 0.0 : safe_log(k * px * es);
  return f;
}

}  // namespace primsel::predict
