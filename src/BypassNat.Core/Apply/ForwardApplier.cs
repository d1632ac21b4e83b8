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
        private readonly string _wanInterface;
        private RouterAddresses _addresses;
        private RenderContext _context;

        /// <param name="wanInterface">The main router's WAN interface as the user named it; null for its default route's.</param>
        public ForwardApplier(RouterSession session, BackendChoice choice, RouterHop hop = null, string wanInterface = null)
        {
            _session = session;
            Choice = choice;
            Hop = hop ?? RouterHop.Bypass;
            _wanInterface = wanInterface;
        }

        public BackendChoice Choice { get; }

        /// <summary>
        /// Picks the backend for this hop. On the main router the WAN interface is found first (named,
        /// or the default route's), so a read can tell rules on an old WAN interface from current ones;
        /// a router without a default route can still be read, and fails only when applying.
        /// </summary>
        public static ForwardApplier For(RouterSession session, BackendKind requested, RouterHop hop, string wanInterface)
        {
            var probe = new ForwardApplier(session, null, hop, wanInterface);
            string expected = null;
            if (hop.Role == RouterRole.Main)
            {
                try
                {
                    expected = probe.Context.WanInterface;
                }
                catch (BypassNatException e) when (e.ErrorId == "BypassNat.WanInterfaceNotFound" || e.ErrorId == "BypassNat.WanInterfaceAmbiguous")
                {
                    probe._context = null;
                }
            }

            return new ForwardApplier(session, BackendSelector.Choose(session, requested, hop, expected), hop, wanInterface)
            {
                _addresses = probe._addresses, _context = probe._context, ExpectedWanInterface = expected,
            };
        }

        /// <summary>The main router's WAN interface the rules should match on; null for the bypass hop or when unknown.</summary>
        public string ExpectedWanInterface { get; private set; }

        /// <summary>Which half of the double forward this router holds.</summary>
        public RouterHop Hop { get; }

        /// <summary>The router's addresses and default routes, read once.</summary>
        public RouterAddresses Addresses => _addresses ?? (_addresses = RouterAddresses.Read(_session));

        /// <summary>
        /// What rendering needs from the router: its LANs (every connected network; on the main router,
        /// every one but the WAN's) and, on the main router, the WAN interface and its addresses.
        /// </summary>
        public RenderContext Context => _context ?? (_context = Hop.Role == RouterRole.Main
            ? Addresses.MainContext(_wanInterface, _session.Settings.Endpoint)
            : new RenderContext(Addresses.Addresses.Select(a => a.Prefix)));

        /// <summary>Forwards that belong elsewhere (not this router's address, not on its LAN, or capturing SSH from the WAN).</summary>
        public IReadOnlyList<ForwardIssue> CheckPlacement(IReadOnlyList<BypassForward> desired, bool sshGuard, int sshPort) =>
            ForwardPlacement.Check(desired, Hop.Role, Addresses, Context, _session.Settings.Endpoint, sshGuard ? _session.Addresses : null, sshPort);

        public ApplyPlan Plan(IReadOnlyList<BypassForward> desired) =>
            new ApplyPlan(Hop.Project(desired), Context, Choice.Backend.Read(_session), Choice.Other?.Read(_session));

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
            var installer = new PersistenceInstaller(_session, Hop);
            if (plan.NeedsWrite || persist)
            {
                persisted = installer.Save(Choice.Backend.Kind, plan.Desired, plan.Context, persist, out IReadOnlyList<string> saveWarnings);
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

        private ApplyResult ApplyRules(ApplyPlan plan, Action<string> warn)
        {
            var clock = Stopwatch.StartNew();
            var result = new ApplyResult
            {
                ComputerName = _session.Settings.ComputerName,
                Role = Hop.Role.ToString(),
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
            new PersistenceInstaller(_session, Hop).Uninstall();
            var removed = new List<BypassForward>();
            foreach (IRouterBackend backend in new[] { Choice.Backend, Choice.Other }.Where(b => b != null))
            {
                RouterState state = backend.Read(_session);
                removed.AddRange(state.Forwards);
                backend.Remove(_session, state);
                if (backend.Read(_session).Present)
                    throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                        $"BypassNat's {backend.Kind} rules ({Hop.Role} hop) are still on {_session.Settings.Endpoint} after removing them.", _session.Settings.Endpoint);
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
