using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;
using BypassNat.Nftables;

namespace BypassNat.Main
{
    /// <summary>
    /// Reads the main router's forwards back from <c>nft -nn list table ip bypassnat_main</c>. The
    /// elements of one forward share its comment and are put back together only if they still form
    /// exactly what <see cref="MainNftablesRenderer"/> wrote.
    /// </summary>
    public static class MainNftablesReader
    {
        private static readonly Regex WanElement = new Regex(
            @"^(?<proto>\w+) \. (?<port>\d+) comment ""(?<comment>[^""]*)"" : (?<to>[\d.]+) \. (?<toport>\d+)$", RegexOptions.CultureInvariant);

        private static readonly Regex PublicElement = new Regex(
            @"^(?<proto>\w+) \. (?<addr>[\d.]+) \. (?<port>\d+) comment ""(?<comment>[^""]*)"" : (?<to>[\d.]+) \. (?<toport>\d+)$", RegexOptions.CultureInvariant);

        // A kept range: one interval element a protocol, to the bypass router's address (the ports stay).
        private static readonly Regex WanRangeElement = new Regex(
            @"^(?<proto>\w+) \. (?<port>\d+)-(?<end>\d+) comment ""(?<comment>[^""]*)"" : (?<to>[\d.]+)$", RegexOptions.CultureInvariant);

        private static readonly Regex PublicRangeElement = new Regex(
            @"^(?<proto>\w+) \. (?<addr>[\d.]+) \. (?<port>\d+)-(?<end>\d+) comment ""(?<comment>[^""]*)"" : (?<to>[\d.]+)$", RegexOptions.CultureInvariant);

        public static MainState Read(string listing, string expectedWan = null)
        {
            var state = new MainState { ExpectedWanInterface = expectedWan };
            if (string.IsNullOrWhiteSpace(listing) || !listing.Contains("table " + MainTable.Qualified + " ")) return state;
            state.Exists = true;
            Match hook = Regex.Match(listing,
                @"type nat hook prerouting priority (-110|dstnat - 10);[^\n]*\n" + NftablesSources.RulePattern(withAddress: false) + @"\s*iifname ""(?<wan>[^""]+)"" fib daddr type (2|local) meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. th dport map @" + MainTable.ForwardsMap + @"\n" +
                @"\s*iifname ""\k<wan>"" fib daddr type (2|local) meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. th dport map @" + MainTable.ForwardRangesMap + @"\n" +
                @"\s*meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. ip daddr \. th dport map @" + MainTable.PublicMap + @"\n" +
                @"\s*meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. ip daddr \. th dport map @" + MainTable.PublicRangesMap + @"\n");
            NftablesSources.Held sources = NftablesSources.Read(listing, withAddress: false, state.Problems);
            // Restricted forwards without the rule that restricts them would admit every client.
            state.PreroutingHooked = hook.Success && (!sources.Any || hook.Groups["sources"].Success);
            if (hook.Success) state.WanInterface = hook.Groups["wan"].Value;
            state.PostroutingHooked = Regex.IsMatch(listing,
                @"type nat hook postrouting priority (90|srcnat - 10);[^\n]*\n\s*ct status (dnat|0x20) ip saddr @" + MainTable.LansSet +
                @" meta l4proto \{[^}]*\} meta l4proto \. ip daddr \. th dport @" + MainTable.ReflectSet + @" masquerade\n" +
                @"\s*ct status (dnat|0x20) ip saddr @" + MainTable.LansSet +
                @" meta l4proto \{[^}]*\} meta l4proto \. ip daddr \. th dport @" + MainTable.ReflectRangesSet + @" masquerade\n");

            var wan = new List<MainElement>();
            foreach (string text in Elements(listing, MainTable.ForwardsMap))
            {
                MainElement e = MainElement.Parse(WanElement.Match(text), null);
                if (e == null || e.Meta.Role != null) state.Problems.Add($"map {MainTable.ForwardsMap}: {text}");
                else wan.Add(e);
            }

            foreach (string text in Elements(listing, MainTable.ForwardRangesMap))
            {
                MainElement e = MainElement.ParseRange(WanRangeElement.Match(text), null);
                if (e == null || e.Meta.Role != null) state.Problems.Add($"map {MainTable.ForwardRangesMap}: {text}");
                else wan.Add(e);
            }

            var viaPublic = new List<MainElement>();
            foreach (string text in Elements(listing, MainTable.PublicRangesMap))
            {
                Match m = PublicRangeElement.Match(text);
                MainElement e = m.Success && IPAddress.TryParse(m.Groups["addr"].Value, out IPAddress address) ? MainElement.ParseRange(m, address) : null;
                if (e == null || e.Meta.Role != RuleComment.PublicRole) state.Problems.Add($"map {MainTable.PublicRangesMap}: {text}");
                else viaPublic.Add(e);
            }

            foreach (string text in Elements(listing, MainTable.PublicMap))
            {
                Match m = PublicElement.Match(text);
                MainElement e = m.Success && IPAddress.TryParse(m.Groups["addr"].Value, out IPAddress address) ? MainElement.Parse(m, address) : null;
                if (e == null || e.Meta.Role != RuleComment.PublicRole) state.Problems.Add($"map {MainTable.PublicMap}: {text}");
                else viaPublic.Add(e);
            }

            MainElement.Assemble(wan, viaPublic, state);
            for (int i = state.Forwards.Count - 1; i >= 0; i--)
            {
                BypassForward forward = sources.Attach(state.Forwards[i], NftablesSources.MainKeys);
                if (forward != null) state.Forwards[i] = forward;
                else
                {
                    state.Problems.Add($"the main router's allowed sources for '{state.Forwards[i].Name}' do not form one forward's");
                    state.Forwards.RemoveAt(i);
                }
            }

            foreach (string orphan in sources.Orphans)
                state.Problems.Add($"allowed-source elements for '{orphan}' without its forward");
            Dictionary<string, string> notes = NftablesNotes.Read(listing, state.Problems);
            for (int i = 0; i < state.Forwards.Count; i++)
                if (notes.TryGetValue(state.Forwards[i].Name, out string note)) state.Forwards[i] = state.Forwards[i].WithComment(note);
            return state;
        }

        private static IEnumerable<string> Elements(string listing, string name)
        {
            Match block = Regex.Match(listing, @"(map|set) " + name + @" \{(?<body>[^}]*?)elements = \{(?<elements>[^}]*)\}", RegexOptions.Singleline);
            if (!block.Success) yield break;
            foreach (string raw in block.Groups["elements"].Value.Split(','))
            {
                string text = Regex.Replace(raw, @"\s+", " ").Trim();
                if (text.Length > 0) yield return text;
            }
        }
    }

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

        public static MainElement Parse(Match m, IPAddress keyAddress)
        {
            if (!m.Success) return null;
            RuleComment meta = RuleComment.TryDecode(m.Groups["comment"].Value);
            string transport = NftablesReader.Transport(m.Groups["proto"].Value);
            if (meta == null || transport == null || !IPAddress.TryParse(m.Groups["to"].Value, out IPAddress to)
                || !NftablesReader.TryPort(m.Groups["port"].Value, out int port) || !NftablesReader.TryPort(m.Groups["toport"].Value, out int toPort)) return null;
            return new MainElement
            {
                Meta = meta, Transport = transport, KeyAddress = keyAddress, KeyPorts = new PortRange(port, port), To = to,
                ToPorts = new PortRange(toPort, toPort), Text = m.Value,
            };
        }

        /// <summary>An interval element of a kept range: the same ports on the bypass router.</summary>
        public static MainElement ParseRange(Match m, IPAddress keyAddress)
        {
            if (!m.Success) return null;
            RuleComment meta = RuleComment.TryDecode(m.Groups["comment"].Value);
            string transport = NftablesReader.Transport(m.Groups["proto"].Value);
            if (meta == null || transport == null || !IPAddress.TryParse(m.Groups["to"].Value, out IPAddress to)
                || !NftablesReader.TryPort(m.Groups["port"].Value, out int start) || !NftablesReader.TryPort(m.Groups["end"].Value, out int end) || end < start) return null;
            var ports = new PortRange(start, end);
            return new MainElement { Meta = meta, Transport = transport, KeyAddress = keyAddress, KeyPorts = ports, To = to, ToPorts = ports, Text = m.Value };
        }

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
