namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Output shape of MatMul with NumPy semantics: A [..., M, K] times B [..., K, N] gives
    /// [broadcast(batchA, batchB)..., M, N]; a 1-D A [K] is read as [1, K] and a 1-D B [K] as [K, 1], and
    /// that added axis is removed from the result (so [K]·[K] is a scalar of rank 0). Throws
    /// <see cref="InvalidShapeException"/> naming both shapes when K differs, an operand is rank 0, or the
    /// batch dimensions cannot broadcast.
    /// </summary>
    public static TensorShape MatMulOutputShape(TensorShape a, TensorShape b)
    {
        if (a.Rank == 0 || b.Rank == 0)
        {
            throw new InvalidShapeException($"MatMul: operands must have rank >= 1, got A {a} and B {b}.");
        }
        TensorShape a2 = a.Rank == 1 ? TensorShape.Of(1, a[0]) : a;
        TensorShape b2 = b.Rank == 1 ? TensorShape.Of(b[0], 1) : b;
        int ka = a2[a2.Rank - 1], kb = b2[b2.Rank - 2];
        if (ka != kb)
        {
            throw new InvalidShapeException($"MatMul: inner dimensions differ: A {a} has K={ka}, B {b} has K={kb}.");
        }
        TensorShape batchA = new(a2.Dims[..^2]), batchB = new(b2.Dims[..^2]);
        TensorShape batch;
        try
        {
            batch = Broadcast.BroadcastShape(batchA, batchB, "MatMul");
        }
        catch (InvalidShapeException e)
        {
            throw new InvalidShapeException($"MatMul: batch dimensions of A {a} and B {b} cannot broadcast. {e.Message}");
        }
        var dims = new List<int>(batch.Dims.ToArray());
        if (a.Rank != 1)
        {
            dims.Add(a2[a2.Rank - 2]);
        }
        if (b.Rank != 1)
        {
            dims.Add(b2[b2.Rank - 1]);
        }
        return new TensorShape(dims.ToArray());
    }

    /// <summary>
    /// MatMul (ONNX <c>MatMul</c>, NumPy <c>matmul</c>): for every batch index (broadcast over the leading
    /// dimensions), <c>Y[..., m, n] = Σ_k A[..., m, k]·B[..., k, n]</c>; shapes as in <see cref="MatMulOutputShape"/>.
    /// The products (exact in double) are summed in double and each result rounded once.
    /// </summary>
    public static void MatMul(Tensor a, Tensor b, Tensor y)
    {
        TensorShape outShape = MatMulOutputShape(a.Shape, b.Shape);
        RequireShape(y, outShape, "output", "MatMul", $"A {a.Shape}, B {b.Shape}");
        TensorShape a2 = a.Rank == 1 ? TensorShape.Of(1, a.Shape[0]) : a.Shape;
        TensorShape b2 = b.Rank == 1 ? TensorShape.Of(b.Shape[0], 1) : b.Shape;
        int m = a2[a2.Rank - 2], k = a2[a2.Rank - 1], n = b2[b2.Rank - 1];
        TensorShape batchA = new(a2.Dims[..^2]), batchB = new(b2.Dims[..^2]);
        TensorShape batch = Broadcast.BroadcastShape(batchA, batchB, "MatMul");
        // Strides of whole M×K (resp. K×N) matrices: a batch of A's matrices is a tensor of shape batchA.
        int[] aStrides = Broadcast.Strides(batchA, batch), bStrides = Broadcast.Strides(batchB, batch);
        ReadOnlySpan<float> aS = a.Span, bS = b.Span;
        Span<float> ys = y.Span;
        for (int bi = 0; bi < batch.ElementCount; bi++)
        {
            int aBase = Broadcast.Offset(bi, batch, aStrides) * m * k;
            int bBase = Broadcast.Offset(bi, batch, bStrides) * k * n;
            int yBase = bi * m * n;
            for (int mi = 0; mi < m; mi++)
            {
                for (int ni = 0; ni < n; ni++)
                {
                    double sum = 0;
                    for (int ki = 0; ki < k; ki++)
                    {
                        sum += (double)aS[aBase + mi * k + ki] * bS[bBase + ki * n + ni];
                    }
                    ys[yBase + mi * n + ni] = (float)sum;
                }
            }
        }
    }
}
