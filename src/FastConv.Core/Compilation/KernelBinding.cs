using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>Where one value of a node lives during a run: its buffer's shape, and its host tensor or its device address.</summary>
internal readonly record struct BoundValue(TensorShape Shape, Tensor? Host, nint HostPointer, ulong Device)
{
    public static BoundValue OnHost(Tensor t, nint pointer = 0) => new(t.Shape, t, pointer, 0);

    public static BoundValue OnDevice(ulong address, TensorShape shape) => new(shape, null, 0, address);

    public bool IsDevice => Host is null;

    /// <summary>The same buffer seen with another shape of as many elements.</summary>
    public BoundValue As(TensorShape shape) => IsDevice ? this with { Shape = shape } : this with { Shape = shape, Host = Host!.Reshape(shape) };
}

/// <summary>
/// What an op definition gets when it plans one node on one backend: the node's shapes and constants
/// (<see cref="Context"/>), the buffers bound to its inputs and outputs (host tensors, or device addresses when the node
/// runs on a device backend; in their physical layout), and helpers that wrap the backend's plan into a
/// <see cref="Step"/> — the same call whichever memory the buffers are in.
/// </summary>
public sealed class KernelBinding
{
    private readonly Func<int, BoundValue> _input;
    private readonly Func<int, BoundValue> _output;
    private readonly Func<int, TensorLayout> _layout;
    private readonly nint _stream;

    internal KernelBinding(OpContext context, IBackend backend, IReadOnlyList<TensorShape> outputShapes,
        Func<int, BoundValue> input, Func<int, BoundValue> output, Func<int, TensorLayout> layout, nint stream = 0)
    {
        Context = context;
        Backend = backend;
        OutputShapes = outputShapes;
        _input = input;
        _output = output;
        _layout = layout;
        _stream = stream;
    }

    public OpContext Context { get; }
    public Node Node => Context.Node;
    public IBackend Backend { get; }

    /// <summary>The node's logical output shapes (as inferred).</summary>
    public IReadOnlyList<TensorShape> OutputShapes { get; }

    /// <summary>The logical shape of input <paramref name="i"/>.</summary>
    public TensorShape InputShape(int i, string what = "input") => Context.Shape(i, what);

    /// <summary>The shape of input <paramref name="i"/>'s buffer: the logical shape, or its blocked form (<see cref="TensorLayout.PhysicalShape"/>).</summary>
    public TensorShape BufferShape(int i) => In(i).Shape;

    /// <summary>The host buffer of input <paramref name="i"/> (an arena view, or the constant's values); for host-only plans.</summary>
    public Tensor Input(int i) => In(i).Host ?? throw new InvalidOperationException($"{Node.Describe()}: input {i} is in device memory.");

    /// <summary>The host buffer of output <paramref name="i"/>; for host-only plans.</summary>
    public Tensor Output(int i = 0) => _output(i).Host ?? throw new InvalidOperationException($"{Node.Describe()}: output {i} is in device memory.");

    /// <summary>The layout of input <paramref name="i"/> (or of the outputs, which the layout pass made the same).</summary>
    public TensorLayout Layout(int i = 0) => _layout(i);

    /// <summary>
    /// The backend's blocked planner when input 0 is in a blocked layout (the layout pass put it there because the
    /// backend's <see cref="ILayoutPolicy"/> asked), null when it is NCHW; a backend that asked without one is refused.
    /// </summary>
    public IBlockedLayoutPlanner? BlockedPlanner() => !Layout(0).IsBlocked ? null
        : Backend as IBlockedLayoutPlanner ?? throw new UnsupportedModelException([$"{Name}: backend '{Backend.Name}' asked for {Layout(0)} but has no blocked planner ({nameof(IBlockedLayoutPlanner)})."]);

    /// <summary>The values of constant input <paramref name="i"/>, which the node requires to be a constant.</summary>
    public Tensor Constant(int i, string what) => Context.RequireConstant(i, what).ToTensor();

    /// <summary>The values of constant input <paramref name="i"/>, or null when the input is absent.</summary>
    public Tensor? OptionalConstant(int i) => Context.Constant(i)?.ToTensor();

    private string Name => Node.Describe();

    private bool OnDevice => Backend.Memory == MemorySpace.Device;

    /// <summary>
    /// A step running <paramref name="plan"/> from input 0 into output 0; <paramref name="x"/> and <paramref name="y"/>
    /// see the same buffers with other shapes of as many elements (a Gemm on a flattened input).
    /// </summary>
    public Step Unary(IUnaryPlan plan, TensorShape? x = null, TensorShape? y = null)
    {
        BoundValue xv = In(0), yv = _output(0);
        xv = x is null ? xv : xv.As(x);
        yv = y is null ? yv : yv.As(y);
        return OnDevice
            ? new DeviceUnaryStep(Name, Backend.Name, Device<IDeviceUnaryPlan>(plan), plan, xv.Device, yv.Device, _stream)
            : new UnaryStep(Name, Backend.Name, plan, xv.Host!, yv.Host!);
    }

    /// <summary>A step running <paramref name="plan"/> on inputs 0 and 1 into output 0.</summary>
    public Step Binary(IBinaryPlan plan) => OnDevice
        ? throw NotOnDevice(plan)
        : new BinaryStep(Name, Backend.Name, plan, Input(0), Input(1), Output());

    /// <summary>A step running the conv <paramref name="plan"/> on input 0 (and input <paramref name="residual"/> when given) into output 0.</summary>
    public Step Conv(IConv2dPlan plan, int? residual = null)
    {
        BoundValue? r = residual is int k ? In(k) : null;
        return OnDevice
            ? new DeviceConvStep(Name, Backend.Name, Device<IDeviceConv2dPlan>(plan), plan, In(0).Device, _output(0).Device, r?.Device ?? 0, _stream)
            : new ConvStep(Name, Backend.Name, plan, Input(0), Output(), r?.Host);
    }

    /// <summary>A step running <paramref name="plan"/> on the inputs at <paramref name="inputs"/> into output 0.</summary>
    public Step Nary(INaryPlan plan, IReadOnlyList<int> inputs) => OnDevice
        ? throw NotOnDevice(plan)
        : new NaryStep(Name, Backend.Name, plan, [.. inputs.Select(Input)], Output());

    /// <summary>A step copying input 0's elements into output 0 (reshapes, kept no-ops), in the backend's memory.</summary>
    public Step Copy()
    {
        BoundValue x = In(0), y = _output(0);
        if (!OnDevice)
        {
            return new CopyStep(Name, Backend.Name, x.Host!, y.Host!);
        }
        var device = (IDeviceBackend)Backend;
        return new DeviceCopyStep(Name, Backend.Name, device, x.Device, y.Device, (long)y.Shape.ElementCount * sizeof(float), _stream);
    }

    /// <summary>A step moving input 0 into output 0 across memory spaces (a Copy node), through the device backend.</summary>
    public Step Transfer()
    {
        var device = Backend as IDeviceBackend ?? throw new InvalidOperationException($"{Name}: a transfer needs a device backend, got '{Backend.Name}'.");
        BoundValue x = In(0), y = _output(0);
        long bytes = (long)y.Shape.ElementCount * sizeof(float);
        if (x.IsDevice == y.IsDevice)
        {
            throw new InvalidOperationException($"{Name}: a transfer goes between host and device memory; both sides are in {(x.IsDevice ? "device" : "host")} memory.");
        }
        return new TransferStep(Name, Backend.Name, device, x, y, bytes, _stream);
    }

    private BoundValue In(int i) => Context.Has(i) ? _input(i) : throw new InvalidModelException($"{Node.Describe()}: input {i} is missing.");

    private T Device<T>(IPlan plan) where T : class => plan as T ?? throw NotOnDevice(plan);

    private UnsupportedModelException NotOnDevice(IPlan plan) =>
        new([$"{Name}: backend '{Backend.Name}' planned it with {plan.GetType().Name} ({plan.Algorithm}), which cannot run on device memory."]);
}
