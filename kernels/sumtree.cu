// Prioritized replay's sum tree (fastrl/ops/sumtree; layout and semantics in reference.py).
//
// nodes: double [2P][2], row n = (sum, min over positive priorities) of node n; node 1 is the root, node n
// has children 2n and 2n + 1, leaf i is node P + i. Both children of a node are 4 consecutive doubles.
//
// Update of K entries, in three phases:
//   claim   every in-range entry atomicMax-es k + 1 into owner[index] (the last occurrence of a repeated
//           index wins); the first invalid position is atomicMin-ed into the verdict.
//   leaves  owners write their leaf if the whole call is valid, and reset their claim to 0 (a non-owner
//           compares the claim with its own k + 1, which neither the owner's value nor 0 equals).
//   levels  bottom up, every entry recomputes the parent of its path from both children. Entries that
//           share a parent store the same value (recomputing from children is idempotent), so no atomics
//           are needed and nothing drifts as atomic adds of deltas would.
// Small updates run all phases in one block (__syncthreads between phases and levels: one launch);
// large ones launch a grid per phase and per level.
//
// All integer arguments are long long and pointers are passed as addresses (see fastrl/ops/sumtree/cuda.py).
#include "common.cuh"

#define SUMTREE_INF __longlong_as_double(0x7ff0000000000000LL)
#define SUMTREE_DBL_MAX 1.7976931348623157e308

template <typename T>
__device__ __forceinline__ void sumtree_claim(long long k, const long long* indices, const T* priorities,
                                              long long capacity, int* owner, long long* first_bad) {
    long long index = indices[k];
    double priority = static_cast<double>(priorities[k]);
    bool in_range = index >= 0 && index < capacity;
    if (in_range) atomicMax(owner + index, static_cast<int>(k + 1));
    // `priority <= DBL_MAX` is false for NaN and +inf.
    if (!(in_range && priority >= 0.0 && priority <= SUMTREE_DBL_MAX)) atomicMin(first_bad, k);
}

template <typename T>
__device__ __forceinline__ void sumtree_write_leaf(long long k, const long long* indices, const T* priorities,
                                                   long long capacity, long long leaf_offset, int* owner,
                                                   double* nodes, bool apply) {
    long long index = indices[k];
    if (index < 0 || index >= capacity || owner[index] != static_cast<int>(k + 1)) return;
    owner[index] = 0;
    if (apply) {
        double priority = static_cast<double>(priorities[k]);
        double* leaf = nodes + 2 * (leaf_offset + index);
        leaf[0] = priority;
        leaf[1] = priority > 0.0 ? priority : SUMTREE_INF;
    }
}

__device__ __forceinline__ void sumtree_recompute_parent(long long k, const long long* indices,
                                                         long long leaf_offset, long long level, double* nodes) {
    long long parent = (leaf_offset + indices[k]) >> level;
    const double* children = nodes + 4 * parent;  // (sum, min) of 2 * parent, then of 2 * parent + 1
    double sum = children[0] + children[2];
    double minimum = fmin(children[1], children[3]);
    nodes[2 * parent] = sum;
    nodes[2 * parent + 1] = minimum;
}

// One block does the whole update. The verdict (first invalid position, or K) is written at the end.
template <typename T>
__device__ void sumtree_update_block(double* nodes, int* owner, long long* verdict, const long long* indices,
                                     const T* priorities, long long count, long long capacity,
                                     long long leaf_offset, long long levels) {
    __shared__ long long first_bad;
    if (threadIdx.x == 0) first_bad = count;
    __syncthreads();
    for (long long k = threadIdx.x; k < count; k += blockDim.x)
        sumtree_claim(k, indices, priorities, capacity, owner, &first_bad);
    __syncthreads();
    const bool apply = first_bad == count;
    for (long long k = threadIdx.x; k < count; k += blockDim.x)
        sumtree_write_leaf(k, indices, priorities, capacity, leaf_offset, owner, nodes, apply);
    __syncthreads();
    if (apply) {
        for (long long level = 1; level <= levels; ++level) {
            for (long long k = threadIdx.x; k < count; k += blockDim.x)
                sumtree_recompute_parent(k, indices, leaf_offset, level, nodes);
            __syncthreads();
        }
    }
    if (threadIdx.x == 0) verdict[0] = first_bad;
}

extern "C" __global__ void sumtree_update_block_f32(double* nodes, int* owner, long long* verdict,
                                                    const long long* indices, const float* priorities,
                                                    long long count, long long capacity, long long leaf_offset,
                                                    long long levels) {
    sumtree_update_block(nodes, owner, verdict, indices, priorities, count, capacity, leaf_offset, levels);
}

extern "C" __global__ void sumtree_update_block_f64(double* nodes, int* owner, long long* verdict,
                                                    const long long* indices, const double* priorities,
                                                    long long count, long long capacity, long long leaf_offset,
                                                    long long levels) {
    sumtree_update_block(nodes, owner, verdict, indices, priorities, count, capacity, leaf_offset, levels);
}

// The grid version, phase by phase. The caller sets verdict[0] = count before the claim.
extern "C" __global__ void sumtree_claim_f32(int* owner, long long* verdict, const long long* indices,
                                             const float* priorities, long long count, long long capacity) {
    long long k = FASTRL_GLOBAL_INDEX();
    if (k < count) sumtree_claim(k, indices, priorities, capacity, owner, verdict);
}

extern "C" __global__ void sumtree_claim_f64(int* owner, long long* verdict, const long long* indices,
                                             const double* priorities, long long count, long long capacity) {
    long long k = FASTRL_GLOBAL_INDEX();
    if (k < count) sumtree_claim(k, indices, priorities, capacity, owner, verdict);
}

extern "C" __global__ void sumtree_write_leaves_f32(double* nodes, int* owner, const long long* verdict,
                                                    const long long* indices, const float* priorities,
                                                    long long count, long long capacity, long long leaf_offset) {
    long long k = FASTRL_GLOBAL_INDEX();
    if (k < count)
        sumtree_write_leaf(k, indices, priorities, capacity, leaf_offset, owner, nodes, verdict[0] == count);
}

extern "C" __global__ void sumtree_write_leaves_f64(double* nodes, int* owner, const long long* verdict,
                                                    const long long* indices, const double* priorities,
                                                    long long count, long long capacity, long long leaf_offset) {
    long long k = FASTRL_GLOBAL_INDEX();
    if (k < count)
        sumtree_write_leaf(k, indices, priorities, capacity, leaf_offset, owner, nodes, verdict[0] == count);
}

extern "C" __global__ void sumtree_recompute_level(double* nodes, const long long* verdict, const long long* indices,
                                                   long long count, long long leaf_offset, long long level) {
    long long k = FASTRL_GLOBAL_INDEX();
    if (k < count && verdict[0] == count) sumtree_recompute_parent(k, indices, leaf_offset, level, nodes);
}

// One thread per draw: target u = (b + r_b) * (total / B), then descend, never into an empty subtree.
extern "C" __global__ void sumtree_sample(const double* __restrict__ nodes, const double* __restrict__ uniforms,
                                          long long* __restrict__ indices, double* __restrict__ priorities,
                                          long long batch, long long leaf_offset, long long levels) {
    long long b = FASTRL_GLOBAL_INDEX();
    if (b >= batch) return;
    const double segment = nodes[2] / static_cast<double>(batch);
    // __dmul_rn: never fused into a multiply-add, so the target rounds exactly as in the reference.
    double target = __dmul_rn(static_cast<double>(b) + uniforms[b], segment);
    long long node = 1;
    for (long long level = 0; level < levels; ++level) {
        const double left = nodes[4 * node];
        const double right = nodes[4 * node + 2];
        const bool go_right = target >= left && right > 0.0;
        target = go_right ? target - left : target;
        node = 2 * node + (go_right ? 1 : 0);
    }
    indices[b] = node - leaf_offset;
    priorities[b] = nodes[2 * node];
}
