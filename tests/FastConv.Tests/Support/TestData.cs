namespace FastConv.Tests.Support;

/// <summary>Seeded test inputs. Integer-valued floats make sums exact, so results compare bit for bit.</summary>
internal static class TestData
{
    /// <summary>Integers in [lo, hi] stored as floats.</summary>
    public static Tensor Ints(Random rng, TensorShape shape, int lo = -3, int hi = 3)
    {
        var t = Tensor.Allocate(shape);
        Span<float> s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = rng.Next(lo, hi + 1);
        }
        return t;
    }

    /// <summary>Uniform floats in [lo, hi).</summary>
    public static Tensor Floats(Random rng, TensorShape shape, float lo = -1f, float hi = 1f)
    {
        var t = Tensor.Allocate(shape);
        Span<float> s = t.Span;
        for (int i = 0; i < s.Length; i++)
        {
            s[i] = lo + (hi - lo) * rng.NextSingle();
        }
        return t;
    }

    /// <summary>A tensor filled with NaN, so any element an op forgets to write fails the comparison.</summary>
    public static Tensor Poisoned(TensorShape shape)
    {
        var t = Tensor.Allocate(shape);
        t.Span.Fill(float.NaN);
        return t;
    }

    /// <summary>Element-wise absolute value (for error bounds: run an op on |inputs| to get Σ|terms|).</summary>
    public static Tensor Abs(Tensor x)
    {
        var t = Tensor.Allocate(x.Shape);
        ReadOnlySpan<float> src = x.Span;
        Span<float> dst = t.Span;
        for (int i = 0; i < src.Length; i++)
        {
            dst[i] = MathF.Abs(src[i]);
        }
        return t;
    }
}
