// Shared helpers for fastrl's CUDA kernels (compiled by NVRTC at run time; `nvcc --ptx` in the tests).
#pragma once

#define FASTRL_GLOBAL_INDEX() (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x)

// Huber (smooth L1) with threshold kappa, and its derivative.
__device__ __forceinline__ float fastrl_huber(float x, float kappa) {
    float a = fabsf(x);
    return a <= kappa ? 0.5f * x * x : kappa * (a - 0.5f * kappa);
}
__device__ __forceinline__ float fastrl_huber_grad(float x, float kappa) {
    return fabsf(x) <= kappa ? x : (x > 0.f ? kappa : -kappa);
}

// Element `index` of a float32 (dtype 0), bfloat16 (1) or float16 (2) array, as float32: one kernel serves
// every input dtype, the launcher passes the code.
__device__ __forceinline__ float fastrl_load_as_float(const void* base, long long index, long long dtype) {
    if (dtype == 0) return static_cast<const float*>(base)[index];
    const unsigned short bits = static_cast<const unsigned short*>(base)[index];
    if (dtype == 1) return __uint_as_float(static_cast<unsigned int>(bits) << 16);
    float value;
    asm("cvt.f32.f16 %0, %1;" : "=f"(value) : "h"(bits));
    return value;
}
