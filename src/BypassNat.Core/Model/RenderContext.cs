using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat
{
    /// <summary>
    /// What rendering needs to know about the router besides the forwards: its connected LANs. A LAN
    /// client reaching a device on its own LAN through the router (at the bypass address, or at the
    /// public address) must be source-NATed, or the device answers it directly and the reply is lost.
    /// On the main router also its WAN interface (written into the rules) and the WAN's current
    /// addresses (used only to clear conntrack entries, never written into a rule).
    /// </summary>
    public sealed class RenderContext
    {
        public static readonly RenderContext None = new RenderContext(new Ipv4Prefix[0]);

        public RenderContext(IEnumerable<Ipv4Prefix> lanPrefixes, string wanInterface = null, IEnumerable<IPAddress> wanAddresses = null)
        {
            LanPrefixes = lanPrefixes.Distinct().ToList();
            WanInterface = wanInterface;
            WanAddresses = (wanAddresses ?? new IPAddress[0]).ToList();
        }

        public IReadOnlyList<Ipv4Prefix> LanPrefixes { get; }

        /// <summary>The main router's WAN interface; null for the bypass router.</summary>
        public string WanInterface { get; }

        /// <summary>The main router's WAN addresses as they are now (a PPPoE reconnect changes them).</summary>
        public IReadOnlyList<IPAddress> WanAddresses { get; }

        /// <summary>The router's LAN the device is on, or null when it is reached through a route.</summary>
        public Ipv4Prefix? LanOf(BypassForward forward) => LanOf(forward.InternalAddress);

        public Ipv4Prefix? LanOf(IPAddress address)
        {
            foreach (Ipv4Prefix prefix in LanPrefixes)
                if (prefix.Contains(address)) return prefix;
            return null;
        }
    }
}
