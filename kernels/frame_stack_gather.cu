// frame_stack_gather: frame stacks rebuilt from uint8 frames stored once in a ring
// (specification: fastrl/ops/frame_stack_gather/reference.py).
//
// One block per (sample b, stack position j), j = 0 the oldest. The block first decides whether its position
// is kept: it is cut off when any newer position of the same stack (fewer steps back from the newest slot)
// is marked in `starts`. Then it copies one frame, or writes zeros without reading, with vector loads of
// VecT (16 bytes where the frame size and both base pointers allow; the launcher picks the width).
// Frames are read through the read-only cache path (__ldg): they are never written by this kernel.

template <typename VecT>
__device__ __forceinline__ void frame_stack_gather_impl(const VecT* __restrict__ frames,
                                                        const long long* __restrict__ indices,
                                                        const unsigned char* __restrict__ starts,
                                                        VecT* __restrict__ out, long long capacity, int stack,
                                                        long long frame_vecs) {
    const long long position = blockIdx.x;  // b * stack + j
    const long long b = position / stack;
    const int back = stack - 1 - static_cast<int>(position % stack);  // steps back from the newest frame

    // Slots follow Python's modulo (as the reference), so no index can address memory outside `frames`.
    long long newest = indices[b] % capacity;
    if (newest < 0) newest += capacity;
    bool kept = true;
    for (int k = 0; k < back; ++k) {
        long long slot = newest - k;
        if (slot < 0) slot += capacity;
        if (starts[slot]) {
            kept = false;
            break;
        }
    }
    long long slot = newest - back;  // back < stack <= capacity, so one wrap suffices
    if (slot < 0) slot += capacity;

    VecT* dst = out + position * frame_vecs;
    if (kept) {
        const VecT* src = frames + slot * frame_vecs;
        for (long long i = threadIdx.x; i < frame_vecs; i += blockDim.x) dst[i] = __ldg(src + i);
    } else {
        const VecT zero{};
        for (long long i = threadIdx.x; i < frame_vecs; i += blockDim.x) dst[i] = zero;
    }
}

#define FASTRL_FRAME_STACK_GATHER(NAME, VECT)                                                               \
    extern "C" __global__ void NAME(const VECT* __restrict__ frames, const long long* __restrict__ indices, \
                                    const unsigned char* __restrict__ starts, VECT* __restrict__ out,       \
                                    long long capacity, int stack, long long frame_vecs) {                   \
        frame_stack_gather_impl<VECT>(frames, indices, starts, out, capacity, stack, frame_vecs);           \
    }

FASTRL_FRAME_STACK_GATHER(frame_stack_gather_v16, uint4)
FASTRL_FRAME_STACK_GATHER(frame_stack_gather_v8, uint2)
FASTRL_FRAME_STACK_GATHER(frame_stack_gather_v4, unsigned int)
FASTRL_FRAME_STACK_GATHER(frame_stack_gather_v1, unsigned char)
