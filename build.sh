#!/usr/bin/env bash
# The one entry point: installs prerequisites, restores the local Cake tool, runs a build.cake target.
#   ./build.sh                  main job: build the CLI, then `fastconv bench` (table, JSON, plot in docs/bench/)
#   ./build.sh --target=Test    build and run every test
#   ./build.sh --target=Pack    every NuGet package (and the fastconv .NET tool) in artifacts/packages
#   ./build.sh --target=Bench   BenchmarkDotNet micro-benchmarks (bench/)
#   ./build.sh --target=Publish self-contained, trimmed CLI in artifacts/publish
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet tool restore >/dev/null
exec dotnet cake build.cake "$@"
