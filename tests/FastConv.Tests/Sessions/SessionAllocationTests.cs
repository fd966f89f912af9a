using FastConv.Backends;
using FastConv.Networks;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Sessions;

/// <summary>
/// After warm-up, a session run with caller-owned inputs and outputs allocates nothing on the managed heap
/// (measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> on the calling thread), on the cpu backend,
/// at one thread (all inline) and two (the caller works and waits for the pool).
/// </summary>
[NonParallelizable]
public sealed class SessionAllocationTests
{
    [TestCase(1)]
    [TestCase(2)]
    public void ResNetStyleRunAllocatesNothingAfterWarmUp(int threads)
    {
        Network net = TestNetworks.MiniResNet(batch: 2);
        using var session = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = threads });
        Tensor input = TestNetworks.RandomInputs(net.Graph, 1)["image"];
        var output = Tensor.Allocate(session.Outputs[0].Shape);
        string[] inNames = ["image"], outNames = ["prob"];
        Tensor[] ins = [input], outs = [output];
        float[] spanOut = new float[output.Length];
        AssertNoAllocation(() => session.Run(inNames, ins, outNames, outs), $"tensor run, threads={threads}");
        AssertNoAllocation(() => session.Run(input.Span, spanOut), $"span run, threads={threads}");
        Assert.That(output.ToArray(), Is.EqualTo(spanOut));
    }

    [Test]
    public void Lenet5RunAllocatesNothingAfterWarmUp()
    {
        using var session = Builtins.Build("lenet5", batch: 4).CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 2 });
        float[] x = TestData.Floats(new Random(2), session.Inputs[0].Shape).ToArray(), y = new float[40];
        AssertNoAllocation(() => session.Run(x, y), "lenet5");
    }

    private static void AssertNoAllocation(Action run, string what)
    {
        // Warm-up past tiered compilation (its re-JIT bookkeeping allocates on the calling thread).
        for (int i = 0; i < 64; i++)
        {
            run();
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++)
        {
            run();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, $"{what}: {allocated} bytes allocated in 5 runs");
    }
}
