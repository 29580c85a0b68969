# ctest examples.digits_firmware_cortex_m7: builds digits_firmware.cpp for a Cortex-M7 the way a firmware project
# would (Debian's arm-none-eabi-g++ and newlib; -fno-exceptions -fno-rtti; nano + nosys specs; unused sections
# dropped), prints its flash and RAM sizes, fails if the binary references exception or RTTI machinery, and, when
# qemu-arm is installed, links it once more with qemu_board.cpp and runs it: exit code 0 = the sample digit was
# classified right by the Cortex-M7 code.
#   cmake -DCXX=arm-none-eabi-g++ -DSOURCE_DIR=<repo> -DWORK_DIR=<dir> [-DQEMU=qemu-arm] -P cross_build.cmake
cmake_minimum_required(VERSION 3.21)
# The dependencies' headers through a private dir, so the cross compiler never sees the host's /usr/include.
include(${SOURCE_DIR}/cmake/primselCrossDependencies.cmake)
primsel_link_dependency_headers(${WORK_DIR}/dep-include)
string(REGEX REPLACE "g\\+\\+$" "size" SIZE ${CXX})
string(REGEX REPLACE "g\\+\\+$" "nm" NM ${CXX})
set(FIRMWARE_DIR ${SOURCE_DIR}/examples/firmware)
# gnu++20, not c++20: newlib declares posix_memalign (xsimd's allocator) only with GNU extensions.
set(FLAGS -std=gnu++20 -O2 -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard -fno-exceptions -fno-rtti
          -ffunction-sections -fdata-sections -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-psabi
          -I${SOURCE_DIR}/include -isystem ${WORK_DIR}/dep-include)
# nano.specs: newlib-nano and the libstdc++ built without exceptions (the full one's __throw_* helpers would pull
# in __cxa_throw and the unwinder); nosys.specs: system calls are stubs, as on a board without an OS.
set(LINK --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN}\nfailed (${rc}):\n${out}${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run(${CXX} ${FLAGS} -c ${FIRMWARE_DIR}/digits_firmware.cpp -o ${WORK_DIR}/digits_firmware.o)
run(${CXX} ${FLAGS} ${WORK_DIR}/digits_firmware.o ${LINK} -o ${WORK_DIR}/digits_firmware.elf)
run(${SIZE} ${WORK_DIR}/digits_firmware.elf)
message("Cortex-M7 digits_firmware.elf (-O2; flash = text + data, RAM = data + bss + heap for the packed weights):\n${out}")

run(${NM} -C ${WORK_DIR}/digits_firmware.elf)
string(REGEX MATCHALL "[^\n]*(__cxa_throw|__cxa_begin_catch|__gxx_personality|_Unwind_Resume|typeinfo for|pthread_)[^\n]*"
       forbidden "${out}")
if(forbidden)
  message(FATAL_ERROR "the firmware references exception, RTTI or thread machinery:\n${forbidden}")
endif()
message("no exception, RTTI or thread symbols in the binary")

if(NOT QEMU OR NOT EXISTS "${QEMU}")
  message("qemu-arm not found: the Cortex-M7 build is not run (Debian's qemu-user provides it)")
  return()
endif()
run(${CXX} ${FLAGS} ${WORK_DIR}/digits_firmware.o ${FIRMWARE_DIR}/qemu_board.cpp ${LINK}
    -o ${WORK_DIR}/digits_firmware_qemu.elf)
execute_process(COMMAND ${QEMU} ${WORK_DIR}/digits_firmware_qemu.elf RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the Cortex-M7 build under qemu-arm exited with ${rc} (0: the sample digit classified right)")
endif()
message("qemu-arm: the Cortex-M7 build classified the sample digit right (exit code 0)")
