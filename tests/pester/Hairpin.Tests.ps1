# Hairpin: LAN clients reach a forwarded service at the public address, and clients from the
# internet keep their real address, although the bypass router MASQUERADEs everything on its LAN leg.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,8080,192.0.2.20,80
game,Udp,9000,192.0.2.2,,192.0.2.20,
voip,TcpUdp,9001-9002,192.0.2.2,19001-19002,192.0.2.20,9001-9002
'@

    function Invoke-Apply($Lab, [string] $PublicAddress) {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv; Public = $PublicAddress } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -PublicAddress $Params.Public
        }
        $run.Errors | Should -BeNullOrEmpty
        $run
    }
}

Describe 'Hairpin with the <Backend> backend' -ForEach @(@{ Backend = 'Iptables' }, @{ Backend = 'Nftables' }) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -CommandOptions @{ Backend = $Backend } `
            -Service 'tcp:80', 'udp:9000', 'tcp:9001', 'tcp:9002', 'udp:9001', 'udp:9002'
        Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)
        $script:First = Invoke-Apply $Lab '203.0.113.1'
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'says which public address the forwards answer at' {
        $First.Output[0].PublicAddress | Should -Be '203.0.113.1'
        $First.Output[0].PreviousPublicAddress | Should -BeNullOrEmpty
    }

    It 'lets a LAN client reach the device at the public address, TCP and UDP, past the proxy''s REDIRECT' {
        Get-LabNatTable $Lab | Should -Match 'REDIRECT --to-ports 7892'
        foreach ($probe in @(@('tcp', 8080, 'device tcp 80 '), @('udp', 9000, 'device udp 9000 '), @('tcp', 9002, 'device tcp 9002 '), @('udp', 9001, 'device udp 9001 '))) {
            Send-LabRequest $Lab -From cli -Protocol $probe[0] -Address 203.0.113.1 -Port $probe[1] | Should -Match "^$($probe[2])" -Because "$($probe[0]) $($probe[1])"
        }
    }

    It 'lets a LAN client reach it at the bypass address too' {
        Send-LabRequest $Lab -From cli -Protocol tcp -Address 192.0.2.2 -Port 8080 | Should -Match '^device tcp 80 '
    }

    It 'shows the device the internet client''s own address, not the bypass router''s' {
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Be 'device udp 9000 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 9001 | Should -Be 'device tcp 9001 peer 203.0.113.10'
    }

    It 'moves the hairpin rules to a new public address, and changes nothing else' {
        $before = Get-LabNatTable $Lab
        $run = Invoke-Apply $Lab '203.0.113.5'
        $result = $run.Output[0]
        $result.PublicAddress | Should -Be '203.0.113.5'
        $result.PreviousPublicAddress | Should -Be '203.0.113.1'
        @($result.Modified) | Sort-Object | Should -Be @('game', 'voip', 'web')
        $run.Warnings -join "`n" | Should -Match 'changed from 203\.0\.113\.1 to 203\.0\.113\.5'

        Send-LabRequest $Lab -From cli -Protocol tcp -Address 203.0.113.5 -Port 8080 | Should -Match '^device tcp 80 '
        Send-LabRequest $Lab -From cli -Protocol udp -Address 203.0.113.5 -Port 9000 | Should -Match '^device udp 9000 '
        Send-LabRequest $Lab -From cli -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty

        # Only the rules and map elements that name the public address differ. nft lists elements
        # in hash order, several to a line: compare them one by one.
        function Split-Atoms([string] $Text) {
            $Text -split '[,\n]' | ForEach-Object { ($_ -replace 'elements = \{', '' -replace '[{}]', '').Trim() } | Where-Object { $_ }
        }
        $changed = Compare-Object (Split-Atoms $before) (Split-Atoms (Get-LabNatTable $Lab)) | ForEach-Object InputObject
        $changed | Should -Not -BeNullOrEmpty
        @($changed | Where-Object { $_ -notmatch '203\.0\.113\.[15]\b' }) | Should -HaveCount 0
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
    }

    It 'reads the public address back with Get-BypassForward' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Get-BypassForward @ssh | ForEach-Object { "$($_.Name)=$($_.PublicAddress)" } }
        @($run.Output) | Sort-Object | Should -Be @('game=203.0.113.5', 'voip=203.0.113.5', 'web=203.0.113.5')
    }
}
