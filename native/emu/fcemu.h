// fcemu.h — the C entry points of libfastconv_emu.so, shaped like the CUDA driver calls the managed `cuda`
// backend makes (cuMemAlloc, cuMemcpy, cuMemsetD32, cuModuleGetFunction, cuLaunchKernel), so the managed
// `cuda-emu` backend runs the same planning and launch code over a different driver.
//
// Every function returns 0 on success or one of the FCEMU_ERROR_* codes; on failure fcemu_last_error()
// (per calling thread) says what went wrong. Nothing here aborts the process: a kernel that breaks a rule
// (divergent barrier, deadlock, partial-warp collective, misaligned cp.async, ...) fails its launch.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define FCEMU_API __attribute__((visibility("default")))

#ifdef __cplusplus
extern "C" {
#endif

#define FCEMU_SUCCESS 0
#define FCEMU_ERROR_INVALID_VALUE 1
#define FCEMU_ERROR_OUT_OF_MEMORY 2
#define FCEMU_ERROR_NOT_FOUND 3
#define FCEMU_ERROR_LAUNCH_FAILED 4

// Thread order between barriers: forward (thread 0 first), reverse, or seeded random.
#define FCEMU_ORDER_FORWARD 0
#define FCEMU_ORDER_REVERSE 1
#define FCEMU_ORDER_RANDOM 2

FCEMU_API int fcemu_init(uint64_t seed, int order);
FCEMU_API int fcemu_mem_alloc(void** p, size_t bytes);
FCEMU_API int fcemu_mem_free(void* p);
FCEMU_API int fcemu_memcpy(void* dst, const void* src, size_t bytes);
FCEMU_API int fcemu_memset_d32(void* p, uint32_t v, size_t count);
FCEMU_API int fcemu_get_function(const char* name, void** fn);
FCEMU_API int fcemu_launch(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                 unsigned sharedBytes, void** kernelParams);
// The kernel's parameter count and each parameter's size in bytes (what cuLaunchKernel learns from the module):
// stream capture copies the argument values at record time, as the driver does, so a graph replays the values
// the launch was given, not what its kernelParams point at later.
FCEMU_API int fcemu_function_params(void* fn, unsigned* count, const size_t** sizes);
FCEMU_API const char* fcemu_last_error(void);

#ifdef __cplusplus
}
#endif
