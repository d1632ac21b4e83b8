# build.ps1 Package (-NoBuild: of the module already built) makes a .nupkg that PSResourceGet installs from a local file repository; the
# installed module imports by name from a clean module path and works there. No lab needed.
BeforeAll {
    $script:Root = Resolve-Path (Join-Path $PSScriptRoot '../..')
    # The module the other tests use (build.ps1 PesterTest built it), packaged as it is.
    $build = & dotnet pwsh -NoProfile -NonInteractive -File (Join-Path $Root 'build.ps1') Package -NoBuild 2>&1
    $script:Nupkg = Get-ChildItem (Join-Path $Root 'out/package') -Filter 'BypassNat.*.nupkg' -ErrorAction Ignore
    if (-not $Nupkg) { throw "build.ps1 Package made no package: $build" }
    $script:Repository = 'BypassNatTest' + [guid]::NewGuid().ToString('N').Substring(0, 8)
    $script:Clean = Join-Path ([IO.Path]::GetTempPath()) "bypassnat-modules-$([guid]::NewGuid().ToString('N'))"
    New-Item -ItemType Directory $Clean | Out-Null
    Register-PSResourceRepository -Name $Repository -Uri $Nupkg.DirectoryName -Trusted
}

AfterAll {
    Unregister-PSResourceRepository -Name $script:Repository -ErrorAction Ignore
    Remove-Item $script:Clean -Recurse -Force -ErrorAction Ignore
}

Describe 'The BypassNat package' {
    It 'is found in a local repository with its version, tags, editions and release notes' {
        $found = Find-PSResource -Name BypassNat -Repository $Repository
        $manifest = Import-PowerShellDataFile (Join-Path $Root 'module/BypassNat.psd1')
        "$($found.Version)" | Should -Be $manifest.ModuleVersion
        $found.Tags | Should -Contain 'nftables'
        $found.Tags | Should -Contain 'PSEdition_Core'
        $found.Tags | Should -Contain 'PSEdition_Desktop'
        $found.ReleaseNotes | Should -Match 'unreleased'
        $found.ReleaseNotes | Should -Match 'New-BypassForward'
        # No license is claimed: the project has no LICENSE file.
        $found.LicenseUri | Should -BeNullOrEmpty
    }

    It 'saves into a clean module path, imports by name there, and works' {
        Save-PSResource -Name BypassNat -Repository $Repository -Path $Clean -TrustRepository
        Test-Path (Join-Path $Clean 'BypassNat/*/dependencies/Renci.SshNet.dll') | Should -BeTrue
        # The examples the docs point to (docs/scheduling.md) come with the module, as they are in docs/examples.
        foreach ($example in Get-ChildItem (Join-Path $Root 'docs/examples') -File) {
            $packaged = Get-Item (Join-Path $Clean "BypassNat/*/examples/$($example.Name)") -ErrorAction Ignore
            $packaged | Should -Not -BeNullOrEmpty -Because "the package carries docs/examples/$($example.Name)"
            (Get-FileHash $packaged.FullName).Hash | Should -Be (Get-FileHash $example.FullName).Hash
        }
        $script = @'
$ErrorActionPreference = 'Stop'
Import-Module BypassNat
$module = Get-Module BypassNat
$forward = New-BypassForward -Name web -ExternalPort 8080 -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.20 -InternalPort 80
$ruleset = $forward | ConvertTo-BypassRuleset
[pscustomobject]@{
    Base     = $module.ModuleBase
    Editions = @($module.CompatiblePSEditions) -join ','
    Cmdlets  = @($module.ExportedCmdlets.Keys | Sort-Object) -join ','
    Ruleset  = $ruleset
    # The sample CSV in the package's own examples folder makes forwards.
    Sample   = @(Import-Csv (Join-Path $module.ModuleBase 'examples/forwards.csv') | New-BypassForward).Count
    Help     = (Get-Help New-BypassForward).Synopsis
    # SSH.NET loads from the package's own folder, when a connection needs it.
    Refused  = try { Get-BypassForward -ComputerName 127.0.0.1 -HostKeyFingerprint SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA -KeyFile /nonexistent } catch { $_.FullyQualifiedErrorId }
} | ConvertTo-Json
'@
        $env:PSModulePath, $saved = $Clean, $env:PSModulePath
        try {
            $json = & dotnet pwsh -NoProfile -NonInteractive -Command $script 2>&1
        } finally {
            $env:PSModulePath = $saved
        }
        $result = "$json" | ConvertFrom-Json
        $result.Base | Should -BeLike "$Clean*"
        $result.Editions | Should -Be 'Core,Desktop'
        $result.Cmdlets | Should -Match 'Invoke-BypassForwardApply'
        $result.Ruleset | Should -Match 'table ip bypassnat'
        $result.Help | Should -Not -BeNullOrEmpty
        $result.Sample | Should -BeGreaterThan 0
        $result.Refused | Should -BeLike 'BypassNat.KeyFileUnreadable*'
    }
}
