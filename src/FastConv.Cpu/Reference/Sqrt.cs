namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>Sqrt (ONNX <c>Sqrt</c>): <c>y = √x</c>, element-wise, correctly rounded (IEEE); √(−x) is NaN. <paramref name="y"/> may be <paramref name="x"/>.</summary>
    public static void Sqrt(Tensor x, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Sqrt", $"input {x.Shape}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = MathF.Sqrt(xs[i]);
        }
    }
}
