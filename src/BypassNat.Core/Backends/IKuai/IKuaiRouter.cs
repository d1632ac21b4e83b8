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

        public string Summary() => SummaryOf(Ours);

        /// <summary>BypassNat's mappings by name, for the messages that say what the router holds.</summary>
        public static string SummaryOf(IEnumerable<IKuaiMapping> ours) =>
            ours.Any() ? string.Join(", ", ours.Select(r => IKuaiPlan.KeyOf(r) + (r.Enabled ? "" : " (disabled)")).OrderBy(n => n, StringComparer.Ordinal)) : "none of BypassNat's mappings";

        /// <summary>
        /// The first of <paramref name="desired"/> (switched on) whose ports a mapping the user made
        /// (switched on) already takes, as the refusal to write it; null when none does. BypassNat never
        /// changes the user's mappings, so such a forward cannot be applied.
        /// </summary>
        public BypassNatException Conflict(IEnumerable<IKuaiMapping> desired, string router)
        {
            foreach (IKuaiMapping want in desired.Where(d => d.Enabled))
            {
                IKuaiMapping theirs = Users.FirstOrDefault(u => u.Enabled && u.Overlaps(want));
                if (theirs != null)
                    return new BypassNatException("BypassNat.PortConflict", FailureKind.InvalidData,
                        $"The forward '{IKuaiPlan.KeyOf(want)}' ({want.Protocol} port {want.WanPort}) would take ports that the iKuai router {router} already forwards with a mapping BypassNat did not make: {theirs.Describe()}. " +
                        "BypassNat never changes mappings it did not make. Change the forward's ExternalPort, or remove or disable that mapping in iKuai's web UI. Nothing was changed: the router holds its mappings as before.",
                        router);
            }

            return null;
        }
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
    /// plan, write call by call (<see cref="IKuaiPlan"/>), read back and verify; on a failed call or
    /// Ctrl-C put back what was there and read back again. Every error it lets out ends with what the
    /// router holds: nothing changed, put back (read back), or, when the router cannot be asked any
    /// more, what the calls that went through left on it.
    /// </summary>
    public sealed class IKuaiRouter
    {
        private readonly IIKuaiApi _api;
        private readonly string _wanInterface;

        // What an apply of this command left on the router, for an error of a later read; null before any write.
        private string _written;

        public IKuaiRouter(IIKuaiApi api, string name, string wanInterface)
        {
            _api = api;
            Name = name;
            _wanInterface = wanInterface;
        }

        public string Name { get; }
        public IIKuaiApi Api => _api;
        public Action<string> Trace { get; set; }

        /// <summary>What the router holds; a failure says that this command has not changed it (or what its apply left).</summary>
        public IKuaiState Read()
        {
            try
            {
                return ReadNow();
            }
            catch (BypassNatException e)
            {
                throw Holding(e, _written ?? "Nothing was changed on it.");
            }
        }

        private IKuaiState ReadNow() => new IKuaiState(_api.List());

        /// <summary>The forwards (in the main hop's shape) as mappings on this router.</summary>
        public List<IKuaiMapping> Mappings(IEnumerable<BypassForward> forwards) =>
            forwards.Select(IKuaiMapping.Project).Select(f => IKuaiMapping.From(f, _wanInterface)).ToList();

        /// <summary>The forwards as mappings on this router, checked against the user's own mappings.</summary>
        public IKuaiChange Prepare(IReadOnlyList<BypassForward> forwards)
        {
            IKuaiState before = Read();
            List<BypassForward> projected = forwards.Select(IKuaiMapping.Project).ToList();
            List<IKuaiMapping> desired = Mappings(projected);
            BypassNatException conflict = before.Conflict(desired, Name);
            if (conflict != null) throw conflict;
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
            int total = plan.Steps.Count;
            try
            {
                foreach (IKuaiStep step in plan.Steps)
                {
                    Run(step);
                    done++;
                }
            }
            catch (OperationCanceledException)
            {
                throw RollBack(change, done, new BypassNatException("BypassNat.Stopped", FailureKind.InvalidOperation,
                    $"Stopped (Ctrl-C) during call {done + 1} of {total} of the apply on the iKuai router {Name}.", Name));
            }
            catch (BypassNatException failure) when (failure.Kind == FailureKind.SecurityError)
            {
                // The certificate changed under way: BypassNat talks no more to a router it cannot
                // trust, so it cannot put back what was there. The refused call never left this machine.
                throw Holding(failure, $"That was call {done + 1} of {total} of the apply; {Calls(done)} before it went through. Nothing more is sent to a router whose certificate is not trusted, " +
                    $"so the previous mappings were not put back: by the calls that went through it holds {IKuaiState.SummaryOf(After(change, done))} (not read back). " +
                    "Check the certificate, then run the apply again: it starts from what the router holds.");
            }
            catch (BypassNatException failure)
            {
                throw RollBack(change, done, Holding(failure, $"That was call {done + 1} of {total} of the apply."));
            }

            IKuaiState after;
            try
            {
                after = ReadNow();
            }
            catch (Exception e) when (e is BypassNatException || e is OperationCanceledException)
            {
                string holds = $"Every call of the apply ({total}) went through, but reading the mappings back failed: by those calls the router holds {IKuaiState.SummaryOf(After(change, total))} (not verified). " +
                               "Run Test-BypassForward or the apply again once it answers.";
                throw e is BypassNatException failure ? Holding(failure, holds)
                    : new BypassNatException("BypassNat.Stopped", FailureKind.InvalidOperation, $"Stopped (Ctrl-C) while reading the iKuai router {Name} back. {holds}", Name, e);
            }

            IKuaiPlan left = IKuaiPlan.Compute(after.Ours.ToList(), change.Desired);
            if (left.NeedsWrite)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"The iKuai router {Name} accepted every call ({total}), but what it holds now differs from what was written:{Environment.NewLine}{left.Describe()}{Environment.NewLine}" +
                    $"It holds these of BypassNat's mappings: {after.Summary()} (read back). Its firmware may have changed a field's meaning; the next apply will try again.",
                    Name);
            _written = $"This command's apply had changed it: it held {after.Summary()} (read back after the apply).";

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

        private static string Calls(int done) => done == 0 ? "no call" : done == 1 ? "call 1" : $"calls 1 to {done}";

        /// <summary>Our mappings as the first <paramref name="done"/> calls of the plan leave them, starting from what was read before.</summary>
        private static List<IKuaiMapping> After(IKuaiChange change, int done) => Replay(change.Before.Ours, change.Plan.Steps.Take(done));

        private static List<IKuaiMapping> Replay(IEnumerable<IKuaiMapping> rows, IEnumerable<IKuaiStep> steps)
        {
            List<IKuaiMapping> now = rows.Select(r => r.Copy()).ToList();
            foreach (IKuaiStep step in steps)
            {
                if (step.Kind != IKuaiStepKind.Add) now.RemoveAll(r => r.Id == step.Before.Id);
                if (step.Kind != IKuaiStepKind.Delete) now.Add(step.After);
            }

            return now;
        }

        /// <summary>The error with what the router holds said after it.</summary>
        private static BypassNatException Holding(BypassNatException e, string holds) =>
            new BypassNatException(e.ErrorId, e.Kind, e.Message + " " + holds, e.Target, e.InnerException ?? e);

        /// <summary>
        /// After a failed call or Ctrl-C: plan from what the router holds now back to what it held
        /// before and run that (a call that failed may or may not have landed, so the read decides,
        /// not a list of undos), then read back once more, and say truthfully where the router stands.
        /// The putting back runs to its end whatever Ctrl-C says (each request within its time limit):
        /// stopping half-way through it would leave the very mix it exists to remove.
        /// </summary>
        private BypassNatException RollBack(IKuaiChange change, int done, BypassNatException failure)
        {
            _api.Cancel = System.Threading.CancellationToken.None;
            List<IKuaiMapping> previous = change.Before.Ours.Select(r => r.Copy()).ToList();
            IKuaiState now = null;
            IKuaiPlan back = null;
            int undone = 0;
            try
            {
                now = ReadNow();
                back = IKuaiPlan.Compute(now.Ours.ToList(), previous);
                foreach (IKuaiStep step in back.Steps)
                {
                    Run(step);
                    undone++;
                }

                IKuaiState restored = ReadNow();
                if (IKuaiPlan.Compute(restored.Ours.ToList(), previous).NeedsWrite)
                    return new BypassNatException("BypassNat.RollbackFailed", failure.Kind,
                        $"{failure.Message} Putting back the previous mappings did not give them back: the router holds {restored.Summary()} (read back). Run the apply again, or check the port mappings in iKuai's web UI.",
                        Name, failure);
                return new BypassNatException(failure.ErrorId, failure.Kind,
                    $"{failure.Message} Rolled back{(back.NeedsWrite ? $" ({back.Steps.Count} call(s))" : "")}: the router holds its previous mappings again ({restored.Summary()}, read back).",
                    Name, failure);
            }
            catch (BypassNatException second)
            {
                string holds;
                try
                {
                    holds = $"it holds {ReadNow().Summary()} (read back)";
                }
                catch (BypassNatException)
                {
                    // Unreadable: what the calls that went through left, as far as they tell.
                    holds = now == null
                        ? $"it could not be read back; by the calls that went through it holds {IKuaiState.SummaryOf(After(change, done))}, and call {done + 1}, which failed, may have landed too"
                        : $"it could not be read back; after {undone} of the {back?.Steps.Count ?? 0} call(s) that put things back it holds {IKuaiState.SummaryOf(Replay(now.Ours, back?.Steps.Take(undone) ?? new IKuaiStep[0]))}" +
                          (undone < (back?.Steps.Count ?? 0) ? $", and the call that failed may have landed too" : "");
                }

                return new BypassNatException("BypassNat.RollbackFailed", failure.Kind,
                    $"{failure.Message} Putting back the previous mappings failed too ({second.Message}); {holds}. Run the apply again once the router answers, or check the port mappings in iKuai's web UI.",
                    Name, failure);
            }
        }
    }
}
