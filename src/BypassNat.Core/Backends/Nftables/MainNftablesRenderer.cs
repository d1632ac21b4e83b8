using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// The main router's half as one <c>nft -f</c> file that replaces table ip bypassnat_main whole.
    /// WAN packets are matched by their input interface and "addressed to this router" (fib), never by
    /// the WAN address, which a PPPoE reconnect changes.
    /// </summary>
    public static class MainNftablesRenderer
    {
        public static string Render(IEnumerable<BypassForward> forwards, RenderContext context)
        {
            List<BypassForward> enabled = BypassForward.InRouterOrder(forwards.Where(f => f.Enabled)).Select(MainHop.Project).ToList();
            string wan = context?.WanInterface ?? throw new System.ArgumentException("The main hop needs the WAN interface.", nameof(context));
            var text = new StringBuilder();
            text.Append("table ").Append(MainTable.Qualified).Append('\n');
            text.Append("delete table ").Append(MainTable.Qualified).Append('\n');
            text.Append("table ").Append(MainTable.Qualified).Append(" {\n");

            // Keyed by protocol and external port only: the WAN address is not part of the key. Single
            // ports and remapped ranges one element a port in hash maps (a lookup that does not grow with
            // the forwards); ranges kept as they are one interval element a protocol.
            List<BypassForward> each = enabled.Where(f => !KeptRange(f)).ToList(), kept = enabled.Where(KeptRange).ToList();
            Collection(text, "map", MainTable.ForwardsMap, "inet_proto . inet_service : ipv4_addr . inet_service", null,
                each.SelectMany(f => Elements(f, null, f.ExternalPort, RuleComment.For(f).WithoutNote().Encode())));
            Collection(text, "map", MainTable.ForwardRangesMap, "inet_proto . inet_service : ipv4_addr", "interval",
                kept.SelectMany(f => RangeElements(f, null, f.ExternalPort, RuleComment.For(f).WithoutNote().Encode(), f.BypassAddress)));
            Collection(text, "map", MainTable.PublicMap, "inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service", null,
                each.Where(f => f.PublicAddress != null).SelectMany(f => Elements(f, f.PublicAddress, f.ExternalPort, RuleComment.For(f, RuleComment.PublicRole).WithoutNote().Encode())));
            Collection(text, "map", MainTable.PublicRangesMap, "inet_proto . ipv4_addr . inet_service : ipv4_addr", "interval",
                kept.Where(f => f.PublicAddress != null).SelectMany(f => RangeElements(f, f.PublicAddress, f.ExternalPort, RuleComment.For(f, RuleComment.PublicRole).WithoutNote().Encode(), f.BypassAddress)));
            Collection(text, "set", MainTable.LansSet, "ipv4_addr", "interval",
                enabled.Any(f => f.PublicAddress != null) ? context.LanPrefixes.Select(p => p.ToString()) : new string[0]);
            Collection(text, "set", MainTable.ReflectSet, "inet_proto . ipv4_addr . inet_service", null,
                each.Where(f => f.PublicAddress != null).SelectMany(f => Elements(f, f.BypassAddress, f.BypassPort, RuleComment.For(f, RuleComment.ReflectRole).WithoutNote().Encode(), keyOnly: true)));
            Collection(text, "set", MainTable.ReflectRangesSet, "inet_proto . ipv4_addr . inet_service", "interval",
                kept.Where(f => f.PublicAddress != null).SelectMany(f => RangeElements(f, f.BypassAddress, f.BypassPort, RuleComment.For(f, RuleComment.ReflectRole).WithoutNote().Encode(), null)));
            // The users' comments, as on the bypass hop: apart from the elements, which keep 128 bytes each.
            Collection(text, "set", MainTable.NotesSet, NftablesNotes.Key, null, NftablesNotes.Elements(enabled));
            bool restricted = NftablesSources.Needed(enabled);
            if (restricted) NftablesSources.AppendSets(text, enabled, NftablesSources.MainKeys, withAddress: false);

            // dstnat - 10, as on the bypass router: before the iptables-nft nat table and fw4's dstnat.
            text.Append("\tchain prerouting {\n");
            text.Append("\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n");
            // AllowedSource: a client a restricted forward does not admit leaves the chain before any DNAT.
            if (restricted) text.Append("\t\t").Append(NftablesSources.Rule(withAddress: false)).Append('\n');
            text.Append("\t\tiifname \"").Append(wan).Append("\" fib daddr type local meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @").Append(MainTable.ForwardsMap).Append('\n');
            text.Append("\t\tiifname \"").Append(wan).Append("\" fib daddr type local meta l4proto { tcp, udp } dnat ip to meta l4proto . th dport map @").Append(MainTable.ForwardRangesMap).Append('\n');
            text.Append("\t\tmeta l4proto { tcp, udp } dnat ip to meta l4proto . ip daddr . th dport map @").Append(MainTable.PublicMap).Append('\n');
            text.Append("\t\tmeta l4proto { tcp, udp } dnat ip to meta l4proto . ip daddr . th dport map @").Append(MainTable.PublicRangesMap).Append('\n');
            text.Append("\t}\n\n");

            // NAT reflection: a LAN client sent to the bypass router at the public address is
            // source-NATed to this router's LAN address (masquerade picks it, no address written), so the
            // bypass router answers through this router and the client sees the public address answer.
            text.Append("\tchain postrouting {\n");
            text.Append("\t\ttype nat hook postrouting priority srcnat - 10; policy accept;\n");
            text.Append("\t\tct status dnat ip saddr @").Append(MainTable.LansSet).Append(" meta l4proto { tcp, udp } meta l4proto . ip daddr . th dport @")
                .Append(MainTable.ReflectSet).Append(" masquerade\n");
            text.Append("\t\tct status dnat ip saddr @").Append(MainTable.LansSet).Append(" meta l4proto { tcp, udp } meta l4proto . ip daddr . th dport @")
                .Append(MainTable.ReflectRangesSet).Append(" masquerade\n");
            text.Append("\t}\n");
            text.Append("}\n");
            return text.ToString();
        }

        private static void Collection(StringBuilder text, string kind, string name, string type, string flags, IEnumerable<string> elements)
        {
            text.Append('\t').Append(kind).Append(' ').Append(name).Append(" {\n");
            text.Append("\t\ttype ").Append(type).Append('\n');
            if (flags != null) text.Append("\t\tflags ").Append(flags).Append('\n');
            List<string> list = elements.Distinct().ToList();
            if (list.Count > 0)
            {
                text.Append("\t\telements = {\n");
                for (int i = 0; i < list.Count; i++) text.Append("\t\t\t").Append(list[i]).Append(i + 1 < list.Count ? ",\n" : "\n");
                text.Append("\t\t}\n");
            }

            text.Append("\t}\n\n");
        }

        /// <summary>A range whose ports the main router keeps (the bypass router's are the same): one interval element a protocol.</summary>
        internal static bool KeptRange(BypassForward forward) => forward.ExternalPort.Count > 1 && forward.ExternalPort == forward.BypassPort;

        private static IEnumerable<string> RangeElements(BypassForward forward, IPAddress keyAddress, PortRange keyPorts, string comment, IPAddress to)
        {
            string address = keyAddress == null ? string.Empty : keyAddress + " . ";
            foreach (string transport in forward.Transports)
                yield return to == null
                    ? $"{transport} . {address}{keyPorts.Start}-{keyPorts.End} comment \"{comment}\""
                    : $"{transport} . {address}{keyPorts.Start}-{keyPorts.End} comment \"{comment}\" : {to}";
        }

        private static IEnumerable<string> Elements(BypassForward forward, IPAddress keyAddress, PortRange keyPorts, string comment, bool keyOnly = false)
        {
            string address = keyAddress == null ? string.Empty : keyAddress + " . ";
            foreach (string transport in forward.Transports)
                for (int i = 0; i < keyPorts.Count; i++)
                    yield return keyOnly
                        ? $"{transport} . {address}{keyPorts.Start + i} comment \"{comment}\""
                        : $"{transport} . {address}{keyPorts.Start + i} comment \"{comment}\" : {forward.BypassAddress} . {forward.BypassPort.Start + i}";
        }
    }
}
