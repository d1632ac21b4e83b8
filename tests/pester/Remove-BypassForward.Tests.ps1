# Remove-BypassForward takes named forwards off the router, or with -All every trace of BypassNat.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat') -Service 'tcp:80', 'tcp:81', 'udp:9000'
    $script:Csv = @'
Name,Protocol,ExternalPort,BypassAddress,InternalAddress,InternalPort
web,Tcp,8080,192.0.2.2,192.0.2.20,80
web-alt,Tcp,8081,192.0.2.2,192.0.2.20,81
game,Udp,9000,192.0.2.2,192.0.2.20,
'@
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    Set-MainRouterForward $Lab -Forward ($Csv | ConvertFrom-Csv | New-BypassForward)

    function Set-Forwards([hashtable] $Extra = @{}) {
        $run = Invoke-AsAdmin $Lab -Params @{ Csv = $Csv; Extra = $Extra } {
            $ssh = $Lab.Ssh; $extra = $Params.Extra
            $Params.Csv | ConvertFrom-Csv | New-BypassForward | Invoke-BypassForwardApply @ssh @extra
        }
        if ($run.Errors) { throw "Applying failed: $($run.Errors.Message)" }
    }

    function Get-Names { (Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; (Get-BypassForward @ssh).Name }).Output | Sort-Object }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Remove-BypassForward' {
    It 'removes the forwards matching a wildcard and leaves the others working' {
        Set-Forwards
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward 'web*' @ssh -Confirm:$false -PassThru | ForEach-Object Name }
        $run.Errors | Should -BeNullOrEmpty
        @($run.Output) | Sort-Object | Should -Be @('web', 'web-alt')
        Get-Names | Should -Be @('game')
        Send-LabRequest $Lab -Protocol tcp -Address 203.0.113.1 -Port 8080 | Should -BeNullOrEmpty
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '
    }

    It 'is rolled back by the router itself with -ConfirmTimeout when new SSH connections fail after the removal, and kept when confirmed' {
        Set-Forwards
        $before = Get-LabNatTable $Lab
        Set-LabRouterFault $Lab -Tool nft -Fault BlockNewSsh
        try {
            $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward game @ssh -ConfirmTimeout 5 -ConnectTimeout 2 -Confirm:$false }
        } finally {
            Remove-LabRouterFault $Lab -Tool nft
        }
        $run.Errors.Count | Should -Be 1
        $run.Errors[0].FullyQualifiedErrorId | Should -Match '^BypassNat\.RolledBack'
        $run.Errors[0].Message | Should -Match 'restored its previous 3 forwards \(game, web, web-alt\) by itself'
        Get-LabNatTable $Lab | Should -Be $before
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -Match '^device udp 9000 '

        $confirmed = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward game @ssh -ConfirmTimeout 5 -Confirm:$false }
        $confirmed.Errors | Should -BeNullOrEmpty
        Get-Names | Should -Be @('web', 'web-alt')
        Invoke-LabRouter $Lab 'ls /run/bypassnat/confirm' | Should -Not -Contain 'bypassnat.token'
    }

    It 'says so when a plain name matches nothing, and changes nothing' {
        $before = Get-LabNatTable $Lab
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward nosuch @ssh -Confirm:$false }
        $run.Errors[0].FullyQualifiedErrorId | Should -BeLike 'BypassNat.ForwardNotFound*'
        $run.Errors[0].Category | Should -Be 'ObjectNotFound'
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'changes nothing with -WhatIf' {
        $before = Get-LabNatTable $Lab
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -WhatIf }
        $run.Console | Should -Match 'What if:'
        Get-LabNatTable $Lab | Should -Be $before
    }

    It 'removes with -All every trace: rules in both backends, and what -Persist installed' -ForEach @(@{ Backend = 'Iptables' }, @{ Backend = 'Nftables' }) {
        Set-Forwards @{ Backend = $Backend; Persist = $true }
        Invoke-LabRouter $Lab 'ls /etc/bypassnat' | Should -Not -BeNullOrEmpty
        $run = Invoke-AsAdmin $Lab { $ssh = $Lab.Ssh; Remove-BypassForward -All @ssh -Confirm:$false }
        $run.Errors | Should -BeNullOrEmpty
        $nat = Get-LabNatTable $Lab
        $nat | Should -Not -Match 'BYPASSNAT_'
        $nat | Should -Not -Match 'bypassnat'
        $nat | Should -Match 'CLASH'
        Invoke-LabRouter $Lab 'ls -A /etc/systemd/system /etc/systemd/system/*.wants 2>/dev/null | grep -c bypassnat || true' | Should -Be '0'
        Invoke-LabRouter $Lab 'test -e /etc/bypassnat && echo present || echo gone' | Should -Be 'gone'
        Send-LabRequest $Lab -Protocol udp -Address 203.0.113.1 -Port 9000 | Should -BeNullOrEmpty
    }
}
