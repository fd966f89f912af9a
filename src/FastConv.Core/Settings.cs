using System.Globalization;

namespace FastConv;

/// <summary>
/// An environment variable (or the option that stands for it) holds a value FastConv cannot use. The message names
/// the variable, the value and what is accepted; <see cref="Setting"/> is the variable's name.
/// </summary>
public sealed class InvalidSettingException : FastConvException
{
    public InvalidSettingException(string setting, string message, Exception? inner = null)
        : base(message, inner) => Setting = setting;

    public string Setting { get; }
}

/// <summary>
/// Byte sizes as people write them: <c>1048576</c>, <c>512K</c>, <c>64M</c>, <c>2G</c> (binary multiples: K = 1024;
/// an optional trailing <c>B</c> or <c>iB</c> is allowed, as in <c>2GiB</c>). Used by every size-valued setting.
/// </summary>
public static class ByteSize
{
    /// <summary>Parses <paramref name="text"/>; false for anything else (negative, fractional, overflowing, unknown suffix).</summary>
    public static bool TryParse(string? text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        string s = text.Trim();
        if (s.EndsWith("iB", StringComparison.OrdinalIgnoreCase))
        {
            s = s[..^2];
        }
        else if (s.Length > 1 && (s[^1] is 'B' or 'b') && char.IsLetter(s[^2]))
        {
            s = s[..^1];
        }
        int shift = 0;
        if (s.Length > 0 && char.IsLetter(s[^1]))
        {
            shift = char.ToUpperInvariant(s[^1]) switch
            {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => -1,
            };
            s = s[..^1];
        }
        if (shift < 0 || !long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out long n))
        {
            return false;
        }
        if (n > long.MaxValue >> shift)
        {
            return false;
        }
        bytes = n << shift;
        return true;
    }

    /// <summary>A size for messages: whole GiB, MiB or KiB when exact, else bytes.</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };

    /// <summary>
    /// The size in environment variable <paramref name="variable"/>, or <paramref name="fallback"/> when it is unset
    /// or empty. A value that is not a size ≥ 1 throws <see cref="InvalidSettingException"/> naming the variable.
    /// </summary>
    public static long FromEnvironment(string variable, long fallback)
    {
        string? text = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(text))
        {
            return fallback;
        }
        return TryParse(text, out long bytes) && bytes >= 1
            ? bytes
            : throw new InvalidSettingException(variable, $"{variable}='{text}' is not a size; write bytes or a size such as 512M or 2G (unset it for the default, {Format(fallback)}).");
    }
}
