namespace FastConv.Cli.Bench;

/// <summary>
/// A float buffer on the pinned object heap whose first element sits on a 64-byte boundary, so that
/// FastConv and ONNX Runtime read and write the very same cache-line-aligned bytes (MLAS's kernels and
/// ours both prefer aligned 512-bit loads; a misaligned start would tax whichever side it hit).
/// Pinned, so ORT can hold a pointer to it for the whole benchmark without a per-call pin.
/// </summary>
internal sealed class AlignedBuffer
{
    private const int AlignBytes = 64;
    private readonly float[] _array;
    private readonly int _offset;

    public unsafe AlignedBuffer(TensorShape shape)
    {
        Shape = shape;
        _array = GC.AllocateArray<float>(shape.ElementCount + AlignBytes / sizeof(float), pinned: true);
        fixed (float* p = _array)
        {
            long misalign = (long)p % AlignBytes;
            _offset = misalign == 0 ? 0 : (int)((AlignBytes - misalign) / sizeof(float));
        }
        Tensor = Tensor.Wrap(Memory, shape);
    }

    public TensorShape Shape { get; }

    public Memory<float> Memory => _array.AsMemory(_offset, Shape.ElementCount);

    public Span<float> Span => _array.AsSpan(_offset, Shape.ElementCount);

    /// <summary>A FastConv tensor over this buffer (no copy).</summary>
    public Tensor Tensor { get; }

    public long[] Dims => Shape.Dims.ToArray().Select(d => (long)d).ToArray();

    public long Bytes => (long)Shape.ElementCount * sizeof(float);

    /// <summary>Uniform values in [lo, hi) from a fixed seed: the same problem every run.</summary>
    public AlignedBuffer FillUniform(int seed, float lo, float hi)
    {
        Uniform(Span, seed, lo, hi);
        return this;
    }

    /// <summary>Fills <paramref name="values"/> with uniform values in [lo, hi) from a fixed seed.</summary>
    public static void Uniform(Span<float> values, int seed, float lo, float hi)
    {
        var rng = new Random(seed);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = lo + (hi - lo) * rng.NextSingle();
        }
    }

    /// <summary>A seed from a name that is the same in every process (string.GetHashCode is randomized per process).</summary>
    public static int StableSeed(string name, int salt)
    {
        uint h = 2166136261;
        foreach (char c in name)
        {
            h = (h ^ c) * 16777619;
        }
        return (int)((h ^ (uint)salt) * 16777619 & 0x7fffffff);
    }

    /// <summary>NaN everywhere, so an element a kernel never writes cannot pass the output check.</summary>
    public void Poison() => Span.Fill(float.NaN);
}
