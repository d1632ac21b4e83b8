# The bypass hop on an OpenWrt router built from OpenWrt's own firewall4, uci and ucode, reached over
# Dropbear with BusyBox ash as the shell (tests/lab/openwrt.sh). Needs the cache that
# `build.ps1 OpenWrtLab` builds; without it every test here is reported as skipped, with the reason.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:SkipReason = Get-OpenWrtLabSkipReason
    if ($SkipReason) { Write-Host "SKIPPED OpenWrt.Tests.ps1: $SkipReason" -ForegroundColor Yellow }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    $script:CronLine = '* * * * * /bin/sh /etc/bypassnat/restore.sh --if-missing'

    # The forwards' table as the kernel holds it (stateless: no counters), to compare before and after.
    function Get-ForwardTable { (Invoke-LabRouter $Lab 'nft -s list table ip bypassnat 2>/dev/null || true') -join "`n" }

    # The proxy (OpenClash-like) sets its own nft table up again, as it does after a firewall restart.
    function Start-Proxy {
        Invoke-LabRouter $Lab 'nft delete table inet clash 2>/dev/null; nft -f - <<EOF
table inet clash {
	chain prerouting { type nat hook prerouting priority dstnat; policy accept; ip daddr { 127.0.0.0/8, 192.0.2.0/24 } return; meta l4proto tcp redirect to :7892; }
	chain postrouting { type nat hook postrouting priority srcnat; policy accept; oifname "lan0" masquerade; }
	chain forward { type filter hook forward priority filter; policy accept; ct state invalid drop; }
}
EOF' | Out-Null
    }

    function Assert-ForwardsBack([string] $Because) {
        @(Invoke-LabRouter $Lab 'nft list tables' | Where-Object { $_ -eq 'table ip bypassnat' }).Count | Should -Be 1 -Because $Because
        Get-ForwardTable | Should -Be $script:Baseline -Because "$Because, with no rule or element twice"
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10' -Because $Because
    }
}

Describe 'Bypass router on OpenWrt (firewall4, Dropbear, BusyBox ash)' -Skip:($null -ne $SkipReason) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Router openwrt -Service 'tcp:80', 'udp:9000', 'tcp:443'
        $script:Forwards = $Csv | ConvertFrom-Csv | New-BypassForward
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'is an OpenWrt router as users have it' {
        Invoke-LabRouter $Lab '. /etc/openwrt_release; echo $DISTRIB_ID' | Should -Be 'OpenWrt'
        Invoke-LabRouter $Lab 'grep ^root: /etc/passwd' | Should -Match ':/bin/ash$'
        Invoke-LabRouter $Lab 'command -v bash || echo no-bash' | Should -Be 'no-bash'
        Invoke-LabRouter $Lab 'readlink /bin/sh' | Should -Match 'busybox$'
        Invoke-LabRouter $Lab 'readlink $(command -v awk)' | Should -Match 'busybox$'
        Invoke-LabRouter $Lab '[ -d /run/systemd/system ] || [ -x /usr/bin/systemctl ] || echo no-systemd' | Should -Be 'no-systemd'
        Invoke-LabRouter $Lab '[ -e /etc/crontabs ] || echo no-crontabs' | Should -Be 'no-crontabs'
        Invoke-LabRouter $Lab '/etc/init.d/cron enabled || echo cron-disabled' | Should -Be 'cron-disabled'
        Invoke-LabRouter $Lab 'fw4 check' | Should -Be 'Ruleset passes nftables check.'
        Invoke-LabRouter $Lab 'nft list tables' | Sort-Object | Should -Be @('table inet clash', 'table inet fw4')
        Invoke-LabCommand $Lab byp 'ss -ltnp' | Where-Object { $_ -match '192\.0\.2\.2:22 ' } | Should -Match 'dropbear'
    }

    It 'has the bug: the main router''s direct forward times out' {
        Set-MainRouterForward $Lab -Forward $Forwards -Direct
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty
        Set-MainRouterForward $Lab -Forward $Forwards
    }

    It 'applies, reads and tests the forwards over Dropbear, in ash, with nftables' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh
            Get-BypassForward @ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh -Quiet
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Backend | Should -Be 'Nftables'
        $run.Output[0].Added | Should -Be @('web', 'game')
        $run.Output[0].Persisted | Should -BeNullOrEmpty
        @($run.Output[1..2] | ForEach-Object Name | Sort-Object) | Should -Be @('game', 'web')
        $run.Output[3] | Should -BeTrue
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Be 'device udp 9000 peer 203.0.113.10'
    }

    It '-Persist on a default image creates the crontab, enables cron, adds the firewall include, and says so' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Persisted | Should -Be 'openwrt'
        $run.Warnings | Should -Contain 'created /etc/crontabs/root for the watcher (a default OpenWrt image has none)'
        $run.Warnings | Where-Object { $_ -like 'enabled the cron service (/etc/init.d/cron enable)*' } | Should -Not -BeNullOrEmpty
        Invoke-LabRouter $Lab 'uci show firewall.bypassnat' | Should -Be @(
            'firewall.bypassnat=include'
            "firewall.bypassnat.type='nftables'"
            "firewall.bypassnat.path='/etc/bypassnat/ruleset.nft'"
            "firewall.bypassnat.position='ruleset-append'")
        @(Invoke-LabRouter $Lab 'cat /etc/crontabs/root') | Should -Be @($CronLine)
        Invoke-LabRouter $Lab '/etc/init.d/cron enabled && kill -0 $(cat /var/run/crond.pid) && echo running' | Should -Be 'running'
        Invoke-LabRouter $Lab 'uci changes' | Should -BeNullOrEmpty
        $script:Baseline = Get-ForwardTable
        $Baseline | Should -Match 'dnat ip to'
    }

    It 'puts the forwards back after <Command>, with no duplicates' -ForEach @(
        @{ Command = 'fw4 reload' }
        @{ Command = 'fw4 restart' }
        @{ Command = '/etc/init.d/firewall reload' }
        @{ Command = '/etc/init.d/firewall restart' }
        @{ Command = 'fw4 stop; fw4 start' }
        @{ Command = 'nft delete table ip bypassnat; fw4 reload' }
    ) {
        Invoke-LabRouter $Lab $Command | Out-Null
        Assert-ForwardsBack "after $Command"
    }

    It 'keeps them when the proxy replaces its own table, and after OpenClash''s restart (fw4 flush, then start)' {
        Start-Proxy
        Assert-ForwardsBack 'after the proxy replaced its table'
        Invoke-LabRouter $Lab 'fw4 flush' | Out-Null
        Invoke-LabRouter $Lab 'nft list tables' | Should -BeNullOrEmpty -Because 'fw4 flush deletes every table'
        Invoke-LabRouter $Lab '/etc/init.d/firewall start' | Out-Null
        Start-Proxy
        Assert-ForwardsBack 'after fw4 flush and a firewall start'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Be 'device udp 9000 peer 203.0.113.10'
    }

    It 'comes back at boot: an empty kernel ruleset, then the firewall''s boot start' {
        Invoke-LabRouter $Lab 'nft flush ruleset; rm -f /var/run/fw4.state /var/run/fw4.lock' | Out-Null
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 1 | Should -Not -Match '^device'
        Invoke-LabRouter $Lab '/etc/init.d/firewall boot' | Out-Null
        Start-Proxy
        Assert-ForwardsBack 'after boot'
    }

    It 'the cron watcher puts them back after a flush that bypasses the firewall, and changes nothing otherwise' {
        $watch = (Invoke-LabRouter $Lab 'cat /etc/crontabs/root') -replace '^\* \* \* \* \* ', ''
        Invoke-LabRouter $Lab 'nft delete table ip bypassnat' | Out-Null
        Invoke-LabRouter $Lab $watch | Out-Null
        Assert-ForwardsBack 'after the watcher ran'
        $handles = Invoke-LabRouter $Lab 'nft -a list table ip bypassnat | grep -c handle'
        Invoke-LabRouter $Lab $watch | Out-Null
        Invoke-LabRouter $Lab 'nft -a list table ip bypassnat | grep -c handle' | Should -Be $handles -Because 'a table that is there is left alone'
    }

    It 'a second -Persist changes nothing and adds no second cron line' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Warnings | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeFalse
        @(Invoke-LabRouter $Lab 'cat /etc/crontabs/root') | Should -Be @($CronLine)
        @(Invoke-LabRouter $Lab 'uci show firewall' | Where-Object { $_ -match '=include$' }).Count | Should -Be 1
    }

    It 'a failing -Persist applies nothing, puts the saved set back, commits nobody''s changes, and says so' {
        # Someone's uncommitted change to the firewall config: committing ours would commit it too.
        Invoke-LabRouter $Lab 'uci set firewall.lan.mtu_fix=1' | Out-Null
        try {
            $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv + "`nadmin,Tcp,8443,192.0.2.2,192.0.2.20,443" } {
                $ssh = $Lab.Ssh
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist
            }
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.RouterCommandFailed,*'
            $run.Errors[0].Message | Should -Match 'uncommitted changes \(uci changes firewall\)'
            $run.Errors[0].Message | Should -Match 'No forwards were applied: the router keeps the forwards it had\. Its saved set \(from an earlier -Persist\) was put back to them\.'
            # ... and that is what the router holds: the old forwards, the old saved set, the user's change still pending.
            Get-ForwardTable | Should -Be $Baseline
            Invoke-LabRouter $Lab 'cat /etc/bypassnat/ruleset.nft' | Where-Object { $_ -match 'name=admin' } | Should -BeNullOrEmpty
            Invoke-LabRouter $Lab 'uci changes firewall' | Should -Be "firewall.lan.mtu_fix='1'"
            Invoke-LabRouter $Lab 'grep -c mtu_fix /etc/config/firewall || true' | Should -Be '0'
            Invoke-LabRouter $Lab 'fw4 reload' | Out-Null
            Assert-ForwardsBack 'after a reload following the failed -Persist'
        } finally {
            Invoke-LabRouter $Lab 'uci revert firewall' | Out-Null
        }
    }

    It 'Remove-BypassForward -All refuses, removing nothing, while the firewall config has uncommitted changes' {
        Invoke-LabRouter $Lab 'uci set firewall.lan.mtu_fix=1' | Out-Null
        try {
            $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.UncommittedChanges,*'
            $run.Errors[0].Message | Should -Match 'Nothing was removed: the router keeps its forwards and what -Persist installed\.'
            Get-ForwardTable | Should -Be $Baseline
            Invoke-LabRouter $Lab 'uci -q get firewall.bypassnat' | Should -Be 'include'
            Invoke-LabRouter $Lab 'cat /etc/crontabs/root' | Should -Be $CronLine
            Invoke-LabRouter $Lab 'uci changes firewall' | Should -Be "firewall.lan.mtu_fix='1'"
        } finally {
            Invoke-LabRouter $Lab 'uci revert firewall' | Out-Null
        }
    }

    It 'Remove-BypassForward -All leaves nothing behind: no table, no include, no cron line, no files' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab 'uci -q get firewall.bypassnat || echo no-include' | Should -Be 'no-include'
        Invoke-LabRouter $Lab '[ -e /etc/bypassnat ] || echo no-files' | Should -Be 'no-files'
        Invoke-LabRouter $Lab '[ -e /etc/crontabs ] || echo no-crontabs' | Should -Be 'no-crontabs' -Because '-Persist created it, and nothing else uses it'
        Invoke-LabRouter $Lab '/etc/init.d/cron enabled || echo cron-disabled' | Should -Be 'cron-disabled' -Because '-Persist enabled it'
        Invoke-LabRouter $Lab '[ -f /var/run/crond.pid ] || echo cron-stopped' | Should -Be 'cron-stopped'
        Invoke-LabRouter $Lab 'fw4 reload' | Out-Null
        Invoke-LabRouter $Lab 'nft list tables' | Should -Not -Contain 'table ip bypassnat'
        Invoke-LabRouter $Lab 'fw4 print' | Where-Object { $_ -match 'bypassnat' } | Should -BeNullOrEmpty
    }

    It 'a -Persist that fails on a router without forwards says it applied nothing and left nothing' {
        # /etc/crontabs is a file here, so the watcher's crontab cannot be made.
        Invoke-LabRouter $Lab 'touch /etc/crontabs' | Out-Null
        try {
            $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
                $ssh = $Lab.Ssh
                $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist
            }
            $run.Errors.Count | Should -Be 1
            $run.Errors[0].Message | Should -Match '/etc/crontabs'
            $run.Errors[0].Message | Should -Match 'No forwards were applied: the router holds none, as before\. Nothing of -Persist was left on it\.'
            Invoke-LabRouter $Lab 'nft list tables' | Should -Not -Contain 'table ip bypassnat'
            Invoke-LabRouter $Lab 'uci -q get firewall.bypassnat || echo no-include' | Should -Be 'no-include'
            Invoke-LabRouter $Lab '[ -e /etc/bypassnat ] || echo no-files' | Should -Be 'no-files'
            Invoke-LabRouter $Lab '/etc/init.d/cron enabled || echo cron-disabled' | Should -Be 'cron-disabled'
        } finally {
            Invoke-LabRouter $Lab 'rm -f /etc/crontabs' | Out-Null
        }
    }

    It 'without the conntrack tool, the warning names the package to install (<Installer>)' -ForEach @(
        @{ Installer = 'opkg'; Package = 'opkg install conntrack'; Csv = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort`nweb,Tcp,8080,192.0.2.2,192.0.2.20,80" }
        @{ Installer = 'apk'; Package = 'apk add conntrack-tools'; Csv = "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort`nweb,Tcp,8080,192.0.2.2,192.0.2.20,80`ngame,Udp,9000,192.0.2.2,192.0.2.20," }
    ) {
        # A default image has no conntrack; OpenWrt 24.10 and later install packages with apk.
        # (Deleting inside the router only whites the files out in the lab's overlay.)
        Invoke-LabRouter $Lab 'rm -f /usr/sbin/conntrack' | Out-Null
        if ($Installer -eq 'apk') { Invoke-LabRouter $Lab 'ln -sf /bin/true /usr/sbin/apk' | Out-Null }
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Warnings | Should -Contain "conntrack is not installed on the router ($Package), so flows that started before this change keep their old path until they expire"
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
    }
}
