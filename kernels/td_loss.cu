// Fused TD loss (fastrl.ops.td_loss): loss, |td| and dloss/dq in one pass over the inputs.
//
// A group of `lanes` threads (a power of two <= 32) owns one row: each lane scans actions lane, lane+lanes,
// ... for the best action (double Q: by the online net, carrying the target net's value along; vanilla: by
// the target net), the group combines its lanes by warp shuffles (ties go to the lowest action index, as
// torch.argmax), and the group's first lane computes td, |td|, the loss and dloss/dq. The block then sums its
// rows' losses in a fixed order into partials[blockIdx.x] (already scaled by 1/B for "mean"), so the result
// does not depend on scheduling. With one block, that slot is the loss.
//
// Inputs may each be float32, bfloat16 or float16 (dtype codes 0, 1, 2) with any strides; the arithmetic is
// float32. Integer arguments are 64-bit and pointers may be null (q_next_online for the vanilla target,
// weights for 1, dloss_dq when no gradient is wanted, per_sample_loss unless reduction is "none", partials
// when it is): the launcher passes Python ints and None as CuPy does, without DLPack conversions.
#include "common.cuh"

namespace {

constexpr int NO_ACTION = 0x7fffffff;

// Does (key, action) beat (best_key, best_action)? An empty slot always loses; ties go to the lower action.
__device__ __forceinline__ bool beats(float key, int action, float best_key, int best_action) {
    if (action == NO_ACTION) return false;
    if (best_action == NO_ACTION) return true;
    return key > best_key || (key == best_key && action < best_action);
}

}  // namespace

extern "C" __global__ void td_loss_forward(
    const void* q_taken, long long q_stride, long long q_dtype,
    const void* q_next_target, long long qt_stride_b, long long qt_stride_a, long long qt_dtype,
    const void* q_next_online, long long qo_stride_b, long long qo_stride_a, long long qo_dtype,
    const void* rewards, long long r_stride, long long r_dtype,
    const void* discounts, long long d_stride, long long d_dtype,
    const void* weights, long long w_stride, long long w_dtype,
    long long batch, long long actions, long long lanes, long long huber, float kappa, float scale,
    float* __restrict__ abs_td, float* __restrict__ dloss_dq, float* __restrict__ per_sample_loss,
    float* __restrict__ partials) {
    const long long tid = FASTRL_GLOBAL_INDEX();
    const long long row = tid / lanes;
    const int lane = static_cast<int>(tid % lanes);
    const bool valid = row < batch;
    const bool leader = valid && lane == 0;

    // The per-row scalars first, so that their loads overlap the scan below.
    float reward = 0.f, discount = 0.f, q = 0.f, weight = 1.f;
    if (leader) {
        reward = fastrl_load_as_float(rewards, row * r_stride, r_dtype);
        discount = fastrl_load_as_float(discounts, row * d_stride, d_dtype);
        q = fastrl_load_as_float(q_taken, row * q_stride, q_dtype);
        if (weights != nullptr) weight = fastrl_load_as_float(weights, row * w_stride, w_dtype);
    }

    const bool is_double = q_next_online != nullptr;
    const void* key_base = is_double ? q_next_online : q_next_target;
    const long long key_stride_b = is_double ? qo_stride_b : qt_stride_b;
    const long long key_stride_a = is_double ? qo_stride_a : qt_stride_a;
    const long long key_dtype = is_double ? qo_dtype : qt_dtype;

    float best_key = 0.f, best_value = 0.f;  // meaningful once best_action is set
    int best_action = NO_ACTION;
    if (valid) {
#pragma unroll 4
        for (long long a = lane; a < actions; a += lanes) {
            const float key = fastrl_load_as_float(key_base, row * key_stride_b + a * key_stride_a, key_dtype);
            const float value =
                is_double ? fastrl_load_as_float(q_next_target, row * qt_stride_b + a * qt_stride_a, qt_dtype) : key;
            if (beats(key, static_cast<int>(a), best_key, best_action)) {
                best_key = key;
                best_value = value;
                best_action = static_cast<int>(a);
            }
        }
    }
    // Butterfly over the row's lanes: every lane ends with the row's best. All 32 lanes of each warp take
    // part (rows past the batch included), as the full mask requires.
    for (int offset = static_cast<int>(lanes) / 2; offset > 0; offset /= 2) {
        const float other_key = __shfl_xor_sync(0xffffffffu, best_key, offset, static_cast<int>(lanes));
        const float other_value = __shfl_xor_sync(0xffffffffu, best_value, offset, static_cast<int>(lanes));
        const int other_action = __shfl_xor_sync(0xffffffffu, best_action, offset, static_cast<int>(lanes));
        if (beats(other_key, other_action, best_key, best_action)) {
            best_key = other_key;
            best_value = other_value;
            best_action = other_action;
        }
    }

    float row_loss = 0.f;
    if (leader) {
        const float td = reward + discount * best_value - q;
        const float loss = huber ? fastrl_huber(td, kappa) : td * td;
        const float dloss_dtd = huber ? fastrl_huber_grad(td, kappa) : 2.f * td;
        abs_td[row] = fabsf(td);
        if (dloss_dq != nullptr) dloss_dq[row] = -weight * dloss_dtd * scale;  // td = target - q
        if (per_sample_loss != nullptr) per_sample_loss[row] = weight * loss;
        row_loss = weight * loss;
    }
    if (partials == nullptr) return;  // uniform over the grid: no thread is left waiting below

    // Block sum in a fixed order: within each warp, then over the warps.
    __shared__ float warp_sums[32];
    for (int offset = 16; offset > 0; offset /= 2) row_loss += __shfl_down_sync(0xffffffffu, row_loss, offset);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = row_loss;
    __syncthreads();
    if (threadIdx.x < 32) {
        float sum = threadIdx.x < (blockDim.x >> 5) ? warp_sums[threadIdx.x] : 0.f;
        for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
        if (threadIdx.x == 0) partials[blockIdx.x] = sum * scale;
    }
}
