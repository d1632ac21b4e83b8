using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Plan
{
    /// <summary>
    /// One port forward to enter in a router's web GUI (iKuai, consumer routers): plain strings, so a
    /// person can follow it on screen and Export-Csv writes it as shown.
    /// </summary>
    public sealed class ForwardPlanEntry
    {
        /// <summary>Which router to enter it on: "main router", or the bypass router's address.</summary>
        public string Router { get; set; }

        /// <summary>
        /// Main (step 1: WAN to the bypass router), Bypass (step 2: bypass router to the device), or
        /// MainIPv6: an allow rule in the main router's IPv6 firewall (no port forward: IPv6 has no NAT)
        /// from the WAN to the device's InternalAddress, an interface identifier such as ::20 (the
        /// router's "interface ID" or suffix field; OpenWrt's ::20/-64) or a full address.
        /// </summary>
        public string Hop { get; set; }
        public string Name { get; set; }

        /// <summary>TCP, UDP or TCP+UDP, as GUIs name them.</summary>
        public string Protocol { get; set; }

        /// <summary>The port the packet arrives on at that router (a range as 9001-9003).</summary>
        public string ExternalPort { get; set; }

        /// <summary>Where that router sends it: the bypass router (main hop) or the device (bypass hop).</summary>
        public string InternalAddress { get; set; }
        public string InternalPort { get; set; }
        public string Comment { get; set; }

        /// <summary>
        /// The only clients to forward (AllowedSource, space-separated; GUIs call it "source IP" or
        /// "remote host"); empty for every client. It belongs at both hops.
        /// </summary>
        public string AllowedSource { get; set; }

        /// <summary>
        /// The plan for the enabled forwards: every main-router entry first (that is where a packet
        /// arrives), then the bypass routers', each in input order.
        /// </summary>
        public static IReadOnlyList<ForwardPlanEntry> For(IEnumerable<BypassForward> forwards, IReadOnlyCollection<RouterRole> hops, string mainRouter)
        {
            List<BypassForward> enabled = forwards.Where(f => f.Enabled).ToList();
            var entries = new List<ForwardPlanEntry>();
            if (hops.Contains(RouterRole.Main))
                entries.AddRange(enabled.Where(f => f.HasIpv4).Select(f => Entry(f, mainRouter, RouterRole.Main, f.ExternalPort, f.BypassAddress.ToString(), f.BypassPort)));
            if (hops.Contains(RouterRole.Main))
                entries.AddRange(enabled.Where(f => f.InternalIPv6 != null).Select(f =>
                {
                    ForwardPlanEntry entry = Entry(f, mainRouter, RouterRole.Main, f.InternalPort, f.InternalIPv6.ToString(), f.InternalPort);
                    entry.Hop = "MainIPv6";
                    entry.AllowedSource = f.AllowedSourceIPv6.ToString();
                    return entry;
                }));
            if (hops.Contains(RouterRole.Bypass))
                entries.AddRange(enabled.Where(f => f.HasIpv4).Select(f => Entry(f, f.BypassAddress.ToString(), RouterRole.Bypass, f.BypassPort, f.InternalAddress.ToString(), f.InternalPort)));
            return entries;
        }

        private static ForwardPlanEntry Entry(BypassForward forward, string router, RouterRole hop, PortRange from, string to, PortRange toPort) =>
            new ForwardPlanEntry
            {
                Router = router,
                Hop = hop.ToString(),
                Name = forward.Name,
                Protocol = forward.Protocol == ForwardProtocol.TcpUdp ? "TCP+UDP" : forward.Protocol.ToString().ToUpperInvariant(),
                ExternalPort = from.ToString(),
                InternalAddress = to,
                InternalPort = toPort.ToString(),
                Comment = forward.Comment,
                AllowedSource = forward.AllowedSource.ToString(),
            };
    }
}
