using FastConv.Backends;

namespace FastConv.Compilation;

/// <summary>
/// One planned node: a backend plan bound, at plan time, to the tensors it reads and writes (views of the session's
/// arena and of constants), so running it is one virtual call and no allocation. Op definitions make them through
/// <see cref="KernelBinding"/>.
/// </summary>
public abstract class Step : IDisposable
{
    private protected Step(string node, string backend, IPlan? plan)
    {
        Node = node;
        Backend = backend;
        Plan = plan;
    }

    /// <summary>The node, as errors name it ("Conv 'layer1.0.conv1'").</summary>
    public string Node { get; }

    /// <summary>The backend the node was placed on.</summary>
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
internal sealed class CopyStep(string node, string backend, Tensor x, Tensor y) : Step(node, backend, null)
{
    public override void Execute()
    {
        if (!x.Memory.Equals(y.Memory))
        {
            x.Span.CopyTo(y.Span);
        }
    }
}
