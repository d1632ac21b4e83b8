using System.Collections.Generic;
using System.Linq;

namespace BypassNat
{
    /// <summary>
    /// What rendering needs to know about the router besides the forwards: its connected LANs. A LAN
    /// client reaching a device on its own LAN through the router (at the bypass address, or at the
    /// public address) must be source-NATed, or the device answers it directly and the reply is lost.
    /// </summary>
    public sealed class RenderContext
    {
        public static readonly RenderContext None = new RenderContext(new Ipv4Prefix[0]);

        public RenderContext(IEnumerable<Ipv4Prefix> lanPrefixes) => LanPrefixes = lanPrefixes.Distinct().ToList();

        public IReadOnlyList<Ipv4Prefix> LanPrefixes { get; }

        /// <summary>The router's LAN the device is on, or null when it is reached through a route.</summary>
        public Ipv4Prefix? LanOf(BypassForward forward)
        {
            foreach (Ipv4Prefix prefix in LanPrefixes)
                if (prefix.Contains(forward.InternalAddress)) return prefix;
            return null;
        }
    }
}
