namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Reshape (ONNX <c>Reshape</c>, allowzero = 0): the same row-major elements under the shape
    /// <see cref="OutputSize.Reshape"/>: <c>y.flat[i] = x.flat[i]</c>.
    /// </summary>
    public static void Reshape(Tensor x, ReadOnlySpan<long> shape, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        RequireShape(y, OutputSize.Reshape(x.Shape, shape), "output", "Reshape", $"input {x.Shape}, shape {LayoutIndex.Format(shape.ToArray())}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = xs[i];
        }
    }
}
