// The little a board's startup code provides, for running the Cortex-M7 build of digits_firmware.cpp under
// qemu-arm (user mode: it executes the Thumb-2 and FPv5 instructions and forwards Linux system calls; it does not
// model the M7's timing or peripherals). newlib's crt0 points the stack at __stack and zeroes .bss, libnosys's _sbrk
// grows the heap past `end` and its _exit spins; qemu maps only the ELF's own segments. So: a stack inside .data,
// a heap in a static array, and exit as a Linux system call, which hands the exit code to ctest.
#include <cerrno>
#include <cstddef>

extern "C" {

alignas(8) __attribute__((section(".data.qemu_stack"))) unsigned char qemu_stack[64 * 1024];
__asm__(".global __stack\n.set __stack, qemu_stack + 65536");

void* _sbrk(std::ptrdiff_t increment) {
  alignas(64) static unsigned char heap[64 * 1024];
  static std::size_t used = 0;
  if (increment < 0 || used + static_cast<std::size_t>(increment) > sizeof heap) {
    errno = ENOMEM;
    return reinterpret_cast<void*>(-1);
  }
  void* start = heap + used;
  used += static_cast<std::size_t>(increment);
  return start;
}

[[noreturn]] void _exit(int code) {
  register int r0 __asm__("r0") = code;
  register int r7 __asm__("r7") = 248;  // exit_group, Arm EABI
  __asm__ volatile("svc 0" : : "r"(r0), "r"(r7));
  for (;;) {
  }
}

}  // extern "C"
