// emu_test_driver.cpp — the emulator's own tests, built with AddressSanitizer together with the kernels, the
// emulator and planted.cu (dotnet cannot load an ASan library, so this native driver runs them; the NUnit test
// EmuPlantedBugTests runs this driver and reads its verdicts).
//
//   fcemu_test_asan                run everything; exit 0 when every check passed
//   fcemu_test_asan case NAME      run one planted case in this process (the driver forks itself per case so an
//                                  ASan report, which ends the process, is observed from the parent)
//
// Part 1: every kernel variant of native/kernels against a host reference in forward, reverse and random thread
// order (integer-valued data, so sums are exact in fp32 and TF32 and every order must agree bit for bit).
// Part 2: the planted bugs, each of which must be caught, and their fixed twins, which must pass.
#include "../fcemu_device.h"
#include "../fcemu.h"
#include "../../kernels/fc_common.cuh"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace
{
int failures = 0;

struct Dev
{
    void* p = nullptr;
    size_t bytes = 0;
    explicit Dev(const std::vector<float>& h) : bytes(h.size() * 4)
    {
        fcemu_mem_alloc(&p, bytes);
        fcemu_memcpy(p, h.data(), bytes);
    }
    explicit Dev(size_t n) : bytes(n * 4)
    {
        fcemu_mem_alloc(&p, bytes);
        fcemu_memset_d32(p, 0x7FC00000u, n); // NaN: unwritten outputs show
    }
    ~Dev() { fcemu_mem_free(p); }
    float* f() const { return static_cast<float*>(p); }
    std::vector<float> get() const
    {
        std::vector<float> h(bytes / 4);
        fcemu_memcpy(h.data(), p, bytes);
        return h;
    }
    Dev(const Dev&) = delete;
    Dev& operator=(const Dev&) = delete;
};

int launch(const char* name, dim3 grid, dim3 block, unsigned shared, void** params, std::string* error = nullptr)
{
    void* fn = nullptr;
    int rc = fcemu_get_function(name, &fn);
    if (rc == 0)
    {
        rc = fcemu_launch(fn, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared, params);
    }
    if (rc != 0 && error != nullptr)
    {
        *error = fcemu_last_error();
    }
    return rc;
}

std::vector<float> ints(size_t n, int lo, int hi, std::mt19937& rng)
{
    std::uniform_int_distribution<int> d(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = static_cast<float>(d(rng));
    return v;
}

void check(bool ok, const std::string& what)
{
    std::printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
    if (!ok) failures++;
}

bool same(const std::vector<float>& a, const std::vector<float>& b, double tol, std::string* why)
{
    if (a.size() != b.size())
    {
        *why = "size";
        return false;
    }
    for (size_t i = 0; i < a.size(); i++)
    {
        if (!(std::fabs(static_cast<double>(a[i]) - b[i]) <= tol * (1.0 + std::fabs(b[i]))))
        {
            char buf[160];
            std::snprintf(buf, sizeof buf, "element %zu: got %.9g expected %.9g", i, a[i], b[i]);
            *why = buf;
            return false;
        }
    }
    return true;
}

// ---- conv2d ---------------------------------------------------------------------------------------------------
struct ConvCase
{
    int N, C, H, W, K, R, S, sh, sw, pt, pl, pb, pr, dh, dw, groups;
};

std::vector<float> conv_ref(const ConvCase& c, int P, int Q, const std::vector<float>& x, const std::vector<float>& w,
                            const std::vector<float>& bias, const std::vector<float>& scale, const std::vector<float>& shift,
                            const std::vector<float>& res, int act, float alpha, float beta)
{
    int Cg = c.C / c.groups, Kg = c.K / c.groups;
    std::vector<float> y(static_cast<size_t>(c.N) * c.K * P * Q);
    for (int n = 0; n < c.N; n++)
        for (int k = 0; k < c.K; k++)
            for (int p = 0; p < P; p++)
                for (int q = 0; q < Q; q++)
                {
                    double acc = 0;
                    int g = k / Kg;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int r = 0; r < c.R; r++)
                            for (int s = 0; s < c.S; s++)
                            {
                                int h = p * c.sh - c.pt + r * c.dh, ww = q * c.sw - c.pl + s * c.dw;
                                if (h < 0 || h >= c.H || ww < 0 || ww >= c.W) continue;
                                acc += static_cast<double>(x[((static_cast<size_t>(n) * c.C + g * Cg + ci) * c.H + h) * c.W + ww]) *
                                       w[((static_cast<size_t>(k) * Cg + ci) * c.R + r) * c.S + s];
                            }
                    size_t o = ((static_cast<size_t>(n) * c.K + k) * P + p) * Q + q;
                    float z = static_cast<float>(acc) + bias[k];
                    z = scale[k] * z + shift[k];
                    z += res[o];
                    y[o] = fc_activate(z, act, alpha, beta);
                }
    return y;
}

void conv_case(const ConvCase& c, const char* kernel, uint64_t seed)
{
    int P = (c.H + c.pt + c.pb - c.dh * (c.R - 1) - 1) / c.sh + 1;
    int Q = (c.W + c.pl + c.pr - c.dw * (c.S - 1) - 1) / c.sw + 1;
    std::mt19937 rng(static_cast<unsigned>(seed));
    int Cg = c.C / c.groups;
    auto x = ints(static_cast<size_t>(c.N) * c.C * c.H * c.W, -3, 3, rng);
    auto w = ints(static_cast<size_t>(c.K) * Cg * c.R * c.S, -2, 2, rng);
    auto bias = ints(c.K, -4, 4, rng);
    auto scale = ints(c.K, 1, 2, rng);
    auto shift = ints(c.K, -2, 2, rng);
    auto res = ints(static_cast<size_t>(c.N) * c.K * P * Q, -2, 2, rng);
    int act = FC_ACT_LEAKY_RELU;
    float alpha = 0.5f, beta = 0.0f;
    auto expect = conv_ref(c, P, Q, x, w, bias, scale, shift, res, act, alpha, beta);
    char name[256];
    std::snprintf(name, sizeof name, "%s N=%d C=%d H=%d W=%d K=%d R=%d S=%d stride=(%d,%d) pad=(%d,%d,%d,%d) dil=(%d,%d) groups=%d", kernel,
                  c.N, c.C, c.H, c.W, c.K, c.R, c.S, c.sh, c.sw, c.pt, c.pl, c.pb, c.pr, c.dh, c.dw, c.groups);
    std::vector<float> first;
    for (int order = 0; order < 3; order++)
    {
        fcemu_init(seed + static_cast<uint64_t>(order), order);
        Dev dx(x), dw(w), db(bias), dsc(scale), dsh(shift), dr(res), dy(expect.size());
        FcConv2dArgs a{dx.f(), dw.f(), db.f(), dsc.f(), dsh.f(), dr.f(), dy.f(), c.N, c.C, c.H, c.W, c.K, c.R, c.S, P, Q,
                       c.sh, c.sw, c.pt, c.pl, c.dh, c.dw, c.groups, act, alpha, beta, 0};
        void* params[] = {&a};
        long long M = static_cast<long long>(c.N) * P * Q;
        int Kg = c.K / c.groups;
        dim3 grid, block;
        unsigned shared = 0;
        std::string k = kernel;
        if (k == "conv2d_naive") { grid = dim3(7); block = dim3(64); }
        else if (k == "conv2d_v1_depthwise")
        {
            grid = dim3((Q + 31) / 32, (P + 7) / 8, c.N * c.K);
            block = dim3(32, 8);
            int iht = 7 * c.sh + (c.R - 1) * c.dh + 1, iwt = 31 * c.sw + (c.S - 1) * c.dw + 1;
            shared = static_cast<unsigned>((iht * iwt + c.R * c.S) * 4);
        }
        else if (k == "conv2d_v2_direct")
        {
            grid = dim3(static_cast<unsigned>((M + 127) / 128), (c.K + 7) / 8);
            block = dim3(128);
            shared = static_cast<unsigned>(8 * Cg * c.R * c.S * 4);
        }
        else if (k == "conv2d_v3_igemm_fp32") { grid = dim3(static_cast<unsigned>((M + 63) / 64), (Kg + 63) / 64, c.groups); block = dim3(256); }
        else { grid = dim3(static_cast<unsigned>((M + 63) / 64), (Kg + 63) / 64, c.groups); block = dim3(128); }
        std::string err;
        if (launch(kernel, grid, block, shared, params, &err) != 0)
        {
            check(false, std::string(name) + " order " + std::to_string(order) + ": " + err);
            return;
        }
        auto got = dy.get();
        std::string why;
        bool ok = same(got, expect, 0.0, &why);
        if (order > 0 && ok)
        {
            ok = std::memcmp(got.data(), first.data(), got.size() * 4) == 0;
            why = "differs from forward order";
        }
        if (!ok)
        {
            check(false, std::string(name) + " order " + std::to_string(order) + ": " + why);
            return;
        }
        first = got;
    }
    check(true, name);
}

void conv_suite()
{
    // Integer data keep every sum exact (|Σ| < 2^11 fits TF32 products and fp32 sums), so all variants must
    // match the reference exactly and every thread order bit for bit.
    std::vector<ConvCase> general = {
        {1, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 8, 7, 6, 70, 3, 2, 2, 1, 0, 2, 1, 0, 1, 2, 1},
        {1, 12, 10, 9, 12, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1},
        {3, 6, 5, 5, 9, 5, 5, 3, 2, 3, 2, 3, 1, 1, 1, 3},
        {1, 20, 12, 13, 24, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 2},
        {1, 4, 1, 19, 7, 1, 7, 1, 3, 0, 3, 0, 2, 1, 1, 1},
    };
    const char* variants[] = {"conv2d_naive", "conv2d_v2_direct", "conv2d_v3_igemm_fp32", "conv2d_v4_igemm_tf32"};
    uint64_t seed = 1;
    for (auto& c : general)
        for (const char* v : variants) conv_case(c, v, seed++);
    std::vector<ConvCase> dw = {
        {2, 6, 9, 10, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6},
        {1, 4, 17, 40, 8, 5, 3, 2, 3, 2, 1, 0, 3, 2, 1, 4},
        {1, 3, 7, 7, 3, 7, 7, 1, 1, 3, 3, 3, 3, 1, 1, 3},
    };
    for (auto& c : dw)
    {
        conv_case(c, "conv2d_v1_depthwise", seed++);
        conv_case(c, "conv2d_naive", seed++);
    }
}

// ---- the other ops -------------------------------------------------------------------------------------------
void other_ops_suite()
{
    std::mt19937 rng(7);
    for (int order = 0; order < 3; order++)
    {
        fcemu_init(100 + static_cast<uint64_t>(order), order);
        // gemm: M=5, N=37, K=41, transB, C broadcast as a row [N]
        {
            int M = 5, N = 37, Kd = 41;
            auto A = ints(static_cast<size_t>(M) * Kd, -3, 3, rng), B = ints(static_cast<size_t>(N) * Kd, -3, 3, rng), C = ints(N, -3, 3, rng);
            std::vector<float> e(static_cast<size_t>(M) * N);
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++)
                {
                    double acc = 0;
                    for (int k = 0; k < Kd; k++) acc += A[m * Kd + k] * B[n * Kd + k];
                    e[m * N + n] = static_cast<float>(2.0 * acc + 0.5 * C[n]);
                }
            for (const char* kern : {"gemm_naive", "gemm_v1_tiled"})
            {
                Dev da(A), db(B), dc(C), dy(e.size());
                FcGemmArgs g{da.f(), db.f(), dc.f(), dy.f(), M, N, Kd, 0, 1, 0, 1, 2.0f, 0.5f, 0};
                void* params[] = {&g};
                std::string err, why;
                bool isTiled = std::strcmp(kern, "gemm_v1_tiled") == 0;
                int rc = launch(kern, isTiled ? dim3((N + 31) / 32, (M + 31) / 32) : dim3(3), isTiled ? dim3(32, 8) : dim3(64), 0, params, &err);
                check(rc == 0 && same(dy.get(), e, 0.0, &why), std::string(kern) + " M=5 N=37 K=41 transB order " + std::to_string(order) + " " + err + why);
            }
        }
        // softmax along the last axis (outer 11, len 45) and a middle axis (outer 2, len 7, inner 5)
        {
            for (int inner : {1, 5})
            {
                int outer = inner == 1 ? 11 : 2, len = inner == 1 ? 45 : 7;
                std::uniform_real_distribution<float> d(-4, 4);
                std::vector<float> x(static_cast<size_t>(outer) * len * inner), e(x.size());
                for (auto& v : x) v = d(rng);
                for (int o = 0; o < outer; o++)
                    for (int j = 0; j < inner; j++)
                    {
                        double m = -1e30, s = 0;
                        for (int i = 0; i < len; i++) m = std::max(m, static_cast<double>(x[(o * len + i) * inner + j]));
                        for (int i = 0; i < len; i++) s += std::exp(x[(o * len + i) * inner + j] - m);
                        for (int i = 0; i < len; i++) e[(o * len + i) * inner + j] = static_cast<float>(std::exp(x[(o * len + i) * inner + j] - m) / s);
                    }
                for (const char* kern : {"softmax_naive", "softmax_v1_warp"})
                {
                    if (inner != 1 && std::strcmp(kern, "softmax_v1_warp") == 0) continue;
                    Dev dx(x), dy(x.size());
                    FcSoftmaxArgs s{dx.f(), dy.f(), outer, len, inner, 0};
                    void* params[] = {&s};
                    std::string err, why;
                    bool warp = std::strcmp(kern, "softmax_v1_warp") == 0;
                    int rc = launch(kern, warp ? dim3((outer + 7) / 8) : dim3(2), warp ? dim3(256) : dim3(32), 0, params, &err);
                    check(rc == 0 && same(dy.get(), e, 1e-5, &why), std::string(kern) + " inner=" + std::to_string(inner) + " order " + std::to_string(order) + " " + err + why);
                }
            }
        }
        // global pools: 13 planes of 5×7
        for (int isMax = 0; isMax < 2; isMax++)
        {
            int planes = 13, HW = 35;
            auto x = ints(static_cast<size_t>(planes) * HW, -9, 9, rng);
            std::vector<float> e(planes);
            for (int i = 0; i < planes; i++)
            {
                double acc = isMax ? -1e30 : 0;
                for (int j = 0; j < HW; j++) acc = isMax ? std::max(acc, static_cast<double>(x[i * HW + j])) : acc + x[i * HW + j];
                e[i] = static_cast<float>(isMax ? acc : acc / HW);
            }
            for (const char* kern : {"global_pool_naive", "global_pool_v1_warp"})
            {
                Dev dx(x), dy(planes);
                FcGlobalPoolArgs g{dx.f(), dy.f(), planes, HW, isMax, 0};
                void* params[] = {&g};
                std::string err, why;
                bool warp = std::strcmp(kern, "global_pool_v1_warp") == 0;
                int rc = launch(kern, warp ? dim3((planes + 7) / 8) : dim3(1), warp ? dim3(256) : dim3(32), 0, params, &err);
                check(rc == 0 && same(dy.get(), e, 1e-6, &why), std::string(kern) + (isMax ? " max" : " avg") + " order " + std::to_string(order) + " " + err + why);
            }
        }
        // pool2d: max 3×3/2 pad 1 and avg 3×2 stride (2,1) pads (1,0,0,1) count_include_pad, 2×3×9×8
        for (int isMax = 0; isMax < 2; isMax++)
        {
            int N = 2, C = 3, H = 9, W = 8, R = 3, S = isMax ? 3 : 2, sh = 2, sw = isMax ? 2 : 1;
            int pt = 1, pl = isMax ? 1 : 0, pb = isMax ? 1 : 0, pr = 1;
            int P = (H + pt + pb - R) / sh + 1, Q = (W + pl + pr - S) / sw + 1;
            auto x = ints(static_cast<size_t>(N) * C * H * W, -9, 9, rng);
            std::vector<float> e(static_cast<size_t>(N) * C * P * Q);
            for (int nc = 0; nc < N * C; nc++)
                for (int p = 0; p < P; p++)
                    for (int q = 0; q < Q; q++)
                    {
                        double m = -1e30, s = 0;
                        int padded = 0;
                        for (int r = 0; r < R; r++)
                            for (int t = 0; t < S; t++)
                            {
                                int h = p * sh - pt + r, w = q * sw - pl + t;
                                if (h < H + pb && w < W + pr) padded++;
                                if (h < 0 || h >= H || w < 0 || w >= W) continue;
                                double v = x[(nc * H + h) * W + w];
                                m = std::max(m, v);
                                s += v;
                            }
                        e[(nc * P + p) * Q + q] = static_cast<float>(isMax ? m : s / padded);
                    }
            for (const char* kern : {"pool2d_naive", "pool2d_v1_tiled"})
            {
                Dev dx(x), dy(e.size());
                FcPool2dArgs a{dx.f(), dy.f(), N, C, H, W, P, Q, R, S, sh, sw, pt, pl, pb, pr, 1, 1, isMax, 1};
                void* params[] = {&a};
                std::string err, why;
                bool tiled = std::strcmp(kern, "pool2d_v1_tiled") == 0;
                unsigned shared = static_cast<unsigned>(((7 * sh + R) * (31 * sw + S)) * 4);
                int rc = launch(kern, tiled ? dim3((Q + 31) / 32, (P + 7) / 8, N * C) : dim3(4), tiled ? dim3(32, 8) : dim3(64), tiled ? shared : 0, params, &err);
                check(rc == 0 && same(dy.get(), e, 1e-6, &why), std::string(kern) + (isMax ? " max" : " avg") + " order " + std::to_string(order) + " " + err + why);
            }
        }
        // activations: hardswish on 1027 values (vec4 path plus a 3-element tail)
        {
            std::uniform_real_distribution<float> d(-5, 5);
            std::vector<float> x(1027), e(1027);
            for (auto& v : x) v = d(rng);
            for (size_t i = 0; i < x.size(); i++) e[i] = fc_activate(x[i], FC_ACT_HARD_SWISH, 0, 0);
            for (const char* kern : {"activation_naive", "activation_v1_vec4"})
            {
                Dev dx(x), dy(x.size());
                FcActivationArgs a{dx.f(), dy.f(), 1027, FC_ACT_HARD_SWISH, 0, 0, 0};
                void* params[] = {&a};
                std::string err, why;
                int rc = launch(kern, dim3(2), dim3(64), 0, params, &err);
                check(rc == 0 && same(dy.get(), e, 0.0, &why), std::string(kern) + " hardswish n=1027 order " + std::to_string(order) + " " + err + why);
            }
        }
    }
}

// ---- planted bugs ------------------------------------------------------------------------------------------------
// Exit codes of a planted case run in a child: 0 ran and matched, 3 launch failed (message on stdout),
// 4 ran but the output was wrong; an ASan report ends the child with ASan's exit code 1.
int run_case(const std::string& name, int order)
{
    fcemu_init(42, order);
    std::vector<float> x(64);
    for (int i = 0; i < 64; i++) x[i] = static_cast<float>(i + 1);
    Dev dx(x), dy(64);
    void* params2[] = {&dx.p, &dy.p};
    std::string err;
    auto fail_launch = [&]() { std::printf("launch error: %s\n", err.c_str()); return 3; };
    if (name == "missing_barrier" || name == "missing_barrier_fixed")
    {
        if (launch(("planted_" + name).c_str(), dim3(1), dim3(64), 0, params2, &err) != 0) return fail_launch();
        auto y = dy.get();
        for (int i = 0; i < 64; i++)
            if (y[i] != x[63 - i]) { std::printf("y[%d] = %g, expected %g\n", i, y[i], x[63 - i]); return 4; }
        return 0;
    }
    if (name == "cp_async_no_wait" || name == "cp_async_fixed")
    {
        if (launch(("planted_" + name).c_str(), dim3(1), dim3(64), 0, params2, &err) != 0) return fail_launch();
        auto y = dy.get();
        for (int i = 0; i < 64; i++)
            if (y[i] != x[i]) { std::printf("y[%d] = %g, expected %g\n", i, y[i], x[i]); return 4; }
        return 0;
    }
    if (name == "off_by_one_store")
    {
        int n = 64;
        void* params[] = {&dx.p, &dy.p, &n};
        if (launch("planted_off_by_one_store", dim3(2), dim3(32), 0, params, &err) != 0) return fail_launch();
        return 0;
    }
    if (name == "mma_wrong_fragment" || name == "mma_fixed")
    {
        std::mt19937 rng(5);
        auto A = ints(128, -3, 3, rng), B = ints(64, -3, 3, rng);
        std::vector<float> e(128);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++)
            {
                float acc = 0;
                for (int k = 0; k < 8; k++) acc += A[i * 8 + k] * B[k * 8 + j];
                e[i * 8 + j] = acc;
            }
        Dev da(A), db(B), dd(128);
        void* params[] = {&da.p, &db.p, &dd.p};
        if (launch(("planted_" + name).c_str(), dim3(1), dim3(32), 0, params, &err) != 0) return fail_launch();
        auto d = dd.get();
        for (int i = 0; i < 128; i++)
            if (d[i] != e[i]) { std::printf("D[%d][%d] = %g, expected %g\n", i / 8, i % 8, d[i], e[i]); return 4; }
        return 0;
    }
    if (name == "partial_warp_shuffle" || name == "shuffle_source_outside_mask" || name == "shuffle_barrier_deadlock" ||
        name == "divergent_barrier" || name == "shared_overflow")
    {
        if (launch(("planted_" + name).c_str(), dim3(1), dim3(64), 0, params2, &err) != 0) return fail_launch();
        return 0;
    }
    std::printf("unknown case %s\n", name.c_str());
    return 2;
}

struct Planted
{
    const char* name;
    int expectExit;       // 0 pass, 1 ASan, 3 launch error, 4 wrong output
    const char* expectIn; // text the child's output must contain
};

void planted_suite(const char* self)
{
    const Planted cases[] = {
        {"missing_barrier", 4, "expected"},
        {"missing_barrier_fixed", 0, ""},
        {"off_by_one_store", 1, "heap-buffer-overflow"},
        {"shared_overflow", 1, "global-buffer-overflow"},
        {"mma_wrong_fragment", 4, "expected"},
        {"mma_fixed", 0, ""},
        {"partial_warp_shuffle", 3, "reached by part of the warp"},
        {"shuffle_source_outside_mask", 3, "not in mask"},
        {"shuffle_barrier_deadlock", 3, "deadlock"},
        {"divergent_barrier", 3, "divergent barrier"},
        {"cp_async_no_wait", 4, "expected"},
        {"cp_async_fixed", 0, ""},
    };
    for (const Planted& c : cases)
    {
        // Output-only bugs must show in forward and reverse order (random order is checked too).
        for (int order = 0; order < 3; order++)
        {
            int pipefd[2];
            if (pipe(pipefd) != 0) { check(false, "pipe"); return; }
            pid_t pid = fork();
            if (pid == 0)
            {
                dup2(pipefd[1], 1);
                dup2(pipefd[1], 2);
                close(pipefd[0]);
                execl(self, self, "case", c.name, std::to_string(order).c_str(), static_cast<char*>(nullptr));
                _exit(127);
            }
            close(pipefd[1]);
            std::string out;
            char buf[4096];
            ssize_t r;
            while ((r = read(pipefd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(r));
            close(pipefd[0]);
            int status = 0;
            waitpid(pid, &status, 0);
            int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            bool ok = code == c.expectExit && out.find(c.expectIn) != std::string::npos;
            std::string firstLine = out.substr(0, out.find('\n'));
            for (size_t p = out.find("ERROR: AddressSanitizer"); p != std::string::npos; p = std::string::npos)
                firstLine = out.substr(p, out.find('\n', p) - p);
            std::printf("%s planted %s order %d: exit %d (expected %d)%s%s\n", ok ? (c.expectExit == 0 ? "PASS" : "CAUGHT") : "FAIL", c.name,
                        order, code, c.expectExit, firstLine.empty() ? "" : " — ", firstLine.c_str());
            if (!ok)
            {
                failures++;
                std::printf("---- child output ----\n%s----\n", out.c_str());
            }
        }
    }
}
} // namespace

int main(int argc, char** argv)
{
    if (argc >= 3 && std::strcmp(argv[1], "case") == 0)
    {
        return run_case(argv[2], argc >= 4 ? std::atoi(argv[3]) : 0);
    }
    bool onlyPlanted = argc >= 2 && std::strcmp(argv[1], "planted") == 0;
    if (!onlyPlanted)
    {
        conv_suite();
        other_ops_suite();
    }
    planted_suite("/proc/self/exe");
    std::printf("%s: %d failure(s)\n", failures == 0 ? "OK" : "FAILED", failures);
    return failures == 0 ? 0 : 1;
}
