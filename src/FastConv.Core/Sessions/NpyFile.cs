using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using FastConv.IO;
using Microsoft.Win32.SafeHandles;

namespace FastConv.Sessions;

/// <summary>A .npy file FastConv cannot read: not NumPy's format, not float32, Fortran order, or truncated.</summary>
public sealed class NpyFormatException : FastConvException
{
    public NpyFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>
/// NumPy's .npy format for float32 tensors in C order (the format <c>numpy.save</c> writes): magic <c>\x93NUMPY</c>,
/// version, a little-endian header length, a Python dict header <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (…), }</c>
/// padded with spaces to a multiple of 64 bytes, then the raw little-endian data.
/// </summary>
public static class NpyFile
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

    /// <summary>Most header bytes accepted (numpy itself refuses more than 10,000 unless told otherwise).</summary>
    public const int MaxHeaderBytes = 64 * 1024;

    /// <summary>
    /// Reads a .npy file: a regular file only (a FIFO, a device or a directory is refused before it is opened), of at
    /// most <paramref name="maxBytes"/> bytes (default: <c>FASTCONV_MAX_INPUT_BYTES</c>, else
    /// <see cref="FileLimits.DefaultMaxInputBytes"/>), the data read straight into the tensor.
    /// </summary>
    public static Tensor Read(string path, long? maxBytes = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        static NpyFormatException Error(string message, Exception? inner) => new(message, inner);
        long cap = maxBytes ?? FileLimits.MaxInputBytes;
        using SafeFileHandle handle = SafeFile.OpenRegular(path, ".npy input", Error);
        long length = SafeFile.KindOf(handle).Length;
        if (length > cap)
        {
            string hint = maxBytes is null ? $"raise the cap with {FileLimits.MaxInputBytesVariable}=SIZE (e.g. 4G)" : "raise the maxBytes given to NpyFile.Read";
            throw new NpyFormatException($".npy input '{path}' is {length:N0} bytes, more than the limit of {ByteSize.Format(cap)}; {hint}.");
        }
        try
        {
            Span<byte> prefix = stackalloc byte[12];
            prefix = prefix[..(int)Math.Min(12, length)];
            SafeFile.ReadExactly(handle, prefix, 0, path, ".npy input", Error);
            (int start, int headerLength) = ParsePrefix(prefix);
            if ((long)start + headerLength > length)
            {
                throw new NpyFormatException("truncated header.");
            }
            var headerBytes = new byte[headerLength];
            SafeFile.ReadExactly(handle, headerBytes, start, path, ".npy input", Error);
            TensorShape shape = ParseHeader(DecodeHeader(headerBytes, prefix[6]));
            long dataOffset = (long)start + headerLength;
            CheckDataLength(shape, length - dataOffset);
            var values = new float[shape.ElementCount];
            SafeFile.ReadExactly(handle, MemoryMarshal.AsBytes(values.AsSpan()), dataOffset, path, ".npy input", Error);
            if (!BitConverter.IsLittleEndian)
            {
                Span<int> bits = MemoryMarshal.Cast<float, int>(values.AsSpan());
                BinaryPrimitives.ReverseEndianness(bits, bits);
            }
            Span<byte> probe = stackalloc byte[1];
            if (RandomAccess.Read(handle, probe, dataOffset + (long)values.Length * 4) != 0)
            {
                throw new NpyFormatException($"the file grew while it was read (more than {length:N0} bytes).");
            }
            return Tensor.Wrap(values, shape);
        }
        catch (NpyFormatException e) when (!e.Message.Contains($"'{path}'", StringComparison.Ordinal)) // name the file once
        {
            throw new NpyFormatException($"'{path}': {e.Message}", e);
        }
    }

    public static Tensor Read(ReadOnlySpan<byte> bytes)
    {
        (int start, int headerLength) = ParsePrefix(bytes[..Math.Min(12, bytes.Length)]);
        if ((long)start + headerLength > bytes.Length)
        {
            throw new NpyFormatException("truncated header.");
        }
        TensorShape shape = ParseHeader(DecodeHeader(bytes.Slice(start, headerLength), bytes[6]));
        ReadOnlySpan<byte> data = bytes[(start + headerLength)..];
        CheckDataLength(shape, data.Length);
        var values = new float[shape.ElementCount];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]);
        }
        return Tensor.Wrap(values, shape);
    }

    /// <summary>Magic and version → where the header starts and how long it is (bounded by <see cref="MaxHeaderBytes"/>).</summary>
    private static (int Start, int HeaderLength) ParsePrefix(ReadOnlySpan<byte> prefix)
    {
        if (prefix.Length < 10 || !prefix[..6].SequenceEqual(Magic))
        {
            throw new NpyFormatException("not a .npy file (no \\x93NUMPY magic); save it with numpy.save.");
        }
        int major = prefix[6];
        long headerLength;
        int start;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(prefix[8..]);
            start = 10;
        }
        else if (major is 2 or 3)
        {
            if (prefix.Length < 12)
            {
                throw new NpyFormatException("truncated header.");
            }
            headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[8..]);
            start = 12;
        }
        else
        {
            throw new NpyFormatException($"unknown .npy version {major}.");
        }
        if (headerLength > MaxHeaderBytes)
        {
            throw new NpyFormatException($"the header claims {headerLength:N0} bytes, more than the {MaxHeaderBytes:N0} accepted; this is not a file numpy.save writes.");
        }
        return (start, (int)headerLength);
    }

    // Versions 1 and 2 store the header in latin-1, version 3 in UTF-8; the parser accepts ASCII only either way.
    private static string DecodeHeader(ReadOnlySpan<byte> header, byte major)
        => major == 3 ? Encoding.UTF8.GetString(header) : Encoding.Latin1.GetString(header);

    private static void CheckDataLength(TensorShape shape, long dataBytes)
    {
        if (dataBytes != (long)shape.ElementCount * 4)
        {
            throw new NpyFormatException($"shape {shape} needs {(long)shape.ElementCount * 4} data bytes, the file has {dataBytes}.");
        }
    }

    /// <summary>
    /// The header dict, parsed as the Python literal it is (<see cref="NpyHeader"/>): exactly the keys descr,
    /// fortran_order and shape; descr float32, fortran_order False, shape a tuple of non-negative integers.
    /// </summary>
    internal static TensorShape ParseHeader(string header)
    {
        NpyHeader h = NpyHeader.Parse(header);
        if (h.Descr is not ("<f4" or "|f4" or "=f4"))
        {
            string hint = h.Descr is ">f4" ? "big-endian float32; convert with array.astype('<f4')" : "convert with array.astype(numpy.float32)";
            throw new NpyFormatException($"data type '{h.Descr}' is not float32 ('<f4'); {hint}.");
        }
        if (h.FortranOrder)
        {
            throw new NpyFormatException("Fortran-ordered data is not supported; save numpy.ascontiguousarray(array).");
        }
        try
        {
            return new TensorShape(h.Shape);
        }
        catch (InvalidShapeException e)
        {
            throw new NpyFormatException(e.Message);
        }
    }

    /// <summary>A file name for a value name: every character other than an ASCII letter, digit, '_', '-' or '.' becomes '_'.</summary>
    public static string SanitizeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_').ToArray();
        return chars.Length == 0 ? "_" : new string(chars);
    }
}
