using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using BypassNat.Backends;
using BypassNat.Persistence;
using BypassNat.Ssh;

namespace BypassNat.Apply
{
    /// <summary>
    /// Makes a router hold exactly the desired forwards: read, compare, write only if something
    /// differs, read back and fail loudly if the router does not hold what was written, and only then
    /// clear what the other backend still held.
    /// </summary>
    public sealed class ForwardApplier
    {
        private readonly RouterSession _session;

        public ForwardApplier(RouterSession session, BackendChoice choice)
        {
            _session = session;
            Choice = choice;
        }

        public BackendChoice Choice { get; }

        public ApplyPlan Plan(IReadOnlyList<BypassForward> desired) =>
            new ApplyPlan(desired, RouterScript.DetectLans(_session), Choice.Backend.Read(_session), Choice.Other?.Read(_session));

        public RouterState ReadState() => Choice.Backend.Read(_session);

        /// <summary>
        /// Applies the plan. Where -Persist installed the forwards on the router (or
        /// <paramref name="persist"/> asks for it now), the saved set is written first: the router's
        /// watcher restores whatever is saved, so it must never see the new rules beside the old file.
        /// If the kernel then refuses the rules, the saved set goes back to what the router holds.
        /// </summary>
        public ApplyResult Apply(ApplyPlan plan, bool persist, Action<string> warn)
        {
            string persisted = null;
            var installer = new PersistenceInstaller(_session);
            if (plan.NeedsWrite || persist)
            {
                bool wasInstalled = !persist || installer.IsInstalled();
                IReadOnlyList<string> saveWarnings;
                try
                {
                    persisted = installer.Save(Choice.Backend.Kind, plan.Desired, plan.Context, persist, out saveWarnings);
                }
                catch (BypassNatException e)
                {
                    // The rules are written only after the saved set: nothing of this apply reached the
                    // kernel. Whatever the failed save left behind goes back, so that no watcher or
                    // firewall reload brings in the new set later; the error says what the router holds.
                    throw new BypassNatException(e.ErrorId, e.Kind, e.Message + " " + UndoSave(installer, plan, wasInstalled), e.Target, e);
                }

                foreach (string warning in saveWarnings) warn(warning);
            }

            try
            {
                ApplyResult result = ApplyRules(plan, warn);
                result.Persisted = persisted;
                return result;
            }
            catch (BypassNatException) when (persisted != null)
            {
                IRouterBackend before = plan.Leftover != null ? Choice.Other : Choice.Backend;
                installer.Save(before.Kind, (plan.Leftover ?? plan.State).Forwards, plan.Context, false, out _);
                throw;
            }
        }

        /// <summary>Puts the saved set back as it was before a failed save, and says what the router holds now.</summary>
        private string UndoSave(PersistenceInstaller installer, ApplyPlan plan, bool wasInstalled)
        {
            string held = plan.State.Forwards.Count == 0 && plan.Leftover == null
                ? "No forwards were applied: the router holds none, as before."
                : "No forwards were applied: the router keeps the forwards it had.";
            try
            {
                if (!wasInstalled)
                {
                    installer.Uninstall();
                    return held + " Nothing of -Persist was left on it.";
                }

                IRouterBackend before = plan.Leftover != null ? Choice.Other : Choice.Backend;
                installer.Save(before.Kind, (plan.Leftover ?? plan.State).Forwards, plan.Context, false, out _);
                return held + " Its saved set (from an earlier -Persist) was put back to them.";
            }
            catch (BypassNatException undo)
            {
                return held + $" Undoing the partial save failed too, so the files and hooks of -Persist on it may hold the new set: {undo.Message} " +
                    "Run Remove-BypassForward -All to clear them, or apply again.";
            }
        }

        private ApplyResult ApplyRules(ApplyPlan plan, Action<string> warn)
        {
            var clock = Stopwatch.StartNew();
            var result = new ApplyResult
            {
                ComputerName = _session.Settings.ComputerName,
                Backend = Choice.Backend.Kind.ToString(),
                Unchanged = Names(plan.Diff.Unchanged),
                PublicAddress = PublicAddresses(plan.Desired),
            };
            if (!plan.NeedsWrite)
            {
                result.Duration = clock.Elapsed;
                return result;
            }

            IEnumerable<BypassForward> touched = plan.Diff.Touched();
            if (plan.Leftover != null) touched = touched.Concat(plan.Leftover.Forwards);
            result.ConntrackEntriesDeleted = Choice.Backend.Write(_session, plan.Desired, plan.Context, plan.State, touched, out IReadOnlyList<string> warnings);
            foreach (string warning in warnings) warn(warning);
            Verify(plan.Desired);
            if (plan.Leftover != null)
            {
                Choice.Other.Remove(_session, plan.Leftover);
                result.MovedFrom = Choice.Other.Kind.ToString();
            }

            result.Changed = true;
            result.PublicAddress = PublicAddresses(plan.Desired);
            string previous = PublicAddresses(plan.State.Forwards);
            if (previous != result.PublicAddress) result.PreviousPublicAddress = previous;
            result.Added = Names(plan.Diff.Added);
            result.Modified = Names(plan.Diff.Changed.Select(c => c.Desired));
            result.Removed = Names(plan.Diff.Removed);
            result.Duration = clock.Elapsed;
            return result;
        }

        /// <summary>
        /// Removes what -Persist installed, then BypassNat's rules from both backends (in that order, so
        /// no watcher puts them back in between); returns the forwards that were there.
        /// </summary>
        public IReadOnlyList<BypassForward> RemoveAll()
        {
            new PersistenceInstaller(_session).Uninstall();
            var removed = new List<BypassForward>();
            foreach (IRouterBackend backend in new[] { Choice.Backend, Choice.Other }.Where(b => b != null))
            {
                RouterState state = backend.Read(_session);
                removed.AddRange(state.Forwards);
                backend.Remove(_session, state);
                if (backend.Read(_session).Present)
                    throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                        $"BypassNat's {backend.Kind} rules are still on {_session.Settings.Endpoint} after removing them.", _session.Settings.Endpoint);
            }

            return removed;
        }

        private void Verify(IReadOnlyList<BypassForward> desired)
        {
            RouterState after = Choice.Backend.Read(_session);
            RulesetDiff left = RulesetDiff.Compute(desired, after.Forwards);
            if (left.IsEmpty && after.Problems.Count == 0 && after.InPlace) return;
            string detail = left.Describe();
            if (after.Problems.Count > 0) detail += "\n  unreadable rules:\n    " + string.Join("\n    ", after.Problems);
            if (after.Repair != null) detail += "\n  still needed: " + after.Repair;
            throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                $"The rules read back from {_session.Settings.Endpoint} differ from what was applied; another program may be changing the ruleset at the same time. " +
                $"Run the apply again, and if this repeats, compare with Get-BypassForward.\n{detail}",
                _session.Settings.Endpoint);
        }

        private static string[] Names(IEnumerable<BypassForward> forwards) => forwards.Select(f => f.Name).ToArray();

        private static string PublicAddresses(IEnumerable<BypassForward> forwards)
        {
            string joined = string.Join(", ", forwards.Where(f => f.Enabled && f.PublicAddress != null).Select(f => f.PublicAddress.ToString()).Distinct());
            return joined.Length == 0 ? null : joined;
        }
    }
}
