# Runs Pester files (all of tests/pester by default) in -Jobs processes and returns their counts
# (Passed, Failed, Skipped); each process's output is printed whole when it is done.
param(
    [Parameter(Mandatory)] [string] $Root,
    [string[]] $Path,
    [ValidateRange(1, 8)] [int] $Jobs = 2,
    # Only the files that need no lab (no root, no network namespaces).
    [switch] $NoLab
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# A Pester file needs the lab (root, network namespaces) when it uses Lab.psm1 or ip netns itself.
function Test-NeedsLab([string] $File) {
    [bool](Select-String -Path $File -Pattern 'Lab\.psm1|ip netns' -Quiet)
}

# @(...) around the if: its value would be one string, not an array, for one -Path.
$paths = @(if ($Path) { $Path | ForEach-Object { $_ -split ',' } | Where-Object { $_ } } else { Get-ChildItem (Join-Path $Root 'tests/pester') -Filter '*.Tests.ps1' | ForEach-Object FullName })
if ($NoLab) {
    $lab = @($paths | Where-Object { Test-NeedsLab $_ })
    $paths = @($paths | Where-Object { $_ -notin $lab })
    Write-Host "-NoLab: running $($paths.Count) Pester file(s) that need no lab; not running $($lab.Count) that do: $(($lab | ForEach-Object { Split-Path $_ -Leaf }) -join ', ')"
    if (-not $paths) { return [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 } }
} else {
    & (Join-Path $PSScriptRoot 'Install-LabPackages.ps1')
}

& (Join-Path $PSScriptRoot 'Invoke-NativeCommand.ps1') 'Restoring Pester' { dotnet restore (Join-Path $Root 'tests/pester/PesterPackage.csproj') --verbosity quiet }
$packages = (dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', ''
$pesterModule = Join-Path $packages.Trim() 'pester/5.7.1/tools/Pester.psd1'
if (-not (Test-Path $pesterModule)) { throw "Pester was restored, but $pesterModule is missing." }

$results = Join-Path $Root 'out/test-results'
New-Item -ItemType Directory -Force $results | Out-Null
Get-ChildItem $results -Filter 'pester*' | Remove-Item -Recurse
# Most of a lab test's time is waiting (SSH, timeouts, the kernel), not CPU: the files run in -Jobs
# processes at once, each lab in namespaces of its own, and the logs are printed whole one after the
# other, so the output reads as one run. The processes share one queue, longest file first (its size
# stands in for its duration): each takes the next file nobody has taken when it is done with one, so
# none sits idle while the other has minutes of files left (fixed halves left one process 160 s
# behind the other).
$jobCount = [math]::Max(1, [math]::Min($Jobs, $paths.Count))
$queueFile = Join-Path $results 'pester-queue.txt'
$paths | Sort-Object { (Get-Item $_).Length } -Descending | ForEach-Object { (Resolve-Path $_).Path } | Set-Content $queueFile
$claims = Join-Path $results 'pester-claims'
New-Item -ItemType Directory $claims | Out-Null
$pwsh = Join-Path $PSHOME 'pwsh.dll'
$worker = Join-Path $PSScriptRoot 'Invoke-PesterWorker.ps1'
$workers = for ($i = 0; $i -lt $jobCount; $i++) {
    $log = Join-Path $results "pester-$i.log"
    $json = Join-Path $results "pester-$i.json"
    [pscustomobject]@{
        Index = $i; Log = $log; Json = $json
        Process = Start-Process dotnet -ArgumentList $pwsh, '-NoProfile', '-NonInteractive', '-File', "`"$worker`"", '-PesterModule', "`"$pesterModule`"",
            '-QueueFile', "`"$queueFile`"", '-Claims', "`"$claims`"", '-ResultPrefix', "`"$results/pester-$i`"", '-CountsFile', "`"$json`"" `
            -RedirectStandardOutput $log -RedirectStandardError "$log.err" -PassThru
    }
}
Write-Host "Pester: $($paths.Count) file(s) in $jobCount process(es) at once; each one's output follows when it is done."
$total = [pscustomobject]@{ Passed = 0; Failed = 0; Skipped = 0 }
foreach ($w in $workers) {
    $w.Process.WaitForExit()
    Get-Content $w.Log, "$($w.Log).err" -ErrorAction Ignore | ForEach-Object { Write-Host $_ }
    if (Test-Path $w.Json) {
        $counts = Get-Content $w.Json -Raw | ConvertFrom-Json
        $total.Passed += $counts.Passed; $total.Failed += $counts.Failed; $total.Skipped += $counts.Skipped
    } else {
        # A runner that died before counting failed as a whole, whatever it printed.
        Write-Host "Pester process $($w.Index) ended without a result (exit code $($w.Process.ExitCode))." -ForegroundColor Red
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
