// protect_probe: checks that the emulator's device memory is an address space the host cannot read by accident.
// Built with the library (native/emu/build.sh lib) as fcemu_protect_probe; run by tests/FastConv.Tests/Emu.
// Exit 0 and "ok" when: copies through the emulator reach device memory, a host dereference of a device pointer
// faults (SIGSEGV, in a forked child), and so does a host write one block past a device allocation's end.
#include "fcemu.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>

namespace
{
bool faults(void (*touch)(float*), float* p)
{
    pid_t child = fork();
    if (child == 0)
    {
        touch(p);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

void read_first(float* p)
{
    volatile float v = p[0];
    (void)v;
}

void write_past_end(float* p)
{
    // 1000 bytes round up to 1024 (cuMemAlloc's 256-byte granularity); the guard page starts right after.
    p[256] = 1.0f;
}
}

int main()
{
    void* p = nullptr;
    if (fcemu_mem_alloc(&p, 1000) != 0)
    {
        std::printf("FAIL alloc: %s\n", fcemu_last_error());
        return 1;
    }
    float host[250];
    for (int i = 0; i < 250; i++)
    {
        host[i] = static_cast<float>(i);
    }
    float back[250] = {};
    if (fcemu_memcpy(p, host, sizeof host) != 0 || fcemu_memcpy(back, p, sizeof back) != 0 || back[249] != 249.0f)
    {
        std::printf("FAIL copies through the emulator did not reach device memory\n");
        return 2;
    }
    if (!faults(read_first, static_cast<float*>(p)))
    {
        std::printf("FAIL a host read of a device pointer did not fault\n");
        return 3;
    }
    if (!faults(write_past_end, static_cast<float*>(p)))
    {
        std::printf("FAIL a write past the end of a device allocation did not fault\n");
        return 4;
    }
    fcemu_mem_free(p);
    std::printf("ok\n");
    return 0;
}
