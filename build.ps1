#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds, tests and demonstrates BypassNat.
.DESCRIPTION
    Build  - compiles the module into out/BypassNat (Import-Module ./out/BypassNat).
    Test   - Build, then the xunit tests and the Pester end-to-end tests (which need root, for the
             network-namespace lab); ends with the line "N passed, N failed". With -NoLab: xunit and
             the Pester files that need no lab (no root needed).
    Package - Build, then out/package/BypassNat.<version>.nupkg, which PSResourceGet installs from a
             local repository (Register-PSResourceRepository -Uri out/package).
    Demo   - Build, then starts the lab, applies docs/examples/forwards.csv to its bypass router and
             shows requests from the internet client answered by the device, then tears the lab down.
    Everything a fresh Debian machine lacks (apt packages, Pester) is installed on the way.
.EXAMPLE
    dotnet tool restore && dotnet pwsh ./build.ps1 Test
#>
[CmdletBinding()]
param(
    [Parameter(Position = 0)]
    [ValidateSet('Build', 'Test', 'UnitTest', 'PesterTest', 'Package', 'Demo', 'Clean')]
    [string] $Task = 'Build',

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # Pester files to run (PesterTest/Test); all of tests/pester by default.
    [string[]] $PesterPath,

    # Test/PesterTest without root: xunit and only the Pester files that need no lab (no network
    # namespaces), so a contributor on a laptop gets a fast, honest loop.
    [switch] $NoLab,

    # Package: package out/BypassNat as it is, without building it again (the package test uses
    # this, so the module the other tests load does not change under them).
    [switch] $NoBuild
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$Root = $PSScriptRoot
$Out = Join-Path $Root 'out/BypassNat'
$LabPackages = @{ ip = 'iproute2'; iptables = 'iptables'; nft = 'nftables'; sshd = 'openssh-server'; socat = 'socat'; conntrack = 'conntrack'; 'ssh-keygen' = 'openssh-client'; sudo = 'sudo'; openssl = 'openssl' }

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
            [void]$xml.Append("<command:syntaxItem><maml:name>$($command.Name)</maml:name>")
            # Positional parameters first, in position order, as PowerShell's own syntax lines show them.
            $inSet = @($set.Parameters | Where-Object { $_.Name -notin $common -and $_.Name -in $visible.Name } |
                    Sort-Object @{ e = { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } } })
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

# A Pester file needs the lab (root, network namespaces) when it uses Lab.psm1 or ip netns itself.
function Test-NeedsLab([string] $Path) {
    [bool](Select-String -Path $Path -Pattern 'Lab\.psm1|ip netns' -Quiet)
}

function Invoke-PesterTest {
    $paths = if ($PesterPath) { $PesterPath } else { @(Get-ChildItem (Join-Path $Root 'tests/pester') -Filter '*.Tests.ps1' | ForEach-Object FullName) }
    if ($NoLab) {
        $lab = @($paths | Where-Object { Test-NeedsLab $_ })
        $paths = @($paths | Where-Object { $_ -notin $lab })
        Write-Host "-NoLab: running $($paths.Count) Pester file(s) that need no lab; not running $($lab.Count) that do: $(($lab | ForEach-Object { Split-Path $_ -Leaf }) -join ', ')"
        if (-not $paths) { return [pscustomobject]@{ Passed = 0; Failed = 0 } }
    } else {
        Install-LabPackages
    }
    Import-Module (Get-PesterModulePath) -Force
    $config = New-PesterConfiguration
    $config.Run.Path = $paths
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputPath = Join-Path $Root 'out/test-results/pester.xml'
    $result = Invoke-Pester -Configuration $config
    [pscustomobject]@{ Passed = $result.PassedCount; Failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount }
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
    (Get-Content $manifest -Raw) -replace "ReleaseNotes = ''", "ReleaseNotes = '$notes'" | Set-Content $manifest -Encoding utf8
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

switch ($Task) {
    'Clean' { Remove-Item (Join-Path $Root 'out') -Recurse -Force -ErrorAction Ignore }
    'Build' { Invoke-Build }
    'Package' {
        if (-not $NoBuild) { Invoke-Build }
        elseif (-not (Test-Path (Join-Path $Out 'BypassNat.psd1'))) { throw "-NoBuild: there is no $Out to package; run build.ps1 Build first." }
        Invoke-Package
    }
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
