# The main router's half on OpenWrt: forwards as UCI `config redirect` sections that firewall4 renders
# and LuCI shows, written by the cmdlets with -Role Main (backend Uci, picked by Auto on OpenWrt) over
# Dropbear, with both routers built from OpenWrt's code. Needs `build.ps1 OpenWrtLab`;
# without its cache every test here is reported as skipped, with the reason.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:SkipReason = Get-OpenWrtLabSkipReason
    if ($SkipReason) { Write-Host "SKIPPED OpenWrtMainRouter.Tests.ps1: $SkipReason" -ForegroundColor Yellow }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
game,Udp,9000,192.0.2.2,192.0.2.20,
voip-hq,TcpUdp,9001-9002,192.0.2.2,192.0.2.20,
'@
    # web with a public address (firewall4's reflection), and game as it was.
    $script:ReflectedCsv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,PublicAddress
web,Tcp,8080,192.0.2.2,192.0.2.20,80,203.0.113.1
game,Udp,9000,192.0.2.2,192.0.2.20,,
'@

    # Applies $CsvText to the main router with the cmdlet, from the admin workstation; $Extra are more
    # parameters (-LanZone, -WhatIf, -Persist). Returns Output/Errors/Warnings as Invoke-AsAdmin does.
    function Invoke-MainApply([string] $CsvText, [hashtable] $Extra = @{}) {
        Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Extra = $Extra } {
            $ssh = $Lab.MainSsh; $extra = $Params.Extra
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
        }
    }

    # The main router's firewall config without BypassNat's sections: what the user owns.
    function Get-UserConfig { (Invoke-LabRouter $Lab -Main 'uci show firewall' | Where-Object { $_ -notmatch '^firewall\.bypassnat_' }) -join "`n" }
    # The port forwards firewall4 loaded (stateless: no counters), each named by its comment.
    function Get-Rendered { Invoke-LabRouter $Lab -Main 'nft -s list table inet fw4' | Where-Object { $_ -match 'dnat ip to .* comment "!fw4: ' } | ForEach-Object { $_.Trim() } }
}

Describe 'Main router on OpenWrt: BypassNat''s UCI redirects' -Skip:($null -ne $SkipReason) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Router openwrt -Main openwrt -Service 'tcp:80', 'udp:9000', 'udp:9001'
        $script:UserConfig = Get-UserConfig
        # The bypass hop, as in OpenWrt.Tests.ps1.
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } { $ssh = $Lab.Ssh; $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh }
        $run.Errors | Should -BeNullOrEmpty
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It 'ConvertTo-BypassRuleset -Format Uci is a batch uci takes and firewall4 renders' {
        $batch = $Csv | ConvertFrom-Csv | New-BypassForward | ConvertTo-BypassRuleset -Format Uci
        Set-Content (Join-Path $Lab.Dir 'forwards.uci') $batch
        # The lab's directory is hidden inside the router (its /tmp is private): the batch goes in on stdin.
        $pid_ = (Get-Content (Join-Path $Lab.Dir 'main_sshd.pid') -Raw).Trim()
        Get-Content (Join-Path $Lab.Dir 'forwards.uci') -Raw | & nsenter --target $pid_ --mount --net -- sh -c 'uci batch && fw4 reload' 2>&1 | Out-Null
        $LASTEXITCODE | Should -Be 0
        Invoke-LabRouter $Lab -Main 'uci get firewall.bypassnat_voip_2dhq.name' | Should -Be 'voip-hq'
        Get-Rendered | Where-Object { $_ -match 'udp dport 9001-9002 .*dnat ip to 192\.0\.2\.2:9001-9002 comment "!fw4: voip-hq"' } | Should -Not -BeNullOrEmpty
        Invoke-LabRouter $Lab -Main 'for s in bypassnat_web bypassnat_game bypassnat_voip_2dhq; do uci delete firewall.$s; done; uci commit firewall; fw4 reload' | Out-Null
        Get-UserConfig | Should -Be $UserConfig
    }

    It 'has the bug: a direct forward on the main router to the device times out' {
        Invoke-LabRouter $Lab -Main "uci batch <<'EOF'
set firewall.direct=redirect
set firewall.direct.target=DNAT
set firewall.direct.src=wan
set firewall.direct.dest=lan
set firewall.direct.proto=tcp
set firewall.direct.src_dport=8080
set firewall.direct.dest_ip=192.0.2.20
set firewall.direct.dest_port=80
commit firewall
EOF
fw4 reload" | Out-Null
        try {
            Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 -TimeoutSeconds 2 | Should -BeNullOrEmpty
        } finally {
            Invoke-LabRouter $Lab -Main 'uci delete firewall.direct; uci commit firewall; fw4 reload' | Out-Null
        }
    }

    It 'writes one named redirect per forward, which firewall4 renders, and packets cross both hops' {
        $run = Invoke-MainApply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeTrue
        $run.Output[0].Role | Should -Be 'Main'
        $run.Output[0].Backend | Should -Be 'Uci'
        @($run.Output[0].Added | Sort-Object) | Should -Be @('game', 'voip-hq', 'web')
        Invoke-LabRouter $Lab -Main 'uci show firewall.bypassnat_web' | Should -Be @(
            'firewall.bypassnat_web=redirect'
            "firewall.bypassnat_web.name='web'"
            "firewall.bypassnat_web.target='DNAT'"
            "firewall.bypassnat_web.src='wan'"
            "firewall.bypassnat_web.dest='lan'"
            "firewall.bypassnat_web.proto='tcp'"
            "firewall.bypassnat_web.src_dport='8080'"
            "firewall.bypassnat_web.dest_ip='192.0.2.2'"
            "firewall.bypassnat_web.dest_port='8080'"
            "firewall.bypassnat_web.reflection='0'"
            "firewall.bypassnat_web.enabled='1'")
        Get-Rendered | Where-Object { $_ -match 'tcp dport 8080 .*dnat ip to 192\.0\.2\.2:8080 comment "!fw4: web"' } | Should -Not -BeNullOrEmpty
        Invoke-LabRouter $Lab -Main 'uci changes' | Should -BeNullOrEmpty
        Get-UserConfig | Should -Be $UserConfig -Because 'the user''s own redirect and settings are untouched'
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Be 'device udp 9000 peer 203.0.113.10'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9001 | Should -Be 'device udp 9001 peer 203.0.113.10'
    }

    It 'Get-BypassForward reads the redirects back as forwards, and Test-BypassForward compares them' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.MainSsh
            Get-BypassForward @ssh | Sort-Object Name | ForEach-Object { "$($_.Name) $($_.Protocol) $($_.ExternalPort) $($_.BypassAddress):$($_.BypassPort) $($_.InternalAddress):$($_.InternalPort)" }
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh -Quiet
            $Params.Csv | ConvertFrom-Csv | Where-Object Name -ne 'game' | New-BypassForward | Test-BypassForward @ssh | ForEach-Object { "$($_.Kind) $($_.Name)" }
        }
        $run.Errors | Should -BeNullOrEmpty
        # The main router's "internal" side is the bypass router, as with the nftables main hop.
        $run.Output | Should -Be @(
            'game Udp 9000 192.0.2.2:9000 192.0.2.2:9000'
            'voip-hq TcpUdp 9001-9002 192.0.2.2:9001-9002 192.0.2.2:9001-9002'
            'web Tcp 8080 192.0.2.2:8080 192.0.2.2:8080'
            $true
            'Unexpected game')
    }

    It 'writes nothing when the router already holds the set' {
        $before = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall'
        $run = Invoke-MainApply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeFalse
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall' | Should -Be $before
    }

    It '-WhatIf shows the plan and changes nothing' {
        $before = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall'
        $run = Invoke-MainApply (($Csv -split "`n" | Where-Object { $_ -notmatch '^web,' }) -join "`n") @{ WhatIf = $true }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -BeNullOrEmpty
        ($run.Console -join "`n") | Should -Match 'remove +web'
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall' | Should -Be $before
    }

    It '-Persist: the UCI config is itself persistent, so nothing more is installed' {
        $before = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall'
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.MainSsh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist -Verbose 4>&1
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Warnings | Should -BeNullOrEmpty
        $result = $run.Output | Where-Object { $_.PSObject.Properties['Persisted'] }
        $result.Persisted | Should -Be 'uci'
        $result.Changed | Should -BeFalse
        $verbose = $run.Output | ForEach-Object { if ($_.PSObject.Properties.Name -contains 'Message') { $_.Message } else { "$_" } }
        $verbose -match 'UCI redirects in /etc/config/firewall, which is its persistent config' | Should -Not -BeNullOrEmpty
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall' | Should -Be $before
        Invoke-LabRouter $Lab -Main 'ls -d /etc/bypassnat-main 2>/dev/null; nft list tables' | Where-Object { $_ -match 'bypassnat' } | Should -BeNullOrEmpty
    }

    It 'removing a row removes its section, and only that' {
        $run = Invoke-MainApply (($Csv -split "`n" | Where-Object { $_ -notmatch '^game,' }) -join "`n")
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Removed | Should -Be @('game')
        Invoke-LabRouter $Lab -Main 'uci -q get firewall.bypassnat_game || echo gone' | Should -Be 'gone'
        Get-Rendered | Where-Object { $_ -match '!fw4: game"' } | Should -BeNullOrEmpty
        Get-Rendered | Where-Object { $_ -match '!fw4: web"' } | Should -Not -BeNullOrEmpty
        Get-UserConfig | Should -Be $UserConfig
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
    }

    It 'a change firewall4 does not take is rolled back: the previous config is restored and loaded' {
        $config = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall'
        $rendered = Get-Rendered
        $run = Invoke-MainApply $Csv @{ LanZone = 'nosuchzone' }
        $run.Output | Should -BeNullOrEmpty
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.FirewallRefused'
        $run.Errors[0].Message | Should -Match 'firewall4 did not render the redirect\(s\) web game voip-hq'
        $run.Errors[0].Message | Should -Match 'rolled back: the previous firewall config is restored and loaded\. It keeps the forwards it had\.'
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall' | Should -Be $config
        Invoke-LabRouter $Lab -Main 'uci changes' | Should -BeNullOrEmpty
        Get-Rendered | Should -Be $rendered
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
    }

    It 'refuses, changing nothing, while the firewall config has someone else''s uncommitted changes' {
        Invoke-LabRouter $Lab -Main 'uci set firewall.wan.mtu_fix=0' | Out-Null
        try {
            $config = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall'
            $run = Invoke-MainApply $Csv
            $run.Output | Should -BeNullOrEmpty
            $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.UncommittedChanges'
            $run.Errors[0].Message | Should -Match 'was not changed: .*uncommitted changes.* It keeps the forwards it had\.'
            Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall' | Should -Be $config
            Invoke-LabRouter $Lab -Main 'uci changes firewall' | Should -Be "firewall.wan.mtu_fix='0'"
        } finally {
            Invoke-LabRouter $Lab -Main 'uci revert firewall' | Out-Null
        }
    }

    It 'a forward with a public address gets firewall4''s NAT reflection: the main router''s LAN clients reach it at that address' {
        $run = Invoke-MainApply $ReflectedCsv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Modified | Should -Be @('web')
        $run.Output[0].Removed | Should -Be @('voip-hq')
        $run.Output[0].PublicAddress | Should -Be '203.0.113.1'
        Invoke-LabRouter $Lab -Main 'uci get firewall.bypassnat_web.reflection' | Should -Be '1'
        Get-Rendered | Where-Object { $_ -match 'ip daddr 203\.0\.113\.1 tcp dport 8080 dnat ip to 192\.0\.2\.2:8080 comment "!fw4: web \(reflection\)"' } | Should -Not -BeNullOrEmpty
        # A LAN client whose gateway is the main router (the lab's client uses the bypass router).
        Invoke-LabCommand $Lab cli 'ip route replace default via 192.0.2.1' | Out-Null
        try {
            # Reflected by the main router to the bypass router, which source-NATs a client on the device's LAN.
            Send-LabRequest $Lab -From cli -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 192.0.2.2'
        } finally {
            Invoke-LabCommand $Lab cli 'ip route replace default via 192.0.2.2' | Out-Null
        }
        Get-UserConfig | Should -Be $UserConfig
    }

    It 'Remove-BypassForward -Name removes that forward''s section, and only that' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $ReflectedCsv } {
            $ssh = $Lab.MainSsh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Test-BypassForward @ssh -Quiet
            Remove-BypassForward @ssh -Name game -Confirm:$false -PassThru | ForEach-Object Name
            Get-BypassForward @ssh | ForEach-Object { "$($_.Name) $($_.PublicAddress)" }
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @($true, 'game', 'web 203.0.113.1')
        Invoke-LabRouter $Lab -Main 'uci -q get firewall.bypassnat_game || echo gone' | Should -Be 'gone'
        Invoke-LabRouter $Lab -Main 'uci get firewall.bypassnat_web.reflection' | Should -Be '1'
        Get-Rendered | Where-Object { $_ -match '!fw4: game"' } | Should -BeNullOrEmpty
        Get-UserConfig | Should -Be $UserConfig
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 203.0.113.10'
    }

    It 'Remove-BypassForward -All removes every BypassNat section and leaves the user''s config as it was' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.MainSsh; Remove-BypassForward @ssh -All -Confirm:$false -PassThru | ForEach-Object Name }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output | Should -Be @('web')
        Invoke-LabRouter $Lab -Main 'uci show firewall' | Where-Object { $_ -match 'bypassnat' } | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab -Main 'uci changes' | Should -BeNullOrEmpty
        Get-UserConfig | Should -Be $UserConfig
        Get-Rendered | Where-Object { $_ -notmatch '!fw4: users own ssh' } | Should -BeNullOrEmpty
    }
}
