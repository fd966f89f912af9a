namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Global average pooling (ONNX <c>GlobalAveragePool</c>): N×C×H×W → N×C×1×1,
    /// <c>y[n,c,0,0] = (Σ_{h &lt; H, w &lt; W} x[n,c,h,w]) / (H·W)</c>, summed in float32 in row-major order.
    /// </summary>
    public static void GlobalAveragePool(Tensor x, Tensor y)
    {
        const string op = "GlobalAveragePool";
        GlobalPoolCheck(x, y, op);
        int n = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < n * c; i++)
        {
            float sum = 0f;
            for (int j = 0; j < hw; j++)
            {
                sum += xs[i * hw + j];
            }
            ys[i] = sum / hw;
        }
    }

    /// <summary>Rank-4, non-empty input; output N×C×1×1.</summary>
    private static void GlobalPoolCheck(Tensor x, Tensor y, string op)
    {
        if (x.Shape.Rank != 4)
        {
            throw new InvalidShapeException($"{op}: input must be rank 4 (NCHW), got rank {x.Shape.Rank} shape {x.Shape}.");
        }
        if (x.Shape.ElementCount == 0)
        {
            throw new InvalidShapeException($"{op}: every dimension must be >= 1, got input {x.Shape}.");
        }
        RequireShape(y, TensorShape.Of(x.Shape[0], x.Shape[1], 1, 1), "output", op, $"input {x.Shape}");
    }
}
