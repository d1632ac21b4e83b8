using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;

namespace BypassNat.Backends.Nftables
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
                MainElement e = Element(WanElement.Match(text), null);
                if (e == null || e.Meta.Role != null) state.Problems.Add($"map {MainTable.ForwardsMap}: {text}");
                else wan.Add(e);
            }

            foreach (string text in Elements(listing, MainTable.ForwardRangesMap))
            {
                MainElement e = RangeElement(WanRangeElement.Match(text), null);
                if (e == null || e.Meta.Role != null) state.Problems.Add($"map {MainTable.ForwardRangesMap}: {text}");
                else wan.Add(e);
            }

            var viaPublic = new List<MainElement>();
            foreach (string text in Elements(listing, MainTable.PublicRangesMap))
            {
                Match m = PublicRangeElement.Match(text);
                MainElement e = m.Success && IPAddress.TryParse(m.Groups["addr"].Value, out IPAddress address) ? RangeElement(m, address) : null;
                if (e == null || e.Meta.Role != RuleComment.PublicRole) state.Problems.Add($"map {MainTable.PublicRangesMap}: {text}");
                else viaPublic.Add(e);
            }

            foreach (string text in Elements(listing, MainTable.PublicMap))
            {
                Match m = PublicElement.Match(text);
                MainElement e = m.Success && IPAddress.TryParse(m.Groups["addr"].Value, out IPAddress address) ? Element(m, address) : null;
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

        private static MainElement Element(Match m, IPAddress keyAddress)
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
        private static MainElement RangeElement(Match m, IPAddress keyAddress)
        {
            if (!m.Success) return null;
            RuleComment meta = RuleComment.TryDecode(m.Groups["comment"].Value);
            string transport = NftablesReader.Transport(m.Groups["proto"].Value);
            if (meta == null || transport == null || !IPAddress.TryParse(m.Groups["to"].Value, out IPAddress to)
                || !NftablesReader.TryPort(m.Groups["port"].Value, out int start) || !NftablesReader.TryPort(m.Groups["end"].Value, out int end) || end < start) return null;
            var ports = new PortRange(start, end);
            return new MainElement { Meta = meta, Transport = transport, KeyAddress = keyAddress, KeyPorts = ports, To = to, ToPorts = ports, Text = m.Value };
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
}
