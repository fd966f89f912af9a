namespace FastConv.Backends;

/// <summary>The activations a conv epilogue or an element-wise plan can apply.</summary>
public enum ActivationKind
{
    None,
    Relu,
    /// <summary><c>x ≥ 0 ? x : Alpha·x</c>.</summary>
    LeakyRelu,
    /// <summary><c>min(max(x, Alpha), Beta)</c>; Relu6 is Clip(0, 6).</summary>
    Clip,
    Sigmoid,
    Tanh,
    /// <summary><c>max(0, min(1, Alpha·x + Beta))</c>.</summary>
    HardSigmoid,
    /// <summary><c>x·max(0, min(1, x/6 + 1/2))</c>.</summary>
    HardSwish,
    /// <summary><c>x·sigmoid(Alpha·x)</c> (ONNX Swish, opset 24); SiLU is Alpha = 1.</summary>
    Swish,
}

/// <summary>An activation with its parameters (Alpha and Beta mean what <see cref="ActivationKind"/> says).</summary>
public readonly record struct Activation(ActivationKind Kind, float Alpha = 0f, float Beta = 0f)
{
    public static Activation None => new(ActivationKind.None);
    public static Activation Relu => new(ActivationKind.Relu);
    public static Activation Relu6 => new(ActivationKind.Clip, 0f, 6f);
    public static Activation LeakyRelu(float alpha = 0.01f) => new(ActivationKind.LeakyRelu, alpha);
    public static Activation Clip(float min, float max) => new(ActivationKind.Clip, min, max);
    public static Activation Sigmoid => new(ActivationKind.Sigmoid);
    public static Activation Tanh => new(ActivationKind.Tanh);
    public static Activation HardSigmoid(float alpha = 0.2f, float beta = 0.5f) => new(ActivationKind.HardSigmoid, alpha, beta);
    public static Activation HardSwish => new(ActivationKind.HardSwish);
    public static Activation Swish(float alpha = 1f) => new(ActivationKind.Swish, alpha);

    public override string ToString() => Kind switch
    {
        ActivationKind.LeakyRelu => $"LeakyRelu({Alpha:R})",
        ActivationKind.Clip => $"Clip({Alpha:R},{Beta:R})",
        ActivationKind.HardSigmoid => $"HardSigmoid({Alpha:R},{Beta:R})",
        ActivationKind.Swish => $"Swish({Alpha:R})",
        _ => Kind.ToString(),
    };
}

/// <summary>
/// What a convolution does to its sums before writing them, fused so the output is written once:
/// <code>
/// z = Σ x·w + bias[k]
/// z = Scale[k]·z + Shift[k]      (when Scale is set: batch-norm folded in, Scale = γ/√(σ²+ε), Shift = β − μ·Scale)
/// z = z + residual[n,k,p,q]      (when AddResidual: the ResNet shortcut, added before the activation)
/// y = Activation(z)
/// </code>
/// </summary>
public sealed record ConvEpilogue
{
    public static ConvEpilogue None { get; } = new();

    /// <summary>Per output channel multiplier (folded batch-norm), or null.</summary>
    public float[]? Scale { get; init; }
    /// <summary>Per output channel offset added after <see cref="Scale"/>, or null.</summary>
    public float[]? Shift { get; init; }
    /// <summary>Execute receives a residual tensor of the output's shape, added before the activation.</summary>
    public bool AddResidual { get; init; }
    public Activation Activation { get; init; } = Activation.None;

    /// <summary>Throws unless Scale and Shift have one value per output channel.</summary>
    public void Validate(int k, string problem)
    {
        if (Scale is not null && Scale.Length != k)
        {
            throw new InvalidShapeException($"Conv2d epilogue: Scale has {Scale.Length} values, expected one per output channel (K={k}); {problem}.");
        }
        if (Shift is not null && Shift.Length != k)
        {
            throw new InvalidShapeException($"Conv2d epilogue: Shift has {Shift.Length} values, expected one per output channel (K={k}); {problem}.");
        }
    }

    public override string ToString()
        => $"scale={(Scale is null ? "no" : "yes")} shift={(Shift is null ? "no" : "yes")} residual={AddResidual} act={Activation}";
}
