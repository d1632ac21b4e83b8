using System.Linq;
using System.Management.Automation;
using BypassNat.Apply;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>Reads the forwards BypassNat manages back from a router, as the objects New-BypassForward makes.</summary>
    [Cmdlet(VerbsCommon.Get, "BypassForward")]
    [OutputType(typeof(BypassForward))]
    public sealed class GetBypassForwardCommand : RouterCommand
    {
        /// <summary>Only forwards whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void EndProcessing()
        {
            WildcardPattern[] patterns = (Name ?? new[] { "*" })
                .Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToArray();
            try
            {
                using (RouterSession session = Connect())
                {
                    foreach (BypassForward forward in Applier(session).ReadState().Forwards)
                        if (patterns.Any(p => p.IsMatch(forward.Name))) WriteObject(forward);
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }
    }
}
