#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates BypassNat.
.DESCRIPTION
    Build  - compiles the module into out/BypassNat (Import-Module ./out/BypassNat).
    Test   - Build, then the xunit tests and the Pester end-to-end tests (which need root, for the
             network-namespace lab); ends with the line "N passed, N failed" (", N skipped" added when
             tests were skipped). With -NoLab: xunit and the Pester files that need no lab (no root needed).
    Package - Build, then out/package/BypassNat.<version>.nupkg, which PSResourceGet installs from a
             local repository (Register-PSResourceRepository -Uri out/package).
    Demo   - Build, then starts the lab, applies docs/examples/forwards.csv to its main and bypass routers and
             shows requests from the internet client answered by the device, then tears the lab down.
    Bench  - Build, then measures applies, New-BypassForward and the data path in the lab against the
             floor of one SSH command, and writes the table to docs/benchmarks.md (about ten minutes;
             not part of Test). -Smoke: every row once with tiny sizes, nothing written. -Micro: the
             BenchmarkDotNet micro-benchmarks of rendering, diffing and parsing instead. -BenchRow
             Applies, Csv, Shapes, ColdStart or DataPath: only those rows, printed, nothing written
             (e.g. -BenchRow DataPath).
    Mutation - Stryker.NET over src/BypassNat.Core with the unit tests, and the score of each folder
             measured written to docs/mutation.md (long: not part of Test). -MutateFolder
             Model,Validation,Backends/Iptables: only those folders (a folder is a directory with .cs
             files of its own). -MutationConcurrency: test processes at once (1). -Smoke: one small
             file, printed, nothing written. Do not build the tests in the same tree while it runs:
             Stryker puts its mutated assembly into their bin folder (run it from a clone).
    OpenWrtLab - builds OpenWrt's uci, libubox and ucode (cmake) from -Source and stages firewall4,
             BusyBox and the lab's stand-ins into the OpenWrt lab cache ($env:BYPASSNAT_OPENWRT_CACHE,
             default ~/.cache/bypassnat/openwrt). The OpenWrt tests run when it exists and are
             reported as skipped otherwise. No OpenWrt code enters this repository.
    Everything a fresh Debian machine lacks (apt packages, Pester) is installed on the way.
    Each job is a script of its own in src/build/ (this file only picks and chains them).
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'UnitTest', 'PesterTest', 'Package', 'Demo', 'Bench', 'Mutation', 'OpenWrtLab', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester files to run (PesterTest/Test); all of tests/pester by default.
    [string[]] $PesterPath,

    # Bench: every row once with tiny sizes, to check the bench itself; writes no docs/benchmarks.md.
    # Mutation: one small file, to check the mutation run itself; writes no docs/mutation.md.
    [switch] $Smoke,

    # Mutation: the folders of src/BypassNat.Core to mutate (all by default); the others' rows stay.
    [string[]] $MutateFolder,

    # Mutation: how many test processes Stryker runs at once.
    [ValidateRange(1, 8)]
    [int] $MutationConcurrency = 1,

    # Bench: the BenchmarkDotNet micro-benchmarks (tests/BypassNat.Benchmarks) instead of the lab.
    [switch] $Micro,

    # Bench: only these groups of rows (Applies, Csv, Shapes, ColdStart, DataPath); printed, docs/benchmarks.md untouched.
    [ValidateSet('Applies', 'Csv', 'Shapes', 'ColdStart', 'DataPath')]
    [string[]] $BenchRow,

    # Test/PesterTest without root: xunit and only the Pester files that need no lab (no network
    # namespaces), so a contributor on a laptop gets a fast, honest loop.
    [switch] $NoLab,

    # OpenWrtLab: a folder holding the sources of uci, libubox, ucode and firewall4, one folder each
    # (git clones or exports of openwrt/uci, openwrt/libubox, jow-/ucode, openwrt/firewall4).
    [string] $Source,

    # Test/PesterTest: how many Pester processes run files at once (their labs are independent).
    [ValidateRange(1, 8)]
    [int] $PesterJobs = 2,

    # Package: package out/BypassNat as it is, without building it again (the package test uses
    # this, so the module the other tests load does not change under them).
    [switch] $NoBuild
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out/BypassNat'
# The jobs live in src/build/: the repository's top level is fixed (src, tests, module, docs, the
# solution, this file, README, .ci), and these scripts are part of the source, not a test.
$Jobs = Join-Path $Root 'src/build'
$Results = Join-Path $Root 'out/test-results'

# Property and fault tests add what they tried (inputs, states checked, faults injected) to this
# file; the run prints it at the end, so a green run also says how much it checked.
$CountsFile = Join-Path $Results 'counts.txt'
$env:BYPASSNAT_TEST_COUNTS = $CountsFile

function Invoke-Build { & (Join-Path $Jobs 'Build-Module.ps1') -Root $Root -Out $Out -Configuration $Configuration }
function Invoke-UnitTest { & (Join-Path $Jobs 'Invoke-UnitTestRun.ps1') -Root $Root -Results $Results -Configuration $Configuration }
function Invoke-PesterTest { & (Join-Path $Jobs 'Invoke-PesterRun.ps1') -Root $Root -Path $PesterPath -Jobs $PesterJobs -NoLab:$NoLab }
function Install-LabPackages { & (Join-Path $Jobs 'Install-LabPackages.ps1') }

function Write-TestCounts {
    if (Test-Path $CountsFile) { Write-Host "What the property and fault tests checked:"; Get-Content $CountsFile | ForEach-Object { Write-Host "  $_" } }
}

# The closing line CI reads: "N passed, N failed", and ", N skipped" when anything was skipped.
function Format-TestCount([int] $Passed, [int] $Failed, [int] $Skipped) {
    "$Passed passed, $Failed failed$(if ($Skipped) { ", $Skipped skipped" })"
}

function Invoke-Bench {
    if ($Micro) {
        & (Join-Path $Jobs 'Invoke-NativeCommand.ps1') 'dotnet run (benchmarks)' { dotnet run -c Release --project (Join-Path $Root 'tests/BypassNat.Benchmarks/BypassNat.Benchmarks.csproj') -- --filter '*' }
        return
    }
    Install-LabPackages
    $outFile = if ($Smoke -or $BenchRow) { $null } else { Join-Path $Root 'docs/benchmarks.md' }
    $rows = if ($BenchRow) { $BenchRow } else { 'All' }
    & (Join-Path $Root 'tests/bench/Bench.ps1') -ModulePath $Out -OutFile $outFile -Smoke:$Smoke -Only $rows | Out-Null
    if ($outFile) { Write-Host "Wrote $outFile" }
}

switch ($Task) {
    'Clean' { Remove-Item (Join-Path $Root 'out') -Recurse -Force -ErrorAction Ignore }
    'Build' { Invoke-Build }
    'Package' {
        if (-not $NoBuild) { Invoke-Build }
        elseif (-not (Test-Path (Join-Path $Out 'BypassNat.psd1'))) { throw "-NoBuild: there is no $Out to package; run build.ps1 Build first." }
        & (Join-Path $Jobs 'New-Package.ps1') -Root $Root -Out $Out
    }
    'Demo' {
        Invoke-Build
        Install-LabPackages
        & (Join-Path $Root 'tests/lab/Demo.ps1') -ModulePath $Out -CsvPath (Join-Path $Root 'docs/examples/forwards.csv')
    }
    'Bench' { Invoke-Build; Invoke-Bench }
    'Mutation' { & (Join-Path $Jobs 'Invoke-MutationRun.ps1') -Root $Root -Folder $MutateFolder -Concurrency $MutationConcurrency -Smoke:$Smoke }
    'OpenWrtLab' {
        if (-not $Source) { throw "OpenWrtLab needs -Source: a folder with the sources of uci, libubox, ucode and firewall4 (one folder each)." }
        & (Join-Path $Jobs 'Build-OpenWrtLab.ps1') -Root $Root -Source $Source
    }
    'UnitTest' {
        Invoke-Build
        $unit = Invoke-UnitTest
        Write-TestCounts
        Format-TestCount $unit.Passed $unit.Failed $unit.Skipped
        if ($unit.Failed) { exit 1 }
    }
    'PesterTest' {
        Invoke-Build
        $e2e = Invoke-PesterTest
        Format-TestCount $e2e.Passed $e2e.Failed $e2e.Skipped
        if ($e2e.Failed) { exit 1 }
    }
    'Test' {
        Invoke-Build
        $unit = Invoke-UnitTest
        $e2e = Invoke-PesterTest
        Write-TestCounts
        Write-Host "xunit: $(Format-TestCount $unit.Passed $unit.Failed $unit.Skipped); Pester: $(Format-TestCount $e2e.Passed $e2e.Failed $e2e.Skipped)"
        Format-TestCount ($unit.Passed + $e2e.Passed) ($unit.Failed + $e2e.Failed) ($unit.Skipped + $e2e.Skipped)
        if ($unit.Failed -or $e2e.Failed) { exit 1 }
    }
}
