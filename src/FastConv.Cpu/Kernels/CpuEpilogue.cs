using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FastConv.Backends;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// A conv epilogue prepared at plan time for the CPU paths: bias, Scale and Shift folded into one
/// multiply-add per output channel (<c>z·Mul[k] + Add[k]</c>, Add = bias·Scale + Shift), then the residual,
/// then the activation. Paths call <see cref="Apply"/> on each finished piece of an output channel while it
/// is still in cache, so the output is written once.
/// <para>
/// <see cref="Apply"/> is one fused pass per vector — load, fma, add the residual, activation, store — at the
/// widest width the SIMD level allows (the loop of <see cref="ActivationKernels"/>, with its overlapping
/// final vector computed before any store so the in-place update is safe). The fma rounds once where the
/// reference rounds twice (multiply, then add): half an ulp of difference, inside every conv tolerance.
/// </para>
/// </summary>
public sealed class CpuEpilogue
{
    private readonly float[]? _mul;
    private readonly float[]? _add;
    private readonly SimdLevel _level;

    public CpuEpilogue(int k, ReadOnlySpan<float> bias, ConvEpilogue epilogue, SimdLevel? level = null)
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
        _level = level ?? CpuFeatures.Current;
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
        if (AddResidual && residual.Length < values.Length)
        {
            throw new InvalidShapeException($"Conv2d epilogue: residual piece of {residual.Length} values is shorter than the output piece of {values.Length}.");
        }
        bool affine = _mul is not null || _add is not null;
        if (!affine && !AddResidual)
        {
            ActivationKernels.Apply(Activation, values, values, _level);
            return;
        }
        float mul = _mul?[k] ?? 1f, add = _add?[k] ?? 0f;
        Activation a = Activation;
        switch (a.Kind)
        {
            case ActivationKind.None: Fused(new IdentityOperator(), mul, add, values, residual); break;
            case ActivationKind.Relu: Fused(new ReluOperator(), mul, add, values, residual); break;
            case ActivationKind.LeakyRelu: Fused(new LeakyReluOperator(a.Alpha), mul, add, values, residual); break;
            case ActivationKind.Clip: Fused(new ClipOperator(a.Alpha, a.Beta), mul, add, values, residual); break;
            case ActivationKind.Sigmoid: Fused(new SigmoidOperator(), mul, add, values, residual); break;
            case ActivationKind.Tanh: Fused(new TanhOperator(), mul, add, values, residual); break;
            case ActivationKind.HardSigmoid: Fused(new HardSigmoidOperator(a.Alpha, a.Beta), mul, add, values, residual); break;
            case ActivationKind.HardSwish: Fused(new HardSwishOperator(), mul, add, values, residual); break;
            case ActivationKind.Swish: Fused(new SwishOperator(a.Alpha), mul, add, values, residual); break;
            default: throw new InvalidHyperparameterException($"Activation: unknown kind {a.Kind}.");
        }
    }

    /// <summary>Whether <see cref="TryApplyBlocked(int, int, float*, int, int, float*)"/> has a form for <paramref name="a"/>.</summary>
    public static bool HasBlockedForm(Activation a) => a.Kind is ActivationKind.None or ActivationKind.Relu or ActivationKind.LeakyRelu
        or ActivationKind.Clip or ActivationKind.Sigmoid or ActivationKind.Tanh or ActivationKind.HardSigmoid or ActivationKind.HardSwish;

    /// <summary>
    /// Finishes a channel-blocked tile in place — [pixels][lanes], lane l holding output channel k0 + l for
    /// l &lt; <paramref name="channels"/> — with per-lane multiply-add vectors and the activation at full width, so
    /// a channel-blocked kernel pays one vector pass per tile instead of one call per channel and piece. Returns
    /// false, doing nothing, when a residual is added (the residual is NCHW: the caller applies <see cref="Apply"/>
    /// to the NCHW rows instead). Lanes past <paramref name="channels"/> get an identity affine step.
    /// </summary>
    public unsafe bool TryApplyBlocked(int k0, int channels, float* tile, int pixels, int lanes) => TryApplyBlocked(k0, channels, tile, pixels, lanes, null);

    /// <summary>
    /// As above with the residual in the same blocked layout as the tile (<paramref name="residual"/>[j·lanes + l]),
    /// added after the multiply-add and before the activation like <see cref="Apply"/>; null when there is none.
    /// </summary>
    public unsafe bool TryApplyBlocked(int k0, int channels, float* tile, int pixels, int lanes, float* residual)
    {
        if (AddResidual != (residual != null) || lanes > 16)
        {
            return false;
        }
        Activation a = Activation;
        switch (a.Kind)
        {
            case ActivationKind.None: Blocked(new IdentityOperator(), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.Relu: Blocked(new ReluOperator(), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.LeakyRelu: Blocked(new LeakyReluOperator(a.Alpha), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.Clip: Blocked(new ClipOperator(a.Alpha, a.Beta), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.Sigmoid: Blocked(new SigmoidOperator(), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.Tanh: Blocked(new TanhOperator(), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.HardSigmoid: Blocked(new HardSigmoidOperator(a.Alpha, a.Beta), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.HardSwish: Blocked(new HardSwishOperator(), k0, channels, tile, pixels, lanes, residual); break;
            case ActivationKind.Swish: Blocked(new SwishOperator(a.Alpha), k0, channels, tile, pixels, lanes, residual); break;
            default: return false;
        }
        return true;
    }

    private unsafe void Blocked<TOp>(TOp op, int k0, int channels, float* tile, int pixels, int lanes, float* residual)
        where TOp : struct, IUnaryOperator
    {
        if (residual != null)
        {
            Blocked<TOp, WithResidual>(op, k0, channels, tile, pixels, lanes, residual);
        }
        else
        {
            Blocked<TOp, NoResidual>(op, k0, channels, tile, pixels, lanes, residual);
        }
    }

    private unsafe void Blocked<TOp, TRes>(TOp op, int k0, int channels, float* tile, int pixels, int lanes, float* residual)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        bool affine = _mul is not null || _add is not null;
        float* m = stackalloc float[16];
        float* ad = stackalloc float[16];
        for (int l = 0; l < 16; l++)
        {
            bool valid = l < channels && l < lanes;
            m[l] = valid && _mul is not null ? _mul[k0 + l] : 1f;
            ad[l] = valid && _add is not null ? _add[k0 + l] : 0f;
        }
        if (lanes == 16 && Vector512.IsHardwareAccelerated)
        {
            Vector512<float> vm = Vector512.Load(m), va = Vector512.Load(ad);
            for (int j = 0; j < pixels; j++)
            {
                float* p = tile + j * 16;
                Vector512<float> z = Vector512.Load(p);
                z = affine ? Vector512.FusedMultiplyAdd(z, vm, va) : z;
                op.Invoke(TRes.On ? z + Vector512.Load(residual + j * 16) : z).Store(p);
            }
        }
        else if (lanes == 8 && Vector256.IsHardwareAccelerated)
        {
            Vector256<float> vm = Vector256.Load(m), va = Vector256.Load(ad);
            for (int j = 0; j < pixels; j++)
            {
                float* p = tile + j * 8;
                Vector256<float> z = Vector256.Load(p);
                z = affine ? Vector256.FusedMultiplyAdd(z, vm, va) : z;
                op.Invoke(TRes.On ? z + Vector256.Load(residual + j * 8) : z).Store(p);
            }
        }
        else if (lanes == 4 && Vector128.IsHardwareAccelerated)
        {
            Vector128<float> vm = Vector128.Load(m), va = Vector128.Load(ad);
            for (int j = 0; j < pixels; j++)
            {
                float* p = tile + j * 4;
                Vector128<float> z = Vector128.Load(p);
                z = affine ? Vector128.FusedMultiplyAdd(z, vm, va) : z;
                op.Invoke(TRes.On ? z + Vector128.Load(residual + j * 4) : z).Store(p);
            }
        }
        else
        {
            for (int j = 0; j < pixels; j++)
            {
                for (int l = 0; l < lanes; l++)
                {
                    float z = tile[j * lanes + l];
                    z = affine ? MathF.FusedMultiplyAdd(z, m[l], ad[l]) : z;
                    tile[j * lanes + l] = op.Invoke(TRes.On ? z + residual[j * lanes + l] : z);
                }
            }
        }
    }

    private void Fused<TOp>(TOp op, float mul, float add, Span<float> values, ReadOnlySpan<float> residual)
        where TOp : struct, IUnaryOperator
    {
        if (AddResidual)
        {
            Fused<TOp, WithResidual>(op, mul, add, values, residual, _level);
        }
        else
        {
            Fused<TOp, NoResidual>(op, mul, add, values, residual, _level);
        }
    }

    /// <summary>v = op(fma(v, mul, add) [+ residual]) over <paramref name="values"/>, one pass.</summary>
    private static void Fused<TOp, TRes>(TOp op, float mul, float add, Span<float> values, ReadOnlySpan<float> residual, SimdLevel level)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        nuint n = (nuint)values.Length;
        ref float v = ref MemoryMarshal.GetReference(values);
        ref float r = ref MemoryMarshal.GetReference(residual);
        if (level >= SimdLevel.Avx512 && n >= 16)
        {
            const int V = 16;
            Vector512<float> m = Vector512.Create(mul), a = Vector512.Create(add);
            Vector512<float> end = Step512<TOp, TRes>(op, m, a, ref v, ref r, n - V);
            nuint i = 0;
            for (; i + 2 * V <= n; i += 2 * V)
            {
                Vector512<float> y0 = Step512<TOp, TRes>(op, m, a, ref v, ref r, i);
                Vector512<float> y1 = Step512<TOp, TRes>(op, m, a, ref v, ref r, i + V);
                y0.StoreUnsafe(ref v, i);
                y1.StoreUnsafe(ref v, i + V);
            }
            for (; i + V <= n; i += V)
            {
                Step512<TOp, TRes>(op, m, a, ref v, ref r, i).StoreUnsafe(ref v, i);
            }
            if (i < n)
            {
                end.StoreUnsafe(ref v, n - V);
            }
        }
        else if (level >= SimdLevel.Avx2 && n >= 8)
        {
            const int V = 8;
            Vector256<float> m = Vector256.Create(mul), a = Vector256.Create(add);
            Vector256<float> end = Step256<TOp, TRes>(op, m, a, ref v, ref r, n - V);
            nuint i = 0;
            for (; i + V <= n; i += V)
            {
                Step256<TOp, TRes>(op, m, a, ref v, ref r, i).StoreUnsafe(ref v, i);
            }
            if (i < n)
            {
                end.StoreUnsafe(ref v, n - V);
            }
        }
        else if (level >= SimdLevel.Vector128 && n >= 4)
        {
            const int V = 4;
            Vector128<float> m = Vector128.Create(mul), a = Vector128.Create(add);
            Vector128<float> end = Step128<TOp, TRes>(op, m, a, ref v, ref r, n - V);
            nuint i = 0;
            for (; i + V <= n; i += V)
            {
                Step128<TOp, TRes>(op, m, a, ref v, ref r, i).StoreUnsafe(ref v, i);
            }
            if (i < n)
            {
                end.StoreUnsafe(ref v, n - V);
            }
        }
        else
        {
            for (nuint i = 0; i < n; i++)
            {
                float z = MathF.FusedMultiplyAdd(Unsafe.Add(ref v, i), mul, add);
                if (TRes.On)
                {
                    z += Unsafe.Add(ref r, i);
                }
                Unsafe.Add(ref v, i) = op.Invoke(z);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step512<TOp, TRes>(TOp op, Vector512<float> m, Vector512<float> a, ref float v, ref float r, nuint i)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        Vector512<float> z = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref v, i), m, a);
        if (TRes.On)
        {
            z += Vector512.LoadUnsafe(ref r, i);
        }
        return op.Invoke(z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step256<TOp, TRes>(TOp op, Vector256<float> m, Vector256<float> a, ref float v, ref float r, nuint i)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        Vector256<float> z = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref v, i), m, a);
        if (TRes.On)
        {
            z += Vector256.LoadUnsafe(ref r, i);
        }
        return op.Invoke(z);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Step128<TOp, TRes>(TOp op, Vector128<float> m, Vector128<float> a, ref float v, ref float r, nuint i)
        where TOp : struct, IUnaryOperator
        where TRes : struct, IFlag
    {
        Vector128<float> z = Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref v, i), m, a);
        if (TRes.On)
        {
            z += Vector128.LoadUnsafe(ref r, i);
        }
        return op.Invoke(z);
    }
}

/// <summary>A compile-time switch for generic kernels (the JIT specializes each struct and drops the dead branch).</summary>
internal interface IFlag
{
    static abstract bool On { get; }
}

internal readonly struct WithResidual : IFlag
{
    public static bool On => true;
}

internal readonly struct NoResidual : IFlag
{
    public static bool On => false;
}
