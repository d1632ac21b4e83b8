using System;
using System.Collections.Generic;
using BypassNat.Persistence;
using BypassNat.Proxy;
using BypassNat.Ssh;
using BypassNat.Backends;
using BypassNat.Backends.Iptables;
using BypassNat.Registry;

namespace BypassNat.Apply
{
    /// <summary>
    /// Everything a command needs to know about a router before it changes anything, read in one SSH
    /// command: which tools it has (the backend probe), its addresses and LANs, and BypassNat's rules in each
    /// backend. Parsing is lazy, so a backend whose listing failed is an error only for a caller that
    /// needs it, as when each was read on its own.
    /// </summary>
    public sealed class RouterSurvey
    {
        private readonly RouterSession _session;
        private readonly ScriptOutcome _outcome;
        private readonly Steps _steps;
        private readonly Dictionary<BackendKind, RouterState> _states = new Dictionary<BackendKind, RouterState>();
        private RouterAddresses _addresses;

        // The survey's sections: built and read back only here.
        private sealed class Steps
        {
            public ScriptStep Probe, Addresses, Persisted, Generation, Proxy, Ipv6;
            public readonly Dictionary<BackendKind, ScriptStep> Reads = new Dictionary<BackendKind, ScriptStep>();
        }

        private RouterSurvey(RouterSession session, Steps steps, ScriptOutcome outcome)
        {
            _session = session;
            _steps = steps;
            _outcome = outcome;
        }

        public BackendChoice Choice { get; private set; }

        /// <summary>
        /// The main hop's render context (WAN interface, its addresses, the LANs) from the survey's
        /// addresses; null on the bypass hop, or when the WAN side is unknown (no or several default
        /// routes), which is an error only for an apply.
        /// </summary>
        public RenderContext MainContext { get; private set; }

        // The hop's scripted backends, each reading against the WAN interface the survey found.
        private readonly Dictionary<BackendKind, IScriptedBackend> _backends = new Dictionary<BackendKind, IScriptedBackend>();

        /// <param name="wanInterface">The main hop's WAN interface as the user named it; null for its default route's (ignored on the bypass hop).</param>
        /// <param name="options">The user's settings for the backends that take them (-WanZone, -LanZone).</param>
        public static RouterSurvey Run(RouterSession session, BackendKind requested, RouterHop hop, string wanInterface = null, BackendOptions options = null)
        {
            string p = session.Privileged;
            var script = new SectionedScript();
            var steps = new Steps
            {
                Probe = script.Step("probe", BackendSelector.ProbeScript(p, hop, owned: false)),
                Addresses = script.Step("addresses", RouterAddresses.Script),
                Persisted = script.Step("persisted", new PersistenceInstaller(session, hop).InstalledScript),
                Generation = script.Step("generation", RouterLock.GenerationScript),
                // A transparent proxy matters where the device's replies pass: the bypass router.
                Proxy = hop.Role == RouterRole.Bypass ? script.Step("proxy", ProxyCapture.Script(p)) : null,
                // BypassNat's IPv6 rules: the main router's pinholes, the bypass router's reply exemption.
                Ipv6 = script.Step("ipv6", BypassNat.Backends.Iptables.Ipv6Pinholes.ReadScript(p, hop.Role)),
            };
            // A backend whose tool is missing reads as empty; the probe says it is missing.
            foreach (IScriptedBackend backend in BackendRegistry.Surveyed(new BackendSite(hop, session)))
                steps.Reads[backend.Kind] = script.Step("read-" + backend.Kind.ToString().ToLowerInvariant(),
                    "command -v " + backend.ListingTool + " >/dev/null 2>&1 || exit 0\n" + backend.ReadScript(p));
            var survey = new RouterSurvey(session, steps, script.Outcome(session.Run(script.Render())));

            // On the main router the WAN interface is found first (named, or the default route's), so a
            // read can tell rules on an old WAN interface from current ones; a router without a default
            // route can still be read, and fails only when applying.
            string expected = null;
            if (hop.Role == RouterRole.Main)
            {
                try
                {
                    survey.MainContext = survey.Addresses.MainContext(wanInterface, session.Settings.Endpoint);
                    expected = survey.MainContext.WanInterface;
                }
                catch (BypassNatException e) when (e.ErrorId == "BypassNat.WanInterfaceNotFound" || e.ErrorId == "BypassNat.WanInterfaceAmbiguous")
                {
                }
            }

            var site = new BackendSite(hop, session, expected, survey.MainContext, options);
            foreach (IScriptedBackend backend in BackendRegistry.Surveyed(site)) survey._backends[backend.Kind] = backend;

            // Where BypassNat's rules are follows from the reads; a listing that failed owns nothing.
            CommandResult probe = survey._outcome[steps.Probe];
            string owned = string.Empty;
            foreach (IScriptedBackend backend in survey._backends.Values)
                if (survey.TryState(backend.Kind, out RouterState state) && backend.Owns(state)) owned += backend.ProbeFact + "-owned=yes\n";
            survey.Choice = BackendSelector.Choose(site, requested, new CommandResult(probe.ExitCode, probe.Output + "\n" + owned, probe.Error));
            return survey;
        }

        /// <summary>
        /// An earlier -Persist left a saved set on the router, which every change must keep current
        /// (also true when the survey could not tell: the save script checks again by itself).
        /// </summary>
        public bool Persisted => !_outcome.TryGet(_steps.Persisted, out CommandResult result) || result.Output.Contains("persisted=yes");

        /// <summary>
        /// The router-side lock's generation token as the survey read it, which the write checks under
        /// the lock (<see cref="RouterLock"/>); null when it could not be read, and then nothing is checked.
        /// </summary>
        public string Generation => _outcome.TryGet(_steps.Generation, out CommandResult result) && result.Succeeded ? RouterLock.ParseGeneration(result.Output) : null;

        /// <summary>How a transparent proxy on the router captures LAN traffic (TPROXY, TUN), and BypassNat's exemption from it.</summary>
        public ProxyCapture Proxy => _proxy ?? (_proxy = _steps.Proxy != null && _outcome.TryGet(_steps.Proxy, out CommandResult result) ? ProxyCapture.Parse(result.Output) : ProxyCapture.None);

        private ProxyCapture _proxy;

        /// <summary>
        /// BypassNat's IPv6 rules (ip6tables) on this hop. A listing that failed (sudo without ip6tables-save)
        /// knows none, and refuses IPv6 forwards rather than leave them out without a word.
        /// </summary>
        public Ipv6State Ipv6 => !_outcome.TryGet(_steps.Ipv6, out CommandResult result) ? null
            : result.Succeeded ? BypassNat.Backends.Iptables.Ipv6State.Parse(result.Output) : BypassNat.Backends.Iptables.Ipv6State.Unreadable(result.Error);

        /// <summary>The router's addresses and default routes.</summary>
        public RouterAddresses Addresses => _addresses ?? (_addresses = RouterAddresses.Parse(_session, _outcome[_steps.Addresses]));

        /// <summary>The backend's rules as the survey read them; a failed listing is the error it would have been on its own.</summary>
        public RouterState State(IRouterBackend backend)
        {
            if (TryState(backend.Kind, out RouterState state)) return state;
            CommandResult result = _outcome[_steps.Reads[backend.Kind]];
            BypassNatException failure = RouterScript.Failure(_session, $"read BypassNat's {backend.Kind.ToString().ToLowerInvariant()} rules", result, _backends[backend.Kind].Tools);
            // A login that is not root can run neither nft nor iptables-save, so the probe cannot tell
            // which one the router uses: name neither as if it were the router's.
            if (failure.ErrorId == "BypassNat.NotRoot" && !TryState(Other(backend.Kind), out _))
                failure = new BypassNatException(failure.ErrorId, failure.Kind,
                    $"The router {_session.Settings.Endpoint} did not let user '{_session.Settings.UserName}' read its NAT rules: neither nft nor iptables-save runs for a user who is not root " +
                    $"({FirstLine(result)}). Nothing was changed. Log in as root, or add -Sudo.", failure.Target);
            throw failure;
        }

        /// <summary>Whether the survey read <paramref name="backend"/>'s rules (the UCI backend reads its own).</summary>
        public bool Covers(IRouterBackend backend) => backend is IScriptedBackend && _backends.ContainsKey(backend.Kind);

        private bool TryState(BackendKind kind, out RouterState state)
        {
            if (_states.TryGetValue(kind, out state)) return true;
            if (!_steps.Reads.TryGetValue(kind, out ScriptStep read) || !_outcome.TryGet(read, out CommandResult result) || !result.Succeeded) return false;
            state = _states[kind] = _backends[kind].ParseRead(result.Output);
            return true;
        }

        private static BackendKind Other(BackendKind kind) => kind == BackendKind.Nftables ? BackendKind.Iptables : BackendKind.Nftables;

        private static string FirstLine(CommandResult result) =>
            (result.Error.Trim().Length > 0 ? result.Error : result.Output).Trim().Split('\n')[0].Trim();
    }
}
