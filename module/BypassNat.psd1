@{
    RootModule           = 'BypassNat.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '6b0f3c1e-58a4-4d1b-9a57-2f3e0c9d7a41'
    Author               = 'BypassNat developers'
    Copyright            = '(c) BypassNat developers.'
    Description          = 'Double port forwards (main router -> bypass router -> device) for networks with a bypass router running a transparent proxy: rendered, applied atomically over SSH, and verified.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Core', 'Desktop')
    # Loads the core compiled ahead of time where there is one (see the file); exports nothing.
    NestedModules        = @('BypassNat.ReadyToRun.psm1')
    FormatsToProcess     = @('BypassNat.Format.ps1xml')
    CmdletsToExport      = @('New-BypassForward', 'Invoke-BypassForwardApply', 'Get-BypassForward', 'Test-BypassForward',
                             'Remove-BypassForward', 'ConvertTo-BypassRuleset', 'Get-BypassForwardPlan',
                             'New-BypassSession', 'Get-BypassSession', 'Remove-BypassSession', 'Debug-BypassForward')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('iptables', 'nftables', 'NAT', 'port-forward', 'router', 'SSH', 'Linux', 'OpenWrt', 'bypass-router', 'PSEdition_Core', 'PSEdition_Desktop')
            # No LicenseUri or ProjectUri: the project has no LICENSE file and no public address yet.
            # build.ps1 Package fills in ReleaseNotes from CHANGELOG.md.
            ReleaseNotes = ''
        }
    }
}
