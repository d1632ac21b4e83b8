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
             Applies, Csv or DataPath: only those rows, printed, nothing written (e.g. -BenchRow DataPath).
    OpenWrtLab - builds OpenWrt's uci, libubox and ucode (cmake) from -Source and stages firewall4,
             BusyBox and the lab's stand-ins into the OpenWrt lab cache ($env:BYPASSNAT_OPENWRT_CACHE,
             default ~/.cache/bypassnat/openwrt). The OpenWrt tests run when it exists and are
             reported as skipped otherwise. No OpenWrt code enters this repository.
    Everything a fresh Debian machine lacks (apt packages, Pester) is installed on the way.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'UnitTest', 'PesterTest', 'Package', 'Demo', 'Bench', 'OpenWrtLab', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester files to run (PesterTest/Test); all of tests/pester by default.
    [string[]] $PesterPath,

    # Bench: every row once with tiny sizes, to check the bench itself; writes no docs/benchmarks.md.
    [switch] $Smoke,

    # Bench: the BenchmarkDotNet micro-benchmarks (tests/BypassNat.Benchmarks) instead of the lab.
    [switch] $Micro,

    # Bench: only these groups of rows (Applies, Csv, DataPath); printed, docs/benchmarks.md untouched.
    [ValidateSet('Applies', 'Csv', 'DataPath')]
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
$LabPackages = @{ ip = 'iproute2'; iptables = 'iptables'; nft = 'nftables'; sshd = 'openssh-server'; socat = 'socat'; conntrack = 'conntrack'; 'ssh-keygen' = 'openssh-client'; sudo = 'sudo'; openssl = 'openssl'; v2ray = 'v2ray' }

function Invoke-Native([string] $What, [scriptblock] $Command) {
    & $Command
    if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
}

# What the OpenWrt lab builder needs: a command, or (starting with /) a file a -dev package installs.
$OpenWrtPackages = @{ cmake = 'cmake'; gcc = 'gcc'; make = 'make'; 'pkg-config' = 'pkg-config'; '/usr/include/json-c/json.h' = 'libjson-c-dev'; dropbear = 'dropbear-bin'; dropbearkey = 'dropbear-bin'; busybox = 'busybox'; flock = 'util-linux' }

function Install-LabPackages([hashtable] $Packages = $LabPackages) {
    $missing = @($Packages.GetEnumerator() | Where-Object {
            if ($_.Key.StartsWith('/')) { -not (Test-Path $_.Key) }
            else { -not (Get-Command $_.Key -ErrorAction Ignore) -and -not (Test-Path "/usr/sbin/$($_.Key)") }
        } | ForEach-Object Value | Sort-Object -Unique)
    if ($missing.Count -eq 0) { return }
    $isRoot = (& id -u) -eq '0'
    if (-not $isRoot -or -not (Test-Path /etc/debian_version)) {
        throw "The lab needs these packages: $($missing -join ', '). Install them (as root on Debian this script does it itself) and run again."
    }
    Write-Host "Installing $($missing -join ', ') with apt-get ..."
    $env:DEBIAN_FRONTEND = 'noninteractive'
    Invoke-Native 'apt-get update' { apt-get update -qq | Out-Host }
    Invoke-Native 'apt-get install' { apt-get install -y -qq --no-install-recommends @missing | Out-Host }
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
    # The module and the core load as usual; SSH.NET and everything it needs go to dependencies/, which
    # the module loads in a context of its own (src/BypassNat/ModuleInitializer.cs).
    $dependencies = Join-Path $Out 'dependencies'
    foreach ($publish in @(@('src/BypassNat/BypassNat.csproj', $Out), @('src/BypassNat.LoadContext/BypassNat.LoadContext.csproj', $Out),
            @('src/BypassNat.SshNet/BypassNat.SshNet.csproj', $dependencies))) {
        Invoke-Native 'dotnet publish' {
            dotnet publish (Join-Path $Root $publish[0]) -c $Configuration -o $publish[1] --nologo --verbosity quiet --no-build
        }
    }
    # The core is shared with the default context, so it lives beside the module only.
    Remove-Item (Join-Path $dependencies 'BypassNat.Core.dll')
    # PowerShell provides these at run time; shipping them would shadow the host's own copies.
    Get-ChildItem $Out -Include 'System.Management.Automation.dll', '*.pdb', '*.deps.json', '*.runtimeconfig.json' -Recurse | Remove-Item
    Copy-Item (Join-Path $Root 'module/*') $Out
    $help = New-Item -ItemType Directory -Force (Join-Path $Out 'en-US')
    Copy-Item (Join-Path $Root 'docs/about_BypassNat.md') (Join-Path $help 'about_BypassNat.help.txt')
    Build-Help
    Write-Host "Built $Out"
}

function ConvertTo-MamlText([string] $Text) { [Security.SecurityElement]::Escape($Text) }

# The "## NAME" sections of a help page, each as its lines.
function Get-HelpSection([string] $Page) {
    $sections = @{}
    $current = $null
    foreach ($line in Get-Content $Page) {
        if ($line -match '^## (.+)$') { $current = $Matches[1].Trim(); $sections[$current] = [Collections.Generic.List[string]]::new(); continue }
        if ($current) { $sections[$current].Add($line) }
    }
    $sections
}

# "- **Name** — text" items, with their indented continuation lines, as name -> text.
function Get-ParameterText([string[]] $Lines) {
    $text = [ordered]@{}
    $name = $null
    foreach ($line in $Lines) {
        if ($line -match '^- \*\*(\w+)\*\* [-—–]+ (.+)$') { $name = $Matches[1]; $text[$name] = $Matches[2].Trim() }
        elseif ($name -and $line -match '^\s+(\S.*)$') { $text[$name] += ' ' + $Matches[1].Trim() }
        else { $name = $null }
    }
    $text
}

# Paragraphs of Markdown text: lines of a paragraph run together; list items and table rows keep their own lines.
function ConvertTo-MamlParagraph([string[]] $Lines) {
    $paragraphs = (($Lines -join "`n").Trim() -split '\n\s*\n') | Where-Object { $_.Trim() }
    ($paragraphs | ForEach-Object { "<maml:para>$(ConvertTo-MamlText ($_.Trim() -replace '\n(?![-|])', ' '))</maml:para>" }) -join ''
}

# The examples of a page: each "### title" (optional), ONE fenced code block, and the text after it
# as remarks. A code block of several lines is one example.
function Get-HelpExample([string[]] $Lines) {
    $examples = [Collections.Generic.List[object]]::new()
    $example = $null
    $inCode = $false
    foreach ($line in $Lines) {
        if ($inCode) {
            if ($line -match '^```') { $inCode = $false } else { $example.Code.Add($line) }
            continue
        }
        if ($line -match '^### (.+)$' -or ($line -match '^```' -and (-not $example -or $example.Code.Count))) {
            $example = [pscustomobject]@{ Title = ''; Code = [Collections.Generic.List[string]]::new(); Remarks = [Collections.Generic.List[string]]::new() }
            $examples.Add($example)
            if ($line -match '^### (?:Example \d+:\s*)?(.+)$') { $example.Title = $Matches[1].Trim(); continue }
        }
        if ($line -match '^```') { $inCode = $true; continue }
        if ($example) { $example.Remarks.Add($line) }
    }
    $examples
}

# Compiles docs/<Cmdlet>.md into en-US/BypassNat.dll-Help.xml (MAML), so Get-Help shows the same text
# as the Markdown pages. Syntax, parameter types, pipeline input and output types come from the built
# cmdlets' own metadata, so new cmdlets and parameters need only their page.
function Build-Help {
    $module = Import-Module (Join-Path $Out 'BypassNat.psd1') -PassThru -Force
    $xml = [Text.StringBuilder]::new()
    [void]$xml.AppendLine('<?xml version="1.0" encoding="utf-8"?>')
    [void]$xml.AppendLine('<helpItems schema="maml" xmlns="http://msh">')
    # The router parameters are described once, on Invoke-BypassForwardApply's page; -WhatIf and
    # -Confirm as PowerShell describes them everywhere.
    $shared = Get-ParameterText (Get-HelpSection (Join-Path $Root 'docs/Invoke-BypassForwardApply.md'))['PARAMETERS']
    $shared['WhatIf'] = 'Shows what would change on the router, and changes nothing.'
    $shared['Confirm'] = 'Asks for confirmation before changing the router.'
    $common = [System.Management.Automation.Cmdlet]::CommonParameters
    $isParameterAttribute = { $_ -is [System.Management.Automation.ParameterAttribute] }
    foreach ($command in Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name) {
        $page = Join-Path $Root "docs/$($command.Name).md"
        if (-not (Test-Path $page)) { throw "docs/$($command.Name).md is missing: every cmdlet has a help page." }
        $sections = Get-HelpSection $page
        $synopsis = (($sections['SYNOPSIS'] | Where-Object { $_ }) -join ' ').Trim()
        $parameterText = [ordered]@{}
        foreach ($entry in $shared.GetEnumerator()) { $parameterText[$entry.Key] = $entry.Value }
        foreach ($entry in (Get-ParameterText $sections['PARAMETERS']).GetEnumerator()) { $parameterText[$entry.Key] = $entry.Value }
        $visible = @($command.Parameters.Values | Where-Object { $_.Name -notin $common -and -not ($_.Attributes | Where-Object $isParameterAttribute | Where-Object DontShow) })

        [void]$xml.AppendLine('<command:command xmlns:maml="http://schemas.microsoft.com/maml/2004/10" xmlns:command="http://schemas.microsoft.com/maml/dev/command/2004/10" xmlns:dev="http://schemas.microsoft.com/maml/dev/2004/10">')
        [void]$xml.AppendLine("<command:details><command:name>$($command.Name)</command:name><maml:description><maml:para>$(ConvertTo-MamlText $synopsis)</maml:para></maml:description><command:verb>$($command.Verb)</command:verb><command:noun>$($command.Noun)</command:noun></command:details>")
        [void]$xml.AppendLine("<maml:description>$(ConvertTo-MamlParagraph $sections['DESCRIPTION'])</maml:description>")
        $parameterXml = {
            param($p, $setName)
            $attributes = @($p.Attributes | Where-Object $isParameterAttribute)
            $attribute = @($attributes | Where-Object { $_.ParameterSetName -eq $setName }) + $attributes | Select-Object -First 1
            $pipeline = @(if ($attribute.ValueFromPipeline) { 'ByValue' }; if ($attribute.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
            $position = if ($attribute -and $attribute.Position -ge 0) { $attribute.Position } else { 'named' }
            $type = $p.ParameterType
            $globbing = [bool]($p.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] })
            $required = if ($attribute) { $attribute.Mandatory.ToString().ToLower() } else { 'false' }
            "<command:parameter required=`"$required`" pipelineInput=`"$(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' })`" position=`"$position`" globbing=`"$($globbing.ToString().ToLower())`">" +
            "<maml:name>$($p.Name)</maml:name><maml:description><maml:para>$(ConvertTo-MamlText $parameterText[$p.Name])</maml:para></maml:description>" +
            $(if ($type -ne [System.Management.Automation.SwitchParameter]) { "<command:parameterValue required=`"true`">$($type.Name)</command:parameterValue><dev:type><maml:name>$($type.FullName)</maml:name></dev:type>" }) +
            '</command:parameter>'
        }
        [void]$xml.Append('<command:syntax>')
        foreach ($set in $command.ParameterSets) {
            # Positional parameters first, in position order, -WhatIf and -Confirm last, the rest as
            # declared, as PowerShell's own syntax lines show them (-Stable: Sort-Object alone is not).
            $inSet = @($set.Parameters | Where-Object { $_.Name -notin $common -and $_.Name -in $visible.Name } |
                    Sort-Object -Stable @{ e = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } }, @{ e = { $_.Name -in 'WhatIf', 'Confirm' } })
            # A set of hidden parameters only (New-BypassForward's fast pipeline set) is no syntax a user writes.
            if (-not $inSet -and $command.ParameterSets.Count -gt 1) { continue }
            [void]$xml.Append("<command:syntaxItem><maml:name>$($command.Name)</maml:name>")
            foreach ($p in $inSet) { [void]$xml.Append((& $parameterXml $command.Parameters[$p.Name] $set.Name)) }
            [void]$xml.Append('</command:syntaxItem>')
        }
        [void]$xml.AppendLine('</command:syntax>')
        [void]$xml.Append('<command:parameters>')
        foreach ($p in $visible) { [void]$xml.Append((& $parameterXml $p $null)) }
        [void]$xml.AppendLine('</command:parameters>')

        # INPUTS: what binds from the pipeline, by value and by property name, as the metadata says.
        [void]$xml.Append('<command:inputTypes>')
        $byValue = @($visible | Where-Object { $_.Attributes | Where-Object $isParameterAttribute | Where-Object ValueFromPipeline })
        $byName = @($visible | Where-Object { $_.Attributes | Where-Object $isParameterAttribute | Where-Object ValueFromPipelineByPropertyName })
        foreach ($p in $byValue) {
            [void]$xml.Append("<command:inputType><dev:type><maml:name>$(ConvertTo-MamlText $p.ParameterType.FullName)</maml:name></dev:type><maml:description><maml:para>Binds to -$($p.Name) from the pipeline.</maml:para></maml:description></command:inputType>")
        }
        if ($byName) {
            [void]$xml.Append("<command:inputType><dev:type><maml:name>System.Management.Automation.PSObject</maml:name></dev:type><maml:description><maml:para>Any object with properties named $(($byName.Name | ForEach-Object { "$_" }) -join ', ') (for example Import-Csv rows) binds by property name.</maml:para></maml:description></command:inputType>")
        }
        if (-not $byValue -and -not $byName) {
            [void]$xml.Append('<command:inputType><dev:type><maml:name>None</maml:name></dev:type><maml:description><maml:para>Nothing binds from the pipeline.</maml:para></maml:description></command:inputType>')
        }
        [void]$xml.AppendLine('</command:inputTypes>')
        # OUTPUTS: the [OutputType] types, described by the page's OUTPUTS section.
        [void]$xml.Append('<command:returnValues>')
        $outputText = ConvertTo-MamlParagraph $sections['OUTPUTS']
        foreach ($type in $command.OutputType) {
            [void]$xml.Append("<command:returnValue><dev:type><maml:name>$(ConvertTo-MamlText $type.Name)</maml:name></dev:type><maml:description>$outputText</maml:description></command:returnValue>")
            $outputText = ''
        }
        [void]$xml.AppendLine('</command:returnValues>')

        [void]$xml.Append('<command:examples>')
        $i = 0
        foreach ($example in Get-HelpExample $sections['EXAMPLES']) {
            $i++
            $title = if ($example.Title) { "Example ${i}: $($example.Title)" } else { "Example $i" }
            [void]$xml.Append("<command:example><maml:title>---------- $(ConvertTo-MamlText $title) ----------</maml:title><dev:code>$(ConvertTo-MamlText ($example.Code -join "`n"))</dev:code><dev:remarks>$(ConvertTo-MamlParagraph $example.Remarks)</dev:remarks></command:example>")
        }
        [void]$xml.AppendLine('</command:examples>')
        [void]$xml.AppendLine('<command:relatedLinks><maml:navigationLink><maml:linkText>about_BypassNat</maml:linkText></maml:navigationLink></command:relatedLinks>')
        [void]$xml.AppendLine('</command:command>')
    }
    [void]$xml.AppendLine('</helpItems>')
    Remove-Module $module.Name -Force
    Set-Content -Path (Join-Path $Out 'en-US/BypassNat.dll-Help.xml') -Value $xml.ToString() -Encoding utf8
}

# Property and fault tests add what they tried (inputs, states checked, faults injected) to this
# file; the run prints it at the end, so a green run also says how much it checked.
$CountsFile = Join-Path $Root 'out/test-results/counts.txt'
$env:BYPASSNAT_TEST_COUNTS = $CountsFile

function Write-TestCounts {
    if (Test-Path $CountsFile) { Write-Host "What the property and fault tests checked:"; Get-Content $CountsFile | ForEach-Object { Write-Host "  $_" } }
}

function Invoke-UnitTest {
    $results = Join-Path $Root 'out/test-results'
    if (Test-Path $results) { Remove-Item $results -Recurse -Force }
    New-Item -ItemType Directory -Force $results | Out-Null
    dotnet test (Join-Path $Root 'tests/BypassNat.Core.Tests/BypassNat.Core.Tests.csproj') -c $Configuration --nologo `
        --logger 'trx;LogFileName=xunit.trx' --logger 'console;verbosity=minimal' --results-directory $results | Out-Host
    $trx = Join-Path $results 'xunit.trx'
    if (-not (Test-Path $trx)) { return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }
    $counters = ([xml](Get-Content $trx -Raw)).TestRun.ResultSummary.Counters
    [pscustomobject]@{ Passed = [int]$counters.passed; Failed = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout; Skipped = [int]$counters.notExecuted }
}

# A Pester file needs the lab (root, network namespaces) when it uses Lab.psm1 or ip netns itself.
function Test-NeedsLab([string] $Path) {
    [bool](Select-String -Path $Path -Pattern 'Lab\.psm1|ip netns' -Quiet)
}

function Invoke-PesterTest {
    # @(...) around the if: its value would be one string, not an array, for one -PesterPath.
    $paths = @(if ($PesterPath) { $PesterPath | ForEach-Object { $_ -split ',' } | Where-Object { $_ } } else { Get-ChildItem (Join-Path $Root 'tests/pester') -Filter '*.Tests.ps1' | ForEach-Object FullName })
    if ($NoLab) {
        $lab = @($paths | Where-Object { Test-NeedsLab $_ })
        $paths = @($paths | Where-Object { $_ -notin $lab })
        Write-Host "-NoLab: running $($paths.Count) Pester file(s) that need no lab; not running $($lab.Count) that do: $(($lab | ForEach-Object { Split-Path $_ -Leaf }) -join ', ')"
        if (-not $paths) { return [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 } }
    } else {
        Install-LabPackages
    }
    $results = Join-Path $Root 'out/test-results'
    New-Item -ItemType Directory -Force $results | Out-Null
    Get-ChildItem $results -Filter 'pester*.xml' | Remove-Item
    # Most of a lab test's time is waiting (SSH, timeouts, the kernel), not CPU: the files run in
    # -PesterJobs processes at once, each lab in namespaces of its own, and the logs are printed whole
    # one after the other, so the output reads as one run. The processes share one queue, longest file
    # first (its size stands in for its duration): each takes the next file nobody has taken when it is
    # done with one, so none sits idle while the other has minutes of files left (fixed halves left
    # one process 160 s behind the other).
    $jobs = [math]::Max(1, [math]::Min($PesterJobs, $paths.Count))
    $queue = @($paths | Sort-Object { (Get-Item $_).Length } -Descending | ForEach-Object { (Resolve-Path $_).Path })
    $claims = Join-Path $results 'claims'
    Remove-Item $claims -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory $claims | Out-Null
    $pwsh = Join-Path $PSHOME 'pwsh.dll'
    $workers = for ($i = 0; $i -lt $jobs; $i++) {
        $log = Join-Path $results "pester-$i.log"
        $runner = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$(Get-PesterModulePath)' -Force
`$counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
`$queue = @($(($queue | ForEach-Object { "'$_'" }) -join ', '))
for (`$n = 0; `$n -lt `$queue.Count; `$n++) {
    # Taking a file is making its claim directory: only one process can.
    try { New-Item -ItemType Directory (Join-Path '$claims' `$n) -ErrorAction Stop | Out-Null } catch { continue }
    `$config = New-PesterConfiguration
    `$config.Run.Path = `$queue[`$n]
    `$config.Run.PassThru = `$true
    `$config.Output.Verbosity = 'Detailed'
    `$config.TestResult.Enabled = `$true
    `$config.TestResult.OutputPath = "$results/pester-$i-`$n.xml"
    `$result = Invoke-Pester -Configuration `$config
    `$counts.Passed += `$result.PassedCount
    `$counts.Failed += `$result.FailedCount + `$result.FailedBlocksCount + `$result.FailedContainersCount
    `$counts.Skipped += `$result.SkippedCount
}
[pscustomobject]`$counts | ConvertTo-Json | Set-Content '$results/pester-$i.json'
"@
        Set-Content (Join-Path $results "pester-$i.ps1") $runner
        Remove-Item (Join-Path $results "pester-$i.json") -ErrorAction Ignore
        [pscustomobject]@{
            Index = $i; Log = $log; Json = Join-Path $results "pester-$i.json"
            Process = Start-Process dotnet -ArgumentList $pwsh, '-NoProfile', '-NonInteractive', '-File', (Join-Path $results "pester-$i.ps1") `
                -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
        }
    }
    Write-Host "Pester: $($paths.Count) file(s) in $jobs process(es) at once; each one's output follows when it is done."
    $total = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
    foreach ($worker in $workers) {
        $worker.Process.WaitForExit()
        Get-Content $worker.Log, "$($worker.Log).err" -ErrorAction Ignore | ForEach-Object { Write-Host $_ }
        if (Test-Path $worker.Json) {
            $counts = Get-Content $worker.Json -Raw | ConvertFrom-Json
            $total.Passed += $counts.Passed; $total.Failed += $counts.Failed; $total.Skipped += $counts.Skipped
        } else {
            # A runner that died before counting failed as a whole, whatever it printed.
            Write-Host "Pester process $($worker.Index) ended without a result (exit code $($worker.Process.ExitCode))." -ForegroundColor Red
            $total.Failed += 1
        }
    }
    # A skipped test is never counted as passed: the closing line counts it apart, and says why here.
    if ($total.Skipped) {
        Import-Module (Join-Path $Root 'tests/lab/Lab.psm1') -Force
        $reason = Get-OpenWrtLabSkipReason
        Write-Host "Skipped $($total.Skipped) test(s)$(if ($reason) { ": $reason" })" -ForegroundColor Yellow
    }
    $total
}

# Builds the OpenWrt lab cache from OpenWrt's own sources. Everything lands in a staging folder beside
# the cache and is renamed into place at the end, so an interrupted build never leaves a cache that
# looks complete. Inside a lab router the cache's root/usr is laid over /usr (see tests/lab/openwrt.sh).
function Invoke-OpenWrtLabBuild {
    if (-not $Source) { throw "OpenWrtLab needs -Source: a folder with the sources of uci, libubox, ucode and firewall4 (one folder each)." }
    $sources = @{}
    foreach ($name in 'uci', 'libubox', 'ucode', 'firewall4') {
        $folder = Join-Path $Source $name
        if (-not (Test-Path $folder)) { throw "-Source $Source has no folder '$name' (the sources of $(@{ uci = 'openwrt/uci'; libubox = 'openwrt/libubox'; ucode = 'jow-/ucode'; firewall4 = 'openwrt/firewall4' }[$name]))." }
        $sources[$name] = (Resolve-Path $folder).Path
    }
    Install-LabPackages ($LabPackages + $OpenWrtPackages)
    Import-Module (Join-Path $Root 'tests/lab/Lab.psm1') -Force
    $cache = Get-OpenWrtLabCache
    $work = "$cache.build-$PID"
    if (Test-Path $work) { Remove-Item $work -Recurse -Force }
    $stage = Join-Path $work 'root'
    $clock = [Diagnostics.Stopwatch]::StartNew()
    try {
        # Built for /usr, as on OpenWrt: ucode's module search path and the libraries' places are
        # then right inside the lab router without any RPATH.
        $common = @('-DCMAKE_INSTALL_PREFIX=/usr', '-DCMAKE_INSTALL_LIBDIR=lib', "-DCMAKE_PREFIX_PATH=$stage/usr", "-DCMAKE_C_FLAGS=-I$stage/usr/include", "-DCMAKE_EXE_LINKER_FLAGS=-L$stage/usr/lib", "-DCMAKE_SHARED_LINKER_FLAGS=-L$stage/usr/lib", '-DCMAKE_BUILD_TYPE=Release')
        $projects = [ordered]@{
            libubox = @('-DBUILD_LUA=OFF', '-DBUILD_EXAMPLES=OFF')
            uci     = @('-DBUILD_LUA=OFF')
            ucode   = @('-DUCI_SUPPORT=ON', '-DFS_SUPPORT=ON', '-DUBUS_SUPPORT=OFF', '-DNL80211_SUPPORT=OFF', '-DRTNL_SUPPORT=OFF', '-DULOOP_SUPPORT=OFF')
        }
        foreach ($name in $projects.Keys) {
            $build = Join-Path $work "build-$name"
            Write-Host "OpenWrt lab: building $name ..."
            Invoke-Native "cmake configure $name" { cmake -S $sources[$name] -B $build @common @($projects[$name]) -Wno-dev | Out-Null }
            Invoke-Native "cmake build $name" { cmake --build $build --parallel 2 | Out-Null }
            $env:DESTDIR = $stage
            try { Invoke-Native "cmake install $name" { cmake --install $build | Out-Null } } finally { Remove-Item Env:DESTDIR }
        }
        # firewall4 is ucode scripts: its /usr/share files, and /sbin/fw4 (/sbin is /usr/sbin on Debian).
        $fw4 = Join-Path $sources.firewall4 'root'
        New-Item -ItemType Directory -Force (Join-Path $stage 'usr/sbin'), (Join-Path $stage 'usr/share') | Out-Null
        Copy-Item (Join-Path $fw4 'usr/share/*') (Join-Path $stage 'usr/share') -Recurse -Force
        Copy-Item (Join-Path $fw4 'sbin/fw4') (Join-Path $stage 'usr/sbin/fw4')
        # Its /etc files (the init script, the default config) become each lab router's /etc.
        Copy-Item (Join-Path $fw4 'etc') (Join-Path $work 'etc') -Recurse
        # BusyBox applets ahead of Debian's tools, as on OpenWrt where they are the system's tools.
        # Commands that act on the whole machine are left out: a lab router shares this machine's kernel.
        Invoke-Native 'busybox --install' { busybox --install -s (Join-Path $stage 'usr/sbin') }
        foreach ($applet in 'reboot', 'halt', 'poweroff', 'init', 'linuxrc', 'swapoff', 'swapon', 'hwclock', 'klogd', 'syslogd') {
            Remove-Item (Join-Path $stage "usr/sbin/$applet") -Force -ErrorAction Ignore
        }
        $busybox = (Get-Command busybox).Source
        foreach ($shell in 'ash', 'sh') { New-Item -ItemType SymbolicLink -Path (Join-Path $stage "usr/bin/$shell") -Target $busybox -Force | Out-Null }
        Remove-Item (Join-Path $stage 'usr/include') -Recurse -Force -ErrorAction Ignore
        $lines = foreach ($name in $sources.Keys | Sort-Object) {
            $commit = & git -C $sources[$name] rev-parse HEAD 2>$null
            "$name $(if ($LASTEXITCODE -eq 0) { $commit } else { '(not a git clone)' }) $($sources[$name])"
        }
        Set-Content (Join-Path $work 'SOURCES') $lines
        if (Test-Path $cache) { Remove-Item $cache -Recurse -Force }
        New-Item -ItemType Directory -Force (Split-Path $cache) | Out-Null
        Move-Item $work $cache
        Write-Host "OpenWrt lab cache ready in $cache ($([int]$clock.Elapsed.TotalSeconds) s)."
    } finally {
        if (Test-Path $work) { Remove-Item $work -Recurse -Force }
    }
}

# The closing line CI reads: "N passed, N failed", and ", N skipped" when anything was skipped.
function Format-TestCount([int] $Passed, [int] $Failed, [int] $Skipped) {
    "$Passed passed, $Failed failed$(if ($Skipped) { ", $Skipped skipped" })"
}

# The release notes for the package: the CHANGELOG sections not yet released.
function Get-ReleaseNote {
    $notes = [Collections.Generic.List[string]]::new()
    $take = $false
    foreach ($line in Get-Content (Join-Path $Root 'CHANGELOG.md')) {
        if ($line -match '^## ') { $take = $line -match 'unreleased' }
        if ($take) { $notes.Add($line) }
    }
    ($notes -join "`n").Trim()
}

# Publishes out/BypassNat to a local file repository with PSResourceGet itself, so the .nupkg is
# exactly what Install-PSResource and Save-PSResource expect.
function Invoke-Package {
    $package = Join-Path $Root 'out/package'
    $stage = Join-Path $Root 'out/package-stage/BypassNat'
    Remove-Item $package, (Split-Path $stage) -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory $package, $stage | Out-Null
    Copy-Item (Join-Path $Out '*') $stage -Recurse
    $manifest = Join-Path $stage 'BypassNat.psd1'
    $notes = (Get-ReleaseNote) -replace "'", "''"
    # String.Replace, not -replace: in a regex replacement "$_" (as in a CHANGELOG's `{ $_.Name }`) is the whole input.
    (Get-Content $manifest -Raw).Replace("ReleaseNotes = ''", "ReleaseNotes = '$notes'") | Set-Content $manifest -Encoding utf8
    $repository = 'BypassNatBuild' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    Register-PSResourceRepository -Name $repository -Uri $package -Trusted
    try {
        Publish-PSResource -Path $stage -Repository $repository
    } finally {
        Unregister-PSResourceRepository -Name $repository
        Remove-Item (Split-Path $stage) -Recurse -Force
    }
    $nupkg = Get-ChildItem $package -Filter 'BypassNat.*.nupkg'
    Write-Host "Packaged $($nupkg.FullName)"
}

function Invoke-Demo {
    Install-LabPackages
    & (Join-Path $Root 'tests/lab/Demo.ps1') -ModulePath $Out -CsvPath (Join-Path $Root 'docs/examples/forwards.csv')
}

function Invoke-Bench {
    if ($Micro) {
        Invoke-Native 'dotnet run (benchmarks)' { dotnet run -c Release --project (Join-Path $Root 'tests/BypassNat.Benchmarks/BypassNat.Benchmarks.csproj') -- --filter '*' }
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
        Invoke-Package
    }
    'Demo' { Invoke-Build; Invoke-Demo }
    'Bench' { Invoke-Build; Invoke-Bench }
    'OpenWrtLab' { Invoke-OpenWrtLabBuild }
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
