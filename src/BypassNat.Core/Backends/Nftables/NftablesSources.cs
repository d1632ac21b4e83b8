using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using BypassNat.Validation;

namespace BypassNat.Backends.Nftables
{
    /// <summary>
    /// A forward's AllowedSource in nftables, the same on both hops: the set <c>restricted</c> holds
    /// the DNAT keys of the forwards that admit only some clients, the set <c>allowed</c> each such key
    /// with each prefix it admits, and one rule ahead of the DNAT maps returns from the chain for a
    /// restricted key whose client is not allowed, so that packet is not forwarded (the router treats
    /// it as if there were no forward). The DNAT maps stay as they are: one lookup a packet, and a table
    /// without a restricted forward has neither the sets nor the rule.
    /// </summary>
    public static class NftablesSources
    {
        public const string RestrictedSet = "restricted";
        public const string AllowedSet = "allowed";

        /// <summary>One DNAT key of a forward: a protocol, the address it is sent to (none on the main hop's WAN), its ports.</summary>
        public struct Key : IEquatable<Key>
        {
            public Key(string transport, IPAddress address, PortRange ports)
            {
                Transport = transport;
                Address = address;
                Ports = ports;
            }

            public string Transport { get; }
            public IPAddress Address { get; }
            public PortRange Ports { get; }

            public bool Equals(Key other) => Transport == other.Transport && Equals(Address, other.Address) && Ports == other.Ports;
            public override bool Equals(object obj) => obj is Key other && Equals(other);
            public override int GetHashCode() => (Transport?.GetHashCode() ?? 0) ^ (Address?.GetHashCode() ?? 0) ^ Ports.GetHashCode();

            public override string ToString() => Address == null ? $"{Transport} . {Ports}" : $"{Transport} . {Address} . {Ports}";
        }

        /// <summary>The bypass hop's keys: the bypass address and port, and the public address and external port.</summary>
        public static IEnumerable<Key> BypassKeys(BypassForward forward)
        {
            foreach (string transport in forward.Transports)
            {
                yield return new Key(transport, forward.BypassAddress, forward.BypassPort);
                if (forward.PublicAddress != null) yield return new Key(transport, forward.PublicAddress, forward.ExternalPort);
            }
        }

        /// <summary>The main hop's keys: the external port, on the WAN and at the public address alike.</summary>
        public static IEnumerable<Key> MainKeys(BypassForward forward) =>
            forward.Transports.Select(t => new Key(t, null, forward.ExternalPort));

        private static string KeyType(bool withAddress) => withAddress ? "inet_proto . ipv4_addr . inet_service" : "inet_proto . inet_service";
        private static string Tuple(bool withAddress) => withAddress ? "meta l4proto . ip daddr . th dport" : "meta l4proto . th dport";

        /// <summary>Whether the table needs the sets and the rule at all.</summary>
        public static bool Needed(IEnumerable<BypassForward> enabled) => enabled.Any(f => !f.AllowedSource.IsAny);

        /// <summary>The two sets, for the forwards (enabled, in router order) that admit only some clients.</summary>
        public static void AppendSets(StringBuilder text, IEnumerable<BypassForward> enabled, Func<BypassForward, IEnumerable<Key>> keys, bool withAddress)
        {
            List<BypassForward> restricted = enabled.Where(f => !f.AllowedSource.IsAny).ToList();
            AppendSet(text, RestrictedSet, KeyType(withAddress), restricted.SelectMany(f =>
                keys(f).Select(k => $"{k} comment \"{Meta(f)}\"")));
            AppendSet(text, AllowedSet, KeyType(withAddress) + " . ipv4_addr", restricted.SelectMany(f =>
                keys(f).SelectMany(k => f.AllowedSource.Select(p => $"{k} . {SourceSet.Show(p)} comment \"{Meta(f)}\""))));
        }

        /// <summary>The rule that goes first in the prerouting chain, before any DNAT.</summary>
        public static string Rule(bool withAddress) =>
            $"meta l4proto {{ tcp, udp }} {Tuple(withAddress)} @{RestrictedSet} {Tuple(withAddress)} . ip saddr != @{AllowedSet} return";

        /// <summary>The rule as <c>nft -nn list</c> prints it, for the readers' hook checks (one optional line).</summary>
        public static string RulePattern(bool withAddress)
        {
            string tuple = Regex.Escape(Tuple(withAddress));
            return $@"(?<sources>\s*meta l4proto \{{[^}}]*\}} {tuple} @{RestrictedSet} {tuple} \. ip saddr != @{AllowedSet} return\n)?";
        }

        private static string Meta(BypassForward forward) => RuleComment.For(forward).WithoutNote().Encode();

        private static void AppendSet(StringBuilder text, string name, string type, IEnumerable<string> elements)
        {
            List<string> list = elements.ToList();
            text.Append("\tset ").Append(name).Append(" {\n");
            text.Append("\t\ttype ").Append(type).Append('\n');
            text.Append("\t\tflags interval\n");
            if (list.Count > 0)
            {
                text.Append("\t\telements = {\n");
                for (int i = 0; i < list.Count; i++) text.Append("\t\t\t").Append(list[i]).Append(i + 1 < list.Count ? ",\n" : "\n");
                text.Append("\t\t}\n");
            }

            text.Append("\t}\n\n");
        }

        /// <summary>What the two sets hold, by forward name.</summary>
        public sealed class Held
        {
            internal readonly Dictionary<string, HashSet<Key>> Restricted = new Dictionary<string, HashSet<Key>>(StringComparer.Ordinal);
            internal readonly Dictionary<string, HashSet<(Key, Ipv4Prefix)>> Allowed = new Dictionary<string, HashSet<(Key, Ipv4Prefix)>>(StringComparer.Ordinal);

            /// <summary>Whether any forward is restricted, so the rule must be there.</summary>
            public bool Any => Restricted.Count > 0 || Allowed.Count > 0;

            /// <summary>
            /// The forward with the clients the sets admit for it, when they hold exactly what the
            /// renderer writes for its keys; the forward as it is when they hold nothing of it; null
            /// when they hold something else (a problem: the next apply writes it afresh).
            /// </summary>
            public BypassForward Attach(BypassForward forward, Func<BypassForward, IEnumerable<Key>> keys)
            {
                Restricted.TryGetValue(forward.Name, out HashSet<Key> restricted);
                Allowed.TryGetValue(forward.Name, out HashSet<(Key, Ipv4Prefix)> allowed);
                Restricted.Remove(forward.Name);
                Allowed.Remove(forward.Name);
                if (restricted == null && allowed == null) return forward;
                if (restricted == null || allowed == null) return null;
                var expected = new HashSet<Key>(keys(forward));
                List<Ipv4Prefix> prefixes = allowed.Select(a => a.Item2).Distinct().ToList();
                SourceSet sources = SourceSet.FromRouter(prefixes);
                if (sources == null || !restricted.SetEquals(expected) || allowed.Count != expected.Count * prefixes.Count
                    || !allowed.All(a => expected.Contains(a.Item1))) return null;
                return forward.WithAllowedSource(sources);
            }

            /// <summary>Forwards that have elements in the sets but no forward of theirs; call after every Attach.</summary>
            public IEnumerable<string> Orphans => Restricted.Keys.Union(Allowed.Keys, StringComparer.Ordinal);
        }

        /// <summary>Reads both sets out of a table listing; elements that are not ours go to <paramref name="problems"/>.</summary>
        public static Held Read(string listing, bool withAddress, List<string> problems)
        {
            var held = new Held();
            string key = withAddress ? @"(?<proto>\w+) \. (?<addr>[\d.]+) \. (?<port>\d+)(?:-(?<portend>\d+))?" : @"(?<proto>\w+) \. (?<port>\d+)(?:-(?<portend>\d+))?";
            var restricted = new Regex("^" + key + @" comment ""(?<comment>[^""]*)""$", RegexOptions.CultureInvariant);
            var allowed = new Regex("^" + key + @" \. (?<src>[\d.]+(?:/\d+)?) comment ""(?<comment>[^""]*)""$", RegexOptions.CultureInvariant);
            foreach (string text in Elements(listing, RestrictedSet))
            {
                if (TryKey(restricted.Match(text), out string name, out Key k)) Add(held.Restricted, name, k);
                else problems.Add($"set {RestrictedSet}: {text}");
            }

            foreach (string text in Elements(listing, AllowedSet))
            {
                Match m = allowed.Match(text);
                if (TryKey(m, out string name, out Key k) && ForwardParser.TryListedPrefix(m.Groups["src"].Value, out Ipv4Prefix prefix)) Add(held.Allowed, name, (k, prefix));
                else problems.Add($"set {AllowedSet}: {text}");
            }

            return held;
        }

        private static void Add<T>(Dictionary<string, HashSet<T>> byName, string name, T item)
        {
            if (!byName.TryGetValue(name, out HashSet<T> items)) byName[name] = items = new HashSet<T>();
            items.Add(item);
        }

        private static bool TryKey(Match m, out string name, out Key key)
        {
            name = null;
            key = default;
            if (!m.Success) return false;
            RuleComment meta = RuleComment.TryDecode(m.Groups["comment"].Value);
            string transport = NftablesReader.Transport(m.Groups["proto"].Value);
            IPAddress address = null;
            if (meta == null || meta.Role != null || transport == null || !NftablesReader.TryPort(m.Groups["port"].Value, out int start)) return false;
            int end = start;
            if (m.Groups["portend"].Success && (!NftablesReader.TryPort(m.Groups["portend"].Value, out end) || end < start)) return false;
            if (m.Groups["addr"].Success && !IPAddress.TryParse(m.Groups["addr"].Value, out address)) return false;
            name = meta.Name;
            key = new Key(transport, address, new PortRange(start, end));
            return true;
        }

        private static IEnumerable<string> Elements(string listing, string name)
        {
            Match block = Regex.Match(listing, @"\bset " + name + @" \{(?<body>[^}]*?)elements = \{(?<elements>[^}]*)\}", RegexOptions.Singleline);
            if (!block.Success) yield break;
            foreach (string raw in block.Groups["elements"].Value.Split(','))
            {
                string text = Regex.Replace(raw, @"\s+", " ").Trim();
                if (text.Length > 0) yield return text;
            }
        }
    }
}
