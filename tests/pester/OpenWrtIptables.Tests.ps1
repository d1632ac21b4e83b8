# The bypass hop on OpenWrt with the iptables backend, as on OpenWrt 21.02 and older (fw3) or with
# iptables-nft on firewall4: -Persist hooks the restore script into the firewall as a script include.
# Needs `build.ps1 OpenWrtLab`; without its cache every test here is reported as skipped, with the reason.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:SkipReason = Get-OpenWrtLabSkipReason
    if ($SkipReason) { Write-Host "SKIPPED OpenWrtIptables.Tests.ps1: $SkipReason" -ForegroundColor Yellow }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
'@
}

Describe 'Bypass router on OpenWrt with the iptables backend (as on fw3, or iptables-nft on fw4)' -Skip:($null -ne $SkipReason) {
    BeforeAll {
        $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Router openwrt -Service 'tcp:80' -CommandOptions @{ Backend = 'Iptables' }
        Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)
    }
    AfterAll { Stop-BypassLab $script:Lab }

    It '-Persist hooks the restore script into the firewall, which runs it at every start, even after fw4 flush' {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv } {
            $ssh = $Lab.Ssh
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh -Persist
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output[0].Backend | Should -Be 'Iptables'
        $run.Output[0].Persisted | Should -Be 'openwrt'
        Invoke-LabRouter $Lab 'uci show firewall.bypassnat' | Should -Be @(
            'firewall.bypassnat=include'
            "firewall.bypassnat.type='script'"
            "firewall.bypassnat.path='/etc/bypassnat/restore.sh'"
            "firewall.bypassnat.fw4_compatible='1'")
        Invoke-LabRouter $Lab 'fw4 flush; /etc/init.d/firewall start' | Out-Null
        Invoke-LabRouter $Lab 'iptables -t nat -S PREROUTING' | Should -Contain '-A PREROUTING -j BYPASSNAT_PREROUTING'
        # The device sees the bypass router here, not the client: the lan zone's masquerade is firewall4's
        # own (native nft), which an iptables ACCEPT cannot stop. The nftables backend keeps the client's.
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 192.0.2.2'
        Invoke-LabRouter $Lab 'fw4 reload' | Out-Null
        @(Invoke-LabRouter $Lab 'iptables -t nat -S PREROUTING' | Where-Object { $_ -eq '-A PREROUTING -j BYPASSNAT_PREROUTING' }).Count | Should -Be 1 -Because 'a reload adds no second jump'
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -Be 'device tcp 80 peer 192.0.2.2'
    }

    It 'Remove-BypassForward -All leaves nothing behind' {
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        Invoke-LabRouter $Lab 'uci -q get firewall.bypassnat || echo no-include' | Should -Be 'no-include'
        Invoke-LabRouter $Lab '[ -e /etc/bypassnat ] || [ -e /etc/crontabs ] || echo nothing' | Should -Be 'nothing'
        Invoke-LabRouter $Lab 'iptables-save -t nat' | Where-Object { $_ -match 'BYPASSNAT' } | Should -BeNullOrEmpty
    }
}
