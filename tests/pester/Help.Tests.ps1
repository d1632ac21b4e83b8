# Get-Help shows what docs/<Cmdlet>.md says: the build compiles the pages into MAML.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Cmdlets = @(Get-Command -Module BypassNat -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
}

Describe 'Help for <Name>' -ForEach $Cmdlets {
    It 'has a synopsis, a description and an example from its page' {
        $help = Get-Help $Name -Full
        $page = Get-Content (Join-Path $PSScriptRoot "../../docs/$Name.md") -Raw
        $synopsis = ([regex]::Match($page, '## SYNOPSIS\s+(.+)')).Groups[1].Value.Trim()
        "$($help.Synopsis)".Trim() | Should -Be $synopsis
        ($help.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty
        @($help.Examples.Example).Count | Should -BeGreaterThan 0
    }

    It 'describes every parameter' {
        $help = Get-Help $Name -Full
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        $visible = (Get-Command $Name).Parameters.Values | Where-Object {
            $_.Name -notin $common -and -not ($_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.DontShow })
        }
        foreach ($parameter in $visible) {
            $entry = $help.Parameters.Parameter | Where-Object Name -eq $parameter.Name
            ($entry.Description | Out-String).Trim() | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) of $Name needs a line in docs/$Name.md"
        }
    }
}

Describe 'about_BypassNat' {
    It 'is installed as a help topic' {
        (Get-Help about_BypassNat | Out-String) | Should -Match 'double forward'
    }
}
