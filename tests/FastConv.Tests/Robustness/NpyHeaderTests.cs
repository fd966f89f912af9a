using System.Text;
using FastConv.Sessions;

namespace FastConv.Tests.Robustness;

/// <summary>
/// The .npy header is a Python literal dict, parsed as one: a value that merely contains the text
/// <c>'descr': '&lt;f4'</c> does not make a float64 file float32, and anything numpy would not write is refused.
/// </summary>
[Category("Hostile")]
[Description("NpyFormatException saying what is wrong with the header; valid headers load")]
public sealed class NpyHeaderTests
{
    /// <summary>A version-1 file with <paramref name="header"/> (padded as numpy pads it) and <paramref name="data"/>.</summary>
    internal static byte[] Npy(string header, byte[] data, byte major = 1)
    {
        int prefix = major == 1 ? 10 : 12;
        int total = prefix + header.Length + 1;
        string padded = header + new string(' ', (64 - total % 64) % 64) + "\n";
        byte[] h = Encoding.Latin1.GetBytes(padded);
        var bytes = new byte[prefix + h.Length + data.Length];
        byte[] magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0];
        magic.CopyTo(bytes, 0);
        if (major == 1)
        {
            BitConverter.GetBytes((ushort)h.Length).CopyTo(bytes, 8);
        }
        else
        {
            BitConverter.GetBytes((uint)h.Length).CopyTo(bytes, 8);
        }
        h.CopyTo(bytes, prefix);
        data.CopyTo(bytes, prefix + h.Length);
        return bytes;
    }

    public static IEnumerable<TestCaseData> Refused()
    {
        TestCaseData Case(string what, string header, int dataBytes = 8) =>
            new TestCaseData(header, dataBytes).SetName($"npy header refused: {what}");

        // The case: the real descr is float64; a string before it holds the float32 text. The data is sized
        // for the float32 reading (8 bytes for shape (2,)), so only parsing the dict as a dict can tell.
        yield return Case("float64 descr after a string holding 'descr': '<f4'", "{'note': \"'descr': '<f4'\", 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("float64 descr after a later key's decoy string", "{'fortran_order': False, 'shape': (2,), 'x': \"'descr': '<f4'\", 'descr': '<f8', }");
        yield return Case("float64 descr after a decoy key", "{'descrx': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("descr twice", "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("shape twice", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'shape': (4,), }");
        yield return Case("fortran_order twice", "{'descr': '<f4', 'fortran_order': False, 'fortran_order': False, 'shape': (2,), }");
        yield return Case("float64", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16);
        yield return Case("big-endian float32", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("float16", "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 4);
        yield return Case("int32", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("structured dtype", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }");
        yield return Case("Fortran order", "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }");
        yield return Case("fortran_order not a bool", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }");
        yield return Case("fortran_order 'False' as a string", "{'descr': '<f4', 'fortran_order': 'False', 'shape': (2,), }");
        yield return Case("Falsey (a longer word)", "{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,), }");
        yield return Case("no descr", "{'fortran_order': False, 'shape': (2,), }");
        yield return Case("no shape", "{'descr': '<f4', 'fortran_order': False, }");
        yield return Case("no fortran_order", "{'descr': '<f4', 'shape': (2,), }");
        yield return Case("unknown key", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1, }");
        yield return Case("negative dimension", "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }");
        yield return Case("dimension beyond int32", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,), }");
        yield return Case("element count beyond one span", "{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }");
        yield return Case("float dimension", "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }");
        yield return Case("(2) is an int, not a tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }");
        yield return Case("shape as a list", "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }");
        yield return Case("shape as a bare int", "{'descr': '<f4', 'fortran_order': False, 'shape': 2, }");
        yield return Case("two commas in the tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,), }");
        yield return Case("unterminated tuple", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, ");
        yield return Case("unterminated string", "{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }");
        yield return Case("mismatched quotes", "{'descr\": '<f4', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("escape in a string", "{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("no closing brace", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ");
        yield return Case("text after the dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } junk");
        yield return Case("a second dict after the first", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }{'descr': '<f4'}", 16);
        yield return Case("not a dict", "['descr', '<f4', 'fortran_order', False, 'shape', (2,)]");
        yield return Case("unquoted key", "{descr: '<f4', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("missing colon", "{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("missing comma between entries", "{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }");
        yield return Case("a Python expression", "{'descr': '<f4', 'fortran_order': not True, 'shape': (2,), }");
        yield return Case("non-ASCII in a string", "{'descr': '<f4\u00e9', 'fortran_order': False, 'shape': (2,), }");
        yield return Case("empty header", "");
        yield return Case("data shorter than the shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8);
        yield return Case("data longer than the shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 8);
    }

    [TestCaseSource(nameof(Refused))]
    public void IsRefused(string header, int dataBytes)
    {
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(Npy(header, new byte[dataBytes])));
        Assert.That(e!.Message, Is.Not.Empty);
    }

    public static IEnumerable<TestCaseData> Accepted()
    {
        TestCaseData Case(string what, string header, int[] shape, byte major = 1) =>
            new TestCaseData(header, shape, major).SetName($"npy header accepted: {what}");

        yield return Case("numpy.save's own form", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", [2, 3]);
        yield return Case("no trailing comma", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", [2, 3]);
        yield return Case("keys in another order", "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", [2]);
        yield return Case("double quotes", "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (4,)}", [4]);
        yield return Case("scalar shape ()", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", []);
        yield return Case("one dimension (3,)", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", [3]);
        yield return Case("Python 2 long suffix", "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }", [2, 3]);
        yield return Case("|f4 and tabs", "{'descr':\t'|f4',\t'fortran_order': False, 'shape': (1, 1, 2)}", [1, 1, 2]);
        yield return Case("a zero dimension (empty array)", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }", [0, 3]);
        yield return Case("version 2", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", [2], 2);
        yield return Case("version 3", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", [2], 3);
    }

    [TestCaseSource(nameof(Accepted))]
    [Category("Control")]
    public void IsAccepted(string header, int[] shape, byte major)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        Tensor t = NpyFile.Read(Npy(header, new byte[4 * count], major));
        Assert.That(t.Shape, Is.EqualTo(new TensorShape(shape)));
    }
}
