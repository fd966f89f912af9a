using FastConv.Backends;

namespace FastConv.Sessions;

/// <summary>
/// One planned node of a session: a backend plan bound, at plan time, to the tensors it reads and writes
/// (views of the session's arena and constants), so running it is one virtual call and no allocation.
/// </summary>
internal abstract class Step : IDisposable
{
    protected Step(string node, string backend, IPlan? plan)
    {
        Node = node;
        Backend = backend;
        Plan = plan;
    }

    public string Node { get; }
    public string Backend { get; }
    public IPlan? Plan { get; }
    public string Algorithm => Plan?.Algorithm ?? "copy";

    public abstract void Execute();

    public void Dispose() => Plan?.Dispose();
}

internal sealed class ConvStep(string node, string backend, IConv2dPlan plan, Tensor x, Tensor y, Tensor? residual) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(x, y, residual);
}

internal sealed class UnaryStep(string node, string backend, IUnaryPlan plan, Tensor x, Tensor y) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(x, y);
}

internal sealed class BinaryStep(string node, string backend, IBinaryPlan plan, Tensor a, Tensor b, Tensor y) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(a, b, y);
}

internal sealed class NaryStep(string node, string backend, INaryPlan plan, Tensor[] inputs, Tensor y) : Step(node, backend, plan)
{
    public override void Execute() => plan.Execute(inputs, y);
}

/// <summary>Reshape, Flatten, and a kept Identity/Dropout: the same elements under another shape.</summary>
internal sealed class CopyStep(string node, Tensor x, Tensor y) : Step(node, "session", null)
{
    public override void Execute()
    {
        if (!x.Memory.Equals(y.Memory))
        {
            x.Span.CopyTo(y.Span);
        }
    }
}
