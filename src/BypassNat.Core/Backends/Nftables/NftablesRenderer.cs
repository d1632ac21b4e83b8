using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// Renders forwards as one <c>nft -f</c> file that replaces BypassNat's table whole: declare it
    /// (so the delete cannot fail), delete it, define it again. nft runs a file as one transaction,
    /// so the kernel swaps the old table for the new one or keeps the old one.
    /// </summary>
    public static class NftablesRenderer
    {
        public static string Render(IEnumerable<BypassForward> forwards, RenderContext context = null)
        {
            context = context ?? RenderContext.None;
            List<BypassForward> enabled = BypassForward.InRouterOrder(forwards.Where(f => f.Enabled)).ToList();
            var text = new StringBuilder();
            text.Append("table ").Append(NftablesTable.Qualified).Append('\n');
            text.Append("delete table ").Append(NftablesTable.Qualified).Append('\n');
            text.Append("table ").Append(NftablesTable.Qualified).Append(" {\n");

            // One map lookup a packet, however many forwards: keyed by protocol, address and port,
            // valued by the device's address and port. A shifted range (19001-19002 to 9001-9002)
            // becomes one element per port, which is what maps one to one. A range kept as it is
            // (20000-29999 to the same ports) is one interval element in the ranges map, whose DNAT
            // changes only the address and so keeps each port, like iptables' DNAT without a port.
            // The public address (hairpin) is one more key to the same value.
            const string Key = "inet_proto . ipv4_addr . inet_service";
            AppendCollection(text, "map", NftablesTable.ForwardsMap, Key + " : ipv4_addr . inet_service", null, enabled.SelectMany(f => ForwardElements(f, ranges: false)));
            AppendCollection(text, "map", NftablesTable.RangesMap, Key + " : ipv4_addr", "interval", enabled.SelectMany(f => ForwardElements(f, ranges: true)));
            // Keyed by the device's ports. Every new connection is looked up here, so single ports go
            // into hash maps and sets (one lookup, whatever their number) and only device port ranges
            // into interval ones (whose lookup grows with the number of elements).
            List<DeviceElement> sourceNat = DeviceElements(enabled.Where(f => f.SourceNat), null, f => $" : {f.BypassAddress}");
            List<DeviceElement> reflect = DeviceElements(enabled.Where(f => context.LanOf(f) != null), RuleComment.ReflectRole, f => $" : {f.BypassAddress}");
            List<DeviceElement> targets = DeviceElements(enabled, RuleComment.KeepRole, f => string.Empty);
            AppendCollection(text, "map", NftablesTable.SourceNatMap, Key + " : ipv4_addr", null, Singles(sourceNat, true));
            AppendCollection(text, "map", NftablesTable.SourceNatRangesMap, Key + " : ipv4_addr", "interval", Singles(sourceNat, false));
            AppendCollection(text, "set", NftablesTable.LansSet, "ipv4_addr", "interval",
                enabled.Select(context.LanOf).Where(p => p != null).Select(p => p.Value.ToString()).Distinct());
            AppendCollection(text, "map", NftablesTable.ReflectMap, Key + " : ipv4_addr", null, Singles(reflect, true));
            AppendCollection(text, "map", NftablesTable.ReflectRangesMap, Key + " : ipv4_addr", "interval", Singles(reflect, false));
            AppendCollection(text, "set", NftablesTable.TargetsSet, Key, null, Singles(targets, true));
            AppendCollection(text, "set", NftablesTable.TargetRangesSet, Key, "interval", Singles(targets, false));
            AppendCollection(text, "set", NftablesTable.NotesSet, NftablesNotes.Key, null, NftablesNotes.Elements(enabled));
            bool restricted = NftablesSources.Needed(enabled);
            if (restricted) NftablesSources.AppendSets(text, enabled, NftablesSources.BypassKeys, withAddress: true);

            // dstnat - 10: before the iptables-nft nat table (dstnat) where a proxy's REDIRECT lives.
            text.Append("\tchain prerouting {\n");
            text.Append("\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n");
            // AllowedSource: a client a restricted forward does not admit leaves the chain before any DNAT.
            if (restricted) text.Append("\t\t").Append(NftablesSources.Rule(withAddress: true)).Append('\n');
            text.Append("\t\tmeta l4proto { tcp, udp } dnat ip to meta l4proto . ip daddr . th dport map @").Append(NftablesTable.ForwardsMap).Append('\n');
            // A packet no element of the first map matches goes on to this rule.
            text.Append("\t\tmeta l4proto { tcp, udp } dnat ip to meta l4proto . ip daddr . th dport map @").Append(NftablesTable.RangesMap).Append('\n');
            text.Append("\t}\n\n");

            // srcnat - 10: before a blanket MASQUERADE. In order: the forwards that ask for source NAT;
            // clients on the device's own LAN (or the device would answer them directly); everyone
            // else keeps their address. An accept would not stop a later NAT chain on this hook; a
            // binding does, so that last rule is an identity source NAT.
            const string Tuple = "meta l4proto . ip daddr . th dport";
            text.Append("\tchain postrouting {\n");
            text.Append("\t\ttype nat hook postrouting priority srcnat - 10; policy accept;\n");
            // Each decision is a hash lookup then an interval lookup; a failed map lookup falls through
            // to the next rule.
            foreach (string map in new[] { NftablesTable.SourceNatMap, NftablesTable.SourceNatRangesMap })
                text.Append("\t\tct status dnat meta l4proto { tcp, udp } snat ip to ").Append(Tuple).Append(" map @").Append(map).Append('\n');
            foreach (string map in new[] { NftablesTable.ReflectMap, NftablesTable.ReflectRangesMap })
                text.Append("\t\tct status dnat ip saddr @").Append(NftablesTable.LansSet).Append(" meta l4proto { tcp, udp } snat ip to ").Append(Tuple).Append(" map @").Append(map).Append('\n');
            foreach (string set in new[] { NftablesTable.TargetsSet, NftablesTable.TargetRangesSet })
                text.Append("\t\tct status dnat meta l4proto { tcp, udp } ").Append(Tuple).Append(" @").Append(set).Append(" snat ip to ip saddr\n");
            text.Append("\t}\n");
            text.Append("}\n");
            return text.ToString();
        }

        private static void AppendCollection(StringBuilder text, string kind, string name, string type, string flags, IEnumerable<string> elements)
        {
            text.Append('\t').Append(kind).Append(' ').Append(name).Append(" {\n");
            text.Append("\t\ttype ").Append(type).Append('\n');
            if (flags != null) text.Append("\t\tflags ").Append(flags).Append('\n');
            AppendElements(text, elements);
            text.Append("\t}\n\n");
        }

        private static void AppendElements(StringBuilder text, IEnumerable<string> elements)
        {
            // Two forwards may lead to the same device port (80 and 8080 both to :80); a set or map
            // takes each key once, so keep the first element of each key.
            List<string> list = elements.GroupBy(e => e.Substring(0, KeyLength(e)), StringComparer.Ordinal).Select(g => g.First()).ToList();
            if (list.Count == 0) return;
            text.Append("\t\telements = {\n");
            for (int i = 0; i < list.Count; i++)
                text.Append("\t\t\t").Append(list[i]).Append(i + 1 < list.Count ? ",\n" : "\n");
            text.Append("\t\t}\n");
        }

        private static int KeyLength(string element)
        {
            int comment = element.IndexOf(" comment ", StringComparison.Ordinal);
            return comment >= 0 ? comment : element.Length;
        }

        private static IEnumerable<string> ForwardElements(BypassForward forward, bool ranges)
        {
            foreach (string element in Elements(forward, forward.BypassAddress, forward.BypassPort, RuleComment.For(forward).WithoutNote().Encode(), ranges))
                yield return element;
            if (forward.PublicAddress == null) yield break;
            foreach (string element in Elements(forward, forward.PublicAddress, forward.ExternalPort, RuleComment.For(forward, RuleComment.PublicRole).WithoutNote().Encode(), ranges))
                yield return element;
        }

        /// <summary>An unshifted range needs no port translation: one interval element, in the ranges map.</summary>
        private static bool KeepsPorts(BypassForward forward, PortRange ports) => !ports.IsSingle && forward.InternalPort == ports;

        private static IEnumerable<string> Elements(BypassForward forward, System.Net.IPAddress address, PortRange ports, string comment, bool ranges)
        {
            if (KeepsPorts(forward, ports) != ranges) yield break;
            foreach (string transport in forward.Transports)
            {
                if (ranges)
                {
                    yield return $"{transport} . {address} . {ports} comment \"{comment}\" : {forward.InternalAddress}";
                    continue;
                }

                for (int i = 0; i < ports.Count; i++)
                    yield return $"{transport} . {address} . {ports.Start + i} comment \"{comment}\" : " +
                                 $"{forward.InternalAddress} . {forward.InternalPort.Start + i}";
            }
        }

        private struct DeviceElement
        {
            public bool Single;
            public string Text;
        }

        private static IEnumerable<string> Singles(List<DeviceElement> elements, bool single) => elements.Where(e => e.Single == single).Select(e => e.Text);

        /// <summary>
        /// Elements keyed by the translated packet: protocol, device address, device ports (one
        /// interval a forward and protocol). Two forwards may lead to the same device ports (80 and
        /// 8080 both to :80), and an interval set refuses overlapping elements, so the forward that
        /// claims a port first keeps it and a later one gets only the ports still free.
        /// </summary>
        private static List<DeviceElement> DeviceElements(IEnumerable<BypassForward> forwards, string role, Func<BypassForward, string> value)
        {
            var elements = new List<DeviceElement>();
            var claimed = new Dictionary<string, ClaimedPorts>(StringComparer.Ordinal);
            foreach (BypassForward forward in forwards)
            {
                string comment = RuleComment.For(forward, role).WithoutNote().Encode();
                foreach (string transport in forward.Transports)
                {
                    string key = $"{transport} . {forward.InternalAddress}";
                    if (!claimed.TryGetValue(key, out ClaimedPorts taken)) claimed[key] = taken = new ClaimedPorts();
                    foreach (PortRange free in taken.Claim(forward.InternalPort))
                        elements.Add(new DeviceElement { Single = free.IsSingle, Text = $"{key} . {free} comment \"{comment}\"{value(forward)}" });
                }
            }

            return elements;
        }

        /// <summary>The device ports already in a collection, so each later claim gets only what is still free.</summary>
        private sealed class ClaimedPorts
        {
            private readonly HashSet<int> _single = new HashSet<int>();
            private readonly List<PortRange> _ranges = new List<PortRange>();

            public List<PortRange> Claim(PortRange wanted)
            {
                var inTheWay = new List<PortRange>();
                foreach (PortRange range in _ranges)
                    if (range.Overlaps(wanted)) inTheWay.Add(range);
                if (wanted.Count <= _single.Count)
                {
                    for (int port = wanted.Start; port <= wanted.End; port++)
                        if (_single.Contains(port)) inTheWay.Add(new PortRange(port, port));
                }
                else
                {
                    foreach (int port in _single)
                        if (wanted.Contains(port)) inTheWay.Add(new PortRange(port, port));
                }

                var free = new List<PortRange> { wanted };
                foreach (PortRange taken in inTheWay)
                {
                    var rest = new List<PortRange>();
                    foreach (PortRange part in free)
                    {
                        if (!part.Overlaps(taken)) { rest.Add(part); continue; }
                        if (part.Start < taken.Start) rest.Add(new PortRange(part.Start, taken.Start - 1));
                        if (part.End > taken.End) rest.Add(new PortRange(taken.End + 1, part.End));
                    }

                    free = rest;
                }

                foreach (PortRange part in free)
                {
                    if (part.IsSingle) _single.Add(part.Start);
                    else _ranges.Add(part);
                }

                return free;
            }
        }
    }
}
