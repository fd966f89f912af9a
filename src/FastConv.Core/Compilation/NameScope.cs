namespace FastConv.Compilation;

/// <summary>Fresh value names that collide with nothing in the model.</summary>
internal sealed class NameScope
{
    private readonly HashSet<string> _taken;
    private int _counter;

    public NameScope(IEnumerable<string> taken) => _taken = new HashSet<string>(taken, StringComparer.Ordinal);

    public string Fresh(string hint)
    {
        string name;
        do
        {
            name = $"{hint}__fc{_counter++}";
        }
        while (!_taken.Add(name));
        return name;
    }
}
