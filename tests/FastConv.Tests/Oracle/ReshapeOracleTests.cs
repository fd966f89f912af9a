using FastConv.Cpu;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>Reshape (ONNX semantics, allowzero = 0) of the reference against ONNX Runtime, by hand, and on invalid inputs.</summary>
public sealed class ReshapeOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(203);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int[] input = LayoutShapes.RandomDims(rng, 1 + rng.Next(5), 1, 6);
            // Split every input dim into prime factors and deal them into 1–5 output dims.
            var factors = new List<int>();
            foreach (int d in input)
            {
                int v = d;
                for (int p = 2; v > 1; p++)
                {
                    while (v % p == 0)
                    {
                        factors.Add(p);
                        v /= p;
                    }
                }
            }
            int outRank = 1 + rng.Next(5);
            var target = Enumerable.Repeat(1L, outRank).ToArray();
            foreach (int f in factors)
            {
                target[rng.Next(outRank)] *= f;
            }
            // Half the cases keep the leading input dim and say so with 0 (ONNX: copy the input dim).
            if (n % 2 == 0 && outRank >= 2)
            {
                long rest = target.Aggregate(1L, (a, b) => a * b) / input[0];
                target = [0, .. RegroupRest(rest, outRank - 1, rng)];
            }
            // Two cases in three infer one dim with -1.
            if (n % 3 != 2)
            {
                int at = rng.Next(outRank);
                if (target[at] != 0)
                {
                    target[at] = -1;
                }
            }
            yield return new TestCaseData(input, target).SetName($"Reshape(X={LayoutShapes.Fmt(input)}, shape={LayoutShapes.Fmt(target)}) #{n}");
        }
    }

    private static long[] RegroupRest(long count, int rank, Random rng)
    {
        var dims = Enumerable.Repeat(1L, rank).ToArray();
        long v = count;
        for (int p = 2; v > 1; p++)
        {
            while (v % p == 0)
            {
                dims[rng.Next(rank)] *= p;
                v /= p;
            }
        }
        return dims;
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntime(int[] dims, long[] shape)
    {
        var rng = new Random(LayoutShapes.Seed(dims));
        var x = TestData.Floats(rng, new TensorShape(dims), -4, 4);
        var expected = new OnnxGraphBuilder("Reshape").Input("X", x).Constant("shape", shape).Run();
        var y = TestData.Poisoned(OutputSize.Reshape(x.Shape, shape));
        Reference.Reshape(x, shape, y);
        Compare.Exact(expected, y, $"Reshape X={x.Shape} shape={LayoutShapes.Fmt(shape)}");
    }

    [Test]
    public void ByHand()
    {
        Assert.Multiple(() =>
        {
            Assert.That(OutputSize.Reshape(TensorShape.Of(2, 3, 4), [0, -1]), Is.EqualTo(TensorShape.Of(2, 12)));
            Assert.That(OutputSize.Reshape(TensorShape.Of(2, 3, 4), [-1]), Is.EqualTo(TensorShape.Of(24)));
            Assert.That(OutputSize.Reshape(TensorShape.Of(2, 3, 4), [4, 0, 2]), Is.EqualTo(TensorShape.Of(4, 3, 2)));
            Assert.That(OutputSize.Reshape(TensorShape.Of(2, 3, 4), [1, -1, 0]), Is.EqualTo(TensorShape.Of(1, 6, 4)));
        });
        var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        var y = Tensor.Allocate(3, 2);
        Reference.Reshape(x, [-1, 2], y);
        Assert.That(y.ToArray(), Is.EqualTo(new[] { 1f, 2f, 3f, 4f, 5f, 6f }));
    }

    [Test]
    public void TwoMinusOnesThrow()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => OutputSize.Reshape(TensorShape.Of(2, 3, 4), [-1, -1]));
        Assert.That(ex!.Message, Does.Contain("[-1,-1]").And.Contain("[2,3,4]"));
    }

    [Test]
    public void CountMismatchThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => OutputSize.Reshape(TensorShape.Of(2, 3, 4), [5, 5]));
        Assert.That(ex!.Message, Does.Contain("[5,5]").And.Contain("[2,3,4]"));
    }

    [Test]
    public void UninferableMinusOneThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => OutputSize.Reshape(TensorShape.Of(2, 3, 4), [5, -1]));
        Assert.That(ex!.Message, Does.Contain("[5,-1]").And.Contain("[2,3,4]"));
    }

    [Test]
    public void ZeroPastInputRankThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => OutputSize.Reshape(TensorShape.Of(6), [1, 0, -1]));
        Assert.That(ex!.Message, Does.Contain("[1,0,-1]").And.Contain("[6]"));
    }

    [Test]
    public void NegativeBelowMinusOneThrows()
    {
        var ex = Assert.Throws<InvalidShapeException>(() => OutputSize.Reshape(TensorShape.Of(6), [-2, -3]));
        Assert.That(ex!.Message, Does.Contain("[-2,-3]").And.Contain("[6]"));
    }
}
