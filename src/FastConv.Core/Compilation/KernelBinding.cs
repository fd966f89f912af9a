using FastConv.Backends;
using FastConv.Graphs;
using FastConv.Graphs.Ops;

namespace FastConv.Compilation;

/// <summary>
/// What an op definition gets when it plans one node on one backend: the node's shapes and constants
/// (<see cref="Context"/>), the buffers bound to its inputs and outputs (in their physical layout), and helpers that
/// wrap the backend's plan into a <see cref="Step"/>.
/// </summary>
public sealed class KernelBinding
{
    private readonly Func<int, Tensor> _input;
    private readonly Func<int, Tensor> _output;
    private readonly Func<int, TensorLayout> _layout;

    internal KernelBinding(OpContext context, IBackend backend, IReadOnlyList<TensorShape> outputShapes,
        Func<int, Tensor> input, Func<int, Tensor> output, Func<int, TensorLayout> layout)
    {
        Context = context;
        Backend = backend;
        OutputShapes = outputShapes;
        _input = input;
        _output = output;
        _layout = layout;
    }

    public OpContext Context { get; }
    public Node Node => Context.Node;
    public IBackend Backend { get; }

    /// <summary>The node's logical output shapes (as inferred).</summary>
    public IReadOnlyList<TensorShape> OutputShapes { get; }

    /// <summary>The logical shape of input <paramref name="i"/>.</summary>
    public TensorShape InputShape(int i, string what = "input") => Context.Shape(i, what);

    /// <summary>The buffer of input <paramref name="i"/>: a view of the arena, or the constant's values.</summary>
    public Tensor Input(int i) => Context.Has(i) ? _input(i) : throw new InvalidModelException($"{Node.Describe()}: input {i} is missing.");

    /// <summary>The buffer of input <paramref name="i"/>, or null for an omitted optional input.</summary>
    public Tensor? OptionalInput(int i) => Context.Has(i) ? _input(i) : null;

    /// <summary>The buffer of output <paramref name="i"/> (a view of the arena).</summary>
    public Tensor Output(int i = 0) => _output(i);

    /// <summary>The layout of input <paramref name="i"/> (or of the outputs, which the layout pass made the same).</summary>
    public TensorLayout Layout(int i = 0) => _layout(i);

    /// <summary>The values of constant input <paramref name="i"/>, which the node requires to be a constant.</summary>
    public Tensor Constant(int i, string what) => Context.RequireConstant(i, what).ToTensor();

    /// <summary>The values of constant input <paramref name="i"/>, or null when the input is absent.</summary>
    public Tensor? OptionalConstant(int i) => Context.Constant(i)?.ToTensor();

    private string Name => Node.Describe();

    /// <summary>A step running <paramref name="plan"/> from input 0 (or <paramref name="x"/>) into output 0 (or <paramref name="y"/>).</summary>
    public Step Unary(IUnaryPlan plan, Tensor? x = null, Tensor? y = null) => new UnaryStep(Name, Backend.Name, plan, x ?? Input(0), y ?? Output());

    /// <summary>A step running <paramref name="plan"/> on inputs 0 and 1 into output 0.</summary>
    public Step Binary(IBinaryPlan plan) => new BinaryStep(Name, Backend.Name, plan, Input(0), Input(1), Output());

    /// <summary>A step running the conv <paramref name="plan"/> on input 0 (and the residual) into output 0.</summary>
    public Step Conv(IConv2dPlan plan, Tensor? residual) => new ConvStep(Name, Backend.Name, plan, Input(0), Output(), residual);

    /// <summary>A step running <paramref name="plan"/> on <paramref name="inputs"/> into output 0.</summary>
    public Step Nary(INaryPlan plan, Tensor[] inputs) => new NaryStep(Name, Backend.Name, plan, inputs, Output());

    /// <summary>A step copying input 0's elements into output 0 (reshapes, kept no-ops).</summary>
    public Step Copy() => new CopyStep(Name, Backend.Name, Input(0), Output());
}
