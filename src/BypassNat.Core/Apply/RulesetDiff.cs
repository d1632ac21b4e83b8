using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Apply
{
    /// <summary>One forward that exists on both sides under the same name but differs in some fields.</summary>
    public sealed class ChangedForward
    {
        public ChangedForward(BypassForward current, BypassForward desired, bool ipv6 = false)
        {
            Current = current;
            Desired = desired;
            Fields = desired.DifferingFields(current, ipv6);
        }

        public BypassForward Current { get; }
        public BypassForward Desired { get; }
        public IReadOnlyList<string> Fields { get; }
    }

    /// <summary>
    /// Desired forwards against the router's, matched by name. Disabled desired forwards count as
    /// absent, unless the router holds that forward switched off too (an iKuai mapping with enabled
    /// "no"): then the two are compared as any other pair.
    /// </summary>
    public sealed class RulesetDiff
    {
        private RulesetDiff(List<BypassForward> added, List<BypassForward> removed, List<ChangedForward> changed, List<BypassForward> unchanged)
        {
            Added = added;
            Removed = removed;
            Changed = changed;
            Unchanged = unchanged;
        }

        public IReadOnlyList<BypassForward> Added { get; }
        public IReadOnlyList<BypassForward> Removed { get; }
        public IReadOnlyList<ChangedForward> Changed { get; }
        public IReadOnlyList<BypassForward> Unchanged { get; }

        public bool IsEmpty => Added.Count == 0 && Removed.Count == 0 && Changed.Count == 0;

        /// <param name="ipv6">Compare the IPv6 fields too (<see cref="Backends.RouterState.HoldsIpv6"/>).</param>
        public static RulesetDiff Compute(IEnumerable<BypassForward> desired, IEnumerable<BypassForward> current, bool ipv6 = false)
        {
            var currentByName = new Dictionary<string, BypassForward>(StringComparer.OrdinalIgnoreCase);
            foreach (BypassForward forward in current) currentByName[forward.Name] = forward;

            var added = new List<BypassForward>();
            var changed = new List<ChangedForward>();
            var unchanged = new List<BypassForward>();
            var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (BypassForward forward in desired)
            {
                currentByName.TryGetValue(forward.Name, out BypassForward existing);
                // A disabled forward counts only against a disabled one: the backends whose routers
                // keep a forward switched off (iKuai's mappings) read those back, and the others never.
                if (!forward.Enabled && (existing == null || existing.Enabled)) continue;
                seen.Add(forward.Name);
                if (existing == null) added.Add(forward);
                else if (forward.DifferingFields(existing, ipv6).Count == 0) unchanged.Add(forward);
                else changed.Add(new ChangedForward(existing, forward, ipv6));
            }

            List<BypassForward> removed = currentByName.Values.Where(f => !seen.Contains(f.Name)).OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            return new RulesetDiff(added, removed, changed, unchanged);
        }

        /// <summary>The forwards whose ports see new or removed rules, old and new side both.</summary>
        public IEnumerable<BypassForward> Touched() =>
            Added.Concat(Removed).Concat(Changed.SelectMany(c => new[] { c.Current, c.Desired }));

        private const int UnchangedNamesShown = 10;

        /// <summary>A few lines for -WhatIf and for logs: one per forward that changes.</summary>
        public string Describe()
        {
            var lines = new List<string>();
            lines.AddRange(Added.Select(f => $"  add      {f}"));
            lines.AddRange(Changed.Select(c => $"  change   {c.Desired} ({string.Join(", ", c.Fields)})"));
            lines.AddRange(Removed.Select(f => $"  remove   {f}"));
            // The ones that change are the news; of the rest a few names and the count, not a line of thousands.
            string more = Unchanged.Count > UnchangedNamesShown ? $" and {Unchanged.Count - UnchangedNamesShown} more" : string.Empty;
            lines.Add($"  unchanged: {(Unchanged.Count == 0 ? "none" : string.Join(", ", Unchanged.Take(UnchangedNamesShown).Select(f => f.Name)) + more)}");
            return string.Join(Environment.NewLine, lines);
        }
    }
}
