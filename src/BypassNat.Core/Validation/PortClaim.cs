using System;
using System.Collections.Generic;
using System.Linq;
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
        /// Every pair of overlapping claims, found with one sort per address and protocol and a sweep
        /// over the ports: n log n plus the number of pairs, where comparing all pairs is n squared.
        /// </summary>
        public static IEnumerable<PortClaim[]> Overlapping(IEnumerable<PortClaim> claims)
        {
            foreach (IGrouping<(IPAddress, string), PortClaim> group in claims.GroupBy(c => (c.Address, c.Transport)))
            {
                List<PortClaim> sorted = group.OrderBy(c => c.Ports.Start).ThenBy(c => c.Position).ToList();
                var open = new List<PortClaim>();
                foreach (PortClaim claim in sorted)
                {
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
}
