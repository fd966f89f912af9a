using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>The output shape N×C×P×Q of <see cref="MaxPool2d"/> and <see cref="AvgPool2d"/>, after validating the problem.</summary>
    public static TensorShape Pool2dOutputShape(TensorShape x, Pool2dParams p, string op = "Pool2d")
        => Pool2dShape.From(x, p, op).OutputShape;

    /// <summary>
    /// 2-D max pooling (ONNX <c>MaxPool</c>), NCHW:
    /// <code>
    /// y[n,c,p,q] = max_{r &lt; R, s &lt; S, (h, w) inside the input} x[n, c, h = p·strideH − padTop + r·dilH, w = q·strideW − padLeft + s·dilW]
    /// </code>
    /// Padded positions are skipped (as if −∞), never read as 0. Every window holds at least one real
    /// element (pads are smaller than the window, and ceil mode drops a window starting in the end padding,
    /// see <see cref="OutputSize.Pool"/>). P and Q come from <see cref="OutputSize.Pool"/> (floor or ceil mode).
    /// </summary>
    public static void MaxPool2d(Tensor x, Pool2dParams p, Tensor y)
    {
        const string op = "MaxPool2d";
        var s = Pool2dShape.From(x.Shape, p, op);
        RequireShape(y, s.OutputShape, "output", op, s.ToString());
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int n = 0; n < s.N; n++)
        {
            for (int c = 0; c < s.C; c++)
            {
                for (int op_ = 0; op_ < s.P; op_++)
                {
                    for (int oq = 0; oq < s.Q; oq++)
                    {
                        float m = float.NegativeInfinity;
                        for (int r = 0; r < s.R; r++)
                        {
                            int ih = op_ * p.StrideH - p.Padding.Top + r * p.DilationH;
                            if (ih < 0 || ih >= s.H)
                            {
                                continue;
                            }
                            for (int ss = 0; ss < s.S; ss++)
                            {
                                int iw = oq * p.StrideW - p.Padding.Left + ss * p.DilationW;
                                if (iw < 0 || iw >= s.W)
                                {
                                    continue;
                                }
                                float v = xs[((n * s.C + c) * s.H + ih) * s.W + iw];
                                if (v > m)
                                {
                                    m = v;
                                }
                            }
                        }
                        ys[((n * s.C + c) * s.P + op_) * s.Q + oq] = m;
                    }
                }
            }
        }
    }
}
