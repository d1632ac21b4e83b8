# Runs the xunit tests into -Results (emptied first; xunit.trx) and returns their counts (Passed, Failed, Skipped).
# A run that leaves no result file counts as one failure, whatever it printed.
param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $Results, [string] $Configuration = 'Release')
$ErrorActionPreference = 'Stop'
# A fresh folder: the property tests' counts file lives there too (build.ps1 prints it after the run).
if (Test-Path $Results) { Remove-Item $Results -Recurse -Force }
New-Item -ItemType Directory -Force $Results | Out-Null
dotnet test (Join-Path $Root 'tests/BypassNat.Core.Tests/BypassNat.Core.Tests.csproj') -c $Configuration --nologo `
    --logger 'trx;LogFileName=xunit.trx' --logger 'console;verbosity=minimal' --results-directory $Results | Out-Host
$trx = Join-Path $Results 'xunit.trx'
if (-not (Test-Path $trx)) { return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }
$counters = ([xml](Get-Content $trx -Raw)).TestRun.ResultSummary.Counters
[pscustomobject]@{ Passed = [int]$counters.passed; Failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout; Skipped = [int]$counters.notExecuted }
