#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates BypassNat.
.DESCRIPTION
    Build  - compiles the module into out/BypassNat (Import-Module ./out/BypassNat).
    Test   - Build, then the xunit tests and the Pester end-to-end tests (which need root, for the
             network-namespace lab); ends with the line "N passed, N failed".
    Demo   - Build, then starts the lab, applies docs/examples/forwards.csv to its bypass router and
             shows requests from the internet client answered by the device, then tears the lab down.
    Everything a fresh Debian machine lacks (apt packages, Pester) is installed on the way.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'UnitTest', 'PesterTest', 'Demo', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester files to run (PesterTest/Test); all of tests/pester by default.
    [string[]] $PesterPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out/BypassNat'
$LabPackages = @{ ip = 'iproute2'; iptables = 'iptables'; nft = 'nftables'; sshd = 'openssh-server'; socat = 'socat'; conntrack = 'conntrack'; 'ssh-keygen' = 'openssh-client'; sudo = 'sudo' }

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
}

function Install-LabPackages {
    $missing = @($LabPackages.GetEnumerator() | Where-Object {
            -not (Get-Command $_.Key -ErrorAction Ignore) -and -not (Test-Path "/usr/sbin/$($_.Key)")
        } | ForEach-Object Value | Sort-Object -Unique)
    if ($missing.Count -eq 0) { return }
    $isRoot = (& id -u) -eq '0'
    if (-not $isRoot -or -not (Test-Path /etc/debian_version)) {
        throw "The lab needs these packages: $($missing -join ', '). Install them (as root on Debian this script does it itself) and run again."
    }
    Write-Host "Installing $($missing -join ', ') with apt-get ..."
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native 'apt-get update' { apt-get update -qq }
    Invoke-Native 'apt-get install' { apt-get install -y -qq --no-install-recommends @missing }
}

function Get-PesterModulePath {
    Invoke-Native 'Restoring Pester' { dotnet restore (Join-Path $Root 'tests/pester/PesterPackage.csproj') --verbosity quiet }
    $packages = (dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
    $manifest = Join-Path $packages.Trim() 'pester/5.7.1/tools/Pester.psd1'
    if (-not (Test-Path $manifest)) { throw "Pester was restored, but $manifest is missing." }
    $manifest
}

function Invoke-Build {
    Invoke-Native 'dotnet build' { dotnet build (Join-Path $Root 'BypassNat.sln') -c $Configuration --nologo --verbosity quiet }
    if (Test-Path $Out) { Remove-Item $Out -Recurse -Force }
    Invoke-Native 'dotnet publish' {
        dotnet publish (Join-Path $Root 'src/BypassNat/BypassNat.csproj') -c $Configuration -o $Out --nologo --verbosity quiet --no-build
    }
    # PowerShell provides these at run time; shipping them would shadow the host's own copies.
    Get-ChildItem $Out -Include 'System.Management.Automation.dll', '*.pdb', '*.deps.json' -Recurse | Remove-Item
    Copy-Item (Join-Path $Root 'module/*') $Out
    $help = New-Item -ItemType Directory -Force (Join-Path $Out 'en-US')
    Copy-Item (Join-Path $Root 'docs/about_BypassNat.md') (Join-Path $help 'about_BypassNat.help.txt')
    Write-Host "Built $Out"
}

function Invoke-UnitTest {
    $results = Join-Path $Root 'out/test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    dotnet test (Join-Path $Root 'tests/BypassNat.Core.Tests/BypassNat.Core.Tests.csproj') -c $Configuration --nologo `
        --logger 'trx;LogFileName=xunit.trx' --logger 'console;verbosity=minimal' --results-directory $results | Out-Host
    $trx = Join-Path $results 'xunit.trx'
    if (-not (Test-Path $trx)) { return [pscustomobject]@{ Passed = 0; Failed = 1 } }
    $counters = ([xml](Get-Content $trx -Raw)).TestRun.ResultSummary.Counters
    [pscustomobject]@{ Passed = [int]$counters.passed; Failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout }
}

function Invoke-PesterTest {
    Install-LabPackages
    Import-Module (Get-PesterModulePath) -Force
    $config = New-PesterConfiguration
    $config.Run.Path = if ($PesterPath) { $PesterPath } else { Join-Path $Root 'tests/pester' }
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputPath = Join-Path $Root 'out/test-results/pester.xml'
    $result = Invoke-Pester -Configuration $config
    [pscustomobject]@{ Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount }
}

function Invoke-Demo {
    Install-LabPackages
    & (Join-Path $Root 'tests/lab/Demo.ps1') -ModulePath $Out -CsvPath (Join-Path $Root 'docs/examples/forwards.csv')
}

switch ($Task) {
    'Clean' { Remove-Item (Join-Path $Root 'out') -Recurse -Force -ErrorAction Ignore }
    'Build' { Invoke-Build }
    'Demo' { Invoke-Build; Invoke-Demo }
    'UnitTest' {
        Invoke-Build
        $unit = Invoke-UnitTest
        "$($unit.Passed) passed, $($unit.Failed) failed"
        if ($unit.Failed) { exit 1 }
    }
    'PesterTest' {
        Invoke-Build
        $e2e = Invoke-PesterTest
        "$($e2e.Passed) passed, $($e2e.Failed) failed"
        if ($e2e.Failed) { exit 1 }
    }
    'Test' {
        Invoke-Build
        $unit = Invoke-UnitTest
        $e2e = Invoke-PesterTest
        Write-Host "xunit: $($unit.Passed) passed, $($unit.Failed) failed; Pester: $($e2e.Passed) passed, $($e2e.Failed) failed"
        "$($unit.Passed + $e2e.Passed) passed, $($unit.Failed + $e2e.Failed) failed"
        if ($unit.Failed -or $e2e.Failed) { exit 1 }
    }
}
