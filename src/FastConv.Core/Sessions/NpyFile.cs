using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FastConv.Sessions;

/// <summary>A .npy file FastConv cannot read: not NumPy's format, not float32, Fortran order, or truncated.</summary>
public sealed class NpyFormatException : FastConvException
{
    public NpyFormatException(string message) : base(message) { }
}

/// <summary>
/// NumPy's .npy format for float32 tensors in C order (the format <c>numpy.save</c> writes): magic <c>\x93NUMPY</c>,
/// version, a little-endian header length, a Python dict header <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (…), }</c>
/// padded with spaces to a multiple of 64 bytes, then the raw little-endian data.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static void Write(string path, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var stream = File.Create(path);
        Write(stream, tensor);
    }

    public static void Write(Stream stream, Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensor);
        string dims = tensor.Rank switch
        {
            0 => "()",
            1 => $"({tensor.Shape[0]},)",
            _ => "(" + string.Join(", ", tensor.Shape) + ")",
        };
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}";
        int total = Magic.Length + 4 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> len = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
        stream.Write(len);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var data = new byte[tensor.Length * 4];
        ReadOnlySpan<float> values = tensor.Span;
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        }
        stream.Write(data);
    }

    public static Tensor Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new NpyFormatException($"'{path}' does not exist.");
        }
        byte[] bytes = File.ReadAllBytes(path);
        try
        {
            return Read(bytes);
        }
        catch (NpyFormatException e)
        {
            throw new NpyFormatException($"'{path}': {e.Message}");
        }
    }

    public static Tensor Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw new NpyFormatException("not a .npy file (no \\x93NUMPY magic); save it with numpy.save.");
        }
        int major = bytes[6];
        int headerLength, start;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
            start = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
            {
                throw new NpyFormatException("truncated header.");
            }
            uint h = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
            headerLength = h > int.MaxValue ? int.MaxValue : (int)h;
            start = 12;
        }
        else
        {
            throw new NpyFormatException($"unknown .npy version {major}.");
        }
        if ((long)start + headerLength > bytes.Length)
        {
            throw new NpyFormatException("truncated header.");
        }
        string header = Encoding.ASCII.GetString(bytes.Slice(start, headerLength));
        string descr = HeaderValue(header, "descr");
        if (descr is not ("'<f4'" or "'|f4'" or "'=f4'"))
        {
            throw new NpyFormatException($"data type {descr} is not float32 ('<f4'); convert with array.astype(numpy.float32).");
        }
        if (HeaderValue(header, "fortran_order") != "False")
        {
            throw new NpyFormatException("Fortran-ordered data is not supported; save numpy.ascontiguousarray(array).");
        }
        string shapeText = HeaderValue(header, "shape").Trim('(', ')');
        int[] dims;
        try
        {
            dims = [.. shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(d => int.Parse(d, CultureInfo.InvariantCulture))];
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new NpyFormatException($"shape ({shapeText}) is not a tuple of dimensions.");
        }
        TensorShape shape;
        try
        {
            shape = new TensorShape(dims);
        }
        catch (InvalidShapeException e)
        {
            throw new NpyFormatException(e.Message);
        }
        ReadOnlySpan<byte> data = bytes[(start + headerLength)..];
        if (data.Length != (long)shape.ElementCount * 4)
        {
            throw new NpyFormatException($"shape {shape} needs {(long)shape.ElementCount * 4} data bytes, the file has {data.Length}.");
        }
        var values = new float[shape.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]);
        }
        return Tensor.Wrap(values, shape);
    }

    /// <summary>A file name for a value name: every character other than an ASCII letter, digit, '_', '-' or '.' becomes '_'.</summary>
    public static string SanitizeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_').ToArray();
        return chars.Length == 0 ? "_" : new string(chars);
    }

    private static string HeaderValue(string header, string key)
    {
        Match m = HeaderEntry().Matches(header).FirstOrDefault(m => m.Groups[1].Value == key)
            ?? throw new NpyFormatException($"header has no '{key}': {header.Trim()}");
        return m.Groups[2].Value.Trim();
    }

    // 'key': value, where value is a quoted string, True/False, or a parenthesized tuple.
    [GeneratedRegex(@"'(\w+)'\s*:\s*('[^']*'|True|False|\([^)]*\))")]
    private static partial Regex HeaderEntry();
}
