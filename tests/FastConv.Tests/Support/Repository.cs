namespace FastConv.Tests.Support;

/// <summary>The clone the tests run from (the folder holding FastConv.sln above the test assembly).</summary>
internal static class Repository
{
    public static string Root
    {
        get
        {
            for (DirectoryInfo? d = new(TestContext.CurrentContext.TestDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "FastConv.sln")))
                {
                    return d.FullName;
                }
            }
            throw new DirectoryNotFoundException($"no repository root (with FastConv.sln) above {TestContext.CurrentContext.TestDirectory}");
        }
    }
}
