// ist-micro: Google Benchmark micro-benchmarks of the pieces that decide IST's speed.
//
//   ist-micro                                   # everything, then the summary of the yardsticks
//   ist-micro --benchmark_filter='Fma|Gemm|Step' # only the step-vs-GEMM-vs-peak comparison
//   ist-micro --benchmark_filter=Fma --step-width=256   # a quick check: summary at width 256
//   ist-micro --benchmark_format=json --no-summary     # the benchmarks alone (a script reads them)
//
// Every benchmark takes the BLAS thread count as its last argument (1 = what an IST worker gets
// when S workers share the cores, 2 = the whole machine). Reported:
//  - BM_FmaPeak/fp32: the machine's fp32 peak, measured: independent chains of fused multiply-adds
//    on registers (the inner loop of a dot product without its loads), at the widest vectors the
//    CPU has (AVX-512, else AVX2 + FMA), on `threads` threads at once. BM_FmaPeak/bf16: the same
//    with AVX512_BF16's dot-product instruction (vdpbf16ps: per fp32 lane two bf16 products added
//    to the fp32 accumulator, 4 flops), where the CPU has it: that instruction's rate. Every
//    GFLOP/s below is also given as `of_peak`, a fraction of the peak of its precision at the same
//    thread count in the same run: fp32's is the FMA rate, bf16's the higher of the FMA rate and
//    vdpbf16ps's (fp32 FMAs on inputs rounded to bf16 compute bf16's arithmetic too: on Intel's
//    AVX-512 cores without AMX vdpbf16ps runs at half the FMA rate, so that is the faster way);
//  - BM_Gemm/<arithmetic>: C(128 x 4096) = A(128 x 4096) B(4096 x 4096)^T through the library's
//    GEMM entry (ist/detail/gemm.hpp) with each backend this build has and each precision it
//    computes (openblas, onednn, onednn-bf16: bf16 inputs, fp32 accumulation, with the CPU's
//    faster bf16 kernel, its name the label; onednn-bf16-matmul: oneDNN's bf16 matmul forced,
//    where it is not that kernel), GFLOP/s;
//  - BM_Step/<arithmetic>: forward + backward + SGD update of make_mlp({784, {W, W}, 10}) (Dense
//    no bias -> BatchNorm -> ReLU, x2, Dense -> BatchNorm without parameters) at batch 128 with
//    those GEMMs. `GFLOP/s` counts the GEMM work only (forward, weight gradients, input gradients
//    of layers 2 and 3); `of_gemm` is that rate over the same arithmetic's BM_Gemm rate at the same
//    thread count in this run, `of_onednn_gemm` over oneDNN's fp32 rate;
//  - BM_Extract / BM_Merge: one round's subnet extraction (S x Network::subnet) and HolderAverage
//    merge at width 4096; `vs_full_step` / `vs_subnet_step` divide by the time of one full-width
//    training step and of one step of a worker's subnet (width 4096 / S);
//  - BM_Spmm: GIST's sparse product A_hat x on a 70,000-node graph of degree 10 (no dense N x N
//    anywhere); `of_copy` is its effective bandwidth over a plain memory copy's in the same run.
//  - BM_Codec: encode + decode of a 4096 x 4096 fp32 tensor (fp16, q8, q4; stochastic rounding),
//    `GB/s` of fp32 input; `of_memcpy` is that over a memcpy of the same 64 MiB in the same run
//    (target >= 0.25: coding never costs more than the link it saves).
// Benchmarks other than BM_Gemm / BM_Step use the build's default backend (`of_sgemm` divides by its
// BM_Gemm rate). After the runs a summary prints the peak, each backend's GEMM and step at width
// --step-width (default 4096; measured here when the benchmarks above were filtered out), each as a
// fraction of peak, and ends with
//   step 1 thread: onednn/openblas xA.AA, bf16/openblas xB.BB, of onednn f32 gemm C.CC
// (the 1-thread step's speed-up from OpenBLAS to oneDNN fp32 and to oneDNN bf16, and oneDNN's fp32
// step rate over its GEMM rate).
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>

#include <ist/ist.hpp>
#include <ist/detail/gemm.hpp>
#include <ist/model/xml/sparse_dense.hpp>

namespace {

using ist::Precision;
using ist::detail::GemmBackend;

/// A GEMM backend and the precision it computes in: one row of the comparison. A bf16 row uses
/// the process's bf16 kernel (the CPU's faster one, what --precision bf16 runs) unless it forces
/// oneDNN's bf16 matmul (the row `onednn-bf16-matmul`, where that is not the default: the kernel
/// --precision bf16 ran before the rounded-fp32 one, timed beside it in the same run).
struct Arithmetic {
    GemmBackend backend;
    Precision precision = Precision::Fp32;
    bool bf16_matmul_forced = false;
    auto operator<=>(const Arithmetic&) const = default;
    std::string name() const {
        return std::string(ist::detail::gemm_backend_name(backend)) + (precision == Precision::Bf16 ? "-bf16" : "") +
               (bf16_matmul_forced ? "-matmul" : "");
    }
};
constexpr Arithmetic kOpenBlas{GemmBackend::OpenBlas}, kOneDnn{GemmBackend::OneDnn},
    kOneDnnBf16{GemmBackend::OneDnn, Precision::Bf16}, kOneDnnBf16Matmul{GemmBackend::OneDnn, Precision::Bf16, true};

#if IST_GEMM_ONEDNN
using ist::detail::onednn::Bf16Kernel;
/// The bf16 kernel an arithmetic's GEMMs use.
Bf16Kernel bf16_kernel_of(Arithmetic a) {
    return a.bf16_matmul_forced ? Bf16Kernel::BfloatMatmul : ist::detail::onednn::bf16_kernel();
}
#endif

/// The guards of an arithmetic: the process's backend and bf16 kernel, the calling thread's precision.
struct UseArithmetic {
    ist::detail::GemmBackendGuard backend;
    ist::detail::GemmPrecisionGuard precision;
#if IST_GEMM_ONEDNN
    ist::detail::onednn::Bf16KernelGuard kernel;
    explicit UseArithmetic(Arithmetic a) : backend(a.backend), precision(a.precision), kernel(bf16_kernel_of(a)) {}
#else
    explicit UseArithmetic(Arithmetic a) : backend(a.backend), precision(a.precision) {}
#endif
};

constexpr std::size_t kBatch = 128, kInputs = 784, kClasses = 10;

ist::Matrix random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    ist::Matrix m = ist::Matrix::from_shape({rows, cols});
    for (auto& v : m) v = n(rng);
    return m;
}

ist::Labels random_labels(std::size_t rows, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    ist::Labels y(rows);
    for (auto& v : y) v = static_cast<std::uint32_t>(rng() % kClasses);
    return y;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Every arithmetic this build computes on this CPU.
std::vector<Arithmetic> built_arithmetics() {
    std::vector<Arithmetic> out;
    for (Arithmetic a : {kOpenBlas, kOneDnn, kOneDnnBf16})
        if (ist::detail::gemm_backend_built(a.backend) && ist::detail::gemm_precision_supported(a.precision, a.backend))
            out.push_back(a);
#if IST_GEMM_ONEDNN
    if (ist::detail::gemm_precision_supported(Precision::Bf16, GemmBackend::OneDnn) &&
        ist::detail::onednn::bf16_kernel() != Bf16Kernel::BfloatMatmul)
        out.push_back(kOneDnnBf16Matmul);
#endif
    return out;
}

// ---- The FMA peak ----------------------------------------------------------------------------

constexpr int kFmaChains = 12;  // > FMA latency (4) x ports (2): the ports never wait for a result
constexpr long kFmaIterations = 1L << 22;

/// Flops of one call of an fma_chains_* kernel with `lanes` floats per vector.
double fma_chain_flops(int lanes) { return 2.0 * lanes * kFmaChains * static_cast<double>(kFmaIterations); }

// acc = acc * a + b on kFmaChains independent vectors: converges to b / (1 - a), never denormal.
#define IST_FMA_CHAINS(VEC, SET1, FMA, ADD, STORE, LANES)                                              \
    VEC acc[kFmaChains];                                                                               \
    for (int j = 0; j < kFmaChains; ++j) acc[j] = SET1(0.01f * static_cast<float>(j));                 \
    const VEC a = SET1(0.999f), b = SET1(0.001f);                                                      \
    for (long i = 0; i < kFmaIterations; ++i) {                                                        \
        _Pragma("GCC unroll 12") for (int j = 0; j < kFmaChains; ++j) acc[j] = FMA(acc[j], a, b);      \
    }                                                                                                  \
    VEC sum = acc[0];                                                                                  \
    for (int j = 1; j < kFmaChains; ++j) sum = ADD(sum, acc[j]);                                      \
    float out[LANES];                                                                                  \
    STORE(out, sum);                                                                                   \
    return out[0];

[[gnu::target("avx512f")]] float fma_chains_avx512() {
    IST_FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
}
[[gnu::target("avx2,fma")]] float fma_chains_avx2() {
    IST_FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
}
#undef IST_FMA_CHAINS

/// acc += a.bf16[2i] b.bf16[2i] + a.bf16[2i+1] b.bf16[2i+1] per fp32 lane, on kFmaChains vectors
/// (grows by 2e-6 a step: never denormal, never overflows).
[[gnu::target("avx512f,avx512bf16")]] float dot_chains_avx512_bf16() {
    __m512 acc[kFmaChains];
    for (int j = 0; j < kFmaChains; ++j) acc[j] = _mm512_set1_ps(0.01f * static_cast<float>(j));
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.001f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.001f), _mm512_set1_ps(0.001f));
    for (long i = 0; i < kFmaIterations; ++i) {
        _Pragma("GCC unroll 12") for (int j = 0; j < kFmaChains; ++j) acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
    }
    __m512 sum = acc[0];
    for (int j = 1; j < kFmaChains; ++j) sum = _mm512_add_ps(sum, acc[j]);
    float out[16];
    _mm512_storeu_ps(out, sum);
    return out[0];
}

/// The widest FMA kernel of a precision this CPU runs, its flops per fp32 lane and instruction
/// (an FMA 2, a bf16 dot product 4), its vector width in floats and its name.
struct FmaKernel {
    float (*run)();
    int flops_per_lane, lanes;
    const char* isa;
};

FmaKernel fma_kernel(Precision precision = Precision::Fp32) {
    if (precision == Precision::Bf16)
        return __builtin_cpu_supports("avx512bf16") ? FmaKernel{dot_chains_avx512_bf16, 4, 16, "avx512_bf16"}
                                                    : FmaKernel{nullptr, 0, 0, "none (no AVX512_BF16)"};
    if (__builtin_cpu_supports("avx512f")) return {fma_chains_avx512, 2, 16, "avx512"};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {fma_chains_avx2, 2, 8, "avx2+fma"};
    return {nullptr, 0, 0, "none (no FMA)"};
}

/// GFLOP/s of a precision's FMA kernel on `threads` threads at once (0 when the CPU has none).
double measure_fma_peak(int threads, Precision precision) {
    const FmaKernel kernel = fma_kernel(precision);
    if (!kernel.run) return 0.0;
    std::vector<float> sink(static_cast<std::size_t>(threads));
    const auto t0 = std::chrono::steady_clock::now();
    {
        std::vector<std::jthread> workers;
        for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { sink[static_cast<std::size_t>(t)] = kernel.run(); });
    }
    const double seconds = seconds_since(t0);
    benchmark::DoNotOptimize(sink.data());
    return threads * fma_chain_flops(kernel.lanes) * (kernel.flops_per_lane / 2.0) / seconds / 1e9;
}

/// Measured rates of this run, so later benchmarks can report ratios against earlier ones.
std::map<std::pair<Precision, int>, double> g_instruction_gflops;                  // by (precision, threads)
std::map<std::tuple<Arithmetic, std::size_t, int>, double> g_gemm_gflops;  // by (arithmetic, width, threads)
std::map<std::tuple<Arithmetic, std::size_t, int>, double> g_step_seconds;  // by (arithmetic, width, threads)
std::size_t g_summary_width = 4096;                                          // --step-width

/// The rate of a precision's FMA kernel (fp32: the FMA; bf16: vdpbf16ps, the instruction's rate):
/// the best of three short measurements, from BM_FmaPeak when it ran.
double instruction_gflops(int threads, Precision precision = Precision::Fp32) {
    const auto key = std::make_pair(precision, threads);
    if (!g_instruction_gflops.count(key))
        g_instruction_gflops[key] = std::max({measure_fma_peak(threads, precision), measure_fma_peak(threads, precision),
                                       measure_fma_peak(threads, precision)});
    return g_instruction_gflops[key];
}

/// The peak of a precision's arithmetic: fp32's is the FMA rate; bf16's (bf16 inputs, exact
/// products, fp32 sums) the higher of vdpbf16ps's rate and the FMA rate, since fp32 FMAs on inputs
/// rounded to bf16 compute the same arithmetic (and outrun vdpbf16ps where it runs at half rate).
double peak_gflops(int threads, Precision precision = Precision::Fp32) {
    const double fma = instruction_gflops(threads);
    return precision == Precision::Bf16 ? std::max(fma, instruction_gflops(threads, Precision::Bf16)) : fma;
}

void BM_FmaPeak(benchmark::State& state, Precision precision) {
    const int threads = static_cast<int>(state.range(0));
    double best = 0.0;
    for (auto _ : state) best = std::max(best, measure_fma_peak(threads, precision));
    g_instruction_gflops[{precision, threads}] = best;
    state.SetLabel(fma_kernel(precision).isa);
    state.counters["GFLOP/s"] = best;
    state.counters["threads"] = threads;
}

// ---- GEMM and step per backend ---------------------------------------------------------------

/// One C(128 x w) = A(128 x w) B(w x w)^T through the library's GEMM entry.
struct GemmFixture {
    ist::Matrix a, b, c;
    explicit GemmFixture(std::size_t w)
        : a(random_matrix(kBatch, w, 1)), b(random_matrix(w, w, 2)), c(ist::Matrix::from_shape({kBatch, w})) {}
    void run() { ist::detail::gemm(a, b, c, false, true); }
    double flops() const { return 2.0 * static_cast<double>(a.size() * b.shape()[0]); }
};

/// GEMM rate of `arithmetic` at `threads` (128 x w x w), from BM_Gemm when it ran, else measured here.
double gemm_gflops(Arithmetic arithmetic, int threads, std::size_t w = 4096) {
    const auto key = std::make_tuple(arithmetic, w, threads);
    if (!g_gemm_gflops.count(key)) {
        const UseArithmetic use(arithmetic);
        const ist::detail::BlasThreadsGuard guard(threads);
        GemmFixture f(w);
        f.run();
        const auto t0 = std::chrono::steady_clock::now();
        const int reps = 20;
        for (int r = 0; r < reps; ++r) f.run();
        g_gemm_gflops[key] = reps * f.flops() / seconds_since(t0) / 1e9;
    }
    return g_gemm_gflops[key];
}

/// The build's default backend's GEMM rate (the yardstick of the benchmarks that use it).
double sgemm_gflops(int threads) { return gemm_gflops({ist::detail::gemm_backend()}, threads); }

void BM_Gemm(benchmark::State& state, Arithmetic arithmetic) {
    const int threads = static_cast<int>(state.range(0));
    const UseArithmetic use(arithmetic);
    const ist::detail::BlasThreadsGuard guard(threads);
    GemmFixture f(4096);
    f.run();
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        f.run();
        benchmark::DoNotOptimize(f.c.data());
        benchmark::ClobberMemory();
    }
    const double gflops = f.flops() / (seconds_since(t0) / static_cast<double>(state.iterations())) / 1e9;
    g_gemm_gflops[{arithmetic, 4096, threads}] = gflops;
    state.counters["GFLOP/s"] = gflops;
    state.counters["of_peak"] = gflops / peak_gflops(threads, arithmetic.precision);
    state.counters["threads"] = threads;
#if IST_GEMM_ONEDNN
    if (arithmetic.precision == Precision::Bf16)
        state.SetLabel(ist::detail::onednn::bf16_kernel_name(bf16_kernel_of(arithmetic)));
#endif
}

/// GEMM floating-point operations of one training step of 784 -> w1 -> w2 -> 10 at batch b.
double step_flops(std::size_t b, std::size_t w1, std::size_t w2) {
    const double fwd = 2.0 * b * (kInputs * w1 + w1 * w2 + w2 * kClasses);
    const double input_grads = 2.0 * b * (w1 * w2 + w2 * kClasses);  // layer 1 needs no dL/dx
    return 2.0 * fwd + input_grads;
}

/// One training step (the trainer's inner loop body): loss_and_gradient + Sgd::step.
struct StepFixture {
    ist::Network net;
    ist::Matrix x;
    ist::Labels y;
    std::vector<ist::Parameter*> params;
    ist::Sgd::Run sgd;

    explicit StepFixture(ist::Network n)
        : net(std::move(n)), x(random_matrix(kBatch, kInputs, 3)), y(random_labels(kBatch, 4)),
          params(ist::parameter_pointers(net)), sgd(ist::Sgd(0.01f).start(params)) {}
    void step() {
        benchmark::DoNotOptimize(net.loss_and_gradient(x, y));
        sgd.step(params);
    }
};

double time_steps(StepFixture& f, int reps) {
    f.step();
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) f.step();
    return seconds_since(t0) / reps;
}

/// Seconds per full-width training step at width w with `arithmetic`, from BM_Step when it ran,
/// else measured here.
double step_seconds(Arithmetic arithmetic, std::size_t w, int threads) {
    const auto key = std::make_tuple(arithmetic, w, threads);
    if (!g_step_seconds.count(key)) {
        const UseArithmetic use(arithmetic);
        const ist::detail::BlasThreadsGuard guard(threads);
        StepFixture f(ist::make_mlp({kInputs, {w, w}, kClasses}));
        g_step_seconds[key] = time_steps(f, 5);
    }
    return g_step_seconds[key];
}

/// The default backend's step (the yardstick of the round benchmarks).
double step_seconds(std::size_t w, int threads) { return step_seconds({ist::detail::gemm_backend()}, w, threads); }

void BM_Step(benchmark::State& state, Arithmetic arithmetic) {
    const auto w = static_cast<std::size_t>(state.range(0));
    const int threads = static_cast<int>(state.range(1));
    const UseArithmetic use(arithmetic);
    const ist::detail::BlasThreadsGuard guard(threads);
    StepFixture f(ist::make_mlp({kInputs, {w, w}, kClasses}));
    f.step();  // first step sizes every buffer
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) f.step();
    const double seconds = seconds_since(t0) / static_cast<double>(state.iterations());
    const double gflops = step_flops(kBatch, w, w) / seconds / 1e9;
    g_step_seconds[{arithmetic, w, threads}] = seconds;
    state.counters["GFLOP/s"] = gflops;
    state.counters["of_gemm"] = gflops / gemm_gflops(arithmetic, threads);
    if (ist::detail::gemm_backend_built(GemmBackend::OneDnn))
        state.counters["of_onednn_gemm"] = gflops / gemm_gflops(kOneDnn, threads);
    state.counters["of_peak"] = gflops / peak_gflops(threads, arithmetic.precision);
    state.counters["threads"] = threads;
}

/// The yardsticks side by side, from this run's measurements (measured here when filtered out).
void print_summary(int max_threads) {
    const std::size_t w = g_summary_width;
    const double step_work = step_flops(kBatch, w, w);
    std::printf("\nsummary (GEMM 128 x %zu x %zu; step 784-%zu-%zu-10, BN, batch 128; GFLOP/s and of the peak of "
                "its precision)\n", w, w, w, w);
    const std::vector<Arithmetic> arithmetics = built_arithmetics();
    for (int t = 1; t <= max_threads; ++t) {
        std::printf("  %d thread(s): FMA peak %.1f GFLOP/s (%s), bf16 dot product (vdpbf16ps) %.1f GFLOP/s (%s), bf16 "
                    "peak %.1f (the higher)\n", t, instruction_gflops(t), fma_kernel().isa,
                    instruction_gflops(t, Precision::Bf16), fma_kernel(Precision::Bf16).isa, peak_gflops(t, Precision::Bf16));
        for (Arithmetic a : arithmetics) {
            const double peak = peak_gflops(t, a.precision);
            const double gemm = gemm_gflops(a, t, w);
            const double step = step_work / step_seconds(a, w, t) / 1e9;
            std::printf("    %-18s gemm %7.1f (%.2f of peak)   step %7.2f ms, %7.1f GFLOP/s (%.2f of peak, %.2f of its gemm)\n",
                        a.name().c_str(), gemm, gemm / peak, step_seconds(a, w, t) * 1e3, step, step / peak, step / gemm);
        }
    }
    if (!ist::detail::gemm_backend_built(GemmBackend::OneDnn)) {
        std::printf("step 1 thread: onednn n/a (this build has no oneDNN: configure with IST_GEMM=onednn)\n");
        return;
    }
    const double openblas_step = step_seconds(kOpenBlas, w, 1), onednn_step = step_seconds(kOneDnn, w, 1);
    const double onednn_gemm = gemm_gflops(kOneDnn, 1, w);
    const bool bf16 = ist::detail::gemm_precision_supported(Precision::Bf16, GemmBackend::OneDnn);
    char bf16_ratio[64] = "n/a (no bf16 matmul on this CPU)";
    if (bf16) std::snprintf(bf16_ratio, sizeof bf16_ratio, "x%.2f", openblas_step / step_seconds(kOneDnnBf16, w, 1));
    std::printf("step 1 thread: onednn/openblas x%.2f, bf16/openblas %s, of onednn f32 gemm %.2f\n",
                openblas_step / onednn_step, bf16_ratio, step_work / onednn_step / 1e9 / onednn_gemm);
}

/// The full model and one round's plan at width 4096 with S workers.
struct RoundFixture {
    ist::Network net = ist::make_mlp({kInputs, {4096, 4096}, kClasses});
    ist::Plan plan;
    explicit RoundFixture(std::size_t S) {
        ist::PartitionRng rng(7);
        plan = ist::NeuronPartition{}.plan(net.dimensions(), S, rng);
    }
    std::vector<ist::Network> extract() const {
        std::vector<ist::Network> subs;
        for (const auto& p : plan) subs.push_back(net.subnet(p));
        return subs;
    }
};

void report_round_ratios(benchmark::State& state, double seconds, std::size_t S, int threads) {
    state.counters["vs_full_step"] = seconds / step_seconds(4096, threads);
    // A worker's local step: its subnet, 4096 / S wide (all subnets are the same size here).
    RoundFixture round(S);
    ist::detail::BlasThreadsGuard guard(threads);
    StepFixture sub(round.net.subnet(round.plan[0]));
    state.counters["vs_subnet_step"] = seconds / time_steps(sub, 5);
    state.counters["threads"] = threads;
}

void BM_Extract(benchmark::State& state) {
    const auto S = static_cast<std::size_t>(state.range(0));
    const int threads = static_cast<int>(state.range(1));
    const RoundFixture round(S);
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) benchmark::DoNotOptimize(round.extract());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                           static_cast<double>(state.iterations());
    report_round_ratios(state, seconds, S, threads);
}

void BM_Merge(benchmark::State& state) {
    const auto S = static_cast<std::size_t>(state.range(0));
    const int threads = static_cast<int>(state.range(1));
    RoundFixture round(S);
    const std::vector<ist::Network> subs = round.extract();
    ist::HolderAverage aggregator;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        std::vector<ist::MergeItem> items;
        for (std::size_t i = 0; i < round.net.parameter_count(); ++i) {
            ist::MergeItem item{&round.net.parameter(i).value, round.net.parameter_dims(i), {}};
            for (const auto& sub : subs) item.workers.push_back(&sub.parameter(i).value);
            items.push_back(std::move(item));
        }
        aggregator.merge(items, round.plan);
        benchmark::ClobberMemory();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                           static_cast<double>(state.iterations());
    report_round_ratios(state, seconds, S, threads);
}

/// A 70,000-node graph of degree 10 (a ring lattice under a random relabelling, so neighbours are
/// scattered in memory as in a kNN graph), normalised: the size of the Fashion-MNIST kNN graph.
const ist::Graph& spmm_graph() {
    static const ist::Graph g = [] {
        constexpr std::uint32_t n = 70000;
        ist::detail::RandomEngine rng(1);
        const std::vector<std::uint32_t> label = ist::detail::random_permutation(n, rng);
        std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
        for (std::uint32_t i = 0; i < n; ++i)
            for (std::uint32_t d = 1; d <= 5; ++d) edges.emplace_back(label[i], label[(i + d) % n]);
        return ist::Graph::from_edges(n, edges).normalized_adjacency();
    }();
    return g;
}

/// y = A_hat x at F features, against a plain copy of the same number of bytes in this run:
/// `of_copy` is spmm's effective bandwidth (every x row it reads plus y) over the copy's.
void BM_Spmm(benchmark::State& state) {
    const auto features = static_cast<std::size_t>(state.range(0));
    const ist::Graph& a = spmm_graph();
    const ist::Matrix x = random_matrix(a.nodes(), features, 2);
    ist::Matrix y;
    const double bytes = static_cast<double>((a.entries() + a.nodes()) * features * sizeof(float));
    std::vector<float> src(static_cast<std::size_t>(bytes / sizeof(float)), 1.0f), dst(src.size());
    const auto c0 = std::chrono::steady_clock::now();
    for (int r = 0; r < 3; ++r) {
        std::copy(src.begin(), src.end(), dst.begin());
        benchmark::DoNotOptimize(dst.data());
    }
    const double copy_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count() / 3.0;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        ist::spmm(a, x, y);
        benchmark::DoNotOptimize(y.data());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                           static_cast<double>(state.iterations());
    state.counters["GB/s"] = bytes / seconds / 1e9;
    state.counters["of_copy"] = copy_seconds / seconds;
    state.counters["entries"] = static_cast<double>(a.entries());
}

/// Encode + decode of one 4096 x 4096 tensor with the codec named by `codec_names[range(0)]`.
const char* const codec_names[] = {"fp16", "q8", "q4"};

void BM_Codec(benchmark::State& state) {
    const ist::AnyCodec codec = ist::AnyCodec::parse(codec_names[state.range(0)]);
    const std::size_t n = 4096;
    const ist::Matrix x = random_matrix(n, n, 3);
    std::vector<float> out(n * n), copy(n * n);
    std::vector<char> coded;
    coded.reserve(codec.coded_bytes(n, n));
    const double bytes = static_cast<double>(n * n * sizeof(float));
    const auto c0 = std::chrono::steady_clock::now();
    for (int r = 0; r < 5; ++r) {
        std::memcpy(copy.data(), x.data(), n * n * sizeof(float));
        benchmark::DoNotOptimize(copy.data());
    }
    const double copy_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count() / 5.0;
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        coded.clear();
        ist::CodingRng rng(1);
        codec.encode({x.data(), n * n}, n, coded, rng);
        codec.decode(coded.data(), n, out);
        benchmark::DoNotOptimize(out.data());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                           static_cast<double>(state.iterations());
    state.SetLabel(codec.name());
    state.counters["GB/s"] = bytes / seconds / 1e9;
    state.counters["memcpy_GB/s"] = bytes / copy_seconds / 1e9;
    state.counters["of_memcpy"] = copy_seconds / seconds;
}

/// BM_TransformerStep: forward + backward + SGD update of the transformer of docs/transformers.md
/// (4 blocks, width 256, 8 heads, FFN 1024, 32 tokens, vocabulary 8000, 45 classes) at batch 64,
/// every position a token. `GFLOP/s` counts the GEMM work (projections, FFN, attention's two
/// products per head, each forward, weight gradient and input gradient); `of_sgemm` divides it by
/// BM_Sgemm's rate at the same thread count in this run. bench/pytorch_transformer_step.py times
/// PyTorch's step for the same model.
void BM_TransformerStep(benchmark::State& state) {
    const int threads = static_cast<int>(state.range(0));
    ist::detail::BlasThreadsGuard guard(threads);
    constexpr std::size_t batch = 64, length = 32, width = 256, ffn = 1024, blocks = 4, vocabulary = 8000;
    ist::Transformer model({.vocabulary = vocabulary, .sequence_length = length, .width = width, .heads = 8,
                            .ffn = ffn, .blocks = blocks, .classes = 45, .seed = 1});
    ist::Matrix tokens = ist::Matrix::from_shape({batch, length});
    std::mt19937_64 rng(5);
    for (auto& v : tokens) v = static_cast<float>(1 + rng() % (vocabulary - 1));
    ist::Labels y(batch);
    for (auto& v : y) v = static_cast<std::uint32_t>(rng() % 45);
    std::vector<ist::Parameter*> params = ist::parameter_pointers(model);
    ist::Sgd::Run sgd = ist::Sgd(0.01f).start(params);
    auto step = [&] {
        benchmark::DoNotOptimize(model.loss_and_gradient(tokens, y));
        sgd.step(params);
    };
    step();  // sizes every buffer
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) step();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                           static_cast<double>(state.iterations());
    const double tokens_n = static_cast<double>(batch * length);
    const double forward = 2.0 * tokens_n * blocks * (4.0 * width * width + 2.0 * width * ffn + 2.0 * length * width);
    const double gflops = 3.0 * forward / seconds / 1e9;  // backward: weight and input gradients
    state.counters["GFLOP/s"] = gflops;
    state.counters["of_sgemm"] = gflops / sgemm_gflops(threads);
    state.counters["threads"] = threads;
}

int hardware_threads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::vector<int> thread_counts() {
    std::vector<int> threads{1};
    if (hardware_threads() > 1) threads.push_back(hardware_threads());
    return threads;
}

void register_all() {
    const std::vector<int> threads = thread_counts();
    for (Precision p : {Precision::Fp32, Precision::Bf16})
        if (fma_kernel(p).run)
            for (int t : threads)
                benchmark::RegisterBenchmark(("BM_FmaPeak/" + std::string(ist::precision_name(p))).c_str(), BM_FmaPeak, p)
                    ->Arg(t)->Unit(benchmark::kMillisecond)->Iterations(5);
    for (Arithmetic a : built_arithmetics()) {
        const std::string name = a.name();
        for (int t : threads) {
            benchmark::RegisterBenchmark(("BM_Gemm/" + name + "/128x4096x4096").c_str(), BM_Gemm, a)
                ->Arg(t)->Unit(benchmark::kMillisecond)->MinTime(1.0);
            for (long w : {512L, 1024L, 2048L, 4096L})
                benchmark::RegisterBenchmark(("BM_Step/" + name + "/784-W-W-10/b128").c_str(), BM_Step, a)
                    ->Args({w, t})->Unit(benchmark::kMillisecond)->MinTime(1.0);
        }
    }
    for (long f : {64L, 256L})
        benchmark::RegisterBenchmark("BM_Spmm/N70000-deg10", BM_Spmm)->Arg(f)->Unit(benchmark::kMillisecond);
    for (long c = 0; c < 3; ++c)
        benchmark::RegisterBenchmark("BM_Codec/4096x4096", BM_Codec)->Arg(c)->Unit(benchmark::kMillisecond);
    for (long S : {2L, 4L, 8L}) {
        benchmark::RegisterBenchmark("BM_Extract/W4096", BM_Extract)->Args({S, 1})->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark("BM_Merge/W4096", BM_Merge)->Args({S, 1})->Unit(benchmark::kMillisecond);
    }
    for (int t : threads)
        benchmark::RegisterBenchmark("BM_TransformerStep/L4-D256-H8-F1024-T32/b64", BM_TransformerStep)->Arg(t)->Unit(benchmark::kMillisecond)->MinTime(1.0);
}

bool g_print_summary = true;  // --no-summary: the benchmarks' output alone (e.g. JSON for a script)

/// Removes ist-micro's own options (--step-width=W, --no-summary) from the arguments (Google
/// Benchmark refuses flags it does not know).
void take_own_options(int& argc, char** argv) {
    constexpr std::string_view option = "--step-width=";
    int kept = 0;
    for (int i = 0; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--no-summary") {
            g_print_summary = false;
            continue;
        }
        if (!arg.starts_with(option)) {
            argv[kept++] = argv[i];
            continue;
        }
        const std::string value(arg.substr(option.size()));
        g_summary_width = std::strtoul(value.c_str(), nullptr, 10);
        if (g_summary_width == 0 || value.find_first_not_of("0123456789") != std::string::npos) {
            std::fprintf(stderr, "ist-micro: error: --step-width: '%s' is not a positive width\n", value.c_str());
            std::exit(2);
        }
    }
    argc = kept;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string one, five, fifteen;
    in >> one >> five >> fifteen;
    return one + " " + five + " " + fifteen;
}

}  // namespace

int main(int argc, char** argv) {
    take_own_options(argc, argv);
    benchmark::AddCustomContext("openblas_default_threads",
                                std::to_string(openblas_get_num_threads ? openblas_get_num_threads() : 0));
    for (const char* var : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENBLAS_CORETYPE"}) {
        const char* env = std::getenv(var);
        benchmark::AddCustomContext(var, env ? env : "(unset)");
    }
    benchmark::AddCustomContext("gemm_default_backend", ist::detail::gemm_backend_name(ist::detail::gemm_backend()));
#if IST_GEMM_ONEDNN
    const dnnl_version_t* dnnl = dnnl_version();
    benchmark::AddCustomContext("onednn_version", std::to_string(dnnl->major) + "." + std::to_string(dnnl->minor) + "." +
                                                      std::to_string(dnnl->patch));
#endif
    benchmark::AddCustomContext("fma_kernel", fma_kernel().isa);
    benchmark::AddCustomContext("load_average_at_start", load_average());
    benchmark::AddCustomContext("note", "thread count of each run is its last argument / the 'threads' counter");
    register_all();
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (!g_print_summary) return 0;
    std::printf("\nload average at the end: %s\n", load_average().c_str());
    print_summary(thread_counts().back());
    return 0;
}

// Extreme classification (docs/extreme.md). Batch 128, OpenBLAS threads as the last argument.
//  - BM_SparseDenseStep: SparseDense forward + backward at 100,000 features, 64 stored per row, width
//    512; `dense_over_sparse` is the time of Dense's forward + backward on the same batch stored dense
//    (128 x 100,000), measured in the same benchmark, over the sparse layer's.
//  - BM_XmlOutputLayer: Dense 512 -> 147,306 labels (the WordNet task's), forward + weight and input
//    gradients; `GFLOP/s` counts the three GEMMs, `of_sgemm` divides it by one SGEMM of the forward's
//    shape timed in the same benchmark (target >= 0.8).
namespace {

constexpr std::size_t kSparseFeatures = 100000, kSparseWidth = 512, kRowNnz = 64, kXmlLabels = 147306;

/// A batch of kBatch rows with kRowNnz distinct random features each, and the same batch dense.
std::pair<ist::CsrMatrix, ist::Matrix> sparse_batch() {
    std::mt19937_64 rng(7);
    ist::CsrMatrix x;
    x.cols = kSparseFeatures;
    ist::Matrix dense = xt::zeros<float>({kBatch, kSparseFeatures});
    for (std::size_t r = 0; r < kBatch; ++r) {
        std::vector<std::uint32_t> idx;
        while (idx.size() < kRowNnz) {
            const auto j = static_cast<std::uint32_t>(rng() % kSparseFeatures);
            if (std::find(idx.begin(), idx.end(), j) == idx.end()) idx.push_back(j);
        }
        std::sort(idx.begin(), idx.end());
        const std::vector<float> val(kRowNnz, 1.0f);
        x.append_row(idx, val);
        for (std::uint32_t j : idx) dense(r, j) = 1.0f;
    }
    return {std::move(x), std::move(dense)};
}

template <class Step>
double seconds_per_call(Step&& step, int reps) {
    step();  // warm-up: buffers sized, pages touched
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) step();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}

void BM_SparseDenseStep(benchmark::State& state) {
    ist::detail::BlasThreadsGuard guard(static_cast<int>(state.range(0)));
    const auto [x, dense_x] = sparse_batch();
    const ist::Matrix dy = random_matrix(kBatch, kSparseWidth, 3);
    ist::SparseDense sparse(kSparseFeatures, kSparseWidth, 1);
    ist::Matrix y;
    const auto sparse_step = [&] {
        sparse.forward(x, y);
        sparse.backward(x, dy);
    };
    double dense_seconds = 0.0;
    {
        ist::Dense dense(kSparseFeatures, kSparseWidth, true, 1);
        ist::Matrix dense_y;
        dense_seconds = seconds_per_call([&] {
            dense.forward(dense_x, dense_y, ist::Mode::Train);
            dense.backward(dense_x, dense_y, dy, nullptr);
        }, 3);
    }
    const double sparse_seconds = seconds_per_call(sparse_step, 20);
    for (auto _ : state) {
        sparse_step();
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["dense_over_sparse"] = dense_seconds / sparse_seconds;
    state.counters["threads"] = static_cast<double>(state.range(0));
}

void BM_XmlOutputLayer(benchmark::State& state) {
    ist::detail::BlasThreadsGuard guard(static_cast<int>(state.range(0)));
    const ist::Matrix h = random_matrix(kBatch, kSparseWidth, 4);
    const ist::Matrix dy = random_matrix(kBatch, kXmlLabels, 5);
    ist::Dense layer(kSparseWidth, kXmlLabels, true, 2);
    ist::Matrix logits, dh;
    const auto step = [&] {
        layer.forward(h, logits, ist::Mode::Train);
        layer.backward(h, logits, dy, &dh);
    };
    const ist::Matrix& w = layer.parameters()[0].value;
    ist::Matrix c = ist::Matrix::from_shape({kBatch, kXmlLabels});
    const double sgemm_seconds = seconds_per_call([&] { ist::detail::gemm(h, w, c, false, true); }, 5);
    const double flops = 2.0 * kBatch * kSparseWidth * kXmlLabels;
    const double step_seconds = seconds_per_call(step, 5);
    for (auto _ : state) {
        step();
        benchmark::DoNotOptimize(logits.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(3.0 * flops * static_cast<double>(state.iterations()) / 1e9,
                                                   benchmark::Counter::kIsRate);
    state.counters["of_sgemm"] = (3.0 * flops / step_seconds) / (flops / sgemm_seconds);
    state.counters["threads"] = static_cast<double>(state.range(0));
}

// Registered at start-up, before main's register_all (they need nothing it measures).
const bool g_xml_registered = [] {
    for (int t : {1, 2}) {
        benchmark::RegisterBenchmark("BM_SparseDenseStep/F100000/W512", BM_SparseDenseStep)->Arg(t)->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark("BM_XmlOutputLayer/W512/L147306", BM_XmlOutputLayer)->Arg(t)->Unit(benchmark::kMillisecond);
    }
    return true;
}();

}  // namespace

// BM_SparseSgdStep: plain SGD's step on SparseDense's weight (100,000 features x 512) after one
// backward of sparse_batch(): the timed loop steps only the rows the gradient names
// (Parameter::grad_rows, the batch's features); `full_over_rows` is the time of the pass over every
// weight (the same update with the row list withdrawn), measured in the same benchmark, over it.
namespace {

void BM_SparseSgdStep(benchmark::State& state) {
    ist::detail::BlasThreadsGuard guard(static_cast<int>(state.range(0)));
    const ist::CsrMatrix x = sparse_batch().first;
    ist::SparseDense layer(kSparseFeatures, kSparseWidth, 1);
    layer.backward(x, random_matrix(kBatch, kSparseWidth, 3));
    ist::Parameter& weight = layer.parameters()[0];
    ist::Parameter full = weight;
    full.grad_rows.reset();
    ist::Parameter* rows_param[] = {&weight};
    ist::Parameter* full_param[] = {&full};
    auto rows_run = ist::Sgd(0.01f).start(rows_param);
    auto full_run = ist::Sgd(0.01f).start(full_param);
    const double full_seconds = seconds_per_call([&] { full_run.step(full_param); }, 5);
    const double rows_seconds = seconds_per_call([&] { rows_run.step(rows_param); }, 50);
    for (auto _ : state) {
        rows_run.step(rows_param);
        benchmark::DoNotOptimize(weight.value.data());
    }
    state.counters["full_over_rows"] = full_seconds / rows_seconds;
    state.counters["rows"] = static_cast<double>(weight.grad_rows->size());
    state.counters["threads"] = static_cast<double>(state.range(0));
}

const bool g_sparse_sgd_registered = [] {
    for (int t : {1, 2})
        benchmark::RegisterBenchmark("BM_SparseSgdStep/F100000/W512", BM_SparseSgdStep)->Arg(t)->Unit(benchmark::kMicrosecond);
    return true;
}();

}  // namespace
