using System;
using System.Collections.Generic;
using System.Net;

namespace BypassNat
{
    /// <summary>
    /// One protocol's port range on one address that a forward (by its position in the set) takes
    /// for itself. Two claims conflict when address and protocol match and the ranges overlap.
    /// </summary>
    internal readonly struct PortClaim
    {
        public PortClaim(IPAddress address, string transport, PortRange ports, int position)
        {
            Address = address;
            Transport = transport;
            Ports = ports;
            Position = position;
        }

        public IPAddress Address { get; }
        public string Transport { get; }
        public PortRange Ports { get; }
        public int Position { get; }

        /// <summary>
        /// Every pair of overlapping claims, found with one sort (by address, protocol, first port) and
        /// a sweep over the ports: n log n plus the number of pairs, where comparing all pairs is n squared.
        /// </summary>
        public static IEnumerable<PortClaim[]> Overlapping(IReadOnlyCollection<PortClaim> claims)
        {
            // One sort of plain numbers (address and protocol as a group number, then the first port,
            // then the position), not GroupBy and OrderBy over tuples: those generic paths were a third
            // of New-BypassForward's set check in a fresh process, most of it their JIT.
            var groups = new Dictionary<IPAddress, long>();
            var keys = new long[claims.Count];
            var sorted = new PortClaim[claims.Count];
            int n = 0;
            foreach (PortClaim claim in claims)
            {
                if (claim.Position >= 1 << 24) throw new ArgumentOutOfRangeException(nameof(claims), "more than 16,777,216 forwards");
                if (!groups.TryGetValue(claim.Address, out long address))
                {
                    if (groups.Count >= 1 << 22) throw new ArgumentOutOfRangeException(nameof(claims), "more than 4,194,304 addresses");
                    groups.Add(claim.Address, address = groups.Count);
                }

                long group = address * 2 + (string.Equals(claim.Transport, "tcp", StringComparison.Ordinal) ? 0 : 1);
                keys[n] = (group << 40) | ((long)claim.Ports.Start << 24) | (long)claim.Position;
                sorted[n++] = claim;
            }

            Array.Sort(keys, sorted);
            var open = new List<PortClaim>();
            for (int k = 0; k < sorted.Length; k++)
            {
                PortClaim claim = sorted[k];
                if (k > 0 && keys[k - 1] >> 40 != keys[k] >> 40) open.Clear();
                // A claim that ends before this one starts ends before every later one starts too.
                int kept = 0;
                for (int i = 0; i < open.Count; i++)
                {
                    if (open[i].Ports.End < claim.Ports.Start) continue;
                    yield return new[] { open[i], claim };
                    open[kept++] = open[i];
                }

                open.RemoveRange(kept, open.Count - kept);
                open.Add(claim);
            }
        }
    }
}
