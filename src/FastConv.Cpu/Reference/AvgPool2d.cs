using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// 2-D average pooling (ONNX <c>AveragePool</c>), NCHW, no dilation:
    /// <code>
    /// y[n,c,p,q] = (Σ_{r &lt; R, s &lt; S, (h, w) inside the input} x[n, c, h = p·strideH − padTop + r, w = q·strideW − padLeft + s]) / divisor
    /// </code>
    /// Padded positions contribute 0 to the sum. The divisor is
    /// <list type="bullet">
    /// <item>count_include_pad = false: the number of real input elements in the window;</item>
    /// <item>count_include_pad = true: the number of window positions inside the PADDED input
    /// [−padTop, H + padBottom) × [−padLeft, W + padRight), i.e. the window clipped to the padded input.
    /// This is R·S except for the last windows in ceil mode, which may run past the end padding; those
    /// positions beyond it are not counted (ONNX Runtime 1.31 and PyTorch agree, checked by the ceil-mode
    /// cases of AvgPool2dOracleTests).</item>
    /// </list>
    /// Dilation other than 1 is rejected (ONNX <c>AveragePool</c> has dilations only from opset 19).
    /// </summary>
    public static void AvgPool2d(Tensor x, Pool2dParams p, Tensor y)
    {
        const string op = "AvgPool2d";
        var s = Pool2dShape.From(x.Shape, p, op);
        if (p.DilationH != 1 || p.DilationW != 1)
        {
            throw new InvalidHyperparameterException($"{op}: dilation must be 1, got ({p.DilationH},{p.DilationW}); {s.Describe()}.");
        }
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
                        float sum = 0f;
                        int real = 0, padded = 0;
                        for (int r = 0; r < s.R; r++)
                        {
                            int ih = op_ * p.StrideH - p.Padding.Top + r;
                            bool rowInPadded = ih < s.H + p.Padding.Bottom; // ih ≥ −padTop always holds
                            for (int ss = 0; ss < s.S; ss++)
                            {
                                int iw = oq * p.StrideW - p.Padding.Left + ss;
                                if (rowInPadded && iw < s.W + p.Padding.Right)
                                {
                                    padded++;
                                }
                                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W)
                                {
                                    continue;
                                }
                                sum += xs[((n * s.C + c) * s.H + ih) * s.W + iw];
                                real++;
                            }
                        }
                        ys[((n * s.C + c) * s.P + op_) * s.Q + oq] = sum / (p.CountIncludePad ? padded : real);
                    }
                }
            }
        }
    }
}
