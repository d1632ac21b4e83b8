using System.Management.Automation;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>Remove-Module BypassNat closes the sessions still open, so no SSH connection outlives the module.</summary>
    public sealed class SessionCleanup : IModuleAssemblyCleanup
    {
        public void OnRemove(PSModuleInfo psModuleInfo) => SessionTable.CloseAll();
    }
}
