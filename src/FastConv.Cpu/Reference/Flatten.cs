namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Shape of ONNX <c>Flatten</c>: <c>[∏ dims[0..a), ∏ dims[a..r)]</c> with a = <paramref name="axis"/> in
    /// [−r, r] (negative counts from the end; an empty product is 1, so a = 0 gives [1, count]).
    /// </summary>
    public static TensorShape FlattenOutputShape(TensorShape input, int axis)
    {
        ArgumentNullException.ThrowIfNull(input);
        int r = input.Rank;
        int a = axis < 0 ? axis + r : axis;
        if (a < 0 || a > r)
        {
            throw new InvalidHyperparameterException($"Flatten: axis {axis} is outside [-{r}, {r}] for input shape {input}.");
        }
        int outer = 1, inner = 1;
        for (int d = 0; d < r; d++)
        {
            if (d < a)
            {
                outer *= input[d];
            }
            else
            {
                inner *= input[d];
            }
        }
        return TensorShape.Of(outer, inner);
    }

    /// <summary>
    /// Flatten (ONNX <c>Flatten</c>): the same row-major elements viewed as a matrix of shape
    /// <see cref="FlattenOutputShape"/>: <c>y.flat[i] = x.flat[i]</c>.
    /// </summary>
    public static void Flatten(Tensor x, int axis, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        RequireShape(y, FlattenOutputShape(x.Shape, axis), "output", "Flatten", $"input {x.Shape}, axis {axis}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            ys[i] = xs[i];
        }
    }
}
