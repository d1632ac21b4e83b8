using System;
using System.Collections.Generic;
using System.Linq;

namespace BypassNat.Backends.IKuai
{
    /// <summary>What an iKuai router holds: every mapping, ours told apart by their tag.</summary>
    public sealed class IKuaiState
    {
        public IKuaiState(IReadOnlyList<IKuaiMapping> rows)
        {
            Rows = rows;
            foreach (IKuaiMapping row in rows.Where(r => r.IsOurs))
            {
                BypassForward forward = row.ToForward(out string problem);
                if (forward != null) Forwards.Add(forward);
                else Problems.Add(problem);
            }
        }

        public IReadOnlyList<IKuaiMapping> Rows { get; }
        public IEnumerable<IKuaiMapping> Ours => Rows.Where(r => r.IsOurs);
        public IEnumerable<IKuaiMapping> Users => Rows.Where(r => !r.IsOurs);

        /// <summary>Our mappings as forwards (disabled ones too, Enabled false).</summary>
        public List<BypassForward> Forwards { get; } = new List<BypassForward>();

        /// <summary>Our mappings that are not as BypassNat writes them; the next apply writes them afresh.</summary>
        public List<string> Problems { get; } = new List<string>();

        public string Summary() =>
            Ours.Any() ? string.Join(", ", Ours.Select(r => IKuaiPlan.KeyOf(r) + (r.Enabled ? "" : " (disabled)"))) : "none of BypassNat's";
    }

    /// <summary>A plan made against what the router held, ready to run.</summary>
    public sealed class IKuaiChange
    {
        public IKuaiState Before { get; set; }
        public IReadOnlyList<IKuaiMapping> Desired { get; set; }
        public IKuaiPlan Plan { get; set; }
        public IReadOnlyList<BypassForward> DesiredForwards { get; set; }
    }

    /// <summary>
    /// The main router's half of the double forward on an iKuai router, through its web API: read,
    /// plan, write call by call (<see cref="IKuaiPlan"/>), read back and verify; on a failed call put
    /// back what was there and read back again, so every error says what the router holds.
    /// </summary>
    public sealed class IKuaiRouter
    {
        private readonly IIKuaiApi _api;
        private readonly string _wanInterface;

        public IKuaiRouter(IIKuaiApi api, string name, string wanInterface)
        {
            _api = api;
            Name = name;
            _wanInterface = wanInterface;
        }

        public string Name { get; }
        public IIKuaiApi Api => _api;
        public Action<string> Trace { get; set; }

        public IKuaiState Read() => new IKuaiState(_api.List());

        /// <summary>The forwards as mappings on this router, checked against the user's own mappings.</summary>
        public IKuaiChange Prepare(IReadOnlyList<BypassForward> forwards)
        {
            IKuaiState before = Read();
            List<BypassForward> projected = forwards.Select(IKuaiMapping.Project).ToList();
            List<IKuaiMapping> desired = projected.Select(f => IKuaiMapping.From(f, _wanInterface)).ToList();
            foreach (IKuaiMapping want in desired.Where(d => d.Enabled))
            {
                IKuaiMapping theirs = before.Users.FirstOrDefault(u => u.Enabled && u.Overlaps(want));
                if (theirs != null)
                    throw new BypassNatException("BypassNat.PortConflict", FailureKind.InvalidData,
                        $"The forward '{IKuaiPlan.KeyOf(want)}' ({want.Protocol} port {want.WanPort}) would take ports that the iKuai router {Name} already forwards with a mapping BypassNat did not make: {theirs.Describe()}. " +
                        "BypassNat never changes mappings it did not make. Change the forward's ExternalPort, or remove or disable that mapping in iKuai's web UI. Nothing was changed.",
                        Name);
            }

            return new IKuaiChange { Before = before, Desired = desired, DesiredForwards = projected, Plan = IKuaiPlan.Compute(before.Ours.ToList(), desired) };
        }

        /// <summary>Removes our mappings whose forwards are named (all of ours when <paramref name="names"/> is null).</summary>
        public IKuaiChange PrepareRemoval(ICollection<string> names)
        {
            IKuaiState before = Read();
            List<IKuaiMapping> keep = names == null ? new List<IKuaiMapping>()
                : before.Ours.Where(r => !names.Contains(IKuaiPlan.KeyOf(r), StringComparer.OrdinalIgnoreCase)).Select(r => r.Copy()).ToList();
            List<BypassForward> keptForwards = keep.Select(r => r.ToForward(out _)).Where(f => f != null).ToList();
            return new IKuaiChange { Before = before, Desired = keep, DesiredForwards = keptForwards, Plan = IKuaiPlan.Compute(before.Ours.ToList(), keep) };
        }

        /// <summary>Runs the plan, verifies the read-back, and says what changed.</summary>
        public IKuaiOutcome Apply(IKuaiChange change)
        {
            var result = new IKuaiOutcome();
            IKuaiPlan plan = change.Plan;
            result.Unchanged = plan.Unchanged.ToArray();
            if (!plan.NeedsWrite) return result;

            int done = 0;
            try
            {
                foreach (IKuaiStep step in plan.Steps)
                {
                    Run(step);
                    done++;
                }
            }
            catch (BypassNatException failure) when (!(failure.ErrorId == "BypassNat.CertificateMismatch"))
            {
                throw RollBack(change, failure, done);
            }

            IKuaiState after = Read();
            IKuaiPlan left = IKuaiPlan.Compute(after.Ours.ToList(), change.Desired);
            if (left.NeedsWrite)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"The iKuai router {Name} accepted every call ({plan.Steps.Count}), but what it holds now differs from what was written:{Environment.NewLine}{left.Describe()}{Environment.NewLine}" +
                    $"It holds these of BypassNat's mappings: {after.Summary()}. Its firmware may have changed a field's meaning; the next apply will try again.",
                    Name);

            var added = plan.Steps.Where(s => s.Kind == IKuaiStepKind.Add).Select(s => s.Key).ToList();
            var removed = plan.Steps.Where(s => s.Kind == IKuaiStepKind.Delete).Select(s => s.Key).ToList();
            // A row deleted and added back (a cycle of edits, a duplicate) was modified, not replaced.
            var modified = plan.Steps.Where(s => s.Kind == IKuaiStepKind.Edit).Select(s => s.Key).Concat(added.Intersect(removed)).Distinct().ToList();
            var keys = new HashSet<string>(change.Desired.Select(IKuaiPlan.KeyOf));
            result.Changed = true;
            result.Added = added.Except(modified).Distinct().ToArray();
            result.Modified = modified.Where(keys.Contains).ToArray();
            result.Removed = removed.Where(k => !keys.Contains(k)).Distinct().ToArray();
            return result;
        }

        private void Run(IKuaiStep step)
        {
            Trace?.Invoke($"iKuai {Name}: {step}");
            switch (step.Kind)
            {
                case IKuaiStepKind.Delete: _api.Delete(step.Before.Id); break;
                case IKuaiStepKind.Edit: _api.Edit(step.After); break;
                default: step.After.Id = _api.Add(step.After); break;
            }
        }

        /// <summary>
        /// After a failed call: plan from what the router holds now back to what it held before and run
        /// that (a call that failed may or may not have landed, so the read decides, not a list of undos),
        /// then read back once more, and say truthfully where the router stands.
        /// </summary>
        private BypassNatException RollBack(IKuaiChange change, BypassNatException failure, int done)
        {
            string what = $"{failure.Message} That was call {done + 1} of {change.Plan.Steps.Count} of the apply.";
            List<IKuaiMapping> previous = change.Before.Ours.Select(r => r.Copy()).ToList();
            try
            {
                IKuaiState now = Read();
                IKuaiPlan back = IKuaiPlan.Compute(now.Ours.ToList(), previous);
                foreach (IKuaiStep step in back.Steps) Run(step);
                IKuaiState restored = Read();
                if (IKuaiPlan.Compute(restored.Ours.ToList(), previous).NeedsWrite)
                    return new BypassNatException("BypassNat.RollbackFailed", failure.Kind,
                        $"{what} Putting back the previous mappings did not give them back: the router holds {restored.Summary()} (read back). Run the apply again, or check the port mappings in iKuai's web UI.",
                        Name, failure);
                return new BypassNatException(failure.ErrorId, failure.Kind,
                    $"{what} Rolled back{(back.NeedsWrite ? $" ({back.Steps.Count} call(s))" : "")}: the router holds its previous mappings again ({restored.Summary()}, read back).",
                    Name, failure);
            }
            catch (BypassNatException second)
            {
                string holds;
                try
                {
                    holds = $"it holds {Read().Summary()} (read back)";
                }
                catch (BypassNatException)
                {
                    holds = "it could not be read back: it may hold some of the new mappings beside the old ones";
                }

                return new BypassNatException("BypassNat.RollbackFailed", failure.Kind,
                    $"{what} Putting back the previous mappings failed too ({second.Message}); {holds}. Run the apply again once the router answers, or check the port mappings in iKuai's web UI.",
                    Name, failure);
            }
        }
    }
}
