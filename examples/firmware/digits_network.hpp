// The digits `small` CNN (data/digits/small.onnx: conv 1->8, conv 8->16, 2x2 max-pool, linear 256->10; 98.3% on
// the held-out test digits) as a StaticNetwork: its convolutions run the primitives primsel-bench chose
// (digits_small_binding.hpp, emitted by --emit-binding), its weights are the generated digits_small_weights.hpp.
// One definition for the firmware build, the host build and the tests (docs/embedded.md).
#pragma once

#include <primsel/runtime/static_network.hpp>

#include <array>
#include <cstddef>
#include <span>

#include "digits_small_binding.hpp"
#include "digits_small_weights.hpp"

namespace digits {

/// ONNX Conv 3x3, pad 1, followed by Relu: the fuse pass's result, written by hand.
inline constexpr primsel::ConvParams conv3x3_relu{
    .kernel = {3, 3}, .pads = {1, 1, 1, 1}, .activation = primsel::Activation::relu()};

using SmallNet = primsel::StaticNetwork<
    primsel::Input<1, 1, 8, 8>,
    primsel::layers::Conv<primsel::conv_primitive_named<small_binding[0]>, conv3x3_relu, small::conv0_weight,
                          small::conv0_bias>,
    primsel::layers::Conv<primsel::conv_primitive_named<small_binding[1]>, conv3x3_relu, small::conv1_weight,
                          small::conv1_bias>,
    primsel::layers::MaxPool<primsel::PoolParams{.kernel = {2, 2}, .stride = {2, 2}}>,  // ONNX Flatten: nothing to do
    primsel::layers::FullyConnected<small::gemm0_weight, small::gemm0_bias>>;

/// The digit (0-9) `image` shows — 8x8 pixels, row-major, scaled to [0, 1] — or -1 if `net` is not initialised.
inline int classify(SmallNet& net, std::span<const float, SmallNet::input_size> image) {
  float logits[SmallNet::output_size];
  if (!net.run(image, logits)) return -1;
  int best = 0;
  for (std::size_t i = 1; i < SmallNet::output_size; ++i)
    if (logits[i] > logits[best]) best = static_cast<int>(i);
  return best;
}

/// The first test image of data/digits/digits.bin, a handwritten 2, scaled as the network expects (pixel / 16).
inline constexpr std::array<float, SmallNet::input_size> sample_image = [] {
  constexpr int pixels[64] = {
      0, 0, 0,  4,  15, 12, 0, 0,  //
      0, 0, 3,  16, 15, 14, 0, 0,  //
      0, 0, 8,  13, 8,  16, 0, 0,  //
      0, 0, 1,  6,  15, 11, 0, 0,  //
      0, 1, 8,  13, 15, 1,  0, 0,  //
      0, 9, 16, 16, 5,  0,  0, 0,  //
      0, 3, 13, 16, 16, 11, 5, 0,  //
      0, 0, 0,  3,  11, 16, 9, 0,  //
  };
  std::array<float, SmallNet::input_size> image{};
  for (std::size_t i = 0; i < image.size(); ++i) image[i] = static_cast<float>(pixels[i]) / 16.0f;
  return image;
}();
inline constexpr int sample_label = 2;

}  // namespace digits
