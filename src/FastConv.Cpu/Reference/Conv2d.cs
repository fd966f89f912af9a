using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>The output shape N×K×P×Q of <see cref="Conv2d"/>, after validating the problem.</summary>
    public static TensorShape Conv2dOutputShape(TensorShape x, TensorShape w, Conv2dParams p, TensorShape? bias = null)
        => Conv2dShape.From(x, w, p, bias).OutputShape;

    /// <summary>
    /// 2-D convolution (ONNX <c>Conv</c>, really a cross-correlation), NCHW input, KCRS weights:
    /// <code>
    /// y[n,k,p,q] = bias[k] + Σ_{c &lt; C/G, r &lt; R, s &lt; S} x[n, g·C/G + c, p·strideH − padTop + r·dilH, q·strideW − padLeft + s·dilW] · w[k, c, r, s]
    /// </code>
    /// with G = groups, g = k / (K/G) the group of output channel k, and input positions outside
    /// 0 ≤ h &lt; H, 0 ≤ w &lt; W read as 0 (zero padding). bias is optional (0 when null).
    /// Sums are accumulated in float32 in the order c, r, s, then the bias is added last.
    /// </summary>
    public static void Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dParams p, Tensor y)
    {
        var s = Conv2dShape.From(x.Shape, w.Shape, p, bias?.Shape);
        RequireShape(y, s.OutputShape, "output", "Conv2d", s.ToString());
        int cg = s.InputChannelsPerGroup, kg = s.OutputChannelsPerGroup;
        ReadOnlySpan<float> xs = x.Span, ws = w.Span;
        ReadOnlySpan<float> bs = bias is null ? default : bias.Span;
        Span<float> ys = y.Span;
        for (int n = 0; n < s.N; n++)
        {
            for (int k = 0; k < s.K; k++)
            {
                int g = k / kg;
                for (int op = 0; op < s.P; op++)
                {
                    for (int oq = 0; oq < s.Q; oq++)
                    {
                        float acc = 0f;
                        for (int c = 0; c < cg; c++)
                        {
                            for (int r = 0; r < s.R; r++)
                            {
                                int ih = op * p.StrideH - p.Padding.Top + r * p.DilationH;
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
                                    acc += xs[((n * s.C + g * cg + c) * s.H + ih) * s.W + iw] * ws[((k * cg + c) * s.R + r) * s.S + ss];
                                }
                            }
                        }
                        if (bias is not null)
                        {
                            acc += bs[k];
                        }
                        ys[((n * s.K + k) * s.P + op) * s.Q + oq] = acc;
                    }
                }
            }
        }
    }
}
