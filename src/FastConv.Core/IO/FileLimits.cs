namespace FastConv.IO;

/// <summary>
/// Caps on the files FastConv reads whole, checked against the file's size before anything is allocated.
/// Each has a documented default and an environment variable (a size: bytes or <c>512M</c>, <c>4G</c>); the
/// loaders also take an explicit cap that overrides both.
/// </summary>
public static class FileLimits
{
    /// <summary>Environment variable capping an ONNX model file (not its external data, whose size its shapes bound).</summary>
    public const string MaxModelBytesVariable = "FASTCONV_MAX_MODEL_BYTES";

    /// <summary>Environment variable capping an input .npy file.</summary>
    public const string MaxInputBytesVariable = "FASTCONV_MAX_INPUT_BYTES";

    /// <summary>2 GiB: protobuf cannot parse a larger message anyway, so a bigger .onnx must keep its weights as external data.</summary>
    public const long DefaultMaxModelBytes = 2L << 30;

    /// <summary>2 GiB of float32 (512 Mi elements): far above any input this engine runs in one call.</summary>
    public const long DefaultMaxInputBytes = 2L << 30;

    /// <summary>The model cap in force: <c>FASTCONV_MAX_MODEL_BYTES</c> or <see cref="DefaultMaxModelBytes"/>.</summary>
    public static long MaxModelBytes => ByteSize.FromEnvironment(MaxModelBytesVariable, DefaultMaxModelBytes);

    /// <summary>The input cap in force: <c>FASTCONV_MAX_INPUT_BYTES</c> or <see cref="DefaultMaxInputBytes"/>.</summary>
    public static long MaxInputBytes => ByteSize.FromEnvironment(MaxInputBytesVariable, DefaultMaxInputBytes);
}
