namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Global max pooling (ONNX <c>GlobalMaxPool</c>): N×C×H×W → N×C×1×1,
    /// <c>y[n,c,0,0] = max_{h &lt; H, w &lt; W} x[n,c,h,w]</c>.
    /// </summary>
    public static void GlobalMaxPool(Tensor x, Tensor y)
    {
        const string op = "GlobalMaxPool";
        GlobalPoolCheck(x, y, op);
        int n = x.Shape[0], c = x.Shape[1], hw = x.Shape[2] * x.Shape[3];
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < n * c; i++)
        {
            float m = float.NegativeInfinity;
            for (int j = 0; j < hw; j++)
            {
                if (xs[i * hw + j] > m)
                {
                    m = xs[i * hw + j];
                }
            }
            ys[i] = m;
        }
    }
}
