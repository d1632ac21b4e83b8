# BypassNat loads SSH.NET and its other dependencies in a load context of its own, so another
# module's SSH.NET (here 2024.2.0 from NuGet, the generation Posh-SSH ships) works beside it in
# either order: BypassNat applies to the lab router, and the other SSH.NET logs in to it too.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../lab/Lab.psm1') -Force
    $packages = ((dotnet nuget locals global-packages --list) -replace '^global-packages:\s*', '').Trim()
    $script:OtherSshNet = Join-Path $packages 'ssh.net/2024.2.0/lib/net8.0/Renci.SshNet.dll'
    $script:OtherBouncyCastle = Join-Path $packages 'bouncycastle.cryptography/2.4.0/lib/net6.0/BouncyCastle.Cryptography.dll'
    if (-not (Test-Path $OtherSshNet) -or -not (Test-Path $OtherBouncyCastle)) {
        dotnet restore (Join-Path $PSScriptRoot 'PesterPackage.csproj') --verbosity quiet | Out-Host
    }
    $script:Lab = Start-BypassLab -ModulePath (Join-Path $PSScriptRoot '../../out/BypassNat')

    # One fresh PowerShell on the admin workstation per order: assemblies cannot be unloaded.
    function Invoke-Order([string] $Order, [int] $Port) {
        $work = Join-Path $Lab.Dir "isolation-$Order"
        New-Item -ItemType Directory -Force $work | Out-Null
        $script = @"
`$ErrorActionPreference = 'Stop'
`$other = '$OtherSshNet', '$OtherBouncyCastle'
`$key = '$($Lab.Ssh.KeyFile)'
function Use-OtherSshNet {
    `$other | ForEach-Object { Add-Type -Path `$_ }
    `$client = [Renci.SshNet.SshClient]::new('192.0.2.2', 'root', [Renci.SshNet.PrivateKeyFile[]]@([Renci.SshNet.PrivateKeyFile]::new(`$key)))
    `$client.Connect()
    `$answer = `$client.RunCommand('echo other-sshnet-works').Result.Trim()
    `$client.Dispose()
    `$answer
}
`$report = [ordered]@{}
if ('$Order' -eq 'OtherFirst') { `$report.Other = Use-OtherSshNet }
Import-Module '$($Lab.ModulePath)/BypassNat.psd1'
`$forward = New-BypassForward -Name 'iso-$Order' -ExternalPort $Port -BypassAddress 192.0.2.2 -InternalAddress 192.0.2.20 -InternalPort 80
`$result = `$forward | Invoke-BypassForwardApply -ComputerName 192.0.2.2 -KeyFile `$key -KnownHostsFile '$($Lab.Ssh.KnownHostsFile)' -Confirm:`$false -RemoveUnlisted
`$report.Applied = @(`$result.Added) -join ','
if ('$Order' -ne 'OtherFirst') { `$report.Other = Use-OtherSshNet }
`$report.TypeByName = [BypassNat.BypassForward].FullName
`$report.OtherVersion = [Renci.SshNet.SshClient].Assembly.GetName().Version.ToString()
`$report.Loaded = @([System.Runtime.Loader.AssemblyLoadContext]::All | ForEach-Object {
    `$context = `$_
    `$_.Assemblies | Where-Object { `$_.GetName().Name -in 'Renci.SshNet', 'BouncyCastle.Cryptography', 'BypassNat.Core', 'BypassNat' } |
        ForEach-Object { "`$(`$context.Name):`$(`$_.GetName().Name):`$(`$_.GetName().Version)" }
} | Sort-Object)
[pscustomobject]`$report | ConvertTo-Json | Set-Content '$work/report.json'
"@
        Set-Content (Join-Path $work 'order.ps1') $script
        $console = & ip netns exec "$($Lab.Prefix)-adm" dotnet (Join-Path $PSHOME 'pwsh.dll') -NoProfile -NonInteractive -File (Join-Path $work 'order.ps1') 2>&1
        if (-not (Test-Path "$work/report.json")) { throw "The $Order run failed: $($console -replace '\e\[[0-9;]*m')" }
        Get-Content "$work/report.json" -Raw | ConvertFrom-Json
    }
}

AfterAll {
    Stop-BypassLab $script:Lab
}

Describe 'Another SSH.NET in the same session' {
    It 'loaded <Order>: BypassNat applies, the other SSH.NET still logs in, each its own version' -ForEach @(
        @{ Order = 'OtherFirst'; Port = 8081 }, @{ Order = 'BypassNatFirst'; Port = 8082 }
    ) {
        $report = Invoke-Order $Order $Port
        $report.Applied | Should -Be "iso-$Order"
        $report.Other | Should -Be 'other-sshnet-works'
        $report.OtherVersion | Should -Be '2024.2.0.1'
        $report.TypeByName | Should -Be 'BypassNat.BypassForward'
        $report.Loaded | Should -Contain 'Default:Renci.SshNet:2024.2.0.1'
        $report.Loaded | Should -Contain 'BypassNat:Renci.SshNet:2026.0.0.1'
        $report.Loaded | Should -Contain 'Default:BouncyCastle.Cryptography:2.0.0.0'
        @($report.Loaded -like 'BypassNat:BouncyCastle.Cryptography:*').Count | Should -Be 1
        # The module and its core stay in the default context, where type names resolve.
        @($report.Loaded -like 'Default:BypassNat.Core:*').Count | Should -Be 1
        @($report.Loaded -like 'BypassNat:BypassNat*').Count | Should -Be 0
        Invoke-LabCommand $Lab byp 'nft list table ip bypassnat' | Out-String | Should -Match "name=iso-$Order;ext=$Port"
    }
}
