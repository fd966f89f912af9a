using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Pad (ONNX opset 13+) of the reference against ONNX Runtime, by hand, and on invalid inputs.</summary>
public sealed class PadOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(205);
        PadMode[] modes = [PadMode.Constant, PadMode.Reflect, PadMode.Edge];
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            PadMode mode = modes[n % 3];
            // Rank 4 (NCHW, with pads on N and C too) in half the cases, ranks 1–5 otherwise.
            int rank = n % 2 == 0 ? 4 : 1 + rng.Next(5);
            int[] dims = LayoutShapes.RandomDims(rng, rank, 1, 6);
            var pads = new int[2 * rank];
            for (int d = 0; d < rank; d++)
            {
                // Reflect needs pad < dim; the others take any non-negative pad (asymmetric on purpose).
                int max = mode == PadMode.Reflect ? dims[d] - 1 : 3;
                pads[d] = rng.Next(0, max + 1);
                pads[rank + d] = rng.Next(0, max + 1);
            }
            if (mode == PadMode.Constant && n % 4 == 0)
            {
                // A crop: a negative pad on one side of one axis (keeping at least one element).
                int d = rng.Next(rank);
                if (dims[d] > 1)
                {
                    pads[rng.Next(2) * rank + d] = -rng.Next(1, dims[d]);
                }
            }
            float value = rng.Next(-5, 6) + 0.5f;
            var p = PadParams.Create(mode, pads, value);
            yield return new TestCaseData(dims, p).SetName($"Pad(X={LayoutShapes.Fmt(dims)}, {p}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, PadParams p)
    {
        var rng = new Random(LayoutShapes.Seed([.. dims, .. p.Pads]));
        var x = TestData.Floats(rng, new TensorShape(dims), -4, 4);
        string mode = p.Mode switch { PadMode.Constant => "constant", PadMode.Reflect => "reflect", _ => "edge" };
        var expected = new OnnxGraphBuilder("Pad").Input("X", x).Constant("pads", LayoutShapes.Longs(p.Pads))
            .ScalarConstant("value", p.Value).Attr("mode", mode).Run();
        var y = TestData.Poisoned(Reference.PadOutputShape(x.Shape, p));
        Reference.Pad(x, p, y);
        // Pad only moves values (and writes the constant): bit-exact.
        Compare.Exact(expected, y, $"Pad X={x.Shape} {p}");
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([1f, 2f, 3f], 3);
        var y = Tensor.Allocate(7);
        Reference.Pad(x, PadParams.Create(PadMode.Reflect, [2, 2]), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 3f, 2f, 1f, 2f, 3f, 2f, 1f }));
        Reference.Pad(x, PadParams.Create(PadMode.Edge, [2, 2]), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 1f, 1f, 1f, 2f, 3f, 3f, 3f }));
        Reference.Pad(x, PadParams.Create(PadMode.Constant, [1, 3], 9f), y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 9f, 1f, 2f, 3f, 9f, 9f, 9f }));

        // Crop one at the front, pad two at the back: [1,2,3,4] → [2,3,4,9,9].
        var x4 = Tensor.FromArray([1f, 2f, 3f, 4f], 4);
        var y5 = Tensor.Allocate(5);
        Reference.Pad(x4, PadParams.Create(PadMode.Constant, [-1, 2], 9f), y5);
        Assert.That(y5.ToArray(), Is.EqualTo(new[] { 2f, 3f, 4f, 9f, 9f }));

        // 2-D reflect: [[1,2],[3,4]] with one row above, one column right.
        var m = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var ym = Tensor.Allocate(3, 3);
        Reference.Pad(m, PadParams.Create(PadMode.Reflect, [1, 0, 0, 1]), ym);
        Assert.That(ym.ToArray(), Is.EqualTo(new[] { 3f, 4f, 3f, 1f, 2f, 1f, 3f, 4f, 3f }));
    }

    [Test]
    public void ReflectPadTooLargeThrows()
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.PadOutputShape(TensorShape.Of(2, 3), PadParams.Create(PadMode.Reflect, [0, 3, 0, 0])));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("pads=[0,3,0,0]"));
    }

    [Test]
    public void WrongPadCountThrows()
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.PadOutputShape(TensorShape.Of(2, 3), PadParams.Create(PadMode.Constant, [1, 1])));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("pads=[1,1]"));
    }

    [Test]
    public void CropPastTheAxisThrows()
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.PadOutputShape(TensorShape.Of(2, 3), PadParams.Create(PadMode.Constant, [0, -2, 0, -2])));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("pads=[0,-2,0,-2]"));
    }

    [Test]
    public void EdgePadOfEmptyAxisThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.PadOutputShape(TensorShape.Of(2, 0), PadParams.Create(PadMode.Edge, [0, 1, 0, 0])));
        Assert.That(ex!.Message, Does.Contain("[2,0]"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Pad(Tensor.Allocate(2, 3), PadParams.Create(PadMode.Constant, [1, 1, 1, 1]), Tensor.Allocate(2, 3)));
        Assert.That(ex!.Message, Does.Contain("[4,5]").And.Contain("[2,3]"));
    }
}
