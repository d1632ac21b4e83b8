# Get-Help shows what docs/<Cmdlet>.md says: the build compiles the pages into MAML. These tests read
# help the way users do (Get-Help -Examples, -Full) and run what the examples say.
BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force
    $script:Cmdlets = @(Get-Command -Module BypassNat -CommandType Cmdlet | ForEach-Object { @{ Name = $_.Name } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../out/BypassNat/BypassNat.psd1') -Force

    # The fenced code blocks of a page's EXAMPLES section, each as one string.
    function Get-PageExample([string] $Name) {
        $page = Get-Content (Join-Path $PSScriptRoot "../../docs/$Name.md") -Raw
        $examples = ($page -split '(?m)^## EXAMPLES\s*$')[1]
        @([regex]::Matches($examples, '(?ms)^```\w*\r?\n(.*?)\r?\n```') | ForEach-Object { $_.Groups[1].Value -replace '\r' })
    }
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

    It 'describes every parameter in whole sentences' {
        $help = Get-Help $Name -Full
        $common = [System.Management.Automation.Cmdlet]::CommonParameters + [System.Management.Automation.Cmdlet]::OptionalCommonParameters
        $visible = (Get-Command $Name).Parameters.Values | Where-Object {
            $_.Name -notin $common -and -not ($_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.DontShow })
        }
        foreach ($parameter in $visible) {
            $entry = $help.Parameters.Parameter | Where-Object Name -eq $parameter.Name
            $text = ($entry.Description | Out-String).Trim()
            $text | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) of $Name needs a line in docs/$Name.md"
            # A description that stops at the end of the page's first line stops mid-sentence.
            $text | Should -Match '[.)`!?]$' -Because "-$($parameter.Name) of $Name reads '$text'"
        }
    }

    It 'shows each example of its page whole, as one example, in Get-Help -Examples' {
        $page = Get-PageExample $Name
        $help = Get-Help $Name -Examples
        @($help.Examples.Example).Count | Should -Be $page.Count
        $shown = $help | Out-String -Width 400
        for ($i = 0; $i -lt $page.Count; $i++) {
            ($help.Examples.Example[$i].Code -replace '\r') | Should -Be $page[$i]
            # What users read: the lines of a multi-line example stay together under one heading.
            $shown | Should -Match ("(?s)EXAMPLE $($i + 1)\b.*?" + [regex]::Escape(($page[$i] -split "`n")[-1].Trim()))
        }
    }

    It 'has examples the PowerShell parser accepts, and the ones that need no router run' {
        $work = Join-Path ([IO.Path]::GetTempPath()) "bypassnat-help-$([guid]::NewGuid().ToString('N'))"
        New-Item -ItemType Directory $work | Out-Null
        Copy-Item (Join-Path $PSScriptRoot '../../docs/examples/forwards.csv') $work
        Push-Location $work
        try {
            foreach ($code in Get-PageExample $Name) {
                $errors = $null
                $ast = [System.Management.Automation.Language.Parser]::ParseInput($code, [ref]$null, [ref]$errors)
                $errors | Should -BeNullOrEmpty -Because $code
                $needsRouter = $ast.FindAll({ param($n) $n -is [System.Management.Automation.Language.CommandParameterAst] -and $n.ParameterName -eq 'ComputerName' }, $true)
                if ($needsRouter) { continue }
                { & ([scriptblock]::Create($code)) | Out-Null } | Should -Not -Throw -Because $code
            }
        } finally {
            Pop-Location
            Remove-Item $work -Recurse -Force
        }
    }

    It 'shows real parameter types, -WhatIf and -Confirm where they apply, and its inputs and outputs' {
        $command = Get-Command $Name
        $full = Get-Help $Name -Full
        # Wide enough for the longest syntax line (the router cmdlets' SSH parameters), so none wraps.
        $syntax = ($full.Syntax | Out-String -Width 2000)
        $syntax | Should -Not -Match '<Object>'
        foreach ($p in $command.Parameters.Values | Where-Object { $_.ParameterType -ne [switch] -and $_.Name -notin [System.Management.Automation.Cmdlet]::CommonParameters }) {
            if ($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.DontShow }) { continue }
            $syntax | Should -Match ("-$($p.Name)\]? <$([regex]::Escape($p.ParameterType.Name))>") -Because "-$($p.Name) takes $($p.ParameterType.Name)"
        }
        if ($command.Parameters.ContainsKey('WhatIf')) { $syntax | Should -Match '\[-WhatIf\] \[-Confirm\]' }
        $text = $full | Out-String -Width 400
        @($full.inputTypes.inputType).Count | Should -BeGreaterThan 0
        foreach ($type in $command.OutputType) { $text | Should -Match "(?s)OUTPUTS\s+.*\b$([regex]::Escape($type.Name))\b" }
    }
}

Describe 'The SYNTAX of <Name>' -ForEach $Cmdlets {
    It 'is what PowerShell says of the compiled cmdlet, on its page and in Get-Help' {
        $command = Get-Command $Name
        $hidden = @($command.Parameters.Values | Where-Object { $_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.DontShow } } | ForEach-Object Name)
        $expected = @(($command | Get-Command -Syntax) -split '\r?\n' | ForEach-Object Trim | Where-Object { $_ } | ForEach-Object {
                $line = $_
                foreach ($h in $hidden) { $line = $line.Replace(" [-$h <psobject>]", '') }
                $line
            } | Where-Object { $_ -ne "$Name [<CommonParameters>]" })
        $page = Get-Content (Join-Path $PSScriptRoot "../../docs/$Name.md") -Raw
        $block = [regex]::Match($page, '(?s)## SYNTAX\r?\n```[^\n]*\n(.*?)\r?\n```').Groups[1].Value
        @($block -split '\r?\n') | Should -Be $expected -Because "docs/$Name.md's SYNTAX is written by the build from the compiled cmdlet"
        # Every parameter a set takes is in that set's line, on the page and in Get-Help.
        $shown = (Get-Help $Name -Full).Syntax | Out-String -Width 4000
        foreach ($set in $command.ParameterSets) {
            $names = @($set.Parameters.Name | Where-Object { $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters -and $_ -notin $hidden })
            if (-not $names) { continue }
            $line = $expected | Where-Object { $l = $_; -not ($names | Where-Object { $l -notmatch "-$_\b" }) } | Select-Object -First 1
            $line | Should -Not -BeNullOrEmpty -Because "set $($set.Name) of $Name takes $($names -join ', ')"
            foreach ($n in $names) { $shown | Should -Match "-$n\b" }
        }
    }

    It 'shows the default value of each parameter the cmdlet sets itself' {
        $command = Get-Command $Name
        $instance = [Activator]::CreateInstance($command.ImplementingType)
        foreach ($p in $command.Parameters.Values) {
            $property = $command.ImplementingType.GetProperty($p.Name)
            if (-not $property -or $p.ParameterType -eq [switch]) { continue }
            $value = $property.GetValue($instance)
            if ($null -eq $value -or ($value -is [ValueType] -and $value -isnot [Enum] -and $value -eq [Activator]::CreateInstance($value.GetType()))) { continue }
            $help = Get-Help $Name -Parameter $p.Name
            "$($help.defaultValue)" | Should -Be (@($value) -join ', ') -Because "-$($p.Name) of $Name starts as $value"
        }
    }
}

Describe 'Default values in Get-Help' {
    It 'says what the router parameters are when not given' {
        (Get-Help Invoke-BypassForwardApply -Parameter Port).defaultValue | Should -Be '22'
        (Get-Help Invoke-BypassForwardApply -Parameter ThrottleLimit).defaultValue | Should -Be '8'
        (Get-Help Get-BypassForward -Parameter Backend).defaultValue | Should -Be 'Auto'
        (Get-Help Remove-BypassForward -Parameter Role).defaultValue | Should -Be 'Bypass'
        (Get-Help ConvertTo-BypassRuleset -Parameter Format).defaultValue | Should -Be 'Nftables'
        (Get-Help Get-BypassForwardPlan -Parameter Role).defaultValue | Should -Be 'Main, Bypass'
        (Get-Help Invoke-BypassForwardApply -Parameter ConfirmTimeout).defaultValue | Should -Be 'None'
        Get-Help Invoke-BypassForwardApply -Parameter CommandTimeout | Out-String -Width 200 | Should -Match 'Default value\s+300'
    }
}

Describe 'New-BypassForward help' {
    It 'says what each CSV value is, whole' {
        $text = Get-Help New-BypassForward -Parameter SourceNat | Out-String -Width 400
        $text | Should -Match 'Only for devices whose gateway is not the bypass router\.'
        (Get-Help Invoke-BypassForwardApply -Parameter KnownHostsFile | Out-String -Width 400) | Should -Match 'the error shows the presented fingerprint\.'
        (Get-Help New-BypassForward -Parameter PublicAddress | Out-String -Width 400) | Should -Match 'also takes a DNS name\.'
    }
}

Describe 'about_BypassNat' {
    BeforeAll {
        $script:About = (Get-Help about_BypassNat | Out-String -Width 400) -replace '\s+', ' '
    }

    It 'is installed as a help topic' {
        $About | Should -Match 'double forward'
    }

    It 'says each thing once: no heading and no sentence twice' {
        $lines = Get-Content (Join-Path $PSScriptRoot '../../docs/about_BypassNat.md')
        $headings = @($lines | Where-Object { $_ -cmatch '^[A-Z][A-Z ]+$' })
        $headings | Group-Object | Where-Object Count -gt 1 | ForEach-Object Name | Should -BeNullOrEmpty
        $sentences = (($lines | Where-Object { $_ -cnotmatch '^[A-Z][A-Z ]+$' }) -join ' ') -replace '\s+', ' ' -split '(?<=[.:;])\s' | Where-Object { $_.Length -ge 30 }
        $sentences | Group-Object | Where-Object Count -gt 1 | ForEach-Object Name | Should -BeNullOrEmpty
    }

    It 'applies an OpenWrt main router over SSH, not through ConvertTo-BypassRuleset' {
        $openwrt = [regex]::Match($About, 'OPENWRT (.*?) THE CSV').Groups[1].Value
        $openwrt | Should -Match 'Invoke-BypassForwardApply -Role Main'
        $openwrt | Should -Not -Match 'ConvertTo-BypassRuleset'
    }

    It 'names every CSV column New-BypassForward takes, both backends and scheduling' {
        $columns = (Get-Command New-BypassForward).Parameters.Values |
            Where-Object { $_.Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] -and $_.ValueFromPipelineByPropertyName } }
        foreach ($column in $columns.Name) { $About | Should -Match "\b$column\b" }
        $About | Should -Match 'nftables'
        $About | Should -Match 'iptables'
        $About | Should -Match 'Register-ScheduledJob|systemd timer|cron'
        $About | Should -Not -Match 'one atomic iptables-restore transaction'
    }

    It 'quotes, word for word, the errors a bad CSV gives' {
        $messages = foreach ($csv in @(
                "Name,ExternalPort,BypassAddress,InternalAdress`nweb,8080,192.0.2.2,192.0.2.20",
                "Name;ExternalPort;BypassAddress;InternalAddress`nweb;8080;192.0.2.2;192.0.2.20",
                "Name,ExternalPort,BypassAddress,InternalAddress`nweb,70000,192.0.2.2,192.0.2.20")) {
            $records = @(try { $csv | ConvertFrom-Csv | New-BypassForward -ErrorAction Continue 2>&1 } catch { $_ })
            $records | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -notlike 'BypassNat.InvalidForwardSet*' } |
                ForEach-Object { $_.Exception.Message }
        }
        $messages | Should -HaveCount 3
        foreach ($message in $messages) { $About | Should -Match ([regex]::Escape(($message -replace '\s+', ' '))) }
    }
}
