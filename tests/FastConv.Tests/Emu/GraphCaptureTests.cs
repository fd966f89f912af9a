using FastConv.Backends;
using FastConv.Compilation;
using GpuDevice = FastConv.Gpu.GpuDevice;
using GpuStream = FastConv.Gpu.GpuStream;
using FastConv.Gpu.FcKernels;
using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Emu;

/// <summary>
/// CUDA Graph capture of whole runs (<see cref="FastConvSessionOptions.CaptureGraphs"/>) on the emulator, which
/// captures as the driver does: a capturing stream records launches (argument values copied), async copies and memsets
/// instead of running them, refuses what the driver refuses in thread-local mode, and a graph launch replays the list.
/// Compiled and emulated, not run on a GPU.
/// </summary>
public sealed class GraphCaptureTests
{
    private static Tensor Random(int seed, TensorShape shape) => TestData.Floats(new Random(seed), shape);

    private static FastConvSessionOptions Options(bool graphs) => new() { Backend = BackendNames.CudaEmu, Exact = true, CaptureGraphs = graphs, MaxConcurrency = 1 };

    [TestCase("mnist", 2)]
    [TestCase("lenet5", 1)]
    public void ReplayedRunsEqualUncapturedRunsBitForBit(string model, int batch)
    {
        // ResNet-18 at 224×224 takes minutes per run on the emulator; MNIST and LeNet-5 run every op kind it has but
        // the residual add, which the mini ResNet below covers.
        Graph g = Builtins.Create(model, batch);
        using var plain = new FastConvSession(g, Options(false));
        using var captured = new FastConvSession(g, Options(true));
        string input = g.Inputs[0].Name, output = g.Outputs[0];
        for (int run = 0; run < 3; run++)
        {
            var inputs = new Dictionary<string, Tensor> { [input] = Random(10 + run, g.Inputs[0].Shape) };
            float[] expected = plain.Run(inputs)[output].ToArray();
            TransferCounters before = captured.DeviceTransfers;
            float[] actual = captured.Run(inputs)[output].ToArray();
            Assert.That(captured.DeviceTransfers - before, Is.EqualTo(captured.TransfersPerRun), $"run {run}: a graph copies what the plan's Copy nodes do, once");
            Assert.That(actual, Is.EqualTo(expected), $"{model} run {run}: replay vs step by step");
        }
        GraphCaptureStats stats = captured.Graphs!;
        Assert.That((stats.Captures, stats.Replays, stats.Segments), Is.EqualTo((1, 2, 1)), stats.ToString());
        Assert.That(stats.HostSteps, Is.Empty);
        Assert.That(stats.NotCaptured, Is.Null);
        Assert.That(plain.Graphs, Is.Null);
    }

    [Test]
    public void AMiniResNetReplaysBitForBit()
    {
        Graph g = TestNetworks.MiniResNet(batch: 2).Graph;
        using var plain = new FastConvSession(g, Options(false));
        using var captured = new FastConvSession(g, Options(true));
        for (int run = 0; run < 2; run++)
        {
            var inputs = TestNetworks.RandomInputs(g, 20 + run);
            var expected = plain.Run(inputs);
            var actual = captured.Run(inputs);
            foreach (var (name, e) in expected)
            {
                Assert.That(actual[name].ToArray(), Is.EqualTo(e.ToArray()), $"mini-resnet '{name}' run {run}");
            }
        }
        Assert.That((captured.Graphs!.Captures, captured.Graphs.Replays), Is.EqualTo((1, 1)));
    }

    [Test]
    public void TheGraphHoldsEveryOperationOfARunAndAReplayMakesThemAll()
    {
        // Below the session, to count the driver's operations: the uncaptured run's launches, copies and memsets are
        // what the graph must hold, and what each replay performs again.
        Graph g = Builtins.Create("mnist", batch: 2);
        using FcKernelBackend device = FcKernelBackend.CreateEmulated(new FcKernelOptions { Exact = true }, EmuThreadOrder.Random, seed: 3);
        using IBackend cpu = BackendRegistry.Create(BackendNames.Cpu), reference = BackendRegistry.Create(BackendNames.Reference);
        IBackend[] backends = [device, cpu, reference];
        var driver = (EmuGpuDriver)device.Device.Driver;
        CompiledGraph compiled = GraphCompiler.Compile(g, new CompileOptions { Backends = backends, Evaluator = reference });
        Tensor x = Random(4, g.Inputs[0].Shape);
        float[] expected;
        long operationsPerRun;
        using (ExecutionPlan plain = ExecutionPlan.Create(compiled, backends))
        {
            x.Span.CopyTo(plain.Input(0).Span);
            long before = driver.StreamOperations;
            plain.Execute();
            operationsPerRun = driver.StreamOperations - before;
            expected = plain.Output(0).ToArray();
        }
        var stats = new GraphCaptureStats();
        (int Graphs, int Executables) live = driver.LiveGraphs;
        using (ExecutionPlan plan = ExecutionPlan.Create(compiled, backends, graphs: stats))
        {
            for (int run = 0; run < 2; run++)
            {
                // Poison first: the host arena may give the input and the output one slot (they are never live together).
                plan.Output(0).Span.Fill(float.NaN);
                x.Span.CopyTo(plan.Input(0).Span);
                long before = driver.StreamOperations;
                plan.Execute();
                Assert.That(driver.StreamOperations - before, Is.EqualTo(operationsPerRun), $"run {run}: the replay performs every recorded operation");
                Assert.That(plan.Output(0).ToArray(), Is.EqualTo(expected), $"run {run}");
            }
            Assert.That(operationsPerRun, Is.GreaterThan(3), "mnist's convs, pools, gemms and copies");
            Assert.That(stats.Nodes, Is.EqualTo(operationsPerRun), "one node per launch, copy and memset of a run");
            Assert.That((stats.Captures, stats.Replays), Is.EqualTo((1, 1)));
            Assert.That(driver.LiveGraphs, Is.EqualTo((live.Graphs + 1, live.Executables + 1)));
        }
        Assert.That(driver.LiveGraphs, Is.EqualTo(live), "disposing the plan destroys its graph and executable");
    }

    [Test]
    public void IoBindingToNewAddressesCapturesAgainAndNeverWritesAStaleBuffer()
    {
        Graph g = Builtins.Create("mnist", batch: 2);
        using var session = new FastConvSession(g, Options(true));
        Tensor x1 = Random(30, g.Inputs[0].Shape), x2 = Random(31, g.Inputs[0].Shape);
        using var plain = new FastConvSession(g, Options(false));
        float[] Expected(Tensor x) => plain.Run(new Dictionary<string, Tensor> { ["input"] = x })["softmax"].ToArray();
        float[] e1 = Expected(x1), e2 = Expected(x2);
        TensorShape outShape = session.Outputs[0].Shape;

        // Page-locked buffers: captured with their addresses; the same buffers replay.
        using PinnedBuffer px = session.AllocatePinned(x1.Shape), py = session.AllocatePinned(outShape);
        x1.Span.CopyTo(px.Tensor.Span);
        session.Run(new IoBinding().BindInput("input", px).BindOutput("softmax", py));
        Assert.That(py.Tensor.ToArray(), Is.EqualTo(e1));
        x2.Span.CopyTo(px.Tensor.Span);
        session.Run(new IoBinding().BindInput("input", px).BindOutput("softmax", py));
        Assert.That(py.Tensor.ToArray(), Is.EqualTo(e2), "the replay reads the bound buffer's new contents");
        Assert.That((session.Graphs!.Captures, session.Graphs.Replays), Is.EqualTo((1, 1)));

        // Other page-locked buffers: a replay of the old graph would read px and write py; it must capture again.
        using PinnedBuffer px2 = session.AllocatePinned(x1.Shape), py2 = session.AllocatePinned(outShape);
        x1.Span.CopyTo(px2.Tensor.Span);
        py.Tensor.Span.Fill(-1);
        py2.Tensor.Span.Fill(float.NaN);
        session.Run(new IoBinding().BindInput("input", px2).BindOutput("softmax", py2));
        Assert.That(py2.Tensor.ToArray(), Is.EqualTo(e1));
        Assert.That(py.Tensor.ToArray(), Is.All.EqualTo(-1f), "the old output buffer is not written");
        Assert.That(session.Graphs.Captures, Is.EqualTo(2));

        // Device buffers, then a new device output: each new address captures; nothing crosses the bus.
        using DeviceBuffer dx = session.AllocateDevice(x1.Shape), dy = session.AllocateDevice(outShape), dy2 = session.AllocateDevice(outShape);
        dx.Upload(x2.Span);
        var stale = new float[outShape.ElementCount];
        Array.Fill(stale, -2f);
        dy.Upload(stale);
        TransferCounters before = session.DeviceTransfers;
        session.Run(new IoBinding().BindInput("input", dx).BindOutput("softmax", dy2));
        Assert.That(session.DeviceTransfers - before, Is.EqualTo(default(TransferCounters)));
        var y = new float[outShape.ElementCount];
        dy2.Download(y);
        Assert.That(y, Is.EqualTo(e2));
        dy.Download(y);
        Assert.That(y, Is.All.EqualTo(-2f), "dy was never bound: untouched");
        session.Run(new IoBinding().BindInput("input", dx).BindOutput("softmax", dy));
        dy.Download(y);
        Assert.That(y, Is.EqualTo(e2));
        Assert.That(session.Graphs.Captures, Is.EqualTo(4));

        // Back to the session's own arena: captured once more, and correct.
        Assert.That(session.Run(new Dictionary<string, Tensor> { ["input"] = x1 })["softmax"].ToArray(), Is.EqualTo(e1));
        Assert.That(session.Graphs.Captures, Is.EqualTo(5));
    }

    [Test]
    public void AHostSideStepSplitsTheRunIntoTwoGraphs()
    {
        // Sqrt has no GPU kernel: it runs on the cpu between a copy down and a copy up, which no graph can hold.
        var b = new NetworkBuilder("fallback");
        GraphValue x = b.Input("x", TensorShape.Of(1, 3, 5, 5));
        GraphValue s = b.Node("Sqrt", [b.Relu(x, "relu").Name], name: "sqrt");
        Graph g = b.Build(b.Relu(s, "relu2")).Graph;
        using var plain = new FastConvSession(g, Options(false));
        using var session = new FastConvSession(g, Options(true));
        for (int run = 0; run < 2; run++)
        {
            var inputs = new Dictionary<string, Tensor> { ["x"] = Random(40 + run, g.Inputs[0].Shape) };
            TransferCounters before = session.DeviceTransfers;
            Assert.That(session.Run(inputs)["relu2"].ToArray(), Is.EqualTo(plain.Run(inputs)["relu2"].ToArray()), $"run {run}");
            Assert.That(session.DeviceTransfers - before, Is.EqualTo(session.TransfersPerRun));
        }
        GraphCaptureStats stats = session.Graphs!;
        Assert.That(stats.Segments, Is.EqualTo(2), stats.ToString());
        Assert.That(stats.HostSteps, Is.EqualTo(new[] { "Sqrt 'sqrt'" }));
        Assert.That((stats.Captures, stats.Replays), Is.EqualTo((2, 2)), "each segment captured once, replayed once");
        Assert.That(stats.ToString(), Does.Contain("host steps: Sqrt 'sqrt'"));
    }

    [Test]
    public void EachShapeOfADynamicModelGetsItsOwnGraphs()
    {
        var mb = new OnnxModelBuilder(seed: 5);
        string image = mb.Input("image", -1, 3, -1, -1);
        mb.Output(mb.TorchFlatten(mb.MaxPool(mb.Relu(mb.Conv(image, 3, 4, 3, 3)), 2, 2)));
        byte[] model = mb.ToBytes();
        using var plain = new FastConvSession(OnnxModel.Load(model), Options(false));
        using var session = new FastConvSession(OnnxModel.Load(model), Options(true));
        var seen = new List<GraphCaptureStats>();
        foreach ((int[] dims, int seed) in new[] { (new[] { 1, 3, 8, 8 }, 1), ([2, 3, 10, 6], 2), ([1, 3, 8, 8], 3) })
        {
            var inputs = new Dictionary<string, Tensor> { ["image"] = Random(seed, new TensorShape(dims)) };
            Assert.That(session.Run(inputs).Values.Single().ToArray(), Is.EqualTo(plain.Run(inputs).Values.Single().ToArray()), string.Join("x", dims));
            seen.Add(session.Graphs!);
        }
        Assert.That(seen[0], Is.Not.SameAs(seen[1]));
        Assert.That(seen[2], Is.SameAs(seen[0]), "the first shape's plan, graphs and all, is reused");
        Assert.That((seen[0].Captures, seen[0].Replays, seen[1].Captures, seen[1].Replays), Is.EqualTo((1, 1, 1, 0)));
    }

    [Test]
    public void ContextsCaptureOnTheirOwnStreamsAtOnce()
    {
        // Thread-local capture: one context capturing on its thread while another plans (allocates, uploads weights)
        // or captures on its own must not invalidate either.
        Graph g = Builtins.Create("mnist", batch: 1);
        using var plain = new FastConvSession(g, Options(false));
        using var session = new FastConvSession(g, Options(true) with { MaxConcurrency = 2 });
        Tensor[] xs = [.. Enumerable.Range(0, 4).Select(i => Random(50 + i, g.Inputs[0].Shape))];
        float[][] expected = [.. xs.Select(x => plain.Run(new Dictionary<string, Tensor> { ["input"] = x })["softmax"].ToArray())];
        using var start = new Barrier(2);
        float[][][] actual = new float[2][][];
        Parallel.For(0, 2, new ParallelOptions { MaxDegreeOfParallelism = 2 }, t =>
        {
            start.SignalAndWait();
            actual[t] = [.. xs.Select(x => session.Run(new Dictionary<string, Tensor> { ["input"] = x })["softmax"].ToArray())];
        });
        for (int t = 0; t < 2; t++)
        {
            Assert.That(actual[t], Is.EqualTo(expected), $"caller {t}");
        }
        Assert.That(session.Graphs!.Captures, Is.EqualTo(session.ExecutionContexts), "one capture per context");
        Assert.That(session.Graphs.Captures + session.Graphs.Replays, Is.EqualTo(8));
    }

    [Test]
    public void AHostBackendReportsWhyNothingIsCaptured()
    {
        using var session = new FastConvSession(Builtins.Create("lenet5"), new FastConvSessionOptions { Backend = BackendNames.Cpu, CaptureGraphs = true, Threads = 1 });
        session.Run(new Dictionary<string, Tensor> { ["input"] = Random(1, session.Inputs[0].Shape) });
        Assert.That(session.Graphs!.NotCaptured, Is.EqualTo("every node runs on the host"));
        Assert.That(session.Graphs.Captures, Is.Zero);
    }

    [Test]
    public unsafe void TheEmulatorRecordsInsteadOfRunningAndRefusesWhatTheDriverRefuses()
    {
        var driver = new EmuGpuDriver();
        using var device = new GpuDevice(driver);
        using GpuStream stream = device.CreateStream();
        ulong buffer = driver.MemAlloc(64 * sizeof(uint));
        nint pinned = driver.HostAlloc(64 * sizeof(uint));
        try
        {
            new Span<uint>((void*)pinned, 64).Clear();
            driver.MemsetD32Async(buffer, 0, 64, stream.Handle);
            driver.StreamBeginCapture(stream.Handle);
            driver.MemsetD32Async(buffer, 7, 64, stream.Handle);
            driver.CopyDeviceToHostAsync(pinned, buffer, 64 * sizeof(uint), stream.Handle);
            nint graph = driver.StreamEndCapture(stream.Handle);
            driver.StreamSynchronize(stream.Handle);
            Assert.That(new Span<uint>((void*)pinned, 64).ToArray(), Is.Not.EqualTo(Enumerable.Repeat(7u, 64).ToArray()), "recorded, not run");
            Assert.That(driver.GraphNodeCount(graph), Is.EqualTo(2));
            nint exec = driver.GraphInstantiate(graph);
            driver.GraphDestroy(graph); // an executable is a snapshot: it outlives its graph
            TransferCounters before = driver.Transfers;
            driver.GraphLaunch(exec, stream.Handle);
            driver.StreamSynchronize(stream.Handle);
            Assert.That(new Span<uint>((void*)pinned, 64).ToArray(), Is.All.EqualTo(7u));
            Assert.That(driver.Transfers - before, Is.EqualTo(new TransferCounters(0, 0, 1, 64 * sizeof(uint))), "the copy counts when replayed");
            driver.GraphExecDestroy(exec);

            // Waiting on a capturing stream is refused and spoils the capture; so is a synchronous copy, and a copy with pageable memory.
            driver.StreamBeginCapture(stream.Handle);
            var e = Assert.Throws<EmulatorException>(() => driver.StreamSynchronize(stream.Handle))!;
            Assert.That(e.Message, Does.Contain("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"));
            e = Assert.Throws<EmulatorException>(() => driver.StreamEndCapture(stream.Handle))!;
            Assert.That(e.Message, Does.Contain("invalidated").And.Contain("cuStreamSynchronize"));
            driver.StreamBeginCapture(stream.Handle);
            Assert.Throws<EmulatorException>(() => driver.CopyDeviceToHost(pinned, buffer, 4));
            Assert.Throws<EmulatorException>(() => driver.StreamEndCapture(stream.Handle));
            var pageable = new uint[64];
            fixed (uint* p = pageable)
            {
                driver.StreamBeginCapture(stream.Handle);
                nint host = (nint)p;
                e = Assert.Throws<EmulatorException>(() => driver.CopyHostToDeviceAsync(buffer, host, 64 * sizeof(uint), stream.Handle))!;
                Assert.That(e.Message, Does.Contain("pageable"));
                Assert.Throws<EmulatorException>(() => driver.StreamEndCapture(stream.Handle));
            }
            // The stream works normally afterwards.
            driver.MemsetD32Async(buffer, 9, 64, stream.Handle);
            driver.CopyDeviceToHostAsync(pinned, buffer, 64 * sizeof(uint), stream.Handle);
            driver.StreamSynchronize(stream.Handle);
            Assert.That(new Span<uint>((void*)pinned, 64).ToArray(), Is.All.EqualTo(9u));
        }
        finally
        {
            driver.HostFree(pinned);
            driver.MemFree(buffer);
        }
    }
}
