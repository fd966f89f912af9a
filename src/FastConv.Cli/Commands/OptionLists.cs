namespace FastConv.Cli.Commands;

/// <summary>
/// The one rule for list options (<c>--backend</c>, <c>--vs</c>, <c>--threads</c>, <c>--batch</c>): each occurrence
/// may hold several comma-separated items and the option may repeat, so <c>--backend cuda,cudnn --backend cublas</c>
/// is three names. Items are trimmed, empty ones dropped, repeats kept once in first-seen order. Without this a
/// comma list reached the registry as one unknown name (and <c>check</c> reported "0 cases" and exit 0).
/// </summary>
public static class OptionLists
{
    /// <summary>The items of every occurrence of a list option; empty when none was given.</summary>
    public static IReadOnlyList<string> Split(IEnumerable<string>? values)
    {
        var items = new List<string>();
        foreach (string value in values ?? [])
        {
            foreach (string item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!items.Contains(item, StringComparer.Ordinal))
                {
                    items.Add(item);
                }
            }
        }
        return items;
    }
}
