using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Net;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;
using BypassNat.Validation;
using BypassNat.Registry;

namespace BypassNat.Commands
{
    /// <summary>
    /// Makes each bypass router hold exactly its forwards (those whose BypassAddress it has), or with
    /// -Role Main each main router hold their main-router half: one atomic transaction a router,
    /// nothing written when nothing differs, and a read-back that fails loudly when the router disagrees.
    /// </summary>
    [Cmdlet(VerbsLifecycle.Invoke, "BypassForwardApply", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(ApplyResult))]
    public sealed class InvokeBypassForwardApplyCommand : RouterCommand
    {
        [Parameter(Mandatory = true, ValueFromPipeline = true)]
        public BypassForward[] Forward { get; set; }

        /// <summary>
        /// Also install the forwards on the router so they are restored at boot and re-applied after a
        /// flush (systemd units or an OpenWrt include). Later applies keep the saved set current.
        /// </summary>
        [Parameter]
        public SwitchParameter Persist { get; set; }

        /// <summary>
        /// The network's public address (IPv4, or a DNS name resolved now), for forwards that do not
        /// name one: LAN clients then reach the services at it too (hairpin).
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string PublicAddress { get; set; }

        /// <summary>
        /// Seconds to wait for the router-side lock when another BypassNat writer holds it; then the
        /// apply fails with BypassNat.RouterBusy, naming the holder, and changes nothing.
        /// </summary>
        [Parameter]
        [ValidateRange(0, 3600)]
        public int LockTimeout { get; set; } = RouterLock.DefaultTimeoutSeconds;

        /// <summary>
        /// Commit-confirmed apply: the router starts a watchdog before the change that restores its
        /// previous forwards (and -Persist's saved set) after this many seconds, unless a new SSH
        /// connection confirms the change in time. 5 to 3600.
        /// </summary>
        [Parameter]
        [ValidateRange(CommitConfirmation.MinimumSeconds, CommitConfirmation.MaximumSeconds)]
        public int ConfirmTimeout { get; set; }

        /// <summary>Apply even a forward that would capture the SSH port of this session.</summary>
        [Parameter]
        public SwitchParameter Force { get; set; }

        /// <summary>
        /// The forwards piped in are the router's whole set: forwards on the router that are not among
        /// them are removed without asking. Without it, removing such forwards asks first, and a
        /// session that cannot ask (-NonInteractive, a scheduled task) fails with
        /// BypassNat.RemovalNotConfirmed and changes nothing.
        /// </summary>
        [Parameter]
        public SwitchParameter RemoveUnlisted { get; set; }

        private readonly List<BypassForward> _desired = new List<BypassForward>();

        // Duration in the result is the whole call: connecting, reading, writing, verifying.
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        protected override void ProcessInput()
        {
            if (Forward != null) _desired.AddRange(Forward);
        }

        protected override void ProcessRouters()
        {
            if (_desired.Count == 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.NoForwards", ErrorCategory.InvalidArgument,
                    $"No forwards reached Invoke-BypassForwardApply, so nothing was changed on {RouterNames}. " +
                    "An empty set would remove every forward; if that is what you want, remove them explicitly.", RouterNames));

            try
            {
                ResolvePublicAddress(PublicAddress, _desired);
                StopOnIssues(ForwardSetCheck.WithoutRouter(_desired), _desired);
            }
            catch (BypassNatException failure)
            {
                ThrowTerminatingError(ErrorRecords.From(failure));
            }

            // One router (or main routers, which own no BypassAddress; iKuai refuses the bypass hop itself): each gets the whole set, and the
            // applier's placement check refuses a forward that does not belong there.
            if (Role == RouterRole.Main || Routers.Count == 1 || !BackendRegistry.UsesShell(Backend))
            {
                ForEachRouter((router, session) => Apply(router, session, _desired));
                return;
            }

            // Several bypass routers: first every router's addresses, then the check that the forwards
            // and the routers fit together, and only then any write: a mismatch must leave every
            // router as it was.
            var addresses = new ConcurrentDictionary<string, IReadOnlyList<IPAddress>>();
            var sessions = new ConcurrentDictionary<RouterTarget, RouterSession>();
            IReadOnlyList<RouterTarget> reached = ForEachRouter((router, session) =>
            {
                addresses[router.Name] = RouterAddresses.Read(session).Addresses.Select(a => a.Address).ToList();
                sessions[router] = session;
            });
            if (reached.Count == 0) return;

            ForwardAssignment assignment = ForwardAssignment.Assign(_desired,
                reached.ToDictionary(r => r.Name, r => addresses[r.Name]), Routers.Count - reached.Count);
            if (assignment.Problems.Count > 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.ForwardNotOwned", ErrorCategory.InvalidData,
                    string.Join("\n", assignment.Problems) + $"\nNothing was changed on any router ({RouterNames}).", RouterNames));
            // The SSH lockout of every router before any write (each router's own check repeats it for its part).
            if (!Force)
                foreach (RouterTarget router in reached)
                    StopOnIssues(ForwardSetValidator.Check(_desired, sessions[router].Addresses, sessions[router].Settings.Port), _desired, RouterNames);

            ForEachRouter(reached, (router, session) => Apply(router, session, assignment.ByRouter[router.Name]));
        }

        private void Apply(RouterTarget router, RouterSession session, List<BypassForward> desired)
        {
            // A backend with a transport of its own (no SSH session: iKuai's web API) has no lock, and no
            // router addresses or SSH port to check the set against.
            if (session != null) session.LockTimeoutSeconds = LockTimeout;
            ForwardApplier applier = Applier(router, session);
            if (session != null) Refuse(router, applier.CheckOnRouter(desired, Force), desired);

            bool confirm = MyInvocation.BoundParameters.ContainsKey(nameof(ConfirmTimeout));
            if (confirm) applier.CheckConfirmable();
            ApplyPlan plan = applier.Plan(desired);
            string change = plan.Describe();
            // A proxy BypassNat cannot exempt the forwards from: the exact fix, before anything is written.
            if (plan.Exemption != null) foreach (string advice in plan.Exemption.Advice(router.Name)) Warn(advice);
            // An IPv6 policy in a native nftables table that the ip6tables pinholes cannot open: said before anything is written.
            string ipv6Warning = plan.Ipv6?.Warning(router.Name);
            if (ipv6Warning != null) Warn(ipv6Warning);
            // A router whose own config is persistent (UCI redirects) needs nothing more for -Persist.
            bool persistsItself = applier.Choice.Backend.Capabilities.HasFlag(BackendCapabilities.PersistsItself);
            if (Persist && persistsItself)
                Verbose($"-Persist: {router.Name} {applier.Choice.Backend.Explain(BackendCapabilities.PersistsItself)}");
            else if (Persist) change += "\n  persist  save them on the router, restored at boot and after a flush";
            if (confirm && plan.NeedsWrite)
                change += $"\n  confirm  start a watchdog on the router first that restores the previous forwards{(Persist ? " and saved set" : string.Empty)} after {ConfirmTimeout} s, unless a new SSH connection confirms the change";
            Verbose($"Plan for {router.Name} ({Role} hop):\n" + change);
            if ((plan.NeedsWrite || (Persist && !persistsItself)) && !Confirm($"{router.Name} ({Role} hop, {applier.Choice.Backend.Kind})\n{change}\n", "Apply the forwards"))
                return;
            if (!ConfirmRemoval(router, plan)) return;
            ApplyResult result = confirm
                ? applier.ApplyConfirmed(plan, Persist, ConfirmTimeout, s => RouterSession.Open(s, StopToken), Warn, Verbose, StopToken)
                : applier.Apply(plan, Persist, Warn);
            RecentForwards.Remember(router.Name, plan.Desired.Where(f => f.Enabled));
            result.ComputerName = router.Name;
            result.Duration = _clock.Elapsed;
            if (result.PreviousPublicAddress != null)
                Warn($"The public address on {router.Name} changed from {result.PreviousPublicAddress} to {result.PublicAddress ?? "none"}; the hairpin rules moved with it.");
            Emit(result);
        }

        /// <summary>
        /// A CSV of one row applied by hand would remove every other forward on the router: that is
        /// the declarative model, but a person should see it coming. Removing forwards whose names are
        /// nowhere in the input is asked first (ShouldContinue, which -Confirm:$false does not answer),
        /// unless -RemoveUnlisted says the input is the whole set. A disabled row is not asked about:
        /// it names its forward. Returns false when nothing may be written.
        /// </summary>
        private bool ConfirmRemoval(RouterTarget router, ApplyPlan plan)
        {
            if (RemoveUnlisted) return true;
            var named = new HashSet<string>(_desired.Select(f => f.Name), System.StringComparer.OrdinalIgnoreCase);
            List<string> unlisted = plan.Diff.Removed.Select(f => f.Name).Where(n => !named.Contains(n)).Distinct().ToList();
            if (unlisted.Count == 0) return true;
            string names = string.Join(", ", unlisted);
            bool answer = false, cannotAsk = false;
            // Caught on the cmdlet's thread: an exception there would end every router's work.
            OnCmdletThread(() =>
            {
                try
                {
                    answer = ShouldContinue(
                        $"{router.Name} holds {unlisted.Count} forward(s) that are not in the input: {names}. Applying the input removes them, because the input is taken as the router's whole set. " +
                        "Remove them? (-RemoveUnlisted applies without asking.)",
                        $"Remove forwards not in the input from {router.Name}");
                }
                catch (System.Exception e) when (e is PSInvalidOperationException || e is System.Management.Automation.Host.HostException || e is System.NotImplementedException || e is PSNotImplementedException)
                {
                    // No one to ask (-NonInteractive, a scheduled task, a host without a prompt).
                    cannotAsk = true;
                }
            });
            if (cannotAsk)
            {
                throw new BypassNatException("BypassNat.RemovalNotConfirmed", FailureKind.InvalidOperation,
                    $"{router.Name} holds {unlisted.Count} forward(s) that are not in the input ({names}), and this session cannot ask whether to remove them. " +
                    "Nothing was changed on " + router.Name + ". If the input is the router's whole set, add -RemoveUnlisted; otherwise add the missing rows.", router.Name);
            }

            if (!answer) Verbose($"Not removing {names} from {router.Name}: nothing was changed there.");
            return answer;
        }

        /// <summary>
        /// Forwards that do not belong on this router stop it before anything is written: with one
        /// router (on the cmdlet's thread) one error a row and a terminating error, as for any bad set;
        /// with several, that router's error naming them all, while the others go on.
        /// </summary>
        private void Refuse(RouterTarget router, IReadOnlyList<ForwardIssue> issues, IReadOnlyList<BypassForward> forwards)
        {
            if (issues.Count == 0) return;
            if (Routers.Count == 1) StopOnIssues(issues, forwards, router.Name);
            throw new BypassNatException("BypassNat.InvalidForwardSet", FailureKind.InvalidData,
                $"{issues.Count} problem(s) with the forwards for {router.Name}: {string.Join(" ", issues.Select(i => i.Message))} Nothing was changed on {router.Name}.",
                router.Name);
        }
    }
}
