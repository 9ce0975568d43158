// Returns over a rollout stored [T, N] with the env index fastest: GAE, n-step returns, V-trace.
//
// The scans (GAE, V-trace) run one thread per env, walking T in reverse; neighbouring threads read
// neighbouring envs, so every row access is coalesced. Each thread loads UNROLL steps into registers
// before it scans them: the loads do not depend on the scan, and issuing them together hides the memory
// latency that a load-then-use loop would pay on every step. n-step windows carry nothing between steps,
// so they run one thread per (step, env).
//
// Inputs are float (`_f32`) or bfloat16 (`_bf16`, passed as raw 16-bit words and widened exactly);
// flags are bytes (bool or uint8, nonzero = set); outputs and arithmetic are float32.
#include "common.cuh"

namespace {

constexpr int UNROLL = 8;

__device__ __forceinline__ float widen(float x) { return x; }
__device__ __forceinline__ float widen(unsigned short x) { return __uint_as_float(static_cast<unsigned int>(x) << 16); }

struct GaeStep {
    float r, v, following;
    bool term, trunc;
};

template <typename In>
__device__ __forceinline__ void gae_scan(const In* __restrict__ rewards, const In* __restrict__ values,
                                         const unsigned char* __restrict__ terminated,
                                         const unsigned char* __restrict__ truncated,
                                         const In* __restrict__ next_value, const In* __restrict__ final_values,
                                         int has_final, float* __restrict__ advantages,
                                         float* __restrict__ returns, long long T, long long N, float gamma,
                                         float gamma_lam) {
    const long long i = FASTRL_GLOBAL_INDEX();
    if (i >= N) return;
    float following = widen(next_value[i]);  // V(s_{t+1}) for the step being scanned
    float last = 0.f;                         // A_{t+1}
    for (long long top = T - 1; top >= 0; top -= UNROLL) {
        GaeStep s[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const long long t = top - u;
            if (t >= 0) {
                const long long o = t * N + i;
                s[u].r = widen(rewards[o]);
                s[u].v = widen(values[o]);
                s[u].term = terminated[o] != 0;
                s[u].trunc = truncated[o] != 0;
            }
        }
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const long long t = top - u;
            if (t >= 0) {
                const long long o = t * N + i;
                float next = following;
                if (has_final && s[u].trunc) next = widen(final_values[o]);
                const float boot = s[u].term ? 0.f : next;
                const float delta = s[u].r + gamma * boot - s[u].v;
                last = delta + ((s[u].term || s[u].trunc) ? 0.f : gamma_lam * last);
                advantages[o] = last;
                returns[o] = last + s[u].v;
                following = s[u].v;
            }
        }
    }
}

template <typename In>
__device__ __forceinline__ void nstep_window(const In* __restrict__ rewards, const In* __restrict__ values,
                                             const unsigned char* __restrict__ terminated,
                                             const unsigned char* __restrict__ truncated,
                                             const In* __restrict__ next_value,
                                             const In* __restrict__ final_values, int has_final,
                                             float* __restrict__ returns, float* __restrict__ discounts,
                                             long long T, long long N, float gamma, int n) {
    const long long idx = FASTRL_GLOBAL_INDEX();
    if (idx >= T * N) return;
    const long long t = idx / N;
    const long long i = idx - t * N;
    float acc = 0.f;
    float scale = 1.f;  // gamma^k
    for (int k = 0; k < n; ++k) {
        const long long j = t + k;
        const long long o = j * N + i;
        acc += scale * widen(rewards[o]);
        scale *= gamma;
        if (terminated[o]) {
            returns[idx] = acc;
            discounts[idx] = 0.f;
            return;
        }
        const bool trunc = truncated[o] != 0;
        if (trunc || k == n - 1 || j == T - 1) {
            float boot;
            if (has_final && trunc) boot = widen(final_values[o]);
            else if (j == T - 1) boot = widen(next_value[i]);
            else boot = widen(values[o + N]);
            returns[idx] = acc + scale * boot;
            discounts[idx] = scale;
            return;
        }
    }
}

struct VtraceStep {
    float log_rho, disc, r, v;
};

template <typename In>
__device__ __forceinline__ void vtrace_scan(const In* __restrict__ log_rhos, const In* __restrict__ discounts,
                                            const In* __restrict__ rewards, const In* __restrict__ values,
                                            const In* __restrict__ bootstrap_value, float* __restrict__ vs,
                                            float* __restrict__ pg_advantages, long long T, long long N,
                                            float clip_rho, float clip_pg_rho, float lambda_) {
    const long long i = FASTRL_GLOBAL_INDEX();
    if (i >= N) return;
    float v_next = widen(bootstrap_value[i]);  // V_{t+1}
    float vs_next = v_next;                    // vs_{t+1}
    float acc = 0.f;                           // vs_{t+1} - V_{t+1}
    for (long long top = T - 1; top >= 0; top -= UNROLL) {
        VtraceStep s[UNROLL];
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const long long t = top - u;
            if (t >= 0) {
                const long long o = t * N + i;
                s[u].log_rho = widen(log_rhos[o]);
                s[u].disc = widen(discounts[o]);
                s[u].r = widen(rewards[o]);
                s[u].v = widen(values[o]);
            }
        }
#pragma unroll
        for (int u = 0; u < UNROLL; ++u) {
            const long long t = top - u;
            if (t >= 0) {
                const long long o = t * N + i;
                const float rho = expf(s[u].log_rho);
                const float delta = fminf(rho, clip_rho) * (s[u].r + s[u].disc * v_next - s[u].v);
                acc = delta + s[u].disc * (lambda_ * fminf(rho, 1.f)) * acc;
                const float vs_t = s[u].v + acc;
                vs[o] = vs_t;
                pg_advantages[o] = fminf(rho, clip_pg_rho) * (s[u].r + s[u].disc * vs_next - s[u].v);
                v_next = s[u].v;
                vs_next = vs_t;
            }
        }
    }
}

}  // namespace

#define FASTRL_RETURNS_KERNELS(SUFFIX, IN)                                                                  \
    extern "C" __global__ void gae_##SUFFIX(                                                                 \
        const IN* rewards, const IN* values, const unsigned char* terminated, const unsigned char* truncated, \
        const IN* next_value, const IN* final_values, int has_final, float* advantages, float* returns,      \
        long long T, long long N, float gamma, float gamma_lam) {                                            \
        gae_scan<IN>(rewards, values, terminated, truncated, next_value, final_values, has_final, advantages, \
                     returns, T, N, gamma, gamma_lam);                                                       \
    }                                                                                                        \
    extern "C" __global__ void nstep_##SUFFIX(                                                               \
        const IN* rewards, const IN* values, const unsigned char* terminated, const unsigned char* truncated, \
        const IN* next_value, const IN* final_values, int has_final, float* returns, float* discounts,       \
        long long T, long long N, float gamma, int n) {                                                      \
        nstep_window<IN>(rewards, values, terminated, truncated, next_value, final_values, has_final,        \
                         returns, discounts, T, N, gamma, n);                                                \
    }                                                                                                        \
    extern "C" __global__ void vtrace_##SUFFIX(                                                              \
        const IN* log_rhos, const IN* discounts, const IN* rewards, const IN* values,                        \
        const IN* bootstrap_value, float* vs, float* pg_advantages, long long T, long long N,                \
        float clip_rho, float clip_pg_rho, float lambda_) {                                                  \
        vtrace_scan<IN>(log_rhos, discounts, rewards, values, bootstrap_value, vs, pg_advantages, T, N,      \
                        clip_rho, clip_pg_rho, lambda_);                                                     \
    }

FASTRL_RETURNS_KERNELS(f32, float)
FASTRL_RETURNS_KERNELS(bf16, unsigned short)
