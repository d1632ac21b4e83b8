# Measures the unit tests by the mutants of src/BypassNat.Core they kill (Stryker.NET, the
# dotnet-stryker tool in .config/dotnet-tools.json) in the folders asked for, in one Stryker run (its
# first test run and coverage capture cost minutes, so they are paid once), and writes the score of
# each folder measured into docs/mutation.md (the other folders' rows, and the notes below the table,
# stay as they were). -Smoke: one small file, printed, nothing written.
param(
    [Parameter(Mandatory)] [string] $Root,
    # Core folders to mutate (Model, Validation, ...); all of them by default.
    [string[]] $Folder,
    [ValidateRange(1, 8)] [int] $Concurrency = 1,
    [switch] $Smoke
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$core = Join-Path $Root 'src/BypassNat.Core'
$tests = Join-Path $Root 'tests/BypassNat.Core.Tests'
$report = Join-Path $Root 'docs/mutation.md'
$folders = @(if ($Folder) { $Folder | ForEach-Object { $_ -split ',' } | Where-Object { $_ } } else { Get-ChildItem $core -Directory | Where-Object Name -notin 'bin', 'obj' | ForEach-Object Name })
foreach ($name in $folders) { if (-not (Test-Path (Join-Path $core $name) -PathType Container)) { throw "-MutateFolder ${name}: src/BypassNat.Core has no such folder." } }
& (Join-Path $PSScriptRoot 'Invoke-NativeCommand.ps1') 'dotnet tool restore' { dotnet tool restore | Out-Null }

# One Stryker run over the files matching $Pattern. Some mutants make a router script under test loop
# forever; Stryker's timeout ends the test host but not the sh/ash it started, which would keep a core
# busy for good. So Stryker runs in a session of its own (setsid), shells of that session older than
# a test may take are ended while it runs, and whatever is left of the session when it ends.
function Invoke-Stryker([string] $Label, [string[]] $Pattern) {
    $output = Join-Path $Root "out/mutation/$Label"
    Remove-Item $output -Recurse -Force -ErrorAction Ignore
    New-Item -ItemType Directory -Force $output | Out-Null
    $log = Join-Path $output 'stryker.log'
    $arguments = @('dotnet', 'dotnet-stryker', '--project', 'BypassNat.Core.csproj', '--concurrency', $Concurrency) +
        @($Pattern | ForEach-Object { '--mutate'; "`"$_`"" }) + @('--reporter', 'json', '--reporter', 'cleartext', '--output', $output)
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
    [pscustomobject]@{ Report = Get-Content $json.FullName -Raw | ConvertFrom-Json -AsHashtable; Minutes = [math]::Round($clock.Elapsed.TotalMinutes, 1) }
}

# Killed and Timeout are caught; Survived and NoCoverage are not; compile errors and ignored mutants
# are no test of the tests and are left out, as Stryker's own score does.
function Measure-Report([hashtable] $Report, [string] $Folder) {
    $count = @{ Killed = 0; Timeout = 0; Survived = 0; NoCoverage = 0 }
    $survivors = [Collections.Generic.List[string]]::new()
    foreach ($file in $Report.files.GetEnumerator()) {
        if ($Folder -and -not [IO.Path]::GetRelativePath($core, $file.Key).StartsWith("$Folder/")) { continue }
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
    $run = Invoke-Stryker 'smoke' '**/BypassNat.Core/Plan/ForwardPlanEntry.cs'
    $m = Measure-Report $run.Report
    Write-Host "Smoke run (Plan/ForwardPlanEntry.cs, $($run.Minutes) min): $($m.Killed + $m.Timeout) of $($m.Tested) mutants caught, $($m.Score)%. docs/mutation.md untouched."
    return
}

# The table's rows by folder, as docs/mutation.md has them, so a run of one folder keeps the others.
$rows = [ordered]@{}
$notes = ''
if (Test-Path $report) {
    $text = Get-Content $report -Raw
    # The score table is the one above the notes; the notes (kept as written) may hold tables too.
    $at = $text.IndexOf('## Surviving mutants')
    if ($at -ge 0) { $notes = $text.Substring($at); $text = $text.Substring(0, $at) }
    foreach ($match in [regex]::Matches($text, '(?m)^\| (\w+) \| (\d.*)$')) { $rows[$match.Groups[1].Value] = $match.Value }
}
Write-Host "Mutation: $($folders -join ', ') (concurrency $Concurrency) ..."
$run = Invoke-Stryker 'run' @($folders | ForEach-Object { "**/BypassNat.Core/$_/**/*.cs" })
$when = "$((Get-Date).ToUniversalTime().ToString('yyyy-MM-dd HH:mm')) UTC, run of $($folders -join '+') ($($run.Minutes) min, concurrency $Concurrency)"
foreach ($name in $folders) {
    $m = Measure-Report $run.Report $name
    $m.Survivors | Set-Content (Join-Path $Root "out/mutation/run/survivors-$name.txt")
    Write-Host "Mutation: $name $($m.Score)% ($($m.Killed + $m.Timeout) of $($m.Tested) caught; survivors in out/mutation/run/survivors-$name.txt)"
    $rows[$name] = "| $name | $($m.Score)% | $($m.Tested) | $($m.Killed) | $($m.Timeout) | $($m.Survived) | $($m.NoCoverage) | $when |"
}
# The whole core's score, from the rows (each folder's mutants are its own, so they add up).
$sum = @{ Tested = 0; Caught = 0 }
foreach ($row in $rows.Values) {
    $cells = $row.Trim('|').Split('|') | ForEach-Object Trim
    $sum.Tested += [int]$cells[2]; $sum.Caught += [int]$cells[3] + [int]$cells[4]
}
$total = if ($sum.Tested) { [math]::Round(100.0 * $sum.Caught / $sum.Tested, 1) } else { 0 }
$lines = @(
    '# Mutation score of the unit tests'
    ''
    'Written by `build.ps1 Mutation` (Stryker.NET over src/BypassNat.Core with tests/BypassNat.Core.Tests, one'
    'folder a run; `-MutateFolder` picks folders, the other rows stay as they were). A mutant is caught when'
    'a test fails (Killed) or the tests time out; Survived and NoCoverage (reached by no test) are not. The'
    'score is caught / tested; compile errors and ignored mutants are not counted.'
    ''
    "Whole core, from the rows below: **$total%** ($($sum.Caught) of $($sum.Tested) mutants caught)."
    ''
    '| Folder | Score | Tested | Killed | Timeout | Survived | NoCoverage | Measured |'
    '|---|---|---|---|---|---|---|---|'
    $rows.Values
    ''
)
$body = ($lines -join "`n") + $(if ($notes) { $notes } else { "## Surviving mutants judged equivalent`n`nNone listed yet.`n" })
[IO.File]::WriteAllText($report, $body)
Write-Host "Wrote $report"
