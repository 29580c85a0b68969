// InputFeatures: cheap features of an input image for choosing which network to run on it (the premodel's input).
// Every feature is one or two passes over the pixels (O(pixels), no allocation), so extracting them costs a small
// fraction of even a tiny CNN. The set follows Taylor et al., "Adaptive deep learning model selection on embedded
// systems" (LCTES 2018): intensity statistics, edges, shape moments, plus a coarse thumbnail that tells the kNN
// premodel which images look alike.
//
//   float f[InputFeatures::count];
//   InputFeatures::extract(image.view(), f);     // image: 1xCxHxW nchw f32, H, W >= 2
//   InputFeatures::names()[4] == "edge_density"
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <span>
#include <string_view>

#include "primsel/core/error.hpp"
#include "primsel/core/tensor.hpp"

namespace primsel::select {

struct InputFeatures {
  /// Cells per side of the thumbnail (features 14..29): the image's mean intensity over a 4x4 grid.
  static constexpr int grid = 4;
  static constexpr std::size_t count = 14 + grid * grid;
  /// Bump when a feature changes: premodel files record it and refuse another version's features.
  static constexpr int version = 1;

  /// Feature names, in order. Intensities are the channel mean of each pixel; (x, y) run over [0, 1].
  ///  0 brightness      mean intensity
  ///  1 contrast        standard deviation of intensity
  ///  2 skewness        third standardised moment of the intensity histogram (0 when contrast is 0)
  ///  3 kurtosis        fourth standardised moment (0 when contrast is 0)
  ///  4 edge_density    fraction of pixels whose forward-difference gradient exceeds 1/4 of the intensity range
  ///  5 gradient_mean   mean forward-difference gradient magnitude, divided by the intensity range
  ///  6 ink_fraction    fraction of pixels above the middle of the intensity range
  ///  7 centroid_x      8 centroid_y      intensity-weighted centre of mass (0.5 for a flat image)
  ///  9 spread_x       10 spread_y       intensity-weighted standard deviation of x and of y
  /// 11 covariance_xy   intensity-weighted covariance of x and y
  /// 12 asymmetry_lr    mean |I(x, y) - I(1 - x, y)| (left-right mirror difference)
  /// 13 asymmetry_tb    mean |I(x, y) - I(x, 1 - y)| (top-bottom mirror difference)
  /// 14..29 cell_<r><c> mean intensity of thumbnail cell (r, c), row-major
  static constexpr std::array<std::string_view, count> names() {
    return {"brightness",   "contrast",    "skewness",  "kurtosis",      "edge_density",  "gradient_mean",
            "ink_fraction", "centroid_x",  "centroid_y", "spread_x",     "spread_y",      "covariance_xy",
            "asymmetry_lr", "asymmetry_tb", "cell_00",  "cell_01",       "cell_02",       "cell_03",
            "cell_10",      "cell_11",     "cell_12",   "cell_13",       "cell_20",       "cell_21",
            "cell_22",      "cell_23",     "cell_30",   "cell_31",       "cell_32",       "cell_33"};
  }

  /// Why an input cannot be described, or empty: one nchw f32 image of at least 2x2 pixels.
  static std::string check(const ConstTensorView& x) {
    const Shape& s = x.shape();
    if (s.rank() != 4 || s[0] != 1 || s[1] < 1 || s[2] < 2 || s[3] < 2 || x.format() != Format{})
      return "features need one nchw f32 image 1xCxHxW with H, W >= 2, got " + to_string(s) + " " +
             to_string(x.format());
    return {};
  }

  /// Writes the `count` features of `x` to `out`. `x` must pass check() (the selector checks shapes once, up front).
  static void extract(const ConstTensorView& x, std::span<float, count> out) noexcept {
    const Shape& s = x.shape();
    const int c = static_cast<int>(s[1]), h = static_cast<int>(s[2]), w = static_cast<int>(s[3]);
    const float* p = x.data<float>();
    const std::size_t plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w);
    auto at = [&](int y, int xx) {  // channel mean: one luminance plane without a buffer
      const std::size_t i = static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(xx);
      double v = 0;
      for (int k = 0; k < c; ++k) v += p[static_cast<std::size_t>(k) * plane + i];
      return v / c;
    };
    const double n = static_cast<double>(plane);
    const double sx = 1.0 / (w - 1), sy = 1.0 / (h - 1);

    // Pass 1: range, mean, weighted centroid, mirror differences, thumbnail.
    double lo = at(0, 0), hi = lo, sum = 0, mx = 0, my = 0, lr = 0, tb = 0;
    std::array<double, grid * grid> cell{};
    std::array<double, grid * grid> cell_n{};
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < w; ++xx) {
        const double v = at(y, xx);
        lo = std::min(lo, v), hi = std::max(hi, v);
        sum += v, mx += v * xx * sx, my += v * y * sy;
        lr += std::abs(v - at(y, w - 1 - xx));
        tb += std::abs(v - at(h - 1 - y, xx));
        const std::size_t k = static_cast<std::size_t>(y * grid / h * grid + xx * grid / w);
        cell[k] += v, cell_n[k] += 1;
      }
    const double mean = sum / n;
    // Centre of mass of intensity above the minimum, so a constant background does not pull it to the middle.
    const double mass = sum - lo * n;
    const double cx = mass > 0 ? (mx - lo * n * 0.5) / mass : 0.5, cy = mass > 0 ? (my - lo * n * 0.5) / mass : 0.5;
    const double range = hi - lo;

    // Pass 2: central moments, gradients, ink, spatial spread.
    double m2 = 0, m3 = 0, m4 = 0, edges = 0, grad = 0, ink = 0, vx = 0, vy = 0, cxy = 0;
    for (int y = 0; y < h; ++y)
      for (int xx = 0; xx < w; ++xx) {
        const double v = at(y, xx), d = v - mean;
        m2 += d * d, m3 += d * d * d, m4 += d * d * d * d;
        const double gx = xx + 1 < w ? at(y, xx + 1) - v : 0.0, gy = y + 1 < h ? at(y + 1, xx) - v : 0.0;
        const double g = std::sqrt(gx * gx + gy * gy);
        grad += g;
        if (range > 0 && g > 0.25 * range) edges += 1;
        if (range > 0 && v > lo + 0.5 * range) ink += 1;
        const double wgt = v - lo, dx = xx * sx - cx, dy = y * sy - cy;
        vx += wgt * dx * dx, vy += wgt * dy * dy, cxy += wgt * dx * dy;
      }
    const double var = m2 / n, sd = std::sqrt(var);
    out[0] = static_cast<float>(mean);
    out[1] = static_cast<float>(sd);
    out[2] = static_cast<float>(var > 0 ? m3 / n / (var * sd) : 0.0);
    out[3] = static_cast<float>(var > 0 ? m4 / n / (var * var) : 0.0);
    out[4] = static_cast<float>(edges / n);
    out[5] = static_cast<float>(range > 0 ? grad / n / range : 0.0);
    out[6] = static_cast<float>(ink / n);
    out[7] = static_cast<float>(cx);
    out[8] = static_cast<float>(cy);
    out[9] = static_cast<float>(mass > 0 ? std::sqrt(vx / mass) : 0.0);
    out[10] = static_cast<float>(mass > 0 ? std::sqrt(vy / mass) : 0.0);
    out[11] = static_cast<float>(mass > 0 ? cxy / mass : 0.0);
    out[12] = static_cast<float>(lr / n);
    out[13] = static_cast<float>(tb / n);
    for (std::size_t k = 0; k < cell.size(); ++k) out[14 + k] = static_cast<float>(cell_n[k] > 0 ? cell[k] / cell_n[k] : 0.0);
  }
};

}  // namespace primsel::select
