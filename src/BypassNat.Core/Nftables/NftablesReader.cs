using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;

namespace BypassNat.Nftables
{
    /// <summary>
    /// Reads BypassNat's forwards back from <c>nft -nn list table ip bypassnat</c>. Each map element is
    /// one protocol and port; the elements of one forward share its comment, and are put back together
    /// into the forward only if they still form exactly what the renderer wrote.
    /// </summary>
    public static class NftablesReader
    {
        private sealed class Element
        {
            public RuleComment Meta;
            public string Transport;
            public IPAddress KeyAddress;
            public int KeyPort;
            public IPAddress Value;
            public int ValuePort;
            public string Text;
        }

        private static readonly Regex ForwardElement = new Regex(
            @"^(?<proto>\w+)\s*\.\s*(?<addr>[\d.]+)\s*\.\s*(?<port>\d+)\s*(?:comment\s+""(?<comment>[^""]*)"")?\s*:\s*(?<to>[\d.]+)\s*\.\s*(?<toport>\d+)$",
            RegexOptions.CultureInvariant);

        private static readonly Regex SourceNatElement = new Regex(
            @"^(?<proto>\w+)\s*\.\s*(?<addr>[\d.]+)\s*\.\s*(?<port>\d+)\s*(?:comment\s+""(?<comment>[^""]*)"")?\s*:\s*(?<to>[\d.]+)$",
            RegexOptions.CultureInvariant);

        /// <param name="listing">The table as nft lists it; null or empty when the router has no such table.</param>
        public static NftablesState Read(string listing)
        {
            var state = new NftablesState();
            if (string.IsNullOrWhiteSpace(listing) || !listing.Contains("table " + NftablesTable.Qualified)) return state;
            state.TableExists = true;
            // -nn prints priorities and ct status as numbers: dstnat - 10 is -110, srcnat - 10 is 90, dnat is 0x20.
            state.PreroutingHooked = Regex.IsMatch(listing,
                @"type nat hook prerouting priority (-110|dstnat - 10);[^\n]*\n\s*meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. ip daddr \. th dport map @" + NftablesTable.ForwardsMap);
            const string Tuple = @"meta l4proto \. ip daddr \. th dport";
            const string Dnat = @"ct status (dnat|0x20) ";
            const string Protocols = @"meta l4proto \{[^}]*\} ";
            state.PostroutingHooked = Regex.IsMatch(listing,
                @"type nat hook postrouting priority (90|srcnat - 10);[^\n]*\n" +
                @"\s*" + Dnat + Protocols + @"snat (ip )?to " + Tuple + " map @" + NftablesTable.SourceNatMap + @"\n" +
                @"\s*" + Dnat + @"ip saddr @" + NftablesTable.LansSet + " " + Protocols + @"snat (ip )?to " + Tuple + " map @" + NftablesTable.ReflectMap + @"\n" +
                @"\s*" + Dnat + Protocols + Tuple + " @" + NftablesTable.TargetsSet + @" snat (ip )?to ip saddr\n");

            List<Element> all = Elements(listing, NftablesTable.ForwardsMap, ForwardElement, state.Problems);
            List<Element> forwards = all.Where(e => e.Meta.Role == null).ToList();
            var viaPublic = all.Where(e => e.Meta.Role == RuleComment.PublicRole).GroupBy(e => e.Meta.Name, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            foreach (Element stray in all.Where(e => e.Meta.Role != null && e.Meta.Role != RuleComment.PublicRole))
                state.Problems.Add($"map {NftablesTable.ForwardsMap}: {stray.Text}");
            List<Element> sourceNat = Elements(listing, NftablesTable.SourceNatMap, SourceNatElement, state.Problems);
            var natted = sourceNat.GroupBy(e => e.Meta.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);

            Dictionary<string, string> notes = NftablesNotes.Read(listing, state.Problems);
            foreach (IGrouping<string, Element> group in forwards.GroupBy(e => e.Meta.Name, StringComparer.Ordinal))
            {
                natted.TryGetValue(group.Key, out List<Element> snat);
                natted.Remove(group.Key);
                BypassForward forward = Assemble(group.ToList(), snat);
                if (forward != null && viaPublic.TryGetValue(group.Key, out List<Element> hairpin))
                {
                    viaPublic.Remove(group.Key);
                    forward = WithPublic(forward, group.ToList(), hairpin);
                }

                if (forward == null) state.Problems.Add($"the elements of forward '{group.Key}' do not form one forward");
                else state.Forwards.Add(notes.TryGetValue(group.Key, out string note) ? forward.WithComment(note) : forward);
            }

            foreach (string orphan in viaPublic.Keys)
                state.Problems.Add($"public-address elements for '{orphan}' without its forward");

            foreach (string orphan in natted.Keys)
                state.Problems.Add($"source NAT elements for '{orphan}' without its forward");
            return state;
        }

        private static BypassForward Assemble(List<Element> elements, List<Element> snat)
        {
            Element first = elements[0];
            var transports = elements.Select(e => e.Transport).Distinct().OrderBy(t => t, StringComparer.Ordinal).ToList();
            var keyPorts = elements.Where(e => e.Transport == transports[0]).Select(e => e.KeyPort).OrderBy(p => p).ToList();
            int start = keyPorts[0], count = keyPorts.Count, offset = first.ValuePort - first.KeyPort;

            // Every element must belong to one shape: same addresses, contiguous ports, one offset,
            // and the same ports for each protocol.
            bool whole = keyPorts.Last() - start + 1 == count
                && elements.Count == count * transports.Count
                && elements.All(e => e.Meta.ExternalPort == first.Meta.ExternalPort && e.Meta.Comment == first.Meta.Comment
                    && e.KeyAddress.Equals(first.KeyAddress) && e.Value.Equals(first.Value)
                    && e.KeyPort >= start && e.KeyPort < start + count && e.ValuePort - e.KeyPort == offset)
                && transports.All(t => elements.Count(e => e.Transport == t) == count);
            if (!whole || start + offset < PortRange.MinPort || start + offset + count - 1 > PortRange.MaxPort) return null;

            ForwardProtocol protocol = transports.Count == 2 ? ForwardProtocol.TcpUdp
                : transports[0] == "udp" ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
            var bypassPort = new PortRange(start, start + count - 1);
            var internalPort = new PortRange(start + offset, start + offset + count - 1);

            bool sourceNat = false;
            if (snat != null)
            {
                sourceNat = snat.Count == elements.Count && snat.All(e =>
                    e.KeyAddress.Equals(first.Value) && e.Value.Equals(first.KeyAddress) && internalPort.Contains(e.KeyPort) && transports.Contains(e.Transport));
                if (!sourceNat) return null;
            }

            return new BypassForward(first.Meta.Name, protocol, first.Meta.ExternalPort, first.KeyAddress, bypassPort,
                first.Value, internalPort, sourceNat, first.Meta.Comment);
        }

        // The public-address elements mirror the forward's: the external ports instead of the bypass
        // ports, one address, the same devices and protocols.
        private static BypassForward WithPublic(BypassForward forward, List<Element> elements, List<Element> hairpin)
        {
            IPAddress address = hairpin[0].KeyAddress;
            var expected = elements.Select(e => $"{e.Transport} {e.KeyPort - forward.BypassPort.Start + forward.ExternalPort.Start} {e.Value} {e.ValuePort}");
            var found = hairpin.Select(e => $"{e.Transport} {e.KeyPort} {e.Value} {e.ValuePort}");
            bool whole = hairpin.All(e => e.KeyAddress.Equals(address)) && new HashSet<string>(expected).SetEquals(found) && hairpin.Count == elements.Count;
            return whole ? forward.WithPublicAddress(address) : null;
        }

        private static List<Element> Elements(string listing, string map, Regex pattern, List<string> problems)
        {
            var elements = new List<Element>();
            Match block = Regex.Match(listing, @"map " + map + @" \{(?<body>[^}]*?)elements = \{(?<elements>[^}]*)\}", RegexOptions.Singleline);
            if (!block.Success) return elements;
            foreach (string raw in SplitElements(block.Groups["elements"].Value))
            {
                string text = Regex.Replace(raw, @"\s+", " ").Trim();
                if (text.Length == 0) continue;
                Match m = pattern.Match(text);
                RuleComment meta = m.Success ? RuleComment.TryDecode(m.Groups["comment"].Value) : null;
                string transport = m.Success ? Transport(m.Groups["proto"].Value) : null;
                if (meta == null || transport == null
                    || !IPAddress.TryParse(m.Groups["addr"].Value, out IPAddress keyAddress)
                    || !IPAddress.TryParse(m.Groups["to"].Value, out IPAddress value)
                    || !TryPort(m.Groups["port"].Value, out int keyPort))
                {
                    problems.Add($"map {map}: {text}");
                    continue;
                }

                int valuePort = 0;
                if (m.Groups["toport"].Success && !TryPort(m.Groups["toport"].Value, out valuePort))
                {
                    problems.Add($"map {map}: {text}");
                    continue;
                }

                elements.Add(new Element
                {
                    Meta = meta, Transport = transport, KeyAddress = keyAddress, KeyPort = keyPort, Value = value, ValuePort = valuePort, Text = text,
                });
            }

            return elements;
        }

        // Elements are separated by commas outside quotes (a comment is percent-encoded, but be safe).
        private static IEnumerable<string> SplitElements(string body)
        {
            int begin = 0;
            bool quoted = false;
            for (int i = 0; i < body.Length; i++)
            {
                if (body[i] == '"') quoted = !quoted;
                else if (body[i] == ',' && !quoted)
                {
                    yield return body.Substring(begin, i - begin);
                    begin = i + 1;
                }
            }

            yield return body.Substring(begin);
        }

        // nft -nn prints protocols as numbers on newer releases and as names on older ones.
        private static string Transport(string text)
        {
            switch (text)
            {
                case "tcp": case "6": return "tcp";
                case "udp": case "17": return "udp";
                default: return null;
            }
        }

        private static bool TryPort(string text, out int port) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port >= PortRange.MinPort && port <= PortRange.MaxPort;
    }
}
