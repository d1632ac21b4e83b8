# A bypass router whose proxy captures LAN traffic with a native nftables tproxy statement in its own
# table (OpenClash on firewall4, mihomo/sing-box nft scripts). An accept in BypassNat's own table cannot
# end the proxy's chain, so BypassNat puts its reply exemption first in the proxy's prerouting base
# chain, owns only those rules (found by their bypassnat; comment), and puts them back when the proxy's
# restart recreates its table. One lab for the file.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Proxy tproxy-nft -Service 'tcp:80', 'udp:9000'
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    . (Join-Path $PSScriptRoot 'TproxyLab.ps1')

    # The proxy's table as nft prints it, split into the proxy's own lines and BypassNat's.
    function Get-ProxyTable { @(Invoke-LabCommand $Lab byp 'nft list table inet clash_tproxy') }
    function Get-ProxyOwnLines { @(Get-ProxyTable | Where-Object { $_ -notmatch 'bypassnat;' }) -join "`n" }
    function Get-Exemption { @(Get-ProxyTable | Where-Object { $_ -match 'bypassnat;' } | ForEach-Object { $_.Trim() }) }

    function Get-Drift {
        @((Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh | ForEach-Object { [pscustomobject]@{ Kind = "$($_.Kind)"; Detail = $_.Detail } }
        }).Output)
    }

    $script:Expected = @(
        'ct direction reply ct status dnat ip saddr 192.0.2.20 tcp sport 80 accept comment "bypassnat;name=web;ext=8080;role=reply"',
        'ct direction reply ct status dnat ip saddr 192.0.2.20 udp sport 9000 accept comment "bypassnat;name=game;ext=9000;role=reply"')
    $script:ProxyTable = (Get-ProxyTable) -join "`n"
}
AfterAll { Stop-BypassLab $script:Lab }

Describe 'native nftables tproxy (OpenClash on fw4)' {
    It 'the lab''s proxy captures LAN traffic, and the forward does not cross the double NAT yet' {
        Send-Outbound cli | Should -Be 'proxy tcp 203.0.113.10'
        Send-Forwarded tcp | Should -BeNullOrEmpty
    }

    It 'the apply exempts the replies first in the proxy''s prerouting chain; TCP and UDP forwards work; the proxy''s rules are untouched' {
        $run = Invoke-Apply @{ Backend = 'Nftables' }
        $run.Verbose | Should -Match 'Proxy on 192\.0\.2\.2: a transparent proxy captures LAN traffic: tproxy in nftables table\(s\) inet clash_tproxy'
        $run.Verbose | Should -Match 'proxy    exempt the forwards'' replies from the proxy''s nftables tproxy \(2 rule\(s\) first in inet clash_tproxy prerouting\)'
        $run.Result.Proxy | Should -Be 'nftables tproxy (inet clash_tproxy): replies exempted (first in prerouting)'
        $run.Warnings | Should -BeNullOrEmpty
        $table = Get-ProxyTable
        # Our two rules right after the chain's type line, in order, before the proxy's own.
        $at = [array]::FindIndex([string[]] $table, [Predicate[string]] { param($l) $l -match 'type filter hook prerouting' })
        @($table[($at + 1)..($at + 2)] | ForEach-Object { $_.Trim() }) | Should -Be $Expected
        Get-ProxyOwnLines | Should -Be $ProxyTable
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
    }

    It 'exempts only the forwards'' replies: the LAN''s own traffic, the device''s included, is still captured' {
        Send-Outbound cli | Should -Be 'proxy tcp 203.0.113.10'
        Send-Outbound dev | Should -Be 'proxy tcp 203.0.113.10'
    }

    It 'without BypassNat''s rules the forwards break and Test-BypassForward says Unexempted; the next apply repairs it' {
        Invoke-BypassShell @'
nft -a list chain inet clash_tproxy prerouting | sed -n 's/.*bypassnat;.* # handle \([0-9]*\)$/\1/p' | while read -r h; do nft delete rule inet clash_tproxy prerouting handle "$h"; done
'@
        Get-Exemption | Should -BeNullOrEmpty
        Send-Forwarded tcp | Should -BeNullOrEmpty
        Send-Forwarded udp | Should -BeNullOrEmpty
        $drift = Get-Drift
        $drift.Count | Should -Be 1
        $drift[0].Kind | Should -Be 'Unexempted'
        $drift[0].Detail | Should -Match 'nftables tproxy'

        $run = Invoke-Apply
        $run.Result.Changed | Should -BeTrue
        Get-Exemption | Should -Be $Expected
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
        Get-Drift | Should -BeNullOrEmpty
    }

    It 'works the same with the iptables backend' {
        $run = Invoke-Apply @{ Backend = 'Iptables' }
        $run.Result.MovedFrom | Should -Be 'Nftables'
        $run.Result.Proxy | Should -Be 'nftables tproxy (inet clash_tproxy): replies exempted (first in prerouting)'
        Get-Exemption | Should -Be $Expected
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        Send-Forwarded udp | Should -Match '^device udp 9000 peer 203\.0\.113\.10$'
    }

    It 'with -Persist the watcher puts the rules back first after the proxy restarts (its table recreated)' {
        $run = Invoke-Apply @{ Persist = $true }
        $run.Result.Persisted | Should -Be 'systemd'
        @(Invoke-LabRouter $Lab 'cat /etc/bypassnat/proxy-exemption.nft') | Should -Be ($Expected | ForEach-Object { "inet clash_tproxy prerouting $_" })
        $watcher = (Invoke-LabRouter $Lab "grep '^ExecStart=' /etc/systemd/system/bypassnat-watch.service") -replace '^ExecStart=', ''

        # The proxy restarting: its table deleted and made again as it was, without BypassNat's rules.
        Invoke-BypassShell "nft delete table inet clash_tproxy`nnft -f - <<'NFT'`n$ProxyTable`nNFT"
        Get-Exemption | Should -BeNullOrEmpty
        Send-Forwarded tcp | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab $watcher | Out-Null
        Get-Exemption | Should -Be $Expected
        Get-ProxyOwnLines | Should -Be $ProxyTable
        Send-Forwarded tcp | Should -Match '^device tcp 80 peer 203\.0\.113\.10$'
        # In place: the next tick and the next apply change nothing.
        $before = (Invoke-LabCommand $Lab byp 'nft -a list table inet clash_tproxy') -join "`n"
        Invoke-LabRouter $Lab $watcher | Out-Null
        (Invoke-LabCommand $Lab byp 'nft -a list table inet clash_tproxy') -join "`n" | Should -Be $before
        (Invoke-Apply).Result.Changed | Should -BeFalse
    }

    It 'Remove-BypassForward -All removes exactly BypassNat''s rules from the proxy''s table' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        (Get-ProxyTable) -join "`n" | Should -Be $ProxyTable
        Send-Outbound cli | Should -Be 'proxy tcp 203.0.113.10'
    }
}
