using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends;

namespace BypassNat.Backends.IKuai
{
    /// <summary>What BypassNat holds on an iKuai router, as the orchestration compares it.</summary>
    public sealed class IKuaiRouterState : RouterState
    {
        public IKuaiRouterState(IKuaiState state)
        {
            Mappings = state;
            // A disabled forward is absent to the orchestration, as on every backend (RulesetDiff); on
            // iKuai it stays a row switched off (enabled "no"), which Write keeps in step.
            Forwards.AddRange(state.Forwards.Where(f => f.Enabled));
            Problems.AddRange(state.Problems);
        }

        public IKuaiState Mappings { get; }
        public override bool Present => Mappings.Ours.Any();

        /// <summary>A mapping is in effect as soon as it is there: no jump or hook to lose.</summary>
        public override bool InPlace => true;

        public override string Repair => null;
    }

    /// <summary>The web API as the orchestration sees a transport: a name, and how many requests went.</summary>
    public sealed class IKuaiTransport : IRouterTransport
    {
        private readonly IIKuaiApi _api;

        public IKuaiTransport(IIKuaiApi api, string computerName, string endpoint)
        {
            _api = api;
            ComputerName = computerName;
            Endpoint = endpoint;
        }

        public string ComputerName { get; }
        public string Endpoint { get; }
        public int RoundTrips => _api.Requests;
    }

    /// <summary>
    /// The main router's half on an iKuai router, behind the backend seam: its transport is the web
    /// API (<see cref="IIKuaiApi"/>), not a shell. No saved set (the router's configuration persists
    /// by itself), no watchdog, no conntrack clean-up; every write is ordered calls, verified, and
    /// rolled back on a failed call (<see cref="IKuaiRouter"/>).
    /// </summary>
    public sealed class IKuaiBackend : IDirectBackend, IDisposable
    {
        private readonly IIKuaiApi _api;

        public IKuaiBackend(IIKuaiApi api, string computerName, string endpoint, string wanInterface)
        {
            _api = api;
            Router = new IKuaiRouter(api, computerName, wanInterface);
            Transport = new IKuaiTransport(api, computerName, endpoint);
        }

        /// <summary>Opens the API for <paramref name="settings"/> (no request yet: the first read logs in).</summary>
        public static IKuaiBackend Open(IKuaiSettings settings) =>
            new IKuaiBackend(IKuaiApi.Open(settings, settings.Trace, settings.Cancel), settings.ComputerName, settings.Endpoint, settings.WanInterface)
            {
                Router = { Trace = settings.Trace },
            };

        public IKuaiRouter Router { get; }
        public IIKuaiApi Api => _api;
        public BackendKind Kind => BackendKind.IKuai;
        public BackendCapabilities Capabilities => BackendCapabilities.PersistsItself;
        public IRouterTransport Transport { get; }

        public RouterState Read() => new IKuaiRouterState(Router.Read());

        public BackendWriteOutcome Write(BackendWrite write)
        {
            Router.Apply(Router.Prepare(write.Desired));
            return new BackendWriteOutcome(0, null);
        }

        public void Remove(RouterState current) => Router.Apply(Router.PrepareRemoval(null));

        public BypassForward Shape(BypassForward forward) => IKuaiMapping.Project(forward);

        public string Explain(BackendCapabilities capability)
        {
            switch (capability)
            {
                case BackendCapabilities.PersistsItself:
                    return "keeps its port mappings in its own configuration across reboots, so nothing more is installed.";
                case BackendCapabilities.CommitConfirmed:
                    return $"-ConfirmTimeout needs a watchdog on the router; iKuai's web API cannot run one ({Transport.Endpoint}). Nothing was changed.";
                case BackendCapabilities.ConntrackCleanup:
                    return "iKuai's web API does not expose its connection tracking: a UDP flow that started before a change keeps its path until it expires.";
                default:
                    return $"iKuai's web API offers no {capability}.";
            }
        }

        public void Dispose() => _api.Dispose();
    }
}
