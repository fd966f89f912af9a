namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Softmax (ONNX opset 13) along one <paramref name="axis"/> (negative counts from the end):
    /// <c>y[…, i, …] = exp(x[…, i, …] − max_j x[…, j, …]) / Σ_j exp(x[…, j, …] − max_j x[…, j, …])</c>.
    /// Subtracting the max keeps exp from overflowing; exp and the sum are in double and each result is
    /// rounded once. A NaN in a slice makes that whole slice NaN. <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    public static void Softmax(Tensor x, int axis, Tensor y)
    {
        int ax = x.Shape.NormalizeAxis(axis, "Softmax");
        RequireShape(y, x.Shape, "output", "Softmax", $"input {x.Shape}, axis {axis}");
        int len = x.Shape[ax];
        int inner = 1, outer = 1;
        for (int d = ax + 1; d < x.Rank; d++)
        {
            inner *= x.Shape[d];
        }
        for (int d = 0; d < ax; d++)
        {
            outer *= x.Shape[d];
        }
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        var e = new double[len];
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < inner; i++)
            {
                int start = o * len * inner + i;
                double max = double.NegativeInfinity;
                bool nan = false;
                for (int j = 0; j < len; j++)
                {
                    double v = xs[start + j * inner];
                    nan |= double.IsNaN(v);
                    max = v > max ? v : max;
                }
                double sum = 0;
                for (int j = 0; j < len; j++)
                {
                    e[j] = nan ? double.NaN : Math.Exp(xs[start + j * inner] - max);
                    sum += e[j];
                }
                for (int j = 0; j < len; j++)
                {
                    ys[start + j * inner] = (float)(e[j] / sum);
                }
            }
        }
    }
}
