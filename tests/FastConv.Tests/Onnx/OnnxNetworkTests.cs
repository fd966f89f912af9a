using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Onnx;

/// <summary>
/// Whole generated networks, imported from ONNX and run through a session (optimizer on: BN folded, epilogues fused,
/// no-ops dropped), agree with ONNX Runtime (CPU, one thread, optimizations off) on <c>reference</c> and <c>cpu</c>.
/// </summary>
/// <remarks>
/// Tolerance, per output: <c>|y − y_ort| ≤ 1e-4 · max|y_ort| + 1e-6</c>. Why: every conv/Gemm output is an fp32 sum
/// whose rounding error is at most γₙ·Σ|terms| (n ≤ 5·5·72 = 1800 here, γₙ ≈ 1.1e-4) and in practice ~√n·u·Σ|terms|
/// (≈ 2.5e-6 relative, random signs); FastConv sums in a different order than ORT (and the cpu backend may use
/// Winograd F(4×4,3×3), ≈ 1.6e-6 relative L2 per layer, and a folded BN whose scale is rounded into the weights).
/// With He-uniform weights the activations keep their scale, so ≤ 12 such layers in sequence add up to ~3e-5 of the
/// output's magnitude; 1e-4 leaves a factor ~3 of margin, and is two orders below what a wrong index, a missed
/// bias or a mis-normalized opset form produces (errors of the order of the values themselves). Measured worst
/// case over these nets (printed by the test): 2.3e-6 of max|y| (vgg on cpu); most are below 1e-6.
/// MobileNetV3-Large's layout is ~5× deeper (62 convs, 15 squeeze-excite products and residual adds, activations
/// growing to ~2500 with these weights), so its bound scales with depth to 5e-4 (~60 layers × ~2.5e-6, ×3 margin);
/// measured 3.4e-5 (reference) and 5.1e-5 (cpu) of max|y|.
/// </remarks>
public class OnnxNetworkTests
{
    private const double RelativeToMax = 1e-4;
    private const double Absolute = 1e-6;

    private static IEnumerable<TestCaseData> Cases() =>
        from net in OnnxTestNets.Names
        from backend in new[] { "reference", "cpu" }
        select new TestCaseData(net, backend).SetArgDisplayNames(net, backend);

    [TestCaseSource(nameof(Cases))]
    public void Network_agrees_with_onnx_runtime(string name, string backend)
    {
        var net = OnnxTestNets.Get(name);
        var x = TestInput(net.InputShape, seed: 11);
        var expected = OnnxModelBuilder.RunOrt(net.Model, new Dictionary<string, Tensor> { [net.Input] = x });

        Graph graph = OnnxModel.Load(net.Model);
        using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
        var actual = session.Run(new Dictionary<string, Tensor> { [net.Input] = x });

        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        if (backend == "cpu")
        {
            // The cpu backend runs every op of these nets itself: no node falls back to the scalar reference.
            string[] onReference = [.. session.NodePlans.Where(p => p.Backend != "cpu").Select(p => $"{p.Op} '{p.Name}' on {p.Backend}")];
            Assert.That(onReference, Is.Empty, $"{name}: nodes not on the cpu backend");
        }
        foreach (var (output, want) in expected)
        {
            var got = actual[output];
            Assert.That(got.Shape, Is.EqualTo(want.Shape), $"{name} on {backend}: output '{output}'");
            AssertClose(got.Span, want.Span, $"{name} on {backend}: output '{output}' {want.Shape}", name == "mobilenetv3-large" ? 5e-4 : RelativeToMax);
        }
    }

    /// <summary>
    /// Writes every generated net to the folder named by <c>FASTCONV_DUMP_TEST_NETS</c> (for <c>fastconv bench FILE.onnx</c>);
    /// ignored without it.
    /// </summary>
    [Test]
    public void Dump_the_nets_when_asked()
    {
        string? dir = Environment.GetEnvironmentVariable("FASTCONV_DUMP_TEST_NETS");
        if (string.IsNullOrEmpty(dir))
        {
            Assert.Ignore("set FASTCONV_DUMP_TEST_NETS=DIR to write the generated nets as DIR/NAME.onnx");
        }
        Directory.CreateDirectory(dir);
        // DBNet's head at a detector's real input size and width (PaddleOCR's mobile model: 96 channels in the FPN), for timing.
        foreach (var net in OnnxTestNets.All().Append(OnnxTestNets.DbNetHead(640, 640, 96)))
        {
            File.WriteAllBytes(Path.Combine(dir, net.Name + ".onnx"), net.Model);
        }
    }

    internal static Tensor TestInput(int[] shape, int seed)
    {
        var rng = new Random(seed);
        var t = Tensor.Allocate(shape);
        var s = t.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)(rng.NextDouble() * 2 - 1);
        return t;
    }

    internal static void AssertClose(ReadOnlySpan<float> got, ReadOnlySpan<float> want, string what, double relativeToMax = RelativeToMax)
    {
        double max = 0;
        foreach (float v in want) max = Math.Max(max, Math.Abs(v));
        double bound = relativeToMax * max + Absolute;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < want.Length; i++)
        {
            double d = Math.Abs((double)got[i] - want[i]);
            if (double.IsNaN(got[i]) || d > worst)
            {
                worst = double.IsNaN(got[i]) ? double.PositiveInfinity : d;
                worstAt = i;
            }
        }
        TestContext.Out.WriteLine($"{what}: max |Δ| = {worst:E2} = {worst / Math.Max(max, 1e-30):E2} of max|y| = {max:G4}");
        Assert.That(worst, Is.LessThanOrEqualTo(bound),
            $"{what}: element {worstAt} is {(worstAt >= 0 ? got[worstAt] : 0)}, ONNX Runtime {(worstAt >= 0 ? want[worstAt] : 0)}; |Δ| {worst:E3} > bound {bound:E3} ({relativeToMax:G2}·max|y| {max:G4} + 1e-6)");
    }
}
