// Winograd F(m x m, 3 x 3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016):
// each (m + 2)^2 input tile is transformed (V = B^T d B), multiplied element-wise with the transformed filters
// (U = G g G^T) and summed over input channels, and transformed back (Y = A^T M A) into an m x m output tile.
// A 3x3 stride-1 layer then needs (m + 2)^2 / (9 m^2) of the direct multiplications: 0.44 for F(2,3), 0.25 for
// F(4,3), 0.20 for F(6,3) — paid for with transforms and with fp32 rounding that grows with m.
//
// Layout of the work, as in NNPACK and oneDNN's Winograd: tiles are taken a block at a time per thread. The input
// transform runs on the channel-blocked layout (one SIMD vector = one channel block, so every transform is plain
// vector adds), writing V[xi][tile][ic]; the channel sum is then alpha^2 independent GEMMs
// M[xi] (tiles x OC) = V[xi] (tiles x IC) * U[xi] (IC x OC) on the GEMM core, U packed once at plan time and V
// read in place by the micro-kernel (packing it cost ~18% of F(4,3) at 64 channels); the output transform reads
// M[xi][tile][oc block] as vectors again and fuses bias and the activation.
// The transforms are generated at compile time from the constant matrices below, skipping zero coefficients and
// turning +-1 into adds, so one template serves F(2,3), F(4,3) and F(6,3).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "primsel/core/simd.hpp"
#include "primsel/primitives/concept.hpp"
#include "primsel/primitives/depthwise.hpp"
#include "primsel/primitives/gemm/sgemm.hpp"

namespace primsel {

namespace winograd {

/// The F(m, 3) matrices: B^T (alpha x alpha), G (alpha x 3), A^T (m x alpha), alpha = m + 2. Interpolation
/// points 0, +-1 (F2); 0, +-1, +-2 (F4); 0, +-1, +-2, +-1/2 (F6); and infinity. The tests check the 1-D identity
/// A^T [(G g) . (B^T d)] = correlation(d, g) for each.
template <int M>
struct Matrices;

template <>
struct Matrices<2> {
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};

template <>
struct Matrices<4> {
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr double G[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                     {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                     {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

template <>
struct Matrices<6> {
  static constexpr float BT[8][8] = {
      {1, 0, -5.25f, 0, 5.25f, 0, -1, 0},       {0, 1, 1, -4.25f, -4.25f, 1, 1, 0},
      {0, -1, 1, 4.25f, -4.25f, -1, 1, 0},      {0, 0.5f, 0.25f, -2.5f, -1.25f, 2, 1, 0},
      {0, -0.5f, 0.25f, 2.5f, -1.25f, -2, 1, 0}, {0, 2, 4, -2.5f, -5, 0.5f, 1, 0},
      {0, -2, 4, 2.5f, -5, -0.5f, 1, 0},        {0, -1, 0, 5.25f, 0, -5.25f, 0, 1}};
  static constexpr double G[8][3] = {{1, 0, 0},
                                     {-2.0 / 9, -2.0 / 9, -2.0 / 9},
                                     {-2.0 / 9, 2.0 / 9, -2.0 / 9},
                                     {1.0 / 90, 1.0 / 45, 2.0 / 45},
                                     {1.0 / 90, -1.0 / 45, 2.0 / 45},
                                     {32.0 / 45, 16.0 / 45, 8.0 / 45},
                                     {32.0 / 45, -16.0 / 45, 8.0 / 45},
                                     {0, 0, 1}};
  static constexpr float AT[6][8] = {{1, 1, 1, 1, 1, 1, 1, 0},
                                     {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
                                     {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
                                     {0, 1, -1, 8, -8, 0.125f, -0.125f, 0},
                                     {0, 1, 1, 16, 16, 0.0625f, 0.0625f, 0},
                                     {0, 1, -1, 32, -32, 0.03125f, -0.03125f, 1}};
};

/// out[i * os] = sum_j Mat[i][j] * in[j * is] for a constant matrix, unrolled at compile time: zero coefficients
/// vanish, +-1 become adds/subtracts, the rest are FMAs. Works on SIMD vectors (or floats).
template <const auto& Mat, int Rows, int Cols, class V>
inline void apply(const V* in, std::int64_t is, V* out, std::int64_t os) noexcept {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((out[I * os] = [&]<int... J>(std::integer_sequence<int, J...>) {
       constexpr int first = [] {
         for (int j = 0; j < Cols; ++j)
           if (Mat[I][j] != 0.0f) return j;
         return Cols;
       }();
       V acc(0.0f);
       auto term = [&]<int Jj>() {
         constexpr float c = Mat[I][Jj];
         const V& x = in[Jj * is];
         if constexpr (c == 0.0f)
           return;
         else if constexpr (Jj == first)
           acc = c == 1.0f ? x : c == -1.0f ? -x : V(c) * x;
         else if constexpr (c == 1.0f)
           acc = acc + x;
         else if constexpr (c == -1.0f)
           acc = acc - x;
         else
           acc = simd::fma(V(c), x, acc);
       };
       (term.template operator()<J>(), ...);
       return acc;
     }(std::make_integer_sequence<int, Cols>{})),
     ...);
  }(std::make_integer_sequence<int, Rows>{});
}

}  // namespace winograd

/// F(M x M, 3 x 3) Winograd convolution for 3x3, stride 1, dilation 1, ungrouped layers, any padding and channels.
template <int M>
struct Winograd {
  static_assert(M == 2 || M == 4 || M == 6, "F(2,3), F(4,3) and F(6,3) are provided");
  static constexpr std::string_view name = M == 2 ? "winograd_f23" : M == 4 ? "winograd_f43" : "winograd_f63";
  static constexpr int alpha = M + 2;
  static constexpr int alpha2 = alpha * alpha;
  using Mat = winograd::Matrices<M>;
  static constexpr std::int64_t block = channel_block(native_blocked_layout);
  static constexpr std::int64_t W = static_cast<std::int64_t>(simd::width);
  static constexpr std::int64_t vecs = block / W;

  struct Plan {
    ConvDesc desc;
    std::vector<gemm::PackedB> u;  // alpha^2 transformed filters, each IC x OCp
    Tensor bias;                   // [OCp], zero past OC and when the layer has none
    bool streamed = false;         // U's GEMMs prefetch it (streams_filters)
  };

  static Support supports(const ConvDesc& d) {
    if (d.kh != 3 || d.kw != 3) return Support::no("kernel is not 3x3");
    if (d.sh != 1 || d.sw != 1) return Support::no("stride is not 1");
    if (d.dh != 1 || d.dw != 1) return Support::no("dilated");
    if (d.groups != 1) return Support::no("grouped");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return {native_blocked_layout}; }
  static Format output_format(const ConvDesc&) { return {native_blocked_layout}; }

  static std::int64_t padded(std::int64_t c) noexcept { return (c + block - 1) / block * block; }
  static std::int64_t tiles_h(const ConvDesc& d) noexcept { return (d.oh + M - 1) / M; }
  static std::int64_t tiles_w(const ConvDesc& d) noexcept { return (d.ow + M - 1) / M; }
  static std::int64_t total_tiles(const ConvDesc& d) noexcept { return d.n * tiles_h(d) * tiles_w(d); }

  /// Tiles transformed and multiplied together. Every block streams all alpha^2 transformed filters U through its
  /// GEMMs, so the choice is between blocks whose V and M stay near the L2 cache (about 1 MiB; right when U is
  /// small and stays cached too) and one block per thread, up to 8 MiB of V and M, that streams a large U (9.4 MB
  /// for F(4,3) at 256 channels) once per thread (or once in all: shares_one_block). Estimated traffic: blocks x
  /// |U|, plus V and M written and read once when they outgrow L2, weighted 1/4 (sequential streams, cheap next to U read inside the GEMM kernel).
  /// Measured (Xeon, 1 thread, F(4,3)): 512 ch @ 28x28 34 -> 18 ms, 128 ch @ 112x112 18.5 -> 15.5 ms; 64 ch
  /// layers keep the cached blocks (larger ones measured slower at 224x224).
  static constexpr std::int64_t cache_budget = 1 << 20;
  static std::int64_t tiles_per_block(const ConvDesc& d, int threads) noexcept {
    constexpr std::int64_t budget = cache_budget, max_scratch = 8 << 20, mr = gemm::MR;
    const std::int64_t per_tile = alpha2 * (padded(d.ic) + padded(d.oc)) * 4, total = total_tiles(d);
    const std::int64_t per_thread = std::max<std::int64_t>(1, (total + threads - 1) / std::max(threads, 1));
    const std::int64_t cached = std::min(per_thread, std::clamp<std::int64_t>(budget / per_tile / mr * mr, 2 * mr, 16 * mr));
    // The large blocks of all threads together stay within max_scratch: they spill to the L3 the cores share.
    // (Zen 5, 2 threads: vgg16 64@224, 64->128@112 and 128@112 1.10-1.16x faster than 8 MiB per thread.)
    const std::int64_t large =
        std::max(cached, std::min(per_thread, max_scratch / std::max(threads, 1) / per_tile / mr * mr));
    auto traffic = [&](std::int64_t tb) {
      const double blocks = static_cast<double>((total + tb - 1) / tb);
      const double spill = tb * per_tile > budget ? 0.5 * static_cast<double>(total * per_tile) : 0.0;
      return blocks * static_cast<double>(weight_bytes(d)) + spill;
    };
    return traffic(large) < traffic(cached) ? large : cached;
  }

  /// Floats from one V (or M) plane to the next: tb rows of cp floats, rounded to an odd number of cache lines. A
  /// tile's alpha^2 values lie a plane apart; a plane of a multiple of 4 KiB put all of them in one L1 set (blocks of
  /// 48 or 96 tiles at 64 channels ran 1.2-1.35x slower than 54 on Zen 5), an odd number of lines spreads them
  /// over alpha^2 sets.
  static std::int64_t plane_floats(std::int64_t tb, std::int64_t cp) noexcept {
    constexpr std::int64_t line = 16;
    return ((tb * cp + line - 1) / line | 1) * line;
  }
  // Per-thread scratch, in floats: V [alpha^2][tb][ICp], M [alpha^2][tb][OCp], planes plane_floats apart.
  static std::int64_t v_floats(const ConvDesc& d, std::int64_t tb) noexcept {
    return alpha2 * plane_floats(tb, padded(d.ic));
  }
  static std::int64_t m_floats(const ConvDesc& d, std::int64_t tb) noexcept {
    return alpha2 * plane_floats(tb, padded(d.oc));
  }
  static std::int64_t thread_floats(const ConvDesc& d, std::int64_t tb) noexcept {
    return gemm::round_up(v_floats(d, tb) + m_floats(d, tb), 16);
  }
  /// The plan's transformed filters (alpha^2 matrices of IC x OCp floats) and padded bias: what the network's
  /// memory budget counts.
  static std::size_t weight_bytes(const ConvDesc& d) {
    return static_cast<std::size_t>((alpha2 * d.ic + 1) * padded(d.oc)) * sizeof(float);
  }

  /// With several threads and filters so large that one thread would take every tile in one block, the threads
  /// share that block instead of splitting the tiles: the input transform is split over tiles, the alpha^2 GEMMs
  /// over xi (each thread streams its share of U, so U is read once in all rather than once per thread), the output
  /// transform over tiles again.
  /// (Small filters stay cached: a few tiles per thread then beat the passes' two extra barriers.)
  static bool shares_one_block(const ConvDesc& d, int threads) noexcept {
    return threads > 1 && weight_bytes(d) > static_cast<std::size_t>(cache_budget) &&
           tiles_per_block(d, 1) == total_tiles(d);
  }
  /// Transformed filters larger than the cache budget come from L3 or memory on every block: their GEMMs prefetch
  /// the next panel of U while computing with the current one (gemm::sgemm_prepacked_streamed). Measured
  /// (Xeon, 1 thread, F(4,3), winograd_paired_bench, loaded machine): vgg16 512 ch @ 14x14 (16 tiles, 37.7 MB
  /// of U) 1.49-1.59x faster, resnet18 512 @ 7 1.42-1.65x, 256 @ 14 1.04-1.10x; with U cached (64 channels,
  /// 0.6 MB) streaming costs 0-6%, hence the threshold.
  static bool streams_filters(const ConvDesc& d) noexcept {
    return weight_bytes(d) > static_cast<std::size_t>(cache_budget);
  }
  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    const std::int64_t total = total_tiles(d);
    if (shares_one_block(d, threads))
      return static_cast<std::size_t>((v_floats(d, total) + m_floats(d, total)) * 4);
    return static_cast<std::size_t>(thread_floats(d, tiles_per_block(d, threads)) * 4 * std::max(threads, 1));
  }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_CHECK(w.weight.shape() == Shape({d.oc, d.ic, 3, 3}), ErrorCode::shape_mismatch,
                  "weight is " + to_string(w.weight.shape()) + " for layer " + to_string(d));
    const std::int64_t ocp = padded(d.oc);
    Plan p{d, {}, {}};
    // U[xi][ic][oc] = (G g G^T)[xi] per (oc, ic), computed in double (paid once) and written straight into the
    // alpha^2 packed GEMM operands, NR output channels at a time: no intermediate copy (fresh pages are costly)
    // and no alpha^2 interleaved write streams (their 4 KiB-aligned starts would share cache sets).
    p.u.reserve(alpha2);
    for (int xi = 0; xi < alpha2; ++xi) {
      PRIMSEL_ASSIGN_OR_RETURN(gemm::PackedB packed, gemm::PackedB::zeros(d.ic, ocp));
      p.u.push_back(std::move(packed));
    }
    const float* g = w.weight.data<float>();
    constexpr std::int64_t nr = gemm::NR;
    std::vector<float> rows(static_cast<std::size_t>(alpha2 * nr));
    for (std::int64_t i = 0; i < d.ic; ++i)
      for (std::int64_t o0 = 0; o0 < ocp; o0 += nr) {
        std::fill(rows.begin(), rows.end(), 0.0f);
        for (std::int64_t o = o0; o < std::min(d.oc, o0 + nr); ++o) {
          const float* k = g + (o * d.ic + i) * 9;
          double gk[alpha][3] = {};  // G g
          for (int a = 0; a < alpha; ++a)
            for (int c = 0; c < 3; ++c)
              for (int r = 0; r < 3; ++r) gk[a][c] += Mat::G[a][r] * k[r * 3 + c];
          for (int a = 0; a < alpha; ++a)
            for (int b = 0; b < alpha; ++b) {
              double v = 0;
              for (int c = 0; c < 3; ++c) v += gk[a][c] * Mat::G[b][c];
              rows[static_cast<std::size_t>((a * alpha + b) * nr + (o - o0))] = static_cast<float>(v);
            }
        }
        for (int xi = 0; xi < alpha2; ++xi)
          std::memcpy(p.u[static_cast<std::size_t>(xi)].row(i, o0), rows.data() + xi * nr, nr * sizeof(float));
      }
    PRIMSEL_ASSIGN_OR_RETURN(p.bias, plan_bias(d, w, ocp));
    p.streamed = streams_filters(d);
    return p;
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const int threads = ctx.threads();
    if (ctx.pool && shares_one_block(d, threads)) return run_shared(p, in, out, ctx);
    const std::int64_t tb = tiles_per_block(d, threads), total = total_tiles(d);
    // Each thread takes an equal share of the tiles and works through it in blocks of at most tb. (Handing whole
    // blocks to the threads left one with a block more: 7 blocks of 450 tiles at 224x224 ran as 4 + 3, 1.50x on 2
    // threads.)
    const int shares = ctx.pool && threads > 1 ? static_cast<int>(std::min<std::int64_t>(threads, total)) : 1;
    auto work = [&](std::int64_t s0, std::int64_t s1, int t) {
      float* scratch = reinterpret_cast<float*>(ctx.workspace.data()) + thread_floats(d, tb) * t;
      for (std::int64_t s = s0; s < s1; ++s) {
        const std::int64_t t0 = total * s / shares, t1 = total * (s + 1) / shares;
        const std::int64_t blocks = (t1 - t0 + tb - 1) / tb;
        const std::int64_t step = std::min(tb, gemm::round_up((t1 - t0 + blocks - 1) / blocks, gemm::MR));
        for (std::int64_t b = t0; b < t1; b += step) tile_block(p, in, out, b, std::min(t1, b + step), tb, scratch);
      }
    };
    if (shares > 1 && ctx.pool)
      ctx.pool->parallel_for(shares, work);
    else
      work(0, 1, 0);
  }

 private:
  struct TilePos {
    std::int64_t n, y, x;  // image, top-left output row and column
  };
  /// A block's V and M: where they start and the floats from one plane to the next (plane_floats of the block's
  /// rows, derived once per block).
  struct Planes {
    float* v;
    float* m;
    std::int64_t v_stride, m_stride;
    static Planes of(const ConvDesc& d, float* scratch, std::int64_t rows) noexcept {
      return {scratch, scratch + alpha2 * plane_floats(rows, padded(d.ic)), plane_floats(rows, padded(d.ic)),
              plane_floats(rows, padded(d.oc))};
    }
  };
  static TilePos position(const ConvDesc& d, std::int64_t t) noexcept {
    const std::int64_t th = tiles_h(d), tw = tiles_w(d);
    return {t / (th * tw), (t / tw % th) * M, t % tw * M};
  }

  /// Every tile as one block shared by the pool's threads (see shares_one_block): three passes, each a parallel_for.
  static void run_shared(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t total = total_tiles(d), icp = padded(d.ic), ocp = padded(d.oc);
    const Planes pl = Planes::of(d, reinterpret_cast<float*>(ctx.workspace.data()), total);
    const float* bias = p.bias.template data<float>();
    ctx.pool->parallel_for(total, [&](std::int64_t t0, std::int64_t t1, int) {
      for (std::int64_t t = t0; t < t1; ++t)
        transform_input(d, in.data<float>(), position(d, t), pl.v + t * icp, pl.v_stride);
    });
    ctx.pool->parallel_for(alpha2, [&](std::int64_t x0, std::int64_t x1, int) {
      for (std::int64_t xi = x0; xi < x1; ++xi) multiply(p, xi, pl, total);
    });
    ctx.pool->parallel_for(total, [&](std::int64_t t0, std::int64_t t1, int) {
      for (std::int64_t t = t0; t < t1; ++t)
        transform_output(d, pl.m + t * ocp, pl.m_stride, bias, position(d, t), out.data<float>());
    });
  }

  /// Tiles [t0, t1): input transform, alpha^2 GEMMs, output transform.
  static void tile_block(const Plan& p, ConstTensorView in, TensorView out, std::int64_t t0, std::int64_t t1,
                         std::int64_t tb, float* scratch) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t icp = padded(d.ic), ocp = padded(d.oc), count = t1 - t0;
    const Planes pl = Planes::of(d, scratch, tb);
    const float* bias = p.bias.template data<float>();
    for (std::int64_t t = t0; t < t1; ++t)
      transform_input(d, in.data<float>(), position(d, t), pl.v + (t - t0) * icp, pl.v_stride);
    for (std::int64_t xi = 0; xi < alpha2; ++xi) multiply(p, xi, pl, count);
    for (std::int64_t t = t0; t < t1; ++t)
      transform_output(d, pl.m + (t - t0) * ocp, pl.m_stride, bias, position(d, t), out.data<float>());
  }

  /// M[xi] (count x OCp) = V[xi] (count x IC) * U[xi], on the block's planes.
  static void multiply(const Plan& p, std::int64_t xi, const Planes& pl, std::int64_t count) noexcept {
    const std::int64_t icp = padded(p.desc.ic), ocp = padded(p.desc.oc);
    const auto a = gemm::AOperand::rows(pl.v + xi * pl.v_stride, icp);  // IC of each row; padding unread
    float* m = pl.m + xi * pl.m_stride;
    const gemm::PackedB& u = p.u[static_cast<std::size_t>(xi)];
    if (p.streamed)
      gemm::sgemm_prepacked_streamed(a, count, u, m, ocp, {});
    else
      gemm::sgemm_prepacked(a, count, u, m, ocp, {});
  }

  /// V[xi][ic] for one tile, every channel block: xi-th plane at v + xi * v_stride.
  static void transform_input(const ConvDesc& d, const float* x, TilePos tile, float* v, std::int64_t v_stride) noexcept {
    using simd::FloatVec;
    const std::int64_t y0 = tile.y - d.pads.top, x0 = tile.x - d.pads.left;
    const std::int64_t icb = (d.ic + block - 1) / block;
    for (std::int64_t cb = 0; cb < icb; ++cb) {
      const float* plane = x + ((tile.n * icb + cb) * d.ih) * d.iw * block;
      for (std::int64_t lane = 0; lane < vecs; ++lane) {
        FloatVec dt[alpha2], tmp[alpha2];
        for (int r = 0; r < alpha; ++r) {
          const std::int64_t iy = y0 + r;
          for (int c = 0; c < alpha; ++c) {
            const std::int64_t ix = x0 + c;
            dt[r * alpha + c] = iy >= 0 && iy < d.ih && ix >= 0 && ix < d.iw
                                    ? simd::load_aligned(plane + (iy * d.iw + ix) * block + lane * W)
                                    : simd::broadcast(0.0f);
          }
        }
        // Columns, then rows: tmp = B^T d, V = tmp B.
        for (int c = 0; c < alpha; ++c) winograd::apply<Mat::BT, alpha, alpha>(dt + c, alpha, tmp + c, alpha);
        for (int r = 0; r < alpha; ++r) winograd::apply<Mat::BT, alpha, alpha>(tmp + r * alpha, 1, dt + r * alpha, 1);
        float* dst = v + cb * block + lane * W;
        for (int xi = 0; xi < alpha2; ++xi) simd::store(dst + xi * v_stride, dt[xi]);
      }
    }
  }

  /// Y = A^T M A for one tile, every output channel block, + bias, clamped, stored where it lies inside the output.
  static void transform_output(const ConvDesc& d, const float* m, std::int64_t m_stride, const float* bias,
                               TilePos tile, float* y) noexcept {
    using simd::FloatVec;
    const std::int64_t ocb = (d.oc + block - 1) / block;
    const std::int64_t rows = std::min<std::int64_t>(M, d.oh - tile.y), cols = std::min<std::int64_t>(M, d.ow - tile.x);
    const FloatVec lo = simd::broadcast(d.activation.lo), hi = simd::broadcast(d.activation.hi);
    for (std::int64_t cb = 0; cb < ocb; ++cb) {
      float* plane = y + ((tile.n * ocb + cb) * d.oh) * d.ow * block;
      for (std::int64_t lane = 0; lane < vecs; ++lane) {
        const std::int64_t c0 = cb * block + lane * W;
        FloatVec mt[alpha2], tmp[M * alpha], yt[M * M];
        for (int xi = 0; xi < alpha2; ++xi) mt[xi] = simd::load(m + xi * m_stride + c0);
        for (int c = 0; c < alpha; ++c) winograd::apply<Mat::AT, M, alpha>(mt + c, alpha, tmp + c, alpha);
        for (int r = 0; r < M; ++r) winograd::apply<Mat::AT, M, alpha>(tmp + r * alpha, 1, yt + r * M, 1);
        const FloatVec b = simd::load(bias + c0);
        // Tail channels of the last block stay zero whatever the activation's bounds (the layout's promise).
        const bool tail = c0 + W > d.oc;
        for (std::int64_t r = 0; r < rows; ++r)
          for (std::int64_t c = 0; c < cols; ++c) {
            float* dst = plane + ((tile.y + r) * d.ow + tile.x + c) * block + lane * W;
            simd::store(dst, simd::clamp(yt[r * M + c] + b, lo, hi));
            if (tail)
              for (std::int64_t l = std::max<std::int64_t>(0, d.oc - c0); l < W; ++l) dst[l] = 0.0f;
          }
      }
    }
  }
};

using WinogradF23 = Winograd<2>;
using WinogradF43 = Winograd<4>;
using WinogradF63 = Winograd<6>;
static_assert(ConvPrimitive<WinogradF23>);
static_assert(ConvPrimitive<WinogradF43>);
static_assert(ConvPrimitive<WinogradF63>);

}  // namespace primsel
