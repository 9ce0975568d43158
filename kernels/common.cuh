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
