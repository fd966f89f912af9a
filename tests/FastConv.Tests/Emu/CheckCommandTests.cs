using System.Runtime.CompilerServices;
using System.Text;
using FastConv.Backends;
using FastConv.Cli.Commands;
using FastConv.Cpu;
using FastConv.Gpu.FcKernels;
using FastConv.Ops;

namespace FastConv.Tests.Emu;

/// <summary><c>fastconv check</c>: the edges set on cuda-emu passes with every kernel variant; a wrong backend is caught, reported and dumped.</summary>
[TestFixture]
[Category("Emu")]
public sealed class CheckCommandTests
{
    [Test]
    public void EdgesOnCudaEmuPassWithEveryKernelVariant()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", "cuda-emu", "--set", "edges", "--seed", "1"], null, output);
        string text = output.ToString();
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(rc, Is.Zero, text);
        Assert.That(lines[^1], Does.Match(@"^\d+ cases, 0 mismatches$"), text);
        int cases = int.Parse(lines[^1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(cases, Is.GreaterThanOrEqualTo(200));
        Assert.That(lines.Take(lines.Length - 1), Has.All.StartWith("ok "));
        string[] variants =
        [
            .. FcKernelVariants.Conv2d, .. FcKernelVariants.Pool2d, .. FcKernelVariants.GlobalPool, .. FcKernelVariants.Activation,
            .. FcKernelVariants.Softmax, .. FcKernelVariants.Gemm,
        ];
        foreach (string v in variants)
        {
            Assert.That(lines.Count(l => l.Contains($" {v} ", StringComparison.Ordinal)), Is.GreaterThan(0), $"no case ran {v}:\n{text}");
        }
    }

    [Test]
    public void UnavailableNamedBackendFailsTheRunAndSaysWhy()
    {
        // cudnn cannot be created without a GPU; the reference still runs, but a run that skipped a backend the user
        // named must not exit 0.
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", "cudnn", "--backend", "reference", "--set", "edges"], null, output);
        string text = output.ToString();
        if (!text.Contains("skip cudnn: ", StringComparison.Ordinal))
        {
            Assert.Ignore("cudnn is available here; the unavailable-backend path cannot be exercised.");
        }
        Assert.That(rc, Is.EqualTo(2), text);
        Assert.That(text, Does.Match(@"\d+ cases, 0 mismatches"), text);
        Assert.That(text, Does.Contain("error: not checked, backend unavailable: cudnn: "), text);
    }

    [Test]
    public void CommaSeparatedBackendsAreSeveralNames()
    {
        // Before: "reference,test-off-by-a-bit" was one unknown name, skipped, and the run said "0 cases" with exit 0.
        BackendRegistry.Register("test-off-by-a-bit", _ => new OffByABitBackend());
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", "reference,test-off-by-a-bit", "--set", "edges"], null, output);
        string text = output.ToString();
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(rc, Is.EqualTo(1), text);
        Assert.That(lines.Count(l => l.StartsWith("ok       reference ", StringComparison.Ordinal)), Is.GreaterThan(100), text);
        Assert.That(lines.Count(l => l.StartsWith("MISMATCH test-off-by-a-bit ", StringComparison.Ordinal)), Is.GreaterThan(10), text);
        Assert.That(text, Does.Not.Contain("skip "), text);
    }

    [Test]
    public void NothingRunIsAnError()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", "warp-drive,hyper-drive", "--set", "edges"], null, output);
        string text = output.ToString();
        Assert.That(rc, Is.EqualTo(2), text);
        Assert.That(text, Does.Contain("skip warp-drive: unknown backend name").And.Contain("skip hyper-drive: "), text);
        Assert.That(text, Does.Contain("0 cases, 0 mismatches").And.Contain("error: nothing ran"), text);
    }

    [Test]
    public void AnEmptyBackendListIsRejected()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", ",", "--set", "edges"], null, output);
        Assert.That(rc, Is.Not.Zero, output.ToString());
        Assert.That(output.ToString(), Does.Contain("--backend names no backend"));
    }

    [Test]
    public void UnknownSetIsRejected()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--set", "lenet"], null, output);
        Assert.That(rc, Is.Not.Zero);
        Assert.That(output.ToString(), Does.Contain("lenet"));
    }

    [Test]
    public void WrongBackendIsCaughtCountedAndDumped()
    {
        BackendRegistry.Register("test-off-by-a-bit", _ => new OffByABitBackend());
        string dir = Path.Combine(Path.GetTempPath(), "fastconv-check-dump-" + Environment.ProcessId);
        try
        {
            var output = new StringWriter();
            int rc = FastConv.Cli.Cli.Run(["check", "--backend", "test-off-by-a-bit", "--set", "edges", "--dump", dir], null, output);
            string text = output.ToString();
            string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(rc, Is.EqualTo(1), text);
            int convCases = lines.Count(l => l.Contains(" Conv2d ", StringComparison.Ordinal));
            Assert.That(lines[^1], Does.EndWith($" cases, {convCases} mismatches"), text);
            Assert.That(lines.Where(l => l.Contains(" Conv2d ", StringComparison.Ordinal)), Has.All.StartWith("MISMATCH"));
            string[] outputs = Directory.GetFiles(dir, "*-output.npy");
            Assert.That(outputs, Has.Length.EqualTo(convCases));
            Assert.That(Directory.GetFiles(dir, "*-reference.npy"), Has.Length.EqualTo(convCases));
            Assert.That(Directory.GetFiles(dir, "*-input.npy"), Has.Length.EqualTo(convCases));

            // The .npy is well formed: magic, v1.0, a header padded to 64 bytes naming float32 and the shape, then the data.
            byte[] npy = File.ReadAllBytes(outputs[0]);
            Assert.That(npy[..6], Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }));
            int headerLength = BitConverter.ToUInt16(npy, 8);
            Assert.That((10 + headerLength) % 64, Is.Zero);
            string header = Encoding.ASCII.GetString(npy, 10, headerLength);
            Assert.That(header, Does.StartWith("{'descr': '<f4', 'fortran_order': False, 'shape': (").And.EndWith("\n"));
            int[] dims = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..header.IndexOf(')', StringComparison.Ordinal)]
                .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
            Assert.That(npy.Length - 10 - headerLength, Is.EqualTo(4 * dims.Aggregate(1, (a, b) => a * b)));
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Test]
    public void KernelArgumentStructsHaveTheSizesTheKernelsAssert()
    {
        // native/kernels/fc_common.cuh static_asserts the same sizes on the C side.
        Assert.Multiple(() =>
        {
            Assert.That(Unsafe.SizeOf<FcConv2dArgs>(), Is.EqualTo(136));
            Assert.That(Unsafe.SizeOf<FcPool2dArgs>(), Is.EqualTo(88));
            Assert.That(Unsafe.SizeOf<FcGlobalPoolArgs>(), Is.EqualTo(32));
            Assert.That(Unsafe.SizeOf<FcActivationArgs>(), Is.EqualTo(40));
            Assert.That(Unsafe.SizeOf<FcSoftmaxArgs>(), Is.EqualTo(32));
            Assert.That(Unsafe.SizeOf<FcGemmArgs>(), Is.EqualTo(72));
        });
    }

    /// <summary>The reference, except that every conv output's first element is 0.5 off: what a wrong kernel looks like.</summary>
    [Test]
    public void AWholeModelAgreesOnEveryBackendWithinTheNetworkBound()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--model", "builtin:lenet5", "--shape", "input=2x1x32x32", "--backend", "cpu,cuda-emu"], null, output);
        string text = output.ToString();
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(rc, Is.Zero, text);
        Assert.That(lines[^1], Is.EqualTo("2 cases, 0 mismatches"), text);
        Assert.That(lines.Where(l => l.StartsWith("ok ", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]),
            Is.EqualTo(new[] { "cpu", "cuda-emu" }), text);
        Assert.That(lines[0], Does.Contain("[2,10]").And.Contain("bound"), "--shape sets the builtin's batch; the line gives the bound");
    }

    [Test]
    public void AWholeModelWithAWrongLayerFailsAndIsDumped()
    {
        BackendRegistry.Register("test-off-by-a-bit", _ => new OffByABitBackend());
        string dir = Path.Combine(Path.GetTempPath(), "fastconv-check-model-dump-" + Environment.ProcessId);
        try
        {
            var output = new StringWriter();
            int rc = FastConv.Cli.Cli.Run(["check", "--model", "builtin:lenet5", "--backend", "reference,test-off-by-a-bit", "--dump", dir], null, output);
            string text = output.ToString();
            Assert.That(rc, Is.EqualTo(1), text);
            Assert.That(text, Does.Contain("ok       reference ").And.Contain("MISMATCH test-off-by-a-bit ").And.Contain("2 cases, 1 mismatches"), text);
            Assert.That(Directory.GetFiles(dir, "*.npy", SearchOption.AllDirectories).Select(Path.GetFileName),
                Is.EquivalentTo(new[] { "input-input.npy", "reference.npy", "output.npy" }), text);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Test]
    public void AShapeNeedsAModel()
    {
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--set", "edges", "--shape", "input=1x3x8x8"], null, output);
        Assert.That(rc, Is.Not.Zero, output.ToString());
        Assert.That(output.ToString(), Does.Contain("--shape fixes a model's dynamic dimensions; give the model with --model"));
    }

    private sealed class OffByABitBackend : IBackend
    {
        private readonly ReferenceBackend _inner = new();

        public string Name => "test-off-by-a-bit";

        public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
            => new Plan(_inner.PlanConv2d(shape, weights, bias, epilogue));

        public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => _inner.PlanPool2d(shape, max);
        public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => _inner.PlanGlobalPool(input, max);
        public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => _inner.PlanActivation(activation, shape);
        public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => _inner.PlanSoftmax(shape, axis);
        public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => _inner.PlanGemm(aShape, b, c, p);
        public void Dispose() => _inner.Dispose();

        private sealed class Plan(IConv2dPlan inner) : IConv2dPlan
        {
            public Conv2dShape Shape => inner.Shape;
            public string Algorithm => "off-by-a-bit";
            public long WorkspaceBytes => 0;
            public TensorShape OutputShape => inner.OutputShape;

            public void Execute(Tensor x, Tensor y, Tensor? residual = null)
            {
                inner.Execute(x, y, residual);
                y.Span[0] += 0.5f; // far outside any fp32 bound on these sizes (Σ|terms| ≤ ~10³ → bound ≤ ~0.1)
            }

            public void Dispose() => inner.Dispose();
        }
    }
}
