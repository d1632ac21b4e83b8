# Loads BypassNat.Core compiled ahead of time for this platform, when the build made one (linux-x64),
# before PowerShell loads BypassNat.dll: that assembly's cmdlets name the core's types, so the core
# must already be loaded when the module's commands are read. A fresh process (the scheduled run, a
# first apply) otherwise JIT-compiles the core's parser, set check, renderers and readers on the
# spot. The compiled file holds the same IL, so the runtime falls back to it method by method;
# everywhere else (Windows PowerShell included) the IL copy beside BypassNat.dll loads as usual.
# A nested module, not ScriptsToProcess, so Get-Module lists nothing new and Remove-Module takes it along.
if ($PSVersionTable.PSEdition -eq 'Core' -and $IsLinux -and [Runtime.InteropServices.RuntimeInformation]::ProcessArchitecture -eq 'X64') {
    $compiled = [IO.Path]::Combine($PSScriptRoot, 'native', 'linux-x64', 'BypassNat.Core.dll')
    $loaded = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'BypassNat.Core' }
    if (-not $loaded -and [IO.File]::Exists($compiled)) {
        try {
            $null = [Reflection.Assembly]::LoadFrom($compiled)
        } catch {
            # The IL copy beside BypassNat.dll loads instead: slower to start, the same behaviour.
            Write-Verbose "BypassNat: the compiled core did not load ($($_.Exception.Message)); using the IL copy."
        }
    }
}
Export-ModuleMember
