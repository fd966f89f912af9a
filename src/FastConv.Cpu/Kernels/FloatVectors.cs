using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastConv.Cpu.Kernels;

/// <summary>
/// One vector width as a type parameter, so that the pooling and softmax kernels are written once and
/// specialized by the JIT for 128, 256 and 512 bits (each implementation wraps one hardware vector; the JIT
/// keeps such single-field structs in registers). Offsets are in floats.
/// </summary>
internal interface IFloatVector<TSelf> where TSelf : struct, IFloatVector<TSelf>
{
    static abstract int Count { get; }

    /// <summary>Whether <see cref="LoadEvens"/> has a shuffle on this CPU (else stride-2 pooling takes the scalar path).</summary>
    static abstract bool CanDeinterleave { get; }

    static abstract TSelf Load(ref float p, nint i);
    static abstract void Store(TSelf v, ref float p, nint i);

    /// <summary>p[i], p[i+2], …, p[i + 2(Count−1)]: two loads (2·Count floats from p[i]) and one de-interleaving shuffle.</summary>
    static abstract TSelf LoadEvens(ref float p, nint i);

    /// <summary>Splits the 2·Count floats a, b into their even and odd elements (one shuffle each).</summary>
    static abstract void Deinterleave(TSelf a, TSelf b, out TSelf evens, out TSelf odds);

    /// <summary>Lanes a[1], …, a[Count−1], then the value every lane of <paramref name="next"/> holds (a broadcast): the vector one element further along.</summary>
    static abstract TSelf ShiftIn(TSelf a, TSelf next);

    static abstract TSelf Broadcast(float v);
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Sub(TSelf a, TSelf b);
    static abstract TSelf Mul(TSelf a, TSelf b);
    static abstract TSelf Div(TSelf a, TSelf b);

    /// <summary><c>a·b + c</c> per lane, fused (one rounding) where the CPU has FMA.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);

    /// <summary><c>a &gt; b ? a : b</c> per lane (b on ties and NaN): the reference's max step, see <see cref="VectorMath"/>.</summary>
    static abstract TSelf RefMax(TSelf a, TSelf b);

    static abstract TSelf Exp(TSelf a);

    /// <summary>IEEE 754:2019 maximum and minimum per lane (NaN propagates; −0 &lt; +0), as Math.Max and Math.Min.</summary>
    static abstract TSelf Max(TSelf a, TSelf b);

    /// <inheritdoc cref="Max"/>
    static abstract TSelf Min(TSelf a, TSelf b);

    /// <summary>The lanes' sum (any order).</summary>
    static abstract float SumAcross(TSelf a);

    /// <summary>Lane i as a float.</summary>
    static abstract float Lane(TSelf a, int i);
}

internal readonly struct Float128(Vector128<float> v) : IFloatVector<Float128>
{
    private readonly Vector128<float> _v = v;

    public static int Count => 4;
    public static bool CanDeinterleave => Sse.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float128 Load(ref float p, nint i) => new(Vector128.LoadUnsafe(ref Unsafe.Add(ref p, i)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Float128 v, ref float p, nint i) => v._v.StoreUnsafe(ref Unsafe.Add(ref p, i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float128 LoadEvens(ref float p, nint i)
    {
        ref float a = ref Unsafe.Add(ref p, i);
        // SHUFPS 0b10_00_10_00: lanes 0, 2 of the first vector, then 0, 2 of the second.
        return new(Sse.Shuffle(Vector128.LoadUnsafe(ref a), Vector128.LoadUnsafe(ref a, 4), 0b10_00_10_00));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Float128 a, Float128 b, out Float128 evens, out Float128 odds)
    {
        evens = new(Sse.Shuffle(a._v, b._v, 0b10_00_10_00));
        odds = new(Sse.Shuffle(a._v, b._v, 0b11_01_11_01));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float128 ShiftIn(Float128 a, Float128 next)
        => new(Vector128.ConditionalSelect(Vector128.Create(0, 0, 0, -1).AsSingle(), next._v, Vector128.Shuffle(a._v, Vector128.Create(1, 2, 3, 3))));

    public static Float128 Broadcast(float v) => new(Vector128.Create(v));
    public static Float128 Add(Float128 a, Float128 b) => new(a._v + b._v);
    public static Float128 Sub(Float128 a, Float128 b) => new(a._v - b._v);
    public static Float128 Mul(Float128 a, Float128 b) => new(a._v * b._v);
    public static Float128 MultiplyAdd(Float128 a, Float128 b, Float128 c) => new(Fma.IsSupported ? Fma.MultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    public static Float128 Div(Float128 a, Float128 b) => new(a._v / b._v);
    public static Float128 RefMax(Float128 a, Float128 b) => new(VectorMath.RefMax(a._v, b._v));
    public static Float128 Exp(Float128 a) => new(VectorMath.Exp(a._v));
    public static Float128 Max(Float128 a, Float128 b) => new(Vector128.Max(a._v, b._v));
    public static Float128 Min(Float128 a, Float128 b) => new(Vector128.Min(a._v, b._v));
    public static float SumAcross(Float128 a) => Vector128.Sum(a._v);
    public static float Lane(Float128 a, int i) => a._v.GetElement(i);
}

internal readonly struct Float256(Vector256<float> v) : IFloatVector<Float256>
{
    private readonly Vector256<float> _v = v;

    public static int Count => 8;
    public static bool CanDeinterleave => Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float256 Load(ref float p, nint i) => new(Vector256.LoadUnsafe(ref Unsafe.Add(ref p, i)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Float256 v, ref float p, nint i) => v._v.StoreUnsafe(ref Unsafe.Add(ref p, i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float256 LoadEvens(ref float p, nint i)
    {
        ref float a = ref Unsafe.Add(ref p, i);
        // VSHUFPS works per 128-bit lane: [a0 a2 b0 b2 | a4 a6 b4 b6]; VPERMPD 0b11_01_10_00 puts the
        // 64-bit pairs in order: [a0 a2 a4 a6 b0 b2 b4 b6].
        Vector256<float> s = Avx.Shuffle(Vector256.LoadUnsafe(ref a), Vector256.LoadUnsafe(ref a, 8), 0b10_00_10_00);
        return new(Avx2.Permute4x64(s.AsDouble(), 0b11_01_10_00).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Float256 a, Float256 b, out Float256 evens, out Float256 odds)
    {
        evens = new(Avx2.Permute4x64(Avx.Shuffle(a._v, b._v, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle());
        odds = new(Avx2.Permute4x64(Avx.Shuffle(a._v, b._v, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float256 ShiftIn(Float256 a, Float256 next)
        => new(Avx.Blend(Avx2.PermuteVar8x32(a._v, Vector256.Create(1, 2, 3, 4, 5, 6, 7, 7)), next._v, 0b1000_0000));

    public static Float256 Broadcast(float v) => new(Vector256.Create(v));
    public static Float256 Add(Float256 a, Float256 b) => new(a._v + b._v);
    public static Float256 Sub(Float256 a, Float256 b) => new(a._v - b._v);
    public static Float256 Mul(Float256 a, Float256 b) => new(a._v * b._v);
    public static Float256 MultiplyAdd(Float256 a, Float256 b, Float256 c) => new(Fma.IsSupported ? Fma.MultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    public static Float256 Div(Float256 a, Float256 b) => new(a._v / b._v);
    public static Float256 RefMax(Float256 a, Float256 b) => new(VectorMath.RefMax(a._v, b._v));
    public static Float256 Exp(Float256 a) => new(VectorMath.Exp(a._v));
    public static Float256 Max(Float256 a, Float256 b) => new(Vector256.Max(a._v, b._v));
    public static Float256 Min(Float256 a, Float256 b) => new(Vector256.Min(a._v, b._v));
    public static float SumAcross(Float256 a) => Vector256.Sum(a._v);
    public static float Lane(Float256 a, int i) => a._v.GetElement(i);
}

internal readonly struct Float512(Vector512<float> v) : IFloatVector<Float512>
{
    private readonly Vector512<float> _v = v;

    public static int Count => 16;
    public static bool CanDeinterleave => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float512 Load(ref float p, nint i) => new(Vector512.LoadUnsafe(ref Unsafe.Add(ref p, i)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Float512 v, ref float p, nint i) => v._v.StoreUnsafe(ref Unsafe.Add(ref p, i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float512 LoadEvens(ref float p, nint i)
    {
        ref float a = ref Unsafe.Add(ref p, i);
        // VPERMT2PS picks any 16 of the 32 lanes of two registers in one instruction.
        Vector512<int> evens = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        return new(Avx512F.PermuteVar16x32x2(Vector512.LoadUnsafe(ref a), evens, Vector512.LoadUnsafe(ref a, 16)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Deinterleave(Float512 a, Float512 b, out Float512 evens, out Float512 odds)
    {
        evens = new(Avx512F.PermuteVar16x32x2(a._v, Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), b._v));
        odds = new(Avx512F.PermuteVar16x32x2(a._v, Vector512.Create(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), b._v));
    }

    /// <summary>VALIGND: the concatenation next : a shifted down by one lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Float512 ShiftIn(Float512 a, Float512 next)
        => new(Avx512F.AlignRight32(next._v.AsUInt32(), a._v.AsUInt32(), 1).AsSingle());

    public static Float512 Broadcast(float v) => new(Vector512.Create(v));
    public static Float512 Add(Float512 a, Float512 b) => new(a._v + b._v);
    public static Float512 Sub(Float512 a, Float512 b) => new(a._v - b._v);
    public static Float512 Mul(Float512 a, Float512 b) => new(a._v * b._v);
    public static Float512 MultiplyAdd(Float512 a, Float512 b, Float512 c) => new(Avx512F.FusedMultiplyAdd(a._v, b._v, c._v));
    public static Float512 Div(Float512 a, Float512 b) => new(a._v / b._v);
    public static Float512 RefMax(Float512 a, Float512 b) => new(VectorMath.RefMax(a._v, b._v));
    public static Float512 Exp(Float512 a) => new(VectorMath.Exp(a._v));
    public static Float512 Max(Float512 a, Float512 b) => new(Vector512.Max(a._v, b._v));
    public static Float512 Min(Float512 a, Float512 b) => new(Vector512.Min(a._v, b._v));
    public static float SumAcross(Float512 a) => Vector512.Sum(a._v);
    public static float Lane(Float512 a, int i) => a._v.GetElement(i);
}
