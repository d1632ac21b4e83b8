# One Pester process of Invoke-PesterRun.ps1: takes files from the shared queue (-QueueFile, one path a
# line, longest first) until none is left, and writes its counts to -CountsFile as JSON.
param(
    [Parameter(Mandatory)] [string] $PesterModule,
    [Parameter(Mandatory)] [string] $QueueFile,
    # Taking file n is making the directory <Claims>/n: only one process can.
    [Parameter(Mandatory)] [string] $Claims,
    # Each file's NUnit result goes to <ResultPrefix>-<n>.xml.
    [Parameter(Mandatory)] [string] $ResultPrefix,
    [Parameter(Mandatory)] [string] $CountsFile
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterModule -Force
$counts = [ordered]@{ Passed = 0; Failed = 0; Skipped = 0 }
$queue = @(Get-Content $QueueFile)
for ($n = 0; $n -lt $queue.Count; $n++) {
    try { New-Item -ItemType Directory (Join-Path $Claims $n) -ErrorAction Stop | Out-Null } catch { continue }
    $config = New-PesterConfiguration
    $config.Run.Path = $queue[$n]
    $config.Run.PassThru = $true
    $config.Output.Verbosity = 'Detailed'
    $config.TestResult.Enabled = $true
    $config.TestResult.OutputPath = "$ResultPrefix-$n.xml"
    $result = Invoke-Pester -Configuration $config
    $counts.Passed += $result.PassedCount
    $counts.Failed += $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    $counts.Skipped += $result.SkippedCount
}
[pscustomobject]$counts | ConvertTo-Json | Set-Content $CountsFile
