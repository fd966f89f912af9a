namespace FastConv;

/// <summary>
/// A tensor has the wrong rank or dimensions for the op: rank mismatch, a weight whose shape does not
/// match the input, channels not divisible by groups, shapes that cannot broadcast.
/// </summary>
public class InvalidShapeException : FastConvException
{
    public InvalidShapeException(string message) : base(message) { }
}

/// <summary>
/// A hyperparameter is out of range: zero or negative stride or dilation, negative padding,
/// a kernel larger than the padded input, an axis outside the rank.
/// </summary>
public class InvalidHyperparameterException : FastConvException
{
    public InvalidHyperparameterException(string message) : base(message) { }
}

/// <summary>
/// A model (ONNX file, built network, graph) is malformed: truncated or unparsable file, dangling or duplicate
/// value names, a cycle, missing initializers, wrong data types, absurd dimensions.
/// </summary>
public class InvalidModelException : FastConvException
{
    public InvalidModelException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// A well-formed model uses what FastConv does not support. <see cref="Problems"/> lists every offending node
/// (name, op type, opset, the attribute at fault), all of them at once, found before any work is done.
/// </summary>
public class UnsupportedModelException : FastConvException
{
    public UnsupportedModelException(IReadOnlyList<string> problems)
        : base($"the model uses {problems.Count} unsupported node(s):" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", problems)) =>
        Problems = problems;

    public IReadOnlyList<string> Problems { get; }
}
