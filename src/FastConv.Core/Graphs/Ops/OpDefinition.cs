using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// Everything FastConv knows about one op above the kernels, in one place: which attribute values it handles and how
/// it reads them, how it validates a node and infers its output shapes, its learnable parameters and FLOPs, which
/// backends can run it (the place pass asks <see cref="CanRun"/>) and how a backend plans it (<see cref="Plan"/>).
/// One file per op (or op family) in this folder; <see cref="OpRegistry"/> lists them. CONTRIBUTING.md walks through
/// adding one.
/// </summary>
public abstract class OpDefinition
{
    protected OpDefinition(string opType) => OpType = opType;

    public string OpType { get; }

    /// <summary>
    /// Whether FastConv runs this node, judged from its attributes (and its constant inputs when known); when not,
    /// <paramref name="problem"/> names the attribute or input at fault.
    /// </summary>
    public virtual bool IsSupported(Node node, Func<string, GraphConstant?> constantOf, out string? problem)
    {
        problem = null;
        return true;
    }

    /// <summary>Validates the node and returns the shape of each output (the node's declared outputs).</summary>
    public abstract TensorShape[] InferShapes(OpContext context);

    /// <summary>Learnable parameters the node holds as constant inputs (PyTorch's <c>parameters()</c>: weights and biases, BN γ and β).</summary>
    public virtual long Parameters(OpContext context) => 0;

    /// <summary>Floating-point operations (a multiply-add counts 2) for the given output shapes.</summary>
    public virtual long Flops(OpContext context, TensorShape[] outputs) => 0;

    /// <summary>Whether <paramref name="backend"/> can run this node (it implements the op's planner interface).</summary>
    public abstract bool CanRun(IBackend backend, OpContext context);

    /// <summary>
    /// Plans the node on <see cref="KernelBinding.Backend"/> (which <see cref="CanRun"/> accepted) and binds the plan to
    /// the node's buffers: the returned step runs the node with one virtual call and no allocation.
    /// </summary>
    public abstract Step Plan(KernelBinding binding);

    /// <summary>
    /// Whether the node produces its output element by element from same-shaped inputs, so it runs on a blocked layout as
    /// well as on NCHW (the layout pass may keep a chain blocked through it).
    /// </summary>
    public virtual bool IsLayoutAgnostic(OpContext context) => false;
}

/// <summary>An op that a backend runs when it implements <typeparamref name="TPlanner"/> (an op-specific planner interface).</summary>
public abstract class OpDefinition<TPlanner> : OpDefinition where TPlanner : class
{
    protected OpDefinition(string opType) : base(opType) { }

    public override bool CanRun(IBackend backend, OpContext context) => backend is TPlanner;

    public sealed override Step Plan(KernelBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return binding.Backend is TPlanner planner
            ? Plan(planner, binding)
            : throw new UnsupportedModelException([$"{binding.Node.Describe()}: backend '{binding.Backend.Name}' does not run {OpType} (it does not implement {typeof(TPlanner).Name})."]);
    }

    /// <summary>Plans the node with <paramref name="planner"/> (the binding's backend).</summary>
    protected abstract Step Plan(TPlanner planner, KernelBinding binding);
}

/// <summary>Counting helpers for <see cref="OpDefinition.Parameters"/> and <see cref="OpDefinition.Flops"/>.</summary>
internal static class Flop
{
    public static long Count(TensorShape s) => s.ElementCount;
    public static long Params(GraphConstant? c) => c?.Shape.ElementCount ?? 0;
}
