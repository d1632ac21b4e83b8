# Debug-BypassForward reads the bypass router's connection tracking and names the usual cause of a
# forward that does not work: the device's gateway is not the bypass router.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Service @('tcp:80')
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
idle,Tcp,8090,192.0.2.2,192.0.2.20,80
'@
    $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh }
    if ($run.Errors) { throw "Setting up the router failed: $($run.Errors.Message)" }
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    # The main router's half of the double forward, as its GUI would have it.
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    function Invoke-Diagnosis {
        Invoke-AsAdmin $Lab {
            $ssh = $Lab.Ssh
            Debug-BypassForward @ssh | ForEach-Object {
                [pscustomobject]@{ Name = $_.Name; Status = "$($_.Status)"; Unreplied = $_.Unreplied; Clients = @($_.Clients); Cause = $_.Cause; Fix = $_.Fix }
            }
        }
    }
    # Entries of earlier attempts live on for minutes; each test starts from none.
    function Clear-Conntrack { & ip netns exec "$($Lab.Prefix)-byp" conntrack -D -p tcp --orig-dst 192.0.2.2 --orig-port-dst 8080 2>$null | Out-Null }
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
    }

    It 'does not flag it once the bypass router is the device''s gateway again' {
        Clear-Conntrack
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        $run = Invoke-Diagnosis
        $run.Errors | Should -BeNullOrEmpty
        $web = $run.Output | Where-Object Name -eq 'web'
        $web.Status | Should -Be 'Ok'
        $web.Unreplied | Should -Be 0
        $run.Warnings | Should -BeNullOrEmpty
    }
}
