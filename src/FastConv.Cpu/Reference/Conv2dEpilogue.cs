using FastConv.Backends;
using FastConv.Ops;

namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Applies an activation by calling the reference op it names (so each activation has one definition):
    /// None copies, Relu, LeakyRelu(Alpha), Clip(Alpha, Beta), Sigmoid, Tanh, HardSigmoid(Alpha, Beta), HardSwish, Swish(Alpha).
    /// </summary>
    public static void Activation(Tensor x, Activation activation, Tensor y)
    {
        switch (activation.Kind)
        {
            case ActivationKind.None:
                RequireShape(y, x.Shape, "output", "Activation", $"input {x.Shape}");
                x.Span.CopyTo(y.Span);
                break;
            case ActivationKind.Relu: Relu(x, y); break;
            case ActivationKind.LeakyRelu: LeakyRelu(x, activation.Alpha, y); break;
            case ActivationKind.Clip: Clip(x, activation.Alpha, activation.Beta, y); break;
            case ActivationKind.Sigmoid: Sigmoid(x, y); break;
            case ActivationKind.Tanh: Tanh(x, y); break;
            case ActivationKind.HardSigmoid: HardSigmoid(x, new HardSigmoidParams { Alpha = activation.Alpha, Beta = activation.Beta }, y); break;
            case ActivationKind.HardSwish: HardSwish(x, y); break;
            case ActivationKind.Swish: Swish(x, activation.Alpha, y); break;
            default: throw new InvalidHyperparameterException($"Activation: unknown kind {activation.Kind}.");
        }
    }

    /// <summary>
    /// Conv2d followed by its epilogue, unfused, as the definition of what a fused kernel must compute:
    /// <c>z = conv(x, w) + bias; z = Scale[k]·z + Shift[k]; z += residual; y = activation(z)</c>
    /// (each step only when the epilogue asks for it; see <see cref="ConvEpilogue"/>). Every step rounds to float.
    /// </summary>
    public static void Conv2dFused(Tensor x, Tensor w, Tensor? bias, Conv2dParams p, ConvEpilogue epilogue, Tensor? residual, Tensor y)
    {
        var s = Conv2dShape.From(x.Shape, w.Shape, p, bias?.Shape);
        epilogue.Validate(s.K, s.ToString());
        if (epilogue.AddResidual != residual is not null)
        {
            throw new InvalidShapeException($"Conv2d: the epilogue {(epilogue.AddResidual ? "adds a residual but none was given" : "adds no residual but one was given")}; {s}.");
        }
        if (residual is not null)
        {
            RequireShape(residual, s.OutputShape, "residual", "Conv2d", s.ToString());
        }
        Conv2d(x, w, bias, p, y);
        Span<float> ys = y.Span;
        int plane = s.P * s.Q;
        if (epilogue.Scale is not null || epilogue.Shift is not null)
        {
            for (int n = 0; n < s.N; n++)
            {
                for (int k = 0; k < s.K; k++)
                {
                    float scale = epilogue.Scale?[k] ?? 1f, shift = epilogue.Shift?[k] ?? 0f;
                    Span<float> yk = ys.Slice((n * s.K + k) * plane, plane);
                    for (int i = 0; i < plane; i++)
                    {
                        yk[i] = scale * yk[i] + shift;
                    }
                }
            }
        }
        if (residual is not null)
        {
            ReadOnlySpan<float> rs = residual.Span;
            for (int i = 0; i < ys.Length; i++)
            {
                ys[i] += rs[i];
            }
        }
        Activation(y, epilogue.Activation, y);
    }
}
