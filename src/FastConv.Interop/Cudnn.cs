using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastConv.Interop;

/// <summary>A cuDNN call failed: the API name, the cudnnStatus_t, cuDNN's string for it, and (cuDNN 9) its last detailed message.</summary>
public sealed class CudnnException : FastConvException
{
    public CudnnException(string api, int status, string? description, string? detail)
        : base($"{api} failed: {description ?? "CUDNN_STATUS " + status} ({status})" + (string.IsNullOrWhiteSpace(detail) ? "." : $": {detail.Trim()}"))
    {
        Api = api;
        Status = status;
    }

    public string Api { get; }
    public int Status { get; }
}

/// <summary>cudnnConvolutionFwdAlgoPerf_t, as Find and Get_v7 return it: an algorithm <b>and</b> the math type to run it with.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct CudnnConvolutionFwdAlgoPerf
{
    public int Algorithm;
    public int Status;
    public float TimeMilliseconds;
    public nuint MemoryBytes;
    public int Determinism;
    public int MathType;
    private int _reserved0, _reserved1, _reserved2;

    public override readonly string ToString() => $"algo {Algorithm} math {MathType} status {Status} {TimeMilliseconds:F3} ms ws {MemoryBytes} B det {Determinism}";
}

/// <summary>
/// The cuDNN calls FastConv uses, bound through <c>libcudnn.so.9</c> (the shim that loads cudnn_graph, cudnn_ops
/// and cudnn_cnn from the same folder; <c>.so.8</c> also resolves). Only what cuDNN 9 still exports: handles,
/// tensor/filter/convolution/pooling/activation descriptors, Get_v7 and FindEx with a workspace limit,
/// ConvolutionForward, ConvolutionBiasActivationForward, PoolingForward, ActivationForward, SoftmaxForward,
/// AddTensor, version. (The algorithm-descriptor API and pre-v8 RNN API were removed in 9.0.) All NCHW fp32.
/// </summary>
public static unsafe partial class Cudnn
{
    public const int DataFloat = 0;
    public const int FormatNchw = 0;
    public const int CrossCorrelation = 1;
    public const int NotPropagateNan = 0;
    public const int PropagateNan = 1;

    /// <summary>cudnnMathType_t.</summary>
    public const int DefaultMath = 0, TensorOpMath = 1, TensorOpMathAllowConversion = 2, FmaMath = 3;

    /// <summary>cudnnPoolingMode_t.</summary>
    public const int PoolingMax = 0, PoolingAverageIncludePadding = 1, PoolingAverageExcludePadding = 2;

    /// <summary>cudnnActivationMode_t.</summary>
    public const int ActivationSigmoid = 0, ActivationRelu = 1, ActivationTanh = 2, ActivationClippedRelu = 3, ActivationIdentity = 5;

    /// <summary>cudnnSoftmaxAlgorithm_t ACCURATE (subtracts the max) and cudnnSoftmaxMode_t CHANNEL.</summary>
    public const int SoftmaxAccurate = 1, SoftmaxModeChannel = 1;

    /// <summary>cudnnConvolutionFwdAlgo_t names, for plans and logs.</summary>
    public static string AlgorithmName(int algo) => algo switch
    {
        0 => "implicit-gemm",
        1 => "implicit-precomp-gemm",
        2 => "gemm",
        3 => "direct",
        4 => "fft",
        5 => "fft-tiling",
        6 => "winograd",
        7 => "winograd-nonfused",
        _ => $"algo{algo}",
    };

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial nuint cudnnGetVersion();

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial byte* cudnnGetErrorString(int status);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial void cudnnGetLastErrorString(byte* message, nuint max);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnCreate(out nint handle);

    [LibraryImport(NativeLibraries.CudnnImport)]
    internal static partial int cudnnDestroy(nint handle);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetStream(nint handle, nint stream);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnCreateTensorDescriptor(out nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    internal static partial int cudnnDestroyTensorDescriptor(nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetTensor4dDescriptor(nint desc, int format, int dataType, int n, int c, int h, int w);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnCreateFilterDescriptor(out nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    internal static partial int cudnnDestroyFilterDescriptor(nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetFilter4dDescriptor(nint desc, int dataType, int format, int k, int c, int h, int w);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnCreateConvolutionDescriptor(out nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    internal static partial int cudnnDestroyConvolutionDescriptor(nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetConvolution2dDescriptor(nint desc, int padH, int padW, int strideH, int strideW, int dilH, int dilW, int mode, int computeType);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetConvolutionGroupCount(nint desc, int groups);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetConvolutionMathType(nint desc, int mathType);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnGetConvolution2dForwardOutputDim(nint conv, nint x, nint w, out int n, out int c, out int h, out int wOut);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnGetConvolutionForwardAlgorithm_v7(nint handle, nint x, nint w, nint conv, nint y, int requested, out int returned, CudnnConvolutionFwdAlgoPerf* results);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnFindConvolutionForwardAlgorithmEx(nint handle, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, nint yDesc, ulong y,
        int requested, out int returned, CudnnConvolutionFwdAlgoPerf* results, ulong workspace, nuint workspaceBytes);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnGetConvolutionForwardWorkspaceSize(nint handle, nint x, nint w, nint conv, nint y, int algo, out nuint bytes);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnConvolutionForward(nint handle, float* alpha, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, float* beta, nint yDesc, ulong y);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnConvolutionBiasActivationForward(nint handle, float* alpha1, nint xDesc, ulong x, nint wDesc, ulong w, nint conv, int algo,
        ulong workspace, nuint workspaceBytes, float* alpha2, nint zDesc, ulong z, nint biasDesc, ulong bias, nint activation, nint yDesc, ulong y);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnCreatePoolingDescriptor(out nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    internal static partial int cudnnDestroyPoolingDescriptor(nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetPooling2dDescriptor(nint desc, int mode, int nanPropagation, int windowH, int windowW, int padH, int padW, int strideH, int strideW);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnPoolingForward(nint handle, nint pooling, float* alpha, nint xDesc, ulong x, float* beta, nint yDesc, ulong y);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnCreateActivationDescriptor(out nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    internal static partial int cudnnDestroyActivationDescriptor(nint desc);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSetActivationDescriptor(nint desc, int mode, int nanPropagation, double coef);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnActivationForward(nint handle, nint activation, float* alpha, nint xDesc, ulong x, float* beta, nint yDesc, ulong y);

    [LibraryImport(NativeLibraries.CudnnImport)]
    private static partial int cudnnSoftmaxForward(nint handle, int algorithm, int mode, float* alpha, nint xDesc, ulong x, float* beta, nint yDesc, ulong y);

    /// <summary>The one place a cudnnStatus_t becomes an exception, with cuDNN's string (and cuDNN 9's last detailed message).</summary>
    public static void ThrowIfFailed(int status, [CallerArgumentExpression(nameof(status))] string api = "")
    {
        if (status == 0)
        {
            return;
        }
        int paren = api.IndexOf('(', StringComparison.Ordinal);
        byte* s = cudnnGetErrorString(status);
        throw new CudnnException(paren > 0 ? api[..paren] : api, status, s == null ? null : Marshal.PtrToStringUTF8((nint)s), LastError());
    }

    private static string? LastError()
    {
        try
        {
            byte* buffer = stackalloc byte[1024];
            buffer[0] = 0;
            cudnnGetLastErrorString(buffer, 1024);
            string? text = Marshal.PtrToStringUTF8((nint)buffer);
            return string.IsNullOrWhiteSpace(text) ? null : text;
        }
        catch (EntryPointNotFoundException)
        {
            return null; // cuDNN 8 has no cudnnGetLastErrorString
        }
    }

    /// <summary>The cuDNN version as (major, minor, patch); throws <see cref="NativeLibraryNotFoundException"/> listing every path tried when cuDNN is absent.</summary>
    public static (int Major, int Minor, int Patch) Version()
    {
        ulong n = cudnnGetVersion();
        // cuDNN 9 encodes major·10000 + minor·100 + patch; cuDNN 8 major·1000 + minor·100 + patch.
        return n >= 90000 ? ((int)(n / 10000), (int)(n % 10000 / 100), (int)(n % 100)) : ((int)(n / 1000), (int)(n % 1000 / 100), (int)(n % 100));
    }

    public static CudnnHandle Create()
    {
        ThrowIfFailed(cudnnCreate(out nint h));
        return new CudnnHandle(h);
    }

    public static void SetStream(CudnnHandle handle, nint stream) => ThrowIfFailed(cudnnSetStream(handle.DangerousGetHandle(), stream));

    /// <summary>A packed NCHW fp32 tensor descriptor.</summary>
    public static CudnnTensorDescriptor Tensor4d(int n, int c, int h, int w)
    {
        ThrowIfFailed(cudnnCreateTensorDescriptor(out nint d));
        var desc = new CudnnTensorDescriptor(d);
        ThrowIfFailed(cudnnSetTensor4dDescriptor(d, FormatNchw, DataFloat, n, c, h, w));
        return desc;
    }

    /// <summary>A K×(C/groups)×R×S fp32 filter descriptor.</summary>
    public static CudnnFilterDescriptor Filter4d(int k, int cPerGroup, int r, int s)
    {
        ThrowIfFailed(cudnnCreateFilterDescriptor(out nint d));
        var desc = new CudnnFilterDescriptor(d);
        ThrowIfFailed(cudnnSetFilter4dDescriptor(d, DataFloat, FormatNchw, k, cPerGroup, r, s));
        return desc;
    }

    /// <summary>A cross-correlation (what CNNs call convolution) descriptor computing in fp32, with groups and a math type.</summary>
    public static CudnnConvolutionDescriptor Convolution2d(int padH, int padW, int strideH, int strideW, int dilH, int dilW, int groups, int mathType)
    {
        ThrowIfFailed(cudnnCreateConvolutionDescriptor(out nint d));
        var desc = new CudnnConvolutionDescriptor(d);
        ThrowIfFailed(cudnnSetConvolution2dDescriptor(d, padH, padW, strideH, strideW, dilH, dilW, CrossCorrelation, DataFloat));
        ThrowIfFailed(cudnnSetConvolutionGroupCount(d, groups));
        ThrowIfFailed(cudnnSetConvolutionMathType(d, mathType));
        return desc;
    }

    public static void SetMathType(CudnnConvolutionDescriptor conv, int mathType) => ThrowIfFailed(cudnnSetConvolutionMathType(conv.DangerousGetHandle(), mathType));

    public static (int N, int C, int H, int W) ConvolutionOutputDim(CudnnConvolutionDescriptor conv, CudnnTensorDescriptor x, CudnnFilterDescriptor w)
    {
        ThrowIfFailed(cudnnGetConvolution2dForwardOutputDim(conv.DangerousGetHandle(), x.DangerousGetHandle(), w.DangerousGetHandle(), out int n, out int c, out int h, out int wo));
        return (n, c, h, wo);
    }

    /// <summary>cuDNN's heuristic ranking (no timing), best first.</summary>
    public static CudnnConvolutionFwdAlgoPerf[] GetForwardAlgorithms(CudnnHandle handle, CudnnTensorDescriptor x, CudnnFilterDescriptor w, CudnnConvolutionDescriptor conv, CudnnTensorDescriptor y)
    {
        var results = new CudnnConvolutionFwdAlgoPerf[16];
        fixed (CudnnConvolutionFwdAlgoPerf* p = results)
        {
            ThrowIfFailed(cudnnGetConvolutionForwardAlgorithm_v7(handle.DangerousGetHandle(), x.DangerousGetHandle(), w.DangerousGetHandle(), conv.DangerousGetHandle(), y.DangerousGetHandle(), results.Length, out int returned, p));
            return results[..returned];
        }
    }

    /// <summary>Times every algorithm on the given buffers (FindEx), using at most <paramref name="workspaceBytes"/> of workspace; fastest first.</summary>
    public static CudnnConvolutionFwdAlgoPerf[] FindForwardAlgorithms(CudnnHandle handle, CudnnTensorDescriptor xDesc, ulong x, CudnnFilterDescriptor wDesc, ulong w,
        CudnnConvolutionDescriptor conv, CudnnTensorDescriptor yDesc, ulong y, ulong workspace, long workspaceBytes)
    {
        var results = new CudnnConvolutionFwdAlgoPerf[16];
        fixed (CudnnConvolutionFwdAlgoPerf* p = results)
        {
            ThrowIfFailed(cudnnFindConvolutionForwardAlgorithmEx(handle.DangerousGetHandle(), xDesc.DangerousGetHandle(), x, wDesc.DangerousGetHandle(), w,
                conv.DangerousGetHandle(), yDesc.DangerousGetHandle(), y, results.Length, out int returned, p, workspace, (nuint)workspaceBytes));
            return results[..returned];
        }
    }

    public static long ForwardWorkspaceBytes(CudnnHandle handle, CudnnTensorDescriptor x, CudnnFilterDescriptor w, CudnnConvolutionDescriptor conv, CudnnTensorDescriptor y, int algo)
    {
        ThrowIfFailed(cudnnGetConvolutionForwardWorkspaceSize(handle.DangerousGetHandle(), x.DangerousGetHandle(), w.DangerousGetHandle(), conv.DangerousGetHandle(), y.DangerousGetHandle(), algo, out nuint bytes));
        return (long)bytes;
    }

    public static void ConvolutionForward(CudnnHandle handle, float alpha, CudnnTensorDescriptor xDesc, ulong x, CudnnFilterDescriptor wDesc, ulong w,
        CudnnConvolutionDescriptor conv, int algo, ulong workspace, long workspaceBytes, float beta, CudnnTensorDescriptor yDesc, ulong y)
        => ThrowIfFailed(cudnnConvolutionForward(handle.DangerousGetHandle(), &alpha, xDesc.DangerousGetHandle(), x, wDesc.DangerousGetHandle(), w, conv.DangerousGetHandle(), algo,
            workspace, (nuint)workspaceBytes, &beta, yDesc.DangerousGetHandle(), y));

    /// <summary><c>y = act(α1·conv(x, w) + α2·z + bias)</c>; cuDNN supports RELU (any algorithm) and IDENTITY (implicit-precomp-gemm only).</summary>
    public static void ConvolutionBiasActivationForward(CudnnHandle handle, float alpha1, CudnnTensorDescriptor xDesc, ulong x, CudnnFilterDescriptor wDesc, ulong w,
        CudnnConvolutionDescriptor conv, int algo, ulong workspace, long workspaceBytes, float alpha2, CudnnTensorDescriptor zDesc, ulong z,
        CudnnTensorDescriptor biasDesc, ulong bias, CudnnActivationDescriptor activation, CudnnTensorDescriptor yDesc, ulong y)
        => ThrowIfFailed(cudnnConvolutionBiasActivationForward(handle.DangerousGetHandle(), &alpha1, xDesc.DangerousGetHandle(), x, wDesc.DangerousGetHandle(), w,
            conv.DangerousGetHandle(), algo, workspace, (nuint)workspaceBytes, &alpha2, zDesc.DangerousGetHandle(), z, biasDesc.DangerousGetHandle(), bias,
            activation.DangerousGetHandle(), yDesc.DangerousGetHandle(), y));

    /// <summary>
    /// A 2-D pooling descriptor. Max pooling does not propagate NaN, because FastConv's reference max skips it
    /// (<c>v &gt; m</c> is false for NaN) and every other backend follows the reference; an average propagates it
    /// through the sum either way.
    /// </summary>
    public static CudnnPoolingDescriptor Pooling2d(int mode, int windowH, int windowW, int padH, int padW, int strideH, int strideW)
    {
        ThrowIfFailed(cudnnCreatePoolingDescriptor(out nint d));
        var desc = new CudnnPoolingDescriptor(d);
        ThrowIfFailed(cudnnSetPooling2dDescriptor(d, mode, mode == PoolingMax ? NotPropagateNan : PropagateNan, windowH, windowW, padH, padW, strideH, strideW));
        return desc;
    }

    public static void PoolingForward(CudnnHandle handle, CudnnPoolingDescriptor pooling, CudnnTensorDescriptor xDesc, ulong x, CudnnTensorDescriptor yDesc, ulong y)
    {
        float alpha = 1f, beta = 0f;
        ThrowIfFailed(cudnnPoolingForward(handle.DangerousGetHandle(), pooling.DangerousGetHandle(), &alpha, xDesc.DangerousGetHandle(), x, &beta, yDesc.DangerousGetHandle(), y));
    }

    public static CudnnActivationDescriptor Activation(int mode, double coef)
    {
        ThrowIfFailed(cudnnCreateActivationDescriptor(out nint d));
        var desc = new CudnnActivationDescriptor(d);
        ThrowIfFailed(cudnnSetActivationDescriptor(d, mode, PropagateNan, coef));
        return desc;
    }

    public static void ActivationForward(CudnnHandle handle, CudnnActivationDescriptor activation, CudnnTensorDescriptor xDesc, ulong x, CudnnTensorDescriptor yDesc, ulong y)
    {
        float alpha = 1f, beta = 0f;
        ThrowIfFailed(cudnnActivationForward(handle.DangerousGetHandle(), activation.DangerousGetHandle(), &alpha, xDesc.DangerousGetHandle(), x, &beta, yDesc.DangerousGetHandle(), y));
    }

    /// <summary>Softmax over C of an N×C×H×W view (ACCURATE: max subtracted first).</summary>
    public static void SoftmaxForward(CudnnHandle handle, CudnnTensorDescriptor xDesc, ulong x, CudnnTensorDescriptor yDesc, ulong y)
    {
        float alpha = 1f, beta = 0f;
        ThrowIfFailed(cudnnSoftmaxForward(handle.DangerousGetHandle(), SoftmaxAccurate, SoftmaxModeChannel, &alpha, xDesc.DangerousGetHandle(), x, &beta, yDesc.DangerousGetHandle(), y));
    }
}

/// <summary>Base of the cuDNN handle types: each is destroyed by its own cudnnDestroy*; release never throws.</summary>
public abstract class CudnnSafeHandle : SafeHandle
{
    private protected CudnnSafeHandle(nint value) : base(0, ownsHandle: true) => SetHandle(value);
    public override bool IsInvalid => handle == 0;
}

/// <summary>A cudnnHandle_t.</summary>
public sealed class CudnnHandle : CudnnSafeHandle
{
    internal CudnnHandle(nint h) : base(h) { }
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroy(handle) == 0;
}

/// <summary>A cudnnTensorDescriptor_t.</summary>
public sealed class CudnnTensorDescriptor : CudnnSafeHandle
{
    internal CudnnTensorDescriptor(nint h) : base(h) { }
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyTensorDescriptor(handle) == 0;
}

/// <summary>A cudnnFilterDescriptor_t.</summary>
public sealed class CudnnFilterDescriptor : CudnnSafeHandle
{
    internal CudnnFilterDescriptor(nint h) : base(h) { }
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyFilterDescriptor(handle) == 0;
}

/// <summary>A cudnnConvolutionDescriptor_t.</summary>
public sealed class CudnnConvolutionDescriptor : CudnnSafeHandle
{
    internal CudnnConvolutionDescriptor(nint h) : base(h) { }
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyConvolutionDescriptor(handle) == 0;
}

/// <summary>A cudnnPoolingDescriptor_t.</summary>
public sealed class CudnnPoolingDescriptor : CudnnSafeHandle
{
    internal CudnnPoolingDescriptor(nint h) : base(h) { }
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyPoolingDescriptor(handle) == 0;
}

/// <summary>A cudnnActivationDescriptor_t.</summary>
public sealed class CudnnActivationDescriptor : CudnnSafeHandle
{
    internal CudnnActivationDescriptor(nint h) : base(h) { }
    protected override bool ReleaseHandle() => Cudnn.cudnnDestroyActivationDescriptor(handle) == 0;
}
