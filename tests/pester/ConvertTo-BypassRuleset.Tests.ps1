# ConvertTo-BypassRuleset renders without connecting; the kernel must accept every format.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Forwards = @'
Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,SourceNat,Comment
web,Tcp,8080,192.0.2.2,,192.0.2.20,80,,NAS web UI
web-alt,Tcp,8081,192.0.2.2,,192.0.2.20,80,,the same device port again
game,Udp,9000,192.0.2.2,,192.0.2.20,,,
voip,TcpUdp,9001-9003,192.0.2.2,19001-19003,192.0.2.20,9001-9003,,
far,Tcp,2222,192.0.2.2,,198.51.100.7,22,true,"it's outside, ""quoted"""
'@ | ConvertFrom-Csv | New-BypassForward
    # A scratch network namespace: the kernel checks the rules there, and nothing else is touched.
    $script:Scratch = 'bn' + [guid]::NewGuid().ToString('N').Substring(0, 6) + '-scratch'
    & ip netns add $Scratch
    function Invoke-Scratch([string] $Tool, [string[]] $Arguments, [string] $InputText) {
        $output = $InputText | & ip netns exec $Scratch $Tool @Arguments 2>&1
        [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = ($output | Out-String) }
    }
}

AfterAll {
    & ip netns del $script:Scratch 2>$null
}

Describe 'ConvertTo-BypassRuleset' {
    It 'renders an nft file the kernel accepts (nft -c -f)' {
        $text = $Forwards | ConvertTo-BypassRuleset -Format Nftables -LanPrefix 192.0.2.0/24
        $text | Should -Match '(?m)^table ip bypassnat \{$'
        $text | Should -Match 'tcp \. 192\.0\.2\.2 \. 19002 comment "bypassnat;name=voip;ext=9001-9003" : 192\.0\.2\.20 \. 9002'
        $check = Invoke-Scratch nft @('-c', '-f', '-') $text
        $check.Output | Should -BeNullOrEmpty
        $check.ExitCode | Should -Be 0
    }

    It 'renders an iptables-restore transaction the kernel accepts (iptables-restore --test)' {
        $text = $Forwards | ConvertTo-BypassRuleset -Format IptablesRestore -LanPrefix 192.0.2.0/24
        $text | Should -Match '(?m)^-I PREROUTING 1 -j BYPASSNAT_PREROUTING$'
        $check = Invoke-Scratch iptables-restore @('--noflush', '--test') $text
        $check.Output | Should -BeNullOrEmpty
        $check.ExitCode | Should -Be 0
    }

    It 'renders plain shell commands that build the same rules, and can be run twice' {
        $text = $Forwards | ConvertTo-BypassRuleset -Format Shell
        $text | Should -Match "(?m)^iptables -t nat -A BYPASSNAT_PREROUTING .*--comment 'bypassnat;name=web;ext=8080;note=NAS%20web%20UI' -j DNAT --to-destination 192\.0\.2\.20:80$"
        foreach ($i in 1..2) { (Invoke-Scratch sh @('-s') $text).ExitCode | Should -Be 0 }
        $saved = (Invoke-Scratch iptables-save @('-t', 'nat') '').Output
        ([regex]::Matches($saved, '(?m)^-A BYPASSNAT_PREROUTING ')).Count | Should -Be 6
        ([regex]::Matches($saved, '(?m)^-A PREROUTING -j BYPASSNAT_PREROUTING$')).Count | Should -Be 1
        $saved | Should -Match '-j SNAT --to-source 192\.0\.2\.2'
    }

    It 'renders the main router''s half in each format, which the kernel accepts (-Role Main)' {
        $nft = $Forwards | ConvertTo-BypassRuleset -Role Main -WanInterface wan0 -LanPrefix 192.0.2.0/24 -Format Nftables
        $nft | Should -Match '(?m)^table ip bypassnat_main \{$'
        $nft | Should -Match 'iifname "wan0" fib daddr type local'
        $nft | Should -Match 'tcp \. 9002 comment "bypassnat;name=voip;ext=9001-9003" : 192\.0\.2\.2 \. 19002'
        (Invoke-Scratch nft @('-c', '-f', '-') $nft).ExitCode | Should -Be 0
        $restore = $Forwards | ConvertTo-BypassRuleset -Role Main -WanInterface wan0 -Format IptablesRestore
        $restore | Should -Match '(?m)^-A BYPASSNAT_MAIN_PREROUTING -i wan0 -m addrtype --dst-type LOCAL -p udp -m udp --dport 9001:9003 .* -j DNAT --to-destination 192\.0\.2\.2:19001-19003/9001$'
        $check = Invoke-Scratch iptables-restore @('--noflush', '--test') $restore
        $check.Output | Should -BeNullOrEmpty
        $check.ExitCode | Should -Be 0
        $shell = $Forwards | ConvertTo-BypassRuleset -Role Main -WanInterface wan0 -Format Shell
        foreach ($i in 1..2) { (Invoke-Scratch sh @('-s') $shell).ExitCode | Should -Be 0 }
        $saved = (Invoke-Scratch iptables-save @('-t', 'nat') '').Output
        ([regex]::Matches($saved, '(?m)^-A BYPASSNAT_MAIN_PREROUTING -i wan0 ')).Count | Should -Be 6
        ([regex]::Matches($saved, '(?m)^-A PREROUTING -j BYPASSNAT_MAIN_PREROUTING$')).Count | Should -Be 1
        # -Format Uci is the main router's half whichever role: a uci batch, never iptables commands.
        $uci = $Forwards | ConvertTo-BypassRuleset -Role Main -WanInterface wan0 -Format Uci
        $uci | Should -BeExactly ($Forwards | ConvertTo-BypassRuleset -Format Uci)
        $uci | Should -Match "(?m)^set firewall\.bypassnat_web\.dest_ip='192\.0\.2\.2'$"
        $uci | Should -Not -Match 'iptables'
    }

    It 'needs the WAN interface for the main router''s half, and only there' {
        { $Forwards | ConvertTo-BypassRuleset -Role Main -ErrorAction Stop } | Should -Throw '*-WanInterface*'
        { $Forwards | ConvertTo-BypassRuleset -WanInterface wan0 -ErrorAction Stop } | Should -Throw '*-Role Main*'
        { $Forwards | ConvertTo-BypassRuleset -Role Main -WanInterface 'wan0" accept' -ErrorAction Stop } | Should -Throw '*not a network interface name*'
    }

    It 'reads -LanPrefix as strictly as AllowedSource, an address alone as /32, and says why it refuses one' {
        # The device's own address as its LAN: its reflection rules appear, as for the /32 written out.
        $one = $Forwards | ConvertTo-BypassRuleset -Format Nftables -LanPrefix 192.0.2.20
        $one | Should -Match '192\.0\.2\.20/32'
        $one | Should -BeExactly ($Forwards | ConvertTo-BypassRuleset -Format Nftables -LanPrefix 192.0.2.20/32)
        $interface = $Forwards | ConvertTo-BypassRuleset -Format Nftables -LanPrefix 192.0.2.9/24
        $interface | Should -BeExactly ($Forwards | ConvertTo-BypassRuleset -Format Nftables -LanPrefix 192.0.2.0/24)
        $failure = { $Forwards | ConvertTo-BypassRuleset -LanPrefix 192.0.2.010/24 -ErrorAction Stop } | Should -Throw -PassThru -ErrorId 'BypassNat.InvalidLanPrefix*'
        $failure.Exception.Message | Should -BeLike "*'192.0.2.010/24'*leading zero*"
        { $Forwards | ConvertTo-BypassRuleset -LanPrefix 10.1/16 -ErrorAction Stop } | Should -Throw '*four numbers 0-255*'
    }

    It 'stores a 39-character Chinese comment (and 40 emoji) in rules both kernels accept, with the longest name' {
        $name = 'n' * 32
        $wide = @(
            New-BypassForward -Name $name -Protocol TcpUdp -ExternalPort 60000-60002 -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.20 -PublicAddress 203.0.113.1 -Comment '家里的NAS服务器：照片和文件同步，还有每天晚上的备份任务都在这里运行，谢谢！'
            New-BypassForward -Name emoji -ExternalPort 8443 -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.21 -Comment ('🎉' * 40)
        )
        $nft = $wide | ConvertTo-BypassRuleset -Format Nftables -LanPrefix 192.0.2.0/24
        (Invoke-Scratch nft @('-c', '-f', '-') $nft).ExitCode | Should -Be 0
        $iptables = $wide | ConvertTo-BypassRuleset -Format IptablesRestore -LanPrefix 192.0.2.0/24
        $check = Invoke-Scratch iptables-restore @('--noflush', '--test') $iptables
        $check.Output | Should -BeNullOrEmpty
        $check.ExitCode | Should -Be 0
        # The main router's half keeps the notes apart as well, so the same comments fit there.
        $mainNft = $wide | ConvertTo-BypassRuleset -Role Main -WanInterface wan0 -LanPrefix 192.0.2.0/24 -Format Nftables
        (Invoke-Scratch nft @('-c', '-f', '-') $mainNft).ExitCode | Should -Be 0
        $mainRestore = $wide | ConvertTo-BypassRuleset -Role Main -WanInterface wan0 -Format IptablesRestore
        $mainCheck = Invoke-Scratch iptables-restore @('--noflush', '--test') $mainRestore
        $mainCheck.Output | Should -BeNullOrEmpty
        $mainCheck.ExitCode | Should -Be 0
    }

    It 'refuses a set with duplicate names, naming the item' {
        $dup = @($Forwards[0], $Forwards[0])
        { $dup | ConvertTo-BypassRuleset -ErrorAction Stop } | Should -Throw "*Row 2: Name 'web'*"
    }
}
