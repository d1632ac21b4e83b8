using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends;

namespace BypassNat.Apply
{
    public enum DriftKind
    {
        /// <summary>Desired, but not on the router.</summary>
        Missing,
        /// <summary>On the router, but not desired.</summary>
        Unexpected,
        /// <summary>On both, with different fields.</summary>
        Different,
        /// <summary>BypassNat's rules are on the router but not hooked in, so none of them takes effect.</summary>
        Unhooked,
        /// <summary>A rule in BypassNat's own chains or table that it did not write as it is.</summary>
        Unreadable,
        /// <summary>A TPROXY proxy captures the forwards' replies: BypassNat's exemption from it is missing, out of date or not first.</summary>
        Unexempted,
    }

    /// <summary>One way in which a router differs from the desired set.</summary>
    public sealed class ForwardDrift
    {
        public string ComputerName { get; set; }
        public string Name { get; set; }
        public DriftKind Kind { get; set; }
        public string[] Fields { get; set; } = new string[0];
        public BypassForward Desired { get; set; }
        public BypassForward Actual { get; set; }
        public string Detail { get; set; }

        public static IReadOnlyList<ForwardDrift> Compare(string computerName, IReadOnlyList<BypassForward> desired, RouterState state)
        {
            RulesetDiff diff = RulesetDiff.Compute(desired, state.Forwards, state.HoldsIpv6);
            var drift = new List<ForwardDrift>();
            drift.AddRange(diff.Added.Select(f => new ForwardDrift { ComputerName = computerName, Name = f.Name, Kind = DriftKind.Missing, Desired = f, Detail = "in the input, not on the router" }));
            drift.AddRange(diff.Changed.Select(c => new ForwardDrift
            {
                ComputerName = computerName, Name = c.Desired.Name, Kind = DriftKind.Different, Fields = c.Fields.ToArray(), Desired = c.Desired, Actual = c.Current,
                Detail = string.Join(", ", c.Fields.Select(field => $"{field}: {Field(c.Current, field)} -> {Field(c.Desired, field)}")),
            }));
            drift.AddRange(diff.Removed.Select(f => new ForwardDrift { ComputerName = computerName, Name = f.Name, Kind = DriftKind.Unexpected, Actual = f, Detail = "on the router, not in the input" }));
            if (state.Forwards.Count > 0 && !state.InPlace)
                drift.Add(new ForwardDrift { ComputerName = computerName, Kind = DriftKind.Unhooked, Detail = state.Repair });
            drift.AddRange(state.Problems.Select(p => new ForwardDrift { ComputerName = computerName, Kind = DriftKind.Unreadable, Detail = p }));
            return drift;
        }

        private static string Field(BypassForward forward, string field)
        {
            object value = typeof(BypassForward).GetProperty(field)?.GetValue(forward);
            if (value is SourceSet sources && sources.IsAny || value is Ipv6SourceSet sources6 && sources6.IsAny) return "any";
            return value?.ToString() ?? (field == nameof(BypassForward.InternalIPv6) ? "none" : string.Empty);
        }
    }
}
