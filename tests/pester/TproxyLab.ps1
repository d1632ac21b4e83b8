# Helpers shared by Tproxy.Tests.ps1 and TproxyNft.Tests.ps1, dot-sourced in their BeforeAll after
# $Lab (a lab started with -Proxy) and $Csv (the forwards: web tcp 8080 -> 80, game udp 9000) are set.

# Applies $Csv with -Verbose; returns the results, the verbose lines as one string, and the warnings.
function Invoke-Apply([hashtable] $Extra = @{}) {
    $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv; Extra = $Extra } {
        $ssh = $Lab.Ssh; $extra = $Params.Extra
        $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra -Verbose 4>&1 |
            ForEach-Object { if ($_ -is [System.Management.Automation.VerboseRecord]) { "VERBOSE: $($_.Message)" } else { $_ } }
    }
    $run.Errors | Should -BeNullOrEmpty
    [pscustomobject]@{
        Result   = $run.Output | Where-Object { $_ -isnot [string] }
        Verbose  = ($run.Output | Where-Object { $_ -is [string] }) -join "`n"
        Warnings = $run.Warnings
    }
}

# The forward from the internet client through both routers to the device; $null when it is lost.
function Send-Forwarded([ValidateSet('tcp', 'udp')] $Protocol = 'tcp') {
    $port = if ($Protocol -eq 'tcp') { 8080 } else { 9000 }
    Send-LabRequest $Lab -Protocol $Protocol -Address 203.0.113.1 -Port $port
}

# A LAN node's own connection to the internet, which the proxy must still capture.
function Send-Outbound($From) { Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.10 -Port 7000 -From $From }

# Runs a multi-line shell script in the bypass router's namespace (nft files, several ip rules).
function Invoke-BypassShell([string] $Script) {
    $output = $Script | & ip netns exec "$($Lab.Prefix)-byp" sh -s 2>&1
    if ($LASTEXITCODE -ne 0) { throw "the lab script failed: $output" }
}
