using System;
using System.Collections.Generic;

namespace BypassNat.Validation
{
    /// <summary>
    /// One port range that a forward (by its position in the set) takes for itself within a group
    /// (an address and a protocol, say). Two claims of one group conflict when their ranges overlap.
    /// </summary>
    internal readonly struct PortClaim
    {
        /// <param name="group">What the ports are on (address and protocol, numbered by the caller).</param>
        /// <param name="color">
        /// For <see cref="EarlierOverlaps"/> with otherColorOnly: claims of one color never conflict
        /// with each other (forwards to one device port through the same bypass address).
        /// </param>
        public PortClaim(int group, PortRange ports, int position, int color = 0)
        {
            Group = group;
            Ports = ports;
            Position = position;
            Color = color;
        }

        public int Group { get; }
        public PortRange Ports { get; }
        public int Position { get; }
        public int Color { get; }

        /// <summary>
        /// For each position, the earliest earlier positions (at most <paramref name="limit"/>, in
        /// ascending order) that have a claim overlapping one of its claims; null where there is none.
        /// </summary>
        /// <remarks>
        /// Every pair of overlapping claims would be n squared for n forwards on one port (many public
        /// ports to one device port, or a port every row repeats), so only the first few are looked
        /// for. A sort splits each group into runs of claims that overlap one another; a run of one
        /// claim conflicts with nothing, so a set without conflicts costs the sort alone. Each other run
        /// gets an <see cref="OverlapIndex"/>, which answers "the first few earlier claims overlapping
        /// this range" in log time, taking the claims in position order.
        /// </remarks>
        public static int[][] EarlierOverlaps(IReadOnlyList<PortClaim> claims, int positions, int limit, bool otherColorOnly)
        {
            if (positions >= 1 << 24) throw new ArgumentOutOfRangeException(nameof(positions), "more than 16,777,216 forwards");
            int n = claims.Count;
            var keys = new long[n];
            var order = new int[n];
            for (int i = 0; i < n; i++)
            {
                PortClaim claim = claims[i];
                keys[i] = ((long)claim.Group << 40) | ((long)claim.Ports.Start << 24) | (long)claim.Position;
                order[i] = i;
            }

            Array.Sort(keys, order);

            // Runs of overlapping claims (the connected parts of the overlap graph): in start order, a
            // claim that starts after every earlier claim of its group has ended begins a new run.
            var indexOf = new OverlapIndex[n];
            for (int first = 0; first < n;)
            {
                int group = claims[order[first]].Group, end = claims[order[first]].Ports.End, last = first;
                bool colors = false;
                while (last + 1 < n)
                {
                    PortClaim next = claims[order[last + 1]];
                    if (next.Group != group || next.Ports.Start > end) break;
                    end = Math.Max(end, next.Ports.End);
                    colors |= next.Color != claims[order[first]].Color;
                    last++;
                }

                if (last > first && (colors || !otherColorOnly))
                {
                    var index = new OverlapIndex(claims, order, first, last, limit, otherColorOnly);
                    for (int k = first; k <= last; k++) indexOf[order[k]] = index;
                }

                first = last + 1;
            }

            // In position order: each claim asks its run's index for earlier overlaps, then joins it.
            var byPosition = new List<int>(n);
            for (int i = 0; i < n; i++)
                if (indexOf[i] != null) byPosition.Add(i);
            byPosition.Sort((a, b) => claims[a].Position.CompareTo(claims[b].Position));

            var earlier = new int[positions][];
            var found = new EarliestPositions(limit);
            for (int k = 0; k < byPosition.Count;)
            {
                int position = claims[byPosition[k]].Position, next = k;
                found.Clear();
                for (; next < byPosition.Count && claims[byPosition[next]].Position == position; next++)
                {
                    PortClaim claim = claims[byPosition[next]];
                    indexOf[byPosition[next]].Find(claim.Ports, claim.Color, found);
                }

                // Joined only after every claim of the position asked, so a forward never finds itself.
                for (int j = k; j < next; j++)
                {
                    PortClaim claim = claims[byPosition[j]];
                    indexOf[byPosition[j]].Add(claim.Ports, claim.Position, claim.Color);
                }

                if (found.Count > 0) earlier[position] = found.ToArray();
                k = next;
            }

            return earlier;
        }
    }

    /// <summary>The smallest few distinct positions seen, kept in ascending order.</summary>
    internal sealed class EarliestPositions
    {
        private readonly int[] _items;

        public EarliestPositions(int limit) => _items = new int[limit];

        public int Count { get; private set; }

        public void Clear() => Count = 0;

        public void Offer(int position)
        {
            int at = Count;
            while (at > 0 && _items[at - 1] > position) at--;
            if (at > 0 && _items[at - 1] == position) return;
            if (at == _items.Length) return;
            int move = Math.Min(Count, _items.Length - 1) - at;
            if (move > 0) Array.Copy(_items, at, _items, at + 1, move);
            _items[at] = position;
            if (Count < _items.Length) Count++;
        }

        public int[] ToArray()
        {
            var copy = new int[Count];
            Array.Copy(_items, copy, Count);
            return copy;
        }
    }
}
