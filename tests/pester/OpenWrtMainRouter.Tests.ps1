# The main router's half on OpenWrt: forwards as UCI `config redirect` sections that firewall4 renders
# and LuCI shows, written by BypassNat's UCI core (BypassNat.Uci.UciRedirectApplier, which -Role Main
# will call) over Dropbear, with both routers built from OpenWrt's code. Needs `build.ps1 OpenWrtLab`;
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

    # Drives the UCI core on the main router from the admin workstation: $Params.Csv (forwards) and
    # $Params.Zone (the LAN zone) in, the result or the error out.
    function Invoke-MainApply([string] $CsvText, [string] $Zone = 'lan') {
        Invoke-AsAdmin $Lab -Params @{ Csv = $CsvText; Zone = $Zone } {
            $settings = [BypassNat.Ssh.SshSettings]::new()
            $settings.ComputerName = $Lab.MainSsh.ComputerName
            $settings.KeyFile = $Lab.MainSsh.KeyFile
            $settings.KnownHostsFile = $Lab.MainSsh.KnownHostsFile
            $forwards = [BypassNat.BypassForward[]]@($Params.Csv | ConvertFrom-Csv | New-BypassForward)
            $session = [BypassNat.Ssh.RouterSession]::Open($settings)
            try {
                $applier = [BypassNat.Uci.UciRedirectApplier]::new($session)
                try { $applier.Apply($forwards, 'wan', $Params.Zone) }
                catch { [pscustomobject]@{ ErrorId = $_.Exception.InnerException.ErrorId; Message = $_.Exception.InnerException.Message } }
            } finally { $session.Dispose() }
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
        $run.Output[0].Added | Should -Be @('web', 'game', 'voip-hq')
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

    It 'writes nothing when the router already holds the set' {
        $before = Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall'
        $run = Invoke-MainApply $Csv
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Changed | Should -BeFalse
        Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall; stat -c %Y.%i /etc/config/firewall' | Should -Be $before
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
        $run = Invoke-MainApply $Csv -Zone 'nosuchzone'
        $run.Output[0].ErrorId | Should -Be 'BypassNat.FirewallRefused'
        $run.Output[0].Message | Should -Match 'firewall4 did not render the redirect\(s\) web game voip-hq'
        $run.Output[0].Message | Should -Match 'rolled back: the previous firewall config is restored and loaded\. It keeps the forwards it had\.'
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
            $run.Output[0].ErrorId | Should -Be 'BypassNat.UncommittedChanges'
            $run.Output[0].Message | Should -Match 'was not changed: .*uncommitted changes.* It keeps the forwards it had\.'
            Invoke-LabRouter $Lab -Main 'cat /etc/config/firewall' | Should -Be $config
            Invoke-LabRouter $Lab -Main 'uci changes firewall' | Should -Be "firewall.wan.mtu_fix='0'"
        } finally {
            Invoke-LabRouter $Lab -Main 'uci revert firewall' | Out-Null
        }
    }

    It 'a forward with a public address gets firewall4''s NAT reflection: the main router''s LAN clients reach it at that address' {
        $run = Invoke-MainApply "Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort,PublicAddress`nweb,Tcp,8080,192.0.2.2,192.0.2.20,80,203.0.113.1"
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Modified | Should -Be @('web')
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

    It 'an empty set removes every BypassNat section and leaves the user''s config as it was' {
        $run = Invoke-MainApply 'Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort'
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Removed | Should -Be @('web')
        Invoke-LabRouter $Lab -Main 'uci show firewall' | Where-Object { $_ -match 'bypassnat' } | Should -BeNullOrEmpty
        Get-UserConfig | Should -Be $UserConfig
        Get-Rendered | Where-Object { $_ -notmatch '!fw4: users own ssh' } | Should -BeNullOrEmpty
    }
}
