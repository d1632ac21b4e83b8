# Publishes the built module (-Out) to a local file repository with PSResourceGet itself, so the
# .nupkg in out/package is exactly what Install-PSResource and Save-PSResource expect. The package
# carries the release notes (the CHANGELOG sections not yet released) and docs/examples.
param([Parameter(Mandatory)] [string] $Root, [Parameter(Mandatory)] [string] $Out)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# The release notes for the package: the CHANGELOG sections not yet released.
function Get-ReleaseNote {
    $notes = [Collections.Generic.List[string]]::new()
    $take = $false
    foreach ($line in Get-Content (Join-Path $Root 'CHANGELOG.md')) {
        if ($line -match '^## ') { $take = $line -match 'unreleased' }
        if ($take) { $notes.Add($line) }
    }
    ($notes -join "`n").Trim()
}

$package = Join-Path $Root 'out/package'
$stage = Join-Path $Root 'out/package-stage/BypassNat'
Remove-Item $package, (Split-Path $stage) -Recurse -Force -ErrorAction Ignore
New-Item -ItemType Directory $package, $stage | Out-Null
Copy-Item (Join-Path $Out '*') $stage -Recurse
# The scheduled re-apply script and a sample CSV (docs/scheduling.md), so an installed module has them.
Copy-Item (Join-Path $Root 'docs/examples') (Join-Path $stage 'examples') -Recurse
$manifest = Join-Path $stage 'BypassNat.psd1'
$notes = (Get-ReleaseNote) -replace "'", "''"
# String.Replace, not -replace: in a regex replacement "$_" (as in a CHANGELOG's `{ $_.Name }`) is the whole input.
(Get-Content $manifest -Raw).Replace("ReleaseNotes = ''", "ReleaseNotes = '$notes'") | Set-Content $manifest -Encoding utf8
$repository = 'BypassNatBuild' + [guid]::NewGuid().ToString('N').Substring(0, 8)
Register-PSResourceRepository -Name $repository -Uri $package -Trusted
try {
    Publish-PSResource -Path $stage -Repository $repository
} finally {
    Unregister-PSResourceRepository -Name $repository
    Remove-Item (Split-Path $stage) -Recurse -Force
}
$nupkg = Get-ChildItem $package -Filter 'BypassNat.*.nupkg'
Write-Host "Packaged $($nupkg.FullName)"
