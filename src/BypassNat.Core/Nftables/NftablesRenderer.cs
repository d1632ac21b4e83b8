using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace BypassNat.Nftables
{
    /// <summary>
    /// Renders forwards as one <c>nft -f</c> file that replaces BypassNat's table whole: declare it
    /// (so the delete cannot fail), delete it, define it again. nft runs a file as one transaction,
    /// so the kernel swaps the old table for the new one or keeps the old one.
    /// </summary>
    public static class NftablesRenderer
    {
        public static string Render(IEnumerable<BypassForward> forwards)
        {
            List<BypassForward> enabled = forwards.Where(f => f.Enabled).ToList();
            var text = new StringBuilder();
            text.Append("table ").Append(NftablesTable.Qualified).Append('\n');
            text.Append("delete table ").Append(NftablesTable.Qualified).Append('\n');
            text.Append("table ").Append(NftablesTable.Qualified).Append(" {\n");

            // One map lookup a packet, however many forwards: keyed by protocol, bypass address and
            // port, valued by the device's address and port. A range becomes one element per port,
            // which is what maps one to one.
            text.Append("\tmap ").Append(NftablesTable.ForwardsMap).Append(" {\n");
            text.Append("\t\ttype inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service\n");
            AppendElements(text, enabled.SelectMany(ForwardElements));
            text.Append("\t}\n\n");

            text.Append("\tmap ").Append(NftablesTable.SourceNatMap).Append(" {\n");
            text.Append("\t\ttype inet_proto . ipv4_addr . inet_service : ipv4_addr\n");
            AppendElements(text, enabled.Where(f => f.SourceNat).SelectMany(SourceNatElements));
            text.Append("\t}\n\n");

            // dstnat - 10: before the iptables-nft nat table (dstnat) where a proxy's REDIRECT lives.
            text.Append("\tchain prerouting {\n");
            text.Append("\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n");
            text.Append("\t\tmeta l4proto { tcp, udp } dnat ip to meta l4proto . ip daddr . th dport map @").Append(NftablesTable.ForwardsMap).Append('\n');
            text.Append("\t}\n\n");

            // srcnat - 10: before a blanket MASQUERADE; only connections this table DNATed.
            text.Append("\tchain postrouting {\n");
            text.Append("\t\ttype nat hook postrouting priority srcnat - 10; policy accept;\n");
            text.Append("\t\tct status dnat meta l4proto { tcp, udp } snat ip to meta l4proto . ip daddr . th dport map @").Append(NftablesTable.SourceNatMap).Append('\n');
            text.Append("\t}\n");
            text.Append("}\n");
            return text.ToString();
        }

        private static void AppendElements(StringBuilder text, IEnumerable<string> elements)
        {
            List<string> list = elements.ToList();
            if (list.Count == 0) return;
            text.Append("\t\telements = {\n");
            for (int i = 0; i < list.Count; i++)
                text.Append("\t\t\t").Append(list[i]).Append(i + 1 < list.Count ? ",\n" : "\n");
            text.Append("\t\t}\n");
        }

        private static IEnumerable<string> ForwardElements(BypassForward forward)
        {
            string comment = RuleComment.For(forward).Encode();
            foreach (string transport in forward.Transports)
                for (int i = 0; i < forward.BypassPort.Count; i++)
                    yield return $"{transport} . {forward.BypassAddress} . {forward.BypassPort.Start + i} comment \"{comment}\" : " +
                                 $"{forward.InternalAddress} . {forward.InternalPort.Start + i}";
        }

        private static IEnumerable<string> SourceNatElements(BypassForward forward)
        {
            string comment = RuleComment.For(forward).Encode();
            foreach (string transport in forward.Transports)
                for (int i = 0; i < forward.InternalPort.Count; i++)
                    yield return $"{transport} . {forward.InternalAddress} . {forward.InternalPort.Start + i} comment \"{comment}\" : {forward.BypassAddress}";
        }
    }
}
