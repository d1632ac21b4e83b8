using System;
using System.Collections.Generic;

namespace BypassNat.Validation
{
    /// <summary>
    /// The claims of one run of overlapping port ranges, added in position order, asked for the first
    /// few earlier claims that overlap a range: a segment tree over the run's distinct range ends.
    /// </summary>
    /// <remarks>
    /// A claim is kept at the O(log n) nodes that split its range (cover) and at every node on the
    /// paths from its two end leaves to the root (under: nodes it reaches into). A range then overlaps
    /// exactly the claims covering a node on its own two paths, or covering or under one of its split
    /// nodes. Each node keeps only the first few claims (the earliest, as they come in position order):
    /// the first few overlaps of a range are among the first few of each node it looks at. With colors
    /// a node keeps the first few of each of the first few colors, enough to find the first few of
    /// any color but one.
    /// </remarks>
    internal sealed class OverlapIndex
    {
        private readonly int[] _bounds;
        private readonly int _leaves;
        private readonly int _limit;
        private readonly bool _otherColorOnly;
        private readonly int _slot;
        private readonly int[] _coverAt;
        private readonly int[] _underAt;
        private int[] _pool;
        private int _used;

        public OverlapIndex(IReadOnlyList<PortClaim> claims, int[] order, int first, int last, int limit, bool otherColorOnly)
        {
            // The leaves are the stretches between the distinct starts and ends of the run's ranges.
            var bounds = new int[2 * (last - first + 1)];
            int b = 0;
            for (int k = first; k <= last; k++)
            {
                PortRange ports = claims[order[k]].Ports;
                bounds[b++] = ports.Start;
                bounds[b++] = ports.End + 1;
            }

            Array.Sort(bounds);
            int distinct = 0;
            for (int i = 0; i < bounds.Length; i++)
                if (distinct == 0 || bounds[distinct - 1] != bounds[i]) bounds[distinct++] = bounds[i];
            _bounds = new int[distinct];
            Array.Copy(bounds, _bounds, distinct);

            _leaves = 1;
            while (_leaves < distinct - 1) _leaves *= 2;
            _limit = limit;
            _otherColorOnly = otherColorOnly;
            _slot = 1 + 2 * (otherColorOnly ? limit * (limit + 1) : limit);
            _coverAt = new int[2 * _leaves];
            _underAt = new int[2 * _leaves];
            _pool = new int[_slot * 8];
        }

        public void Add(PortRange ports, int position, int color)
        {
            int lo = Leaf(ports.Start), hi = Leaf(ports.End + 1) - 1;
            for (int l = lo + _leaves, r = hi + _leaves + 1; l < r; l >>= 1, r >>= 1)
            {
                if ((l & 1) == 1) Keep(_coverAt, l++, position, color);
                if ((r & 1) == 1) Keep(_coverAt, --r, position, color);
            }

            for (int a = lo + _leaves, c = hi + _leaves; a > 0; a >>= 1, c >>= 1)
            {
                Keep(_underAt, a, position, color);
                if (c != a) Keep(_underAt, c, position, color);
            }
        }

        public void Find(PortRange ports, int color, EarliestPositions found)
        {
            int lo = Leaf(ports.Start), hi = Leaf(ports.End + 1) - 1;
            for (int l = lo + _leaves, r = hi + _leaves + 1; l < r; l >>= 1, r >>= 1)
            {
                if ((l & 1) == 1) { Offer(_coverAt, l, color, found); Offer(_underAt, l++, color, found); }
                if ((r & 1) == 1) { --r; Offer(_coverAt, r, color, found); Offer(_underAt, r, color, found); }
            }

            for (int a = lo + _leaves, c = hi + _leaves; a > 0; a >>= 1, c >>= 1)
            {
                Offer(_coverAt, a, color, found);
                if (c != a) Offer(_coverAt, c, color, found);
            }
        }

        // Every range starts and ends on a bound, so these are exact matches.
        private int Leaf(int port) => Array.BinarySearch(_bounds, port);

        private void Keep(int[] at, int node, int position, int color)
        {
            int slot = at[node] - 1;
            if (slot < 0)
            {
                if (_used + _slot > _pool.Length) Array.Resize(ref _pool, _pool.Length * 2);
                slot = _used;
                _used += _slot;
                at[node] = slot + 1;
            }

            int count = _pool[slot];
            if (count > 0 && _pool[slot + 2 * count - 1] == position) return;
            if (!_otherColorOnly)
            {
                if (count >= _limit) return;
            }
            else
            {
                int same = 0, colors = 0;
                for (int i = 0; i < count; i++)
                {
                    int entryColor = _pool[slot + 2 + 2 * i];
                    if (entryColor == color) same++;
                    bool firstOfColor = true;
                    for (int j = 0; j < i && firstOfColor; j++) firstOfColor = _pool[slot + 2 + 2 * j] != entryColor;
                    if (firstOfColor) colors++;
                }

                if (same >= _limit || (same == 0 && colors > _limit)) return;
            }

            _pool[slot + 1 + 2 * count] = position;
            _pool[slot + 2 + 2 * count] = color;
            _pool[slot] = count + 1;
        }

        private void Offer(int[] at, int node, int color, EarliestPositions found)
        {
            int slot = at[node] - 1;
            if (slot < 0) return;
            for (int i = 0, count = _pool[slot]; i < count; i++)
                if (!_otherColorOnly || _pool[slot + 2 + 2 * i] != color) found.Offer(_pool[slot + 1 + 2 * i]);
        }
    }
}
