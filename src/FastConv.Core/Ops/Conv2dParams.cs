namespace FastConv.Ops;

/// <summary>Hyperparameters of a 2-D convolution (ONNX <c>Conv</c>, PyTorch <c>Conv2d</c>).</summary>
public sealed record Conv2dParams
{
    public int StrideH { get; init; } = 1;
    public int StrideW { get; init; } = 1;
    public Padding2d Padding { get; init; }
    public int DilationH { get; init; } = 1;
    public int DilationW { get; init; } = 1;
    /// <summary>Channel groups: 1 is a dense conv; C = K = groups is depthwise.</summary>
    public int Groups { get; init; } = 1;

    public static Conv2dParams Create(int stride = 1, int pad = 0, int dilation = 1, int groups = 1)
        => new() { StrideH = stride, StrideW = stride, Padding = Padding2d.Symmetric(pad), DilationH = dilation, DilationW = dilation, Groups = groups };

    public override string ToString()
        => $"pad={Padding} stride=({StrideH},{StrideW}) dilation=({DilationH},{DilationW}) groups={Groups}";
}

/// <summary>
/// A validated convolution problem: input N×C×H×W, weights K×(C/groups)×R×S, output N×K×P×Q.
/// <see cref="ToString"/> names the whole shape; every error and test failure message uses it.
/// </summary>
public readonly record struct Conv2dShape(int N, int C, int H, int W, int K, int R, int S, Conv2dParams Params)
{
    public int P => OutputSize.Conv(H, R, Params.StrideH, Params.Padding.Top, Params.Padding.Bottom, Params.DilationH);
    public int Q => OutputSize.Conv(W, S, Params.StrideW, Params.Padding.Left, Params.Padding.Right, Params.DilationW);
    public int Groups => Params.Groups;
    public int InputChannelsPerGroup => C / Params.Groups;
    public int OutputChannelsPerGroup => K / Params.Groups;

    public TensorShape InputShape => TensorShape.Of(N, C, H, W);
    public TensorShape WeightShape => TensorShape.Of(K, C / Params.Groups, R, S);
    public TensorShape OutputShape => TensorShape.Of(N, K, P, Q);

    /// <summary>Multiply-adds counted as 2 FLOPs: <c>2·N·K·(C/groups)·R·S·P·Q</c>.</summary>
    public long Flops => 2L * N * K * InputChannelsPerGroup * R * S * P * Q;

    /// <summary>Builds and validates a problem from the input and weight shapes (and optional bias shape).</summary>
    public static Conv2dShape From(TensorShape input, TensorShape weight, Conv2dParams p, TensorShape? bias = null)
    {
        const string op = "Conv2d";
        if (input.Rank != 4 || weight.Rank != 4)
        {
            throw new InvalidShapeException($"{op}: input and weight must be rank 4 (NCHW and KCRS); got input {input} (rank {input.Rank}) and weight {weight} (rank {weight.Rank}); {p}.");
        }
        var s = new Conv2dShape(input[0], input[1], input[2], input[3], weight[0], weight[2], weight[3], p);
        s.Validate(weight, bias);
        return s;
    }

    /// <summary>Throws a typed exception naming the bad value and the whole shape, or returns quietly.</summary>
    public void Validate(TensorShape? weight = null, TensorShape? bias = null)
    {
        const string op = "Conv2d";
        var p = Params;
        WindowChecks.StrideDilationPadding(op, p.StrideH, p.StrideW, p.DilationH, p.DilationW, p.Padding, Describe());
        if (p.Groups <= 0)
        {
            throw new InvalidHyperparameterException($"{op}: groups must be >= 1, got {p.Groups}; {Describe()}.");
        }
        if (N <= 0 || C <= 0 || H <= 0 || W <= 0 || K <= 0 || R <= 0 || S <= 0)
        {
            throw new InvalidShapeException($"{op}: every dimension must be >= 1; {Describe()}.");
        }
        if (C % p.Groups != 0 || K % p.Groups != 0)
        {
            throw new InvalidShapeException($"{op}: input channels C={C} and output channels K={K} must both be divisible by groups={p.Groups}; {Describe()}.");
        }
        if (weight is not null && (weight[0] != K || weight[1] != C / p.Groups || weight[2] != R || weight[3] != S))
        {
            throw new InvalidShapeException($"{op}: weight shape {weight} does not match [K, C/groups, R, S] = [{K},{C / p.Groups},{R},{S}]; {Describe()}.");
        }
        if (bias is not null && (bias.Rank != 1 || bias[0] != K))
        {
            throw new InvalidShapeException($"{op}: bias shape {bias} must be [{K}] (one per output channel); {Describe()}.");
        }
        WindowChecks.WindowFitsPaddedInput(op, "dilated kernel", H, W, R, S, p.DilationH, p.DilationW, p.Padding, Describe());
    }

    /// <summary>The whole shape without the derived output, safe to call on an invalid problem.</summary>
    public string Describe() => $"N={N} C={C} H={H} W={W} K={K} R={R} S={S} {Params}";

    public override string ToString() => Params.StrideH > 0 && Params.StrideW > 0 ? $"{Describe()} -> P={P} Q={Q}" : Describe();
}
