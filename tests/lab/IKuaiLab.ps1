# The lab's iKuai main router: tests/lab/ikuai_sim.py in the main router's network namespace, in
# place of a Debian main router reached over SSH. Dot-source it after importing Lab.psm1.
Set-StrictMode -Version Latest

function Start-IKuaiSim {
    <#
    Starts the simulator for one API version at 192.0.2.1 (3.x: HTTP on 80 and HTTPS on 443; 4.x:
    HTTPS on 8443), with a self-signed certificate of its own and the user's own mappings in Seed (JSON).
    Returns its pid, folder, ports, certificate fingerprint and secrets.
    #>
    param([Parameter(Mandatory)] $Lab, [Parameter(Mandatory)] [ValidateSet(3, 4)] [int] $Version, [string] $Seed = '[]')
    $dir = Join-Path $Lab.Dir "ikuai$Version"
    New-Item -ItemType Directory $dir -Force | Out-Null
    & openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj "/CN=ikuai$Version.lab" 2>$null
    if ($LASTEXITCODE -ne 0) { throw 'openssl could not make the simulator''s certificate.' }
    $fingerprint = (& openssl x509 -noout -fingerprint -sha256 -in "$dir/cert.pem").Trim()
    $sim = [pscustomobject]@{
        Version     = $Version
        Dir         = $dir
        Pid         = 0
        HttpPort    = if ($Version -eq 3) { 80 } else { 0 }
        HttpsPort   = if ($Version -eq 3) { 443 } else { 8443 }
        # What openssl prints: "sha256 Fingerprint=AB:CD:...", as users copy it.
        Fingerprint = $fingerprint
        User        = 'apiuser'
        Password    = "lab-Pw-$Version-" + [guid]::NewGuid().ToString('N').Substring(0, 10)
        Token       = "lab-token-$Version-" + [guid]::NewGuid().ToString('N')
    }
    $script = Join-Path $PSScriptRoot 'ikuai_sim.py'
    $arguments = @($script, '--version', $Version, '--addr', '192.0.2.1', '--state', $dir, '--chain', "IKUAI_V$Version",
        '--https-port', $sim.HttpsPort, '--cert', "$dir/cert.pem", '--key', "$dir/key.pem",
        '--user', $sim.User, '--password', $sim.Password, '--token', $sim.Token, '--seed', $Seed)
    if ($sim.HttpPort) { $arguments += '--http-port', $sim.HttpPort }
    # setsid and closed descriptors: the simulator must not hold this PowerShell's pipes open.
    $quoted = ($arguments | ForEach-Object { "'" + ("$_" -replace "'", "'\''") + "'" }) -join ' '
    & bash -c "ip netns exec '$($Lab.Prefix)-main' setsid python3 $quoted </dev/null >'$dir/sim.log' 2>&1 &"
    foreach ($i in 1..100) {
        if (Test-Path "$dir/ready") { break }
        Start-Sleep -Milliseconds 100
    }
    if (-not (Test-Path "$dir/ready")) { throw "The iKuai simulator did not start: $(Get-Content "$dir/sim.log" -Raw)" }
    $sim.Pid = [int](Get-Content "$dir/ready" -Raw)
    $sim
}

function Stop-IKuaiSim {
    param([AllowNull()] $Sim)
    if ($null -ne $Sim -and $Sim.Pid) { & kill $Sim.Pid 2>$null }
}

function Get-IKuaiSimStatus {
    <# The simulator's counters (login_attempts, logins, writes, calls) and rows, as it wrote them after the last request. #>
    param([Parameter(Mandatory)] $Sim)
    Get-Content (Join-Path $Sim.Dir 'status.json') -Raw | ConvertFrom-Json
}

function Send-IKuaiSimControl {
    <# Changes the simulator behind the API's back ({"edit": {...}}, {"fail_write": N}) and waits until it has. #>
    param([Parameter(Mandatory)] $Sim, [Parameter(Mandatory)] [string] $Json)
    $statusFile = Join-Path $Sim.Dir 'status.json'
    $before = Get-Content $statusFile -Raw
    Set-Content (Join-Path $Sim.Dir 'control.json') $Json
    & kill -USR2 $Sim.Pid
    foreach ($i in 1..50) {
        if ((Get-Content $statusFile -Raw) -ne $before) { return }
        Start-Sleep -Milliseconds 50
    }
}

function Reset-IKuaiSimSessions {
    <# Expires every 3.x session, so the next call is answered Result 10014. #>
    param([Parameter(Mandatory)] $Sim)
    & kill -USR1 $Sim.Pid
    foreach ($i in 1..50) {
        if ((Get-IKuaiSimStatus $Sim).sessions -eq 0) { return }
        Start-Sleep -Milliseconds 50
    }
}

function Get-IKuaiSplat {
    <#
    The parameters for -Role Main -Backend IKuai against this simulator, as a hashtable that builds
    its credential inside the admin step (a SecureString does not travel between processes).
    #>
    param([Parameter(Mandatory)] $Sim, [switch] $Https)
    @{
        Version     = $Sim.Version
        User        = $Sim.User
        Password    = $Sim.Password
        Token       = $Sim.Token
        Port        = if ($Sim.Version -eq 4 -or $Https) { $Sim.HttpsPort } else { $Sim.HttpPort }
        Https       = [bool]($Https -or $Sim.Version -eq 4)
        Fingerprint = $Sim.Fingerprint
    }
}
