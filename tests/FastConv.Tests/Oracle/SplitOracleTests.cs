using FastConv.Backends;
using FastConv.Cpu;
using FastConv.Onnx;
using FastConv.Sessions;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// Split (opset 11 attribute, opset 13 input, opset 18 num_outputs with an uneven last part, equal parts) against ONNX
/// Runtime on seeded cases, through sessions on reference and cpu (each part one slice plan), exactly; the reference's
/// own Split by hand.
/// </summary>
public sealed class SplitOracleTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        var rng = new Random(1111);
        for (int n = 0; n < OracleShapes.CasesPerOp; n++)
        {
            int rank = 1 + n % 4;
            int[] dims = [.. Enumerable.Range(0, rank).Select(_ => rng.Next(1, 9))];
            int axis = rng.Next(-rank, rank);
            int a = axis < 0 ? axis + rank : axis;
            int parts = rng.Next(1, 4);
            int form = n % 4; // 0: split input (13), 1: attribute (11), 2: equal parts (13), 3: num_outputs (18)
            if (form == 2)
            {
                dims[a] = parts * rng.Next(1, 4);
            }
            if (form == 3)
            {
                dims[a] = Math.Max(dims[a], parts);
                while ((dims[a] + parts - 1) / parts * (parts - 1) >= dims[a])
                {
                    dims[a]++; // ⌈d/n⌉·(n − 1) < d: the last part is not empty
                }
            }
            long[] split = [.. Enumerable.Range(0, parts).Select(_ => (long)rng.Next(0, 4))];
            if (form <= 1)
            {
                dims[a] = (int)split.Sum();
                if (dims[a] == 0)
                {
                    split[0] = dims[a] = 2;
                }
            }
            yield return new TestCaseData(dims, axis, parts, form, split).SetName($"Split(X={ElementwiseShapes.Format(dims)}, axis={axis}, outputs={parts}, form {form}, split=[{string.Join(",", split)}]) #{n}");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesOnnxRuntimeOnEveryBackend(int[] dims, int axis, int parts, int form, long[] split)
    {
        Tensor x = TestData.Floats(new Random(dims.Aggregate(parts, (h, d) => h * 31 + d)), new TensorShape(dims));
        var b = new OnnxModelBuilder(opset: form == 1 ? 11 : form == 3 ? 18 : 13);
        string input = b.Input("X", [.. dims.Select(d => (long)d)]);
        string[] outputs = [.. Enumerable.Range(0, parts).Select(i => $"Y{i}")];
        var attrs = new List<global::Onnx.AttributeProto> { OnnxModelBuilder.Attr("axis", (long)axis) };
        string[] inputs = [input];
        if (form == 0)
        {
            inputs = [input, b.Int64("split", split)];
        }
        else if (form == 1)
        {
            attrs.Add(OnnxModelBuilder.Attr("split", split));
        }
        else if (form == 3)
        {
            attrs.Add(OnnxModelBuilder.Attr("num_outputs", (long)parts));
        }
        b.Node("Split", inputs, outputs, [.. attrs]);
        foreach (string o in outputs)
        {
            b.Output(o);
        }
        byte[] model = b.ToBytes();
        var expected = OnnxModelBuilder.RunOrt(model, new Dictionary<string, Tensor> { ["X"] = x });
        foreach (string backend in (string[])[BackendNames.Reference, BackendNames.Cpu])
        {
            using var session = new FastConvSession(OnnxModel.Load(model), new FastConvSessionOptions { Backend = backend, Threads = 1 });
            Assert.That(session.NodePlans.Single().Backend, Is.EqualTo(backend));
            var actual = session.Run(new Dictionary<string, Tensor> { ["X"] = x });
            foreach (string o in outputs)
            {
                Compare.Exact(expected[o], actual[o], $"Split X={x.Shape} output {o} on {backend}");
            }
        }
    }

    [Test]
    public void ByHand()
    {
        var x = Tensor.FromArray([0f, 1, 2, 3, 4, 5], 2, 3);
        Tensor a = Tensor.Allocate(2, 1), b = Tensor.Allocate(2, 2);
        Reference.Split(x, 1, [1, 2], [a, b]);
        Assert.That(a.ToArray(), Is.EqualTo(new[] { 0f, 3 }));
        Assert.That(b.ToArray(), Is.EqualTo(new[] { 1f, 2, 4, 5 }));
    }

    [Test]
    public void SizesThatDoNotAddUpAreRejected()
    {
        var b = new OnnxModelBuilder(opset: 13);
        string x = b.Input("X", 2, 5);
        b.Node("Split", [x, b.Int64("split", 2, 2)], ["A", "B"], OnnxModelBuilder.Attr("axis", 1L));
        b.Output("A");
        b.Output("B");
        var e = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(b.ToBytes()));
        Assert.That(e!.Message, Does.Contain("split [2,2]").And.Contain("[2,5]"));
    }
}
