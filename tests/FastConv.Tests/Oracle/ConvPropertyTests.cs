using CsCheck;
using FastConv.Cpu;
using FastConv.Ops;
using FastConv.Tests.Support;

namespace FastConv.Tests.Oracle;

/// <summary>
/// Algebraic properties of the reference conv and pooling ops, checked with CsCheck on random small
/// problems (integer-valued data, so every identity holds exactly).
/// </summary>
public sealed class ConvPropertyTests
{
    private const int Iterations = 100;

    /// <summary>A random valid conv problem: groups 1–3, up to 4 channels per group, kernel up to 4x4.</summary>
    private static readonly Gen<ConvCase> SmallConv = Gen.Select(
        Gen.Int[1, 2], Gen.Int[1, 3], Gen.Int[1, 4], Gen.Int[1, 4], Gen.Int[1, 4], Gen.Int[1, 4],
        Gen.Int[0, 5], Gen.Int[0, 5], Gen.Int[1, 3], Gen.Int[1, 3], Gen.Int[1, 2], Gen.Int[1, 2],
        Gen.Int[0, 3], Gen.Int[0, 3], Gen.Int[0, 3], Gen.Int[0, 3],
        (n, g, cg, kg, r, s, extraH, extraW, sh, sw, dh, dw, pt, pl, pb, pr) =>
        {
            var p = new Conv2dParams { StrideH = sh, StrideW = sw, DilationH = dh, DilationW = dw, Groups = g, Padding = new Padding2d(pt, pl, pb, pr) };
            // H ≥ dilated kernel, so the problem is valid whatever the padding.
            return new ConvCase(n, cg * g, OutputSize.Dilated(r, dh) + extraH, OutputSize.Dilated(s, dw) + extraW, kg * g, r, s, p, false);
        });

    private static Tensor Conv(Tensor x, Tensor w, Conv2dParams p)
    {
        var y = TestData.Poisoned(Reference.Conv2dOutputShape(x.Shape, w.Shape, p));
        Reference.Conv2d(x, w, null, p, y);
        return y;
    }

    [Test]
    public void OneByOneIdentityKernelReturnsTheInput()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[1, 9], Gen.Int[1, 9], Gen.Int[1, 9], Gen.Int).Sample((n, c, h, w, seed) =>
        {
            var x = TestData.Ints(new Random(seed), TensorShape.Of(n, c, h, w), -9, 9);
            var k = Tensor.Allocate(c, c, 1, 1);
            for (int i = 0; i < c; i++)
            {
                k.Span[i * c + i] = 1; // w[k, c] = δ(k, c)
            }
            Compare.Exact(x, Conv(x, k, Conv2dParams.Create()), $"1x1 identity N={n} C={c} H={h} W={w}");
        }, iter: Iterations, threads: 1);
    }

    [Test]
    public void CenteredDeltaWithPad1ReturnsTheInput()
    {
        Gen.Select(Gen.Int[1, 3], Gen.Int[1, 6], Gen.Int[1, 9], Gen.Int[1, 9], Gen.Bool, Gen.Int).Sample((n, c, h, w, depthwise, seed) =>
        {
            var x = TestData.Ints(new Random(seed), TensorShape.Of(n, c, h, w), -9, 9);
            int groups = depthwise ? c : 1, cg = c / groups;
            var k = Tensor.Allocate(c, cg, 3, 3);
            for (int o = 0; o < c; o++)
            {
                k.Span[k.Index(o, depthwise ? 0 : o, 1, 1)] = 1; // 3x3 delta at the centre, channel o → o
            }
            Compare.Exact(x, Conv(x, k, Conv2dParams.Create(pad: 1, groups: groups)), $"3x3 delta pad 1 N={n} C={c} H={h} W={w} depthwise={depthwise}");
        }, iter: Iterations, threads: 1);
    }

    [Test]
    public void ConvIsLinear()
    {
        Gen.Select(SmallConv, Gen.Int[-3, 3], Gen.Int[-3, 3], Gen.Int).Sample((c, a, b, seed) =>
        {
            var rng = new Random(seed);
            var x1 = TestData.Ints(rng, c.X, -3, 3);
            var x2 = TestData.Ints(rng, c.X, -3, 3);
            var w = TestData.Ints(rng, c.Wt, -2, 2);
            var mix = Tensor.Allocate(c.X);
            for (int i = 0; i < mix.Length; i++)
            {
                mix.Span[i] = a * x1.Span[i] + b * x2.Span[i];
            }
            var y1 = Conv(x1, w, c.P);
            var y2 = Conv(x2, w, c.P);
            var combined = Tensor.Allocate(y1.Shape);
            for (int i = 0; i < combined.Length; i++)
            {
                combined.Span[i] = a * y1.Span[i] + b * y2.Span[i];
            }
            Compare.Exact(combined, Conv(mix, w, c.P), $"linearity a={a} b={b} {c}");
        }, iter: Iterations, threads: 1);
    }

    [Test]
    public void GroupedConvIsPerGroupDenseConvsConcatenated()
    {
        Gen.Select(SmallConv, Gen.Int).Sample((c, seed) =>
        {
            var rng = new Random(seed);
            var x = TestData.Ints(rng, c.X, -3, 3);
            var w = TestData.Ints(rng, c.Wt, -2, 2);
            var y = Conv(x, w, c.P);
            int g = c.P.Groups, cg = c.C / g, kg = c.K / g;
            var dense = c.P with { Groups = 1 };
            for (int gi = 0; gi < g; gi++)
            {
                var xs = SliceChannels(x, gi * cg, cg);
                var ws = SliceChannels(w.Reshape(TensorShape.Of(1, c.K, cg, c.R * c.S)), gi * kg, kg).Reshape(TensorShape.Of(kg, cg, c.R, c.S));
                var ys = Conv(xs, ws, dense);
                Compare.Exact(ys, SliceChannels(y, gi * kg, kg), $"group {gi} of {c}");
            }
        }, iter: Iterations, threads: 1);
    }

    [Test]
    public void ConvTransposeIsTheAdjointOfConv()
    {
        // <conv(x), v> = <x, convT(v)> for the same weights: conv weights K×(C/G)×R×S are, read as
        // ConvTranspose weights, (input channels K)×(output channels C/G per group)×R×S. The output
        // padding makes convT's output exactly H×W again.
        Gen.Select(SmallConv, Gen.Int).Sample((c, seed) =>
        {
            var rng = new Random(seed);
            var x = TestData.Ints(rng, c.X, -3, 3);
            var w = TestData.Ints(rng, c.Wt, -2, 2);
            var y = Conv(x, w, c.P);
            var v = TestData.Ints(rng, y.Shape, -3, 3);
            var pad = c.P.Padding;
            var tp = new ConvTranspose2dParams
            {
                StrideH = c.P.StrideH, StrideW = c.P.StrideW, DilationH = c.P.DilationH, DilationW = c.P.DilationW, Groups = c.P.Groups, Padding = pad,
                OutputPaddingH = (c.H + pad.Top + pad.Bottom - OutputSize.Dilated(c.R, c.P.DilationH)) % c.P.StrideH,
                OutputPaddingW = (c.W + pad.Left + pad.Right - OutputSize.Dilated(c.S, c.P.DilationW)) % c.P.StrideW,
            };
            var xt = TestData.Poisoned(c.X);
            Reference.ConvTranspose2d(v, w, null, tp, xt);
            double lhs = 0, rhs = 0;
            for (int i = 0; i < y.Length; i++)
            {
                lhs += y.Span[i] * v.Span[i];
            }
            for (int i = 0; i < x.Length; i++)
            {
                rhs += x.Span[i] * xt.Span[i];
            }
            Assert.That(rhs, Is.EqualTo(lhs), $"adjoint {c}");
        }, iter: Iterations, threads: 1);
    }

    [Test]
    public void MaxPoolOutputIsTheMaximumOfItsWindow()
    {
        Gen.Select(Gen.Int[1, 2], Gen.Int[1, 3], Gen.Int[1, 4], Gen.Int[1, 4], Gen.Int[1, 3], Gen.Int[1, 2], Gen.Int[0, 6], Gen.Int)
            .Sample((n, c, r, s, stride, dil, extra, seed) =>
            {
                var rng = new Random(seed);
                bool ceil = rng.Next(2) == 0;
                int pad = rng.Next(0, r), h = OutputSize.Dilated(r, dil) + extra, w = OutputSize.Dilated(s, dil) + rng.Next(0, 6);
                var p = new Pool2dParams
                {
                    KernelH = r, KernelW = s, StrideH = stride, StrideW = stride, DilationH = dil, DilationW = dil, CeilMode = ceil,
                    Padding = new Padding2d(pad, 0, 0, 0),
                };
                var x = TestData.Ints(rng, TensorShape.Of(n, c, h, w), -50, 50);
                var y = TestData.Poisoned(Reference.Pool2dOutputShape(x.Shape, p));
                Reference.MaxPool2d(x, p, y);
                for (int ni = 0; ni < n; ni++)
                {
                    for (int ci = 0; ci < c; ci++)
                    {
                        for (int op = 0; op < y.Shape[2]; op++)
                        {
                            for (int oq = 0; oq < y.Shape[3]; oq++)
                            {
                                float m = y.Span[y.Index(ni, ci, op, oq)];
                                bool found = false;
                                for (int ri = 0; ri < r; ri++)
                                {
                                    for (int si = 0; si < s; si++)
                                    {
                                        int ih = op * stride - pad + ri * dil, iw = oq * stride + si * dil;
                                        if (ih < 0 || ih >= h || iw >= w)
                                        {
                                            continue;
                                        }
                                        float v = x.Span[x.Index(ni, ci, ih, iw)];
                                        Assert.That(m, Is.GreaterThanOrEqualTo(v), $"y[{ni},{ci},{op},{oq}] vs x[{ih},{iw}]; N={n} C={c} H={h} W={w} {p}");
                                        found |= v == m;
                                    }
                                }
                                Assert.That(found, Is.True, $"y[{ni},{ci},{op},{oq}] = {m} is not in its window; N={n} C={c} H={h} W={w} {p}");
                            }
                        }
                    }
                }
            }, iter: Iterations, threads: 1);
    }

    /// <summary>Channels [start, start + count) of an N×C×H×W tensor, copied.</summary>
    private static Tensor SliceChannels(Tensor t, int start, int count)
    {
        int n = t.Shape[0], c = t.Shape[1], hw = t.Shape[2] * t.Shape[3];
        var r = Tensor.Allocate(n, count, t.Shape[2], t.Shape[3]);
        for (int ni = 0; ni < n; ni++)
        {
            t.Span.Slice((ni * c + start) * hw, count * hw).CopyTo(r.Span.Slice(ni * count * hw, count * hw));
        }
        return r;
    }
}
