using System.Globalization;
using System.Runtime.CompilerServices;
using FastConv.Backends;
using FastConv.Gpu.FcKernels;
using FastConv.Interop;
using FastConv.Ops;

namespace FastConv.Gpu.Backends;

/// <summary>
/// The <c>cudnn</c> backend: convolution, pooling, activations and softmax through cuDNN's legacy API (still
/// exported by cuDNN 9, bound through libcudnn.so.9), Gemm through cuBLAS, and the runtime's support kernels for
/// what cuDNN cannot express (asymmetric padding, ceil-mode pooling, LeakyRelu, HardSwish, a fused BN scale).
/// Convolution algorithms are chosen by cuDNN's FindEx (timed) under the workspace limit, with the math type
/// Find reports — FMA only unless TF32 is allowed — and cached per shape.
/// </summary>
public sealed class CudnnBackend : GpuBackendBase
{
    private readonly CudnnHandle _cudnn;
    private nint _cudnnStream = -1;

    public CudnnBackend(GpuBackendOptions? options = null)
    {
        options ??= new GpuBackendOptions();
        GpuDevice device = GpuBackendFactory.OpenDevice(BackendNames.Cudnn);
        try
        {
            Context = new GpuBackendContext(BackendNames.Cudnn, device, options);
        }
        catch
        {
            device.Dispose();
            throw;
        }
        try
        {
            _cudnn = Cudnn.Create();
        }
        catch
        {
            Context.Dispose();
            throw;
        }
        CudnnOn(Context.Stream.Handle);
    }

    public override string Name => BackendNames.Cudnn;

    /// <summary>The cuDNN handle bound to <paramref name="stream"/>.</summary>
    internal CudnnHandle CudnnOn(nint stream)
    {
        if (_cudnnStream != stream)
        {
            Cudnn.SetStream(_cudnn, stream);
            _cudnnStream = stream;
        }
        return _cudnn;
    }

    public override IConv2dPlan PlanConv2d(Conv2dShape shape, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
        => new CudnnConv2dPlan(this, shape, weights, bias, epilogue);

    public override IUnaryPlan PlanPool2d(Pool2dShape shape, bool max)
    {
        Pool2dShape s = GpuBackendFactory.CheckPool(shape, max);
        Pool2dParams p = s.Params;
        bool symmetric = p.Padding.Top == p.Padding.Bottom && p.Padding.Left == p.Padding.Right;
        // cuDNN's descriptor has one pad per axis, no ceil mode and no dilation: anything else runs the support kernel.
        return symmetric && !p.CeilMode && p.DilationH == 1 && p.DilationW == 1
            ? new CudnnPool2dPlan(this, s, max)
            : new GpuPool2dPlan(Context, s, max);
    }

    public override IUnaryPlan PlanGlobalPool(TensorShape input, bool max) => new GpuGlobalPoolPlan(Context, input, max);

    public override IUnaryPlan PlanActivation(Activation activation, TensorShape shape)
        => shape.ElementCount > 0 && CudnnActivationPlan.Mode(activation) is { } mode // cuDNN descriptors reject empty tensors
            ? new CudnnActivationPlan(this, activation, mode, shape)
            : new GpuActivationPlan(Context, activation, shape);

    public override IUnaryPlan PlanSoftmax(TensorShape shape, int axis)
        => shape.ElementCount > 0 ? new CudnnSoftmaxPlan(this, shape, axis) : new GpuSoftmaxPlan(Context, shape, axis);

    public override IUnaryPlan PlanGemm(TensorShape aShape, Tensor b, Tensor? c, GemmParams p) => new GpuGemmPlan(Context, aShape, b, c, p);

    protected override void Dispose(bool disposing)
    {
        try
        {
            Context.Stream.Synchronize();
        }
        catch (FastConvException)
        {
        }
        _cudnn.Dispose();
        Context.Dispose();
    }
}

/// <summary>
/// cuDNN convolution. Asymmetric padding (which the descriptor cannot hold) is applied by fcg_pad2d into a held
/// buffer and the convolution then runs unpadded. The epilogue is fused into cudnnConvolutionBiasActivationForward
/// when it is bias (+ residual as z) + Relu (or identity with implicit-precomp-gemm, the one algorithm cuDNN allows
/// it for); otherwise ConvolutionForward and the epilogue kernel.
/// </summary>
internal sealed class CudnnConv2dPlan : GpuConvPlan
{
    private readonly CudnnBackend _backend;
    private readonly CudnnTensorDescriptor _xDesc, _yDesc, _biasDesc;
    private readonly CudnnFilterDescriptor _wDesc;
    private readonly CudnnConvolutionDescriptor _convDesc;
    private readonly CudnnActivationDescriptor? _fusedActivation;
    private readonly DeviceBuffer _w;
    private readonly DeviceBuffer? _bias, _padded, _workspace;
    private readonly GpuKernel? _pad;
    private readonly KernelArguments? _padArgs;
    private readonly FcPadInputArgs _padStruct;
    private readonly FcLaunchShape _padLaunch;
    private readonly int _algo;
    private readonly long _workspaceBytes;
    private readonly bool _fused;

    public CudnnConv2dPlan(CudnnBackend backend, Conv2dShape s, Tensor weights, Tensor? bias, ConvEpilogue epilogue)
        : base(backend.Context, s, weights, bias, epilogue, "cudnn")
    {
        try
        {
            _backend = backend;
            GpuBackendContext c = backend.Context;
            Conv2dParams p = s.Params;
            Padding2d pad = p.Padding;
            bool symmetric = pad.Top == pad.Bottom && pad.Left == pad.Right;
            int hIn = symmetric ? s.H : s.H + pad.Top + pad.Bottom;
            int wIn = symmetric ? s.W : s.W + pad.Left + pad.Right;

            _xDesc = Own(Cudnn.Tensor4d(s.N, s.C, hIn, wIn));
            _yDesc = Own(Cudnn.Tensor4d(s.N, s.K, s.P, s.Q));
            _biasDesc = Own(Cudnn.Tensor4d(1, s.K, 1, 1));
            _wDesc = Own(Cudnn.Filter4d(s.K, s.InputChannelsPerGroup, s.R, s.S));
            bool tf32 = c.Options.AllowTf32;
            _convDesc = Own(Cudnn.Convolution2d(symmetric ? pad.Top : 0, symmetric ? pad.Left : 0, p.StrideH, p.StrideW, p.DilationH, p.DilationW,
                s.Groups, tf32 ? Cudnn.DefaultMath : Cudnn.FmaMath));
            var (on, ok, oh, ow) = Cudnn.ConvolutionOutputDim(_convDesc, _xDesc, _wDesc);
            if (on != s.N || ok != s.K || oh != s.P || ow != s.Q)
            {
                throw new InvalidShapeException($"Conv2d: cuDNN computes output [{on},{ok},{oh},{ow}], FastConv {s.OutputShape}; {s}.");
            }
            if (!symmetric)
            {
                _padded = Hold((long)s.N * s.C * hIn * wIn * sizeof(float));
                _pad = c.Kernel("support.cu", "conv2d_pad_input");
                _padArgs = Own(new KernelArguments(Unsafe.SizeOf<FcPadInputArgs>()));
                _padStruct = new FcPadInputArgs { Xp = _padded.Address, NC = s.N * s.C, H = s.H, W = s.W, PadTop = pad.Top, PadLeft = pad.Left, Hp = hIn, Wp = wIn };
                _padLaunch = FcLaunch.Elementwise((long)s.N * s.C * hIn * wIn, c.GridCap);
            }
            _w = Upload(weights.Span);
            _bias = bias is null ? null : Upload(bias.Span);

            string key = GpuAlgorithmCache.Key(BackendNames.Cudnn, c.Device.Info, s.ToString(), c.Options.WorkspaceLimit, tf32);
            string choice = GpuAlgorithmCache.GetOrChoose(key, () => Choose(s, hIn, wIn));
            string[] parts = choice.Split(':');
            _algo = int.Parse(parts[0], CultureInfo.InvariantCulture);
            int math = int.Parse(parts[1], CultureInfo.InvariantCulture);
            _workspaceBytes = long.Parse(parts[2], CultureInfo.InvariantCulture);
            Cudnn.SetMathType(_convDesc, tf32 ? math : Cudnn.FmaMath);
            if (_workspaceBytes > 0)
            {
                _workspace = Hold(_workspaceBytes);
            }

            // cuDNN fuses bias + z + Relu/identity; a folded BN scale or another activation needs our epilogue.
            ActivationKind act = epilogue.Activation.Kind;
            _fused = epilogue.Scale is null && epilogue.Shift is null
                && (act == ActivationKind.Relu || (act == ActivationKind.None && _algo == 1));
            if (_fused)
            {
                _fusedActivation = Own(Cudnn.Activation(act == ActivationKind.Relu ? Cudnn.ActivationRelu : Cudnn.ActivationIdentity, 0));
                _bias ??= Upload(new float[s.K]);
            }
            else
            {
                PrepareEpilogue(_bias, residualLeft: epilogue.AddResidual, activationLeft: true);
            }
            Algorithm = $"cudnn-{Cudnn.AlgorithmName(_algo)}{(_fused ? "+fused" : "")}{(symmetric ? "" : "+pad")}";
            CompleteUploads();
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    /// <summary>FindEx on scratch tensors, within the workspace limit; "algo:math:workspaceBytes".</summary>
    private string Choose(Conv2dShape s, int hIn, int wIn)
    {
        GpuBackendContext c = _backend.Context;
        long limit = c.Options.WorkspaceLimit;
        CudnnHandle h = _backend.CudnnOn(c.Stream.Handle);
        CudnnConvolutionFwdAlgoPerf[] ranked;
        if (c.Options.TimedSearch)
        {
            using DeviceBuffer x = c.Device.Memory.Allocate((long)s.N * s.C * hIn * wIn * sizeof(float), c.Stream.Handle);
            using DeviceBuffer y = c.Device.Memory.Allocate((long)s.OutputShape.ElementCount * sizeof(float), c.Stream.Handle);
            using DeviceBuffer ws = c.Device.Memory.Allocate(Math.Max(256, limit), c.Stream.Handle);
            Driver.MemsetD32Async(x.Address, 0, (long)s.N * s.C * hIn * wIn, c.Stream.Handle);
            ranked = Cudnn.FindForwardAlgorithms(h, _xDesc, x.Address, _wDesc, _w.Address, _convDesc, _yDesc, y.Address, ws.Address, limit);
        }
        else
        {
            ranked = Cudnn.GetForwardAlgorithms(h, _xDesc, _wDesc, _convDesc, _yDesc);
        }
        bool tf32 = c.Options.AllowTf32;
        foreach (CudnnConvolutionFwdAlgoPerf r in ranked)
        {
            if (r.Status == 0 && (long)r.MemoryBytes <= limit && (tf32 || r.MathType != Cudnn.TensorOpMath))
            {
                return $"{r.Algorithm}:{r.MathType}:{(long)r.MemoryBytes}";
            }
        }
        throw new GpuNotSupportedException(BackendNames.Cudnn,
            $"this convolution within a {limit} B workspace (cuDNN offered: {string.Join("; ", ranked.Select(r => r.ToString()))}); {s}");
    }

    private protected override void Enqueue(ulong x, ulong y, ulong residual, nint stream)
    {
        CudnnHandle h = _backend.CudnnOn(stream);
        ulong input = x;
        if (_pad is not null)
        {
            _padArgs!.Set(0, _padStruct with { X = x });
            _pad.Launch(_padLaunch.Grid, _padLaunch.Block, _padArgs, stream);
            input = _padded!.Address;
        }
        ulong ws = _workspace?.Address ?? 0;
        if (_fused)
        {
            FusedZ z = FusedZ.For(residual, y, Shape.OutputShape.ElementCount);
            if (z.ZeroFirst)
            {
                Driver.MemsetD32Async(y, 0, z.ZeroCount, stream);
            }
            Cudnn.ConvolutionBiasActivationForward(h, 1f, _xDesc, input, _wDesc, _w.Address, _convDesc, _algo, ws, _workspaceBytes,
                z.Alpha2, _yDesc, z.Address, _biasDesc, _bias!.Address, _fusedActivation!, _yDesc, y);
        }
        else
        {
            Cudnn.ConvolutionForward(h, 1f, _xDesc, input, _wDesc, _w.Address, _convDesc, _algo, ws, _workspaceBytes, 0f, _yDesc, y);
            RunEpilogue(y, residual, stream);
        }
    }
}

/// <summary>
/// The z operand of cudnnConvolutionBiasActivationForward, which computes <c>y = act(α1·conv(x) + α2·z + bias)</c>.
/// cuDNN documents z as an input tensor of y's shape (it may alias y) and does not promise to skip reading it when
/// α2 = 0; the engines blend α2·z, and 0·NaN is NaN. So without a residual z is y itself, zeroed first on the
/// stream: y may be a recycled arena or allocator block holding anything, NaN included, and an uninitialised z
/// would poison the output (a memset of y costs one write pass, much less than the convolution; a separate zero
/// tensor would cost an output's worth of memory per plan). With a residual z is the residual and α2 = 1.
/// </summary>
internal readonly record struct FusedZ(ulong Address, float Alpha2, bool ZeroFirst, long ZeroCount)
{
    public static FusedZ For(ulong residual, ulong y, long outputElements)
        => residual != 0 ? new FusedZ(residual, 1f, false, 0) : new FusedZ(y, 0f, true, outputElements);
}

/// <summary>cudnnPoolingForward for symmetric padding without ceil mode or dilation.</summary>
internal sealed class CudnnPool2dPlan : GpuUnaryPlan
{
    private readonly CudnnBackend _backend;
    private readonly CudnnTensorDescriptor _xDesc, _yDesc;
    private readonly CudnnPoolingDescriptor _pool;

    public CudnnPool2dPlan(CudnnBackend backend, Pool2dShape s, bool max)
        : base(backend.Context, max ? "MaxPool2d" : "AvgPool2d", "cudnn-pooling", s.InputShape, s.OutputShape)
    {
        try
        {
            _backend = backend;
            Pool2dParams p = s.Params;
            _xDesc = Own(Cudnn.Tensor4d(s.N, s.C, s.H, s.W));
            _yDesc = Own(Cudnn.Tensor4d(s.N, s.C, s.P, s.Q));
            int mode = max ? Cudnn.PoolingMax : p.CountIncludePad ? Cudnn.PoolingAverageIncludePadding : Cudnn.PoolingAverageExcludePadding;
            _pool = Own(Cudnn.Pooling2d(mode, s.R, s.S, p.Padding.Top, p.Padding.Left, p.StrideH, p.StrideW));
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
        => Cudnn.PoolingForward(_backend.CudnnOn(stream), _pool, _xDesc, x, _yDesc, y);
}

/// <summary>cudnnActivationForward for the activations cuDNN has: Relu, Sigmoid, Tanh, Clip(0, b) as clipped Relu.</summary>
internal sealed class CudnnActivationPlan : GpuUnaryPlan
{
    private readonly CudnnBackend _backend;
    private readonly CudnnTensorDescriptor _desc;
    private readonly CudnnActivationDescriptor _act;

    public CudnnActivationPlan(CudnnBackend backend, Activation activation, int mode, TensorShape shape)
        : base(backend.Context, "Activation", $"cudnn-activation({activation})", shape, shape)
    {
        try
        {
            _backend = backend;
            _desc = Own(Cudnn.Tensor4d(1, 1, 1, shape.ElementCount));
            _act = Own(Cudnn.Activation(mode, activation.Kind == ActivationKind.Clip ? activation.Beta : 0));
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    public static int? Mode(Activation a) => a.Kind switch
    {
        ActivationKind.Relu => Cudnn.ActivationRelu,
        ActivationKind.Sigmoid => Cudnn.ActivationSigmoid,
        ActivationKind.Tanh => Cudnn.ActivationTanh,
        ActivationKind.Clip when a.Alpha == 0f && a.Beta > 0f => Cudnn.ActivationClippedRelu,
        _ => null,
    };

    private protected override void Enqueue(ulong x, ulong y, nint stream)
        => Cudnn.ActivationForward(_backend.CudnnOn(stream), _act, _desc, x, _desc, y);
}

/// <summary>cudnnSoftmaxForward (ACCURATE, CHANNEL mode) on the tensor seen as [outer][axis][inner][1].</summary>
internal sealed class CudnnSoftmaxPlan : GpuUnaryPlan
{
    private readonly CudnnBackend _backend;
    private readonly CudnnTensorDescriptor _desc;

    public CudnnSoftmaxPlan(CudnnBackend backend, TensorShape shape, int axis)
        : base(backend.Context, "Softmax", "cudnn-softmax", shape, shape)
    {
        try
        {
            _backend = backend;
            var (outer, length, inner) = GpuSoftmaxPlan.Split(shape, axis);
            _desc = Own(Cudnn.Tensor4d(outer, length, inner, 1));
        }
        catch
        {
            // A plan that fails part-way (out of memory on its third buffer, a library refusing a shape) gives back what it took.
            Dispose();
            throw;
        }
    }

    private protected override void Enqueue(ulong x, ulong y, nint stream)
        => Cudnn.SoftmaxForward(_backend.CudnnOn(stream), _desc, x, _desc, y);
}
