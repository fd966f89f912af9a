// FastConv's build: ./build.sh [--target=Main|Build|Test|Pack|Bench|Publish|DevicePublish] [--configuration=Release]
var target = Argument("target", "Main");
var configuration = Argument("configuration", "Release");
var benchFilter = Argument("filter", "*");
var rid = Argument("rid", "linux-x64");

var solution = "./FastConv.sln";
var artifacts = MakeAbsolute(Directory("./artifacts"));

Task("Build")
    .Does(() =>
{
    DotNetBuild(solution, new DotNetBuildSettings { Configuration = configuration });
});

Task("Test")
    .IsDependentOn("Build")
    .Does(() =>
{
    var results = artifacts.Combine("test-results");
    CleanDirectory(results);
    DotNetTest("./tests/FastConv.Tests/FastConv.Tests.csproj", new DotNetTestSettings
    {
        Configuration = configuration,
        NoBuild = true,
        ResultsDirectory = results,
        Loggers = new[] { "trx;LogFileName=results.trx", "console;verbosity=minimal" },
    });
});

// Every package to artifacts/packages (with a .snupkg beside each): the FastConv meta-package, the parts (Core, Cpu,
// Interop, Gpu with the emulator library as a linux-x64 native asset, Engine, Extensions) and the fastconv .NET tool
// (FastConv.Cli, a pointer package and FastConv.Cli.linux-x64). Versions come from git tags (MinVer).
Task("Pack")
    .Does(() =>
{
    var packages = artifacts.Combine("packages");
    CleanDirectory(packages);
    DotNetPack(solution, new DotNetPackSettings { Configuration = configuration, OutputDirectory = packages });
    foreach (var f in GetFiles(packages.FullPath + "/*.nupkg"))
    {
        Information($"{f.GetFilename()}  {new System.IO.FileInfo(f.FullPath).Length / 1024.0:F0} KiB");
    }
});

Task("Bench")
    .IsDependentOn("Build")
    .Does(() =>
{
    DotNetRun("./bench/FastConv.Bench/FastConv.Bench.csproj", new ProcessArgumentBuilder().Append("--filter").AppendQuoted(benchFilter),
        new DotNetRunSettings { Configuration = configuration, NoBuild = true });
});

Task("Publish")
    .Does(() =>
{
    var output = artifacts.Combine("publish");
    DotNetPublish("./src/FastConv.Cli/FastConv.Cli.csproj", new DotNetPublishSettings
    {
        Configuration = configuration,
        Runtime = rid,
        SelfContained = true,
        OutputDirectory = output,
        MSBuildSettings = new DotNetMSBuildSettings()
            .WithProperty("PublishTrimmed", "true")
            .WithProperty("InvariantGlobalization", "true"),
    });
    long bytes = 0;
    foreach (var f in GetFiles(output.FullPath + "/**/*")) { bytes += new System.IO.FileInfo(f.FullPath).Length; }
    Information($"Published {output}: {bytes / (1024.0 * 1024.0):F1} MiB");
});

// The CLI for a GPU machine: self-contained and trimmed in artifacts/publish, failing over 60 MiB; then run it there
// with the device tool: run(command="bash bench/gpu/run-on-device.sh check", carry=["artifacts/publish"], timeout_s=540), then "... bench" as a second call.
Task("DevicePublish")
    .Does(() =>
{
    int rc = StartProcess("bash", new ProcessSettings { Arguments = "bench/gpu/run-on-device.sh publish" });
    if (rc != 0) { throw new Exception($"bench/gpu/run-on-device.sh publish failed ({rc})"); }
});

// The README's main job: build the CLI (only what it needs, to stay well inside 5 minutes on 2 cores) and run
// `fastconv bench` on its embedded default set against ONNX Runtime, writing the table, JSON and plot to docs/bench/.
Task("Main")
    .Does(() =>
{
    DotNetBuild("./src/FastConv.Cli/FastConv.Cli.csproj", new DotNetBuildSettings { Configuration = configuration });
    EnsureDirectoryExists("./docs/bench");
    DotNetExecute($"./src/FastConv.Cli/bin/{configuration}/net10.0/fastconv.dll", new ProcessArgumentBuilder()
        .Append("bench").Append("default")
        .Append("--markdown docs/bench/bench.md --json docs/bench/bench.json --plot docs/bench/bench.png"));
});

RunTarget(target);
