# Choosing, coexisting with and switching between the nftables and iptables backends.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@

    function Invoke-Apply($Lab, [hashtable] $Extra = @{}) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $Csv; Extra = $Extra } {
            $ssh = $Lab.Ssh; $extra = $Params.Extra
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra -Verbose 4>&1 |
                ForEach-Object { if ($_ -is [System.Management.Automation.VerboseRecord]) { "VERBOSE: $($_.Message)" } else { $_ } }
        }
    }

    function Assert-Forwarded($Lab) {
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Match '^device tcp 80 '
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '
    }
}

Describe 'nftables beside a proxy with a native nftables ruleset' {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Proxy nft -Service 'tcp:80', 'udp:9000'
        Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'picks nftables on its own and says why' {
        $run = Invoke-Apply $Lab
        $run.Errors | Should -BeNullOrEmpty
        $result = $run.Output | Where-Object { $_ -isnot [string] }
        $result.Backend | Should -Be 'Nftables'
        ($run.Output | Where-Object { $_ -is [string] }) -join "`n" | Should -Match 'VERBOSE: Backend on 192\.0\.2\.2: Nftables \(auto: nft works; nft v1\.'
    }

    It 'forwards TCP and UDP past the proxy''s REDIRECT, leaving its table alone' {
        Assert-Forwarded $Lab
        $ruleset = Get-LabNatTable $Lab
        $ruleset | Should -Match 'meta l4proto tcp redirect to :7892'
        $ruleset | Should -Match 'table inet clash'
    }

    It 'keeps forwarding after the proxy''s iptables -t nat -F, with no re-apply' {
        Invoke-LabCommand $Lab byp 'iptables -t nat -F' | Out-Null
        Assert-Forwarded $Lab
    }
}

Describe 'switching backend on a router' {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Service 'tcp:80', 'udp:9000'
        Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'moves the forwards from iptables to nftables: none lost, nothing left behind' {
        (Invoke-Apply $Lab @{ Backend = 'Iptables' }).Errors | Should -BeNullOrEmpty
        Get-LabNatTable $Lab | Should -Match 'BYPASSNAT_PREROUTING'

        $run = Invoke-Apply $Lab @{ Backend = 'Nftables' }
        $run.Errors | Should -BeNullOrEmpty
        $result = $run.Output | Where-Object { $_ -isnot [string] }
        $result.Backend | Should -Be 'Nftables'
        $result.MovedFrom | Should -Be 'Iptables'
        $nat = Get-LabNatTable $Lab
        $nat | Should -Not -Match 'BYPASSNAT_'
        $nat | Should -Match 'table ip bypassnat'
        $nat | Should -Match '-A PREROUTING -p tcp -j CLASH'
        Assert-Forwarded $Lab
    }

    It 'stays with the backend that holds the forwards when left to choose' {
        $run = Invoke-Apply $Lab
        ($run.Output | Where-Object { $_ -isnot [string] }).Changed | Should -BeFalse
        ($run.Output | Where-Object { $_ -is [string] }) -join "`n" | Should -Match "Nftables \(auto: BypassNat's table is there"
    }

    It 'moves them back to iptables just as cleanly' {
        $run = Invoke-Apply $Lab @{ Backend = 'Iptables' }
        $run.Errors | Should -BeNullOrEmpty
        ($run.Output | Where-Object { $_ -isnot [string] }).MovedFrom | Should -Be 'Nftables'
        $nat = Get-LabNatTable $Lab
        $nat | Should -Not -Match 'table ip bypassnat'
        $nat | Should -Match '(?m)^-A PREROUTING -j BYPASSNAT_PREROUTING$'
        Assert-Forwarded $Lab
    }
}
