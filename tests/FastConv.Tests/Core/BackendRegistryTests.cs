using FastConv.Backends;

namespace FastConv.Tests.Core;

public sealed class BackendRegistryTests
{
    [TestCase("reference")]
    [TestCase("cpu")]
    public void CreatesTheCpuAssemblysBackendsByName(string name)
    {
        using IBackend backend = BackendRegistry.Create(name);
        Assert.That(backend.Name, Is.EqualTo(name));
    }

    [Test]
    [Category("Hostile")]
    [Description("BackendUnavailableException listing the known names")]
    public void UnknownNameGivesATypedErrorListingTheKnownNames()
    {
        var e = Assert.Throws<BackendUnavailableException>(() => BackendRegistry.Create("tpu"));
        Assert.That(e!.Message, Does.Contain("tpu").And.Contain("cpu").And.Contain("cudnn"));
    }

    [Test]
    public void AutoFallsBackToCpuAndSaysWhyItSkippedTheGpu()
    {
        var (backend, skipped) = BackendRegistry.Resolve(BackendRegistry.Auto);
        using (backend)
        {
            if (backend.Name == BackendNames.Cpu)
                Assert.That(skipped, Has.Some.StartsWith("cuda: "));
            else
                Assert.That(backend.Name, Is.EqualTo(BackendNames.Cuda));
        }
    }
}
