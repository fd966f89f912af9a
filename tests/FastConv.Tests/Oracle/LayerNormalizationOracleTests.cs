using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Graphs;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// LayerNormalization (opset 17) of the reference against ONNX Runtime on seeded shapes (every axis, Scale and B of the
/// full normalized shape or broadcast, B omitted), by hand, its errors, and in a session loaded from ONNX.
/// </summary>
public sealed class LayerNormalizationOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        int[][] edges = [[1], [7], [1, 1], [2, 768], [3, 5, 4], [2, 3, 4, 5]];
        var rng = new Random(1709);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int[] dims = n < edges.Length ? edges[n] : [.. Enumerable.Range(0, 1 + n % 4).Select(_ => rng.Next(1, 12))];
            int axis = n % (2 * dims.Length) - dims.Length; // every axis, negative and positive
            int scaleRank = n % 3 == 2 ? 1 : dims.Length - (axis < 0 ? axis + dims.Length : axis); // full, or only the last axis
            bool bias = n % 4 != 3;
            yield return new TestCaseData(dims, axis, scaleRank, bias).SetName($"LayerNormalization(X={ElementwiseShapes.Format(dims)}, axis={axis}, scale rank {scaleRank}, bias={bias}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, int axis, int scaleRank, bool bias)
    {
        var rng = new Random(dims.Aggregate(17 + axis * 3 + scaleRank, (h, d) => h * 31 + d));
        var shape = new TensorShape(dims);
        int a = axis < 0 ? axis + dims.Length : axis;
        // A slice whose mean is far from 0 (the offset) makes E[x²] − E[x]² (ORT's variance) lose digits: the bound says how many.
        var x = TestData.Floats(rng, shape, -1f + 0.5f * (dims[0] % 3), 1f + 0.5f * (dims[0] % 3));
        int[] sDims = dims[^Math.Min(scaleRank, dims.Length - a)..];
        var sShape = new TensorShape(sDims);
        Tensor scale = TestData.Floats(rng, sShape, 0.5f, 2f), b = TestData.Floats(rng, sShape, -1f, 1f);
        var builder = new OnnxGraphBuilder("LayerNormalization", opset: 17).Input("X", x).Constant("Scale", scale.ToArray(), [.. sDims.Select(d => (long)d)]);
        if (bias)
        {
            builder.Constant("B", b.ToArray(), [.. sDims.Select(d => (long)d)]);
        }
        Tensor expected = builder.Attr("axis", (long)axis).Attr("epsilon", 1e-5f).Run();
        var y = TestData.Poisoned(shape);
        Reference.LayerNormalization(x, axis, 1e-5f, scale, bias ? b : null, y);
        // ORT works in float: the mean carries γ_n·Σ|x|/n, and its variance E[x²] − μ² a relative error of
        // γ_{n+2}·E[x²]/σ² (cancellation), which reaches 1/σ through the square root. With μ̂ = y's input centred
        // and s the scale: |Δy| ≤ |s|·inv·(γ_n·E|x| + |x − μ|·γ_{n+4}·E[x²]/(σ² + ε)) + 4u·|y| + 4u·|B|.
        int n = dims[a..].Aggregate(1, (p, d) => p * d);
        var bound = Tensor.Allocate(shape);
        int[] strides = Broadcast.Strides(sShape, new TensorShape(dims[a..]));
        for (int start = 0; start < x.Length; start += n)
        {
            double sum = 0, abs = 0, sq = 0;
            for (int j = 0; j < n; j++)
            {
                double v = x.Span[start + j];
                sum += v;
                abs += Math.Abs(v);
                sq += v * v;
            }
            double mean = sum / n, var = sq / n - mean * mean, inv = 1 / Math.Sqrt(Math.Max(var, 0) + 1e-5);
            double relInv = Tolerance.Gamma(n + 4) * (sq / n) / (Math.Max(var, 0) + 1e-5);
            for (int j = 0; j < n; j++)
            {
                int k = Broadcast.Offset(j, new TensorShape(dims[a..]), strides);
                double s = Math.Abs(scale.Span[k]);
                double e = s * inv * (Tolerance.Gamma(n) * abs / n + Math.Abs(x.Span[start + j] - mean) * relInv)
                    + 4 * Ulp.U * (Math.Abs(expected.Span[start + j]) + (bias ? Math.Abs(b.Span[k]) : 0));
                bound.Span[start + j] = (float)e + float.Epsilon;
            }
        }
        Compare.Close(expected, y, $"LayerNormalization X={shape} axis={axis} scale {sShape} bias={bias}", bound);
    }

    [Test]
    public void ByHand()
    {
        // Rows {1, 2, 3, 4} and {−5, −5, −5, −5} over the last axis: the first becomes (x − 2.5)/√(1.25 + ε), the
        // second is all zeros (σ = 0, ε keeps it finite); scale 2 and bias 1 then apply.
        var x = Tensor.FromArray([1f, 2, 3, 4, -5, -5, -5, -5], 2, 4);
        var y = Tensor.Allocate(2, 4);
        Reference.LayerNormalization(x, -1, 1e-5f, Tensor.FromArray([2f], 1), Tensor.FromArray([1f], 1), y);
        double inv = 1 / Math.Sqrt(1.25 + 1e-5);
        float[] expected = [.. new[] { -1.5, -0.5, 0.5, 1.5 }.Select(d => (float)(d * inv * 2 + 1)), 1f, 1f, 1f, 1f];
        Assert.That(y.ToArray(), Is.EqualTo(expected).Within(1e-6f));
    }

    [Test]
    public void ScaleThatDoesNotBroadcastToTheNormalizedAxesIsAShapeError()
    {
        var e = Assert.Throws<InvalidShapeException>(() => Reference.LayerNormalization(Tensor.Allocate(2, 3, 4), -1, 1e-5f, Tensor.Allocate(3), null, Tensor.Allocate(2, 3, 4)));
        Assert.That(e!.Message, Does.Contain("Scale").And.Contain("[3]"));
        Assert.Throws<InvalidHyperparameterException>(() => Reference.LayerNormalization(Tensor.Allocate(2, 3), 2, 1e-5f, Tensor.Allocate(3), null, Tensor.Allocate(2, 3)));
    }

    [Test]
    public void RunsInASessionLoadedFromOnnxOnEveryBackendThatPlacesIt()
    {
        var rng = new Random(4);
        var x = TestData.Floats(rng, TensorShape.Of(2, 6, 8));
        Tensor scale = TestData.Floats(rng, TensorShape.Of(6, 8), 0.5f, 2f), b = TestData.Floats(rng, TensorShape.Of(6, 8));
        byte[] model = new OnnxGraphBuilder("LayerNormalization", opset: 17).Input("X", x).Constant("Scale", scale.ToArray(), 6, 8)
            .Constant("B", b.ToArray(), 6, 8).Attr("axis", -2L).ToBytes();
        Graph graph = OnnxModel.Load(model);
        var expected = Tensor.Allocate(x.Shape);
        Reference.LayerNormalization(x, -2, 1e-5f, scale, b, expected);
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(graph, new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            // cpu sums the 48 elements of a row in float: γ₄₈·E|x|·inv·|scale| ≲ 3e-6·2·2 of values ~ 1 (CpuOpPlanTests derives it per element).
            Compare.Close(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"LayerNormalization session on {backend}", 2e-5f, 2e-6f);
        }
    }
}
