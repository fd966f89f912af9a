using FastConv.Backends;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// A conv epilogue prepared at plan time for the CPU paths: bias, Scale and Shift folded into one
/// multiply-add per output channel (<c>z·Mul[k] + Add[k]</c>, Add = bias·Scale + Shift), then the residual,
/// then the activation. Paths call <see cref="Apply"/> on each finished piece of an output channel while it
/// is still in cache, so the output is written once.
/// </summary>
public sealed class CpuEpilogue
{
    private readonly float[]? _mul;
    private readonly float[]? _add;

    public CpuEpilogue(int k, ReadOnlySpan<float> bias, ConvEpilogue epilogue)
    {
        ArgumentNullException.ThrowIfNull(epilogue);
        if (epilogue.Scale is not null)
        {
            _mul = (float[])epilogue.Scale.Clone();
        }
        if (!bias.IsEmpty || epilogue.Shift is not null)
        {
            _add = new float[k];
            for (int i = 0; i < k; i++)
            {
                float b = bias.IsEmpty ? 0f : bias[i];
                _add[i] = (_mul is null ? b : b * _mul[i]) + (epilogue.Shift?[i] ?? 0f);
            }
        }
        AddResidual = epilogue.AddResidual;
        Activation = epilogue.Activation;
    }

    public bool AddResidual { get; }
    public Activation Activation { get; }

    /// <summary>True when the epilogue does nothing (no bias, scale, shift, residual or activation).</summary>
    public bool IsIdentity => _mul is null && _add is null && !AddResidual && Activation.Kind == ActivationKind.None;

    /// <summary>
    /// Finishes <paramref name="values"/>, a contiguous piece of output channel <paramref name="k"/>, in place;
    /// <paramref name="residual"/> is the matching piece of the residual tensor (empty when none is added).
    /// </summary>
    public void Apply(int k, Span<float> values, ReadOnlySpan<float> residual)
    {
        float mul = _mul?[k] ?? 1f, add = _add?[k] ?? 0f;
        if (_mul is not null || _add is not null)
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = values[i] * mul + add;
            }
        }
        if (AddResidual)
        {
            for (int i = 0; i < values.Length; i++)
            {
                values[i] += residual[i];
            }
        }
        if (Activation.Kind != ActivationKind.None)
        {
            ActivationKernels.Apply(Activation, values, values);
        }
    }
}
