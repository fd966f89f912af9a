namespace FastConv.Ops;

/// <summary>Hyperparameters of MaxPool2d and AvgPool2d (ONNX <c>MaxPool</c>, <c>AveragePool</c>).</summary>
public sealed record Pool2dParams
{
    public int KernelH { get; init; } = 1;
    public int KernelW { get; init; } = 1;
    public int StrideH { get; init; } = 1;
    public int StrideW { get; init; } = 1;
    public Padding2d Padding { get; init; }
    public int DilationH { get; init; } = 1;
    public int DilationW { get; init; } = 1;
    /// <summary>Round the output size up (a last, partial window) instead of down.</summary>
    public bool CeilMode { get; init; }
    /// <summary>AvgPool only: divide by the full window including padding, not only the real elements.</summary>
    public bool CountIncludePad { get; init; }

    public static Pool2dParams Create(int kernel, int stride = 1, int pad = 0, bool ceilMode = false, bool countIncludePad = false, int dilation = 1)
        => new()
        {
            KernelH = kernel, KernelW = kernel, StrideH = stride, StrideW = stride, Padding = Padding2d.Symmetric(pad),
            DilationH = dilation, DilationW = dilation, CeilMode = ceilMode, CountIncludePad = countIncludePad,
        };

    public override string ToString()
        => $"kernel=({KernelH},{KernelW}) pad={Padding} stride=({StrideH},{StrideW}) dilation=({DilationH},{DilationW}) ceil={CeilMode} countIncludePad={CountIncludePad}";
}

/// <summary>A validated pooling problem: input N×C×H×W, window R×S (= kernel), output N×C×P×Q.</summary>
public readonly record struct Pool2dShape(int N, int C, int H, int W, Pool2dParams Params)
{
    public int R => Params.KernelH;
    public int S => Params.KernelW;
    public int P => OutputSize.Pool(H, R, Params.StrideH, Params.Padding.Top, Params.Padding.Bottom, Params.DilationH, Params.CeilMode);
    public int Q => OutputSize.Pool(W, S, Params.StrideW, Params.Padding.Left, Params.Padding.Right, Params.DilationW, Params.CeilMode);
    public TensorShape InputShape => TensorShape.Of(N, C, H, W);
    public TensorShape OutputShape => TensorShape.Of(N, C, P, Q);

    public static Pool2dShape From(TensorShape input, Pool2dParams p, string op)
    {
        if (input.Rank != 4)
        {
            throw new InvalidShapeException($"{op}: input must be rank 4 (NCHW), got rank {input.Rank} shape {input}; {p}.");
        }
        var s = new Pool2dShape(input[0], input[1], input[2], input[3], p);
        s.Validate(op);
        return s;
    }

    public void Validate(string op)
    {
        var p = Params;
        if (p.KernelH <= 0 || p.KernelW <= 0)
        {
            throw new InvalidHyperparameterException($"{op}: kernel must be >= 1, got ({p.KernelH},{p.KernelW}); {Describe()}.");
        }
        WindowChecks.StrideDilationPadding(op, p.StrideH, p.StrideW, p.DilationH, p.DilationW, p.Padding, Describe());
        // ONNX Runtime requires each pad to be smaller than the (undilated) kernel, so no window is all
        // padding; we take the same rule, dilated MaxPool included.
        if (p.Padding.Top >= p.KernelH || p.Padding.Bottom >= p.KernelH || p.Padding.Left >= p.KernelW || p.Padding.Right >= p.KernelW)
        {
            throw new InvalidHyperparameterException($"{op}: every pad must be smaller than the kernel, got {p.Padding}; {Describe()}.");
        }
        if (N <= 0 || C <= 0 || H <= 0 || W <= 0)
        {
            throw new InvalidShapeException($"{op}: every dimension must be >= 1; {Describe()}.");
        }
        WindowChecks.WindowFitsPaddedInput(op, "window", H, W, p.KernelH, p.KernelW, p.DilationH, p.DilationW, p.Padding, Describe());
        // With dilation a window can skip over every real row (e.g. H = 1, dilation 2, pad 1 each side):
        // such a window would be all padding, which ONNX Runtime fills with the lowest float. We reject it.
        RequireRealTapInEveryWindow(op, "row", H, P, p.KernelH, p.StrideH, p.DilationH, p.Padding.Top);
        RequireRealTapInEveryWindow(op, "column", W, Q, p.KernelW, p.StrideW, p.DilationW, p.Padding.Left);
    }

    private void RequireRealTapInEveryWindow(string op, string axis, int input, int output, int kernel, int stride, int dilation, int padBegin)
    {
        for (int o = 0; o < output; o++)
        {
            bool real = false;
            for (int r = 0; r < kernel && !real; r++)
            {
                long i = (long)o * stride - padBegin + (long)r * dilation;
                real = i >= 0 && i < input;
            }
            if (!real)
            {
                throw new InvalidHyperparameterException($"{op}: window {o} along the {axis}s reads only padding (dilation skips every real {axis}); {Describe()}.");
            }
        }
    }

    public string Describe() => $"N={N} C={C} H={H} W={W} {Params}";

    public override string ToString() => Params.StrideH > 0 && Params.StrideW > 0 ? $"{Describe()} -> P={P} Q={Q}" : Describe();
}
