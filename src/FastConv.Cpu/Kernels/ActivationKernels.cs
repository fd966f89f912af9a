using FastConv.Backends;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Element-wise activations over spans for the <c>cpu</c> backend and the conv epilogues. x and y may be
/// the same span. Float arithmetic throughout; transcendental functions use MathF.
/// </summary>
public static class ActivationKernels
{
    public static void Apply(Activation activation, ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length)
        {
            throw new InvalidShapeException($"Activation {activation}: output span of {y.Length} is shorter than the input's {x.Length}.");
        }
        switch (activation.Kind)
        {
            case ActivationKind.None:
                if (!x.Overlaps(y))
                {
                    x.CopyTo(y);
                }
                break;
            case ActivationKind.Relu:
                for (int i = 0; i < x.Length; i++)
                {
                    y[i] = x[i] < 0f ? 0f : x[i];
                }
                break;
            case ActivationKind.LeakyRelu:
                for (int i = 0; i < x.Length; i++)
                {
                    y[i] = x[i] < 0f ? activation.Alpha * x[i] : x[i];
                }
                break;
            case ActivationKind.Clip:
                for (int i = 0; i < x.Length; i++)
                {
                    float v = x[i];
                    y[i] = v < activation.Alpha ? activation.Alpha : v > activation.Beta ? activation.Beta : v;
                }
                break;
            case ActivationKind.Sigmoid:
                for (int i = 0; i < x.Length; i++)
                {
                    y[i] = 1f / (1f + MathF.Exp(-x[i]));
                }
                break;
            case ActivationKind.Tanh:
                for (int i = 0; i < x.Length; i++)
                {
                    y[i] = MathF.Tanh(x[i]);
                }
                break;
            case ActivationKind.HardSigmoid:
                for (int i = 0; i < x.Length; i++)
                {
                    y[i] = Math.Clamp(activation.Alpha * x[i] + activation.Beta, 0f, 1f);
                }
                break;
            case ActivationKind.HardSwish:
                for (int i = 0; i < x.Length; i++)
                {
                    y[i] = x[i] * Math.Clamp(x[i] / 6f + 0.5f, 0f, 1f);
                }
                break;
            default:
                throw new InvalidHyperparameterException($"Activation: unknown kind {activation.Kind}.");
        }
    }
}
