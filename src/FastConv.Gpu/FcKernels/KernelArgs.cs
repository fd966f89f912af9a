using System.Runtime.InteropServices;

namespace FastConv.Gpu.FcKernels;

// Mirrors of the argument structs in native/kernels/fc_common.cuh, field for field: each kernel takes one of
// these by value as its single parameter. Pointers first (8 bytes), then 32-bit fields, so the layout has no
// compiler-dependent padding; KernelArgsLayoutTests checks the sizes against the C side's.

[StructLayout(LayoutKind.Sequential)]
internal struct FcConv2dArgs
{
    public ulong X, Wt, Bias, Scale, Shift, Residual, Y;
    public int N, C, H, W, K, R, S, P, Q;
    public int StrideH, StrideW, PadTop, PadLeft, DilH, DilW, Groups;
    public int Act;
    public float Alpha, Beta;
    public int Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcPool2dArgs
{
    public ulong X, Y;
    public int N, C, H, W, P, Q, R, S;
    public int StrideH, StrideW, PadTop, PadLeft, PadBottom, PadRight, DilH, DilW;
    public int IsMax, CountIncludePad;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcGlobalPoolArgs
{
    public ulong X, Y;
    public int Planes, HW, IsMax, Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcActivationArgs
{
    public ulong X, Y;
    public long Count;
    public int Act;
    public float Alpha, Beta;
    public int Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcSoftmaxArgs
{
    public ulong X, Y;
    public int Outer, Len, Inner, Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcGemmArgs
{
    public ulong A, B, C, Y;
    public int M, N, Kd, TransA, TransB, CStrideM, CStrideN;
    public float Alpha, Beta;
    public int Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcIm2colArgs
{
    public ulong X, Col;
    public int N, C, H, W, R, S, P, Q;
    public int StrideH, StrideW, PadTop, PadLeft, DilH, DilW;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcPadInputArgs
{
    public ulong X, Xp;
    public int NC, H, W, PadTop, PadLeft, Hp, Wp, Reserved;
}

[StructLayout(LayoutKind.Sequential)]
internal struct FcBroadcastArgs
{
    public ulong C, Y;
    public int M, N, CStrideM, CStrideN;
}
