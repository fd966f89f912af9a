namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>Relu: <c>y = max(x, 0)</c>, element-wise. NaN stays NaN. <paramref name="y"/> may be <paramref name="x"/>.</summary>
    public static void Relu(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Relu", $"input {x.Shape}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = xs[i] < 0f ? 0f : xs[i];
        }
    }
}
