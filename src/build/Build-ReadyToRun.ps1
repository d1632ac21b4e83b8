# SSH.NET, BouncyCastle and the rest of dependencies/ compiled ahead of time (ReadyToRun) for linux-x64
# into dependencies/linux-x64, which the load context prefers on that platform: in a fresh process
# (the scheduled run) JIT-compiling their key exchange cost more than the SSH connection. BypassNat.Core
# likewise into native/linux-x64, which module/BypassNat.ReadyToRun.psm1 loads before the module's
# cmdlets on that platform. The IL copies stay for every other platform and for Windows PowerShell;
# BypassNat.dll itself stays IL (PowerShell loads the root module from its path). Compiled files are
# kept in obj/ and reused while their input is unchanged (BouncyCastle takes half a minute).
param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $Out, [Parameter(Mandatory)] [string] $Dependencies)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
if (-not $IsLinux -or [Runtime.InteropServices.RuntimeInformation]::OSArchitecture -ne 'X64') { return }
$native = Join-Path $PSScriptRoot 'Invoke-NativeCommand.ps1'
$work = Join-Path $Root 'obj/readytorun'
$project = Join-Path $work 'ReadyToRun.csproj'
New-Item -ItemType Directory -Force (Join-Path $work 'out') | Out-Null
# Restoring a ReadyToRun publish brings the crossgen2 package the SDK goes with.
Set-Content $project ('<Project Sdk="Microsoft.NET.Sdk"><PropertyGroup><TargetFramework>net10.0</TargetFramework>' +
    '<RuntimeIdentifier>linux-x64</RuntimeIdentifier><PublishReadyToRun>true</PublishReadyToRun><SelfContained>false</SelfContained></PropertyGroup></Project>')
& $native 'dotnet restore (crossgen2)' { dotnet restore $project --verbosity quiet }
$packages = "$(dotnet nuget locals global-packages --list)" -replace '^global-packages:\s*'
$crossgen = Get-ChildItem (Join-Path $packages 'microsoft.netcore.app.crossgen2.linux-x64') -Directory |
    Sort-Object { [version]($_.Name -replace '-.*') } | Select-Object -Last 1 | ForEach-Object { Join-Path $_.FullName 'tools/crossgen2' }
if (-not $crossgen -or -not (Test-Path $crossgen)) { throw "The crossgen2 package was restored, but no crossgen2 was found under $packages." }
$framework = [Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()
$platform = @(([AppContext]::GetData('TRUSTED_PLATFORM_ASSEMBLIES') -split [IO.Path]::PathSeparator) | ForEach-Object { [IO.Path]::GetFileNameWithoutExtension($_) })
# One assembly compiled into -Into, or the copy obj/ holds from its last identical input.
function Copy-Compiled([IO.FileInfo] $Dll, [string] $Into, [string[]] $References) {
    $cached = Join-Path $work "out/$($Dll.Name)"
    $stamp = "$cached.input"
    $fingerprint = "$($Dll.Length) $((Get-FileHash $Dll.FullName -Algorithm SHA256).Hash)"
    if (-not (Test-Path $cached) -or -not (Test-Path $stamp) -or (Get-Content $stamp -Raw).Trim() -ne $fingerprint) {
        $refs = @($References | ForEach-Object { '-r'; $_ })
        & $native "crossgen2 $($Dll.Name)" {
            & $crossgen $Dll.FullName -o $cached @refs --targetos linux --targetarch x64 -O | Out-Null
        }
        Set-Content $stamp $fingerprint
    }
    New-Item -ItemType Directory -Force $Into | Out-Null
    Copy-Item $cached $Into
}
foreach ($dll in Get-ChildItem $Dependencies -Filter *.dll) {
    # What the platform provides is loaded from the platform (the load context defers to it).
    if ($platform -contains $dll.BaseName) { continue }
    Copy-Compiled $dll (Join-Path $Dependencies 'linux-x64') @("$framework", "$Out/", "$Dependencies/")
}
Copy-Compiled (Get-Item (Join-Path $Out 'BypassNat.Core.dll')) (Join-Path $Out 'native/linux-x64') @("$framework")
