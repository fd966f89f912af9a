using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Compilation;

/// <summary>
/// The execution plans of one compiled graph (a session's concurrent contexts) share the weights their plans pack;
/// plans made outside such a scope never do, so changed weights are packed again.
/// </summary>
public sealed class PlanSharingTests
{
    [TestCase("mnist", 4, TestName = "mnist: conv1 and conv2 (direct-nchwc), fc1 and fc2")]
    [TestCase("resnet18", 21, TestName = "resnet18: 20 convs (Winograd, direct) and the fc")]
    public void ContextsOfOneGraphShareThePackedWeights(string builtin, int packs)
    {
        Graph g = Builtins.Create(builtin, batch: 1);
        using var cpu = new CpuBackend(new CpuBackendOptions { Threads = 1 });
        IBackend[] backends = [cpu, new ReferenceBackend()];
        CompiledGraph compiled = GraphCompiler.Compile(g, new CompileOptions { Backends = backends, Evaluator = backends[1] });
        Tensor x = TestData.Floats(new Random(3), g.Inputs[0].Shape);
        using ExecutionPlan first = ExecutionPlan.Create(compiled, backends);
        int shared = compiled.Sharing.Count;
        // Without vectors MNIST's one-channel conv1 stays depthwise, which packs nothing to share.
        int expected = builtin == "mnist" && cpu.Context.Simd == SimdLevel.Scalar ? packs - 1 : packs;
        Assert.That(shared, Is.EqualTo(expected), "each weight packed once");
        using ExecutionPlan second = ExecutionPlan.Create(compiled, backends);
        Assert.That(compiled.Sharing.Count, Is.EqualTo(shared), "the second context packed nothing new");

        float[] Run(ExecutionPlan plan)
        {
            x.Span.CopyTo(plan.Input(0).Span);
            plan.Execute();
            return plan.Output(0).ToArray();
        }
        Assert.That(Run(second), Is.EqualTo(Run(first)));
        // Another compile of the same graph is another scope: nothing leaks between sessions.
        CompiledGraph other = GraphCompiler.Compile(g, new CompileOptions { Backends = backends, Evaluator = backends[1] });
        Assert.That(other.Sharing.Count, Is.Zero);
    }

    [Test]
    public void PlansMadeOutsideAScopePackTheWeightsTheyAreGiven()
    {
        using var cpu = new CpuBackend(new CpuBackendOptions { Threads = 1 });
        Tensor a = TestData.Floats(new Random(1), TensorShape.Of(1, 16)), b = TestData.Floats(new Random(2), TensorShape.Of(8, 16));
        var p = new GemmParams { TransB = true };
        var y1 = Tensor.Allocate(1, 8);
        using (IUnaryPlan plan = cpu.PlanGemm(a.Shape, b, null, p))
        {
            plan.Execute(a, y1);
        }
        b.Span[0] += 100f; // the caller changes its weights and plans again
        var y2 = Tensor.Allocate(1, 8);
        using (IUnaryPlan plan = cpu.PlanGemm(a.Shape, b, null, p))
        {
            plan.Execute(a, y2);
        }
        Assert.That(y2.Span[0] - y1.Span[0], Is.EqualTo(100f * a.Span[0]).Within(1e-3f));
    }
}
