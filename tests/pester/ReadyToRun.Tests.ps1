# On linux-x64 the build compiles BypassNat.Core ahead of time into native/linux-x64, and the module's
# nested BypassNat.ReadyToRun.psm1 loads it before the cmdlets (a fresh process then JIT-compiles
# none of the core). These tests import the built module in fresh processes, as users do, and check
# which copy loaded, that both copies give the same forwards and rules, and that the loader leaves no
# trace in Get-Module. They need no lab.
BeforeDiscovery {
    $script:OnLinuxX64 = $IsLinux -and [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'X64'
}

BeforeAll {
    $script:Module = (Resolve-Path (Join-Path $PSScriptRoot '../../out/BypassNat')).Path
    $script:Pwsh = Join-Path $PSHOME 'pwsh.dll'

    # What a fresh pwsh that imports -ModuleFolder reports: where the core came from, the rules three
    # forwards render to, and the modules Get-Module lists before and after Remove-Module.
    function Invoke-FreshImport([string] $ModuleFolder) {
        $script = @"
`$ErrorActionPreference = 'Stop'
Import-Module '$ModuleFolder/BypassNat.psd1'
`$csv = "Name,Protocol,ExternalPort,BypassAddress,BypassPort,InternalAddress,InternalPort,AllowedSource`nweb,Tcp,8080,192.0.2.2,8080,192.0.2.20,80,198.51.100.0/24`ngame,Udp,9000,192.0.2.2,,192.0.2.21,,`nvoip,TcpUdp,9001-9003,192.0.2.2,19001-19003,192.0.2.22,9001-9003,"
`$forwards = `$csv | ConvertFrom-Csv | New-BypassForward
`$report = [ordered]@{
    CoreLocation = [BypassNat.BypassForward].Assembly.Location
    Names        = @(`$forwards.Name) -join ','
    Nftables     = (`$forwards | ConvertTo-BypassRuleset -Format Nftables) -join "``n"
    Iptables     = (`$forwards | ConvertTo-BypassRuleset -Format Iptables) -join "``n"
    Modules      = @(Get-Module | ForEach-Object Name | Sort-Object) -join ','
    Nested       = @((Get-Module BypassNat).NestedModules | ForEach-Object Name) -join ','
}
Remove-Module BypassNat
`$report.ModulesAfterRemove = @(Get-Module | ForEach-Object Name | Sort-Object) -join ','
[pscustomobject]`$report | ConvertTo-Json
"@
        $out = & dotnet $Pwsh -NoProfile -NonInteractive -Command $script 2>&1
        if ($LASTEXITCODE -ne 0) { throw "A fresh pwsh importing $ModuleFolder failed: $($out -join ' ')" }
        ($out -join "`n") | ConvertFrom-Json
    }
}

Describe 'The core compiled ahead of time' {
    BeforeAll {
        $script:Compiled = Invoke-FreshImport $Module
        # The same module without the compiled core, as on any other platform.
        $script:IlOnly = Join-Path ([IO.Path]::GetTempPath()) ('bypassnat-il-' + [guid]::NewGuid().ToString('N').Substring(0, 8))
        Copy-Item $Module $IlOnly -Recurse
        Remove-Item (Join-Path $IlOnly 'native') -Recurse -Force -ErrorAction SilentlyContinue
        $script:Il = Invoke-FreshImport $IlOnly
    }

    AfterAll {
        if ($script:IlOnly) { Remove-Item $script:IlOnly -Recurse -Force -ErrorAction SilentlyContinue }
    }

    It 'is built for linux-x64 as a ReadyToRun image, and is the copy a fresh process loads there' -Skip:(-not $OnLinuxX64) {
        $file = Join-Path $Module 'native/linux-x64/BypassNat.Core.dll'
        $file | Should -Exist
        $stream = [IO.File]::OpenRead($file)
        try {
            $reader = [Reflection.PortableExecutable.PEReader]::new($stream)
            # A ReadyToRun image carries a managed native header; plain IL has none.
            $reader.PEHeaders.CorHeader.ManagedNativeHeaderDirectory.Size | Should -BeGreaterThan 0
        } finally { $stream.Dispose() }
        $Compiled.CoreLocation | Should -Be $file
    }

    It 'falls back to the IL copy beside BypassNat.dll when there is no compiled core' {
        $Il.CoreLocation | Should -Be (Join-Path $IlOnly 'BypassNat.Core.dll')
    }

    It 'makes the same forwards and renders the same rules from either copy' {
        $Compiled.Names | Should -Be 'web,game,voip'
        $Compiled.Nftables | Should -Match '192\.0\.2\.20'
        $Compiled.Nftables | Should -Be $Il.Nftables
        $Compiled.Iptables | Should -Be $Il.Iptables
    }

    It 'adds no module of its own to Get-Module, and Remove-Module takes the loader along' {
        $Compiled.Modules -split ',' | Should -Contain 'BypassNat'
        $Compiled.Modules -split ',' | Should -Not -Contain 'BypassNat.ReadyToRun'
        $Compiled.Nested | Should -Be 'BypassNat.ReadyToRun'
        $Compiled.ModulesAfterRemove -split ',' | Should -Not -Contain 'BypassNat'
        $Compiled.ModulesAfterRemove -split ',' | Should -Not -Contain 'BypassNat.ReadyToRun'
    }
}
