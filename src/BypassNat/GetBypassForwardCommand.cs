using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Collections.Concurrent;

namespace BypassNat.Commands
{
    /// <summary>Reads the forwards BypassNat manages back from a router, as the objects New-BypassForward makes.</summary>
    [Cmdlet(VerbsCommon.Get, "BypassForward", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(RouterForward))]
    public sealed class GetBypassForwardCommand : RouterCommand
    {
        /// <summary>Only forwards whose name matches one of these wildcard patterns.</summary>
        [Parameter(Position = 0)]
        [ArgumentCompleter(typeof(ForwardNameCompleter))]
        [SupportsWildcards]
        public string[] Name { get; set; }

        protected override void ProcessRouters()
        {
            // Several routers answer in parallel and in any order; their forwards are written when all
            // are read, router by router in the order given, so a table reads router by router.
            var read = new ConcurrentDictionary<RouterTarget, List<BypassForward>>();
            ForEachRouter((router, session) =>
            {
                var applier = Applier(router, session);
                // The IPv6 part lives in the ip6tables rules, which the nat rules do not show; IPv6-only forwards only there.
                List<BypassForward> forwards = SelectByName(router, applier.ReadAll(), Name ?? new[] { "*" }).ToList();
                // nftables keeps no order (a map lists in hash order), so both backends answer in
                // one that reads well and stays put: by bypass address, then port.
                forwards = forwards.OrderBy(f => f.BypassAddress.GetAddressBytes().Aggregate(0L, (n, b) => n * 256 + b))
                    .ThenBy(f => f.BypassPort.Start).ThenBy(f => f.Name, StringComparer.OrdinalIgnoreCase).ToList();
                if (Routers.Count == 1) foreach (BypassForward forward in forwards) Emit(new RouterForward(forward, router.Name));
                else read[router] = forwards;
            });
            foreach (RouterTarget router in Routers)
                if (read.TryGetValue(router, out List<BypassForward> forwards))
                    foreach (BypassForward forward in forwards) WriteObject(new RouterForward(forward, router.Name));
        }
    }
}
