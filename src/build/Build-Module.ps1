# Compiles the solution and lays the module out in -Out (Import-Module <Out>), with its compiled help.
param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $Out, [string] $Configuration = 'Release')
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$native = Join-Path $PSScriptRoot 'Invoke-NativeCommand.ps1'
& $native 'dotnet build' { dotnet build (Join-Path $Root 'BypassNat.sln') -c $Configuration --nologo --verbosity quiet }
if (Test-Path $Out) { Remove-Item $Out -Recurse -Force }
# The module and the core load as usual; SSH.NET and everything it needs go to dependencies/, which
# the module loads in a context of its own (src/BypassNat/ModuleInitializer.cs).
$dependencies = Join-Path $Out 'dependencies'
foreach ($publish in @(@('src/BypassNat/BypassNat.csproj', $Out), @('src/BypassNat.LoadContext/BypassNat.LoadContext.csproj', $Out),
        @('src/BypassNat.SshNet/BypassNat.SshNet.csproj', $dependencies))) {
    & $native 'dotnet publish' {
        dotnet publish (Join-Path $Root $publish[0]) -c $Configuration -o $publish[1] --nologo --verbosity quiet --no-build
    }
}
# The core is shared with the default context, so it lives beside the module only.
Remove-Item (Join-Path $dependencies 'BypassNat.Core.dll')
# PowerShell provides these at run time; shipping them would shadow the host's own copies.
Get-ChildItem $Out -Include 'System.Management.Automation.dll', '*.pdb', '*.deps.json', '*.runtimeconfig.json' -Recurse | Remove-Item
& (Join-Path $PSScriptRoot 'Build-ReadyToRun.ps1') -Root $Root -Out $Out -Dependencies $dependencies
Copy-Item (Join-Path $Root 'module/*') $Out
$help = New-Item -ItemType Directory -Force (Join-Path $Out 'en-US')
Copy-Item (Join-Path $Root 'docs/about_BypassNat.md') (Join-Path $help 'about_BypassNat.help.txt')
& (Join-Path $PSScriptRoot 'Build-Help.ps1') -Root $Root -Out $Out
Write-Host "Built $Out"
