namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// PRelu: <c>y = x</c> for <c>x ≥ 0</c>, <c>y = slope·x</c> for <c>x &lt; 0</c>, where <paramref name="slope"/>
    /// broadcasts unidirectionally to x (ONNX: aligned at the LAST axis, each dim equal or 1 — so a per-channel
    /// slope of an NCHW input has shape [C,1,1]; a 1-D [C] slope aligns with W). One float multiplication,
    /// so exact. −0 stays −0; NaN stays NaN. <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    public static void PRelu(Tensor x, Tensor slope, Tensor y)
    {
        Broadcast.RequireUnidirectional(slope.Shape, x.Shape, "slope", "PRelu");
        RequireShape(y, x.Shape, "output", "PRelu", $"input {x.Shape}, slope {slope.Shape}");
        int[] strides = Broadcast.Strides(slope.Shape, x.Shape);
        ReadOnlySpan<float> xs = x.Span, ss = slope.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            float v = xs[i];
            ys[i] = v < 0f ? ss[Broadcast.Offset(i, x.Shape, strides)] * v : v;
        }
    }
}
