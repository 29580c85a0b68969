// KernelTable<P>: where a primitive's micro-kernels are compiled. Register-tiled kernels come as many template
// instantiations (every tile width x output-channel blocks x stride ...), most of a primitive's code and of the
// compile time of a program that uses it. A primitive that dispatches through a table of them defines the table's
// type `P::Kernels` and a constexpr member template `P::make_kernels<>()` (a template: the kernels a plain inline
// function names are instantiated by every translation unit that includes it, used or not), and reaches the table
// only through KernelTable<P>::get().
// That is a non-inline member of a class template, so a program can compile every table once:
// PRIMSEL_EXTERN_DEFAULT_CANDIDATES declares the default primitives' tables `extern template` (each at the end of its
// header), and <primsel/runtime/default_candidates.hpp> instantiates them in one translation unit.
#pragma once

namespace primsel {

template <class P>
struct KernelTable {
  static const typename P::Kernels& get() noexcept;
};

// Out of the class and not inline: GCC instantiates inline members even under `extern template`, for inlining.
template <class P>
const typename P::Kernels& KernelTable<P>::get() noexcept {
  static constexpr typename P::Kernels table = P::template make_kernels<>();
  return table;
}

}  // namespace primsel
