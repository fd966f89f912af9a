using System.Text.Json;
using System.Text.Json.Nodes;
using FastConv.Backends;
using FastConv.Cli.Bench;
using FastConv.Graphs;
using FastConv.Ops;
using Json.Schema;
using Spectre.Console.Testing;

namespace FastConv.Tests.Cli;

/// <summary>
/// <c>fastconv bench</c>: the peer-agreement check (a wrong FastConv output is reported as a mismatch and not
/// timed), the JSON against its schema, the plot, and argument errors. Tiny problems and millisecond budgets
/// keep this fast; no assertion is about time.
/// </summary>
public sealed class BenchCommandTests
{
    /// <summary>A 3×3 conv small enough to plan and run in microseconds, with odd sizes and C, K off the vector width.</summary>
    private static readonly NamedConv2d Tiny = new("test", "tiny3x3", 6, 10, 11, 9, 3, 3, Conv2dParams.Create(stride: 1, pad: 1));

    private static BenchOptions FastOptions(params string[] workloads) => new()
    {
        Workloads = workloads,
        Backends = [BackendNames.Cpu],
        Threads = [1],
        Batches = [2],
        Quick = true,
        Warmup = TimeSpan.FromMilliseconds(2),
        CaseBudget = TimeSpan.FromMilliseconds(10),
        MinRounds = 3,
        PeakDuration = TimeSpan.FromMilliseconds(10),
    };

    private static readonly BenchPeak SomePeak = new(1, 100, 10);

    [Test]
    public void AgreeingOutputsAreCheckedThenTimedSideBySide()
    {
        var runner = new BenchRunner(FastOptions("test"));
        using IBackend cpu = BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 });
        BenchCase c = runner.RunCase(new ConvWorkload(Tiny), cpu, 1, 2, SomePeak);
        Assert.Multiple(() =>
        {
            Assert.That(c.Status, Is.EqualTo(BenchStatus.Ok), c.Reason);
            Assert.That(c.Fastconv, Is.Not.Null);
            Assert.That(c.Fastconv!.Samples, Is.GreaterThanOrEqualTo(3));
            Assert.That(c.Fastconv.P10Ms, Is.LessThanOrEqualTo(c.Fastconv.MedianMs));
            Assert.That(c.Fastconv.MedianMs, Is.LessThanOrEqualTo(c.Fastconv.P90Ms));
            Assert.That(c.Peers, Has.Count.EqualTo(1));
            Assert.That(c.Peers[0].Peer, Is.EqualTo("ort"));
            Assert.That(c.Peers[0].Check, Is.EqualTo("agree"), c.Peers[0].Detail);
            Assert.That(c.Peers[0].Timing, Is.Not.Null);
            Assert.That(c.Peers[0].Ratio, Is.EqualTo(c.Fastconv.MedianMs / c.Peers[0].Timing!.MedianMs).Within(1e-12));
            Assert.That(c.Flops, Is.EqualTo(Tiny.WithBatch(2).Flops));
        });
    }

    [Test]
    public void WrongFastConvOutputIsReportedAsMismatchAndNotTimed()
    {
        // The cpu backend with one output element nudged by 0.05 after every run: ORT must catch it.
        var runner = new BenchRunner(FastOptions("test"), (name, o) => (new WrongOutputBackend(BackendRegistry.Create(BackendNames.Cpu, o)), []));
        using IBackend wrong = new WrongOutputBackend(BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 }));
        BenchCase c = runner.RunCase(new ConvWorkload(Tiny), wrong, 1, 2, SomePeak);
        Assert.Multiple(() =>
        {
            Assert.That(c.Status, Is.EqualTo(BenchStatus.Mismatch));
            Assert.That(c.Fastconv, Is.Null, "wrong answers must not be timed");
            Assert.That(c.Peers[0].Check, Is.EqualTo("mismatch"));
            Assert.That(c.Peers[0].Timing, Is.Null);
            Assert.That(c.Peers[0].Ratio, Is.Null);
            Assert.That(c.Peers[0].Detail, Does.Contain("1 of " + Tiny.WithBatch(2).OutputShape.ElementCount).And.Contain("flat index 7"));
            Assert.That(c.Reason, Does.Contain("disagree"));
        });

        // The whole run reports it as a problem (the command exits non-zero on it) and the table says mismatch.
        BenchReport report = runner.Run([new ConvWorkload(Tiny)]);
        Assert.That(report.Problems, Is.EqualTo(1));
        var console = new TestConsole { EmitAnsiSequences = false };
        console.Profile.Width = 250;
        BenchTable.Render(report, console);
        Assert.That(console.Output, Does.Contain("mismatch"));
        Assert.That(BenchTable.Markdown(report, "test"), Does.Contain("**mismatch**"));
    }

    [Test]
    public void ConcurrentCallersShareOneSessionAndOneInferenceSession()
    {
        var runner = new BenchRunner(FastOptions("builtin:lenet5"));
        using IBackend cpu = BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 });
        BenchWorkload lenet = BenchWorkloads.Parse(["builtin:lenet5"])[0];
        BenchCase c = runner.RunConcurrentCase(lenet, cpu, 1, 1, 2, SomePeak);
        Assert.Multiple(() =>
        {
            Assert.That(c.Status, Is.EqualTo(BenchStatus.Ok), c.Reason);
            Assert.That(c.Concurrency, Is.EqualTo(2));
            Assert.That(c.Fastconv!.Algorithm, Does.StartWith("shared session"));
            Assert.That(c.Fastconv.ThroughputPerS, Is.GreaterThan(0));
            Assert.That(c.Fastconv.Samples % 2, Is.Zero, "one latency sample per caller per round");
            Assert.That(c.Peers.Single().Peer, Is.EqualTo("ort"));
            Assert.That(c.Peers[0].Check, Is.EqualTo("agree"), c.Peers[0].Detail);
            Assert.That(c.Peers[0].Timing!.ThroughputPerS, Is.GreaterThan(0));
            Assert.That(c.Peers[0].Timing!.Algorithm, Is.EqualTo("shared InferenceSession"));
        });

        // One caller keeps the sequential path; its throughput is 1000 / median.
        BenchCase one = runner.RunCase(lenet, cpu, 1, 1, SomePeak);
        Assert.That(one.Fastconv!.ThroughputPerS, Is.EqualTo(1000 / one.Fastconv.MedianMs).Within(1e-9));

        // A single layer has no shared session: skipped with the reason.
        BenchCase layer = runner.RunConcurrentCase(new ConvWorkload(Tiny), cpu, 1, 2, 2, SomePeak);
        Assert.That(layer.Status, Is.EqualTo(BenchStatus.Skipped));
        Assert.That(layer.Reason, Does.Contain("shared session"));
    }

    [Test]
    public void ACallerWhoseOutputDiffersIsAMismatch()
    {
        // Caller 1's output nudged after every call, as a race between callers would: the check after timing must catch it.
        var runner = new BenchRunner(FastOptions("builtin:lenet5"));
        using IBackend cpu = BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 });
        BenchCase c = runner.RunConcurrentCase(new RacyWorkload(BenchWorkloads.Parse(["builtin:lenet5"])[0]), cpu, 1, 1, 2, SomePeak);
        Assert.That(c.Status, Is.EqualTo(BenchStatus.Mismatch));
        Assert.That(c.Reason, Does.Contain("concurrent calls disagree").And.Contain("caller 1"));
        Assert.That(c.Fastconv, Is.Null);
    }

    [Test]
    public void ConcurrencyOptionIsParsed()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["bench", "builtin:lenet5", "--concurrency", "1,0"], new TestConsole(), output);
        Assert.That(rc, Is.EqualTo(2));
        Assert.That(output.ToString(), Does.Contain("--concurrency: '0' is not a whole number"));
    }

    /// <summary>A workload whose concurrent FastConv subject corrupts caller 1's output after each call.</summary>
    private sealed class RacyWorkload(BenchWorkload inner) : BenchWorkload
    {
        public override string Set => inner.Set;
        public override string Name => inner.Name;
        public override string Kind => inner.Kind;

        public override BenchLayer? Layer(int batch) => null;

        public override BenchProblem Create(int batch) => new RacyProblem(inner.Create(batch));
    }

    private sealed class RacyProblem(BenchProblem inner) : BenchProblem
    {
        public override string Shape => inner.Shape;
        public override double Flops => inner.Flops;
        public override double Bytes => inner.Bytes;

        public override float Tolerance(bool exact) => inner.Tolerance(exact);

        public override IBenchSubject Plan(IBackend backend, string label, int threads, bool exact) => inner.Plan(backend, label, threads, exact);

        public override IBenchSubject Ort(int threads) => inner.Ort(threads);

        public override IConcurrentBenchSubject? PlanConcurrent(IBackend backend, string label, int threads, bool exact, int callers)
            => new Racy(inner.PlanConcurrent(backend, label, threads, exact, callers)!);

        public override IConcurrentBenchSubject? OrtConcurrent(int threads, int callers) => inner.OrtConcurrent(threads, callers);

        public override void Dispose() => inner.Dispose();
    }

    private sealed class Racy(IConcurrentBenchSubject inner) : IConcurrentBenchSubject
    {
        public string Name => inner.Name;
        public string? Algorithm => inner.Algorithm;
        public string Device => inner.Device;
        public int Callers => inner.Callers;

        public void Run(int caller)
        {
            inner.Run(caller);
            if (caller == 1)
            {
                ReadOnlySpan<float> y = inner.Output(caller);
                System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y), y.Length)[0] += 0.5f;
            }
        }

        public ReadOnlySpan<float> Output(int caller) => inner.Output(caller);

        public void Poison(int caller) => inner.Poison(caller);

        public void Dispose() => inner.Dispose();
    }

    [Test]
    public void UnwrittenElementsFailTheCheck()
    {
        float[] expected = [1f, 2f, 3f];
        float[] poisoned = [1f, float.NaN, 3f];
        Agreement a = OutputCheck.Compare(poisoned, expected, 1e-3f, "FastConv", "ort");
        Assert.That(a.Agrees, Is.False, a.Detail);
        Assert.That(OutputCheck.Compare(expected, expected, 0f, "FastConv", "ort").Agrees, Is.True);
    }

    [Test]
    public void NetworkBoundComesFromTheGraphAndIsTight()
    {
        GraphInfo resnet18 = GraphInfo.Analyze(ModelLoader.Load("builtin:resnet18"));
        GraphInfo lenet5 = GraphInfo.Analyze(ModelLoader.Load("builtin:lenet5"));
        float fast = OutputCheck.NetworkTolerance(resnet18, exact: false), exact = OutputCheck.NetworkTolerance(resnet18, exact: true);
        Assert.Multiple(() =>
        {
            // The old constant bound was 10 × 5e-3 of the largest output for every network.
            Assert.That(fast, Is.LessThan(2e-4f).And.GreaterThan(2e-5f));
            Assert.That(exact, Is.LessThan(fast));
            Assert.That(OutputCheck.NetworkTolerance(lenet5, exact: false), Is.LessThan(fast / 4), "a shallower, narrower net gets a tighter bound");
        });
    }

    [Test]
    public void PerturbedNetworkOutputFailsTheNetworkBound()
    {
        // 1000 logits spread like a classifier's; the bound is ResNet-18's.
        float tol = OutputCheck.NetworkTolerance(GraphInfo.Analyze(ModelLoader.Load("builtin:resnet18")), exact: false);
        var rng = new Random(5);
        float[] expected = new float[1000];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = 30f * (float)(rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 1.5);
        }
        float max = expected.Max(MathF.Abs);
        float[] rounding = expected.Select(e => e * (1 + 1e-6f * (float)(rng.NextDouble() - 0.5))).ToArray();
        float[] oneOff = (float[])expected.Clone();
        oneOff[123] += 1e-3f * max;
        float[] allOff = expected.Select(e => e + 0.9f * tol * max * (rng.Next(2) == 0 ? -1 : 1)).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(OutputCheck.Compare(rounding, expected, tol, "FastConv", "ort", normwise: true).Agrees, Is.True, "rounding-sized differences pass");
            Agreement one = OutputCheck.Compare(oneOff, expected, tol, "FastConv", "ort", normwise: true);
            Assert.That(one.Agrees, Is.False, one.Detail);
            Assert.That(one.Detail, Does.Contain("flat index 123"));
            Agreement all = OutputCheck.Compare(allOff, expected, tol, "FastConv", "ort", normwise: true);
            Assert.That(all.Agrees, Is.False, "every element within the elementwise bound, but the difference as a whole is too large");
            Assert.That(all.Detail, Does.Contain("as a whole"));
            // What the old constant bound (10 × 5e-3 of max|expected|, elementwise only) let through.
            Assert.That(OutputCheck.Compare(oneOff, expected, 0.05f, "FastConv", "ort").Agrees, Is.True);
        });
    }

    [Test]
    public void RealNetworkAgreesWithOrtUnderTheNetworkBound()
    {
        var runner = new BenchRunner(FastOptions("builtin:lenet5"));
        using IBackend cpu = BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 });
        BenchCase c = runner.RunCase(NetworkWorkloads.Create("builtin:lenet5"), cpu, 1, 2, SomePeak);
        Assert.That(c.Status, Is.EqualTo(BenchStatus.Ok), c.Reason);
        Assert.That(c.Peers[0].Detail, Does.Contain("‖FastConv − ort‖₂"));
    }

    [Test]
    public void TorchPeerIsOptInAndSaysHowToBuildIt()
    {
        // The default build does not restore TorchSharp: the torch peer is reported as unavailable, with the build
        // command, and FastConv is still checked and timed against ORT in the same case.
        var options = FastOptions("test") with { Peers = ["ort", "torch"] };
        var runner = new BenchRunner(options);
        using IBackend cpu = BackendRegistry.Create(BackendNames.Cpu, new BackendOptions { Threads = 1 });
        BenchCase c = runner.RunCase(new ConvWorkload(Tiny), cpu, 1, 2, SomePeak);
        Assert.Multiple(() =>
        {
            Assert.That(c.Status, Is.EqualTo(BenchStatus.Ok), c.Reason);
            Assert.That(c.Peers.Select(p => p.Peer), Is.EqualTo(new[] { "ort", "torch" }));
            Assert.That(c.Peers[0].Check, Is.EqualTo("agree"));
            Assert.That(c.Peers[1].Check, Is.EqualTo("failed"));
            Assert.That(c.Peers[1].Detail, Does.Contain("-p:FastConvTorch=true"));
        });
    }

    [Test]
    public void JsonReportValidatesAgainstItsSchema()
    {
        var options = FastOptions("test") with { Backends = [BackendNames.Cpu, BackendNames.Cudnn], Concurrency = [1, 2] };
        BenchReport report = new BenchRunner(options).Run([new ConvWorkload(Tiny), .. BenchWorkloads.Parse(["builtin:lenet5"])]);
        string peerPath = Path.Combine(TestContext.CurrentContext.WorkDirectory, "bench-peer-test.json");
        File.WriteAllText(peerPath, """
            {"peer": "pytorch", "device": "gpu", "device_name": "NVIDIA H100", "versions": "torch 2.x",
             "results": [{"workload": "test/tiny3x3", "batch": 2, "median_ms": 0.01, "p10_ms": 0.009, "p90_ms": 0.011, "min_ms": 0.009,
                          "samples": 50, "flops": 1000, "bytes": 100, "shape": "tiny"},
                         {"workload": "resnet50/l1_3x3", "batch": 32, "median_ms": 0.2, "p10_ms": 0.19, "p90_ms": 0.21, "min_ms": 0.19,
                          "samples": 50, "flops": 7.4e9, "bytes": 5e7, "shape": "N=32 ..."}]}
            """);
        report = PeerImport.Merge(report, PeerImport.Load(peerPath), "bench-peer-test.json");
        string json = report.ToJson();

        JsonSchema schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(RepoRoot(), "docs", "bench", "bench.schema.json")));
        EvaluationResults ok = schema.Evaluate(JsonDocument.Parse(json).RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        Assert.That(ok.IsValid, Is.True, () => json + "\n" + string.Join("\n", Errors(ok)));

        // Each kind of entry is there: a layer and a network checked against ORT and timed, an imported peer, an
        // imported-only case, and the GPU backend skipped with the registry's reason (no GPU in CI; on a GPU
        // machine with cuDNN built in it would run instead).
        Assert.Multiple(() =>
        {
            Assert.That(report.Cases.Where(c => c.Status == BenchStatus.Ok).Select(c => (c.Kind, c.Concurrency)),
                Is.EquivalentTo(new[] { ("conv", 1), ("network", 1), ("network", 2) }),
                string.Join("\n", report.Cases.Select(c => $"{c.Workload}: {c.Status} {c.Reason}")));
            Assert.That(report.Cases.Select(c => c.Status), Does.Contain(BenchStatus.Imported));
            Assert.That(report.Cases.First(c => c.Workload == "test/tiny3x3").Peers.Select(p => p.Peer), Is.EqualTo(new[] { "ort", "pytorch" }));
            if (!Interop.GpuProbe.Detect().Usable)
            {
                Assert.That(report.SkippedBackends.Single(s => s.Backend == BackendNames.Cudnn).Reason, Is.Not.Empty);
            }
            Assert.That(report.Peaks, Has.Count.EqualTo(1));
            Assert.That(report.Peaks[0].FmaGflops, Is.GreaterThan(0));
        });

        // The schema is not vacuous: a report missing a figure, or timing a mismatch, is rejected.
        JsonNode broken = JsonNode.Parse(json)!;
        broken["cases"]![0]!["fastconv"]!.AsObject().Remove("median_ms");
        Assert.That(schema.Evaluate(JsonDocument.Parse(broken.ToJsonString()).RootElement).IsValid, Is.False);
        JsonNode timedMismatch = JsonNode.Parse(json)!;
        timedMismatch["cases"]![0]!["status"] = "mismatch";
        Assert.That(schema.Evaluate(JsonDocument.Parse(timedMismatch.ToJsonString()).RootElement).IsValid, Is.False);

        // Schema 2 requires the concurrency and every timing's throughput; a /1 document without them is still valid.
        JsonNode noThroughput = JsonNode.Parse(json)!;
        noThroughput["cases"]![0]!["fastconv"]!.AsObject().Remove("throughput_per_s");
        Assert.That(schema.Evaluate(JsonDocument.Parse(noThroughput.ToJsonString()).RootElement).IsValid, Is.False);
        JsonNode noConcurrency = JsonNode.Parse(json)!;
        noConcurrency["cases"]![0]!.AsObject().Remove("concurrency");
        Assert.That(schema.Evaluate(JsonDocument.Parse(noConcurrency.ToJsonString()).RootElement).IsValid, Is.False);
        JsonNode version1 = JsonNode.Parse(json)!;
        version1["schema"] = "fastconv-bench/1";
        version1["settings"]!.AsObject().Remove("concurrency");
        foreach (JsonNode? c in version1["cases"]!.AsArray())
        {
            c!.AsObject().Remove("concurrency");
            (c["fastconv"] as JsonObject)?.Remove("throughput_per_s");
            foreach (JsonNode? p in c["peers"]!.AsArray())
            {
                (p!["timing"] as JsonObject)?.Remove("throughput_per_s");
            }
        }
        Assert.That(schema.Evaluate(JsonDocument.Parse(version1.ToJsonString()).RootElement).IsValid, Is.True);

        // And the JSON reads back into the same report (--from re-renders it).
        Assert.That(BenchReport.FromJson(json).ToJson(), Is.EqualTo(json));
    }

    [Test]
    public void PlotIsAPng()
    {
        BenchReport report = new BenchRunner(FastOptions("test")).Run([new ConvWorkload(Tiny)]);
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "bench-plot-test.png");
        File.Delete(path);
        BenchPlot.Save(report, path);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.That(bytes.Length, Is.GreaterThan(10_000));
        Assert.That(bytes[..8], Is.EqualTo(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }));
    }

    [TestCase(new[] { "bench", "resnet51" }, "unknown workload 'resnet51'")]
    [TestCase(new[] { "bench", "resnet50/l9_3x3" }, "no layer 'l9_3x3' in set resnet50")]
    [TestCase(new[] { "bench", "pool", "--threads", "0" }, "--threads: '0' is not a whole number")]
    [TestCase(new[] { "bench", "pool", "--batch", "two" }, "--batch: 'two' is not a whole number")]
    [TestCase(new[] { "bench", "pool", "--backend", "," }, "--backend: give at least one name")]
    [TestCase(new[] { "bench", "pool", "--threads", "1", "--threads", "2,x" }, "--threads: 'x' is not a whole number")]
    [TestCase(new[] { "bench", "pool", "--vs", "none,ort" }, "--vs: 'none' cannot be combined")]
    [TestCase(new[] { "bench", "pool", "--peer-json", "/nonexistent/torch.json" }, "--peer-json: no file '/nonexistent/torch.json'")]
    [TestCase(new[] { "bench", "--from", "/nonexistent/report.json" }, "--from: no file")]
    public void ArgumentErrorsSayWhatWasWrong(string[] args, string message)
    {
        var output = new StringWriter();
        var console = new TestConsole();
        int rc = FastConv.Cli.Cli.Run(args, console, output);
        Assert.That(rc, Is.EqualTo(2), output.ToString() + console.Output);
        Assert.That(output.ToString(), Does.Contain(message));
    }

    [Test]
    public void CommittedTorchLayersFileMatchesTheShapeSets()
    {
        // bench/gpu/torch_bench.py times the layers of this file; it must be the sets' current shapes.
        string path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "bench-layers-test.json");
        int rc = FastConv.Cli.Cli.Run(["bench", "vgg16", "resnet50", "mobilenet", "pool", "relu", "--batch", "32", "--layers-json", path], new TestConsole());
        Assert.That(rc, Is.Zero);
        string committed = File.ReadAllText(Path.Combine(RepoRoot(), "bench", "gpu", "layers-n32.json"));
        Assert.That(File.ReadAllText(path), Is.EqualTo(committed),
            "regenerate with: fastconv bench vgg16 resnet50 mobilenet pool relu --batch 32 --layers-json bench/gpu/layers-n32.json");
    }

    [Test]
    public void PercentilesInterpolateLikeNumpy()
    {
        double[] ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Multiple(() =>
        {
            Assert.That(Samples.Quantile(ten, 0.1), Is.EqualTo(1.9).Within(1e-12));
            Assert.That(Samples.Quantile(ten, 0.5), Is.EqualTo(5.5).Within(1e-12));
            Assert.That(Samples.Quantile(ten, 0.9), Is.EqualTo(9.1).Within(1e-12));
            Assert.That(Samples.Quantile([4.0], 0.9), Is.EqualTo(4.0));
        });
    }

    [Test]
    public void WorkloadNamesExpand()
    {
        Assert.Multiple(() =>
        {
            Assert.That(BenchWorkloads.Parse(["resnet50"]).Select(w => w.Name), Is.EqualTo(ShapeSets.ResNet50.Select(l => l.Name)));
            Assert.That(BenchWorkloads.Parse(["vgg16/conv3_2,pool", "vgg16/conv3_2"]).Select(w => w.Id), Is.EqualTo(new[] { "vgg16/conv3_2", "pool/maxpool2x2_s2" }));
            Assert.That(BenchWorkloads.Parse(["default"]).Select(w => w.Kind), Does.Contain("conv").And.Contain("pool").And.Contain("relu").And.Contain("network"));
        });
    }

    private static IEnumerable<string> Errors(EvaluationResults r)
        => (r.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}"));

    private static string RepoRoot()
    {
        for (DirectoryInfo? d = new(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "FastConv.sln")))
            {
                return d.FullName;
            }
        }
        throw new DirectoryNotFoundException("FastConv.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }

    /// <summary>The cpu backend, except that every conv output has element 7 moved by 0.05 after the real kernel ran.</summary>
    private sealed class WrongOutputBackend(IBackend inner) : IBackend
    {
        public string Name => inner.Name;

        public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
            => new WrongPlan(inner.PlanConv2d(shape, weights, bias, epilogue));

        public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => inner.PlanPool2d(shape, max);
        public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => inner.PlanGlobalPool(input, max);
        public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => inner.PlanActivation(activation, shape);
        public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => inner.PlanSoftmax(shape, axis);
        public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => inner.PlanGemm(aShape, b, c, p);

        public void Dispose() => inner.Dispose();

        private sealed class WrongPlan(IConv2dPlan plan) : IConv2dPlan
        {
            public string Algorithm => plan.Algorithm;
            public long WorkspaceBytes => plan.WorkspaceBytes;
            public TensorShape OutputShape => plan.OutputShape;
            public Conv2dShape Shape => plan.Shape;

            public void Execute(Tensor x, Tensor y, Tensor? residual = null)
            {
                plan.Execute(x, y, residual);
                y.Span[7] += 0.05f;
            }

            public void Dispose() => plan.Dispose();
        }
    }
}
