using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// Slice with constant starts, ends, axes and steps (negative values, out-of-range ends, negative steps, omitted axes
/// and steps) against ONNX Runtime on seeded cases: through the importer (which normalizes them) into sessions on
/// reference and cpu, exactly. The reference's own formula is checked by hand.
/// </summary>
public sealed class SliceOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1010);
        long[] extremes = [long.MaxValue, long.MinValue, int.MaxValue, -int.MaxValue];
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 4;
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 9))];
            int k = rng.Next(1, rank + 1);
            int[] axes = [.. Enumerable.Range(0, rank).OrderBy(_ => rng.Next()).Take(k)];
            var starts = new long[k];
            var ends = new long[k];
            var steps = new long[k];
            for (int i = 0; i < k; i++)
            {
                int d = dims[axes[i]];
                steps[i] = rng.Next(3) == 0 ? -rng.Next(1, 4) : rng.Next(1, 4);
                starts[i] = rng.Next(-d - 2, d + 2);
                ends[i] = n % 7 == 3 ? extremes[rng.Next(extremes.Length)] : rng.Next(-d - 2, d + 2);
            }
            bool negativeAxes = n % 5 == 1, omitAxes = n % 11 == 4, omitSteps = n % 13 == 6;
            long[] axesValues = [.. axes.Select(a => (long)(negativeAxes ? a - rank : a))];
            if (omitAxes)
            {
                axesValues = [.. Enumerable.Range(0, k).Select(a => (long)a)];
            }
            if (omitSteps)
            {
                steps = [.. steps.Select(_ => 1L)];
            }
            yield return new TestCaseData(dims, starts, ends, axesValues, steps, omitAxes, omitSteps)
                .SetName($"Slice(X={ElementwiseShapes.Format(dims)}, starts=[{string.Join(",", starts)}], ends=[{string.Join(",", ends)}], axes={(omitAxes ? "-" : $"[{string.Join(",", axesValues)}]")}, steps={(omitSteps ? "-" : $"[{string.Join(",", steps)}]")}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntimeOnEveryBackend(int[] dims, long[] starts, long[] ends, long[] axes, long[] steps, bool omitAxes, bool omitSteps)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(7, (h, d) => h * 31 + d)), new TensorShape(dims));
        var g = new OnnxGraphBuilder("Slice", 13).Input("X", x).Constant("starts", starts).Constant("ends", ends);
        if (!omitAxes || !omitSteps)
        {
            g.Constant("axes", axes);
        }
        if (!omitSteps)
        {
            g.Constant("steps", steps);
        }
        byte[] model = g.ToBytes();
        Tensor expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x })["Y"];
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            Compare.Exact(expected, session.Run(new Dictionary<string, Tensor> { ["X"] = x })["Y"], $"Slice X={x.Shape} on {backend}");
        }
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 3, 4);
        var y = Tensor.Allocate(2, 2);
        // Rows 2, 0 (start 2, step −2) and columns 1, 3 (start 1, step 2).
        Reference.Slice(x, [2, 1], [-2, 2], y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 9f, 11, 1, 3 }));
        Assert.Throws<InvalidHyperparameterException>(() => Reference.Slice(x, [2, 1], [2, 2], y), "row 4 does not exist");
    }

    [Test]
    public void ZeroStepIsAnError()
    {
        byte[] model = new OnnxGraphBuilder("Slice", 13).Input("X", Tensor.Allocate(4)).Constant("starts", [0L]).Constant("ends", [4L]).Constant("axes", [0L]).Constant("steps", [0L]).ToBytes();
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(model));
        Assert.That(e!.Message, Does.Contain("step 0").And.Contain("[4]"));
    }
}
