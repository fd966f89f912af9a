using System.Globalization;

namespace FastConv.Sessions;

/// <summary>
/// The header of a .npy file, parsed strictly as the Python literal it is: <c>{'descr': '&lt;f4', 'fortran_order': False,
/// 'shape': (2, 3), }</c> followed by padding spaces and a newline. Keys and strings in single or double quotes; exactly
/// the three keys, each once; descr a string (structured dtypes, which are lists, are refused), fortran_order True or
/// False, shape a tuple of non-negative integers (<c>()</c>, <c>(3,)</c>, <c>(2, 3)</c>; <c>(3)</c> is an int in Python,
/// not a tuple, and is refused). Anything else — a string holding <c>'descr': '&lt;f4'</c> inside another value,
/// escapes, comments, expressions — is an error, never guessed at.
/// </summary>
internal readonly record struct NpyHeader(string Descr, bool FortranOrder, int[] Shape)
{
    public static NpyHeader Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var p = new Parser(text);
        string? descr = null;
        bool? fortran = null;
        int[]? shape = null;
        p.SkipSpace();
        p.Expect('{');
        while (true)
        {
            p.SkipSpace();
            if (p.TryTake('}'))
            {
                break;
            }
            int keyAt = p.Position;
            string key = p.String();
            p.SkipSpace();
            p.Expect(':');
            p.SkipSpace();
            switch (key)
            {
                case "descr" when descr is null:
                    descr = p.Peek() == '[' ? throw p.Fail("descr is a structured dtype (a list); FastConv reads plain float32 arrays") : p.String();
                    break;
                case "fortran_order" when fortran is null:
                    fortran = p.Bool();
                    break;
                case "shape" when shape is null:
                    shape = p.Tuple();
                    break;
                case "descr" or "fortran_order" or "shape":
                    throw p.Fail($"key '{key}' appears twice", keyAt);
                default:
                    throw p.Fail($"unexpected key '{key}' (a .npy header has exactly descr, fortran_order and shape)", keyAt);
            }
            p.SkipSpace();
            if (p.TryTake('}'))
            {
                break;
            }
            p.Expect(',');
        }
        p.SkipSpace();
        if (!p.AtEnd)
        {
            throw p.Fail("text after the closing '}'");
        }
        if (descr is null || fortran is null || shape is null)
        {
            string missing = string.Join(", ", new[] { descr is null ? "descr" : null, fortran is null ? "fortran_order" : null, shape is null ? "shape" : null }.OfType<string>());
            throw new NpyFormatException($"header has no {missing}: {Shorten(text)}");
        }
        return new NpyHeader(descr, fortran.Value, shape);
    }

    private static string Shorten(string text)
    {
        string t = text.Trim();
        return t.Length <= 120 ? t : t[..120] + "…";
    }

    private ref struct Parser(string text)
    {
        private readonly string _text = text;
        private int _at;

        public readonly int Position => _at;
        public readonly bool AtEnd => _at >= _text.Length;
        public readonly char Peek() => AtEnd ? '\0' : _text[_at];

        public void SkipSpace()
        {
            while (!AtEnd && _text[_at] is ' ' or '\t' or '\n' or '\r')
            {
                _at++;
            }
        }

        public bool TryTake(char c)
        {
            if (Peek() != c)
            {
                return false;
            }
            _at++;
            return true;
        }

        public void Expect(char c)
        {
            if (!TryTake(c))
            {
                throw Fail($"expected '{c}'");
            }
        }

        public string String()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"'))
            {
                throw Fail("expected a quoted string");
            }
            int start = ++_at;
            while (!AtEnd && _text[_at] != quote)
            {
                char c = _text[_at];
                if (c == '\\' || c < ' ' || c > '~')
                {
                    throw Fail("escapes and non-ASCII characters are not allowed in header strings");
                }
                _at++;
            }
            if (AtEnd)
            {
                throw Fail("unterminated string", start - 1);
            }
            return _text[start.._at++];
        }

        public bool Bool()
        {
            if (Word("True"))
            {
                return true;
            }
            if (Word("False"))
            {
                return false;
            }
            throw Fail("expected True or False");
        }

        public int[] Tuple()
        {
            Expect('(');
            var dims = new List<int>();
            bool trailingComma = false;
            SkipSpace();
            while (!TryTake(')'))
            {
                dims.Add(Dimension());
                SkipSpace();
                trailingComma = TryTake(',');
                SkipSpace();
                if (!trailingComma && Peek() != ')')
                {
                    throw Fail("expected ',' or ')' in the shape tuple");
                }
            }
            if (dims.Count == 1 && !trailingComma)
            {
                throw Fail("the shape is '(n)', an int in Python, not a tuple; numpy writes '(n,)'");
            }
            return [.. dims];
        }

        private int Dimension()
        {
            int start = _at;
            while (!AtEnd && char.IsAsciiDigit(_text[_at]))
            {
                _at++;
            }
            if (_at == start)
            {
                throw Fail("expected a non-negative integer dimension");
            }
            string digits = _text[start.._at];
            if (Peek() == 'L')
            {
                _at++; // Python 2's long suffix, as numpy under Python 2 wrote it
            }
            return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int d)
                ? d
                : throw Fail($"dimension {digits} is larger than {int.MaxValue}", start);
        }

        private bool Word(string word)
        {
            if (string.CompareOrdinal(_text, _at, word, 0, word.Length) != 0)
            {
                return false;
            }
            int end = _at + word.Length;
            if (end < _text.Length && (char.IsAsciiLetterOrDigit(_text[end]) || _text[end] == '_'))
            {
                return false;
            }
            _at = end;
            return true;
        }

        public readonly NpyFormatException Fail(string what, int? at = null)
        {
            int pos = at ?? _at;
            return new NpyFormatException($"header is not a valid .npy header dict: {what} at character {pos} of {Shorten(_text)}");
        }
    }
}
