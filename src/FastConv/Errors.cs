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
