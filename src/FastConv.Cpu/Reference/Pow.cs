namespace FastConv.Cpu;

public static partial class Reference
{
    /// <summary>
    /// Pow (ONNX <c>Pow</c>, float exponent): <c>y = a^b</c>, element-wise with NumPy broadcasting, as
    /// <see cref="MathF.Pow"/> computes it (IEEE pow: x^0 = 1, negative base with a non-integer exponent is NaN).
    /// </summary>
    public static void Pow(Tensor a, Tensor b, Tensor y) => Binary(a, b, y, "Pow", MathF.Pow);
}
