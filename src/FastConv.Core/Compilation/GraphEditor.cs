using FastConv.Graphs;

namespace FastConv.Compilation;

/// <summary>
/// An index over a graph for rewriting passes: who produces and who reads each value, node positions, removals and
/// in-place replacements, each O(1) or O(readers) — so a pass over n nodes stays O(n) instead of searching the node
/// list for every rewrite. <see cref="Commit"/> writes the edited node list back (order kept, removed nodes dropped).
/// </summary>
internal sealed class GraphEditor
{
    private readonly Graph _graph;
    private readonly List<Node?> _nodes;
    private readonly Dictionary<Node, int> _position = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<string, Node> _producer = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Node>> _readers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _outputs;

    public GraphEditor(Graph graph)
    {
        _graph = graph;
        _nodes = [.. graph.Nodes];
        _outputs = new HashSet<string>(graph.Outputs, StringComparer.Ordinal);
        for (int i = 0; i < _nodes.Count; i++)
        {
            Index(_nodes[i]!, i);
        }
    }

    /// <summary>The nodes in order (removed ones skipped); safe to edit while enumerating a snapshot of it.</summary>
    public IReadOnlyList<Node> Snapshot() => [.. _nodes.Where(n => n is not null).Select(n => n!)];

    public bool IsGraphOutput(string value) => _outputs.Contains(value);

    public bool IsGraphInput(string value) => _graph.Inputs.Any(i => i.Name == value);

    public bool IsConstant(string value) => _graph.Constants.ContainsKey(value);

    public GraphConstant? Constant(string value) => _graph.Constants.TryGetValue(value, out GraphConstant? c) ? c : null;

    public Node? Producer(string value) => _producer.TryGetValue(value, out Node? p) ? p : null;

    /// <summary>The nodes that read <paramref name="value"/> (a node reading it twice is listed twice).</summary>
    public IReadOnlyList<Node> Readers(string value) => _readers.TryGetValue(value, out List<Node>? r) ? r : [];

    /// <summary>True when <paramref name="value"/> has exactly one reader and is not a graph output (it may be fused away).</summary>
    public bool HasSingleUse(string value) => !_outputs.Contains(value) && Readers(value).Count == 1;

    public bool Contains(Node node) => _position.ContainsKey(node);

    public void Remove(Node node)
    {
        int at = _position[node];
        Unindex(node);
        _nodes[at] = null;
    }

    /// <summary>Puts <paramref name="with"/> where <paramref name="old"/> was.</summary>
    public void Replace(Node old, Node with)
    {
        int at = _position[old];
        Unindex(old);
        _nodes[at] = with;
        Index(with, at);
    }

    /// <summary>Makes every reader of <paramref name="from"/> read <paramref name="to"/> instead.</summary>
    public void RenameReads(string from, string to)
    {
        if (!_readers.Remove(from, out List<Node>? readers))
        {
            return;
        }
        foreach (Node n in readers.Distinct(ReferenceEqualityComparer.Instance).Cast<Node>())
        {
            for (int i = 0; i < n.Inputs.Length; i++)
            {
                if (n.Inputs[i] == from)
                {
                    n.Inputs[i] = to;
                }
            }
        }
        if (!_readers.TryGetValue(to, out List<Node>? existing))
        {
            _readers[to] = readers;
        }
        else
        {
            existing.AddRange(readers);
        }
    }

    /// <summary>Writes the edited node list back into the graph.</summary>
    public void Commit()
    {
        _graph.Nodes.Clear();
        foreach (Node? n in _nodes)
        {
            if (n is not null)
            {
                _graph.Nodes.Add(n);
            }
        }
    }

    private void Index(Node node, int at)
    {
        _position[node] = at;
        foreach (string o in node.Outputs)
        {
            if (o.Length > 0)
            {
                _producer[o] = node;
            }
        }
        foreach (string i in node.Inputs)
        {
            if (i.Length > 0)
            {
                if (!_readers.TryGetValue(i, out List<Node>? r))
                {
                    _readers[i] = r = [];
                }
                r.Add(node);
            }
        }
    }

    private void Unindex(Node node)
    {
        _position.Remove(node);
        foreach (string o in node.Outputs)
        {
            if (o.Length > 0 && _producer.TryGetValue(o, out Node? p) && ReferenceEquals(p, node))
            {
                _producer.Remove(o);
            }
        }
        foreach (string i in node.Inputs)
        {
            if (i.Length > 0 && _readers.TryGetValue(i, out List<Node>? r))
            {
                r.Remove(node);
            }
        }
    }
}
