namespace FastConv.Graphs.Ops;

/// <summary>
/// What an op definition sees of one node: the node, the shape of each input (null for an omitted optional
/// input, ONNX's empty name) and the value of each input that is a graph constant (null otherwise).
/// </summary>
public sealed class OpContext
{
    public OpContext(Node node, IReadOnlyList<TensorShape?> inputShapes, IReadOnlyList<GraphConstant?> inputConstants)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(inputShapes);
        ArgumentNullException.ThrowIfNull(inputConstants);
        Node = node;
        InputShapes = inputShapes;
        InputConstants = inputConstants;
    }

    public Node Node { get; }
    public IReadOnlyList<TensorShape?> InputShapes { get; }
    public IReadOnlyList<GraphConstant?> InputConstants { get; }

    /// <summary>Opset of the node's semantics; 0 (built in code) reads as the latest.</summary>
    public int Opset => Node.Opset == 0 ? int.MaxValue : Node.Opset;

    public bool Has(int i) => i < InputShapes.Count && InputShapes[i] is not null;

    /// <summary>The shape of input <paramref name="i"/>, or an <see cref="InvalidModelException"/> naming the node.</summary>
    public TensorShape Shape(int i, string what) =>
        Has(i) ? InputShapes[i]! : throw new InvalidModelException($"{Node.Describe()}: input {i} ({what}) is missing.");

    public GraphConstant? Constant(int i) => i < InputConstants.Count ? InputConstants[i] : null;

    /// <summary>The value of input <paramref name="i"/>, which must be a graph constant.</summary>
    public GraphConstant RequireConstant(int i, string what) =>
        Constant(i) ?? throw new UnsupportedModelException([$"{Node.Describe()} (opset {Node.Opset}): input {i} ({what}) must be a constant; FastConv does not compute it at run time."]);

    /// <summary>Builds a context for <paramref name="node"/> of <paramref name="graph"/> from the shapes the graph keeps (<see cref="Graph.Values"/>).</summary>
    public static OpContext For(Node node, Graph graph)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(graph);
        var s = new TensorShape?[node.Inputs.Length];
        var c = new GraphConstant?[node.Inputs.Length];
        for (int i = 0; i < node.Inputs.Length; i++)
        {
            string name = node.Inputs[i];
            if (name.Length == 0)
            {
                continue;
            }
            if (graph.Constants.TryGetValue(name, out GraphConstant? k))
            {
                c[i] = k;
                s[i] = k.Shape;
            }
            else if (graph.Values.TryGetValue(name, out ValueInfo? v))
            {
                s[i] = v.Shape;
            }
            else
            {
                throw new InvalidModelException($"{node.Describe()}: input '{name}' is not a graph input, a constant, or the output of an earlier node.");
            }
        }
        return new OpContext(node, s, c);
    }
}
