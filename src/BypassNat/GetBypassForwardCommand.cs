using System;
using System.Collections.Generic;
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
        [ArgumentCompleter(typeof(ForwardNameCompleter))]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void EndProcessing()
        {
            try
            {
                using (RouterSession session = Connect())
                {
                    List<BypassForward> forwards = SelectByName(Applier(session).ReadState().Forwards, Name ?? new[] { "*" });
                    // nftables keeps no order (a map lists in hash order), so both backends answer in
                    // one that reads well and stays put: by bypass address, then port.
                    WriteObject(forwards.OrderBy(f => f.BypassAddress.GetAddressBytes().Aggregate(0L, (n, b) => n * 256 + b))
                        .ThenBy(f => f.BypassPort.Start).ThenBy(f => f.Name, StringComparer.OrdinalIgnoreCase), true);
                }
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }
        }
    }
}
