using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat.Backends
{
    /// <summary>One protocol and port of a main-hop forward, from an nft element or an iptables rule.</summary>
    internal sealed class MainElement
    {
        public RuleComment Meta;
        public string Transport;
        public IPAddress KeyAddress;
        public PortRange KeyPorts;
        public IPAddress To;
        public PortRange ToPorts;
        // iptables: the rule's -s, and the clients all rules of this key admit once grouped (nft keeps them in sets of their own).
        public Ipv4Prefix? Source;
        public SourceSet Sources = SourceSet.Any;
        public string Text;

        /// <summary>
        /// Puts the elements of each forward back together: one protocol set, contiguous external ports
        /// matching the comment, one bypass address, one port offset; the public-address elements must
        /// mirror them. Anything else is a problem, replaced on the next apply.
        /// </summary>
        public static void Assemble(List<MainElement> wan, List<MainElement> viaPublic, MainState state)
        {
            var publicByName = viaPublic.GroupBy(e => e.Meta.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            foreach (IGrouping<string, MainElement> group in wan.GroupBy(e => e.Meta.Name, StringComparer.Ordinal))
            {
                BypassForward forward = Whole(group.ToList(), null);
                if (forward != null && publicByName.TryGetValue(group.Key, out List<MainElement> hairpin))
                {
                    publicByName.Remove(group.Key);
                    BypassForward mirror = Whole(hairpin, hairpin[0].KeyAddress);
                    forward = mirror != null && mirror.DifferingFields(forward.WithPublicAddress(hairpin[0].KeyAddress)).Count == 0 ? mirror : null;
                }

                if (forward == null) state.Problems.Add($"the main router's rules for '{group.Key}' do not form one forward");
                else state.Forwards.Add(forward);
            }

            foreach (string orphan in publicByName.Keys)
                state.Problems.Add($"public-address rules for '{orphan}' without its forward");
        }

        private static BypassForward Whole(List<MainElement> elements, IPAddress publicAddress)
        {
            MainElement first = elements[0];
            var transports = elements.Select(e => e.Transport).Distinct().OrderBy(t => t, StringComparer.Ordinal).ToList();
            // Expand ranges into ports so nft elements (one per port) and iptables rules (one per range) read alike.
            var pairs = elements.SelectMany(e => Enumerable.Range(0, e.KeyPorts.Count).Select(i => (e.Transport, Key: e.KeyPorts.Start + i, Value: e.ToPorts.Start + i))).ToList();
            PortRange ext = first.Meta.ExternalPort;
            int offset = pairs[0].Value - pairs[0].Key;
            bool whole = elements.All(e => e.Meta.ExternalPort == ext && e.Meta.Comment == first.Meta.Comment && e.To.Equals(first.To) && Equals(e.KeyAddress, publicAddress)
                    && e.Sources.Equals(first.Sources))
                && transports.All(t => pairs.Where(p => p.Transport == t).Select(p => p.Key).OrderBy(k => k).SequenceEqual(Enumerable.Range(ext.Start, ext.Count)))
                && pairs.Count == ext.Count * transports.Count
                && pairs.All(p => p.Value - p.Key == offset);
            // Ports map one to one (New-BypassForward requires it), so the offset gives the bypass ports.
            if (!whole || ext.Start + offset < PortRange.MinPort || ext.End + offset > PortRange.MaxPort) return null;
            var bypassPort = new PortRange(ext.Start + offset, ext.End + offset);
            ForwardProtocol protocol = transports.Count == 2 ? ForwardProtocol.TcpUdp : transports[0] == "udp" ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
            return MainHop.Project(new BypassForward(first.Meta.Name, protocol, ext, first.To, bypassPort, first.To, bypassPort, false, first.Meta.Comment, true, publicAddress, first.Sources));
        }
    }
}
