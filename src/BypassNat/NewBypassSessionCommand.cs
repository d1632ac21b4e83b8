using System.Linq;
using System.Management.Automation;
using BypassNat.Backends;
using BypassNat.Backends.IKuai;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>
    /// Opens a session to each router and keeps it, so the cmdlets' -Session reuses one login for
    /// reading, testing and applying: SSH, or with -Role Main -Backend IKuai an iKuai router's web API.
    /// </summary>
    [Cmdlet(VerbsCommon.New, "BypassSession", DefaultParameterSetName = ComputerNameSet)]
    [OutputType(typeof(BypassSession))]
    public sealed class NewBypassSessionCommand : ConnectionCommand
    {
        /// <summary>
        /// IKuai (with -Role Main): a session to an iKuai router's web API. Left out, the session is SSH,
        /// and each command that uses it picks the backend on the router (its own -Backend).
        /// </summary>
        [Parameter]
        public BackendKind Backend { get; set; } = BackendKind.Auto;

        /// <summary>With -Backend IKuai: Main, the only role an iKuai router holds. An SSH session serves either role, which each command names.</summary>
        [Parameter]
        public RouterRole Role { get; set; } = RouterRole.Bypass;

        // Cancelled by Ctrl-C, so a connection under way need not run out its -ConnectTimeout.
        private readonly System.Threading.CancellationTokenSource _stopping = new System.Threading.CancellationTokenSource();

        protected override void ProcessRecord()
        {
            if (Backend == BackendKind.IKuai)
            {
                foreach (string name in ComputerName ?? new string[0]) AddRouter(new RouterTarget(name, Settings(name)));
                return;
            }

            string given = new[] { nameof(Backend), nameof(Role), nameof(ApiToken), nameof(CertificateFingerprint), nameof(AcceptNewCertificate), nameof(UseSsl) }
                .FirstOrDefault(MyInvocation.BoundParameters.ContainsKey);
            if (given != null)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.ParameterNotSsh", ErrorCategory.InvalidArgument,
                    $"-{given} is for a session to an iKuai router's web API (-Role Main -Backend IKuai). An SSH session serves any role and backend: each command that uses it names its own -Role and -Backend. Nothing was opened.", given));
            CaptureRouters();
        }

        protected override void AbandonRouters() => _stopping.Cancel();

        protected override void EndProcessing()
        {
            var ikuai = new System.Collections.Generic.Dictionary<RouterTarget, IKuaiSettings>();
            if (Backend == BackendKind.IKuai)
            {
                try
                {
                    // The parameters are the same for every router: a mistake is said once, before any request.
                    foreach (RouterTarget router in Routers) ikuai[router] = IKuaiSettingsFor(router, Role, null);
                }
                catch (BypassNatException failure)
                {
                    ThrowTerminatingError(ErrorRecords.From(failure));
                }
            }

            ForEachTarget(Routers, router =>
            {
                if (ikuai.TryGetValue(router, out IKuaiSettings settings))
                {
                    OpenIKuai(router, settings);
                    return;
                }

                Verbose($"Connecting to {router.Settings.Endpoint} over SSH.");
                BypassSession session = BypassSession.Open(router.Settings, _stopping.Token);
                SessionTable.Add(session);
                if (session.HostKeyAddedTo != null) Warn(RouterCommand.HostKeyAddedWarning(router.Name, session.HostKeyFingerprint, session.HostKeyAddedTo));
                Verbose($"Session {session.Id} to {router.Name} opened as {session.UserName} with {session.Login}; host key {session.HostKeyFingerprint} accepted.");
                Emit(session);
            });
        }

        private void OpenIKuai(RouterTarget router, IKuaiSettings settings)
        {
            settings.Trace = Verbose;
            settings.Cancel = _stopping.Token;
            if (!settings.UseHttps) Warn(PlainHttpWarning(router.Name, settings.Endpoint));
            Verbose($"Connecting to the iKuai web API at {settings.Endpoint}.");
            BypassSession session = IKuaiApi.OpenSession(settings);
            SessionTable.Add(session);
            Verbose($"Session {session.Id} to {router.Name} opened: {session.Login}" +
                    (session.CertificateFingerprint != null ? $"; certificate SHA-256 {session.CertificateFingerprint} accepted." : "."));
            Emit(session);
        }
    }
}
