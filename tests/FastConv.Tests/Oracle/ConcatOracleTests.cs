using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Concat of the reference against ONNX Runtime, by hand, and on invalid inputs.</summary>
public sealed class ConcatOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(201);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 5;
            // Cycle through every axis, in both spellings (non-negative, then negative).
            int axis = (n / 5) % (2 * rank) - rank;
            int count = 2 + rng.Next(3);
            int[] baseDims = LayoutShapes.RandomDims(rng, rank, 1, 5);
            var shapes = new int[count][];
            for (int i = 0; i < count; i++)
            {
                shapes[i] = (int[])baseDims.Clone();
                shapes[i][axis < 0 ? axis + rank : axis] = rng.Next(1, 6);
            }
            if (n % 11 == 3)
            {
                shapes[rng.Next(count)][axis < 0 ? axis + rank : axis] = 0; // an input empty along the axis
            }
            string name = string.Join(" ", shapes.Select(LayoutShapes.Fmt));
            yield return new TestCaseData(shapes, axis).SetName($"Concat({name}, axis={axis}) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[][] shapes, int axis)
    {
        var rng = new Random(LayoutShapes.Seed(shapes.SelectMany(s => s).Append(axis).ToArray()));
        // Distinct random values, so any misplaced element shows.
        var xs = shapes.Select(s => TestData.Floats(rng, new TensorShape(s), -4, 4)).ToArray();
        var g = new OnnxGraphBuilder("Concat").Attr("axis", (long)axis);
        for (int i = 0; i < xs.Length; i++)
        {
            g.Input("X" + i, xs[i]);
        }
        var expected = g.Run();
        var y = TestData.Poisoned(Reference.ConcatOutputShape(xs.Select(x => x.Shape).ToArray(), axis));
        Reference.Concat(xs, axis, y);
        // Concat only moves values: bit-exact.
        Compare.Exact(expected, y, $"Concat inputs {string.Join(" ", shapes.Select(LayoutShapes.Fmt))} axis={axis}");
    }

    [Test]
    public void ByHand()
    {
        var a = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var b = Tensor.FromArray([5f, 6f], 1, 2);
        var y0 = Tensor.Allocate(3, 2);
        Reference.Concat([a, b], 0, y0);
        Assert.That(y0.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f, 5f, 6f }));

        var c = Tensor.FromArray([7f, 8f], 2, 1);
        var y1 = Tensor.Allocate(2, 3);
        Reference.Concat([a, c], -1, y1);
        Assert.That(y1.ToArray(), Is.EqualTo(new[] { 1f, 2f, 7f, 3f, 4f, 8f }));

        var empty = Tensor.Allocate(2, 0);
        var y2 = Tensor.Allocate(2, 3);
        Reference.Concat([empty, a, empty, c], 1, y2);
        Assert.That(y2.ToArray(), Is.EqualTo(new[] { 1f, 2f, 7f, 3f, 4f, 8f }));
    }

    [Test]
    public void ShapesDifferingOffAxisThrow()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.ConcatOutputShape([TensorShape.Of(2, 3), TensorShape.Of(4, 5)], 0));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[4,5]"));
    }

    [Test]
    public void RankMismatchThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Concat([Tensor.Allocate(2, 3), Tensor.Allocate(2, 3, 1)], 0, Tensor.Allocate(4, 3)));
        Assert.That(ex!.Message, Does.Contain("[2,3]").And.Contain("[2,3,1]"));
    }

    [TestCase(2)]
    [TestCase(-3)]
    public void AxisOutOfRangeThrows(int axis)
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => Reference.ConcatOutputShape([TensorShape.Of(2, 3), TensorShape.Of(2, 3)], axis));
        Assert.That(ex!.Message, Does.Contain($"axis {axis}").And.Contain("[2,3]"));
    }

    [Test]
    public void WrongOutputShapeThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => Reference.Concat([Tensor.Allocate(2, 3), Tensor.Allocate(1, 3)], 0, Tensor.Allocate(2, 3)));
        Assert.That(ex!.Message, Does.Contain("[3,3]").And.Contain("[2,3]"));
    }
}
