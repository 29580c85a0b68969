// Im2colU8S8: any quantised convolution as a u8 x s8 GEMM. On NHWC input a pixel's channels are contiguous, so
// the im2col matrix is built row by row (one row per output pixel, batch folded into M): each kernel tap copies
// IC/g bytes, padding taps are filled with the input zero point (real 0), and K = KH * KW * IC/g is padded with
// zeros to a multiple of 4 so the GEMM reads the rows in place. Weights are packed once per group; the GEMM's
// output stage requantises straight into the NHWC u8 output. Handles every stride, padding, dilation and group
// count (the int8 counterpart of Im2colGemm; Chellapilla et al. 2006, quantised as in Jacob et al. 2018).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "primsel/primitives/gemm/gemm_u8s8.hpp"
#include "primsel/primitives/int8/quant_concept.hpp"

namespace primsel {

struct Im2colU8S8 {
  static constexpr std::string_view name = "im2col_u8s8";

  struct Plan {
    ConvDesc desc;
    std::int64_t k4 = 0;                     // the im2col row: KH * KW * IC/g rounded up to 4
    std::vector<gemm::PackedU8S8B> weights;  // per group: [k4 x OC/g], K ordered (r, s, c) like the rows
    gemm::U8S8OutputStage stage;             // per output channel
    std::int32_t input_zero_point = 0;
  };

  static Support supports(const ConvDesc& d) {
    if (row_length(d) > gemm::u8s8_max_k) return Support::no("KH * KW * IC/g exceeds the u8s8 GEMM's K limit");
    return Support::yes();
  }
  static Format input_format(const ConvDesc&) { return u8_nhwc; }
  static Format output_format(const ConvDesc&) { return u8_nhwc; }

  static Expected<Plan> plan(const ConvDesc& d, const ConvWeights& w, const ConvQuant& q) {
    PRIMSEL_CHECK(supports(d).ok, ErrorCode::unsupported, std::string(supports(d).why) + ": " + to_string(d));
    PRIMSEL_RETURN_IF_ERROR(detail::check_gemm_input_levels(d, q.input));
    PRIMSEL_ASSIGN_OR_RETURN(QuantizedConv qc, QuantizedConv::make(d, w, q));
    Plan p{d, row_length(d), {}, std::move(qc.stage), qc.input_zero_point};
    const std::int64_t icg = d.ic_per_group(), ocg = d.oc_per_group(), taps = d.kh * d.kw;
    // B transposed: row j (an output channel of the group) holds its k4 weights in im2col order.
    std::vector<std::int8_t> b(static_cast<std::size_t>(ocg * p.k4));
    for (std::int64_t g = 0; g < d.groups; ++g) {
      std::fill(b.begin(), b.end(), std::int8_t{0});
      for (std::int64_t j = 0; j < ocg; ++j)
        for (std::int64_t c = 0; c < icg; ++c)
          for (std::int64_t t = 0; t < taps; ++t)
            b[static_cast<std::size_t>(j * p.k4 + t * icg + c)] =
                qc.weight[static_cast<std::size_t>(((g * ocg + j) * icg + c) * taps + t)];
      PRIMSEL_ASSIGN_OR_RETURN(auto packed, gemm::PackedU8S8B::pack({b.data(), p.k4, true}, p.k4, ocg, kernel(d)));
      p.weights.push_back(std::move(packed));
    }
    return p;
  }

  /// The plan's s8 weights (K rounded up to 4) and per-channel output stage (bias, multiplier, shift, column sum:
  /// 16 bytes), what the network's memory budget counts; panel padding to the kernel's width is left out.
  static std::size_t weight_bytes(const ConvDesc& d) {
    const std::int64_t k4 = (d.kh * d.kw * d.ic_per_group() + 3) / 4 * 4;
    return static_cast<std::size_t>(k4 * d.oc + 16 * d.oc);
  }

  static std::size_t workspace_bytes(const ConvDesc& d, int threads) {
    const auto& kr = kernel(d);
    if (blocked(d, threads))
      return static_cast<std::size_t>(threads) * (block_col_bytes(d) + gemm::u8s8_block_bytes(kr));
    const std::int64_t m = d.n * d.oh * d.ow;
    return col_bytes(d, m) + (in_place() ? gemm::u8s8_packed_workspace_bytes(kr, threads)
                                         : gemm::u8s8_workspace_bytes(m, row_length(d), kr, threads));
  }

  static void run(const Plan& p, ConstTensorView in, TensorView out, const Context& ctx) noexcept {
    const ConvDesc& d = p.desc;
    const std::int64_t m = d.n * d.oh * d.ow, ocg = d.oc_per_group();
    const std::uint8_t* x = in.data<std::uint8_t>();
    std::uint8_t* y = out.data<std::uint8_t>();
    for (std::int64_t g = 0; g < d.groups; ++g) {
      const gemm::U8S8Output o{nullptr,
                               y + g * ocg,
                               d.oc,
                               p.stage.bias.empty() ? nullptr : p.stage.bias.data() + g * ocg,
                               p.stage.multiplier.data() + g * ocg,
                               p.stage.shift.data() + g * ocg,
                               p.stage.zero_point,
                               p.stage.range.lo,
                               p.stage.range.hi};
      const auto& b = p.weights[static_cast<std::size_t>(g)];
      if (blocked(d, ctx.threads())) {
        // Each thread unrolls a block of rows into its own cache-sized buffer and multiplies it at once, while
        // the rows are still in L2.
        const std::int64_t rows = block_rows(d), blocks = (m + rows - 1) / rows;
        auto work = [&](std::int64_t b0, std::int64_t b1, int t) {
          std::byte* mine = ctx.workspace.data() +
                            static_cast<std::size_t>(t) * (block_col_bytes(d) + gemm::u8s8_block_bytes(b.kernel()));
          auto* col = reinterpret_cast<std::uint8_t*>(mine);
          const std::span<std::byte> gemm_ws{mine + block_col_bytes(d), gemm::u8s8_block_bytes(b.kernel())};
          for (std::int64_t blk = b0; blk < b1; ++blk) {
            const std::int64_t m0 = blk * rows, m1 = std::min(m, m0 + rows);
            im2col(d, p, x, g, col, m0, m1, m0 + gemm::detail::up(m1 - m0, b.kernel().mr));
            gemm::U8S8Output ob = o;
            ob.u8 += m0 * d.oc;
            gemm::gemm_u8s8_rows_padded({col, p.k4}, m1 - m0, p.input_zero_point, b, ob, nullptr, gemm_ws);
          }
        };
        if (ctx.pool && ctx.threads() > 1)
          ctx.pool->parallel_for(blocks, work);
        else
          work(0, blocks, 0);
        continue;
      }
      auto* col = reinterpret_cast<std::uint8_t*>(ctx.workspace.data());
      const std::span<std::byte> gemm_ws = ctx.workspace.subspan(col_bytes(d, m));
      // Rows are independent: threads unroll disjoint ranges. Small layers stay on the calling thread.
      const std::int64_t parts = std::clamp<std::int64_t>(m * p.k4 / min_bytes_per_thread, 1, ctx.threads());
      auto unroll = [&](std::int64_t b0, std::int64_t b1, int) {
        const std::int64_t m0 = m * b0 / parts, m1 = m * b1 / parts;
        im2col(d, p, x, g, col + m0 * p.k4, m0, m1, m1 == m ? gemm::detail::up(m, b.kernel().mr) : m1);
      };
      if (parts > 1 && ctx.pool)
        ctx.pool->parallel_for(parts, unroll);
      else
        unroll(0, 1, 0);
      if (in_place())
        gemm::gemm_u8s8_rows_padded({col, p.k4}, m, p.input_zero_point, b, o, ctx.pool, gemm_ws);
      else
        gemm::gemm_u8s8({col, p.k4}, m, p.input_zero_point, b, o, ctx.pool, gemm_ws);
    }
  }

  /// Copying a thread's share must outweigh waking it (a parallel_for round trip is 5-20 us).
  static constexpr std::int64_t min_bytes_per_thread = std::int64_t{1} << 18;
  /// Bytes of im2col rows a block aims at: an L2-resident A block for the micro-kernel (Zen 5 and Cortex-A7x
  /// cores have 1 MiB or more of L2; the GEMM's own B panel and s32 block share it).
  static constexpr std::int64_t block_target_bytes = std::int64_t{128} << 10;

 private:
  static std::int64_t row_length(const ConvDesc& d) noexcept { return (d.kh * d.kw * d.ic_per_group() + 3) / 4 * 4; }
  /// The GEMM's micro-kernel for this layer's K and N (the plan packs B for it).
  static const kernels::U8S8Ukernel& kernel(const ConvDesc& d) noexcept {
    return gemm::u8s8_kernel_for(row_length(d), d.oc_per_group());
  }
  /// The micro-kernel reads row-major A in place (every x86 kernel); otherwise the GEMM packs the rows.
  static constexpr bool in_place() noexcept {
    const auto& kr = kernels::u8s8_default_ukernel;
    return kr.strided_a && kr.a_xor == 0;
  }
  /// Rows of a block: whole GEMM row blocks (so B is reused as the GEMM would reuse it) of about
  /// block_target_bytes.
  static std::int64_t block_rows(const ConvDesc& d) noexcept {
    const std::int64_t mc = gemm::detail::block_mc(kernel(d));
    return mc * std::max<std::int64_t>(1, block_target_bytes / (mc * row_length(d)));
  }
  /// Blocks of rows, one thread each, when there are enough of them to share (a thread's blocks each read all of
  /// B: with fewer rows the whole matrix is unrolled and the GEMM splits its columns between the threads).
  static bool blocked(const ConvDesc& d, int threads) noexcept {
    if (!in_place()) return false;
    const std::int64_t blocks = (d.n * d.oh * d.ow + block_rows(d) - 1) / block_rows(d);
    return threads == 1 || blocks >= 2 * threads;
  }
  /// `rows` im2col rows rounded up to the micro-kernel's MR (read in place, see gemm_u8s8_rows_padded).
  static std::size_t col_bytes(const ConvDesc& d, std::int64_t rows) noexcept {
    const std::int64_t mr = kernel(d).mr;
    return static_cast<std::size_t>(
        gemm::detail::up((rows + mr - 1) / mr * mr * row_length(d), static_cast<std::int64_t>(tensor_alignment)));
  }
  static std::size_t block_col_bytes(const ConvDesc& d) noexcept { return col_bytes(d, block_rows(d)); }

  /// Rows [m0, m1) of group g's im2col matrix: row (n, oy, ox) at col + (m - m0) * k4, column (r * KW + s) * IC/g
  /// + c. Rows [m1, pad_end) are zeroed: the micro-kernel reads whole MR-row panels.
  static void im2col(const ConvDesc& d, const Plan& p, const std::uint8_t* x, std::int64_t g, std::uint8_t* col,
                     std::int64_t m0, std::int64_t m1, std::int64_t pad_end) noexcept {
    const std::int64_t icg = d.ic_per_group(), k = d.kh * d.kw * icg, ohw = d.oh * d.ow;
    const auto zp = static_cast<std::uint8_t>(p.input_zero_point);
    // With one group and no dilation a kernel row's taps are one contiguous run of KW * IC bytes.
    const bool runs = d.groups == 1 && d.dw == 1;
    for (std::int64_t m = m0; m < m1; ++m) {
      const std::int64_t n = m / ohw, oy = m % ohw / d.ow, ox = m % d.ow;
      const std::uint8_t* image = x + n * d.ih * d.iw * d.ic + g * icg;
      std::uint8_t* row = col + (m - m0) * p.k4;
      const std::int64_t ix0 = ox * d.sw - d.pads.left;
      for (std::int64_t r = 0; r < d.kh; ++r) {
        std::uint8_t* dst = row + r * d.kw * icg;
        const std::int64_t iy = oy * d.sh - d.pads.top + r * d.dh;
        if (iy < 0 || iy >= d.ih) {
          std::memset(dst, zp, static_cast<std::size_t>(d.kw * icg));
          continue;
        }
        const std::uint8_t* xrow = image + iy * d.iw * d.ic;
        if (runs && ix0 >= 0 && ix0 + d.kw <= d.iw) {
          std::memcpy(dst, xrow + ix0 * d.ic, static_cast<std::size_t>(d.kw * icg));
          continue;
        }
        for (std::int64_t s = 0; s < d.kw; ++s) {
          const std::int64_t ix = ix0 + s * d.dw;
          if (ix < 0 || ix >= d.iw)
            std::memset(dst + s * icg, zp, static_cast<std::size_t>(icg));
          else
            std::memcpy(dst + s * icg, xrow + ix * d.ic, static_cast<std::size_t>(icg));
        }
      }
      std::memset(row + k, 0, static_cast<std::size_t>(p.k4 - k));
    }
    std::memset(col + (m1 - m0) * p.k4, 0, static_cast<std::size_t>((pad_end - m1) * p.k4));
  }
};
static_assert(QuantConvPrimitive<Im2colU8S8>);

}  // namespace primsel
