using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Security;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Backends.IKuai;
using BypassNat.Ssh;
using BypassNat.Registry;

namespace BypassNat.Commands
{
    /// <summary>
    /// -Backend IKuai: the main router is an iKuai router driven through its web API, not over SSH.
    /// The cmdlets branch here before any SSH connection; the core's IKuai folder does the work.
    /// </summary>
    public abstract partial class RouterCommand
    {
        /// <summary>With -Backend IKuai on iKuai 4.x: the API token made in its web UI (System -> Auth -> API Token).</summary>
        [Parameter]
        [ValidateNotNull]
        public SecureString ApiToken { get; set; }

        /// <summary>
        /// With -Backend IKuai: the router's TLS certificate's SHA-256 fingerprint, as
        /// `openssl x509 -noout -fingerprint -sha256` prints it (colons optional). Implies HTTPS.
        /// </summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] CertificateFingerprint { get; set; }

        /// <summary>
        /// With -Backend IKuai: trust the router's certificate on first use and remember it beside the
        /// known_hosts file (bypassnat_known_certificates); a changed certificate is refused. Implies HTTPS.
        /// </summary>
        [Parameter]
        public SwitchParameter AcceptNewCertificate { get; set; }

        /// <summary>With -Backend IKuai on iKuai 3.x: HTTPS instead of the web UI's plain HTTP (4.x always uses HTTPS).</summary>
        [Parameter]
        public SwitchParameter UseSsl { get; set; }

        // -CommandTimeout and -LockTimeout time an SSH script and the router-side lock; a web API call has -ConnectTimeout.
        private static readonly string[] SshOnly = { "KeyFile", "HostKeyFingerprint", "Sudo", "AcceptNewHostKey", "WanZone", "LanZone", "CommandTimeout", "LockTimeout" };

        private void CaptureIKuaiRouters()
        {
            foreach (string name in ComputerName ?? new string[0]) AddRouter(new RouterTarget(name, Settings(name)));
        }

        private void RefuseIKuaiSession()
        {
            if (Backend == BackendKind.IKuai)
                ThrowTerminatingError(ErrorRecords.Terminating("BypassNat.SessionNotIKuai", ErrorCategory.InvalidArgument,
                    "-Backend IKuai talks to the router's web API, not over SSH, so it takes -ComputerName with -Credential or -ApiToken, not an SSH -Session. Nothing was done.", "Session"));
        }

        /// <summary>The iKuai settings from the parameters, once a command: every problem here is the user's, said before any request.</summary>
        private IKuaiSettings IKuaiSettingsFor(RouterTarget router)
        {
            if (Role != RouterRole.Main)
                throw new BypassNatException("BypassNat.IKuaiNotForBypass", FailureKind.InvalidData,
                    "-Backend IKuai is for the main router (-Role Main): iKuai holds the first half of the double forward. Nothing was changed.", router.Name);
            string given = SshOnly.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey);
            if (given != null)
                throw new BypassNatException("BypassNat.ParameterNotIKuai", FailureKind.InvalidData,
                    $"-{given} is for routers reached over SSH; -Backend IKuai uses the router's web API (-Credential or -ApiToken, -CertificateFingerprint or -AcceptNewCertificate). Nothing was changed.", given);
            if ((Credential == null) == (ApiToken == null))
                throw new BypassNatException("BypassNat.NoCredentials", FailureKind.InvalidData,
                    "-Backend IKuai needs exactly one of -Credential (iKuai 3.x: a web UI user) or -ApiToken (iKuai 4.x: a token made under System -> Auth -> API Token). Nothing was changed.", router.Name);
            if (WanInterface != null) MainHop.RequireInterface(WanInterface, "-WanInterface");

            bool v4 = ApiToken != null;
            string knownHosts = KnownHostsFile == null ? DefaultIdentities.KnownHostsFile : GetUnresolvedProviderPathFromPSPath(KnownHostsFile);
            var settings = new IKuaiSettings
            {
                ComputerName = router.Name,
                Version = v4 ? IKuaiApiVersion.V4 : IKuaiApiVersion.V3,
                UseHttps = v4 || UseSsl || CertificateFingerprint != null || AcceptNewCertificate,
                Port = MyInvocation.BoundParameters.ContainsKey(nameof(Port)) ? Port : 0,
                UserName = UserName ?? Credential?.UserName,
                Password = Credential?.GetNetworkCredential().Password,
                ApiToken = v4 ? new NetworkCredential(string.Empty, ApiToken).Password : null,
                CertificateFingerprints = CertificateFingerprint ?? new string[0],
                AcceptNewCertificate = AcceptNewCertificate,
                KnownCertificatesFile = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(knownHosts)) ?? ".", CertificateTrust.FileName),
                WanInterface = WanInterface,
                Timeout = TimeSpan.FromSeconds(ConnectTimeout),
            };
            foreach (string fingerprint in settings.CertificateFingerprints) CertificateTrust.Normalize(fingerprint);
            return settings;
        }

        private readonly List<KeyValuePair<RouterTarget, IKuaiBackend>> _ikuai = new List<KeyValuePair<RouterTarget, IKuaiBackend>>();

        /// <summary>
        /// The applier for an iKuai router: the backend from the registry with the web API as its
        /// transport (no survey, no SSH), in the main hop's shape. Its API is closed when the command ends.
        /// </summary>
        private ForwardApplier IKuaiApplier(RouterTarget router)
        {
            IKuaiSettings settings = IKuaiSettingsFor(router);
            settings.Trace = Verbose;
            settings.Cancel = StopToken;
            if (!settings.UseHttps)
                Warn($"{router.Name}: talking to iKuai over plain HTTP ({settings.Endpoint}): the login and the session cookie cross the LAN unencrypted. " +
                     "Use -UseSsl with -CertificateFingerprint (or -AcceptNewCertificate) where its web UI serves HTTPS.");
            var backend = (IKuaiBackend)BackendRegistry.Create(BackendKind.IKuai,
                new BackendSite(RouterHop.For(Role), null, WanInterface, null, new BackendOptions { IKuai = settings }));
            lock (_ikuai) _ikuai.Add(new KeyValuePair<RouterTarget, IKuaiBackend>(router, backend));
            var applier = new ForwardApplier(new BackendChoice(backend, null, $"IKuai (as requested; {backend.Api.Describe})"), RouterHop.For(Role),
                new RenderContext(new Ipv4Prefix[0], WanInterface));
            applier.Observed = state => RecentForwards.Remember(router.Name, state.Forwards);
            Verbose($"Backend on {router.Name}: {applier.Choice.Reason}.");
            return applier;
        }

        /// <summary>Closes the iKuai APIs this command opened, saying how each certificate was accepted and how many writes went.</summary>
        private void CloseIKuai()
        {
            lock (_ikuai)
            {
                foreach (KeyValuePair<RouterTarget, IKuaiBackend> open in _ikuai)
                {
                    CertificateTrust trust = (open.Value.Api as IKuaiApi)?.Trust;
                    if (trust?.AcceptedBy != null) WriteVerbose($"Certificate of {open.Key.Name}: SHA-256 {trust.Presented}, {trust.AcceptedBy}.");
                    WriteVerbose($"{open.Key.Name}: {open.Value.Api.Requests} request(s) to the iKuai API, {open.Value.Api.WriteCalls} of them write calls.");
                    open.Value.Dispose();
                }

                _ikuai.Clear();
            }
        }
    }
}
