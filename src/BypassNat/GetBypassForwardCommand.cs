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
                    var forwards = Applier(session).ReadState().Forwards;
                    foreach (BypassForward forward in forwards)
                        if (patterns.Any(p => p.IsMatch(forward.Name))) WriteObject(forward);

                    // Like Get-Item: a plain name that matches nothing is an error; a wildcard is not.
                    foreach (string name in (Name ?? new string[0]).Where(n => !WildcardPattern.ContainsWildcardCharacters(n)))
                        if (!forwards.Any(f => string.Equals(f.Name, name, System.StringComparison.OrdinalIgnoreCase)))
                            WriteError(new ErrorRecord(new ItemNotFoundException($"{ComputerName} has no BypassNat forward named '{name}'."),
                                "BypassNat.ForwardNotFound", ErrorCategory.ObjectNotFound, name));
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }
    }
}
