using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Ssh;
using BypassNat.Backends.Uci;
using BypassNat.Backends;
using BypassNat.Backends.IKuai;

namespace BypassNat.Registry
{
    /// <summary>
    /// What a backend is made from: the hop it serves, the SSH session for a backend on the router's
    /// shell, its options, and what the survey found. A backend with another transport makes it from
    /// its options (<see cref="BackendOptions.IKuai"/>).
    /// </summary>
    public sealed class BackendSite
    {
        public BackendSite(RouterHop hop, RouterSession session, string wanInterface = null, RenderContext mainContext = null, BackendOptions options = null)
        {
            Hop = hop;
            Session = session;
            WanInterface = wanInterface;
            MainContext = mainContext;
            Options = options ?? new BackendOptions();
        }

        public RouterHop Hop { get; }

        /// <summary>The SSH connection to the router (for the backends whose transport is its shell).</summary>
        public RouterSession Session { get; }

        /// <summary>The main hop's WAN interface the rules should match on; null elsewhere, or when unknown.</summary>
        public string WanInterface { get; }

        /// <summary>The main router's WAN side as the survey found it; null on the bypass hop or when unknown.</summary>
        public RenderContext MainContext { get; }

        public BackendOptions Options { get; }
    }

    /// <summary>The user's settings that only some backends take (<see cref="BackendCapabilities.Zones"/>).</summary>
    public sealed class BackendOptions
    {
        /// <summary>-WanZone; null for the backend's default.</summary>
        public string WanZone { get; set; }

        /// <summary>-LanZone; null for the backend's default.</summary>
        public string LanZone { get; set; }

        /// <summary>How to reach an iKuai router's web API (-Backend IKuai); null for the others.</summary>
        public IKuaiSettings IKuai { get; set; }
    }

    /// <summary>One backend as the registry knows it: its name, the hops it serves, and how it is made.</summary>
    public sealed class BackendRegistration
    {
        public BackendRegistration(BackendKind kind, IReadOnlyList<RouterRole> roles, bool surveyed, Func<BackendSite, IRouterBackend> create, bool usesShell = true)
        {
            Kind = kind;
            Roles = roles;
            Surveyed = surveyed;
            Create = create;
            UsesShell = usesShell;
        }

        public BackendKind Kind { get; }

        /// <summary>The hops this backend can hold.</summary>
        public IReadOnlyList<RouterRole> Roles { get; }

        /// <summary>
        /// Every survey reads this backend's rules (it must then be an <see cref="IScriptedBackend"/>),
        /// so the backend in use and the one a change of backend left behind are both known from one command.
        /// </summary>
        public bool Surveyed { get; }

        public Func<BackendSite, IRouterBackend> Create { get; }

        /// <summary>
        /// Its transport is the router's shell over the command's SSH connection; false for a backend
        /// that brings its own (a web API), for which a command opens no SSH connection, takes no lock
        /// and checks no SSH lockout.
        /// </summary>
        public bool UsesShell { get; }
    }

    /// <summary>
    /// The one place that knows every backend (PSResourceGet's ServerFactory is the model): the
    /// orchestration makes a backend here and asks it, never its kind. Adding a backend is one folder
    /// with its class, one entry here, a name in <see cref="BackendKind"/> and its tests.
    /// </summary>
    public static class BackendRegistry
    {
        private static readonly RouterRole[] BothHops = { RouterRole.Bypass, RouterRole.Main };

        public static IReadOnlyList<BackendRegistration> All { get; } = new[]
        {
            new BackendRegistration(BackendKind.Nftables, BothHops, surveyed: true, site =>
                site.Hop.Role == RouterRole.Main ? new MainNftablesBackend(site.Session, site.WanInterface) : (IRouterBackend)new NftablesBackend(site.Session)),
            new BackendRegistration(BackendKind.Iptables, BothHops, surveyed: true, site =>
                site.Hop.Role == RouterRole.Main ? new MainIptablesBackend(site.Session, site.WanInterface) : (IRouterBackend)new IptablesBackend(site.Session)),
            new BackendRegistration(BackendKind.Uci, new[] { RouterRole.Main }, surveyed: false, site => new UciBackend(site.Session, site.Options.WanZone ?? "wan", site.Options.LanZone ?? "lan")
            {
                // firewall4's reflection answers on the WAN's own address: that is the public address a UCI redirect holds.
                ReflectionAddress = site.MainContext != null && site.MainContext.WanAddresses.Count > 0 ? site.MainContext.WanAddresses[0] : IPAddress.Any,
            }),
            // Its transport is the router's web API, not the site's SSH session.
            new BackendRegistration(BackendKind.IKuai, new[] { RouterRole.Main }, surveyed: false, site =>
                IKuaiBackend.Open(site.Options.IKuai ?? throw new ArgumentException("The IKuai backend needs the API's settings (BackendOptions.IKuai).", nameof(site))),
                usesShell: false),
        };

        public static BackendRegistration Find(BackendKind kind) =>
            All.FirstOrDefault(r => r.Kind == kind) ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "No backend is registered under this name.");

        /// <summary>Whether <paramref name="kind"/> works on the router's shell over SSH; Auto does (the probe that picks the backend is a shell script).</summary>
        public static bool UsesShell(BackendKind kind) => kind == BackendKind.Auto || Find(kind).UsesShell;

        /// <summary>Makes the backend <paramref name="kind"/> for <paramref name="site"/>.</summary>
        public static IRouterBackend Create(BackendKind kind, BackendSite site) => Find(kind).Create(site);

        /// <summary>The backends a survey of <paramref name="hop"/> reads, made for <paramref name="site"/>.</summary>
        public static IReadOnlyList<IScriptedBackend> Surveyed(BackendSite site) =>
            All.Where(r => r.Surveyed && r.Roles.Contains(site.Hop.Role)).Select(r => (IScriptedBackend)r.Create(site)).ToList();
    }
}
