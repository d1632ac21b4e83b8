using System.Collections;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat
{
    /// <summary>
    /// The IPv6 clients a forward's IPv6 pinhole admits, in the order given (duplicates dropped); empty for
    /// every client. Its text is the entries separated by spaces, as Export-Csv writes the column.
    /// </summary>
    public sealed class Ipv6SourceSet : IReadOnlyList<Ipv6Prefix>
    {
        public static readonly Ipv6SourceSet Any = new Ipv6SourceSet(new Ipv6Prefix[0]);

        private readonly IReadOnlyList<Ipv6Prefix> _prefixes;

        private Ipv6SourceSet(IReadOnlyList<Ipv6Prefix> prefixes) => _prefixes = prefixes;

        public static Ipv6SourceSet Of(IEnumerable<Ipv6Prefix> prefixes)
        {
            List<Ipv6Prefix> list = (prefixes ?? Enumerable.Empty<Ipv6Prefix>()).Distinct().ToList();
            return list.Count == 0 ? Any : new Ipv6SourceSet(list);
        }

        public bool IsAny => _prefixes.Count == 0;
        public int Count => _prefixes.Count;
        public Ipv6Prefix this[int index] => _prefixes[index];
        public IEnumerator<Ipv6Prefix> GetEnumerator() => _prefixes.GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => string.Join(" ", _prefixes);
    }
}
