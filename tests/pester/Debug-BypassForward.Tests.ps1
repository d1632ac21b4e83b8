# Debug-BypassForward reads the bypass router's connection tracking and names the usual cause of a
# forward that does not work: the device's gateway is not the bypass router. It draws each forward's
# path, hop by hop, as objects and as a view that fits 80 columns.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Service @('tcp:80')
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,AllowedSource
web,Tcp,8080,192.0.2.2,192.0.2.20,80,
idle,Tcp,8090,192.0.2.2,192.0.2.20,80,
only,Tcp,8091,192.0.2.2,192.0.2.20,80,198.51.100.0/24
shut,Tcp,8092,192.0.2.2,192.0.2.20,81,
'@
    $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh }
    if ($run.Errors) { throw "Setting up the router failed: $($run.Errors.Message)" }
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    # The main router's half of the double forward, as its GUI would have it.
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    function Invoke-Diagnosis {
        Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            $found = @(Debug-BypassForward @ssh)
            $found | ForEach-Object {
                [pscustomobject]@{
                    Name = $_.Name; Status = "$($_.Status)"; Unreplied = $_.Unreplied; Clients = @($_.Clients); Cause = $_.Cause; Fix = $_.Fix
                    NotAdmitted = $_.NotAdmitted; MainRouter = "$($_.MainRouter)"; BypassRule = "$($_.BypassRule)"; ProxyExemption = "$($_.ProxyExemption)"
                    Conntrack = "$($_.Conntrack)"; DeviceGateway = "$($_.DeviceGateway)"; DevicePort = "$($_.DevicePort)"
                    Hops = @($_.Path | ForEach-Object { "$($_.Hop)=$($_.State)" })
                }
            }
            # The view a person sees, and the table.
            'VIEW=' + ($found | Out-String -Width 80)
            'TABLE=' + ($found | Format-Table | Out-String -Width 80)
            'COLOUR=' + [BypassNat.Commands.PathDrawing]::Draw(($found | Where-Object Name -eq 'web'), $true)
        }
    }
    # Entries of earlier attempts live on for minutes; each test starts from none.
    function Clear-Conntrack { & ip netns exec "$($Lab.Prefix)-byp" conntrack -D -p tcp --orig-dst 192.0.2.2 --orig-port-dst 8080 2>$null | Out-Null }
    # The view as text, without the colours a terminal would show.
    function Get-View($Run, [string] $Kind) { (@($Run.Output | Where-Object { $_ -is [string] -and $_.StartsWith("$Kind=") }) -join '').Substring($Kind.Length + 1) -replace "`e\[[0-9;]*m" }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Debug-BypassForward' {
    It 'flags the forward when the device''s gateway is the main router, with the cause and the fix' {
        Clear-Conntrack
        Invoke-LabCommand $Lab dev 'ip route replace default via 192.0.2.1' | Out-Null
        try {
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty
            $run = Invoke-Diagnosis
        }
        finally {
            Invoke-LabCommand $Lab dev 'ip route replace default via 192.0.2.2' | Out-Null
        }
        $run.Errors | Should -BeNullOrEmpty
        $web = $run.Output | Where-Object Name -eq 'web'
        $web.Status | Should -Be 'Unreplied'
        $web.Unreplied | Should -BeGreaterThan 0
        @($web.Clients) | Should -Be @('203.0.113.10')
        $web.Cause | Should -BeLike "*the device's gateway is not this router (192.0.2.2)*"
        $web.Fix | Should -Be "Make 192.0.2.2 the device's gateway, or set SourceNat for this forward (the device then sees 192.0.2.2 instead of the client)."
        ($run.Output | Where-Object Name -eq 'idle').Status | Should -Be 'NoTraffic'
        @($run.Warnings -like "192.0.2.2: forward 'web': *gateway*") | Should -HaveCount 1

        # The path, hop by hop: the main router sent it, the rule is there, no proxy captures the
        # replies, the entries stayed UNREPLIED, and the device answers the router but not through it.
        $web.MainRouter | Should -Be 'Ok'
        $web.BypassRule | Should -Be 'Ok'
        $web.ProxyExemption | Should -Be 'NotNeeded'
        $web.Conntrack | Should -Be 'Failed'
        $web.DevicePort | Should -Be 'Ok'
        $web.DeviceGateway | Should -Be 'Failed'
        @($web.Hops) | Should -Be @('main router=Ok', 'bypass router=Ok', 'proxy=NotNeeded', 'conntrack=Failed', 'device=Failed')
        # AllowedSource is part of the bypass router's hop (NotAllowed itself: DiagnosisTests).
        ($run.Output | Where-Object Name -eq 'only').Hops | Should -Contain 'bypass router=Ok'
        ((Get-View $run 'VIEW') -replace '\s+', ' ') | Should -Match 'rule Tcp 192\.0\.2\.2:8091 -> 192\.0\.2\.20:80, only from 198\.51\.100\.0/24'
        # Nothing listens on the device's port 81: the device is the problem there, whatever its gateway.
        ($run.Output | Where-Object Name -eq 'shut').DevicePort | Should -Be 'Failed'

        $view = Get-View $run 'VIEW'
        $view -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
        $view | Should -Match '(?m)^web \(Tcp\) on 192\.0\.2\.2: Unreplied$'
        $flat = $view -replace '\s+', ' '
        $flat | Should -Match '-> main router ok \d+ connection\(s\) arrived at 192\.0\.2\.2:8080'
        $flat | Should -Match '-> conntrack FAILED \d+ of \d+ UNREPLIED; clients 203\.0\.113\.10 '
        $flat | Should -Match '-> device FAILED replies do not come back through 192\.0\.2\.2: its gateway is another router; port 80 answers the router '
        $flat | Should -Match 'Fix: Make 192\.0\.2\.2 the device''s gateway'
        # On a terminal: red for the failed hops, green for the good ones.
        $colour = @($run.Output | Where-Object { $_ -is [string] -and $_.StartsWith('COLOUR=') }) -join ''
        $colour | Should -Match ([regex]::Escape("-> conntrack      `e[31;1mFAILED`e[0m"))
        $colour | Should -Match ([regex]::Escape("-> bypass router  `e[32mok`e[0m"))
        $table = Get-View $run 'TABLE'
        $table | Should -Match '(?m)^ComputerName +Name +Status +Seen +Unrepl +Cause'
        $table -split "`n" | ForEach-Object { $_.TrimEnd().Length | Should -BeLessOrEqual 80 -Because $_ }
    }

    It 'does not flag it once the bypass router is the device''s gateway again' {
        Clear-Conntrack
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        $run = Invoke-Diagnosis
        $run.Errors | Should -BeNullOrEmpty
        $web = $run.Output | Where-Object Name -eq 'web'
        $web.Status | Should -Be 'Ok'
        $web.Unreplied | Should -Be 0
        @($web.Hops) | Should -Be @('main router=Ok', 'bypass router=Ok', 'proxy=NotNeeded', 'conntrack=Ok', 'device=Ok')
        @($run.Warnings -like "*'web'*") | Should -BeNullOrEmpty
    }
}
