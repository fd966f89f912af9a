namespace FastConv.Ops;

/// <summary>
/// Hyperparameters of a 2-D transposed convolution (ONNX <c>ConvTranspose</c>, PyTorch <c>ConvTranspose2d</c>).
/// Padding removes rows/columns from the full output; <see cref="OutputPaddingH"/>/<see cref="OutputPaddingW"/>
/// add rows/columns at the bottom/right end (ONNX <c>output_padding</c>). The ONNX <c>output_shape</c> and
/// <c>auto_pad</c> attributes are not modelled: callers convert them to explicit pads first.
/// </summary>
public sealed record ConvTranspose2dParams
{
    public int StrideH { get; init; } = 1;
    public int StrideW { get; init; } = 1;
    public Padding2d Padding { get; init; }
    public int DilationH { get; init; } = 1;
    public int DilationW { get; init; } = 1;
    /// <summary>Channel groups: 1 is dense; C = K = groups is depthwise.</summary>
    public int Groups { get; init; } = 1;
    /// <summary>Extra output rows at the bottom; must be smaller than the stride (ONNX Runtime's rule).</summary>
    public int OutputPaddingH { get; init; }
    /// <summary>Extra output columns at the right; must be smaller than the stride (ONNX Runtime's rule).</summary>
    public int OutputPaddingW { get; init; }

    public static ConvTranspose2dParams Create(int stride = 1, int pad = 0, int dilation = 1, int groups = 1, int outputPadding = 0)
        => new()
        {
            StrideH = stride, StrideW = stride, Padding = Padding2d.Symmetric(pad), DilationH = dilation, DilationW = dilation,
            Groups = groups, OutputPaddingH = outputPadding, OutputPaddingW = outputPadding,
        };

    public override string ToString()
        => $"pad={Padding} stride=({StrideH},{StrideW}) dilation=({DilationH},{DilationW}) groups={Groups} outputPadding=({OutputPaddingH},{OutputPaddingW})";
}

/// <summary>
/// A validated transposed-convolution problem: input N×C×H×W, weights C×(K/groups)×R×S (ONNX layout:
/// input channels first), output N×K×P×Q with P, Q from <see cref="OutputSize.ConvTranspose"/>.
/// <see cref="ToString"/> names the whole shape; every error and test failure message uses it.
/// </summary>
public readonly record struct ConvTranspose2dShape(int N, int C, int H, int W, int K, int R, int S, ConvTranspose2dParams Params)
{
    public int P => OutputSize.ConvTranspose(H, R, Params.StrideH, Params.Padding.Top, Params.Padding.Bottom, Params.DilationH, Params.OutputPaddingH);
    public int Q => OutputSize.ConvTranspose(W, S, Params.StrideW, Params.Padding.Left, Params.Padding.Right, Params.DilationW, Params.OutputPaddingW);
    public int Groups => Params.Groups;
    public int InputChannelsPerGroup => C / Params.Groups;
    public int OutputChannelsPerGroup => K / Params.Groups;

    public TensorShape InputShape => TensorShape.Of(N, C, H, W);
    public TensorShape WeightShape => TensorShape.Of(C, K / Params.Groups, R, S);
    public TensorShape OutputShape => TensorShape.Of(N, K, P, Q);

    /// <summary>Multiply-adds counted as 2 FLOPs: <c>2·N·C·(K/groups)·R·S·H·W</c>.</summary>
    public long Flops => 2L * N * C * OutputChannelsPerGroup * R * S * H * W;

    /// <summary>
    /// Builds and validates a problem from the input shape N×C×H×W and the weight shape C×(K/groups)×R×S
    /// (so K = weight[1]·groups), and the optional bias shape [K].
    /// </summary>
    public static ConvTranspose2dShape From(TensorShape input, TensorShape weight, ConvTranspose2dParams p, TensorShape? bias = null)
    {
        const string op = "ConvTranspose2d";
        if (input.Rank != 4 || weight.Rank != 4)
        {
            throw new InvalidShapeException($"{op}: input and weight must be rank 4 (NCHW and C×K/groups×R×S); got input {input} (rank {input.Rank}) and weight {weight} (rank {weight.Rank}); {p}.");
        }
        int k = p.Groups > 0 ? weight[1] * p.Groups : weight[1];
        var s = new ConvTranspose2dShape(input[0], input[1], input[2], input[3], k, weight[2], weight[3], p);
        s.Validate(weight, bias);
        return s;
    }

    /// <summary>Throws a typed exception naming the bad value and the whole shape, or returns quietly.</summary>
    public void Validate(TensorShape? weight = null, TensorShape? bias = null)
    {
        const string op = "ConvTranspose2d";
        var p = Params;
        WindowChecks.StrideDilationPadding(op, p.StrideH, p.StrideW, p.DilationH, p.DilationW, p.Padding, Describe());
        if (p.Groups <= 0)
        {
            throw new InvalidHyperparameterException($"{op}: groups must be >= 1, got {p.Groups}; {Describe()}.");
        }
        if (p.OutputPaddingH < 0 || p.OutputPaddingW < 0)
        {
            throw new InvalidHyperparameterException($"{op}: output padding must be >= 0, got ({p.OutputPaddingH},{p.OutputPaddingW}); {Describe()}.");
        }
        // PyTorch (and the ONNX spec's wording) allow output_padding < stride OR < dilation, but ONNX Runtime
        // 1.31, our oracle, rejects output_padding >= stride even when it is below the dilation ("output_padding
        // may be too large for stride"), so we follow ORT: output padding must be smaller than the stride.
        if (p.OutputPaddingH >= p.StrideH || p.OutputPaddingW >= p.StrideW)
        {
            throw new InvalidHyperparameterException($"{op}: output padding ({p.OutputPaddingH},{p.OutputPaddingW}) must be smaller than the stride ({p.StrideH},{p.StrideW}) on each axis; {Describe()}.");
        }
        if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || K <= 0 || R <= 0 || S <= 0)
        {
            throw new InvalidShapeException($"{op}: every dimension must be >= 1; {Describe()}.");
        }
        if (C % p.Groups != 0 || K % p.Groups != 0)
        {
            throw new InvalidShapeException($"{op}: input channels C={C} and output channels K={K} must both be divisible by groups={p.Groups}; {Describe()}.");
        }
        // P = (H − 1)·stride − pads + dil·(R − 1) + 1 + outputPadding, in 64 bits so huge strides are caught.
        long fullH = (long)(H - 1) * p.StrideH + (long)p.DilationH * (R - 1) + 1 + p.OutputPaddingH;
        long fullW = (long)(W - 1) * p.StrideW + (long)p.DilationW * (S - 1) + 1 + p.OutputPaddingW;
        if (fullH > int.MaxValue || fullW > int.MaxValue)
        {
            throw new InvalidHyperparameterException($"{op}: the output before cropping ({fullH}x{fullW}) is larger than {int.MaxValue}; {Describe()}.");
        }
        if (weight is not null && (weight[0] != C || weight[1] != K / p.Groups || weight[2] != R || weight[3] != S))
        {
            throw new InvalidShapeException($"{op}: weight shape {weight} does not match [C, K/groups, R, S] = [{C},{K / p.Groups},{R},{S}]; {Describe()}.");
        }
        if (bias is not null && (bias.Rank != 1 || bias[0] != K))
        {
            throw new InvalidShapeException($"{op}: bias shape {bias} must be [{K}] (one per output channel); {Describe()}.");
        }
        if (P <= 0 || Q <= 0)
        {
            throw new InvalidHyperparameterException($"{op}: the padding {p.Padding} leaves an empty output ({P}x{Q}); {Describe()}.");
        }
    }

    /// <summary>The whole shape without the derived output, safe to call on an invalid problem.</summary>
    public string Describe() => $"N={N} C={C} H={H} W={W} K={K} R={R} S={S} {Params}";

    public override string ToString() => Params.StrideH > 0 && Params.StrideW > 0 ? $"{Describe()} -> P={P} Q={Q}" : Describe();
}
