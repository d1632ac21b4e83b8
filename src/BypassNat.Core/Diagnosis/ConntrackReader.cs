using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Diagnosis
{
    /// <summary>Reads the router's connection-tracking entries addressed to given addresses (<c>conntrack -L --orig-dst</c>).</summary>
    public static class ConntrackReader
    {
        public static IReadOnlyList<ConntrackEntry> Read(RouterSession session, IEnumerable<IPAddress> destinations)
        {
            string script = "command -v conntrack >/dev/null 2>&1 || { echo 'conntrack: not found' >&2; exit 127; }\n";
            foreach (IPAddress address in destinations.Distinct())
                script += session.Privileged + "conntrack -L --orig-dst " + address + " </dev/null || exit $?\n";
            CommandResult result = session.Run(RouterScript.Wrap(script), "reading the connection table");
            if (!result.Succeeded) throw RouterScript.Failure(session, "read its connection tracking table (conntrack -L)", result, "conntrack");
            return result.Output.Split('\n').Select(ConntrackEntry.Parse).Where(e => e != null).ToList();
        }
    }
}
