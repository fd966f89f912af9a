using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Clip: <c>y = min(max(x, min), max)</c>, element-wise; Relu6 is Clip(0, 6); an absent bound is ∓float.MaxValue (see <see cref="ClipParams"/>).
    /// When <c>min &gt; max</c> every output is <c>max</c> (as ONNX says). Exact. NaN stays NaN; −0 inside
    /// the range stays −0. <paramref name="y"/> may be <paramref name="x"/>.
    /// </summary>
    public static void Clip(Tensor x, ClipParams p, Tensor y)
    {
        RequireShape(y, x.Shape, "output", "Clip", $"input {x.Shape}, {p}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < xs.Length; i++)
        {
            float v = xs[i];
            v = v < p.Min ? p.Min : v;
            v = v > p.Max ? p.Max : v;
            ys[i] = v;
        }
    }

    /// <summary>
    /// Clip with the bounds given directly (ONNX's optional min and max inputs): <c>y = min(max(x, min), max)</c>;
    /// a null bound is absent; see <see cref="Clip(Tensor, ClipParams, Tensor)"/>.
    /// </summary>
    public static void Clip(Tensor x, float? min, float? max, Tensor y)
    {
        var p = new ClipParams();
        Clip(x, p with { Min = min ?? p.Min, Max = max ?? p.Max }, y);
    }
}
