using FastConv.Backends;
using FastConv.Compilation;

namespace FastConv.Graphs.Ops;

/// <summary>A backend that runs Transpose.</summary>
public interface ITransposePlanner
{
    /// <summary>Plans Transpose by <paramref name="perm"/> (a permutation of the axes).</summary>
    IUnaryPlan PlanTranspose(TensorShape x, IReadOnlyList<int> perm);
}

/// <summary>ONNX <c>Transpose</c> (default perm: the axes reversed).</summary>
internal sealed class TransposeOp() : OpDefinition<ITransposePlanner>("Transpose")
{
    public static int[] Perm(Node node, TensorShape x)
    {
        long[]? perm = node.GetInts("perm");
        if (perm is null || perm.Length == 0)
        {
            return [.. Enumerable.Range(0, x.Rank).Reverse()];
        }
        if (perm.Length != x.Rank || perm.Any(p => p < 0 || p >= x.Rank) || perm.Distinct().Count() != perm.Length)
        {
            throw new InvalidHyperparameterException($"perm [{string.Join(",", perm)}] is not a permutation of the axes of input {x}.");
        }
        return [.. perm.Select(p => (int)p)];
    }

    public override TensorShape[] InferShapes(OpContext context)
    {
        TensorShape x = context.Shape(0, "data");
        int[] p = Perm(context.Node, x);
        return [new TensorShape([.. p.Select(a => x[a])])];
    }

    protected override Step Plan(ITransposePlanner planner, KernelBinding binding)
    {
        TensorShape x = binding.InputShape(0, "data");
        return binding.Unary(planner.PlanTranspose(x, Perm(binding.Node, x)));
    }
}
