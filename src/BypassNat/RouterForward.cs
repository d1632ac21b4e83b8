using System.Management.Automation;

namespace BypassNat.Commands
{
    /// <summary>
    /// A forward as Get-BypassForward read it from a router: the forward, and which router holds it.
    /// ComputerName is hidden (PowerShell's Hidden attribute, as a class's <c>hidden</c> member): it
    /// binds by property name (Remove-BypassForward, Test-BypassForward) and reads as
    /// $forward.ComputerName, but Export-Csv writes only the CSV columns, so the file applies again as
    /// it is. Its own type name selects the table grouped by router.
    /// </summary>
    public sealed class RouterForward : BypassForward
    {
        public RouterForward(BypassForward forward, string computerName)
            : base(forward)
        {
            ComputerName = computerName;
        }

        [Hidden]
        public string ComputerName { get; }
    }
}
