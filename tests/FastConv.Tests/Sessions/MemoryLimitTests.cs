using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Spectre.Console.Testing;
using static FastConv.Tests.Support.OnnxModelBuilder;

namespace FastConv.Tests.Sessions;

/// <summary>The memory budget: checked while planning, before the big allocations, with the biggest consumers named.</summary>
public sealed class MemoryLimitTests
{
    /// <summary>A tiny model whose four Resize outputs (×64 on H and W) need 4 × 64 MiB at once.</summary>
    private static byte[] Blowup()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 1, 64, 64);
        string scales = b.Float("scales", [1, 1, 64, 64], 4);
        for (int i = 0; i < 4; i++)
        {
            b.Output(b.Op("Resize", [x, "", scales], Attr("mode", "nearest")));
        }
        return b.ToBytes();
    }

    [Test]
    public void AnArenaOverTheLimitIsRefusedBeforeItIsAllocated()
    {
        Graph g = OnnxModel.Load(Blowup());
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<MemoryLimitExceededException>(() => new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu, MemoryLimitBytes = 100L << 20 }));
        Assert.That(GC.GetTotalAllocatedBytes(precise: true) - before, Is.LessThan(32L << 20), "nothing near the arena's size was allocated");
        Assert.That(e!.Message, Does.Contain("256.00 MiB").Or.Contain("256.0 MiB").And.Contain("[1,1,4096,4096]").And.Contain("--memory-limit"));
        Assert.That(e.NeededBytes, Is.EqualTo(4L * 4096 * 4096 * 4 + 64 * 64 * 4));
        Assert.That(e.LimitBytes, Is.EqualTo(100L << 20));
        using var fits = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu, MemoryLimitBytes = 300L << 20 });
        Assert.That(fits.ArenaFloats * 4L, Is.EqualTo(e.NeededBytes));
    }

    [Test]
    public void PackedWeightsCountTowardTheLimitAndTheBiggestPlansAreNamed()
    {
        Graph g = Builtins.Create("resnet18");
        // ResNet-18's activations fit in 20 MiB; its 11.7 M weights (47 MiB, more once packed) do not.
        var e = Assert.Throws<MemoryLimitExceededException>(() => new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1, MemoryLimitBytes = 20L << 20 }));
        Assert.That(e!.Message, Does.Contain("workspaces").And.Contain("the biggest plans: FastConv.FusedConv 'layer"));
        Assert.That(e.NeededBytes, Is.GreaterThan(20L << 20));
    }

    [Test]
    public void TheCliTakesAMemoryLimitAndFailsInOneLine()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["run", "builtin:resnet18", "--backend", "cpu", "--memory-limit", "2M"], new TestConsole(), output);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(output.ToString().Trim(), Does.StartWith("fastconv: the activations need").And.Contain("2.0 MiB"));
        output = new StringWriter();
        rc = FastConv.Cli.Cli.Run(["run", "builtin:lenet5", "--memory-limit", "lots"], new TestConsole(), output);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(output.ToString(), Does.Contain("--memory-limit 'lots'"));
    }

    [Test]
    public void NullEntriesInRunListsAreArgumentErrors()
    {
        using var session = Builtins.Build("lenet5").CreateSession(BackendNames.Cpu);
        Tensor y = Tensor.Allocate(1, 10);
        var e = Assert.Throws<ArgumentException>(() => session.Run(["input"], [null!], ["fc3"], [y]));
        Assert.That(e!.Message, Does.Contain("input 0"));
        Assert.Throws<ArgumentException>(() => session.Run(["input"], [Tensor.Allocate(1, 1, 32, 32)], [null!], [y]));
    }
}
