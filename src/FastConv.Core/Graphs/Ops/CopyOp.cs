using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>
/// FastConv's <c>FastConv.Copy</c>: the same value in another memory space (attribute <c>to</c>: "host" or "device").
/// The place pass inserts one wherever a value produced in one space is read in the other, so every transfer of a run is
/// a node of the graph: visible in <c>summary --plan</c> and countable.
/// </summary>
internal sealed class CopyOp() : OpDefinition<IDeviceBackend>(FastConvOps.Copy)
{
    /// <summary>The memory space the copy writes.</summary>
    public static MemorySpace To(Node node) => node.GetString("to", "host") switch
    {
        "host" => MemorySpace.Host,
        "device" => MemorySpace.Device,
        string s => throw new InvalidModelException($"{node.Describe()}: attribute 'to' = \"{s}\" (host or device)."),
    };

    public static AttributeValue Attribute(MemorySpace to) => AttributeValue.Of(to == MemorySpace.Device ? "device" : "host");

    public override TensorShape[] InferShapes(OpContext context)
    {
        To(context.Node);
        return [context.Shape(0, "input")];
    }

    public override bool IsLayoutAgnostic(OpContext context) => true;

    protected override Step Plan(IDeviceBackend device, KernelBinding binding) => binding.Transfer();
}

/// <summary>A backend that converts activations between NCHW and a channel-blocked NCHWc layout.</summary>
public interface IReorderPlanner
{
    /// <summary>Plans a reorder of a value of logical shape <paramref name="shape"/> (N×C×H×W) from one layout to another.</summary>
    IUnaryPlan PlanReorder(TensorShape shape, TensorLayout from, TensorLayout to);
}

/// <summary>
/// FastConv's <c>FastConv.Reorder</c>: the same value in another layout (attribute <c>block</c>: channels per block of
/// the output, 0 for NCHW). The layout pass inserts one at each end of a chain of nodes that run blocked.
/// </summary>
internal sealed class ReorderOp() : OpDefinition<IReorderPlanner>(FastConvOps.Reorder)
{
    /// <summary>The layout the reorder writes.</summary>
    public static TensorLayout To(Node node)
    {
        int block = AttributeReader.Int(node, "block", 0);
        return block == 0 ? TensorLayout.Nchw : TensorLayout.Blocked(block);
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "input");
        x.RequireRank(4, "input", OpType);
        To(context.Node);
        return [x];
    }

    protected override Step Plan(IReorderPlanner planner, KernelBinding binding) =>
        binding.Unary(planner.PlanReorder(binding.InputShape(0), binding.Layout(0), To(binding.Node)));
}
