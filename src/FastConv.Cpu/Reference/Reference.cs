namespace FastConv.Cpu;

/// <summary>
/// The scalar reference: one method per op, plain loops, the formula in each doc comment. This is
/// the oracle every fast path (SIMD, CUDA, cuDNN) is checked against, and it is itself checked
/// against ONNX Runtime in the tests. Never optimize it: it has to stay obviously right.
/// Each op lives in its own file, named after the op (<c>Reference/Conv2d.cs</c>, …).
/// </summary>
public static partial class Reference
{
    /// <summary>
    /// Throws unless tensor <paramref name="t"/> has exactly shape <paramref name="expected"/>. The context (the
    /// problem, e.g. a <see cref="Ops.Conv2dShape"/>) is formatted only when the check fails, so plans can call
    /// this on every execution without allocating: pass the object, not its string.
    /// </summary>
    internal static void RequireShape<TContext>(Tensor t, TensorShape expected, string what, string op, TContext context)
    {
        if (t.Shape != expected)
        {
            throw new InvalidShapeException($"{op}: {what} must have shape {expected}, got {t.Shape}; {context}.");
        }
    }
}
