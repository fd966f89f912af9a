namespace FastConv.Cpu;

// Add, Sub, Mul, Div with NumPy multidirectional broadcasting (shape from Broadcast.BroadcastShape).
// Each output is ONE IEEE float32 operation on the two (broadcast) inputs, so it is correctly rounded
// and any correct implementation agrees bit for bit. NaN propagates; x/0 is ±∞ (0/0 NaN) as IEEE says.
public static partial class Reference
{
    /// <summary>Add: <c>y = a + b</c>, element-wise with NumPy broadcasting; y has shape BroadcastShape(a, b).</summary>
    public static void Add(Tensor a, Tensor b, Tensor y) => Binary(a, b, y, "Add", static (u, v) => u + v);

    /// <summary>Sub: <c>y = a − b</c>, element-wise with NumPy broadcasting; y has shape BroadcastShape(a, b).</summary>
    public static void Sub(Tensor a, Tensor b, Tensor y) => Binary(a, b, y, "Sub", static (u, v) => u - v);

    /// <summary>Mul: <c>y = a · b</c>, element-wise with NumPy broadcasting; y has shape BroadcastShape(a, b).</summary>
    public static void Mul(Tensor a, Tensor b, Tensor y) => Binary(a, b, y, "Mul", static (u, v) => u * v);

    /// <summary>Div: <c>y = a / b</c>, element-wise with NumPy broadcasting; y has shape BroadcastShape(a, b).</summary>
    public static void Div(Tensor a, Tensor b, Tensor y) => Binary(a, b, y, "Div", static (u, v) => u / v);

    private static void Binary(Tensor a, Tensor b, Tensor y, string op, Func<float, float, float> f)
    {
        TensorShape outShape = Broadcast.BroadcastShape(a.Shape, b.Shape, op);
        RequireShape(y, outShape, "output", op, $"A {a.Shape}, B {b.Shape}");
        int[] aStrides = Broadcast.Strides(a.Shape, outShape), bStrides = Broadcast.Strides(b.Shape, outShape);
        ReadOnlySpan<float> aS = a.Span, bS = b.Span;
        Span<float> ys = y.Span;
        for (int i = 0; i < ys.Length; i++)
        {
            ys[i] = f(aS[Broadcast.Offset(i, outShape, aStrides)], bS[Broadcast.Offset(i, outShape, bStrides)]);
        }
    }
}
