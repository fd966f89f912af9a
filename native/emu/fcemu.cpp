// fcemu.cpp — the CUDA-on-CPU emulator: fibers for GPU threads, a seeded scheduler between barriers, warp
// collectives as checked rendezvous, mma.sync / ldmatrix / cp.async per the PTX ISA, and the C ABI (fcemu.h).
//
// Why fibers: a kernel with __syncthreads must stop every thread of its block at the barrier and resume them
// all; a fiber per thread does that with plain C++ kernels and no compiler pass. The switch is hand-written
// (x86-64: callee-saved registers, MXCSR and the x87 control word, then rsp): glibc's swapcontext makes a
// signal-mask syscall per switch (~1.2 µs measured) where this takes ~10 ns, and barrier switches dominate
// emulation time. AddressSanitizer is told about every switch (__sanitizer_start/finish_switch_fiber).
#define FCEMU_RUNTIME 1
#include "fcemu.h"
#include "fcemu_device.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define FCEMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FCEMU_ASAN 1
#endif
#endif
#ifdef FCEMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#error "fcemu's fiber switch is written for x86-64"
#endif

extern "C" __attribute__((visibility("hidden"))) void fcemu_switch(void** saveSp, void* newSp);
extern "C" __attribute__((visibility("hidden"))) void fcemu_fiber_entry();
extern "C" __attribute__((visibility("hidden"), used)) void fcemu_fiber_main(fcemu::Thread* t);

// fcemu_switch(saveSp, newSp): push the callee-saved state on the current stack, store rsp in *saveSp, load
// newSp and pop the state saved there. A new fiber's stack is laid out (make_fiber) so that the pops land in
// fcemu_fiber_entry with the Thread* in r12.
asm(R"(
    .text
    .globl fcemu_switch
    .hidden fcemu_switch
    .type fcemu_switch,@function
fcemu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size fcemu_switch,.-fcemu_switch

    .globl fcemu_fiber_entry
    .hidden fcemu_fiber_entry
    .type fcemu_fiber_entry,@function
fcemu_fiber_entry:
    movq %r12, %rdi
    andq $-16, %rsp
    call fcemu_fiber_main
    ud2
    .size fcemu_fiber_entry,.-fcemu_fiber_entry
)");

namespace fcemu
{
namespace
{
#ifdef FCEMU_ASAN
constexpr size_t kStackBytes = 512 * 1024; // ASan frames are several times larger
#else
constexpr size_t kStackBytes = 64 * 1024;
#endif

enum class St { Ready, Barrier, Warp, Done };

enum class Op { None, Shfl, Ballot, Ldmatrix, Mma };
const char* op_name(Op op)
{
    switch (op)
    {
        case Op::Shfl: return "__shfl_sync";
        case Op::Ballot: return "__ballot_sync";
        case Op::Ldmatrix: return "ldmatrix";
        case Op::Mma: return "mma.sync.m16n8k8";
        default: return "?";
    }
}

struct CpCopy
{
    void* dst;
    const void* src;
    unsigned cpBytes, srcBytes;
};

struct Stack
{
    char* base = nullptr; // lowest usable byte (a guard page lies below)
    size_t size = 0;
};
} // namespace

struct Thread
{
    void* sp = nullptr;
    Stack stack;
    void* fakeStack = nullptr;
    uint3 tid{};
    unsigned linear = 0;
    St state = St::Ready;
    const char* barFile = nullptr;
    int barLine = 0;
    std::vector<CpCopy> open;
    std::vector<std::vector<CpCopy>> groups;
    // Warp-collective payload: what this lane brings and what it gets back.
    uint32_t in[12] = {};
    const void* inPtr = nullptr;
    uint32_t out[4] = {};
};

namespace
{
struct Warp
{
    Op op = Op::None;
    unsigned mask = 0, arrived = 0, present = 0;
    const char* site = nullptr;
};

struct Entry
{
    std::string name;
    void* fn;
    Thunk thunk;
    unsigned paramCount;
    const size_t* paramSizes;
};

std::map<std::string, Entry>& registry()
{
    static std::map<std::string, Entry> r;
    return r;
}

thread_local std::string lastError;
std::mutex launchMutex;
std::mutex memMutex;
std::unordered_map<void*, size_t> allocations;

#ifndef FCEMU_ASAN
// Device memory is an address space the host cannot read by accident, as on a GPU (where a host dereference of a
// device pointer faults): every allocation is a mapping of its own, PROT_NONE except while the emulator itself works on
// device memory (a launch, a copy, a fill — DeviceAccess below). The block ends flush against a guard page (the size
// rounded up to the 256-byte alignment cuMemAlloc gives), so a kernel running off the end faults too. The ASan build
// keeps exact-size heap blocks instead, where AddressSanitizer reports overflows with the line.
struct Mapping
{
    void* base;
    size_t length; // the accessible pages; one guard page follows
};
std::unordered_map<void*, Mapping> mappings; // by the address handed out
int deviceOpen = 0;                          // nesting of DeviceAccess scopes (under memMutex)
const size_t pageSize = static_cast<size_t>(sysconf(_SC_PAGESIZE));

void protect_all(int prot)
{
    for (auto& kv : mappings)
    {
        mprotect(kv.second.base, kv.second.length, prot);
    }
}

// While one lives (on any thread), device memory is readable and writable; the last one to go closes it again.
struct DeviceAccess
{
    DeviceAccess()
    {
        std::lock_guard<std::mutex> lock(memMutex);
        if (deviceOpen++ == 0)
        {
            protect_all(PROT_READ | PROT_WRITE);
        }
    }
    ~DeviceAccess()
    {
        std::lock_guard<std::mutex> lock(memMutex);
        if (--deviceOpen == 0)
        {
            protect_all(PROT_NONE);
        }
    }
    DeviceAccess(const DeviceAccess&) = delete;
    DeviceAccess& operator=(const DeviceAccess&) = delete;
};
#else
struct DeviceAccess
{
    DeviceAccess() {}  // nothing to open: the ASan build's device memory is ordinary (instrumented) heap
    ~DeviceAccess() {}
    DeviceAccess(const DeviceAccess&) = delete;
    DeviceAccess& operator=(const DeviceAccess&) = delete;
};
#endif
uint64_t seed = 0x5eed;
int order = FCEMU_ORDER_RANDOM;
std::mt19937_64 rng(0x5eed);

// Scheduler state of the launch in progress (one at a time, under launchMutex).
struct Sched
{
    const Entry* entry = nullptr;
    void** params = nullptr;
    std::vector<Thread> threads;
    std::vector<Warp> warps;
    std::vector<Stack> stackPool;
    std::vector<std::pair<void*, size_t>> sharedSeen;
    char* dynShared = nullptr;
    size_t dynBytes = 0;
    void* sp = nullptr;
    void* fakeStack = nullptr;
    const void* schedBottom = nullptr;
    size_t schedSize = 0;
    bool failed = false;
    std::string message;
    Launch launch{};
};
Sched S;

Stack new_stack()
{
    size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* m = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
    {
        return {};
    }
    mprotect(m, page, PROT_NONE); // guard page: a fiber stack overflow faults instead of corrupting memory
    return {static_cast<char*>(m) + page, kStackBytes};
}

void make_fiber(Thread& t)
{
#ifdef FCEMU_ASAN
    // Poisoning left by an abandoned or finished fiber (use-after-scope) must not survive into the next one.
    ASAN_UNPOISON_MEMORY_REGION(t.stack.base, t.stack.size);
#endif
    auto* s = reinterpret_cast<uint64_t*>((reinterpret_cast<uintptr_t>(t.stack.base + t.stack.size)) & ~uintptr_t(15));
    *--s = 0;                                                  // alignment slot
    *--s = reinterpret_cast<uint64_t>(&fcemu_fiber_entry);     // ret target
    *--s = 0;                                                  // rbp
    *--s = 0;                                                  // rbx
    *--s = reinterpret_cast<uint64_t>(&t);                     // r12: the fiber's Thread
    *--s = 0;                                                  // r13
    *--s = 0;                                                  // r14
    *--s = 0;                                                  // r15
    s -= 2;
    uint32_t mxcsr = 0x1F80;                                   // round to nearest, no flush-to-zero (as NVRTC's default -ftz=false)
    uint16_t fpcw = 0x037F;
    std::memcpy(s, &mxcsr, 4);
    std::memcpy(reinterpret_cast<char*>(s) + 4, &fpcw, 2);
    t.sp = s;
    t.fakeStack = nullptr;
}

std::string describe(const Thread& t)
{
    char b[160];
    std::snprintf(b, sizeof b, "block (%u,%u,%u) thread (%u,%u,%u) [warp %u lane %u]", S.launch.blockIdx.x, S.launch.blockIdx.y,
                  S.launch.blockIdx.z, t.tid.x, t.tid.y, t.tid.z, t.linear / 32, t.linear % 32);
    return b;
}

void resume(Thread& t)
{
    current = &t;
#ifdef FCEMU_ASAN
    __sanitizer_start_switch_fiber(&S.fakeStack, t.stack.base, t.stack.size);
#endif
    fcemu_switch(&S.sp, t.sp);
#ifdef FCEMU_ASAN
    __sanitizer_finish_switch_fiber(S.fakeStack, nullptr, nullptr);
#endif
    current = nullptr;
}

// Back to the scheduler; returns when the scheduler resumes this thread (never when `leaving`).
void yield(Thread& t, bool leaving)
{
#ifdef FCEMU_ASAN
    __sanitizer_start_switch_fiber(leaving ? nullptr : &t.fakeStack, S.schedBottom, S.schedSize);
#endif
    fcemu_switch(&t.sp, S.sp);
#ifdef FCEMU_ASAN
    __sanitizer_finish_switch_fiber(t.fakeStack, &S.schedBottom, &S.schedSize);
#endif
    (void)leaving;
}

void perform(const std::vector<CpCopy>& group)
{
    for (const CpCopy& c : group)
    {
        if (c.srcBytes > 0)
        {
            std::memcpy(c.dst, c.src, c.srcBytes);
        }
        if (c.srcBytes < c.cpBytes)
        {
            std::memset(static_cast<char*>(c.dst) + c.srcBytes, 0, c.cpBytes - c.srcBytes);
        }
    }
}

void complete(Warp& w);
} // namespace

thread_local Thread* current = nullptr;
thread_local const Launch* launch = nullptr;

uint3 thread_idx() { return current->tid; }
unsigned lane_id() { return current->linear % 32; }
unsigned warp_id() { return current->linear / 32; }

void fail(const char* fmt, ...)
{
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    Thread* t = current;
    if (!S.failed)
    {
        S.failed = true;
        S.message = std::string(S.entry ? S.entry->name : "?") + ": " + (t ? describe(*t) + ": " : std::string()) + b;
    }
    if (t != nullptr)
    {
        t->state = St::Done;
        yield(*t, true); // the scheduler abandons the launch and never resumes this fiber
    }
    // Not reachable from kernel code (every device call runs on a fiber); stop the thread without unwinding.
    for (;;)
    {
        pause();
    }
}

void syncthreads(const char* file, int line)
{
    Thread& t = *current;
    t.state = St::Barrier;
    t.barFile = file;
    t.barLine = line;
    yield(t, false);
}

void* dynamic_shared() { return S.dynShared; }

void register_shared(void* p, size_t bytes)
{
    for (auto& s : S.sharedSeen)
    {
        if (s.first == p)
        {
            return;
        }
    }
    std::memset(p, 0xFF, bytes); // all-ones words are NaN: a read of shared data nobody wrote poisons the result
    S.sharedSeen.emplace_back(p, bytes);
}

namespace
{
// Joins the calling lane to its warp's collective `op` over `mask`; returns once every lane of the mask has
// joined and the result is in t.out.
void collective(Op op, unsigned mask, const char* site)
{
    Thread& t = *current;
    unsigned lane = t.linear % 32;
    Warp& w = S.warps[t.linear / 32];
    if (((mask >> lane) & 1u) == 0)
    {
        fail("%s at %s: the calling lane %u is not in mask 0x%08x", op_name(op), site, lane, mask);
    }
    if ((mask & ~w.present) != 0)
    {
        fail("%s at %s: mask 0x%08x names lanes 0x%08x that do not exist in this block (lanes present 0x%08x)", op_name(op), site, mask,
             mask & ~w.present, w.present);
    }
    if (w.arrived == 0)
    {
        w.op = op;
        w.mask = mask;
        w.site = site;
    }
    else if (w.op != op || w.mask != mask)
    {
        fail("%s at %s with mask 0x%08x, while lanes 0x%08x of the warp wait in %s at %s with mask 0x%08x", op_name(op), site, mask,
             w.arrived, op_name(w.op), w.site, w.mask);
    }
    unsigned warpBase = t.linear & ~31u;
    for (unsigned l = 0; l < 32; l++)
    {
        if (((mask >> l) & 1u) != 0 && S.threads[warpBase + l].state == St::Done)
        {
            fail("%s at %s with mask 0x%08x: lane %u of the mask has already exited (a collective reached by part of the warp)",
                 op_name(op), site, mask, l);
        }
    }
    w.arrived |= 1u << lane;
    if (w.arrived == w.mask)
    {
        complete(w);
        for (unsigned l = 0; l < 32; l++)
        {
            if (((w.mask >> l) & 1u) != 0 && l != lane)
            {
                S.threads[warpBase + l].state = St::Ready;
            }
        }
        w.arrived = 0;
        w.op = Op::None;
        return;
    }
    t.state = St::Warp;
    yield(t, false);
}

inline float tf32_operand(uint32_t bits)
{
    // mma with .tf32 operands reads the upper 19 bits of each register (sign, 8-bit exponent, 10-bit mantissa).
    return __uint_as_float(bits & 0xFFFFE000u);
}

void complete(Warp& w)
{
    Thread* lanes = &S.threads[static_cast<size_t>(&w - S.warps.data()) * 32];
    switch (w.op)
    {
        case Op::Shfl:
        {
            for (unsigned l = 0; l < 32; l++)
            {
                if (((w.mask >> l) & 1u) == 0)
                {
                    continue;
                }
                Thread& t = lanes[l];
                int arg = static_cast<int>(t.in[1]);
                int width = static_cast<int>(t.in[2]);
                int mode = static_cast<int>(t.in[3]);
                int segStart = static_cast<int>(l) & ~(width - 1);
                int src;
                switch (mode)
                {
                    case 0: src = segStart + (arg & (width - 1)); break;                  // idx
                    case 1: src = static_cast<int>(l) - arg; if (src < segStart) src = static_cast<int>(l); break; // up
                    case 2: src = static_cast<int>(l) + arg; if (src >= segStart + width) src = static_cast<int>(l); break; // down
                    default: src = static_cast<int>(l) ^ arg; if (src >= segStart + width) src = static_cast<int>(l); break; // xor
                }
                if (((w.mask >> src) & 1u) == 0)
                {
                    fail("__shfl_sync at %s: lane %u reads lane %d, which is not in mask 0x%08x", w.site, l, src, w.mask);
                }
                t.out[0] = lanes[src].in[0];
            }
            break;
        }
        case Op::Ballot:
        {
            uint32_t bits = 0;
            for (unsigned l = 0; l < 32; l++)
            {
                if (((w.mask >> l) & 1u) != 0 && lanes[l].in[0] != 0)
                {
                    bits |= 1u << l;
                }
            }
            for (unsigned l = 0; l < 32; l++)
            {
                lanes[l].out[0] = bits;
            }
            break;
        }
        case Op::Ldmatrix:
        {
            // ldmatrix.sync.aligned.m8n8.x{1,2,4}.shared.b16: lanes 8i..8i+7 give the row addresses of matrix i
            // (16 bytes each); lane l receives, in register i, 32-bit word l%4 of row l/4 of matrix i.
            unsigned count = lanes[0].in[0];
            for (unsigned l = 0; l < 32; l++)
            {
                if (lanes[l].in[0] != count)
                {
                    fail("ldmatrix at %s: lanes disagree on the matrix count (%u vs %u)", w.site, lanes[l].in[0], count);
                }
            }
            for (unsigned i = 0; i < count; i++)
            {
                for (unsigned r = 0; r < 8; r++)
                {
                    auto a = reinterpret_cast<uintptr_t>(lanes[i * 8 + r].inPtr);
                    if ((a & 15u) != 0)
                    {
                        fail("ldmatrix at %s: row address %p given by lane %u is not 16-byte aligned", w.site, lanes[i * 8 + r].inPtr, i * 8 + r);
                    }
                }
            }
            for (unsigned l = 0; l < 32; l++)
            {
                for (unsigned i = 0; i < count; i++)
                {
                    const auto* row = static_cast<const uint32_t*>(lanes[i * 8 + l / 4].inPtr);
                    lanes[l].out[i] = row[l % 4];
                }
            }
            break;
        }
        case Op::Mma:
        {
            // PTX ISA, "Matrix Fragments for mma.m16n8k8" (.tf32): groupID = lane>>2, tig = lane%4.
            // A 16x8: a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4). B 8x8: b0 (t, g), b1 (t+4, g).
            // C/D 16x8: c0 (g, 2t), c1 (g, 2t+1), c2 (g+8, 2t), c3 (g+8, 2t+1).
            float A[16][8], B[8][8], C[16][8];
            for (unsigned l = 0; l < 32; l++)
            {
                const uint32_t* in = lanes[l].in;
                unsigned g = l >> 2, t = l & 3;
                A[g][t] = tf32_operand(in[0]);
                A[g + 8][t] = tf32_operand(in[1]);
                A[g][t + 4] = tf32_operand(in[2]);
                A[g + 8][t + 4] = tf32_operand(in[3]);
                B[t][g] = tf32_operand(in[4]);
                B[t + 4][g] = tf32_operand(in[5]);
                C[g][2 * t] = __uint_as_float(in[6]);
                C[g][2 * t + 1] = __uint_as_float(in[7]);
                C[g + 8][2 * t] = __uint_as_float(in[8]);
                C[g + 8][2 * t + 1] = __uint_as_float(in[9]);
            }
            for (unsigned l = 0; l < 32; l++)
            {
                unsigned g = l >> 2, t = l & 3;
                unsigned rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
                for (int i = 0; i < 4; i++)
                {
                    // TF32 products are exact in fp32 (11-bit significands); the sum is accumulated in fp32.
                    float acc = C[rows[i]][cols[i]];
                    for (int k = 0; k < 8; k++)
                    {
                        acc += A[rows[i]][k] * B[k][cols[i]];
                    }
                    lanes[l].out[i] = __float_as_uint(acc);
                }
            }
            break;
        }
        default: break;
    }
}
} // namespace

uint32_t shfl(unsigned mask, uint32_t v, int srcLane, int width, int mode, const char* site)
{
    Thread& t = *current;
    if (width <= 0 || width > 32 || (width & (width - 1)) != 0)
    {
        fail("__shfl_sync at %s: width %d is not a power of two in 1..32", site, width);
    }
    t.in[0] = v;
    t.in[1] = static_cast<uint32_t>(srcLane);
    t.in[2] = static_cast<uint32_t>(width);
    t.in[3] = static_cast<uint32_t>(mode);
    collective(Op::Shfl, mask, site);
    return t.out[0];
}

unsigned ballot(unsigned mask, bool pred, const char* site)
{
    current->in[0] = pred ? 1u : 0u;
    collective(Op::Ballot, mask, site);
    return current->out[0];
}

void ldmatrix(unsigned count, const void* rowAddr, uint32_t* out, const char* site)
{
    Thread& t = *current;
    t.in[0] = count;
    t.inPtr = rowAddr;
    collective(Op::Ldmatrix, 0xFFFFFFFFu, site);
    for (unsigned i = 0; i < count; i++)
    {
        out[i] = t.out[i];
    }
}

void mma_m16n8k8_tf32(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], const char* site)
{
    Thread& t = *current;
    for (int i = 0; i < 4; i++)
    {
        t.in[i] = a[i];
        t.in[6 + i] = __float_as_uint(c[i]);
    }
    t.in[4] = b[0];
    t.in[5] = b[1];
    collective(Op::Mma, 0xFFFFFFFFu, site); // mma.sync.aligned: every lane of the warp, same instruction
    for (int i = 0; i < 4; i++)
    {
        d[i] = __uint_as_float(t.out[i]);
    }
}

void cp_async(void* dstShared, const void* src, unsigned cpBytes, unsigned srcBytes)
{
    if (cpBytes != 4 && cpBytes != 8 && cpBytes != 16)
    {
        fail("cp.async: copy size %u is not 4, 8 or 16", cpBytes);
    }
    if (srcBytes > cpBytes)
    {
        fail("cp.async: src-size %u exceeds cp-size %u", srcBytes, cpBytes);
    }
    if ((reinterpret_cast<uintptr_t>(dstShared) % cpBytes) != 0 || (srcBytes > 0 && reinterpret_cast<uintptr_t>(src) % cpBytes) != 0)
    {
        fail("cp.async: dst %p or src %p not aligned to the %u-byte copy size", dstShared, src, cpBytes);
    }
    current->open.push_back({dstShared, src, cpBytes, srcBytes});
}

void cp_async_commit()
{
    Thread& t = *current;
    t.groups.push_back(std::move(t.open));
    t.open.clear();
}

void cp_async_wait(unsigned keep)
{
    Thread& t = *current;
    while (t.groups.size() > keep)
    {
        perform(t.groups.front());
        t.groups.erase(t.groups.begin());
    }
}

float to_tf32(float x)
{
    // cvt.rna.tf32.f32: round to the nearest 10-bit mantissa, ties away from zero; Inf and NaN pass through.
    uint32_t u = __float_as_uint(x);
    if ((u & 0x7F800000u) == 0x7F800000u)
    {
        return x;
    }
    u = (u + 0x1000u) & 0xFFFFE000u;
    return __uint_as_float(u);
}

Registrar::Registrar(const char* name, void* fn, Thunk thunk, unsigned paramCount, const size_t* paramSizes)
{
    registry()[name] = Entry{name, fn, thunk, paramCount, paramSizes};
}
} // namespace fcemu

using namespace fcemu;

extern "C" void fcemu_fiber_main(Thread* t)
{
#ifdef FCEMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &S.schedBottom, &S.schedSize);
#endif
    S.entry->thunk(S.entry->fn, S.params);
    // Copies still in flight land eventually on a GPU; nobody in this thread can wait for them any more.
    if (!t->open.empty())
    {
        t->groups.push_back(std::move(t->open));
        t->open.clear();
    }
    for (auto& g : t->groups)
    {
        perform(g);
    }
    t->groups.clear();
    t->state = St::Done;
    Warp& w = S.warps[t->linear / 32];
    if (w.arrived != 0 && ((w.mask >> (t->linear % 32)) & 1u) != 0)
    {
        fail("exited while lanes 0x%08x of its warp wait for it in %s at %s (mask 0x%08x): a collective reached by part of the warp",
             w.arrived, op_name(w.op), w.site, w.mask);
    }
    yield(*t, true);
}

namespace
{
int set_error(int code, const std::string& msg)
{
    lastError = msg;
    return code;
}

void permute(std::vector<unsigned>& idx)
{
    if (order == FCEMU_ORDER_REVERSE)
    {
        std::reverse(idx.begin(), idx.end());
    }
    else if (order == FCEMU_ORDER_RANDOM)
    {
        std::shuffle(idx.begin(), idx.end(), rng);
    }
}

std::string where(const Thread& t)
{
    char b[64];
    std::snprintf(b, sizeof b, "(%u,%u,%u)", t.tid.x, t.tid.y, t.tid.z);
    return b;
}

// Runs one block to completion; false (with S.message) when the kernel broke a rule.
bool run_block()
{
    const size_t n = S.threads.size();
    for (size_t i = 0; i < n; i++)
    {
        Thread& t = S.threads[i];
        t.state = St::Ready;
        t.open.clear();
        t.groups.clear();
        make_fiber(t);
    }
    for (auto& w : S.warps)
    {
        w.op = Op::None;
        w.arrived = 0;
    }
    S.sharedSeen.clear();
    if (S.dynBytes > 0)
    {
        std::memset(S.dynShared, 0xFF, S.dynBytes);
    }
    std::vector<unsigned> idx(n);
    for (;;)
    {
        idx.clear();
        for (unsigned i = 0; i < n; i++)
        {
            if (S.threads[i].state == St::Ready)
            {
                idx.push_back(i);
            }
        }
        if (!idx.empty())
        {
            permute(idx);
            for (unsigned i : idx)
            {
                if (S.threads[i].state == St::Ready)
                {
                    resume(S.threads[i]);
                    if (S.failed)
                    {
                        return false;
                    }
                }
            }
            continue;
        }
        size_t done = 0, warp = 0;
        for (auto& t : S.threads)
        {
            done += t.state == St::Done;
            warp += t.state == St::Warp;
        }
        if (done == n)
        {
            return true;
        }
        char b[64];
        std::snprintf(b, sizeof b, "block (%u,%u,%u): ", S.launch.blockIdx.x, S.launch.blockIdx.y, S.launch.blockIdx.z);
        std::string head = S.entry->name + ": " + b;
        if (warp > 0)
        {
            // A warp collective waits for lanes that will never come: deadlock. Name who waits and where the missing are.
            for (size_t wi = 0; wi < S.warps.size(); wi++)
            {
                Warp& w = S.warps[wi];
                if (w.arrived == 0)
                {
                    continue;
                }
                std::string missing;
                for (unsigned l = 0; l < 32; l++)
                {
                    if (((w.mask >> l) & 1u) != 0 && ((w.arrived >> l) & 1u) == 0)
                    {
                        const Thread& m = S.threads[wi * 32 + l];
                        char mb[200];
                        if (m.state == St::Barrier)
                        {
                            std::snprintf(mb, sizeof mb, " lane %u at __syncthreads %s:%d;", l, m.barFile, m.barLine);
                        }
                        else
                        {
                            std::snprintf(mb, sizeof mb, " lane %u exited;", l);
                        }
                        missing += mb;
                    }
                }
                char wb[200];
                std::snprintf(wb, sizeof wb, "deadlock: lanes 0x%08x of warp %zu wait in %s at %s (mask 0x%08x) for lanes that never come:",
                              w.arrived, wi, op_name(w.op), w.site, w.mask);
                S.message = head + wb + missing;
                return false;
            }
        }
        // Every live thread waits at a barrier: release it, unless some thread exited or they wait at different ones.
        const Thread* first = nullptr;
        for (auto& t : S.threads)
        {
            if (t.state == St::Barrier)
            {
                first = &t;
                break;
            }
        }
        if (done > 0)
        {
            const Thread* gone = nullptr;
            for (auto& t : S.threads)
            {
                if (t.state == St::Done)
                {
                    gone = &t;
                    break;
                }
            }
            char e[400];
            std::snprintf(e, sizeof e,
                          "divergent barrier: %zu threads wait at __syncthreads %s:%d but %zu threads (first %s) exited without reaching it",
                          n - done, first->barFile, first->barLine, done, where(*gone).c_str());
            S.message = head + e;
            return false;
        }
        for (auto& t : S.threads)
        {
            if (t.barLine != first->barLine || std::strcmp(t.barFile, first->barFile) != 0)
            {
                char e[400];
                std::snprintf(e, sizeof e, "divergent barrier: thread %s waits at __syncthreads %s:%d, thread %s at %s:%d",
                              where(*first).c_str(), first->barFile, first->barLine, where(t).c_str(), t.barFile, t.barLine);
                S.message = head + e;
                return false;
            }
        }
        for (auto& t : S.threads)
        {
            t.state = St::Ready;
        }
    }
}
} // namespace

extern "C" {

int fcemu_init(uint64_t s, int o)
{
    if (o < FCEMU_ORDER_FORWARD || o > FCEMU_ORDER_RANDOM)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_init: order must be 0 (forward), 1 (reverse) or 2 (random), got " + std::to_string(o));
    }
    std::lock_guard<std::mutex> lock(launchMutex);
    seed = s;
    order = o;
    rng.seed(s);
    return FCEMU_SUCCESS;
}

int fcemu_mem_alloc(void** p, size_t bytes)
{
    if (p == nullptr)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_mem_alloc: null result pointer");
    }
    *p = nullptr;
    void* m = nullptr;
#ifdef FCEMU_ASAN
    // Exactly `bytes` (the ASan build then catches a kernel reading or writing past the end); 256-byte aligned as cuMemAlloc.
    if (posix_memalign(&m, 256, bytes == 0 ? 1 : bytes) != 0)
    {
        return set_error(FCEMU_ERROR_OUT_OF_MEMORY, "fcemu_mem_alloc: out of memory allocating " + std::to_string(bytes) + " bytes");
    }
    std::lock_guard<std::mutex> lock(memMutex);
#else
    size_t rounded = ((bytes == 0 ? 1 : bytes) + 255) / 256 * 256;
    size_t length = (rounded + pageSize - 1) / pageSize * pageSize;
    void* base = mmap(nullptr, length + pageSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
    {
        return set_error(FCEMU_ERROR_OUT_OF_MEMORY, "fcemu_mem_alloc: out of memory mapping " + std::to_string(bytes) + " bytes");
    }
    m = static_cast<char*>(base) + (length - rounded);
    std::lock_guard<std::mutex> lock(memMutex);
    mappings[m] = Mapping{base, length};
    if (deviceOpen > 0)
    {
        mprotect(base, length, PROT_READ | PROT_WRITE);
    }
#endif
    allocations[m] = bytes;
    *p = m;
    return FCEMU_SUCCESS;
}

int fcemu_mem_free(void* p)
{
    if (p == nullptr)
    {
        return FCEMU_SUCCESS;
    }
    std::lock_guard<std::mutex> lock(memMutex);
    auto it = allocations.find(p);
    if (it == allocations.end())
    {
        char b[128];
        std::snprintf(b, sizeof b, "fcemu_mem_free: %p was not returned by fcemu_mem_alloc (or was freed already)", p);
        return set_error(FCEMU_ERROR_INVALID_VALUE, b);
    }
    allocations.erase(it);
#ifdef FCEMU_ASAN
    std::free(p);
#else
    auto mp = mappings.find(p);
    munmap(mp->second.base, mp->second.length + pageSize);
    mappings.erase(mp);
#endif
    return FCEMU_SUCCESS;
}

int fcemu_memcpy(void* dst, const void* src, size_t bytes)
{
    if (bytes == 0)
    {
        return FCEMU_SUCCESS;
    }
    if (dst == nullptr || src == nullptr)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_memcpy: null pointer");
    }
    DeviceAccess open;
    std::memmove(dst, src, bytes);
    return FCEMU_SUCCESS;
}

int fcemu_memset_d32(void* p, uint32_t v, size_t count)
{
    if (count == 0)
    {
        return FCEMU_SUCCESS;
    }
    if (p == nullptr || (reinterpret_cast<uintptr_t>(p) & 3u) != 0)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_memset_d32: null or not 4-byte aligned pointer");
    }
    auto* q = static_cast<uint32_t*>(p);
    DeviceAccess open;
    std::fill(q, q + count, v);
    return FCEMU_SUCCESS;
}

int fcemu_get_function(const char* name, void** fn)
{
    if (name == nullptr || fn == nullptr)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_get_function: null argument");
    }
    auto it = registry().find(name);
    if (it == registry().end())
    {
        std::string known;
        for (auto& e : registry())
        {
            known += (known.empty() ? "" : ", ") + e.first;
        }
        *fn = nullptr;
        return set_error(FCEMU_ERROR_NOT_FOUND, std::string("fcemu_get_function: no kernel named '") + name + "' (known: " + known + ")");
    }
    *fn = &it->second;
    return FCEMU_SUCCESS;
}

int fcemu_launch(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned sharedBytes,
                 void** kernelParams)
{
    const Entry* e = nullptr;
    for (auto& kv : registry())
    {
        if (&kv.second == fn)
        {
            e = &kv.second;
        }
    }
    if (e == nullptr)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_launch: the function handle did not come from fcemu_get_function");
    }
    char dims[160];
    std::snprintf(dims, sizeof dims, "grid (%u,%u,%u) block (%u,%u,%u) shared %u bytes", gx, gy, gz, bx, by, bz, sharedBytes);
    unsigned long long threads = 1ull * bx * by * bz;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || threads > 1024 || bx > 1024 || by > 1024 || bz > 64 || gy > 65535 ||
        gz > 65535)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, e->name + ": invalid launch dimensions, " + dims + " (at most 1024 threads per block, bz <= 64, gy, gz <= 65535)");
    }
    if (sharedBytes > 227u * 1024u)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, e->name + ": dynamic shared memory above the 227 KiB an SM offers, " + dims);
    }
    if (e->paramCount > 0 && kernelParams == nullptr)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, e->name + ": kernelParams is null but the kernel takes " + std::to_string(e->paramCount) + " parameters");
    }
    std::lock_guard<std::mutex> lock(launchMutex);
    DeviceAccess open;
    S.entry = e;
    S.params = kernelParams;
    S.failed = false;
    S.message.clear();
    S.threads.assign(threads, Thread{});
    while (S.stackPool.size() < threads)
    {
        Stack st = new_stack();
        if (st.base == nullptr)
        {
            return set_error(FCEMU_ERROR_OUT_OF_MEMORY, e->name + ": cannot map fiber stacks");
        }
        S.stackPool.push_back(st);
    }
    for (unsigned z = 0, i = 0; z < bz; z++)
    {
        for (unsigned y = 0; y < by; y++)
        {
            for (unsigned x = 0; x < bx; x++, i++)
            {
                Thread& t = S.threads[i];
                t.tid = {x, y, z};
                t.linear = i;
                t.stack = S.stackPool[i];
            }
        }
    }
    size_t nWarps = (threads + 31) / 32;
    S.warps.assign(nWarps, Warp{});
    for (size_t w = 0; w < nWarps; w++)
    {
        size_t lanes = std::min<size_t>(32, threads - w * 32);
        S.warps[w].present = lanes == 32 ? 0xFFFFFFFFu : ((1u << lanes) - 1u);
    }
    // Dynamic shared memory: its own allocation of exactly the requested bytes, so ASan sees overflows past it.
    S.dynBytes = sharedBytes;
    S.dynShared = static_cast<char*>(std::malloc(sharedBytes == 0 ? 1 : sharedBytes));
    S.launch.gridDim = {gx, gy, gz};
    S.launch.blockDim = {bx, by, bz};
    launch = &S.launch;
    std::vector<unsigned> blocks(static_cast<size_t>(gx) * gy * gz);
    for (unsigned i = 0; i < blocks.size(); i++)
    {
        blocks[i] = i;
    }
    permute(blocks); // blocks are independent on a GPU too: any order must give the same result
    bool ok = true;
    for (unsigned b : blocks)
    {
        S.launch.blockIdx = {b % gx, (b / gx) % gy, b / (gx * gy)};
        if (!run_block())
        {
            ok = false;
            break;
        }
    }
    launch = nullptr;
    std::free(S.dynShared);
    S.dynShared = nullptr;
    S.threads.clear();
    if (!ok)
    {
        return set_error(FCEMU_ERROR_LAUNCH_FAILED, S.message + " [" + dims + "]");
    }
    return FCEMU_SUCCESS;
}

int fcemu_function_params(void* fn, unsigned* count, const size_t** sizes)
{
    if (count == nullptr || sizes == nullptr)
    {
        return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_function_params: null argument");
    }
    for (auto& kv : registry())
    {
        if (&kv.second == fn)
        {
            *count = kv.second.paramCount;
            *sizes = kv.second.paramSizes;
            return FCEMU_SUCCESS;
        }
    }
    return set_error(FCEMU_ERROR_INVALID_VALUE, "fcemu_function_params: the function handle did not come from fcemu_get_function");
}

const char* fcemu_last_error(void) { return lastError.c_str(); }

} // extern "C"
