#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Re-applies a CSV of forwards to the bypass router(s), and to the main router where one is given:
    the job to schedule with cron, a systemd timer or Windows Task Scheduler.
.DESCRIPTION
    Imports the CSV and applies it with Invoke-BypassForwardApply, every router in parallel, each in
    one atomic transaction (a router is never left half-applied). Writes one log line per router to
    the output (and to -LogPath), naming at most ten forwards a list and counting the rest:

      2026-11-28T06:00:00Z router=192.0.2.2 role=bypass result=ok changed=True added=web removed=- modified=- duration=0.41s
      2026-11-28T06:00:00Z router=192.0.2.2 role=bypass result=ok changed=True added=f1,f10,f100,f1000,f101,f102,f103,f104,f105,f106,+990more removed=- ...
      2026-11-28T06:00:00Z router=192.0.2.3 role=bypass result=failed error=BypassNat.ConnectionFailed message="..."

    Exit code: 0 only when every router holds its forwards; 1 when any router failed (the others were
    still applied); 2 when nothing was applied anywhere because the input is wrong (a bad CSV row, a
    forward no router has).
.EXAMPLE
    pwsh -NoProfile -File Update-BypassForwards.ps1 -CsvPath /etc/bypassnat/forwards.csv -ComputerName 192.0.2.2 -KeyFile /root/.ssh/id_ed25519
#>
[CmdletBinding()]
param(
    # The forwards, as for Import-Csv | New-BypassForward.
    [Parameter(Mandatory)] [string] $CsvPath,
    # The bypass router(s); "a,b" in one argument works too (pwsh -File passes it as one string).
    [Parameter(Mandatory)] [string[]] $ComputerName,
    # The main router, when it is a Linux box reachable over SSH (needs Invoke-BypassForwardApply -Role Main).
    [string] $MainRouter,
    [string] $KeyFile,
    [string] $KnownHostsFile,
    [string] $UserName,
    [switch] $Sudo,
    [string] $PublicAddress,
    # Seconds to wait for each router to answer (default 15).
    [int] $ConnectTimeout,
    # Also install the forwards on the routers (restore at boot and after a flush).
    [switch] $Persist,
    # Also append the log lines to this file.
    [string] $LogPath,
    # The module to import: its name when installed, or the path of its folder.
    [string] $ModulePath = 'BypassNat'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# Anything unforeseen still ends in a log line and a non-zero exit code, never in silence.
trap {
    Write-Host ('{0:yyyy-MM-ddTHH:mm:ssZ} router=* role=* result=failed error=BypassNat.UpdateFailed message="{1}"' -f [DateTime]::UtcNow, ("$_" -replace '\s+', ' ' -replace '"', "'"))
    exit 1
}

$routers = @($ComputerName | ForEach-Object { $_ -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
$all = @($routers | ForEach-Object { @{ Name = $_; Role = 'bypass' } })
if ($MainRouter) { $all += @{ Name = $MainRouter; Role = 'main' } }

function Write-Log([string] $Router, [string] $Role, [string] $Text) {
    $line = '{0:yyyy-MM-ddTHH:mm:ssZ} router={1} role={2} {3}' -f [DateTime]::UtcNow, $Router, $Role, $Text
    if ($LogPath) { Add-Content -LiteralPath $LogPath -Value $line }
    # To the host (stdout under pwsh -File), where cron, journald and Task Scheduler's history see it.
    Write-Host $line
}

# The first few names and how many more, as -Verbose does: a line of a thousand names is no log line.
function Format-Names($Names) {
    $all = @($Names)
    if (-not $all.Count) { return '-' }
    $shown = @($all | Sort-Object | Select-Object -First 10) -join ','
    if ($all.Count -gt 10) { "$shown,+$($all.Count - 10)more" } else { $shown }
}

function Format-Error($ErrorRecord) {
    $id = $ErrorRecord.FullyQualifiedErrorId -replace ',.*$'
    $message = ("$($ErrorRecord.Exception.Message)" -replace '\s+', ' ').Trim() -replace '"', "'"
    "error=$id message=`"$message`""
}

function Write-Result($Router, [string] $Role, $Results, $Failures) {
    $result = @($Results | Where-Object { $_.ComputerName -eq $Router }) | Select-Object -First 1
    if ($result) {
        Write-Log $Router $Role ('result=ok changed={0} added={1} removed={2} modified={3} duration={4:0.00}s' -f
            $result.Changed, (Format-Names $result.Added), (Format-Names $result.Removed), (Format-Names $result.Modified), $result.Duration.TotalSeconds)
        return $true
    }
    $failure = @($Failures | Where-Object { "$($_.TargetObject)" -eq $Router }) | Select-Object -First 1
    if ($failure) { Write-Log $Router $Role "result=failed $(Format-Error $failure)" }
    else { Write-Log $Router $Role 'result=failed error=BypassNat.NoResult message="the apply returned nothing for this router"' }
    $false
}

# The input first: if it is wrong, nothing is applied anywhere, and every router's line says why.
$rowErrors = @()
try {
    Import-Module $ModulePath
    $forwards = @(Import-Csv -LiteralPath $CsvPath | New-BypassForward -ErrorAction SilentlyContinue -ErrorVariable rowErrors)
}
catch {
    # -ErrorVariable holds the row errors (records) and, last, the exception that stopped the set.
    $messages = @($rowErrors | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { $_.Exception.Message })
    # The first few problems and how many more: a CSV of thousands of bad rows is still one readable line.
    $why = if ($messages.Count -gt 3) { ($messages[0..2] -join '; ') + "; and $($messages.Count - 3) more problems" }
        elseif ($messages.Count) { $messages -join '; ' } else { $_.Exception.Message }
    $id = if ($messages.Count) { 'BypassNat.InvalidForwardSet' } else { $_.FullyQualifiedErrorId -replace ',.*$' }
    foreach ($router in $all) { Write-Log $router.Name $router.Role "result=not-applied error=$id message=`"$(($why -replace '\s+', ' ') -replace '"', "'")`"" }
    exit 2
}

$ssh = @{}
foreach ($name in 'KeyFile', 'KnownHostsFile', 'UserName', 'PublicAddress', 'ConnectTimeout') {
    if ($PSBoundParameters.ContainsKey($name)) { $ssh[$name] = $PSBoundParameters[$name] }
}
if ($Sudo) { $ssh.Sudo = $true }
if ($Persist) { $ssh.Persist = $true }
# The CSV is each router's whole set: a forward no longer in it is removed without asking (a scheduled
# run has no one to ask).
$ssh.RemoveUnlisted = $true

$ok = $true
# One router's failure is its own error (collected here), the others are still applied; a terminating
# error means the set and the routers do not fit, and nothing was applied.
$failures = @()
try {
    $results = @($forwards | Invoke-BypassForwardApply -ComputerName $routers @ssh -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures)
}
catch {
    foreach ($router in $routers) { Write-Log $router 'bypass' "result=not-applied $(Format-Error $_)" }
    exit 2
}
foreach ($router in $routers) { $ok = (Write-Result $router 'bypass' $results $failures) -and $ok }

if ($MainRouter) {
    if (-not (Get-Command Invoke-BypassForwardApply).Parameters.ContainsKey('Role')) {
        Write-Log $MainRouter 'main' 'result=failed error=BypassNat.NoMainRole message="this BypassNat cannot apply the main router''s half (no -Role Main); set it in the main router''s GUI"' 
        $ok = $false
    }
    else {
        $failures = @()
        try {
            $results = @($forwards | Invoke-BypassForwardApply -Role Main -ComputerName $MainRouter @ssh -Confirm:$false -ErrorAction SilentlyContinue -ErrorVariable failures)
            $ok = (Write-Result $MainRouter 'main' $results $failures) -and $ok
        }
        catch {
            Write-Log $MainRouter 'main' "result=not-applied $(Format-Error $_)"
            $ok = $false
        }
    }
}

exit $(if ($ok) { 0 } else { 1 })
