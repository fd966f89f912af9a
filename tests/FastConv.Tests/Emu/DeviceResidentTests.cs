using FastConv.Backends;
using FastConv.Compilation;
using FastConv.Graphs;
using FastConv.Graphs.Ops;
using FastConv.Networks;
using FastConv.Sessions;
using FastConv.Tests.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Emu;

/// <summary>
/// Sessions on a device backend keep activations on the device: one device arena, the weights uploaded once at plan
/// time, and per run exactly the graph's Copy nodes cross the bus — counted by the emulator's driver, so a plan that
/// staged through the host behind the session's back would show. Compiled and emulated, not run on a GPU.
/// </summary>
public sealed class DeviceResidentTests
{
    private static Tensor Random(int seed, TensorShape shape) => TestData.Floats(new Random(seed), shape);

    [Test]
    public void MnistRunsOnTheDeviceWithOneCopyEachWayPerRun()
    {
        Graph g = Builtins.Create("mnist", batch: 2);
        using var device = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.CudaEmu, Exact = true });
        using var reference = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Reference });
        // Every node on the device (the flatten too: a copy within device memory); the input up, the output down.
        Assert.That(device.NodePlans.Where(p => p.Op != FastConvOps.Copy).Select(p => p.Backend).Distinct(), Is.EqualTo(new[] { BackendNames.CudaEmu }));
        Assert.That(device.Plan.Copies, Is.EqualTo(2));
        Assert.That(device.Plan.ArenaBytes[MemorySpace.Device], Is.GreaterThan(0));
        var inputs = new Dictionary<string, Tensor> { ["input"] = Random(3, g.Inputs[0].Shape) };
        Tensor expected = reference.Run(inputs)["softmax"];
        TransferCounters before = device.DeviceTransfers;
        Tensor actual = device.Run(inputs)["softmax"];
        TransferCounters run = device.DeviceTransfers - before;
        var expectedCopies = new TransferCounters(1, 2 * 28 * 28 * 4, 1, 2 * 10 * 4);
        Assert.That(run, Is.EqualTo(expectedCopies), run.ToString());
        Assert.That(device.TransfersPerRun, Is.EqualTo(expectedCopies), "the plan's Copy nodes and the driver agree");
        Compare.Close(expected, actual, "mnist on cuda-emu vs reference", 1e-5f, 1e-4f);
    }

    [Test]
    public void ANodeTheDeviceCannotRunFallsBackThroughCopyNodes()
    {
        // Sqrt has no GPU kernel: it runs on the cpu, with a copy down before it and up after it.
        var b = new NetworkBuilder("fallback");
        GraphValue x = b.Input("x", TensorShape.Of(1, 3, 5, 5));
        GraphValue r = b.Relu(x, "relu");
        GraphValue s = b.Node("Sqrt", [r.Name], name: "sqrt");
        GraphValue y = b.Relu(s, "relu2");
        Graph g = b.Build(y).Graph;
        using var session = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.CudaEmu });
        Assert.That(session.NodePlans.Single(p => p.Op == "Sqrt").Backend, Is.EqualTo(BackendNames.Cpu));
        Assert.That(session.Plan.Copies, Is.EqualTo(4)); // x up, relu down, sqrt up, relu2 down
        TransferCounters before = session.DeviceTransfers;
        Tensor input = Random(5, g.Inputs[0].Shape);
        Tensor actual = session.Run(new Dictionary<string, Tensor> { ["x"] = input })["relu2"];
        Assert.That((session.DeviceTransfers - before).HostToDevice, Is.EqualTo(2));
        Assert.That(actual.ToArray(), Is.EqualTo(input.ToArray().Select(v => MathF.Sqrt(MathF.Max(v, 0))).ToArray()).Within(1e-6f));
    }

    [Test]
    public void ResNet18IsPlacedWhollyOnTheDevice()
    {
        // Running ResNet-18 at 224×224 on the emulator takes minutes; its placement is what this checks (H2D 1, D2H 1).
        Graph g = Builtins.Create("resnet18");
        InferPass.Run(g);
        FusePass.Run(g, OptimizerOptions.All);
        using var device = BackendRegistry.Create(BackendNames.CudaEmu);
        using var cpu = BackendRegistry.Create(BackendNames.Cpu);
        PlacePass.Run(g, [device, cpu]);
        Assert.That(g.Nodes.Where(n => n.OpType != FastConvOps.Copy).Select(n => n.Backend).Distinct(), Is.EqualTo(new[] { BackendNames.CudaEmu }));
        Assert.That(g.Nodes.Where(n => n.OpType == FastConvOps.Copy).Select(n => n.GetString("to", "")), Is.EqualTo(new[] { "device", "host" }));
    }

    [Test]
    public void AMiniResNetOnTheDeviceMatchesTheReference()
    {
        Graph g = TestNetworks.MiniResNet(batch: 2).Graph;
        using var device = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.CudaEmu, Exact = true });
        using var reference = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.Reference });
        var inputs = TestNetworks.RandomInputs(g, 11);
        TransferCounters before = device.DeviceTransfers;
        var actual = device.Run(inputs);
        TransferCounters run = device.DeviceTransfers - before;
        Assert.That((run.HostToDevice, run.DeviceToHost), Is.EqualTo((1L, 1L)), run.ToString());
        foreach (var (name, expected) in reference.Run(inputs))
        {
            Compare.Close(expected, actual[name], $"mini-resnet '{name}' on cuda-emu vs reference", 1e-4f, 1e-3f);
        }
    }

    [Test]
    public void DeviceBoundInputsAndOutputsCrossNothingAndPinnedOnesSkipTheArena()
    {
        Graph g = Builtins.Create("mnist", batch: 2);
        using var session = new FastConvSession(g, new FastConvSessionOptions { Backend = BackendNames.CudaEmu, Exact = true });
        Tensor x = Random(8, g.Inputs[0].Shape);
        Tensor expected = session.Run(new Dictionary<string, Tensor> { ["input"] = x })["softmax"];

        // Device in, device out: the run moves nothing between host and device.
        using DeviceBuffer dx = session.AllocateDevice(x.Shape), dy = session.AllocateDevice(expected.Shape);
        dx.Upload(x.Span);
        var binding = new IoBinding().BindInput("input", dx).BindOutput("softmax", dy);
        TransferCounters before = session.DeviceTransfers;
        session.Run(binding);
        Assert.That(session.DeviceTransfers - before, Is.EqualTo(default(TransferCounters)));
        var y = new float[expected.Length];
        dy.Download(y);
        Assert.That(y, Is.EqualTo(expected.ToArray()));

        // Page-locked in and out: one copy each way, straight from and into the caller's buffers.
        using PinnedBuffer px = session.AllocatePinned(x.Shape), py = session.AllocatePinned(expected.Shape);
        x.Span.CopyTo(px.Tensor.Span);
        before = session.DeviceTransfers;
        session.Run(new IoBinding().BindInput("input", px).BindOutput("softmax", py));
        Assert.That(session.DeviceTransfers - before, Is.EqualTo(session.TransfersPerRun));
        Assert.That(py.Tensor.ToArray(), Is.EqualTo(expected.ToArray()));

        // Host tensors through a binding, and the plan's own arena again afterwards (bindings are per run).
        var hy = Tensor.Allocate(expected.Shape);
        session.Run(new IoBinding().BindInput("input", x).BindOutput("softmax", hy));
        Assert.That(hy.ToArray(), Is.EqualTo(expected.ToArray()));
        Assert.That(session.Run(new Dictionary<string, Tensor> { ["input"] = x })["softmax"].ToArray(), Is.EqualTo(expected.ToArray()));

        // A freed buffer is refused before the run touches it (its device pages are gone: a write would fault).
        DeviceBuffer freed = session.AllocateDevice(expected.Shape);
        freed.Dispose();
        var stale = new IoBinding().BindInput("input", x).BindOutput("softmax", freed);
        Assert.That(() => session.Run(stale), Throws.InstanceOf<ObjectDisposedException>().With.Message.Contains("output 'softmax'"));
        Assert.That(() => freed.Upload(x.Span[..expected.Length]), Throws.InstanceOf<ObjectDisposedException>());
        Assert.That(() => new IoBinding().BindInput("input", (DeviceBuffer)null!), Throws.ArgumentNullException);
    }

    [Test]
    public void DeviceBuffersNeedADeviceBackend()
    {
        using var session = Builtins.Build("lenet5").CreateSession(BackendNames.Cpu);
        Assert.Throws<BackendUnavailableException>(() => session.AllocateDevice(TensorShape.Of(1, 1, 32, 32)));
    }
}
