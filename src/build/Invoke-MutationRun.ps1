# Measures the unit tests by the mutants of src/BypassNat.Core they kill (Stryker.NET, the
# dotnet-stryker tool in .config/dotnet-tools.json) in the folders asked for, and writes the score of
# each folder measured into docs/mutation.md (the other folders' rows, and the notes below the table,
# stay as they were). A folder is a directory of the core with .cs files of its own (Apply,
# Backends/Iptables, ...); its mutants are those files' (a subfolder is a folder of its own).
# -Smoke: one small file, printed, nothing written.
param(
    [Parameter(Mandatory)] [string] $Root,
    # Core folders to mutate (Model, Validation, Backends/Iptables, ...); all of them by default.
    [string[]] $Folder,
    [ValidateRange(1, 8)] [int] $Concurrency = 1,
    [switch] $Smoke
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$core = Join-Path $Root 'src/BypassNat.Core'
$tests = Join-Path $Root 'tests/BypassNat.Core.Tests'
$report = Join-Path $Root 'docs/mutation.md'
# build.ps1 points the tests' tallies at out/test-results, which only a test run makes; no tally is
# wanted from the mutants' runs, and a test that cannot write its tally would fail before any mutant.
Remove-Item Env:BYPASSNAT_TEST_COUNTS -ErrorAction Ignore
# Every directory of the core holding .cs files of its own, by its path from the core ('Backends/Iptables').
$known = @(Get-ChildItem $core -Recurse -Filter *.cs -File | ForEach-Object { [IO.Path]::GetRelativePath($core, $_.DirectoryName) -replace '\\', '/' } |
    Where-Object { $_ -ne '.' -and $_ -notmatch '^(bin|obj)(/|$)' } | Sort-Object -Unique)
$folders = @(if ($Folder) { $Folder | ForEach-Object { $_ -split ',' } | Where-Object { $_ } | ForEach-Object { $_.Trim('/') -replace '\\', '/' } } else { $known })
# A name ending in .cs is one file of the core (Apply/ForwardApplier.cs): a row of its own, for a
# folder too big to measure at once on a busy machine; a folder's row, once measured, stands for its files.
function Test-File([string] $Name) { $Name.EndsWith('.cs') }
foreach ($name in $folders) {
    if (Test-File $name) { if (-not (Test-Path (Join-Path $core $name) -PathType Leaf)) { throw "-MutateFolder ${name}: src/BypassNat.Core has no such file." } }
    elseif ($name -notin $known) { throw "-MutateFolder ${name}: src/BypassNat.Core has no folder of that name with .cs files of its own (it has: $($known -join ', '))." }
}

# Tests that keep processes of their own busy for seconds (a network namespace loading a real
# kernel's tables; a web server standing in for an iKuai router) run only when the folders mutated
# are ones they are there to test (a folder whose path has one of the names listed). Elsewhere they
# would run for every mutant of code they merely pass through (the parser, the model) and cost
# minutes each; leaving a test out can only let more mutants survive, never fewer, so this never
# flatters a score. Every other unit test always runs.
$Confined = [ordered]@{
    'BypassNat.Tests.Properties.KernelRoundTripTests' = @('Iptables', 'Nftables', 'Main')
    'BypassNat.Tests.IKuai.' = @('IKuai', 'Backends')
}
function Get-TestFilter([string] $Name) {
    $segments = $Name -split '/'
    $left = @($Confined.Keys | Where-Object { -not ($Confined[$_] | Where-Object { $_ -in $segments }) })
    ($left | ForEach-Object { "FullyQualifiedName!~$_" }) -join '&'
}
& (Join-Path $PSScriptRoot 'Invoke-NativeCommand.ps1') 'dotnet tool restore' { dotnet tool restore | Out-Null }

# One Stryker run over the files matching $Pattern. Some mutants make a router script under test loop
# forever; Stryker's timeout ends the test host but not the sh/ash it started, which would keep a core
# busy for good. So Stryker runs in a session of its own (setsid), shells of that session older than
# a test may take are ended while it runs, and whatever is left of the session when it ends.
function Invoke-Stryker([string] $Label, [string[]] $Pattern, [string] $TestFilter) {
    $output = Join-Path $Root "out/mutation/$Label"
    Remove-Item $output -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory -Force $output | Out-Null
    $log = Join-Path $output 'stryker.log'
    # Options only a config file takes. perTest (Stryker's default, named so it stays): each mutant
    # runs only the tests that reached it. The timeout of a mutant's run is 1.5 times what its tests
    # took in the first run plus additional-timeout: a mutant that loops costs that much, and counts as
    # caught. Debug verbosity names the tests that failed before any mutant (the log shows them).
    $config = [ordered]@{
        'project' = 'BypassNat.Core.csproj'
        'concurrency' = $Concurrency
        'mutate' = @($Pattern)
        'reporters' = @('json', 'cleartext', 'dots')
        'coverage-analysis' = 'perTest'
        'additional-timeout' = 5000
        'verbosity' = 'debug'
    }
    if ($TestFilter) { $config['test-case-filter'] = $TestFilter }
    $configFile = Join-Path $output 'stryker-config.json'
    @{ 'stryker-config' = $config } | ConvertTo-Json -Depth 4 | Set-Content $configFile
    $arguments = @('dotnet', 'dotnet-stryker', '--config-file', $configFile, '--output', $output)
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $process = Start-Process setsid -ArgumentList $arguments -WorkingDirectory $tests -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    $session = $process.Id
    try {
        while (-not $process.WaitForExit(10000)) {
            foreach ($line in @(& ps -eo 'pid=,sid=,etimes=,comm=')) {
                # [long]: ps can print an elapsed time beyond Int32 for a process that is just starting.
                $f = -split $line
                if ($f.Count -ge 4 -and [long]$f[1] -eq $session -and [long]$f[2] -gt 120 -and $f[3] -in 'sh', 'ash', 'dash', 'busybox') {
                    Write-Host "Ending a runaway test shell (pid $($f[0]), $($f[2]) s old)."
                    & kill -9 $f[0] 2>$null
                }
            }
        }
    } finally {
        if (-not $process.HasExited) { & kill -TERM -- "-$session" 2>$null }
        foreach ($line in @(& ps -eo 'pid=,sid=')) {
            $f = -split $line
            if ($f.Count -ge 2 -and [long]$f[1] -eq $session) { & kill -9 $f[0] 2>$null }
        }
    }
    $json = Get-ChildItem $output -Recurse -Filter 'mutation-report.json' | Select-Object -First 1
    if (-not $json) { Get-Content $log -Tail 30 | Write-Host; throw "Stryker ($Label) wrote no report; its log is $log." }
    # Tests that fail before any mutant kill nothing: say how many, so a score is read with that in mind.
    $failing = Select-String -Path $log -Pattern '(\d+) tests are failing' | Select-Object -First 1
    [pscustomobject]@{
        Report = Get-Content $json.FullName -Raw | ConvertFrom-Json -AsHashtable
        Minutes = [math]::Round($clock.Elapsed.TotalMinutes, 1)
        Failing = if ($failing) { [int]$failing.Matches[0].Groups[1].Value } else { 0 }
        Load = (Get-Content /proc/loadavg -Raw).Split(' ')[2]
    }
}

# Killed and Timeout are caught; Survived and NoCoverage are not; compile errors and ignored mutants
# are no test of the tests and are left out, as Stryker's own score does.
function Measure-Report([hashtable] $Report, [string] $Folder) {
    $count = @{ Killed = 0; Timeout = 0; Survived = 0; NoCoverage = 0 }
    $survivors = [Collections.Generic.List[string]]::new()
    foreach ($file in $Report.files.GetEnumerator()) {
        $relative = [IO.Path]::GetRelativePath($core, $file.Key) -replace '\\', '/'
        if ($Folder -and $(if (Test-File $Folder) { $relative -ne $Folder } else { ([IO.Path]::GetDirectoryName($relative) -replace '\\', '/') -ne $Folder })) { continue }
        foreach ($mutant in $file.Value.mutants) {
            if ($count.ContainsKey($mutant.status)) { $count[$mutant.status]++ }
            if ($mutant.status -in 'Survived', 'NoCoverage') {
                $survivors.Add("$([IO.Path]::GetRelativePath($core, $file.Key)):$($mutant.location.start.line) $($mutant.status) $($mutant.mutatorName): $($mutant.replacement -replace '\s+', ' ')")
            }
        }
    }
    $tested = $count.Killed + $count.Timeout + $count.Survived + $count.NoCoverage
    [pscustomobject]@{
        Tested = $tested; Killed = $count.Killed; Timeout = $count.Timeout; Survived = $count.Survived; NoCoverage = $count.NoCoverage
        Score = if ($tested) { [math]::Round(100.0 * ($count.Killed + $count.Timeout) / $tested, 1) } else { 0 }
        Survivors = $survivors
    }
}

if ($Smoke) {
    $run = Invoke-Stryker 'smoke' '**/BypassNat.Core/Plan/ForwardPlanEntry.cs' (Get-TestFilter 'Plan')
    $m = Measure-Report $run.Report
    Write-Host "Smoke run (Plan/ForwardPlanEntry.cs, $($run.Minutes) min): $($m.Killed + $m.Timeout) of $($m.Tested) mutants caught, $($m.Score)%. docs/mutation.md untouched."
    return
}

# The table's rows by folder, as docs/mutation.md has them, so a run of one folder keeps the others;
# rows of folders the core no longer has (moved or renamed) are dropped.
$rows = [ordered]@{}
$notes = ''
if (Test-Path $report) {
    $text = Get-Content $report -Raw
    # The score table is the one above the notes; the notes (kept as written) may hold tables too.
    $at = $text.IndexOf('## Surviving mutants')
    if ($at -ge 0) { $notes = $text.Substring($at); $text = $text.Substring(0, $at) }
    foreach ($match in [regex]::Matches($text, '(?m)^\| ([\w/.]+) \| (\d.*)$')) {
        $name = $match.Groups[1].Value
        if ($(if (Test-File $name) { Test-Path (Join-Path $core $name) -PathType Leaf } else { $name -in $known })) { $rows[$name] = $match.Value }
    }
}

function Write-Report {
    # The whole core's score, from the rows (each folder's mutants are its own, so they add up).
    $sum = @{ Tested = 0; Caught = 0 }
    foreach ($key in @($script:rows.Keys)) {
        # A file's row counts only while its folder has none (the folder's holds its mutants).
        if ((Test-File $key) -and $script:rows.Contains(([IO.Path]::GetDirectoryName($key) -replace '\\', '/'))) { continue }
        $row = $script:rows[$key]
        $cells = $row.Trim('|').Split('|') | ForEach-Object Trim
        $sum.Tested += [int]$cells[2]; $sum.Caught += [int]$cells[3] + [int]$cells[4]
    }
    $total = if ($sum.Tested) { [math]::Round(100.0 * $sum.Caught / $sum.Tested, 1) } else { 0 }
    $missing = @($known | Where-Object { -not $script:rows.Contains($_) })
    $sorted = @($known | Where-Object { $script:rows.Contains($_) } | ForEach-Object { $script:rows[$_] }) +
        @($script:rows.Keys | Where-Object { Test-File $_ } | Sort-Object | ForEach-Object { $script:rows[$_] })
    $lines = @(
        '# Mutation score of the unit tests'
        ''
        'Written by `build.ps1 Mutation` (Stryker.NET over src/BypassNat.Core with tests/BypassNat.Core.Tests;'
        '`-MutateFolder` picks folders, the other rows stay as they were). A folder is a directory with .cs files'
        'of its own. A mutant is caught when a test fails (Killed) or the tests time out; Survived and NoCoverage'
        '(reached by no test) are not. The score is caught / tested; compile errors and ignored mutants are not'
        'counted. The network-namespace and iKuai web-server tests run only for the folders they test (see'
        'src/build/Invoke-MutationRun.ps1); every other unit test runs for every mutant it reaches.'
        ''
        "Whole core, from the rows below: **$total%** ($($sum.Caught) of $($sum.Tested) mutants caught)$(if ($missing) { "; not measured yet: $($missing -join ', ')" })."
        ''
        '| Folder | Score | Tested | Killed | Timeout | Survived | NoCoverage | Measured |'
        '|---|---|---|---|---|---|---|---|'
        $sorted
        ''
    )
    $body = ($lines -join "`n") + "`n" + $(if ($notes) { $notes } else { "## Surviving mutants judged equivalent`n`nNone listed yet.`n" })
    [IO.File]::WriteAllText($report, $body)
    Write-Host "Wrote $report"
}

# One Stryker run a set of folders that run the same tests (see $Confined): its first test run and
# coverage capture cost minutes, so they are paid once a set.
$groups = [ordered]@{}
foreach ($name in $folders) { $f = Get-TestFilter $name; if (-not $groups.Contains($f)) { $groups[$f] = [Collections.Generic.List[string]]::new() }; $groups[$f].Add($name) }
$index = 0
foreach ($filter in $groups.Keys) {
    $names = $groups[$filter]
    $label = "run$index"; $index++
    Write-Host "Mutation: $($names -join ', ') (concurrency $Concurrency$(if ($filter) { "; tests: $filter" })) ..."
    $run = Invoke-Stryker $label @($names | ForEach-Object { if (Test-File $_) { "**/BypassNat.Core/$_" } else { "**/BypassNat.Core/$_/*.cs" } }) $filter
    $left = if ($filter) { ' without ' + (($Confined.Keys | Where-Object { $filter.Contains($_) } | ForEach-Object { $_ -replace '^BypassNat\.Tests\.', '' -replace '\.$', '' }) -join ', ') } else { '' }
    $failing = if ($run.Failing) { ", $($run.Failing) tests failing before any mutant" } else { '' }
    $when = "$((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm')) UTC, run of $($names -join '+') ($($run.Minutes) min, concurrency $Concurrency, load $($run.Load)$left$failing), tests and code of $(& git -C $Root rev-parse --short HEAD)"
    foreach ($name in $names) {
        $m = Measure-Report $run.Report $name
        $list = Join-Path $Root "out/mutation/$label/survivors-$($name -replace '/', '-').txt"
        $m.Survivors | Set-Content $list
        Write-Host "Mutation: $name $($m.Score)% ($($m.Killed + $m.Timeout) of $($m.Tested) caught; survivors in $list)"
        $rows[$name] = "| $name | $($m.Score)% | $($m.Tested) | $($m.Killed) | $($m.Timeout) | $($m.Survived) | $($m.NoCoverage) | $when |"
    }
    # After each set: a long run stopped later keeps what was measured.
    Write-Report
}

