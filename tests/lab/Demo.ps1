<#
.SYNOPSIS
    The main job on an embedded default: builds the lab, shows the bypass-router bug, applies both
    hops of a CSV of forwards with BypassNat from the admin workstation (the main router's and the
    bypass router's), and shows the internet client answered by the device through the double NAT.
    The lab is torn down at the end, also on failure.
#>
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $CsvPath
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'Lab.psm1') -Force
Import-Module (Join-Path $ModulePath 'BypassNat.psd1') -Force

$forwards = @(Import-Csv $CsvPath | New-BypassForward)
# The lab's device (192.0.2.20) serves every internal port of the CSV, so each forward can be shown working.
$services = foreach ($f in $forwards) {
    foreach ($proto in @(switch ("$($f.Protocol)") { 'Tcp' { 'tcp' } 'Udp' { 'udp' } default { 'tcp'; 'udp' } })) {
        foreach ($port in $f.InternalPort.Start..$f.InternalPort.End) { "${proto}:$port" }
    }
}

function Show([string] $Text) { Write-Host "`n== $Text" -ForegroundColor Cyan }

function Show-Requests {
    foreach ($f in $forwards | Where-Object Enabled) {
        foreach ($proto in @(switch ("$($f.Protocol)") { 'Tcp' { 'tcp' } 'Udp' { 'udp' } default { 'tcp'; 'udp' } })) {
            $port = $f.ExternalPort.Start
            $answer = Send-LabRequest $lab -Protocol $proto -Address 203.0.113.1 -Port $port
            $shown = if ($answer) { "answered: $answer" } else { 'no answer' }
            Write-Host ("  internet client -> 203.0.113.1 {0}/{1,-5} {2}" -f $proto, $port, $shown)
        }
    }
}

# What the admin types on the workstation, run there (in the lab's admin namespace): one CSV, both
# routers. -Role Main applies the main router's half (WAN port -> bypass router), the default the
# bypass router's (-> device).
function Invoke-DemoApply([ValidateSet('Main', 'Bypass')] [string] $Role, [switch] $ShowRouter) {
    Invoke-AsAdmin $lab -Params @{ Csv = (Get-Content $CsvPath -Raw); Show = [bool]$ShowRouter; Role = $Role } {
        $path = Join-Path ([IO.Path]::GetTempPath()) "forwards-$PID.csv"
        Set-Content $path $Params.Csv
        $ssh = if ($Params.Role -eq 'Main') { $Lab.MainSsh } else { $Lab.Ssh }
        Import-Csv $path | New-BypassForward | Invoke-BypassForwardApply @ssh -PublicAddress 203.0.113.1
        if ($Params.Show) { Get-BypassForward @ssh | Format-Table -AutoSize | Out-String -Width 200 }
    }
}

$lab = $null
try {
    Show 'Building the lab (network namespaces, documentation addresses only)'
    $lab = Start-BypassLab -ModulePath $ModulePath -Service $services
    Write-Host @'
  internet client 203.0.113.10 -> main router 203.0.113.1 | 192.0.2.1 -> LAN 192.0.2.0/24
  LAN: bypass router 192.0.2.2 (Clash-like proxy, MASQUERADE, INVALID dropped, sshd)
       device 192.0.2.20 (gateway: the bypass router), admin workstation 192.0.2.100
       LAN client 192.0.2.30 (gateway: the bypass router), LAN client 192.0.2.31 (gateway: the main router)
  The main router runs sshd too; its default route leaves by its WAN interface, wan0.
'@

    Show 'The bug: the main router forwards straight to the device'
    Set-MainRouterForward $lab -Forward $forwards -Direct
    Show-Requests

    # Take the broken hand-made forward away again: from here on BypassNat does both hops.
    Invoke-LabCommand $lab main 'iptables -t nat -F PREROUTING' | Out-Null

    Show 'For routers with only a web GUI, the same CSV as a plan to type in: Get-BypassForwardPlan'
    $forwards | Get-BypassForwardPlan | Format-Table | Out-String -Width 200 | Out-Host

    Show "The fix, step 1: the main router forwards each WAN port to the bypass router: Invoke-BypassForwardApply -Role Main"
    $run = Invoke-DemoApply -Role Main -ShowRouter
    if ($run.Errors) { throw "The main router's apply failed: $($run.Errors.Message -join '; ')" }
    $run.Output | Select-Object -First 1 | Format-List ComputerName, Role, Backend, Changed, Added, PublicAddress, Duration | Out-Host
    Write-Host "Forwards read back from the main router (its 'internal' side is the bypass router):"
    $run.Output | Select-Object -Skip 1 | Out-Host

    Show "The fix, step 2: the bypass router forwards them to the device: Import-Csv $(Split-Path $CsvPath -Leaf) | New-BypassForward | Invoke-BypassForwardApply"
    $run = Invoke-DemoApply -Role Bypass -ShowRouter
    if ($run.Errors) { throw "The apply failed: $($run.Errors.Message -join '; ')" }
    $run.Output | Select-Object -First 1 | Format-List ComputerName, Role, Backend, Changed, Added, Unchanged, PublicAddress, Duration | Out-Host
    Write-Host "Forwards read back from the bypass router:"
    $run.Output | Select-Object -Skip 1 | Out-Host

    Show 'Requests from the internet now reach the device, the answers come back, and the device sees the real client'
    Show-Requests

    Show 'LAN clients reach the same services at the public address: 192.0.2.30 through the bypass router (hairpin), 192.0.2.31 through the main router (NAT reflection)'
    foreach ($client in @(@('cli', '192.0.2.30'), @('cl2', '192.0.2.31'))) {
        foreach ($f in $forwards | Where-Object Enabled) {
            $proto = if ("$($f.Protocol)" -eq 'Udp') { 'udp' } else { 'tcp' }
            $answer = Send-LabRequest $lab -From $client[0] -Protocol $proto -Address 203.0.113.1 -Port $f.ExternalPort.Start
            Write-Host ("  LAN client {0} -> 203.0.113.1 {1}/{2,-5} {3}" -f $client[1], $proto, $f.ExternalPort.Start, $(if ($answer) { "answered: $answer" } else { 'no answer' }))
        }
    }

    Show 'Applying the same CSV again changes nothing on either router'
    foreach ($role in 'Main', 'Bypass') {
        $again = Invoke-DemoApply -Role $role
        if ($again.Errors) { throw "The apply failed: $($again.Errors.Message -join '; ')" }
        Write-Host "  $role router: Changed: $($again.Output[0].Changed); unchanged: $($again.Output[0].Unchanged -join ', ')"
    }
}
finally {
    Show 'Tearing the lab down'
    Stop-BypassLab $lab
}
