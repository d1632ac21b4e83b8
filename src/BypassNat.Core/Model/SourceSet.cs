using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Net;

namespace BypassNat
{
    /// <summary>
    /// The clients a forward admits (its AllowedSource): IPv4 prefixes, empty for every client. Kept
    /// in one canonical form — a prefix inside another dropped, the rest ordered by address then
    /// length — so a set read back from the router compares equal to the one written, and the
    /// kernel's interval sets, which refuse overlapping elements, can hold it.
    /// </summary>
    public sealed class SourceSet : IReadOnlyList<Ipv4Prefix>, IEquatable<SourceSet>
    {
        /// <summary>The most entries one forward may name: each is a rule (iptables) or an element (nft) per key.</summary>
        public const int MaxEntries = 64;

        public static readonly SourceSet Any = new SourceSet(new Ipv4Prefix[0]);

        private readonly IReadOnlyList<Ipv4Prefix> _prefixes;

        private SourceSet(IReadOnlyList<Ipv4Prefix> prefixes) => _prefixes = prefixes;

        public static SourceSet Of(IEnumerable<Ipv4Prefix> prefixes)
        {
            List<Ipv4Prefix> sorted = (prefixes ?? Enumerable.Empty<Ipv4Prefix>()).Distinct()
                .OrderBy(p => p.Prefix).ToList();
            var kept = new List<Ipv4Prefix>();
            // Sorted by address then length, a prefix that lies inside another comes after it, and
            // inside the last one kept (prefixes either nest or are disjoint).
            foreach (Ipv4Prefix prefix in sorted)
                if (kept.Count == 0 || !kept[kept.Count - 1].Contains(prefix.Network)) kept.Add(prefix);
            return kept.Count == 0 ? Any : new SourceSet(kept);
        }

        /// <summary>
        /// The set read back from a router's entries, or null when they are not what a renderer
        /// writes for one set: an entry twice, or one inside another.
        /// </summary>
        public static SourceSet FromRouter(IReadOnlyCollection<Ipv4Prefix> entries)
        {
            SourceSet set = Of(entries);
            return set.Count == entries.Count ? set : null;
        }

        /// <summary>Whether every client is admitted (no restriction).</summary>
        public bool IsAny => _prefixes.Count == 0;

        public int Count => _prefixes.Count;
        public Ipv4Prefix this[int index] => _prefixes[index];

        public bool Admits(IPAddress client) => IsAny || _prefixes.Any(p => p.Contains(client));

        public IEnumerator<Ipv4Prefix> GetEnumerator() => _prefixes.GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        /// <summary>One entry as a user writes it: a single address without /32.</summary>
        public static string Show(Ipv4Prefix prefix) => prefix.Length == 32 ? prefix.Network.ToString() : prefix.ToString();

        /// <summary>The entries separated by spaces, as Export-Csv writes the column and New-BypassForward reads it; empty for any client.</summary>
        public override string ToString() => string.Join(" ", _prefixes.Select(Show));

        public bool Equals(SourceSet other) => other != null && _prefixes.SequenceEqual(other._prefixes);
        public override bool Equals(object obj) => Equals(obj as SourceSet);
        public override int GetHashCode() => _prefixes.Aggregate(17, (h, p) => h * 31 + p.GetHashCode());
    }
}
