namespace FastConv;

/// <summary>
/// How a 4-D activation is laid out in its buffer: plain NCHW, or channel-blocked NCHWc (ONNX Runtime's NCHWc,
/// oneDNN's nChw16c) where channels come in blocks of <see cref="Block"/>: element (n, c, h, w) sits at
/// <c>[n][c / Block][h][w][c % Block]</c>, and the last block is padded with zeros up to a whole block. A blocked
/// layout lets a conv kernel load one vector of Block channels of one pixel at a time (16 floats on AVX-512, 8 on AVX2).
/// </summary>
public readonly record struct TensorLayout
{
    private TensorLayout(int block) => Block = block;

    /// <summary>Channels per block; 0 for plain NCHW.</summary>
    public int Block { get; }

    public bool IsBlocked => Block > 0;

    /// <summary>Plain row-major NCHW (and row-major for any other rank).</summary>
    public static TensorLayout Nchw => default;

    /// <summary>NCHWc with <paramref name="block"/> channels per block (a power of two, 2 to 64).</summary>
    public static TensorLayout Blocked(int block) =>
        block is >= 2 and <= 64 && (block & (block - 1)) == 0
            ? new TensorLayout(block)
            : throw new InvalidHyperparameterException($"a blocked layout needs a power-of-two block of 2 to 64 channels, got {block}.");

    /// <summary>The buffer's shape for a value of logical <paramref name="shape"/>: [N, ⌈C/c⌉, H, W, c] when blocked.</summary>
    public TensorShape PhysicalShape(TensorShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!IsBlocked)
        {
            return shape;
        }
        if (shape.Rank != 4)
        {
            throw new InvalidShapeException($"layout {this} needs a 4-D (NCHW) value, got {shape}.");
        }
        return TensorShape.Of(shape[0], (shape[1] + Block - 1) / Block, shape[2], shape[3], Block);
    }

    public override string ToString() => IsBlocked ? $"NCHW{Block}c" : "NCHW";
}
