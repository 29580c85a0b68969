// Replaces the global operator new/delete of a test binary with counting versions (malloc/free underneath, so
// sanitizer builds stay consistent) that count only while `armed`: how the tests prove an inference path allocates
// nothing. Include it in exactly one source file of a test program (it defines the replacement functions).
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace primsel::testing::counting_allocator {
inline std::atomic<bool> armed{false};
inline std::atomic<long> allocations{0};
inline std::atomic<long> allocated_bytes{0};

inline void count(std::size_t n) {
  if (!armed.load(std::memory_order_relaxed)) return;
  allocations.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(static_cast<long>(n), std::memory_order_relaxed);
}
inline void* counted_alloc(std::size_t n) {
  count(n);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
inline void* counted_aligned_alloc(std::size_t n, std::align_val_t a) {
  count(n);
  const std::size_t align = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace primsel::testing::counting_allocator

void* operator new(std::size_t n) { return primsel::testing::counting_allocator::counted_alloc(n); }
void* operator new[](std::size_t n) { return primsel::testing::counting_allocator::counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  return primsel::testing::counting_allocator::counted_aligned_alloc(n, a);
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return primsel::testing::counting_allocator::counted_aligned_alloc(n, a);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
