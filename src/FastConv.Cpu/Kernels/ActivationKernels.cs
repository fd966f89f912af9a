using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FastConv.Backends;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// Element-wise activations over spans for the <c>cpu</c> backend and the conv epilogues, in the
/// TensorPrimitives pattern: one operator struct per activation (scalar, Vector128, Vector256, Vector512
/// <c>Invoke</c>) and one shared loop (<see cref="Run{TOp}"/>) that takes the widest width the SIMD level
/// allows, unrolled 4× (4 independent load/op/store chains hide the load latency; memory-bound ops need no
/// more), with an overlapping final vector computed before the loop so that x and y may be the same span.
/// <para>
/// Relu, LeakyRelu and Clip use the reference's float comparisons; HardSigmoid and HardSwish widen to
/// double like the reference and round once, so all five equal the reference bit for bit (±0 aside where
/// noted). Sigmoid and Tanh use <see cref="VectorMath"/>'s exp (worst errors measured there); their scalar
/// paths evaluate in double like the reference.
/// </para>
/// </summary>
public static class ActivationKernels
{
    public static void Apply(Activation activation, ReadOnlySpan<float> x, Span<float> y) => Apply(activation, x, y, CpuFeatures.Current);

    public static void Apply(Activation activation, ReadOnlySpan<float> x, Span<float> y, SimdLevel level)
    {
        if (y.Length < x.Length)
        {
            throw new InvalidShapeException($"Activation {activation}: output span of {y.Length} is shorter than the input's {x.Length}.");
        }
        if (x.Overlaps(y, out int offset) && offset != 0)
        {
            throw new InvalidShapeException($"Activation {activation}: input and output overlap at an offset of {offset} elements; they must be the same span or disjoint.");
        }
        y = y[..x.Length];
        switch (activation.Kind)
        {
            case ActivationKind.None:
                if (!x.Overlaps(y))
                {
                    x.CopyTo(y);
                }
                break;
            case ActivationKind.Relu: Run(new ReluOperator(), x, y, level); break;
            case ActivationKind.LeakyRelu: Run(new LeakyReluOperator(activation.Alpha), x, y, level); break;
            case ActivationKind.Clip: Run(new ClipOperator(activation.Alpha, activation.Beta), x, y, level); break;
            case ActivationKind.Sigmoid: Run(new SigmoidOperator(), x, y, level); break;
            case ActivationKind.Tanh: Run(new TanhOperator(), x, y, level); break;
            case ActivationKind.HardSigmoid: Run(new HardSigmoidOperator(activation.Alpha, activation.Beta), x, y, level); break;
            case ActivationKind.HardSwish: Run(new HardSwishOperator(), x, y, level); break;
            case ActivationKind.Swish: Run(new SwishOperator(activation.Alpha), x, y, level); break;
            default:
                throw new InvalidHyperparameterException($"Activation: unknown kind {activation.Kind}.");
        }
    }

    /// <summary>
    /// The shared loop: y[i] = op(x[i]) for i &lt; x.Length; y is at least as long as x and is either x itself
    /// or disjoint from it (checked by the caller).
    /// </summary>
    internal static void Run<TOp>(TOp op, ReadOnlySpan<float> x, Span<float> y, SimdLevel level)
        where TOp : struct, IUnaryOperator
    {
        int n = x.Length;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (level >= SimdLevel.Avx512 && n >= Vector512<float>.Count)
        {
            Run512(op, ref xr, ref yr, (nuint)n);
        }
        else if (level >= SimdLevel.Avx2 && n >= Vector256<float>.Count)
        {
            Run256(op, ref xr, ref yr, (nuint)n);
        }
        else if (level >= SimdLevel.Vector128 && n >= Vector128<float>.Count)
        {
            Run128(op, ref xr, ref yr, (nuint)n);
        }
        else
        {
            for (nuint i = 0; i < (nuint)n; i++)
            {
                Unsafe.Add(ref yr, i) = op.Invoke(Unsafe.Add(ref xr, i));
            }
        }
    }

    // n ≥ one vector. The last vector is computed from x before anything is stored, so in place works.
    private static void Run512<TOp>(TOp op, ref float x, ref float y, nuint n) where TOp : struct, IUnaryOperator
    {
        const int V = 16;
        Vector512<float> end = op.Invoke(Vector512.LoadUnsafe(ref x, n - V));
        nuint i = 0;
        for (; i + 4 * V <= n; i += 4 * V)
        {
            Vector512<float> a = op.Invoke(Vector512.LoadUnsafe(ref x, i));
            Vector512<float> b = op.Invoke(Vector512.LoadUnsafe(ref x, i + V));
            Vector512<float> c = op.Invoke(Vector512.LoadUnsafe(ref x, i + 2 * V));
            Vector512<float> d = op.Invoke(Vector512.LoadUnsafe(ref x, i + 3 * V));
            a.StoreUnsafe(ref y, i);
            b.StoreUnsafe(ref y, i + V);
            c.StoreUnsafe(ref y, i + 2 * V);
            d.StoreUnsafe(ref y, i + 3 * V);
        }
        for (; i + V <= n; i += V)
        {
            op.Invoke(Vector512.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        }
        if (i < n)
        {
            end.StoreUnsafe(ref y, n - V);
        }
    }

    private static void Run256<TOp>(TOp op, ref float x, ref float y, nuint n) where TOp : struct, IUnaryOperator
    {
        const int V = 8;
        Vector256<float> end = op.Invoke(Vector256.LoadUnsafe(ref x, n - V));
        nuint i = 0;
        for (; i + 4 * V <= n; i += 4 * V)
        {
            Vector256<float> a = op.Invoke(Vector256.LoadUnsafe(ref x, i));
            Vector256<float> b = op.Invoke(Vector256.LoadUnsafe(ref x, i + V));
            Vector256<float> c = op.Invoke(Vector256.LoadUnsafe(ref x, i + 2 * V));
            Vector256<float> d = op.Invoke(Vector256.LoadUnsafe(ref x, i + 3 * V));
            a.StoreUnsafe(ref y, i);
            b.StoreUnsafe(ref y, i + V);
            c.StoreUnsafe(ref y, i + 2 * V);
            d.StoreUnsafe(ref y, i + 3 * V);
        }
        for (; i + V <= n; i += V)
        {
            op.Invoke(Vector256.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        }
        if (i < n)
        {
            end.StoreUnsafe(ref y, n - V);
        }
    }

    private static void Run128<TOp>(TOp op, ref float x, ref float y, nuint n) where TOp : struct, IUnaryOperator
    {
        const int V = 4;
        Vector128<float> end = op.Invoke(Vector128.LoadUnsafe(ref x, n - V));
        nuint i = 0;
        for (; i + 4 * V <= n; i += 4 * V)
        {
            Vector128<float> a = op.Invoke(Vector128.LoadUnsafe(ref x, i));
            Vector128<float> b = op.Invoke(Vector128.LoadUnsafe(ref x, i + V));
            Vector128<float> c = op.Invoke(Vector128.LoadUnsafe(ref x, i + 2 * V));
            Vector128<float> d = op.Invoke(Vector128.LoadUnsafe(ref x, i + 3 * V));
            a.StoreUnsafe(ref y, i);
            b.StoreUnsafe(ref y, i + V);
            c.StoreUnsafe(ref y, i + 2 * V);
            d.StoreUnsafe(ref y, i + 3 * V);
        }
        for (; i + V <= n; i += V)
        {
            op.Invoke(Vector128.LoadUnsafe(ref x, i)).StoreUnsafe(ref y, i);
        }
        if (i < n)
        {
            end.StoreUnsafe(ref y, n - V);
        }
    }
}

/// <summary>An element-wise float operator at every width (TensorPrimitives' <c>IUnaryOperator</c>).</summary>
internal interface IUnaryOperator
{
    float Invoke(float x);
    Vector128<float> Invoke(Vector128<float> x);
    Vector256<float> Invoke(Vector256<float> x);
    Vector512<float> Invoke(Vector512<float> x);
}

/// <summary>The identity (for the epilogue without activation).</summary>
internal readonly struct IdentityOperator : IUnaryOperator
{
    public float Invoke(float x) => x;
    public Vector128<float> Invoke(Vector128<float> x) => x;
    public Vector256<float> Invoke(Vector256<float> x) => x;
    public Vector512<float> Invoke(Vector512<float> x) => x;
}

/// <summary>
/// <c>x &lt; 0 ? 0 : x</c> as <c>RefMax(0, x)</c> = <c>0 &gt; x ? 0 : x</c>: NaN and −0 come back as they went in, like the reference.
/// </summary>
internal readonly struct ReluOperator : IUnaryOperator
{
    public float Invoke(float x) => x < 0f ? 0f : x;
    public Vector128<float> Invoke(Vector128<float> x) => VectorMath.RefMax(Vector128<float>.Zero, x);
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.RefMax(Vector256<float>.Zero, x);
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.RefMax(Vector512<float>.Zero, x);
}

/// <summary><c>x &lt; 0 ? alpha·x : x</c>.</summary>
internal readonly struct LeakyReluOperator(float alpha) : IUnaryOperator
{
    public float Invoke(float x) => x < 0f ? alpha * x : x;
    public Vector128<float> Invoke(Vector128<float> x) => Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), x * alpha, x);
    public Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), x * alpha, x);
    public Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), x * alpha, x);
}

/// <summary>
/// The reference's <c>v = v &lt; min ? min : v; v = v &gt; max ? max : v</c> as <c>RefMin(max, RefMax(min, v))</c>
/// (same comparisons, same operand returned on ties and NaN).
/// </summary>
internal readonly struct ClipOperator(float min, float max) : IUnaryOperator
{
    public float Invoke(float x)
    {
        x = x < min ? min : x;
        return x > max ? max : x;
    }

    public Vector128<float> Invoke(Vector128<float> x) => VectorMath.RefMin(Vector128.Create(max), VectorMath.RefMax(Vector128.Create(min), x));
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.RefMin(Vector256.Create(max), VectorMath.RefMax(Vector256.Create(min), x));
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.RefMin(Vector512.Create(max), VectorMath.RefMax(Vector512.Create(min), x));
}

/// <summary>
/// <c>1 / (1 + exp(−x))</c> as <c>num / (1 + t)</c> with <c>t = exp(−|x|)</c> and <c>num = x &lt; 0 ? t : 1</c>:
/// exp never overflows, and for x &lt; 0 the small result keeps its relative accuracy. Errors: see <see cref="VectorMath"/>.
/// </summary>
internal readonly struct SigmoidOperator : IUnaryOperator
{
    public float Invoke(float x) => (float)(1.0 / (1.0 + Math.Exp(-(double)x)));

    public Vector128<float> Invoke(Vector128<float> x)
    {
        Vector128<float> t = VectorMath.Exp(-Vector128.Abs(x));
        return Vector128.ConditionalSelect(Vector128.LessThan(x, Vector128<float>.Zero), t, Vector128<float>.One) / (Vector128<float>.One + t);
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        Vector256<float> t = VectorMath.Exp(-Vector256.Abs(x));
        return Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), t, Vector256<float>.One) / (Vector256<float>.One + t);
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        Vector512<float> t = VectorMath.Exp(-Vector512.Abs(x));
        return Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), t, Vector512<float>.One) / (Vector512<float>.One + t);
    }
}

/// <summary>tanh: see <see cref="VectorMath.Tanh(Vector512{float})"/>; the scalar path is the reference's double tanh.</summary>
internal readonly struct TanhOperator : IUnaryOperator
{
    public float Invoke(float x) => (float)Math.Tanh(x);
    public Vector128<float> Invoke(Vector128<float> x) => VectorMath.Tanh(x);
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Tanh(x);
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Tanh(x);
}

/// <summary>
/// <c>max(0, min(1, alpha·x + beta))</c> in double like the reference (alpha·x is exact in double, the add
/// rounds once, the narrowing once more), so the result is the reference's bit for bit. The final <c>+ 0</c>
/// turns a −0 into +0 as Math.Max(0.0, −0.0) does.
/// </summary>
internal readonly struct HardSigmoidOperator(float alpha, float beta) : IUnaryOperator
{
    public float Invoke(float x) => (float)Math.Max(0.0, Math.Min(1.0, (double)alpha * x + beta));

    public Vector128<float> Invoke(Vector128<float> x)
    {
        (Vector128<double> lo, Vector128<double> hi) = Vector128.Widen(x);
        return Vector128.Narrow(Core(lo), Core(hi));
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        return Vector256.Narrow(Core(lo), Core(hi));
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(x);
        return Vector512.Narrow(Core(lo), Core(hi));
    }

    private Vector128<double> Core(Vector128<double> v)
        => VectorMath.RefMax(Vector128<double>.Zero, VectorMath.RefMin(Vector128<double>.One, v * (double)alpha + Vector128.Create((double)beta))) + Vector128<double>.Zero;

    private Vector256<double> Core(Vector256<double> v)
        => VectorMath.RefMax(Vector256<double>.Zero, VectorMath.RefMin(Vector256<double>.One, v * (double)alpha + Vector256.Create((double)beta))) + Vector256<double>.Zero;

    private Vector512<double> Core(Vector512<double> v)
        => VectorMath.RefMax(Vector512<double>.Zero, VectorMath.RefMin(Vector512<double>.One, v * (double)alpha + Vector512.Create((double)beta))) + Vector512<double>.Zero;
}

/// <summary>
/// <c>x·sigmoid(alpha·x)</c> (Swish; SiLU at alpha = 1): the scalar path is the reference's double formula; the vector
/// paths reuse <see cref="SigmoidOperator"/>'s float sigmoid (VectorMath.Exp, a few ulp) and one multiply.
/// </summary>
internal readonly struct SwishOperator(float alpha) : IUnaryOperator
{
    public float Invoke(float x) => (float)(x / (1.0 + Math.Exp(-(double)alpha * x)));

    public Vector128<float> Invoke(Vector128<float> x) => x * new SigmoidOperator().Invoke(x * Vector128.Create(alpha));

    public Vector256<float> Invoke(Vector256<float> x) => x * new SigmoidOperator().Invoke(x * Vector256.Create(alpha));

    public Vector512<float> Invoke(Vector512<float> x) => x * new SigmoidOperator().Invoke(x * Vector512.Create(alpha));
}

/// <summary><c>x·max(0, min(1, x/6 + 0.5))</c> in double like the reference, rounded once: bit for bit the reference's.</summary>
internal readonly struct HardSwishOperator : IUnaryOperator
{
    public float Invoke(float x)
    {
        double v = x;
        return (float)(v * Math.Max(0.0, Math.Min(1.0, v / 6.0 + 0.5)));
    }

    public Vector128<float> Invoke(Vector128<float> x)
    {
        (Vector128<double> lo, Vector128<double> hi) = Vector128.Widen(x);
        return Vector128.Narrow(Core(lo), Core(hi));
    }

    public Vector256<float> Invoke(Vector256<float> x)
    {
        (Vector256<double> lo, Vector256<double> hi) = Vector256.Widen(x);
        return Vector256.Narrow(Core(lo), Core(hi));
    }

    public Vector512<float> Invoke(Vector512<float> x)
    {
        (Vector512<double> lo, Vector512<double> hi) = Vector512.Widen(x);
        return Vector512.Narrow(Core(lo), Core(hi));
    }

    private static Vector128<double> Core(Vector128<double> v)
        => v * VectorMath.RefMax(Vector128<double>.Zero, VectorMath.RefMin(Vector128<double>.One, v / 6.0 + Vector128.Create(0.5)));

    private static Vector256<double> Core(Vector256<double> v)
        => v * VectorMath.RefMax(Vector256<double>.Zero, VectorMath.RefMin(Vector256<double>.One, v / 6.0 + Vector256.Create(0.5)));

    private static Vector512<double> Core(Vector512<double> v)
        => v * VectorMath.RefMax(Vector512<double>.Zero, VectorMath.RefMin(Vector512<double>.One, v / 6.0 + Vector512.Create(0.5)));
}

/// <summary><c>exp(x)</c> as an operator (Softmax's exponentials); the scalar path is the double exp rounded once.</summary>
internal readonly struct ExpOperator : IUnaryOperator
{
    public float Invoke(float x) => (float)Math.Exp(x);
    public Vector128<float> Invoke(Vector128<float> x) => VectorMath.Exp(x);
    public Vector256<float> Invoke(Vector256<float> x) => VectorMath.Exp(x);
    public Vector512<float> Invoke(Vector512<float> x) => VectorMath.Exp(x);
}
