namespace FastConv.Tests.Validation;

/// <summary>Asserts the exception type and that its message names the offending value and the shape.</summary>
internal static class ValidationAssert
{
    public static void Throws<TException>(Action act, params string[] mustContain) where TException : FastConvException
    {
        var ex = Assert.Throws<TException>(act);
        Assert.That(ex, Is.Not.Null);
        foreach (string part in mustContain)
        {
            Assert.That(ex!.Message, Does.Contain(part));
        }
    }
}
