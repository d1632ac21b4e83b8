using System;
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
    /// The cmdlets that work on the forwards of routers: -ComputerName (with the SSH parameters) or
    /// -Session, the backend, and one connection per router for the whole command, reused by every
    /// step and closed at the end (a session's connection stays open).
    /// </summary>
    public abstract partial class RouterCommand : ConnectionCommand
    {
        private const int ProgressId = 7;

        protected const string SessionSet = "Session";

        /// <summary>Sessions from New-BypassSession, instead of -ComputerName: no new login.</summary>
        [Parameter(Mandatory = true, ParameterSetName = SessionSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public virtual BypassSession[] Session { get; set; }

        /// <summary>
        /// Which kernel interface holds the forwards. Auto keeps the backend that already holds
        /// BypassNat's rules, and otherwise takes nftables where nft works, iptables elsewhere.
        /// </summary>
        [Parameter]
        public BackendKind Backend { get; set; } = BackendKind.Auto;

        /// <summary>Which half of the double forward this router holds: Bypass (the default) or Main.</summary>
        [Parameter]
        public RouterRole Role { get; set; } = RouterRole.Bypass;

        /// <summary>With -Role Main: the WAN interface; by default the interface of the main router's default route.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string WanInterface { get; set; }

        /// <summary>With -Role Main on OpenWrt (UCI redirects): the firewall zone the forwards come in from; wan by default.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string WanZone { get; set; }

        /// <summary>With -Role Main on OpenWrt (UCI redirects): the firewall zone the bypass router is in; lan by default.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string LanZone { get; set; }

        private readonly Dictionary<RouterTarget, RouterSession> _connections = new Dictionary<RouterTarget, RouterSession>();

        // Cancelled by Ctrl-C: a connection being opened gives up, one that opens after it is abandoned before its first command.
        private readonly System.Threading.CancellationTokenSource _stopping = new System.Threading.CancellationTokenSource();

        /// <summary>Cancelled by Ctrl-C, for waits of the command's own (a -ConfirmTimeout deadline).</summary>
        protected System.Threading.CancellationToken StopToken => _stopping.Token;

        protected sealed override void ProcessRecord()
        {
            CaptureRouters();
            ProcessInput();
        }

        /// <summary>Collects this record's input (forwards, names); the routers are collected already.</summary>
        protected virtual void ProcessInput()
        {
        }

        protected sealed override void EndProcessing()
        {
            try
            {
                ProcessRouters();
            }
            finally
            {
                lock (_connections)
                {
                    foreach (KeyValuePair<RouterTarget, RouterSession> open in _connections)
                    {
                        // A session's connection outlives this command, its hooks into this command's streams do not.
                        open.Value.Starting = null;
                        open.Value.Trace = null;
                        open.Value.TraceScript = null;
                        if (open.Key.Session == null) open.Value.Dispose();
                    }

                    _connections.Clear();
                }

                CloseIKuai();
            }
        }

        /// <summary>The command's work, once all input is in: usually one <see cref="ForEachRouter"/>.</summary>
        protected abstract void ProcessRouters();

        protected override void CaptureRouters()
        {
            if (Session == null)
            {
                if (Backend == BackendKind.IKuai) CaptureIKuaiRouters();
                else base.CaptureRouters();
                return;
            }

            RefuseIKuaiSession();

            var given = new List<string>();
            foreach (string name in new[] { "Port", "UserName", "KeyFile", "Credential", "HostKeyFingerprint", "KnownHostsFile", "Sudo", "AcceptNewHostKey", "ConnectTimeout", "CommandTimeout" })
                if (MyInvocation.BoundParameters.ContainsKey(name)) given.Add("-" + name);
            if (given.Count > 0)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionConflict", ErrorCategory.InvalidArgument,
                    $"{string.Join(", ", given)} cannot change a session: it keeps the settings New-BypassSession opened it with. Leave them out, or open another session.", given[0]));
            foreach (BypassSession session in Session)
            {
                if (session.State == BypassSessionState.Closed)
                    ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionClosed", ErrorCategory.InvalidOperation,
                        $"Session {session.Id} to {session.ComputerName} was closed with Remove-BypassSession; open a new one with New-BypassSession. Nothing was done.", session));
                AddRouter(new RouterTarget(session));
            }
        }

        /// <summary>The routers the current pipeline record names, for input that belongs to them only.</summary>
        internal IEnumerable<string> CurrentRouterKeys() =>
            Session != null
                ? Session.Select(s => new RouterTarget(s).Key)
                : (ComputerName ?? new string[0]).Select(name => $"{name.ToLowerInvariant()}:{Port}");

        /// <summary>
        /// The one way a cmdlet works on its routers: <paramref name="work"/> gets each router and its
        /// connection (opened once for the whole command, or the session's), in parallel for several.
        /// Returns the routers whose work succeeded; each failure is that router's error.
        /// </summary>
        internal IReadOnlyList<RouterTarget> ForEachRouter(IReadOnlyList<RouterTarget> routers, Action<RouterTarget, RouterSession> work) =>
            ForEachTarget(routers, router => work(router, BackendRegistry.UsesShell(Backend) ? Connection(router) : null));

        internal IReadOnlyList<RouterTarget> ForEachRouter(Action<RouterTarget, RouterSession> work) => ForEachRouter(Routers, work);

        private RouterSession Connection(RouterTarget router)
        {
            lock (_connections)
                if (_connections.TryGetValue(router, out RouterSession open)) return open;

            RouterSession connection;
            if (router.Session != null)
            {
                connection = router.Session.Connection(Verbose);
                Verbose($"Using session {router.Session.Id} to {router.Name} (host key {connection.HostKeyFingerprint}).");
            }
            else
            {
                Verbose($"Connecting to {router.Settings.Endpoint} over SSH.");
                // An unreachable router takes the whole -ConnectTimeout to say so: show what is being waited for.
                Quietly(() => WriteProgress(NewProgress(router, $"connecting (waiting up to {ConnectTimeout} s for an answer)")));
                var clock = Stopwatch.StartNew();
                connection = RouterSession.Open(router.Settings, _stopping.Token);
                Verbose($"Connected to {router.Name} as {router.Settings.UserName} with {connection.Login} in {clock.Elapsed.TotalSeconds:0.00} s; " +
                        $"host key {connection.HostKeyFingerprint} accepted" +
                        (connection.HostKeyAdded ? $" as a new host, and added to {connection.KnownHostsFile} (-AcceptNewHostKey)."
                            : connection.KnownHostsFile != null ? $" ({connection.KnownHostsFile})." : " (pinned)."));
                if (connection.HostKeyAdded) Warn(HostKeyAddedWarning(router.Name, connection.HostKeyFingerprint, connection.KnownHostsFile));
            }

            Watch(router, connection);
            lock (_connections) _connections[router] = connection;
            if (_stopping.IsCancellationRequested) connection.Abort();
            return connection;
        }

        /// <summary>
        /// What ssh says when accept-new trusts a host ("Permanently added ... to the list of known
        /// hosts"): a warning, because from now on that key is trusted, so the admin should check it once.
        /// </summary>
        internal static string HostKeyAddedWarning(string router, string fingerprint, string knownHosts) =>
            $"Permanently added {router} ({fingerprint}) to the list of known hosts in '{knownHosts}' (-AcceptNewHostKey). " +
            "Check that fingerprint on the router's console once (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub): from now on only this key is trusted.";

        /// <summary>
        /// Ctrl-C: closes every connection this command is using (a session's too: it reopens on its
        /// next use). The router runs each write as one script with one kernel transaction, so a write
        /// cut off here leaves it on the old set or the new one, as a dropped connection does, and the
        /// next apply converges.
        /// </summary>
        protected override void AbandonRouters()
        {
            _stopping.Cancel();
            List<RouterSession> open;
            lock (_connections) open = _connections.Values.ToList();
            foreach (RouterSession connection in open) connection.Abort();
        }

        /// <summary>
        /// Shows each SSH step: its name in a progress bar (one per router), what it was and how long
        /// it took under -Verbose, the whole script under -Debug. The connection may be used on a
        /// worker thread, so every line goes through the hand-over to the cmdlet's thread; a line that
        /// cannot be written any more (the command is stopping) never interrupts the router's step.
        /// </summary>
        private void Watch(RouterTarget router, RouterSession connection)
        {
            ProgressRecord progress = NewProgress(router, "connected");
            connection.Starting = step => Quietly(() => { progress.StatusDescription = step; WriteProgress(progress); });
            connection.Trace = line => Quietly(() => WriteVerboseLine(line));
            connection.TraceScript = script => Quietly(() => WriteDebug(script));
        }

        /// <summary>The progress bar of one router (beneath the bar of all routers when there are several).</summary>
        private ProgressRecord NewProgress(RouterTarget router, string status)
        {
            int index = Routers.ToList().IndexOf(router);
            var progress = new ProgressRecord(ProgressId + Math.Max(index, 0), $"BypassNat: {router.Name}", status);
            if (Routers.Count > 1) progress.ParentActivityId = RouterFanOut.ProgressId;
            return progress;
        }

        private void Quietly(Action write)
        {
            try
            {
                OnCmdletThread(write);
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <summary>
        /// Gives the forwards that name no public address the one from -PublicAddress (an IPv4
        /// address, or a DNS name resolved now), for the cmdlets that take it.
        /// </summary>
        protected void ResolvePublicAddress(string publicAddress, List<BypassForward> forwards)
        {
            if (publicAddress == null) return;
            IPAddress resolved = PublicAddressResolver.Resolve(publicAddress);
            WriteVerboseLine($"Public address {publicAddress}: {resolved}.");
            for (int i = 0; i < forwards.Count; i++)
                if (forwards[i].PublicAddress == null) forwards[i] = forwards[i].WithPublicAddress(resolved);
        }

        /// <summary>
        /// Selects the forwards whose names match the patterns (wildcards, any case). Like Get-Item and
        /// Remove-Item, a plain name that matches nothing is a non-terminating error; a wildcard is not.
        /// </summary>
        internal List<BypassForward> SelectByName(RouterTarget router, IEnumerable<BypassForward> forwards, IReadOnlyCollection<string> names)
        {
            var patterns = names.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
            List<BypassForward> selected = forwards.Where(f => patterns.Any(p => p.IsMatch(f.Name))).ToList();
            foreach (string name in names.Where(n => !WildcardPattern.ContainsWildcardCharacters(n)))
                if (!selected.Any(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)))
                    Report(new ErrorRecord(new ItemNotFoundException($"{router.Name} has no BypassNat forward named '{name}'."),
                        "BypassNat.ForwardNotFound", ErrorCategory.ObjectNotFound, name));
            return selected;
        }

        /// <summary>Writes each problem of a set as an error, then stops: a bad set changes nothing.</summary>
        protected void StopOnIssues(IReadOnlyList<ForwardIssue> issues, IReadOnlyList<BypassForward> forwards, string where = null)
        {
            if (issues.Count == 0) return;
            IssueReport.Stop(this, issues.Select(i => new KeyValuePair<ForwardIssue, object>(i, forwards[i.Row - 1])).ToList(),
                $"{issues.Count} problem(s) in the forwards piped in; nothing was changed on {where ?? RouterNames}.", where ?? RouterNames);
        }

        /// <summary>Picks the backend on the router and says which one and why.</summary>
        internal ForwardApplier Applier(RouterTarget router, RouterSession session)
        {
            if (Backend == BackendKind.IKuai) return IKuaiApplier(router);
            if (WanInterface != null && Role != RouterRole.Main)
                throw new BypassNatException("BypassNat.WanInterfaceNotMain", FailureKind.InvalidData,
                    "-WanInterface is for the main router (-Role Main); the bypass router's rules match on its own address. Nothing was changed.", WanInterface);
            ForwardApplier applier = ForwardApplier.For(session, Backend, RouterHop.For(Role), WanInterface, new BackendOptions { WanZone = WanZone, LanZone = LanZone });
            applier.Observed = state => RecentForwards.Remember(router.Name, state.Forwards);
            Verbose($"Backend on {router.Name}: {applier.Choice.Reason}.");
            if (applier.Proxy != null && (applier.Proxy.Found || applier.Proxy.HasExemptionChain || applier.Proxy.MangleRefused || applier.Proxy.NftOwnRules.Count > 0))
                Verbose($"Proxy on {router.Name}: {applier.Proxy.Describe()}" + (applier.Proxy.HasExemptionChain ? $"; BypassNat's exemption chain {Proxy.ProxyExemption.Chain} is in the mangle table" : "") +
                        (applier.Proxy.NftOwnRules.Count > 0 ? $"; {applier.Proxy.NftOwnRules.Count} of BypassNat's exemption rules are in the proxy's nftables chains" : "") + ".");
            if ((WanZone != null || LanZone != null) && !applier.Choice.Backend.Capabilities.HasFlag(BackendCapabilities.Zones))
            {
                throw new BypassNatException("BypassNat.ZoneNotUci", FailureKind.InvalidData,
                    $"-WanZone and -LanZone are for an OpenWrt main router's UCI redirects (-Role Main, backend Uci); {router.Name} uses {applier.Choice.Backend.Kind}. Nothing was changed.",
                    router.Name);
            }

            if (Role == RouterRole.Main) Verbose($"{router.Name} is the main router; WAN interface: {applier.ExpectedWanInterface ?? "unknown (no default route)"}.");
            return applier;
        }
    }
}
