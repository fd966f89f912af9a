using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FastConv.Graphs;
using FastConv.IO;
using Microsoft.Win32.SafeHandles;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FastConv.Onnx;

/// <summary>
/// Reads ONNX <c>TensorProto</c>s (initializers, <c>Constant</c> values, tensor attributes) into
/// <see cref="GraphConstant"/>s. Element types that convert exactly or as the model means them become float32
/// (FLOAT, DOUBLE rounded to nearest, FLOAT16 and BFLOAT16 exactly) or int64 (INT64, INT32, INT16, INT8, UINT8,
/// UINT16, UINT32, BOOL, and UINT64 below 2^63); the rest (STRING, COMPLEX*, float8) are rejected.
/// Every length is checked against the dimensions before anything is allocated, so a hostile length field
/// cannot make the loader allocate more than the bytes actually present in the file.
/// </summary>
internal static class OnnxTensors
{
    /// <summary>Most elements one constant may hold (2^28 = 1 GiB of float32): beyond that a model is absurd for this engine.</summary>
    public const long MaxConstantElements = 1L << 28;

    /// <summary>Element count of <paramref name="dims"/>, checked in 64 bits; throws for negative or absurd dimensions.</summary>
    public static long CheckedElementCount(IReadOnlyList<long> dims, string what, long cap = MaxConstantElements)
    {
        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0)
                throw new InvalidModelException($"{what}: dimension {d} is negative in shape [{string.Join(",", dims)}]");
            if (d > int.MaxValue)
                throw new InvalidModelException($"{what}: dimension {d} of shape [{string.Join(",", dims)}] exceeds {int.MaxValue}");
            count *= d; // both factors ≤ 2^31 and count ≤ cap ≤ 2^31 before the product: no overflow in 64 bits
            if (count > cap)
                throw new InvalidModelException($"{what}: shape [{string.Join(",", dims)}] has more than {cap} elements; the model is malformed or too large for FastConv");
        }
        return count;
    }

    public static TensorShape ToShape(IReadOnlyList<long> dims, string what)
    {
        CheckedElementCount(dims, what);
        var d = new int[dims.Count];
        for (int i = 0; i < d.Length; i++) d[i] = (int)dims[i];
        return new TensorShape(d);
    }

    public static string TypeName(int dataType) =>
        Enum.IsDefined(typeof(DataType), dataType) ? ((DataType)dataType).ToString().ToUpperInvariant() : $"type {dataType}";

    /// <summary>Whether values of this ONNX element type are held as int64 (else float32).</summary>
    public static bool IsIntegral(int dataType) => (DataType)dataType is DataType.Int64 or DataType.Int32 or DataType.Int16 or DataType.Int8
        or DataType.Uint8 or DataType.Uint16 or DataType.Uint32 or DataType.Uint64 or DataType.Bool;

    public static bool IsFloat(int dataType) => (DataType)dataType is DataType.Float or DataType.Double or DataType.Float16 or DataType.Bfloat16;

    /// <summary>
    /// Converts one tensor. <paramref name="baseDirectory"/> is the model file's folder (for external data);
    /// null when the model came from bytes, in which case external data is an error.
    /// </summary>
    public static GraphConstant Read(TensorProto t, string what, string? baseDirectory)
    {
        if (t.Segment is not null)
            throw new UnsupportedModelException([$"{what}: segmented tensors are not supported"]);
        int type = t.DataType;
        if (!IsIntegral(type) && !IsFloat(type))
            throw new InvalidModelException($"{what}: element type {TypeName(type)} cannot be used by FastConv (float32/float64/float16/bfloat16 weights and integer shapes only)");
        long count = CheckedElementCount(t.Dims, what);
        TensorShape shape = ToShape(t.Dims, what);
        int elementSize = ElementSize(type);

        ReadOnlySpan<byte> raw;
        byte[]? external = null;
        bool isExternal = t.HasDataLocation && t.DataLocation == TensorProto.Types.DataLocation.External;
        if (isExternal)
        {
            external = ReadExternal(t, what, baseDirectory, count * elementSize);
            raw = external;
        }
        else if (t.HasRawData)
        {
            raw = t.RawData.Span;
        }
        else
        {
            return ReadTyped(t, what, shape, count);
        }

        if (raw.Length != count * elementSize)
            throw new InvalidModelException($"{what}: {TypeName(type)} tensor of shape {shape} needs {count * elementSize} bytes of data, has {raw.Length}");
        return FromRaw(raw, type, shape, (int)count);
    }

    private static int ElementSize(int type) => (DataType)type switch
    {
        DataType.Float or DataType.Int32 or DataType.Uint32 => 4,
        DataType.Double or DataType.Int64 or DataType.Uint64 => 8,
        DataType.Float16 or DataType.Bfloat16 or DataType.Int16 or DataType.Uint16 => 2,
        _ => 1, // int8, uint8, bool
    };

    private static GraphConstant FromRaw(ReadOnlySpan<byte> raw, int type, TensorShape shape, int count)
    {
        // The common cases on a little-endian machine: one block copy (weights are most of a model's bytes).
        if (BitConverter.IsLittleEndian && (DataType)type == DataType.Float)
            return GraphConstant.Float32(shape, MemoryMarshal.Cast<byte, float>(raw).ToArray());
        if (BitConverter.IsLittleEndian && (DataType)type == DataType.Int64)
            return GraphConstant.Int64(shape, MemoryMarshal.Cast<byte, long>(raw).ToArray());
        if (IsFloat(type))
        {
            var f = new float[count];
            for (int i = 0; i < count; i++)
            {
                f[i] = (DataType)type switch
                {
                    DataType.Float => BinaryPrimitives.ReadSingleLittleEndian(raw[(4 * i)..]),
                    DataType.Double => (float)BinaryPrimitives.ReadDoubleLittleEndian(raw[(8 * i)..]),
                    DataType.Float16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..])),
                    _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]) << 16),
                };
            }
            return GraphConstant.Float32(shape, f);
        }
        var l = new long[count];
        for (int i = 0; i < count; i++)
        {
            l[i] = (DataType)type switch
            {
                DataType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(raw[(8 * i)..]),
                DataType.Uint64 => CheckedUInt64(BinaryPrimitives.ReadUInt64LittleEndian(raw[(8 * i)..])),
                DataType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(raw[(4 * i)..]),
                DataType.Uint32 => BinaryPrimitives.ReadUInt32LittleEndian(raw[(4 * i)..]),
                DataType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(raw[(2 * i)..]),
                DataType.Uint16 => BinaryPrimitives.ReadUInt16LittleEndian(raw[(2 * i)..]),
                DataType.Int8 => (sbyte)raw[i],
                DataType.Bool => raw[i] != 0 ? 1 : 0,
                _ => raw[i],
            };
        }
        return GraphConstant.Int64(shape, l);
    }

    private static long CheckedUInt64(ulong v) =>
        v <= long.MaxValue ? (long)v : throw new InvalidModelException($"UINT64 value {v} does not fit in int64");

    /// <summary>The typed fields: float_data (FLOAT), double_data (DOUBLE), int64_data (INT64), uint64_data (UINT32, UINT64),
    /// int32_data (INT32, INT16, INT8, UINT16, UINT8, BOOL, and the bit patterns of FLOAT16/BFLOAT16).</summary>
    private static GraphConstant ReadTyped(TensorProto t, string what, TensorShape shape, long count)
    {
        var type = (DataType)t.DataType;
        int available = type switch
        {
            DataType.Float => t.FloatData.Count,
            DataType.Double => t.DoubleData.Count,
            DataType.Int64 => t.Int64Data.Count,
            DataType.Uint32 or DataType.Uint64 => t.Uint64Data.Count,
            _ => t.Int32Data.Count,
        };
        if (available != count)
            throw new InvalidModelException($"{what}: {TypeName(t.DataType)} tensor of shape {shape} needs {count} values, has {available} (typed field; no raw_data)");
        int n = (int)count;
        switch (type)
        {
            case DataType.Float:
                return GraphConstant.Float32(shape, [.. t.FloatData]);
            case DataType.Double:
                {
                    var f = new float[n];
                    for (int i = 0; i < n; i++) f[i] = (float)t.DoubleData[i];
                    return GraphConstant.Float32(shape, f);
                }
            case DataType.Float16:
            case DataType.Bfloat16:
                {
                    var f = new float[n];
                    for (int i = 0; i < n; i++)
                    {
                        int bits = t.Int32Data[i] & 0xFFFF;
                        f[i] = type == DataType.Float16 ? (float)BitConverter.UInt16BitsToHalf((ushort)bits) : BitConverter.Int32BitsToSingle(bits << 16);
                    }
                    return GraphConstant.Float32(shape, f);
                }
            case DataType.Int64:
                return GraphConstant.Int64(shape, [.. t.Int64Data]);
            case DataType.Uint32:
            case DataType.Uint64:
                {
                    var l = new long[n];
                    for (int i = 0; i < n; i++) l[i] = CheckedUInt64(t.Uint64Data[i]);
                    return GraphConstant.Int64(shape, l);
                }
            default:
                {
                    var l = new long[n];
                    for (int i = 0; i < n; i++) l[i] = type == DataType.Bool ? (t.Int32Data[i] != 0 ? 1 : 0) : t.Int32Data[i];
                    return GraphConstant.Int64(shape, l);
                }
        }
    }

    /// <summary>
    /// External data: <c>location</c> relative to the model's folder (absolute paths and any path that resolves outside
    /// the folder, symbolic links in any component followed, are rejected; so is anything but a regular file),
    /// optional <c>offset</c> and <c>length</c>. Reads exactly the bytes the shape needs,
    /// after checking the file holds them.
    /// </summary>
    private static byte[] ReadExternal(TensorProto t, string what, string? baseDirectory, long needed)
    {
        string? location = null;
        long offset = 0, length = -1;
        foreach (var kv in t.ExternalData)
        {
            switch (kv.Key)
            {
                case "location": location = kv.Value; break;
                case "offset": offset = ParseNonNegative(kv.Value, "offset", what); break;
                case "length": length = ParseNonNegative(kv.Value, "length", what); break;
                case "checksum": break;
                default: break;
            }
        }
        if (string.IsNullOrEmpty(location))
            throw new InvalidModelException($"{what}: external data without a 'location'");
        if (baseDirectory is null)
            throw new InvalidModelException($"{what}: the tensor's data is in an external file '{location}', but the model was loaded from bytes; load it from its path so the file can be found beside it");
        if (length >= 0 && length != needed)
            throw new InvalidModelException($"{what}: external data length {length} does not match the {needed} bytes its shape needs");
        if (Path.IsPathRooted(location) || location.Contains('\0', StringComparison.Ordinal))
            throw new InvalidModelException($"{what}: external data location '{location}' must be a relative path inside the model's folder");
        // Every component is resolved with its links followed before the containment check (a lexical check would
        // let 'leak.bin -> /etc/passwd' or a linked sub-folder through); the file must then be a regular file.
        string? full;
        try
        {
            full = SafeFile.ResolveInside(baseDirectory, location);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new InvalidModelException($"{what}: cannot resolve external data location '{location}' in '{baseDirectory}': {e.Message}", e);
        }
        if (full is null)
            throw new InvalidModelException($"{what}: external data location '{location}' resolves (links followed) outside the model's folder '{baseDirectory}'; refusing to read it. Keep external data files, as real files, beside the model.");
        static InvalidModelException Error(string message, Exception? inner) => new(message, inner);
        using SafeFileHandle handle = SafeFile.OpenRegular(full, $"{what}: external data file", Error);
        long size = SafeFile.KindOf(handle).Length;
        if (offset > size || needed > size - offset)
            throw new InvalidModelException($"{what}: external data file '{full}' has {size} bytes; the tensor needs {needed} bytes at offset {offset}");
        var data = new byte[needed];
        SafeFile.ReadExactly(handle, data, offset, full, $"{what}: external data file", Error);
        return data;
    }

    private static long ParseNonNegative(string s, string key, string what) =>
        long.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new InvalidModelException($"{what}: external data '{key}' is '{s}', expected a non-negative integer");
}
