using FastConv.Cpu;

namespace FastConv.Tests.Core;

[NonParallelizable]
public sealed class CpuFeaturesTests
{
    [TearDown]
    public void Restore() => CpuFeatures.Force(null);

    [Test]
    public void ForcingOnlyLowersTheLevel()
    {
        foreach (SimdLevel level in Enum.GetValues<SimdLevel>())
        {
            CpuFeatures.Force(level);
            Assert.That(CpuFeatures.Current, Is.EqualTo(level <= CpuFeatures.Detected ? level : CpuFeatures.Detected), level.ToString());
        }
        CpuFeatures.Force(SimdLevel.Scalar);
        Assert.That(CpuFeatures.Explain(), Does.Contain("forced to Scalar"));
    }

    [TestCase("scalar", SimdLevel.Scalar)]
    [TestCase("Vector128", SimdLevel.Vector128)]
    [TestCase(" avx2 ", SimdLevel.Avx2)]
    [TestCase("avx512", SimdLevel.Avx512)]
    public void ParsesLevelNames(string name, SimdLevel expected) => Assert.That(CpuFeatures.Parse(name), Is.EqualTo(expected));

    [Test]
    public void UnknownLevelNameListsTheValidOnes()
    {
        var ex = Assert.Throws<InvalidHyperparameterException>(() => CpuFeatures.Parse("avx9000"));
        Assert.That(ex!.Message, Does.Contain("avx9000").And.Contain("scalar, vector128, avx2, avx512"));
    }

    [Test]
    public void CpuModelIsReported() => Assert.That(CpuFeatures.CpuModel(), Is.Not.Empty);
}
