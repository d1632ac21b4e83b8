using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Text.RegularExpressions;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// Reads BypassNat's forwards back from <c>nft -nn list table ip bypassnat</c>. Each map element is
    /// one protocol and a port or an interval of ports; the elements of one forward share its comment,
    /// and are put back together into the forward only if they still form exactly what the renderer
    /// wrote: for each protocol, contiguous ports with one offset between key and value.
    /// </summary>
    public static class NftablesReader
    {
        private sealed class Element
        {
            public RuleComment Meta;
            public string Transport;
            public IPAddress KeyAddress;
            public int KeyPort;
            public int KeyPortEnd;
            public IPAddress Value;
            // The device port the first key port goes to; an element without one keeps the port.
            public int ValuePort;
            public string Text;
        }

        private static readonly Regex ForwardElement = new Regex(
            @"^(?<proto>\w+)\s*\.\s*(?<addr>[\d.]+)\s*\.\s*(?<port>\d+)\s*(?:comment\s+""(?<comment>[^""]*)"")?\s*:\s*(?<to>[\d.]+)\s*\.\s*(?<toport>\d+)$",
            RegexOptions.CultureInvariant);

        // Interval maps and sets: the key's port may be a range, the value is an address.
        private static readonly Regex IntervalElement = new Regex(
            @"^(?<proto>\w+)\s*\.\s*(?<addr>[\d.]+)\s*\.\s*(?<port>\d+)(?:-(?<portend>\d+))?\s*(?:comment\s+""(?<comment>[^""]*)"")?\s*:\s*(?<to>[\d.]+)$",
            RegexOptions.CultureInvariant);

        /// <param name="listing">The table as nft lists it; null or empty when the router has no such table.</param>
        public static NftablesState Read(string listing)
        {
            var state = new NftablesState();
            if (string.IsNullOrWhiteSpace(listing) || !listing.Contains("table " + NftablesTable.Qualified)) return state;
            state.TableExists = true;
            // -nn prints priorities and ct status as numbers: dstnat - 10 is -110, srcnat - 10 is 90, dnat is 0x20.
            Match prerouting = Regex.Match(listing,
                @"type nat hook prerouting priority (-110|dstnat - 10);[^\n]*\n" + NftablesSources.RulePattern(withAddress: true) + @"\s*meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. ip daddr \. th dport map @" + NftablesTable.ForwardsMap +
                @"\n\s*meta l4proto \{[^}]*\} dnat (ip )?to meta l4proto \. ip daddr \. th dport map @" + NftablesTable.RangesMap + @"\n");
            NftablesSources.Held sources = NftablesSources.Read(listing, withAddress: true, state.Problems);
            // Restricted forwards without the rule that restricts them would admit every client.
            state.PreroutingHooked = prerouting.Success && (!sources.Any || prerouting.Groups["sources"].Success);
            const string Tuple = @"meta l4proto \. ip daddr \. th dport";
            const string Dnat = @"ct status (dnat|0x20) ";
            const string Protocols = @"meta l4proto \{[^}]*\} ";
            // Each decision is a hash collection of single device ports, then an interval one of ranges.
            string SourceNat(string map) => @"\s*" + Dnat + Protocols + @"snat (ip )?to " + Tuple + " map @" + map + @"\n";
            string Reflect(string map) => @"\s*" + Dnat + @"ip saddr @" + NftablesTable.LansSet + " " + Protocols + @"snat (ip )?to " + Tuple + " map @" + map + @"\n";
            string Keep(string set) => @"\s*" + Dnat + Protocols + Tuple + " @" + set + @" snat (ip )?to ip saddr\n";
            state.PostroutingHooked = Regex.IsMatch(listing,
                @"type nat hook postrouting priority (90|srcnat - 10);[^\n]*\n" +
                SourceNat(NftablesTable.SourceNatMap) + SourceNat(NftablesTable.SourceNatRangesMap) +
                Reflect(NftablesTable.ReflectMap) + Reflect(NftablesTable.ReflectRangesMap) +
                Keep(NftablesTable.TargetsSet) + Keep(NftablesTable.TargetRangesSet));

            List<Element> all = Elements(listing, NftablesTable.ForwardsMap, ForwardElement, state.Problems);
            // An element of the ranges map DNATs the address only, so each port goes to itself.
            foreach (Element kept in Elements(listing, NftablesTable.RangesMap, IntervalElement, state.Problems))
            {
                kept.ValuePort = kept.KeyPort;
                all.Add(kept);
            }

            List<Element> forwards = all.Where(e => e.Meta.Role == null).ToList();
            var viaPublic = all.Where(e => e.Meta.Role == RuleComment.PublicRole).GroupBy(e => e.Meta.Name, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
            foreach (Element stray in all.Where(e => e.Meta.Role != null && e.Meta.Role != RuleComment.PublicRole))
                state.Problems.Add($"map {NftablesTable.ForwardsMap}: {stray.Text}");
            List<Element> sourceNat = Elements(listing, NftablesTable.SourceNatMap, IntervalElement, state.Problems)
                .Concat(Elements(listing, NftablesTable.SourceNatRangesMap, IntervalElement, state.Problems)).ToList();
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

                if (forward != null) forward = sources.Attach(forward, NftablesSources.BypassKeys);
                if (forward == null) state.Problems.Add($"the elements of forward '{group.Key}' do not form one forward");
                else state.Forwards.Add(notes.TryGetValue(group.Key, out string note) ? forward.WithComment(note) : forward);
            }

            foreach (string orphan in viaPublic.Keys)
                state.Problems.Add($"public-address elements for '{orphan}' without its forward");

            foreach (string orphan in sources.Orphans)
                state.Problems.Add($"allowed-source elements for '{orphan}' without its forward");

            foreach (string orphan in natted.Keys)
                state.Problems.Add($"source NAT elements for '{orphan}' without its forward");
            return state;
        }

        private static BypassForward Assemble(List<Element> elements, List<Element> snat)
        {
            Element first = elements[0];
            var transports = elements.Select(e => e.Transport).Distinct().OrderBy(t => t, StringComparer.Ordinal).ToList();
            // Every element must belong to one shape: same addresses and metadata, and for each
            // protocol the same contiguous ports with one offset.
            if (!elements.All(e => e.Meta.ExternalPort == first.Meta.ExternalPort && e.Meta.Comment == first.Meta.Comment
                    && e.KeyAddress.Equals(first.KeyAddress) && e.Value.Equals(first.Value)))
                return null;
            Span? shape = Shape(elements, transports);
            if (shape == null) return null;
            int start = shape.Value.Start, end = shape.Value.End, offset = shape.Value.Offset;
            if (start + offset < PortRange.MinPort || end + offset > PortRange.MaxPort) return null;

            ForwardProtocol protocol = transports.Count == 2 ? ForwardProtocol.TcpUdp
                : transports[0] == "udp" ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
            var bypassPort = new PortRange(start, end);
            var internalPort = new PortRange(start + offset, end + offset);

            bool sourceNat = false;
            if (snat != null)
            {
                // The source NAT covers the device's ports, for the same protocols, back to the bypass address.
                Span? natted = snat.All(e => e.KeyAddress.Equals(first.Value) && e.Value.Equals(first.KeyAddress))
                    ? Shape(snat, transports, keysOnly: true) : null;
                sourceNat = natted != null && natted.Value.Start == internalPort.Start && natted.Value.End == internalPort.End;
                if (!sourceNat) return null;
            }

            return new BypassForward(first.Meta.Name, protocol, first.Meta.ExternalPort, first.KeyAddress, bypassPort,
                first.Value, internalPort, sourceNat, first.Meta.Comment);
        }

        private struct Span
        {
            public int Start, End, Offset;
        }

        /// <summary>
        /// The ports the elements cover and their offset to the device's, when every protocol in
        /// <paramref name="transports"/> (and no other) covers the same contiguous ports without a
        /// gap or overlap, at one offset; null otherwise.
        /// </summary>
        private static Span? Shape(List<Element> elements, List<string> transports, bool keysOnly = false)
        {
            Span? shape = null;
            if (elements.Any(e => !transports.Contains(e.Transport))) return null;
            foreach (string transport in transports)
            {
                List<Element> sorted = elements.Where(e => e.Transport == transport).OrderBy(e => e.KeyPort).ToList();
                if (sorted.Count == 0) return null;
                var span = new Span { Start = sorted[0].KeyPort, End = sorted[0].KeyPortEnd, Offset = keysOnly ? 0 : sorted[0].ValuePort - sorted[0].KeyPort };
                for (int i = 1; i < sorted.Count; i++)
                {
                    if (sorted[i].KeyPort != span.End + 1) return null;
                    if (!keysOnly && sorted[i].ValuePort - sorted[i].KeyPort != span.Offset) return null;
                    span.End = sorted[i].KeyPortEnd;
                }

                if (shape == null) shape = span;
                else if (shape.Value.Start != span.Start || shape.Value.End != span.End || shape.Value.Offset != span.Offset) return null;
            }

            return shape;
        }

        // The public-address elements mirror the forward's: the external ports instead of the bypass
        // ports, one address, the same devices and protocols.
        private static BypassForward WithPublic(BypassForward forward, List<Element> elements, List<Element> hairpin)
        {
            IPAddress address = hairpin[0].KeyAddress;
            if (!hairpin.All(e => e.KeyAddress.Equals(address) && e.Value.Equals(forward.InternalAddress))) return null;
            Span? shape = Shape(hairpin, elements.Select(e => e.Transport).Distinct().ToList());
            bool whole = shape != null && shape.Value.Start == forward.ExternalPort.Start && shape.Value.End == forward.ExternalPort.End
                && shape.Value.Start + shape.Value.Offset == forward.InternalPort.Start;
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

                int valuePort = 0, keyPortEnd = keyPort;
                if ((m.Groups["toport"].Success && !TryPort(m.Groups["toport"].Value, out valuePort))
                    || (m.Groups["portend"].Success && (!TryPort(m.Groups["portend"].Value, out keyPortEnd) || keyPortEnd < keyPort)))
                {
                    problems.Add($"map {map}: {text}");
                    continue;
                }

                elements.Add(new Element
                {
                    Meta = meta, Transport = transport, KeyAddress = keyAddress, KeyPort = keyPort, KeyPortEnd = keyPortEnd, Value = value, ValuePort = valuePort, Text = text,
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
        internal static string Transport(string text)
        {
            switch (text)
            {
                case "tcp": case "6": return "tcp";
                case "udp": case "17": return "udp";
                default: return null;
            }
        }

        internal static bool TryPort(string text, out int port) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port >= PortRange.MinPort && port <= PortRange.MaxPort;
    }
}
