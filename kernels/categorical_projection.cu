// C51 / D4PG projection (fastrl.ops.categorical_projection), in gather form: one warp per row, and target
// atom j receives sum_i p_i * max(0, 1 - |pos_i - j|), pos_i = clamp((r + discount * z_i - v_min) / dz, 0,
// atoms - 1). No atomics: each output is one lane's sum in a fixed order, the same bits on every run, and
// mass on a position that is exactly an atom stays whole on that atom.
//
// A warp walks the target atoms 32 at a time (lane = target); for each chunk of 32 source atoms, every lane
// computes its source's probability and position once and the warp broadcasts them by shuffles.
//
// next_probs, rewards and discounts may each be float32, bfloat16 or float16 (dtype codes 0, 1, 2) with any
// strides; the output is contiguous float32 [batch, atoms]. Integer arguments are 64-bit, pointers raw.
#include "common.cuh"

namespace {

}  // namespace

extern "C" __global__ void categorical_projection_forward(
    const void* probs, long long p_stride_b, long long p_stride_a, long long p_dtype,
    const void* rewards, long long r_stride, long long r_dtype,
    const void* discounts, long long d_stride, long long d_dtype,
    long long batch, long long atoms, float v_min, float dz, float* __restrict__ out) {
    const long long row = FASTRL_GLOBAL_INDEX() / 32;
    const int lane = threadIdx.x & 31;
    if (row >= batch) return;  // the whole warp leaves together, so the shuffles below see full warps

    const float reward = fastrl_load_as_float(rewards, row * r_stride, r_dtype);
    const float discount = fastrl_load_as_float(discounts, row * d_stride, d_dtype);
    const float top = static_cast<float>(atoms - 1);

    for (long long j0 = 0; j0 < atoms; j0 += 32) {
        const long long target = j0 + lane;
        const float target_f = static_cast<float>(target);
        float acc = 0.f;
        for (long long i0 = 0; i0 < atoms; i0 += 32) {
            const long long source = i0 + lane;
            float p = 0.f, pos = 0.f;
            if (source < atoms) {
                p = fastrl_load_as_float(probs, row * p_stride_b + source * p_stride_a, p_dtype);
                const float tz = reward + discount * (v_min + static_cast<float>(source) * dz);
                pos = fminf(fmaxf((tz - v_min) / dz, 0.f), top);
            }
            const int count = atoms - i0 < 32 ? static_cast<int>(atoms - i0) : 32;
            for (int k = 0; k < count; ++k) {
                const float pk = __shfl_sync(0xffffffffu, p, k);
                const float pos_k = __shfl_sync(0xffffffffu, pos, k);
                acc += pk * fmaxf(0.f, 1.f - fabsf(pos_k - target_f));
            }
        }
        if (target < atoms) out[row * atoms + target] = acc;
    }
}
