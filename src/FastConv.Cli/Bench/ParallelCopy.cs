using FastConv.Cpu.Threading;

namespace FastConv.Cli.Bench;

/// <summary>
/// memcpy split into 64 chunks handed out by FastConv's worker pool, so the 2-thread copy uses both cores
/// like the ops it bounds; 64 chunks of ≥ 1.6 MB each keep the hand-out cost negligible and balance
/// the two threads. The job is allocated once, so a copy allocates nothing.
/// </summary>
internal sealed class ParallelCopy(Memory<float> source, Memory<float> target, WorkerPool pool) : IParallelJob
{
    private const int Chunks = 64;

    public void Run() => pool.For(Chunks, this);

    public void Run(int index)
    {
        int length = source.Length;
        int start = (int)((long)length * index / Chunks);
        int end = (int)((long)length * (index + 1) / Chunks);
        source.Span[start..end].CopyTo(target.Span[start..end]);
    }
}
