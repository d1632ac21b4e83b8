using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using BypassNat.Backends;
using BypassNat.Persistence;
using BypassNat.Proxy;
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

        // What one SSH command read before anything changed; null once the rules changed.
        private RouterSurvey _survey;

        /// <param name="wanInterface">The main router's WAN interface as the user named it; null for its default route's.</param>
        public ForwardApplier(RouterSession session, BackendChoice choice, RouterHop hop = null, string wanInterface = null)
        {
            _session = session;
            Choice = choice;
            Hop = hop ?? RouterHop.Bypass;
            _wanInterface = wanInterface;
        }

        /// <summary>
        /// An applier for a backend that owns a transport other than the router's shell (a web API):
        /// no survey, no saved set, no watchdog; <paramref name="context"/> is what rendering needs
        /// from the router, found by the caller.
        /// </summary>
        public ForwardApplier(BackendChoice choice, RouterHop hop, RenderContext context)
            : this(null, choice, hop)
        {
            _context = context;
        }

        public BackendChoice Choice { get; }

        /// <summary>
        /// Picks the backend for this hop from one SSH command (probe, addresses, both backends' rules:
        /// <see cref="RouterSurvey"/>), so the plan, -WhatIf and a no-op apply need nothing more. On the
        /// main router the WAN interface is found from the same addresses (named, or the default
        /// route's), so a read can tell rules on an old WAN interface from current ones; a router
        /// without a default route can still be read, and fails only when applying.
        /// </summary>
        /// <param name="options">The user's settings for the backends that take them (-WanZone, -LanZone).</param>
        public static ForwardApplier For(RouterSession session, BackendKind requested, RouterHop hop, string wanInterface, BackendOptions options = null)
        {
            RouterSurvey survey = RouterSurvey.Run(session, requested, hop, wanInterface, options);
            var applier = new ForwardApplier(session, survey.Choice, hop, wanInterface)
            {
                _survey = survey, _addresses = survey.Addresses, _context = survey.MainContext, ExpectedWanInterface = survey.MainContext?.WanInterface,
                Proxy = hop.Role == RouterRole.Bypass ? survey.Proxy : null, Ipv6State = survey.Ipv6,
            };
            return applier;
        }

        /// <summary>The forwards in the shape this router holds them (the main hop's projection; for UCI redirects also no comment).</summary>
        public List<BypassForward> Project(IEnumerable<BypassForward> forwards)
        {
            List<BypassForward> projected = Hop.Project(forwards);
            return Choice?.Backend == null ? projected : projected.Select(Choice.Backend.Shape).ToList();
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
            ? Addresses.MainContext(_wanInterface, Endpoint)
            : new RenderContext(Addresses.Addresses.Select(a => a.Prefix)));

        /// <summary>Forwards that belong elsewhere (not this router's address, not on its LAN, or capturing SSH from the WAN).</summary>
        public IReadOnlyList<ForwardIssue> CheckPlacement(IReadOnlyList<BypassForward> desired, bool sshGuard, int sshPort) =>
            ForwardPlacement.Check(desired, Hop.Role, Addresses, Context, Endpoint, sshGuard ? _session.Addresses : null, sshPort);

        public ApplyPlan Plan(IReadOnlyList<BypassForward> desired)
        {
            var plan = new ApplyPlan(Project(desired), Context, ReadState(), Choice.Other == null ? null : Read(Choice.Other));
            if (Proxy != null) plan.Exemption = ProxyExemption.For(Proxy, plan.Desired);
            // From the forwards as given: the main hop's projection keeps only their IPv4 side.
            if (Ipv6State != null) plan.Ipv6 = Ipv6.Ipv6Pinholes.For(Hop.Role, Ipv6State, desired, Endpoint);
            return plan;
        }

        /// <summary>BypassNat's IPv6 rules as the survey read them; null where the hop was not surveyed (then IPv6 is not touched).</summary>
        public Ipv6.Ipv6State Ipv6State { get; private set; }

        /// <summary>
        /// How a transparent proxy on the bypass router captures LAN traffic, as the survey found it
        /// (null on the main hop, which is not surveyed): the plan's exemption follows from it.
        /// </summary>
        public ProxyCapture Proxy { get; private set; }

        /// <summary>Told of every state read from the router (the cmdlets remember the names for tab completion).</summary>
        public Action<RouterState> Observed { get; set; }

        public RouterState ReadState()
        {
            RouterState state = Read(Choice.Backend);
            Observed?.Invoke(state);
            return state;
        }

        /// <summary>What the other backend holds (forwards a change of backend left behind); null when there is no other.</summary>
        public RouterState ReadOtherState() => Choice.Other == null ? null : Read(Choice.Other);

        private RouterState Read(IRouterBackend backend) => _survey != null && _survey.Covers(backend) ? _survey.State(backend) : backend.Read();

        /// <summary>The connection the apply goes through: the SSH session, or the backend's own transport.</summary>
        private IRouterTransport Transport => (IRouterTransport)_session ?? Choice.Backend.Transport;

        private string Endpoint => Transport.Endpoint;

        /// <summary>The backend as one that runs on the router's shell; only those offer a saved set or a watchdog (their capabilities say so).</summary>
        private static IScriptedBackend Scripted(IRouterBackend backend) =>
            backend as IScriptedBackend ?? throw new InvalidOperationException($"The {backend.Kind} backend declares a capability that only a backend on the router's shell can have.");

        /// <summary>
        /// Applies the plan. Where -Persist installed the forwards on the router (or
        /// <paramref name="persist"/> asks for it now), the saved set is written first: the router's
        /// watcher restores whatever is saved, so it must never see the new rules beside the old file.
        /// If the kernel then refuses the rules, the saved set goes back to what the router holds.
        /// </summary>
        public ApplyResult Apply(ApplyPlan plan, bool persist, Action<string> warn)
        {
            if (!Choice.Backend.Capabilities.HasFlag(BackendCapabilities.SavedSet)) return ApplyWithoutSavedSet(plan, persist, warn);
            string persisted = null;
            var installer = new PersistenceInstaller(_session, Hop);
            // Whether an earlier -Persist installed this hop: a failed save must put back exactly that.
            _wasInstalled = !persist || (_survey != null ? _survey.Persisted : installer.IsInstalled());
            // A change saves the set in the same command as the rules (see Write); a no-op apply with
            // -Persist only installs.
            if (!plan.NeedsWrite && persist)
            {
                IReadOnlyList<string> saveWarnings = null;
                persisted = GuardSave(installer, plan, () => installer.Save(Scripted(Choice.Backend), plan.Desired, plan.Context, persist, out saveWarnings, plan.Exemption?.SavedChain, plan.Exemption?.SavedNft));
                foreach (string warning in saveWarnings) warn(warning);
            }

            ApplyResult result;
            try
            {
                result = ApplyRules(plan, persist, installer, ref persisted, warn);
            }
            catch (BypassNatException failure) when (persisted != null)
            {
                // With the connection gone the live rules may be the new ones: the saved set stays new,
                // so the router's next restore converges on what was asked for.
                if (RouterScript.Interrupted(failure))
                    throw new BypassNatException(failure.ErrorId, failure.Kind,
                        failure.Message + " The saved set on the router already holds the new forwards, so its next boot or flush restores those.",
                        failure.Target, failure.InnerException);
                IRouterBackend before = plan.Leftover != null ? Choice.Other : Choice.Backend;
                try
                {
                    installer.Save(Scripted(before), (plan.Leftover ?? plan.State).Forwards, plan.Context, false, out _);
                }
                catch (BypassNatException rollback)
                {
                    throw new BypassNatException(failure.ErrorId, failure.Kind,
                        failure.Message + $" Putting the saved set back failed too ({rollback.Message}): it holds the new forwards, so the router's next boot or flush " +
                        "would restore those. Run the apply again.", failure.Target, failure);
                }

                throw;
            }

            result.Persisted = persisted;
            result.SshCommands = Transport.RoundTrips;
            return result;
        }

        /// <summary>
        /// <see cref="Apply"/> with a commit-confirmed safety net (-ConfirmTimeout): the write starts a
        /// watchdog on the router first (<see cref="CommitConfirmation"/>), and once the router holds
        /// the new set a new SSH connection (<paramref name="open"/>) confirms it. A change that is
        /// not confirmed in time is rolled back by the router itself, and the error says what it holds.
        /// A no-op apply starts no watchdog.
        /// </summary>
        public ApplyResult ApplyConfirmed(ApplyPlan plan, bool persist, int timeoutSeconds, Func<SshSettings, RouterSession> open, Action<string> warn, Action<string> verbose,
            System.Threading.CancellationToken cancel = default(System.Threading.CancellationToken))
        {
            CheckConfirmable();
            if (!plan.NeedsWrite) return Apply(plan, persist, warn);

            _confirmation = new CommitConfirmation(Hop, timeoutSeconds);
            ApplyResult result;
            try
            {
                result = Apply(plan, persist, warn);
            }
            catch (BypassNatException failure) when (_confirmation.Deadline != null || failure.ErrorId == "BypassNat.ConnectionLost")
            {
                // The watchdog is the safety net for exactly this: it restores the previous state unless confirmed.
                string at = (_confirmation.Deadline ?? DateTime.UtcNow.AddSeconds(timeoutSeconds)).ToString("HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
                string note = _confirmation.Deadline != null
                    ? $" -ConfirmTimeout: the watchdog started on the router before the change puts back its previous forwards by itself at {at}, as nothing confirmed this apply."
                    : $" -ConfirmTimeout: if the connection was lost after the watchdog started (the first step of that command), the router puts back its previous forwards by itself at about {at}.";
                throw new BypassNatException(failure.ErrorId, failure.Kind, failure.Message + note, failure.Target, failure);
            }

            if (_confirmation.Deadline == null) return result;
            try
            {
                _confirmation.Confirm(_session, open, () => DescribeHeld(plan), verbose, cancel);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C while waiting out an unconfirmed change: the router needs no one to roll back.
                string at = _confirmation.Deadline.Value.ToString("HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
                throw new BypassNatException("BypassNat.Stopped", FailureKind.InvalidOperation,
                    $"Stopped (Ctrl-C) before the change on {Endpoint} was confirmed: the watchdog on the router puts back its previous forwards by itself at {at}.",
                    Endpoint);
            }

            return result;
        }

        /// <summary>Refuses -ConfirmTimeout where the backend cannot have the router roll back by itself (UCI redirects).</summary>
        public void CheckConfirmable()
        {
            if (!Choice.Backend.Capabilities.HasFlag(BackendCapabilities.CommitConfirmed))
                throw new BypassNatException("BypassNat.ConfirmNotSupported", FailureKind.InvalidOperation,
                    Choice.Backend.Explain(BackendCapabilities.CommitConfirmed) ?? $"-ConfirmTimeout is not supported for the {Choice.Backend.Kind} backend ({Endpoint}). Nothing was changed.",
                    Endpoint);
        }

        // Set by ApplyConfirmed for the write it guards.
        private CommitConfirmation _confirmation;

        /// <summary>What the router holds now, read through this command's connection, against what it held before the apply.</summary>
        private string DescribeHeld(ApplyPlan plan)
        {
            RouterState now = Choice.Backend.Read();
            var held = new List<BypassForward>(now.Forwards);
            if (plan.Leftover != null) held.AddRange(Choice.Other.Read().Forwards);
            IReadOnlyList<BypassForward> before = PreviousForwards(plan);
            string names = held.Count == 0 ? "none of BypassNat's forwards" : $"{held.Count} forward(s): {string.Join(", ", held.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal))}";
            RulesetDiff diff = RulesetDiff.Compute(before, held);
            return diff.IsEmpty
                ? $"the router holds {names}, exactly its previous forwards."
                : $"the router holds {names}, which differ from its previous forwards:\n{diff.Describe()}";
        }

        /// <summary>What the router held before the apply, in both backends where the apply moves the forwards.</summary>
        private static List<BypassForward> PreviousForwards(ApplyPlan plan) =>
            plan.State.Forwards.Concat(plan.Leftover?.Forwards ?? Enumerable.Empty<BypassForward>()).ToList();

        /// <summary>
        /// The rollback the watchdog runs: the backends this apply writes put back to what they held,
        /// and -Persist's saved set with them (a first -Persist removed again).
        /// </summary>
        private string ConfirmRollback(ApplyPlan plan, bool save)
        {
            string p = _session.Privileged;
            var live = new List<KeyValuePair<IScriptedBackend, RouterState>> { new KeyValuePair<IScriptedBackend, RouterState>(Scripted(Choice.Backend), plan.State) };
            if (plan.Leftover != null) live.Add(new KeyValuePair<IScriptedBackend, RouterState>(Scripted(Choice.Other), plan.Leftover));
            string persist = null;
            if (save)
            {
                var installer = new PersistenceInstaller(_session, Hop);
                IRouterBackend before = plan.Leftover != null ? Choice.Other : Choice.Backend;
                persist = _wasInstalled
                    ? installer.SaveScript(p, Scripted(before), (plan.Leftover ?? plan.State).Forwards, plan.Context, false)
                    : installer.UninstallScript(p);
            }

            return CommitConfirmation.RollbackScript(Hop, p, live, plan.Context, persist);
        }

        /// <summary>
        /// A backend without a saved set (UCI redirects: the router's own persistent config) writes
        /// alone: no saved set, no hooks. Its refusals say what the router holds (kept, or rolled back).
        /// </summary>
        private ApplyResult ApplyWithoutSavedSet(ApplyPlan plan, bool persist, Action<string> warn)
        {
            string unused = null;
            ApplyResult result = ApplyRules(plan, false, null, ref unused, warn);
            if (persist && Choice.Backend.Capabilities.HasFlag(BackendCapabilities.PersistsItself)) result.Persisted = Choice.Backend.Kind.ToString().ToLowerInvariant();
            result.SshCommands = Transport.RoundTrips;
            return result;
        }

        // Set by Apply: whether -Persist was installed before this apply.
        private bool _wasInstalled;

        /// <summary>
        /// Runs a save of the set. The rules are written only after it (or in the same script, which
        /// stops at a refused save), so when it fails nothing of this apply reached the kernel: whatever
        /// the failed save left behind goes back, so that no watcher or firewall reload brings in the
        /// new set later, and the error says what the router holds.
        /// </summary>
        private string GuardSave(PersistenceInstaller installer, ApplyPlan plan, Func<string> save)
        {
            try
            {
                return save();
            }
            catch (BypassNatException e)
            {
                throw new BypassNatException(e.ErrorId, e.Kind, e.Message + " " + UndoSave(installer, plan, _wasInstalled), e.Target, e);
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
                installer.Save(Scripted(before), (plan.Leftover ?? plan.State).Forwards, plan.Context, false, out _);
                return held + " Its saved set (from an earlier -Persist) was put back to them.";
            }
            catch (BypassNatException undo)
            {
                return held + $" Undoing the partial save failed too, so the files and hooks of -Persist on it may hold the new set: {undo.Message} " +
                    "Run Remove-BypassForward -All to clear them, or apply again.";
            }
        }

        private ApplyResult ApplyRules(ApplyPlan plan, bool persist, PersistenceInstaller installer, ref string persisted, Action<string> warn)
        {
            var clock = Stopwatch.StartNew();
            var result = new ApplyResult
            {
                ComputerName = Transport.ComputerName,
                Role = Hop.Role.ToString(),
                Backend = Choice.Backend.Kind.ToString(),
                Unchanged = Names(plan.Diff.Unchanged),
                PublicAddress = PublicAddresses(plan.Desired),
                Proxy = plan.Exemption?.Summary,
                Ipv6 = plan.Ipv6?.Summary,
            };
            if (!plan.NeedsWrite)
            {
                result.Duration = clock.Elapsed;
                return result;
            }

            IEnumerable<BypassForward> touched = plan.Diff.Touched();
            if (plan.Leftover != null) touched = touched.Concat(plan.Leftover.Forwards);
            if (Choice.Backend is IScriptedBackend scripted)
            {
                result.ConntrackEntriesDeleted = Write(scripted, plan, touched, persist, installer, ref persisted, warn);
            }
            else
            {
                // A backend that writes by itself (not on the router's shell): no saved set of -Persist
                // (its capabilities offer none) and no -ConfirmTimeout watchdog (CheckConfirmable refuses it).
                BackendWriteOutcome outcome = Choice.Backend.Write(new BackendWrite(plan.Desired, plan.Context, plan.State, touched));
                result.ConntrackEntriesDeleted = outcome.ConntrackEntriesDeleted;
                foreach (string warning in outcome.Warnings) warn(warning);
                Verify(plan.Desired, Choice.Backend.Read());
            }

            if (plan.Leftover != null)
            {
                Choice.Other.Remove(plan.Leftover);
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
        /// <remarks>
        /// With scripted backends this is one SSH command under the router-side lock, checked against
        /// the survey's generation: uninstall, each backend's removal, each backend's read-back. The
        /// UCI backend (an OpenWrt main router) removes step by step.
        /// </remarks>
        public IReadOnlyList<BypassForward> RemoveAll()
        {
            var installer = new PersistenceInstaller(_session, Hop);
            List<IRouterBackend> backends = new[] { Choice.Backend, Choice.Other }.Where(b => b != null).ToList();
            if (_survey == null || !backends.All(_survey.Covers)) return RemoveAllStepByStep(_session == null ? null : installer, backends);

            string p = _session.Privileged;
            var removed = new List<BypassForward>();
            var script = new SectionedScript()
                .Add("confirm", CommitConfirmation.PendingCheckScript(Hop), stopOnFailure: true)
                .Add("persist", installer.UninstallScript(p), stopOnFailure: true);
            var cleared = new List<IScriptedBackend>();
            foreach (IScriptedBackend backend in backends.Cast<IScriptedBackend>())
            {
                RouterState state = Read(backend);
                removed.AddRange(state.Forwards);
                string removal = backend.RemoveScript(p, state);
                if (removal == null) continue;
                script.Add("remove-" + Section(backend), removal, stopOnFailure: true);
                cleared.Add(backend);
            }

            foreach (IScriptedBackend backend in cleared) script.Add("read-" + Section(backend), backend.ReadScript(p));
            ProxyExemption exemption = LeftoverExemption;
            CommandResult whole = RouterLock.Run(_session, script.Render(), "removing BypassNat's rules and what -Persist installed", _survey.Generation);
            _survey = null;
            IReadOnlyDictionary<string, CommandResult> sections = script.Parse(whole);
            CommitConfirmation.ThrowIfPending(_session, Hop, SectionedScript.Section(sections, "confirm", whole));
            installer.Uninstalled(SectionedScript.Section(sections, "persist", whole));
            var gone = new List<string>();
            foreach (IScriptedBackend backend in cleared)
            {
                CommandResult result = SectionedScript.Section(sections, "remove-" + Section(backend), whole);
                if (!result.Succeeded)
                    throw RouterScript.Failure(_session,
                        $"remove BypassNat's {backend.Kind} rules ({Hop.Role} hop, {backend.LoadTool}); what -Persist installed is gone" +
                        (gone.Count > 0 ? $" and so are the {string.Join(" and ", gone)} rules" : string.Empty) +
                        $", but the router still holds the {backend.Kind} rules as they were (the kernel refused the whole transaction)", result, backend.Tools);
                gone.Add(backend.Kind.ToString());
            }

            foreach (IScriptedBackend backend in cleared)
            {
                CommandResult readBack = SectionedScript.Section(sections, "read-" + Section(backend), whole);
                if (!readBack.Succeeded)
                    throw RouterScript.Failure(_session, $"read BypassNat's {backend.Kind} rules back after removing them; they are removed but not verified", readBack, backend.Tools);
                if (backend.ParseRead(readBack.Output).Present)
                    throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                        $"BypassNat's {backend.Kind} rules ({Hop.Role} hop) are still on {Endpoint} after removing them.", Endpoint);
            }

            // The mangle table is iptables' whatever the forwards' backend: its own locked command, only where a proxy made one.
            if (exemption != null && exemption.Relevant) RemoveExemption(exemption);
            RemoveIpv6();
            return removed;
        }

        private static string Section(IRouterBackend backend) => backend.Kind.ToString().ToLowerInvariant();

        // What removes BypassNat's proxy exemption along with every forward; null where no proxy was found.
        private ProxyExemption LeftoverExemption => Proxy == null ? null : ProxyExemption.For(Proxy, new BypassForward[0]);

        private IReadOnlyList<BypassForward> RemoveAllStepByStep(PersistenceInstaller installer, IEnumerable<IRouterBackend> backends)
        {
            installer?.Uninstall();
            // What the survey read is still true: uninstalling touches files, not rules.
            var removed = new List<BypassForward>();
            ProxyExemption exemption = LeftoverExemption;
            foreach (IRouterBackend backend in backends)
            {
                RouterState state = Read(backend);
                removed.AddRange(state.Forwards);
                backend.Remove(state);
                _survey = null;
                if (backend.Read().Present)
                    throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                        $"BypassNat's {backend.Kind} rules ({Hop.Role} hop) are still on {Endpoint} after removing them.", Endpoint);
            }

            if (exemption != null && exemption.Relevant) RemoveExemption(exemption);
            RemoveIpv6();
            return removed;
        }

        /// <summary>Deletes BypassNat's IPv6 chains (as the survey found them), in a locked command of their own, and checks they are gone.</summary>
        private void RemoveIpv6()
        {
            if (Ipv6State == null || _session == null) return;
            Ipv6.Ipv6Pinholes leftover = Ipv6.Ipv6Pinholes.For(Hop.Role, Ipv6State, new BypassForward[0], Endpoint);
            if (!leftover.Relevant) return;
            string p = _session.Privileged;
            CommandResult result = RouterLock.Run(_session, RouterScript.Wrap(leftover.Script(p) + leftover.ReadScript(p)), "removing the IPv6 rules");
            if (!result.Succeeded)
                throw RouterScript.Failure(_session, "remove BypassNat's IPv6 rules (ip6tables-restore); the forwards are removed, their IPv6 rules are not", result, "ip6tables-save and ip6tables-restore");
            string left = leftover.Verify(result.Output);
            if (left != null)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"BypassNat's forwards are removed from {Endpoint}, but its IPv6 rules are not: {left}.", Endpoint);
        }

        /// <summary>Deletes BypassNat's proxy exemption chain from the mangle table (the proxy's own rules stay), and checks it is gone.</summary>
        private void RemoveExemption(ProxyExemption exemption)
        {
            string p = _session.Privileged;
            CommandResult result = RouterLock.Run(_session, RouterScript.Wrap(exemption.Script(p) + exemption.ReadScript(p)), "removing the proxy exemption");
            if (!result.Succeeded)
                throw RouterScript.Failure(_session, $"remove the proxy exemption ({ProxyExemption.Chain} from the mangle table with iptables-restore, BypassNat's rules from the proxy's nftables chains with nft); the forwards are removed, the exemption is not", result,
                    "iptables-save and iptables-restore, or nft");
            string left = exemption.Verify(result.Output);
            if (left != null)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"BypassNat's forwards are removed from {Endpoint}, but its proxy exemption is not: {left}.", Endpoint);
        }

        /// <summary>
        /// The change as one SSH command: refresh the saved set (where -Persist installed one), the
        /// kernel transaction, the conntrack clean-up of the touched ports, and the read-back, which
        /// the workstation then compares with the desired set. A refused save or transaction stops
        /// the script there, so nothing after it runs.
        /// </summary>
        private int Write(IScriptedBackend backend, ApplyPlan plan, IEnumerable<BypassForward> touched, bool persist,
            PersistenceInstaller installer, ref string persisted, Action<string> warn)
        {
            string p = _session.Privileged;
            var script = new SectionedScript();
            bool save = persist || _survey == null || _survey.Persisted;
            if (_confirmation != null)
            {
                // The saved set's rollback must outlive a reboot in the window (see CommitConfirmation.PendingFile).
                string keep = !save ? null : persist ? "true" : $"[ -f {Hop.Directory}/restore.sh ]";
                script.Add("confirm", _confirmation.StartScript(_session.Privileged, ConfirmRollback(plan, save), PreviousForwards(plan), keep), stopOnFailure: true);
            }
            else
                script.Add("confirm", CommitConfirmation.PendingCheckScript(Hop), stopOnFailure: true);
            if (save) script.Add("persist", installer.SaveScript(p, backend, plan.Desired, plan.Context, persist, plan.Exemption?.SavedChain, plan.Exemption?.SavedNft), stopOnFailure: true);
            // Before the forwards: a refused exemption changes nothing, and an exemption without its
            // forwards only exempts connections nobody DNATs.
            bool exempt = plan.Exemption != null && plan.Exemption.Relevant;
            if (exempt) script.Add("proxy-exemption", plan.Exemption.Script(p), stopOnFailure: true);
            bool ipv6 = plan.Ipv6 != null && plan.Ipv6.Relevant;
            if (ipv6) script.Add("ipv6", plan.Ipv6.Script(p), stopOnFailure: true);
            script.Add("load", backend.LoadScript(p, plan.Desired, plan.Context, plan.State), stopOnFailure: true);
            if (backend.Capabilities.HasFlag(BackendCapabilities.ConntrackCleanup))
                script.Add("conntrack", RouterScript.ForgetConntrack(p, backend.ConntrackTargets(touched, plan.Context)));
            script.Add("read-back", backend.ReadScript(p));
            if (exempt) script.Add("proxy-read-back", plan.Exemption.ReadScript(p));
            if (ipv6) script.Add("ipv6-read-back", plan.Ipv6.ReadScript(p));
            CommandResult whole;
            try
            {
                // Checked under the lock: a write planned against rules another writer has since changed stops before changing anything.
                whole = RouterScript.RunChange(_session, script.Render(), backend.LoadTool, _survey?.Generation);
            }
            catch (BypassNatException lost) when (save && RouterScript.Interrupted(lost))
            {
                // The saved set goes first in the same script; where the cut fell, only a new look can tell.
                throw new BypassNatException(lost.ErrorId, lost.Kind,
                    lost.Message + " The saved set on the router is written first in the same command, so it may already hold the new forwards; the next apply brings both to the same set.",
                    lost.Target, lost.InnerException);
            }

            _survey = null;
            IReadOnlyDictionary<string, CommandResult> sections = script.Parse(whole);
            foreach (string warning in RouterScript.Warnings(whole)) warn(warning);
            // A watchdog that did not start stopped the script before anything changed.
            if (_confirmation != null) _confirmation.Started(_session, SectionedScript.Section(sections, "confirm", whole));
            else CommitConfirmation.ThrowIfPending(_session, Hop, SectionedScript.Section(sections, "confirm", whole));

            if (save)
            {
                IReadOnlyList<string> saveWarnings = null;
                CommandResult saved = SectionedScript.Section(sections, "persist", whole);
                persisted = GuardSave(installer, plan, () => installer.Saved(saved, out saveWarnings));
                foreach (string warning in saveWarnings) warn(warning);
            }

            if (exempt)
            {
                CommandResult exemption = SectionedScript.Section(sections, "proxy-exemption", whole);
                if (!exemption.Succeeded)
                    throw RouterScript.Failure(_session,
                        $"exempt the forwards' replies from the proxy ({ProxyExemption.Chain} in the mangle table with iptables-restore, or rules first in the proxy's nftables chains with nft); the kernel refused it, so the router keeps its previous forwards",
                        exemption, "iptables-save and iptables-restore, or nft");
            }

            if (ipv6)
            {
                CommandResult written = SectionedScript.Section(sections, "ipv6", whole);
                if (!written.Succeeded)
                    throw RouterScript.Failure(_session,
                        "write the IPv6 rules (ip6tables-restore); the kernel refused them, so the router keeps its previous forwards, IPv4 and IPv6",
                        written, "ip6tables-save and ip6tables-restore");
            }

            CommandResult load = SectionedScript.Section(sections, "load", whole);
            if (!load.Succeeded)
                throw RouterScript.Failure(_session,
                    $"apply the rules ({backend.LoadTool}); the kernel rejected the whole transaction, so the router keeps its previous forwards", load, backend.Tools);
            CommandResult conntrack = SectionedScript.Section(sections, "conntrack", whole);
            foreach (string warning in RouterScript.Warnings(load).Concat(RouterScript.Warnings(conntrack))) warn(warning);

            CommandResult readBack = SectionedScript.Section(sections, "read-back", whole);
            if (!readBack.Succeeded)
                throw RouterScript.Failure(_session, "read the rules back after applying them; they are applied but not verified", readBack, backend.Tools);
            Verify(plan.Desired, backend.ParseRead(readBack.Output));
            if (exempt) VerifyExemption(plan.Exemption, SectionedScript.Section(sections, "proxy-read-back", whole));
            if (ipv6) VerifyIpv6(plan.Ipv6, SectionedScript.Section(sections, "ipv6-read-back", whole));
            return RouterScript.ConntrackDeleted(conntrack);
        }

        private void VerifyIpv6(Ipv6.Ipv6Pinholes rules, CommandResult readBack)
        {
            if (!readBack.Succeeded)
                throw RouterScript.Failure(_session, "read the IPv6 rules back (ip6tables-save); the forwards are applied, their IPv6 rules are not verified", readBack, "ip6tables-save");
            string differs = rules.Verify(readBack.Output);
            if (differs != null)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"The forwards on {Endpoint} are applied, but their IPv6 rules read back wrong: {differs}. Another program may be changing ip6tables at the same time. Run the apply again.", Endpoint);
        }

        private void VerifyExemption(ProxyExemption exemption, CommandResult readBack)
        {
            if (!readBack.Succeeded)
                throw RouterScript.Failure(_session, "read the proxy's rules back after exempting the forwards' replies from the proxy; the forwards are applied, the exemption is not verified",
                    readBack, "iptables-save and iptables-restore, or nft");
            string differs = exemption.Verify(readBack.Output);
            if (differs != null)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"The forwards on {Endpoint} are applied, but the exemption of their replies from the proxy read back wrong: {differs}. " +
                    "Another program (the proxy restarting?) may be changing its rules at the same time. Run the apply again.", Endpoint);
        }

        private void Verify(IReadOnlyList<BypassForward> desired, RouterState after)
        {
            RulesetDiff left = RulesetDiff.Compute(desired, after.Forwards);
            if (left.IsEmpty && after.Problems.Count == 0 && after.InPlace) return;
            string detail = left.Describe();
            if (after.Problems.Count > 0) detail += "\n  unreadable rules:\n    " + string.Join("\n    ", after.Problems);
            if (after.Repair != null) detail += "\n  still needed: " + after.Repair;
            string holds = after.Forwards.Count == 0 ? "none of BypassNat's forwards"
                : $"{after.Forwards.Count} forward(s): {string.Join(", ", after.Forwards.Select(f => f.Name))}";
            throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                $"The rules read back from {Endpoint} differ from what was applied; it now holds {holds}. Another program may be changing the ruleset at the same time. " +
                $"Run the apply again, and if this repeats, compare with Get-BypassForward.\n{detail}",
                Endpoint);
        }

        private static string[] Names(IEnumerable<BypassForward> forwards) => forwards.Select(f => f.Name).ToArray();

        private static string PublicAddresses(IEnumerable<BypassForward> forwards)
        {
            string joined = string.Join(", ", forwards.Where(f => f.Enabled && f.PublicAddress != null).Select(f => f.PublicAddress.ToString()).Distinct());
            return joined.Length == 0 ? null : joined;
        }
    }
}
