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
            try
            {
                using (RouterSession session = Connect())
                {
                    WriteObject(SelectByName(Applier(session).ReadState().Forwards, Name ?? new[] { "*" }), true);
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }
    }
}
