using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Shape of ONNX <c>Resize</c> on NCHW: with scales, <c>P = floor(H · scale_H)</c>, <c>Q = floor(W · scale_W)</c>
    /// (the product rounded to float32 first, as ONNX Runtime does); with sizes, [N, C, P, Q] = sizes.
    /// </summary>
    public static TensorShape ResizeOutputShape(TensorShape input, ResizeParams p)
    {
        var (_, _, outH, outW) = ResizeValidate(input, p);
        return TensorShape.Of(input[0], input[1], outH, outW);
    }

    /// <summary>
    /// Resize (ONNX <c>Resize</c>, opset 13+) of a 4-D NCHW tensor over H and W. Per spatial axis, with input
    /// length L_in, output length L_out and scale s (given, or <c>L_out / L_in</c> when sizes are given), output
    /// coordinate x maps to the input coordinate
    /// <list type="bullet">
    /// <item>half_pixel: <c>x_in = (x + 0.5) / s − 0.5</c></item>
    /// <item>pytorch_half_pixel: <c>x_in = L_out &gt; 1 ? (x + 0.5) / s − 0.5 : 0</c></item>
    /// <item>align_corners: <c>x_in = x · (L_in − 1) / (L_out − 1)</c>, and 0 when L_out = 1 (the spec divides by
    /// zero there; ONNX Runtime returns 0)</item>
    /// <item>asymmetric: <c>x_in = x / s</c></item>
    /// <item>tf_half_pixel_for_nn: <c>x_in = (x + 0.5) / s</c></item>
    /// </list>
    /// all evaluated in float32 in exactly this order, as ONNX Runtime 1.31 does. ONNX Runtime skips the
    /// transform on an axis whose scale is exactly 1 (<c>x_in = x</c>); we do the same. That differs from the
    /// spec only for tf_half_pixel_for_nn with round_prefer_ceil or ceil, where the spec would shift by one.
    /// <para>
    /// nearest: <c>y = x[n, c, near(h_in), near(w_in)]</c>, where near rounds per nearest_mode
    /// (round_prefer_floor: ties down, round_prefer_ceil: ties away from zero, floor, ceil) and then clamps
    /// into [0, L_in − 1].
    /// </para>
    /// <para>
    /// linear: clamp <c>x_in</c> into [0, L_in − 1]; <c>x1 = floor(x_in)</c>, <c>x2 = min(x1 + 1, L_in − 1)</c>,
    /// weights <c>d1 = |x_in − x1|</c> (for x2) and <c>d2 = |x_in − x2|</c> (for x1), both 0.5 when x1 = x2; the
    /// same on h; then <c>y = dw2·dh2·X[h1,w1] + dw1·dh2·X[h1,w2] + dw2·dh1·X[h2,w1] + dw1·dh1·X[h2,w2]</c>
    /// (ONNX Runtime's order; the spec's linear interpolation <c>(1 − t)·a + t·b</c> in exact arithmetic).
    /// </para>
    /// <para>
    /// cubic: <c>x₀ = floor(x_in)</c>, <c>t = x_in − x₀</c>; taps x₀ − 1 … x₀ + 2, each clamped into [0, L_in − 1]
    /// (the edge repeats), with Keys' weights for distances 1 + t, t, 1 − t, 2 − t and <c>a = cubic_coeff_a</c>:
    /// <c>W(d) = ((a + 2)·d − (a + 3))·d² + 1</c> for d ≤ 1, <c>((a·d − 5a)·d + 8a)·d − 4a</c> for 1 &lt; d &lt; 2. With
    /// exclude_outside, taps outside [0, L_in − 1] get weight 0 and the others are divided by their sum. Then
    /// <c>y = Σ_r wh[r]·Σ_s ww[s]·X[h_r, w_s]</c>, in double, rounded once.
    /// </para>
    /// </summary>
    public static void Resize(Tensor x, ResizeParams p, Tensor y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        var (scaleH, scaleW, outH, outW) = ResizeValidate(x.Shape, p);
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], w = x.Shape[3];
        RequireShape(y, TensorShape.Of(n, c, outH, outW), "output", "Resize", $"input {x.Shape}, {p}");
        ReadOnlySpan<float> xs = x.Span;
        Span<float> ys = y.Span;
        for (int ni = 0; ni < n; ni++)
        {
            for (int ci = 0; ci < c; ci++)
            {
                int plane = (ni * c + ci) * h * w;
                for (int oh = 0; oh < outH; oh++)
                {
                    float hIn = ResizeSourceCoordinate(p.CoordinateTransform, oh, scaleH, outH, h);
                    for (int ow = 0; ow < outW; ow++)
                    {
                        float wIn = ResizeSourceCoordinate(p.CoordinateTransform, ow, scaleW, outW, w);
                        float v;
                        if (p.Mode == ResizeMode.Nearest)
                        {
                            int hi = ResizeNearestIndex(p.NearestMode, hIn, h);
                            int wi = ResizeNearestIndex(p.NearestMode, wIn, w);
                            v = xs[plane + hi * w + wi];
                        }
                        else if (p.Mode == ResizeMode.Cubic)
                        {
                            var (hi, hw) = ResizeCubicTaps(hIn, h, p.CubicCoeffA, p.ExcludeOutside);
                            var (wi, ww) = ResizeCubicTaps(wIn, w, p.CubicCoeffA, p.ExcludeOutside);
                            double sum = 0;
                            for (int r = 0; r < 4; r++)
                            {
                                double row = 0;
                                for (int t = 0; t < 4; t++)
                                {
                                    row += ww[t] * xs[plane + hi[r] * w + wi[t]];
                                }
                                sum += hw[r] * row;
                            }
                            v = (float)sum;
                        }
                        else
                        {
                            var (h1, h2, dh1, dh2) = ResizeLinearTaps(hIn, h);
                            var (w1, w2, dw1, dw2) = ResizeLinearTaps(wIn, w);
                            float x11 = xs[plane + h1 * w + w1], x21 = xs[plane + h1 * w + w2];
                            float x12 = xs[plane + h2 * w + w1], x22 = xs[plane + h2 * w + w2];
                            v = dw2 * dh2 * x11 + dw1 * dh2 * x21 + dw2 * dh1 * x12 + dw1 * dh1 * x22;
                        }
                        ys[y.Index(ni, ci, oh, ow)] = v;
                    }
                }
            }
        }
    }

    /// <summary>Input coordinate of output coordinate <paramref name="xOut"/> (see <see cref="Resize"/>), in float32.</summary>
    internal static float ResizeSourceCoordinate(ResizeCoordinateTransform t, int xOut, float scale, int lengthOut, int lengthIn)
    {
        float xr = xOut, lr = lengthOut, lo = lengthIn;
        if (scale == 1f)
        {
            return xr; // ONNX Runtime: no transform on an axis that is not resized.
        }
        return t switch
        {
            ResizeCoordinateTransform.HalfPixel => ((xr + 0.5f) / scale) - 0.5f,
            ResizeCoordinateTransform.PytorchHalfPixel => lr > 1 ? (xr + 0.5f) / scale - 0.5f : 0f,
            ResizeCoordinateTransform.AlignCorners => lr == 1 ? 0f : xr * (lo - 1) / (lr - 1),
            ResizeCoordinateTransform.Asymmetric => xr / scale,
            _ => (xr + 0.5f) / scale,
        };
    }

    /// <summary>Nearest input index of input coordinate <paramref name="xIn"/>, clamped into [0, length − 1].</summary>
    internal static int ResizeNearestIndex(ResizeNearestMode mode, float xIn, int length)
    {
        float r = mode switch
        {
            // Ties toward floor, tested as ONNX Runtime does: x == trunc(x) + 0.5 in float32.
            ResizeNearestMode.RoundPreferFloor => xIn == (float)(long)xIn + 0.5f ? MathF.Floor(xIn) : MathF.Round(xIn, MidpointRounding.AwayFromZero),
            // std::round: ties away from zero (up for the non-negative coordinates that survive the clamp).
            ResizeNearestMode.RoundPreferCeil => MathF.Round(xIn, MidpointRounding.AwayFromZero),
            ResizeNearestMode.Floor => MathF.Floor(xIn),
            _ => MathF.Ceiling(xIn),
        };
        long i = (long)r;
        return (int)Math.Clamp(i, 0, length - 1);
    }

    /// <summary>Linear taps on one axis: the two indices and their weights d1 (for i2) and d2 (for i1).</summary>
    internal static (int I1, int I2, float D1, float D2) ResizeLinearTaps(float xIn, int length)
    {
        float v = Math.Max(0f, Math.Min(xIn, length - 1));
        int i1 = Math.Min((int)v, length - 1);
        int i2 = Math.Min(i1 + 1, length - 1);
        if (i1 == i2)
        {
            return (i1, i2, 0.5f, 0.5f);
        }
        return (i1, i2, MathF.Abs(v - i1), MathF.Abs(v - i2));
    }

    /// <summary>Cubic taps on one axis: four clamped indices and their weights (see <see cref="Resize"/>).</summary>
    internal static (int[] Index, double[] Weight) ResizeCubicTaps(float xIn, int length, float a, bool excludeOutside)
    {
        int x0 = (int)MathF.Floor(xIn);
        double t = xIn - x0;
        var index = new int[4];
        var weight = new double[4];
        double total = 0;
        for (int k = 0; k < 4; k++)
        {
            double d = Math.Abs(k - 1 - t);
            double wk = d <= 1 ? ((a + 2) * d - (a + 3)) * d * d + 1 : d < 2 ? ((a * d - 5 * a) * d + 8 * a) * d - 4 * a : 0;
            int i = x0 - 1 + k;
            if (excludeOutside && (i < 0 || i >= length))
            {
                wk = 0;
            }
            index[k] = Math.Clamp(i, 0, length - 1);
            weight[k] = wk;
            total += wk;
        }
        if (excludeOutside)
        {
            for (int k = 0; k < 4; k++)
            {
                weight[k] /= total;
            }
        }
        return (index, weight);
    }

    /// <summary>Validates a Resize problem; returns the per-axis scales used by the coordinate transform and the output extents.</summary>
    internal static (float ScaleH, float ScaleW, int OutH, int OutW) ResizeValidate(TensorShape input, ResizeParams p)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(p);
        if (!Enum.IsDefined(p.Mode) || !Enum.IsDefined(p.CoordinateTransform) || !Enum.IsDefined(p.NearestMode))
        {
            throw new InvalidHyperparameterException($"Resize: unknown mode ({(int)p.Mode}, {(int)p.CoordinateTransform}, {(int)p.NearestMode}); input shape {input}.");
        }
        if (input.Rank != 4)
        {
            throw new InvalidShapeException($"Resize: input must be rank 4 (NCHW), got rank {input.Rank} shape {input}; {p}.");
        }
        if ((p.Scales is null) == (p.Sizes is null))
        {
            throw new InvalidHyperparameterException($"Resize: give exactly one of scales and sizes, got {(p.Scales is null ? "neither" : "both")}; input shape {input}, {p}.");
        }
        int h = input[2], w = input[3];
        if (p.Scales is { } scales)
        {
            if (scales.Count != 4)
            {
                throw new InvalidHyperparameterException($"Resize: scales must have 4 values (NCHW), got {scales.Count}; input shape {input}, {p}.");
            }
            if (scales[0] != 1f || scales[1] != 1f)
            {
                throw new InvalidHyperparameterException($"Resize: only H and W are resized; the N and C scales must be 1, got {scales[0]} and {scales[1]}; input shape {input}, {p}.");
            }
            if (!(scales[2] > 0f) || !(scales[3] > 0f) || !float.IsFinite(scales[2]) || !float.IsFinite(scales[3]))
            {
                throw new InvalidHyperparameterException($"Resize: scales must be positive and finite, got ({scales[2]}, {scales[3]}); input shape {input}, {p}.");
            }
            float outHf = scales[2] * (float)h, outWf = scales[3] * (float)w;
            if (outHf >= int.MaxValue || outWf >= int.MaxValue)
            {
                throw new InvalidHyperparameterException($"Resize: output extent too large; input shape {input}, {p}.");
            }
            return (scales[2], scales[3], OutputSize.Resize(h, scales[2]), OutputSize.Resize(w, scales[3]));
        }
        IReadOnlyList<int> sizes = p.Sizes!;
        if (sizes.Count != 4)
        {
            throw new InvalidHyperparameterException($"Resize: sizes must have 4 values (NCHW), got {sizes.Count}; input shape {input}, {p}.");
        }
        if (sizes[0] != input[0] || sizes[1] != input[1])
        {
            throw new InvalidHyperparameterException($"Resize: only H and W are resized; sizes N and C must equal the input's ({input[0]}, {input[1]}), got ({sizes[0]}, {sizes[1]}); input shape {input}, {p}.");
        }
        if (sizes[2] < 0 || sizes[3] < 0)
        {
            throw new InvalidHyperparameterException($"Resize: sizes must be >= 0, got ({sizes[2]}, {sizes[3]}); input shape {input}, {p}.");
        }
        if ((h == 0 && sizes[2] > 0) || (w == 0 && sizes[3] > 0))
        {
            throw new InvalidShapeException($"Resize: cannot resize an empty axis to a non-empty one; input shape {input}, {p}.");
        }
        // ONNX Runtime: scale = float(L_out) / float(L_in), and 1 for an empty axis.
        float sh = h == 0 ? 1f : (float)sizes[2] / (float)h;
        float sw = w == 0 ? 1f : (float)sizes[3] / (float)w;
        return (sh, sw, sizes[2], sizes[3]);
    }
}
