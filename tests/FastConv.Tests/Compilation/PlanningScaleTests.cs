using System.Diagnostics;
using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Compilation;

/// <summary>
/// Planning cost grows like n log n, not n²: a chain of Relu nodes (the worst case of the old all-pairs arena planner,
/// 24 s at 100,000 nodes) is imported from ONNX bytes and planned on cpu at 10,000 and 100,000 nodes, and the ratio of
/// the two times — measured in the same run, so the machine's speed cancels — must stay far below the 100× a quadratic
/// step would give. The absolute times are printed for the record, not asserted.
/// </summary>
public sealed class PlanningScaleTests
{
    private static byte[] ReluChain(int n)
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 8);
        for (int i = 0; i < n; i++)
        {
            x = b.Relu(x);
        }
        b.Output(x);
        return b.ToBytes();
    }

    /// <summary>Seconds to import the model's bytes, and seconds to compile and plan the imported graph on cpu.</summary>
    private static (double Import, double Plan) Seconds(byte[] model)
    {
        long start = Stopwatch.GetTimestamp();
        Graph graph = OnnxModel.Load(model);
        double import = Stopwatch.GetElapsedTime(start).TotalSeconds;
        start = Stopwatch.GetTimestamp();
        using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1 });
        double plan = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var y = new float[8];
        session.Run([-1f, 2, -3, 4, -5, 6, -7, 8], y);
        Assert.That(y, Is.EqualTo(new[] { 0f, 2, 0, 4, 0, 6, 0, 8 }));
        return (import, plan);
    }

    [Test]
    public void ImportAndPlanScaleLinearlyWithChainLength()
    {
        byte[] small = ReluChain(10_000), large = ReluChain(100_000);
        Seconds(small); // warm up the code paths (JIT), so the small run is not charged for them
        var (importSmall, planSmall) = Seconds(small);
        var (importLarge, planLarge) = Seconds(large);
        double tSmall = importSmall + planSmall, tLarge = importLarge + planLarge;
        TestContext.Out.WriteLine($"import + plan: 10,000 nodes {importSmall:F3} + {planSmall:F3} s, 100,000 nodes {importLarge:F3} + {planLarge:F3} s, " +
            $"ratio {tLarge / tSmall:F1} (linear 10, quadratic 100)");
        Assert.That(tLarge / tSmall, Is.LessThan(30), $"10,000 nodes {tSmall:F3} s, 100,000 nodes {tLarge:F3} s");
    }

    [Test]
    public void GraphsOverTheNodeLimitAreRefusedBeforePlanning()
    {
        var e = Assert.Throws<InvalidModelException>(() => new FastConvSession(OnnxModel.Load(ReluChain(50)), new FastConvSessionOptions { Backend = BackendNames.Cpu, MaxNodes = 40 }));
        Assert.That(e!.Message, Does.Contain("50 nodes").And.Contain("limit of 40").And.Contain("MaxNodes"));
    }

    [Test]
    public void PlanningCanBeCancelled()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => new FastConvSession(OnnxModel.Load(ReluChain(100)), new FastConvSessionOptions { Backend = BackendNames.Cpu, Cancellation = cts.Token }));
    }
}
