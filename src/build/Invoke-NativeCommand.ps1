# Runs a native command (a script block) and throws when it exits non-zero: PowerShell does not, even
# under $ErrorActionPreference = 'Stop'.
param([Parameter(Mandatory)] [string] $What, [Parameter(Mandatory)] [scriptblock] $Command)
& $Command
if ($LASTEXITCODE -ne 0) { throw "$What failed (exit code $LASTEXITCODE)." }
