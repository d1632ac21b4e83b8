using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using BypassNat.Backends;
using BypassNat.Persistence;
using BypassNat.Proxy;
using BypassNat.Ssh;
using BypassNat.Backends.Iptables;
using BypassNat.Registry;
using BypassNat.Validation;

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

        // What one SSH command read before anything changed. An applier makes one change: after it,
        // reads go to the router (DescribeHeld, the step-by-step removal), never to the survey.
        private readonly RouterSurvey _survey;

        /// <param name="wanInterface">The main router's WAN interface as the user named it; null for its default route's.</param>
        public ForwardApplier(RouterSession session, BackendChoice choice, RouterHop hop = null, string wanInterface = null)
            : this(session, choice, hop, wanInterface, null)
        {
        }

        private ForwardApplier(RouterSession session, BackendChoice choice, RouterHop hop, string wanInterface, RouterSurvey survey)
        {
            _session = session;
            _survey = survey;
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
            var applier = new ForwardApplier(session, survey.Choice, hop, wanInterface, survey)
            {
                _addresses = survey.Addresses, _context = survey.MainContext, ExpectedWanInterface = survey.MainContext?.WanInterface,
                Proxy = hop.Role == RouterRole.Bypass ? survey.Proxy : null, Ipv6State = survey.Ipv6,
            };
            return applier;
        }

        /// <summary>The forwards in the shape this router holds them (the main hop's projection; for UCI redirects also no comment).</summary>
        public List<BypassForward> Project(IEnumerable<BypassForward> forwards)
        {
            // IPv6-only forwards have no IPv4 half: they live in the IPv6 rules alone (ApplyPlan.Ipv6).
            List<BypassForward> given = forwards.Where(f => f.HasIpv4).ToList();
            List<BypassForward> projected = Hop.Project(given);
            if (Choice?.Backend == null) return projected;
            // A backend that holds the IPv6 half itself gets it back after the main hop's projection dropped it.
            if (HoldsIpv6) projected = projected.Select((f, i) => f.WithIpv6(given[i].InternalIPv6, given[i].AllowedSourceIPv6)).ToList();
            return projected.Select(Choice.Backend.Shape).ToList();
        }

        /// <summary>
        /// Whether the backend writes the IPv6 half itself (OpenWrt's traffic rules), instead of ip6tables: its
        /// forwards carry InternalIPv6, and the ip6tables rules (<see cref="Ipv6State"/>) are not this hop's.
        /// </summary>
        public bool HoldsIpv6 => Choice?.Backend != null && Choice.Backend.Capabilities.HasFlag(BackendCapabilities.Ipv6Rules);

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

        /// <summary>
        /// The set against this router's facts (<see cref="ForwardSetCheck.OnRouter"/>): forwards that
        /// belong elsewhere, or that would capture the SSH port this session uses (unless <paramref name="force"/>).
        /// </summary>
        public IReadOnlyList<ForwardIssue> CheckOnRouter(IReadOnlyList<BypassForward> desired, bool force) =>
            ForwardSetCheck.OnRouter(desired, Hop.Role, Addresses, Context, Endpoint, _session.Addresses, _session.Settings.Port, force);

        public ApplyPlan Plan(IReadOnlyList<BypassForward> desired)
        {
            var plan = new ApplyPlan(Project(desired), Context, ReadState(), Choice.Other == null ? null : Read(Choice.Other));
            BypassNatException refusal = plan.State.Refusal(plan.Desired);
            if (refusal != null) throw refusal;
            // From the forwards as given (the bypass hop, where a proxy is looked for, projects nothing): the
            // IPv6 ones too, for a native nft proxy's chains.
            if (Proxy != null) plan.Exemption = ProxyExemption.For(Proxy, desired);
            // From the forwards as given: the main hop's projection keeps only their IPv4 side.
            if (Ipv6State != null && !HoldsIpv6) plan.Ipv6 = Ipv6Pinholes.For(Hop.Role, Ipv6State, desired, Endpoint);
            return plan;
        }

        /// <summary>BypassNat's IPv6 rules as the survey read them; null where the hop was not surveyed (then IPv6 is not touched).</summary>
        public Ipv6State Ipv6State { get; private set; }

        /// <summary>
        /// The forwards read from the router with their IPv6 part (InternalIPv6, AllowedSourceIPv6) from the
        /// ip6tables rules, by name: the nat rules do not carry it, and a set written back without it
        /// (Remove-BypassForward -Name) would take every other forward's IPv6 rules with it.
        /// </summary>
        public List<BypassForward> WithIpv6(IEnumerable<BypassForward> forwards)
        {
            IReadOnlyDictionary<string, (Ipv6Host Host, Ipv6SourceSet Sources)> ipv6 = Ipv6State?.Forwards();
            return forwards.Select(f => ipv6 != null && ipv6.TryGetValue(f.Name, out var six) ? f.WithIpv6(six.Host, six.Sources) : f).ToList();
        }

        /// <summary>
        /// Everything the router holds: the forwards read (<see cref="ReadState"/>) with their IPv6 part, and the
        /// IPv6-only forwards, which only the IPv6 rules hold (their comment names the bypass address).
        /// </summary>
        public List<BypassForward> ReadAll()
        {
            List<BypassForward> forwards = WithIpv6(ReadState().Forwards);
            if (Ipv6State != null)
            {
                var names = new HashSet<string>(forwards.Select(f => f.Name), StringComparer.Ordinal);
                forwards.AddRange(Ipv6State.Ipv6OnlyForwards().Where(f => !names.Contains(f.Name)));
            }

            return forwards;
        }

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
        private IRouterTransport Transport => _session != null ? new ShellTransport(_session) : Choice.Backend.Transport;

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
        public ApplyResult Apply(ApplyPlan plan, bool persist, Action<string> warn) => Apply(new ApplyRun(plan, persist, warn, null));

        /// <summary>
        /// One apply's values, handed from step to step as one value instead of fields of the applier:
        /// the plan and the user's switches, and what the steps found on the way.
        /// </summary>
        private sealed class ApplyRun
        {
            public ApplyRun(ApplyPlan plan, bool persist, Action<string> warn, CommitConfirmation confirmation)
            {
                Plan = plan;
                Persist = persist;
                Warn = warn;
                Confirmation = confirmation;
            }

            public ApplyPlan Plan { get; }
            public bool Persist { get; }
            public Action<string> Warn { get; }

            /// <summary>The watchdog this write starts first (-ConfirmTimeout); null without one.</summary>
            public CommitConfirmation Confirmation { get; }

            public PersistenceInstaller Installer { get; set; }

            /// <summary>Whether an earlier -Persist installed this hop: a failed save must put back exactly that.</summary>
            public bool WasInstalled { get; set; }

            /// <summary>How the router persists the set, once a save succeeded; null before.</summary>
            public string Persisted { get; set; }

            /// <summary>When the router rolls back unless confirmed, once the watchdog started; null before.</summary>
            public DateTime? Deadline { get; set; }
        }

        private ApplyResult Apply(ApplyRun run)
        {
            ApplyPlan plan = run.Plan;
            if (!Choice.Backend.Capabilities.HasFlag(BackendCapabilities.SavedSet)) return ApplyWithoutSavedSet(run);
            run.Installer = new PersistenceInstaller(_session, Hop);
            run.WasInstalled = !run.Persist || (_survey != null ? _survey.Persisted : run.Installer.IsInstalled());
            // A change saves the set in the same command as the rules (see Write); a no-op apply with
            // -Persist only installs.
            if (!plan.NeedsWrite && run.Persist)
            {
                IReadOnlyList<string> saveWarnings = null;
                run.Persisted = GuardSave(run, () => run.Installer.Save(Scripted(Choice.Backend), plan.Desired, plan.Context, run.Persist, out saveWarnings, plan.Exemption?.SavedChain, plan.Exemption?.SavedNft, plan.Ipv6?.Saved));
                foreach (string warning in saveWarnings) run.Warn(warning);
            }

            ApplyResult result;
            try
            {
                result = ApplyRules(run);
            }
            catch (BypassNatException failure) when (run.Persisted != null)
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
                    run.Installer.Save(Scripted(before), (plan.Leftover ?? plan.State).Forwards, plan.Context, false, out _, ipv6: plan.Ipv6?.SavedBefore);
                }
                catch (BypassNatException rollback)
                {
                    throw new BypassNatException(failure.ErrorId, failure.Kind,
                        failure.Message + $" Putting the saved set back failed too ({rollback.Message}): it holds the new forwards, so the router's next boot or flush " +
                        "would restore those. Run the apply again.", failure.Target, failure);
                }

                throw;
            }

            result.Persisted = run.Persisted;
            result.SshCommands = Transport.RoundTrips;
            return result;
        }

        /// <summary>
        /// <see cref="Apply(ApplyPlan, bool, Action{string})"/> with a commit-confirmed safety net (-ConfirmTimeout): the write starts a
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

            // The saved set's rollback must outlive a reboot in the window (see PendingConfirmation.File).
            string keep = !SavesSet(persist) ? null : persist ? "true" : $"[ -f {Hop.Directory}/restore.sh ]";
            var run = new ApplyRun(plan, persist, warn, new CommitConfirmation(Hop, timeoutSeconds, null, _session.Privileged, PreviousForwards(plan), keep));
            ApplyResult result;
            try
            {
                result = Apply(run);
            }
            catch (BypassNatException failure) when (run.Deadline != null || failure.ErrorId == "BypassNat.ConnectionLost")
            {
                // The watchdog is the safety net for exactly this: it restores the previous state unless confirmed.
                string at = (run.Deadline ?? DateTime.UtcNow.AddSeconds(timeoutSeconds)).ToString("HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
                string note = run.Deadline != null
                    ? $" -ConfirmTimeout: the watchdog started on the router before the change puts back its previous forwards by itself at {at}, as nothing confirmed this apply."
                    : $" -ConfirmTimeout: if the connection was lost after the watchdog started (the first step of that command), the router puts back its previous forwards by itself at about {at}.";
                throw new BypassNatException(failure.ErrorId, failure.Kind, failure.Message + note, failure.Target, failure);
            }

            if (run.Deadline == null) return result;
            try
            {
                run.Confirmation.Confirm(_session, open, () => DescribeHeld(plan), verbose, run.Deadline.Value, cancel);
            }
            catch (OperationCanceledException)
            {
                // Ctrl-C while waiting out an unconfirmed change: the router needs no one to roll back.
                string at = run.Deadline.Value.ToString("HH:mm:ss 'UTC'", System.Globalization.CultureInfo.InvariantCulture);
                throw new BypassNatException("BypassNat.Stopped", FailureKind.InvalidOperation,
                    $"Stopped (Ctrl-C) before the change on {Endpoint} was confirmed: the watchdog on the router puts back its previous forwards by itself at {at}.",
                    Endpoint);
            }

            return result;
        }

        /// <summary>Whether a change refreshes -Persist's saved set: asked for now, or installed earlier (or unknown: the save checks again by itself).</summary>
        private bool SavesSet(bool persist) => persist || _survey == null || _survey.Persisted;

        /// <summary>Refuses -ConfirmTimeout where the backend cannot have the router roll back by itself (UCI redirects).</summary>
        public void CheckConfirmable()
        {
            if (!Choice.Backend.Capabilities.HasFlag(BackendCapabilities.CommitConfirmed))
                throw new BypassNatException("BypassNat.ConfirmNotSupported", FailureKind.InvalidOperation,
                    Choice.Backend.Explain(BackendCapabilities.CommitConfirmed) ?? $"-ConfirmTimeout is not supported for the {Choice.Backend.Kind} backend ({Endpoint}). Nothing was changed.",
                    Endpoint);
        }

        /// <summary>What the router holds now, read through this command's connection, against what it held before the apply.</summary>
        private string DescribeHeld(ApplyPlan plan)
        {
            RouterState now = Choice.Backend.Read();
            var held = new List<BypassForward>(now.Forwards);
            if (plan.Leftover != null) held.AddRange(Choice.Other.Read().Forwards);
            IReadOnlyList<BypassForward> before = PreviousForwards(plan);
            string names = held.Count == 0 ? "none of BypassNat's forwards" : $"{held.Count} forward(s): {string.Join(", ", held.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal))}";
            RulesetDiff diff = RulesetDiff.Compute(before, held, now.HoldsIpv6);
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
        private string ConfirmRollback(ApplyRun run, bool save)
        {
            ApplyPlan plan = run.Plan;
            string p = _session.Privileged;
            var live = new List<KeyValuePair<IScriptedBackend, RouterState>> { new KeyValuePair<IScriptedBackend, RouterState>(Scripted(Choice.Backend), plan.State) };
            if (plan.Leftover != null) live.Add(new KeyValuePair<IScriptedBackend, RouterState>(Scripted(Choice.Other), plan.Leftover));
            string persist = null;
            if (save)
            {
                var installer = new PersistenceInstaller(_session, Hop);
                IRouterBackend before = plan.Leftover != null ? Choice.Other : Choice.Backend;
                persist = run.WasInstalled
                    ? installer.SaveScript(p, Scripted(before), (plan.Leftover ?? plan.State).Forwards, plan.Context, false, ipv6: plan.Ipv6?.SavedBefore)
                    : installer.UninstallScript(p);
            }

            // The IPv6 rules too: ip6tables is no backend's, so the watchdog puts its chains back on their own.
            string ipv6 = plan.Ipv6 != null && plan.Ipv6.Relevant ? plan.Ipv6.RollbackScript(p) : null;
            return CommitConfirmation.RollbackScript(Hop, p, live, plan.Context, persist, ipv6);
        }

        /// <summary>
        /// A backend without a saved set (UCI redirects: the router's own persistent config) writes
        /// alone: no saved set, no hooks. Its refusals say what the router holds (kept, or rolled back).
        /// </summary>
        private ApplyResult ApplyWithoutSavedSet(ApplyRun run)
        {
            ApplyResult result = ApplyRules(run);
            if (run.Persist && Choice.Backend.Capabilities.HasFlag(BackendCapabilities.PersistsItself)) result.Persisted = Choice.Backend.Kind.ToString().ToLowerInvariant();
            result.SshCommands = Transport.RoundTrips;
            return result;
        }

        /// <summary>
        /// Runs a save of the set. The rules are written only after it (or in the same script, which
        /// stops at a refused save), so when it fails nothing of this apply reached the kernel: whatever
        /// the failed save left behind goes back, so that no watcher or firewall reload brings in the
        /// new set later, and the error says what the router holds.
        /// </summary>
        private string GuardSave(ApplyRun run, Func<string> save)
        {
            try
            {
                return save();
            }
            catch (BypassNatException e)
            {
                throw new BypassNatException(e.ErrorId, e.Kind, e.Message + " " + UndoSave(run.Installer, run.Plan, run.WasInstalled), e.Target, e);
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
                installer.Save(Scripted(before), (plan.Leftover ?? plan.State).Forwards, plan.Context, false, out _, ipv6: plan.Ipv6?.SavedBefore);
                return held + " Its saved set (from an earlier -Persist) was put back to them.";
            }
            catch (BypassNatException undo)
            {
                // The undo needs the rights the save lacked (a sudo that refuses both): read what the router holds instead of guessing.
                IRouterBackend before = plan.Leftover != null ? Choice.Other : Choice.Backend;
                PersistenceInstaller.SavedState now = installer.Holds(Scripted(before), wasInstalled ? (plan.Leftover ?? plan.State).Forwards : null, plan.Context);
                if (!wasInstalled && now == PersistenceInstaller.SavedState.Nothing) return held + " Nothing of -Persist is on it (read back after the failure).";
                if (wasInstalled && now == PersistenceInstaller.SavedState.Same) return held + " Its saved set still holds those forwards (read back after the failure).";
                return held + " Undoing the partial save failed too, so the files and hooks of -Persist on it may hold the new set" +
                    (undo.ErrorId == "BypassNat.SudoRefused" || undo.ErrorId == "BypassNat.NotRoot" ? " (the undo was refused the same way)" : $": {undo.Message}") +
                    ". Run Remove-BypassForward -All to clear them, or apply again.";
            }
        }

        private ApplyResult ApplyRules(ApplyRun run)
        {
            ApplyPlan plan = run.Plan;
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
                result.ConntrackEntriesDeleted = Write(scripted, run, touched);
            }
            else
            {
                // A backend that writes by itself (not on the router's shell): no saved set of -Persist
                // (its capabilities offer none) and no -ConfirmTimeout watchdog (CheckConfirmable refuses it).
                BackendWriteOutcome outcome = ((IDirectBackend)Choice.Backend).Write(new BackendWrite(plan.Desired, plan.Context, plan.State, touched));
                result.ConntrackEntriesDeleted = outcome.ConntrackEntriesDeleted;
                foreach (string warning in outcome.Warnings) run.Warn(warning);
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
            var script = new SectionedScript();
            ScriptStep confirm = script.Step("confirm", CommitConfirmation.PendingCheckScript(Hop), stopOnFailure: true);
            ScriptStep persist = script.Step("persist", installer.UninstallScript(p), stopOnFailure: true);
            var cleared = new List<KeyValuePair<IScriptedBackend, ScriptStep>>();
            foreach (IScriptedBackend backend in backends.Cast<IScriptedBackend>())
            {
                RouterState state = Read(backend);
                removed.AddRange(state.Forwards);
                string removal = backend.RemoveScript(p, state);
                if (removal == null) continue;
                cleared.Add(new KeyValuePair<IScriptedBackend, ScriptStep>(backend, script.Step("remove-" + Section(backend), removal, stopOnFailure: true)));
            }

            var readBacks = cleared.Select(c => script.Step("read-" + Section(c.Key), c.Key.ReadScript(p))).ToList();
            ProxyExemption exemption = LeftoverExemption;
            ScriptOutcome outcome = script.Outcome(RouterLock.Run(_session, script.Render(), "removing BypassNat's rules and what -Persist installed", _survey.Generation));
            CommitConfirmation.ThrowIfPending(_session, Hop, outcome[confirm]);
            installer.Uninstalled(outcome[persist]);
            var gone = new List<string>();
            foreach (KeyValuePair<IScriptedBackend, ScriptStep> step in cleared)
            {
                IScriptedBackend backend = step.Key;
                CommandResult result = outcome[step.Value];
                if (!result.Succeeded)
                    throw RouterScript.Failure(_session,
                        $"remove BypassNat's {backend.Kind} rules ({Hop.Role} hop, {backend.LoadTool}); what -Persist installed is gone" +
                        (gone.Count > 0 ? $" and so are the {string.Join(" and ", gone)} rules" : string.Empty) +
                        $", but the router still holds the {backend.Kind} rules as they were (the kernel refused the whole transaction)", result, backend.Tools);
                gone.Add(backend.Kind.ToString());
            }

            for (int i = 0; i < cleared.Count; i++)
            {
                IScriptedBackend backend = cleared[i].Key;
                CommandResult readBack = outcome[readBacks[i]];
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
            // The survey holds the rules as they were before the first removal; each later backend is read afresh.
            bool changed = false;
            foreach (IRouterBackend backend in backends)
            {
                RouterState state = changed ? backend.Read() : Read(backend);
                removed.AddRange(state.Forwards);
                backend.Remove(state);
                changed = true;
                if (backend.Read().Present)
                    throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                        $"BypassNat's {backend.Kind} rules ({Hop.Role} hop) are still on {Endpoint} after removing them.", Endpoint);
            }

            if (exemption != null && exemption.Relevant) RemoveExemption(exemption);
            RemoveIpv6();
            return removed;
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
        private int Write(IScriptedBackend backend, ApplyRun run, IEnumerable<BypassForward> touched)
        {
            ApplyPlan plan = run.Plan;
            CommitConfirmation confirmation = run.Confirmation;
            string p = _session.Privileged;
            var script = new SectionedScript();
            bool save = SavesSet(run.Persist);
            ScriptStep confirm = confirmation != null
                ? script.Step("confirm", confirmation.StartScript(ConfirmRollback(run, save)), stopOnFailure: true)
                : script.Step("confirm", CommitConfirmation.PendingCheckScript(Hop), stopOnFailure: true);
            ScriptStep persist = save
                ? script.Step("persist", run.Installer.SaveScript(p, backend, plan.Desired, plan.Context, run.Persist, plan.Exemption?.SavedChain, plan.Exemption?.SavedNft, plan.Ipv6?.Saved), stopOnFailure: true)
                : null;
            // Before the forwards: a refused exemption changes nothing, and an exemption without its
            // forwards only exempts connections nobody DNATs.
            bool exempt = plan.Exemption != null && plan.Exemption.Relevant;
            ScriptStep exemption = exempt ? script.Step("proxy-exemption", plan.Exemption.Script(p), stopOnFailure: true) : null;
            // The IPv6 rules before the forwards too: refused, they stop the script before anything else changes.
            ScriptStep ipv6 = plan.Ipv6 != null && plan.Ipv6.Relevant ? script.Step("ipv6", plan.Ipv6.Script(p), stopOnFailure: true) : null;
            ScriptStep load = script.Step("load", backend.LoadScript(p, plan.Desired, plan.Context, plan.State), stopOnFailure: true);
            ScriptStep conntrack = backend.Capabilities.HasFlag(BackendCapabilities.ConntrackCleanup)
                ? script.Step("conntrack", RouterScript.ForgetConntrack(p, backend.ConntrackTargets(touched, plan.Context)))
                : null;
            ScriptStep readBack = script.Step("read-back", backend.ReadScript(p));
            ScriptStep exemptionReadBack = exempt ? script.Step("proxy-read-back", plan.Exemption.ReadScript(p)) : null;
            ScriptStep ipv6ReadBack = ipv6 != null ? script.Step("ipv6-read-back", plan.Ipv6.ReadScript(p)) : null;
            ScriptOutcome outcome;
            try
            {
                // Checked under the lock: a write planned against rules another writer has since changed stops before changing anything.
                outcome = script.Outcome(RouterScript.RunChange(_session, script.Render(), backend.LoadTool, _survey?.Generation,
                    $"writing {plan.Desired.Count(f => f.Enabled)} forward(s) and verifying ({backend.LoadTool})"));
            }
            catch (BypassNatException lost) when (save && RouterScript.Interrupted(lost))
            {
                // The saved set goes first in the same script; where the cut fell, only a new look can tell.
                throw new BypassNatException(lost.ErrorId, lost.Kind,
                    lost.Message + " The saved set on the router is written first in the same command, so it may already hold the new forwards; the next apply brings both to the same set.",
                    lost.Target, lost.InnerException);
            }

            foreach (string warning in RouterScript.Warnings(outcome.Whole)) run.Warn(warning);
            // A watchdog that did not start stopped the script before anything changed.
            if (confirmation != null) run.Deadline = confirmation.Started(_session, outcome[confirm]);
            else CommitConfirmation.ThrowIfPending(_session, Hop, outcome[confirm]);

            if (persist != null)
            {
                IReadOnlyList<string> saveWarnings = null;
                CommandResult saved = outcome[persist];
                run.Persisted = GuardSave(run, () => run.Installer.Saved(saved, out saveWarnings));
                foreach (string warning in saveWarnings) run.Warn(warning);
            }

            if (exemption != null && !outcome[exemption].Succeeded)
                throw RouterScript.Failure(_session,
                    $"exempt the forwards' replies from the proxy ({ProxyExemption.Chain} in the mangle table with iptables-restore, or rules first in the proxy's nftables chains with nft); the kernel refused it, so the router keeps its previous forwards",
                    outcome[exemption], "iptables-save and iptables-restore, or nft");

            if (ipv6 != null && !outcome[ipv6].Succeeded)
                throw RouterScript.Failure(_session,
                    "write the IPv6 rules (ip6tables-restore); the kernel refused them, so the router keeps its previous forwards, IPv4 and IPv6",
                    outcome[ipv6], "ip6tables-save and ip6tables-restore");

            CommandResult loaded = outcome[load];
            if (!loaded.Succeeded)
                throw RouterScript.Failure(_session,
                    $"apply the rules ({backend.LoadTool}); the kernel rejected the whole transaction, so the router keeps its previous forwards", loaded, backend.Tools);
            CommandResult forgotten = conntrack != null ? outcome[conntrack] : null;
            foreach (string warning in RouterScript.Warnings(loaded).Concat(forgotten != null ? RouterScript.Warnings(forgotten) : new string[0])) run.Warn(warning);

            CommandResult listed = outcome[readBack];
            if (!listed.Succeeded)
                throw RouterScript.Failure(_session, "read the rules back after applying them; they are applied but not verified", listed, backend.Tools);
            Verify(plan.Desired, backend.ParseRead(listed.Output));
            if (exemptionReadBack != null) VerifyExemption(plan.Exemption, outcome[exemptionReadBack]);
            if (ipv6ReadBack != null) VerifyIpv6(plan.Ipv6, outcome[ipv6ReadBack]);
            return forgotten != null ? RouterScript.ConntrackDeleted(forgotten) : 0;
        }

        private void VerifyIpv6(Ipv6Pinholes rules, CommandResult readBack)
        {
            if (!readBack.Succeeded)
                throw RouterScript.Failure(_session, "read the IPv6 rules back (ip6tables-save); the forwards are applied, their IPv6 rules are not verified", readBack, "ip6tables-save");
            string differs = rules.Verify(readBack.Output);
            if (differs != null)
                throw new BypassNatException("BypassNat.VerificationFailed", FailureKind.InvalidResult,
                    $"The forwards on {Endpoint} are applied, but their IPv6 rules read back wrong: {differs}. Another program may be changing ip6tables at the same time. Run the apply again.", Endpoint);
        }

        /// <summary>Deletes BypassNat's IPv6 chains (as the survey found them), in a locked command of their own, and checks they are gone.</summary>
        private void RemoveIpv6()
        {
            if (Ipv6State == null || _session == null) return;
            Ipv6Pinholes leftover = Ipv6Pinholes.For(Hop.Role, Ipv6State, new BypassForward[0], Endpoint);
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
            RulesetDiff left = RulesetDiff.Compute(desired, after.Forwards, after.HoldsIpv6);
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
