# The parts of the bench that run inside the lab's namespaces (Bench.ps1 starts them):
#   -Admin PARAMS OUT    on the admin workstation: the SSH floors, the applies, the seed's way; writes JSON rows
#   -Serve PORT          on the device: accepts TCP connections, answers one line, closes (until killed)
#   -Connect ADDR:PORT   on the internet client: COUNT short connections one after another; prints seconds
[CmdletBinding(DefaultParameterSetName = 'Admin')]
param(
    [Parameter(ParameterSetName = 'Admin', Mandatory)] [string] $ParamsPath,
    [Parameter(ParameterSetName = 'Admin', Mandatory)] [string] $OutPath,
    [Parameter(ParameterSetName = 'Serve', Mandatory)] [int] $Serve,
    [Parameter(ParameterSetName = 'Connect', Mandatory)] [string] $Connect,
    [Parameter(ParameterSetName = 'Connect')] [int] $Count = 1000
)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

if ($PSCmdlet.ParameterSetName -eq 'Serve') {
    $listener = [Net.Sockets.TcpListener]::new([Net.IPAddress]::Any, $Serve)
    $listener.Server.SetSocketOption([Net.Sockets.SocketOptionLevel]::Socket, [Net.Sockets.SocketOptionName]::ReuseAddress, $true)
    $listener.Start(512)
    $answer = [Text.Encoding]::ASCII.GetBytes("ok`n")
    while ($true) {
        $socket = $listener.AcceptSocket()
        try { [void]$socket.Send($answer) } catch { }
        $socket.Close()
    }
}

if ($PSCmdlet.ParameterSetName -eq 'Connect') {
    $address, $port = $Connect.Split(':')
    $buffer = [byte[]]::new(16)
    $failed = 0
    $clock = $null
    # The first connections warm up the code path (JIT); they are not timed.
    for ($i = -20; $i -lt $Count; $i++) {
        if ($i -eq 0) { $failed = 0; $clock = [Diagnostics.Stopwatch]::StartNew() }
        $socket = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::InterNetwork, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Tcp)
        try {
            $socket.ReceiveTimeout = 3000
            $socket.Connect($address, [int]$port)
            if ($socket.Receive($buffer) -lt 1) { $failed++ }
        } catch { $failed++ } finally { $socket.Close() }
    }
    "$($clock.Elapsed.TotalSeconds) $failed"
    return
}

$p = Get-Content $ParamsPath -Raw | ConvertFrom-Json
Import-Module (Join-Path $p.ModulePath 'BypassNat.psd1')
$ssh = @{ ComputerName = '192.0.2.2'; KeyFile = $p.KeyFile; KnownHostsFile = $p.KnownHostsFile }
$openssh = @('-i', $p.KeyFile, '-o', 'BatchMode=yes', '-o', "UserKnownHostsFile=$($p.KnownHostsFile)", '-o', 'StrictHostKeyChecking=yes', 'root@192.0.2.2')
$rows = [Collections.Generic.List[object]]::new()

function Add-Row([string] $Name, [string] $Backend, [double[]] $Seconds, $Commands = $null) {
    $rows.Add([pscustomobject]@{ Name = $Name; Backend = $Backend; Seconds = $Seconds; Commands = $Commands })
    Write-Host ("  {0,-34} {1,-9} {2}" -f $Name, $Backend, (($Seconds | ForEach-Object { '{0:n3}s' -f $_ }) -join ' '))
}

function Measure-Seconds([scriptblock] $Script) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $result = & $Script
    $clock.Stop()
    [pscustomobject]@{ Seconds = $clock.Elapsed.TotalSeconds; Result = $result }
}

# Forwards f1..fN, TCP, ports 10000 up, to the device's same ports (made once, outside the timings).
function New-BenchForwards([int] $Count) {
    if ($Count -eq 0) { return @() }
    @(1..$Count | ForEach-Object { [pscustomobject]@{ Name = "f$_"; Protocol = 'Tcp'; ExternalPort = 9999 + $_; BypassAddress = '192.0.2.2'; InternalAddress = '192.0.2.20' } } | New-BypassForward)
}

# Each apply is the router's whole set, and this worker runs -NonInteractive: no question about the
# forwards it removes (a build without -RemoveUnlisted ignores a default for a parameter it lacks).
$PSDefaultParameterValues['Invoke-BypassForwardApply:RemoveUnlisted'] = $true

function Reset-Router { Remove-BypassForward @ssh -All -Confirm:$false | Out-Null }

function Invoke-Apply($Forwards, [string] $Backend) {
    $result = $Forwards | Invoke-BypassForwardApply @ssh -Backend $Backend
    if (-not $result) { throw "The apply of $(@($Forwards).Count) forward(s) returned nothing." }
    $result
}

function Get-Commands($Result) { if ($Result.PSObject.Properties['SshCommands']) { $Result.SshCommands } else { $null } }

# The floor: what one SSH connection and one trivial command cost on this machine, right now.
$times = foreach ($i in 1..$p.FloorReps) { (Measure-Seconds { & ssh @openssh true; if ($LASTEXITCODE) { throw "ssh true failed" } }).Seconds }
Add-Row 'floor: OpenSSH ssh ... true' '' $times
$sshnet = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'Renci.SshNet' }
# The module keeps SSH.NET in its dependencies/ folder (loaded in its own context); the floor row loads
# that same file here.
if (-not $sshnet) { $sshnet = [Reflection.Assembly]::LoadFrom((Join-Path $p.ModulePath 'dependencies/Renci.SshNet.dll')) }
$keyFile = [Activator]::CreateInstance($sshnet.GetType('Renci.SshNet.PrivateKeyFile'), [object[]]@($p.KeyFile))
$keys = [Array]::CreateInstance($sshnet.GetType('Renci.SshNet.IPrivateKeySource'), 1)
$keys[0] = $keyFile
$times = foreach ($i in 1..$p.FloorReps) {
    (Measure-Seconds {
        $client = [Activator]::CreateInstance($sshnet.GetType('Renci.SshNet.SshClient'), [object[]]@('192.0.2.2', 22, 'root', $keys))
        try { $client.Connect(); [void]$client.RunCommand('true') } finally { $client.Dispose() }
    }).Seconds
}
Add-Row 'floor: SSH.NET connect + true' '' $times

foreach ($backend in $p.Backends) {
    foreach ($size in $p.Sizes) {
        $forwards = New-BenchForwards $size.Count
        $first = @(); $again = @(); $commands = @(); $noopCommands = @()
        foreach ($i in 1..$size.Reps) {
            Reset-Router
            $run = Measure-Seconds { Invoke-Apply $forwards $backend }
            $first += $run.Seconds; $commands += Get-Commands $run.Result
            $run = Measure-Seconds { Invoke-Apply $forwards $backend }
            if ($run.Result.Changed) { throw "The second apply of $($size.Count) forward(s) changed something." }
            $again += $run.Seconds; $noopCommands += Get-Commands $run.Result
        }
        Add-Row "apply $($size.Count) (fresh router)" $backend $first ($commands | Select-Object -Last 1)
        Add-Row "re-apply $($size.Count) (no-op)" $backend $again ($noopCommands | Select-Object -Last 1)
    }

    # The same no-op through one session kept open (New-BypassSession): what is left without the login.
    $forwards = New-BenchForwards $p.SessionCount
    Invoke-Apply $forwards $backend | Out-Null
    $session = New-BypassSession @ssh
    try {
        $times = @(); $before = 0; $commands = $null
        foreach ($i in 0..$p.SessionReps) {
            $run = Measure-Seconds { $forwards | Invoke-BypassForwardApply -Session $session -Backend $backend }
            if ($run.Result.Changed) { throw "A no-op apply through a session changed something." }
            # The first one pays for the session's first command; not counted. A session counts all its
            # commands: this apply's are the difference.
            if ($i -gt 0) { $times += $run.Seconds; $commands = (Get-Commands $run.Result) - $before }
            $before = Get-Commands $run.Result
        }
        Add-Row "re-apply $($p.SessionCount) (no-op, reused session)" $backend $times $commands
    } finally { Remove-BypassSession -Session $session }

    $all = New-BenchForwards $p.RemoveFrom
    $kept = @($all | Select-Object -First ($p.RemoveFrom - $p.RemoveCount))
    $times = @(); $commands = $null
    foreach ($i in 1..$p.RemoveReps) {
        Invoke-Apply $all $backend | Out-Null
        $run = Measure-Seconds { Invoke-Apply $kept $backend }
        if (@($run.Result.Removed).Count -ne $p.RemoveCount) { throw "The apply removed $(@($run.Result.Removed).Count) forwards, not $($p.RemoveCount)." }
        $times += $run.Seconds; $commands = Get-Commands $run.Result
    }
    Add-Row "apply removing $($p.RemoveCount) of $($p.RemoveFrom)" $backend $times $commands

    $wide = New-BypassForward -Name wide -Protocol TcpUdp -ExternalPort $p.Range -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.20
    $first = @(); $commands = $null
    foreach ($i in 1..$p.RangeReps) {
        Reset-Router
        $run = Measure-Seconds { Invoke-Apply $wide $backend }
        $first += $run.Seconds; $commands = Get-Commands $run.Result
    }
    Add-Row "apply a $($p.RangePorts)-port TcpUdp range" $backend $first $commands
    Reset-Router
}

# The seed's way: one SSH command per iptables rule (the lab restores the nat table afterwards).
foreach ($count in $p.SeedCounts) {
    $run = Measure-Seconds {
        for ($i = 0; $i -lt $count; $i++) {
            $port = 20000 + $i
            & ssh @openssh "iptables -t nat -I PREROUTING -p tcp -d 192.0.2.2 --dport $port -j DNAT --to-destination 192.0.2.20:$port"
            if ($LASTEXITCODE) { throw "the seed's iptables command failed" }
        }
    }
    Add-Row "seed's way: $count ssh iptables -I" 'Iptables' @($run.Seconds) $count
    & ssh @openssh "iptables-save -t nat | grep -v -- '--dport 2[0-9][0-9][0-9][0-9] -j DNAT --to-destination 192.0.2.20' | iptables-restore -T nat"
}

$rows | ConvertTo-Json -Depth 4 | Set-Content $OutPath
