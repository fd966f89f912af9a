using System.Diagnostics;
using System.Diagnostics.Metrics;
using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Networks;
using FastConv.Onnx;
using FastConv.Ops;
using FastConv.Sessions;
using FastConv.Tests.Support;
using Microsoft.Extensions.Logging;

namespace FastConv.Tests.Sessions;

/// <summary>
/// The session as a library: execution contexts made on demand and bounded, RunAsync with cancellation between nodes,
/// loading from bytes and streams, logging, metrics and traces.
/// </summary>
[NonParallelizable]
public sealed class SessionApiTests
{
    [Test]
    public void ConcurrentCallersGetTheirOwnContextsUpToTheBound()
    {
        Network net = TestNetworks.MiniResNet();
        using var session = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1, MaxConcurrency = 2 });
        Assert.That(session.ExecutionContexts, Is.EqualTo(1), "one context is made with the plan");
        Tensor x = TestNetworks.RandomInputs(net.Graph, 1)["image"];
        float[] expected = session.Run(new Dictionary<string, Tensor> { ["image"] = x })["prob"].ToArray();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        using var start = new Barrier(6);
        var callers = Enumerable.Range(0, 6).Select(c => new Thread(() =>
        {
            var y = new float[10];
            start.SignalAndWait();
            for (int r = 0; r < 20; r++)
            {
                session.Run(x.Span, y);
                if (!y.AsSpan().SequenceEqual(expected))
                {
                    failures.Add($"caller {c} run {r}");
                }
            }
        })).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());
        Assert.That(failures, Is.Empty);
        Assert.That(session.ExecutionContexts, Is.InRange(1, 2), "never more contexts than MaxConcurrency");
    }

    [Test]
    public void ASecondCallerGetsASecondContextAndAThirdWaitsForOne()
    {
        // A backend whose ReLU blocks until released: runs are held inside the graph, so overlap is certain.
        using var gate = new GateBackend();
        BackendRegistry.Register(GateBackend.BackendName, _ => new GateBackend(gate));
        var b = new NetworkBuilder("gated");
        GraphValue y = b.Relu(b.Input("x", TensorShape.Of(1, 4)), "relu");
        using var session = new FastConvSession(b.Build(y).Graph, new FastConvSessionOptions { Backend = GateBackend.BackendName, MaxConcurrency = 2 });
        var runs = Enumerable.Range(0, 3).Select(_ => Task.Run(() => session.Run([1f, -2, 3, -4], new float[4]))).ToArray();
        Assert.That(gate.WaitForEntered(2), "two runs are inside the graph at once");
        Assert.That(session.ExecutionContexts, Is.EqualTo(2));
        Assert.That(gate.Entered, Is.EqualTo(2), "the third caller waits for a context (MaxConcurrency 2)");
        gate.Open();
        Assert.That(Task.WaitAll(runs, TimeSpan.FromSeconds(30)));
        Assert.That(gate.Entered, Is.EqualTo(3));
        Assert.That(session.ExecutionContexts, Is.EqualTo(2));
    }

    /// <summary>The cpu backend under another name whose ReLU plan counts its callers and waits for <see cref="Open"/>.</summary>
    private sealed class GateBackend : IBackend
    {
        public const string BackendName = "gate-test";
        private readonly CpuBackend _cpu = new(new CpuBackendOptions { Threads = 1 });
        private readonly GateBackend? _shared;
        private readonly ManualResetEventSlim _open = new(false);
        private int _entered;

        public GateBackend(GateBackend? shared = null) => _shared = shared;

        private GateBackend Gate => _shared ?? this;
        public string Name => BackendName;
        public int Entered => Volatile.Read(ref Gate._entered);
        public void Open() => Gate._open.Set();

        public bool WaitForEntered(int n)
        {
            var clock = Stopwatch.StartNew();
            while (Entered < n && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(5);
            }
            Thread.Sleep(100); // room for a wrongly admitted third run to show
            return Entered >= n;
        }

        public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue) => _cpu.PlanConv2d(shape, weights, bias, epilogue);
        public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => _cpu.PlanPool2d(shape, max);
        public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => _cpu.PlanGlobalPool(input, max);
        public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => new GatedPlan(Gate, _cpu.PlanActivation(activation, shape));
        public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => _cpu.PlanSoftmax(shape, axis);
        public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => _cpu.PlanGemm(aShape, b, c, p);

        public void Dispose()
        {
            _cpu.Dispose();
            if (_shared is null)
            {
                _open.Dispose();
            }
        }

        private sealed class GatedPlan(GateBackend gate, IUnaryPlan inner) : IUnaryPlan
        {
            public string Algorithm => "gated " + inner.Algorithm;
            public long WorkspaceBytes => inner.WorkspaceBytes;
            public TensorShape OutputShape => inner.OutputShape;

            public void Execute(Tensor x, Tensor y)
            {
                Interlocked.Increment(ref gate._entered);
                gate._open.Wait();
                inner.Execute(x, y);
            }

            public void Dispose() => inner.Dispose();
        }
    }

    [Test]
    public async Task RunAsyncCancelsBetweenNodesAndTheSessionRunsOnAfterwards()
    {
        Network net = Builtins.Build("lenet5");
        using var session = net.CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1 });
        var inputs = new Dictionary<string, Tensor> { ["input"] = TestData.Floats(new Random(1), TensorShape.Of(1, 1, 32, 32)) };
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.CatchAsync<OperationCanceledException>(async () => await session.RunAsync(inputs, cancelled.Token));
        Assert.Catch<OperationCanceledException>(() => session.Run(inputs, cancelled.Token));
        IReadOnlyDictionary<string, Tensor> result = await session.RunAsync(inputs);
        Assert.That(result["fc3"].ToArray(), Is.EqualTo(session.Run(inputs)["fc3"].ToArray()));
    }

    [Test]
    public void LoadsFromBytesAndStreams()
    {
        var b = new OnnxModelBuilder();
        string x = b.Input("x", 1, 4);
        b.Output(b.Relu(x));
        byte[] model = b.ToBytes();
        using var fromBytes = FastConvSession.Load(model, new FastConvSessionOptions { Backend = BackendNames.Cpu });
        using var fromStream = FastConvSession.Load(new MemoryStream(model), new FastConvSessionOptions { Backend = BackendNames.Cpu });
        var y = new float[4];
        fromStream.Run([-1f, 2, -3, 4], y);
        Assert.That(y, Is.EqualTo(new[] { 0f, 2, 0, 4 }));
        Assert.That(fromBytes.InputMetadata.Single().ToString(), Is.EqualTo("x: float32 [1,4]"));
    }

    [Test]
    public void RunsAreMeasuredAndTracedAndPlansLogged()
    {
        var runs = new List<(string Instrument, double Value, string Backend)>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == FastConvSession.MeterName)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        meters.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i.Name, v, tags));
        meters.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i.Name, v, tags));
        void Record(string name, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string backend = "";
            foreach (var t in tags)
            {
                backend = t.Key == "fastconv.backend" ? (string)t.Value! : backend;
            }
            lock (runs)
            {
                runs.Add((name, v, backend));
            }
        }
        meters.Start();
        var activities = new List<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == FastConvSession.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = a => { lock (activities) activities.Add(a.OperationName); },
        };
        ActivitySource.AddActivityListener(listener);
        var log = new ListLogger();

        using (var session = Builtins.Build("lenet5").CreateSession(new FastConvSessionOptions { Backend = BackendNames.Cpu, Threads = 1, Logger = log }))
        {
            var y = new float[10];
            session.Run(new float[32 * 32], y);
            session.Run(new float[32 * 32], y);
        }
        lock (runs)
        {
            Assert.That(runs.Count(r => r.Instrument == "fastconv.runs" && r.Backend == BackendNames.Cpu), Is.EqualTo(2));
            Assert.That(runs.Count(r => r.Instrument == "fastconv.run.duration" && r.Value > 0), Is.EqualTo(2));
        }
        lock (activities)
        {
            Assert.That(activities, Does.Contain("fastconv.plan").And.Contains("fastconv.run"));
        }
        Assert.That(log.Lines, Has.Some.Contains("backend cpu (asked for cpu; first choice)"));
        Assert.That(log.Lines, Has.Some.Contains("planned for input[1,1,32,32]").And.Some.Contains("cpu"));
    }

    private sealed class ListLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add(formatter(state, exception));
            }
        }
    }
}
