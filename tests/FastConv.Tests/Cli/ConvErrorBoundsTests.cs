using FastConv.Backends;
using FastConv.Cli.Commands;
using FastConv.Cpu;
using FastConv.Ops;

namespace FastConv.Tests.Cli;

/// <summary>
/// <c>fastconv check</c>'s conv bound follows the algorithm the plan reports: FFT and Winograd are accurate only
/// normwise, so an error far above an output's own Σ|terms| but small against the largest one passes for them and
/// fails for direct summation; a wrong result fails for every algorithm.
/// </summary>
[NonParallelizable] // registers backends by name
public sealed class ConvErrorBoundsTests
{
    private static readonly Conv2dShape Shape = new(1, 3, 6, 6, 4, 3, 3, Conv2dParams.Create(pad: 1));

    [Test]
    public void DirectAndGemmAlgorithmsAreComponentwiseFftAndWinogradNormwise()
    {
        Assert.Multiple(() =>
        {
            foreach (string a in (string[])["conv2d_naive", "conv2d_v3_igemm_fp32", "cudnn-implicit-gemm", "cudnn-implicit-precomp-gemm+fused", "cudnn-gemm", "cudnn-direct+pad", "im2col-batch+sgemm", "gemm-1x1"])
            {
                Assert.That(ConvErrorBounds.For(a, Shape).Normwise, Is.Zero, a);
            }
            foreach (string a in (string[])["cudnn-fft", "cudnn-fft-tiling+fused", "cudnn-winograd", "cudnn-winograd-nonfused+pad"])
            {
                Assert.That(ConvErrorBounds.For(a, Shape).Normwise, Is.GreaterThan(0), a);
            }
            Assert.That(ConvErrorBounds.For("conv2d_v4_igemm_tf32", Shape).Componentwise, Is.GreaterThan(ConvErrorBounds.For("conv2d_v3_igemm_fp32", Shape).Componentwise * 10));
        });
    }

    [TestCase("cudnn-winograd", 0)]
    [TestCase("cudnn-fft-tiling", 0)]
    [TestCase("cudnn-implicit-gemm", 1)]
    [TestCase("conv2d_v3_igemm_fp32", 1)]
    public void AnErrorFourTimesTheComponentwiseBoundPassesOnlyForNormwiseAlgorithms(string algorithm, int expectedRc)
    {
        string name = "test-perturbed-" + algorithm;
        BackendRegistry.Register(name, _ => new PerturbedBackend(algorithm, 4.0));
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", name, "--set", "edges"], null, output);
        string text = output.ToString();
        Assert.That(rc, Is.EqualTo(expectedRc), text);
        int convMismatches = text.Split('\n').Count(l => l.StartsWith("MISMATCH", StringComparison.Ordinal) && l.Contains(" Conv2d ", StringComparison.Ordinal));
        Assert.That(convMismatches > 0, Is.EqualTo(expectedRc == 1), text);
    }

    [Test]
    public void AWrongResultFailsEvenForWinograd()
    {
        BackendRegistry.Register("test-perturbed-wrong", _ => new PerturbedBackend("cudnn-winograd", 1e5));
        var output = new StringWriter();
        int rc = FastConv.Cli.Cli.Run(["check", "--backend", "test-perturbed-wrong", "--set", "edges"], null, output);
        Assert.That(rc, Is.EqualTo(1), output.ToString());
    }

    /// <summary>The reference, reporting <paramref name="algorithm"/>, with each conv output off by <paramref name="times"/>× its componentwise (direct-summation) bound.</summary>
    private sealed class PerturbedBackend(string algorithm, double times) : IBackend
    {
        private readonly ReferenceBackend _inner = new();

        public string Name => "test-perturbed";

        public IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
            => new Plan(_inner, shape, weights, bias, epilogue, algorithm, times);

        public IUnaryPlan PlanPool2d(Pool2dShape shape, bool max) => _inner.PlanPool2d(shape, max);
        public IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => _inner.PlanGlobalPool(input, max);
        public IUnaryPlan PlanActivation(Activation activation, TensorShape shape) => _inner.PlanActivation(activation, shape);
        public IUnaryPlan PlanSoftmax(TensorShape shape, int axis) => _inner.PlanSoftmax(shape, axis);
        public IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => _inner.PlanGemm(aShape, b, c, p);
        public void Dispose() => _inner.Dispose();

        private sealed class Plan(ReferenceBackend reference, Conv2dShape shape, Tensor w, Tensor? b, ConvEpilogue e, string algorithm, double times) : IConv2dPlan
        {
            public Conv2dShape Shape => shape;
            public string Algorithm => algorithm;
            public long WorkspaceBytes => 0;
            public TensorShape OutputShape => shape.OutputShape;

            public void Execute(Tensor x, Tensor y, Tensor? residual = null)
            {
                using (IConv2dPlan r = reference.PlanConv2d(shape, w, b, e))
                {
                    r.Execute(x, y, residual);
                }
                var magnitude = Tensor.Allocate(shape.OutputShape);
                var absEpilogue = e with { Scale = e.Scale?.Select(MathF.Abs).ToArray(), Shift = e.Shift?.Select(MathF.Abs).ToArray(), Activation = Activation.None };
                using (IConv2dPlan r = reference.PlanConv2d(shape, Abs(w), b is null ? null : Abs(b), absEpilogue))
                {
                    r.Execute(Abs(x), magnitude, residual is null ? null : Abs(residual));
                }
                double componentwise = ConvErrorBounds.For("conv2d_naive", shape).Componentwise;
                for (int i = 0; i < y.Length; i++)
                {
                    y.Span[i] += (float)(times * componentwise * magnitude.Span[i]);
                }
            }

            public void Dispose()
            {
            }

            private static Tensor Abs(Tensor t) => Tensor.FromArray([.. t.ToArray().Select(MathF.Abs)], t.Shape.Dims.ToArray());
        }
    }
}
