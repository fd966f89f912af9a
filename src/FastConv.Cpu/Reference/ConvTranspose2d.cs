using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>The output shape N×K×P×Q of <see cref="ConvTranspose2d"/>, after validating the problem.</summary>
    public static TensorShape ConvTranspose2dOutputShape(TensorShape x, TensorShape w, ConvTranspose2dParams p, TensorShape? bias = null)
        => ConvTranspose2dShape.From(x, w, p, bias).OutputShape;

    /// <summary>
    /// 2-D transposed convolution (ONNX <c>ConvTranspose</c>), NCHW input, weights C×(K/G)×R×S, written as
    /// the gather that is the adjoint of <see cref="Conv2d"/>:
    /// <code>
    /// y[n,k,p,q] = bias[k] + Σ_{c &lt; C/G, r &lt; R, s &lt; S, h, w : h·strideH − padTop + r·dilH = p, w·strideW − padLeft + s·dilW = q}
    ///              x[n, g·C/G + c, h, w] · w[g·C/G + c, k − g·K/G, r, s]
    /// </code>
    /// with G = groups, g = k / (K/G), 0 ≤ h &lt; H, 0 ≤ w &lt; W. Output rows/columns added by output
    /// padding (and any not reached by the kernel) hold just the bias. bias is optional (0 when null).
    /// P = (H − 1)·strideH − padTop − padBottom + dilH·(R − 1) + 1 + outputPaddingH, likewise Q.
    /// </summary>
    public static void ConvTranspose2d(Tensor x, Tensor w, Tensor? bias, ConvTranspose2dParams p, Tensor y)
    {
        var s = ConvTranspose2dShape.From(x.Shape, w.Shape, p, bias?.Shape);
        RequireShape(y, s.OutputShape, "output", "ConvTranspose2d", s.ToString());
        int cg = s.InputChannelsPerGroup, kg = s.OutputChannelsPerGroup;
        ReadOnlySpan<float> xs = x.Span, ws = w.Span;
        ReadOnlySpan<float> bs = bias is null ? default : bias.Span;
        Span<float> ys = y.Span;
        for (int n = 0; n < s.N; n++)
        {
            for (int k = 0; k < s.K; k++)
            {
                int g = k / kg, kk = k - g * kg;
                for (int op = 0; op < s.P; op++)
                {
                    for (int oq = 0; oq < s.Q; oq++)
                    {
                        float acc = 0f;
                        for (int c = 0; c < cg; c++)
                        {
                            int ci = g * cg + c;
                            for (int r = 0; r < s.R; r++)
                            {
                                // Input row h with h·strideH − padTop + r·dilH = op, if it exists.
                                int th = op + p.Padding.Top - r * p.DilationH;
                                if (th < 0 || th % p.StrideH != 0 || th / p.StrideH >= s.H)
                                {
                                    continue;
                                }
                                int ih = th / p.StrideH;
                                for (int ss = 0; ss < s.S; ss++)
                                {
                                    int tw = oq + p.Padding.Left - ss * p.DilationW;
                                    if (tw < 0 || tw % p.StrideW != 0 || tw / p.StrideW >= s.W)
                                    {
                                        continue;
                                    }
                                    int iw = tw / p.StrideW;
                                    acc += xs[((n * s.C + ci) * s.H + ih) * s.W + iw] * ws[((ci * kg + kk) * s.R + r) * s.S + ss];
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
