using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Net;
using System.Security;
using BypassNat.Backends.IKuai;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>
    /// The parameters of an iKuai router's web API (-Backend IKuai), shared by the cmdlets that work
    /// on forwards and by New-BypassSession, and the settings made from them.
    /// </summary>
    public abstract partial class ConnectionCommand
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
        internal static readonly string[] SshOnly = { "KeyFile", "HostKeyFingerprint", "Sudo", "AcceptNewHostKey", "WanZone", "LanZone", "CommandTimeout", "LockTimeout" };

        /// <summary>What a session to an iKuai router fixes when it is opened: given beside it, they would be ignored.</summary>
        internal static readonly string[] IKuaiSessionSettings = { "Port", "UserName", "Credential", "ApiToken", "CertificateFingerprint", "AcceptNewCertificate", "UseSsl", "KnownHostsFile", "ConnectTimeout" };

        /// <summary>The iKuai settings from the parameters: every problem here is the user's, said before any request.</summary>
        internal IKuaiSettings IKuaiSettingsFor(RouterTarget router, RouterRole role, string wanInterface)
        {
            if (role != RouterRole.Main)
                throw new BypassNatException("BypassNat.IKuaiNotForBypass", FailureKind.InvalidData,
                    "-Backend IKuai is for the main router (-Role Main): iKuai holds the first half of the double forward. Nothing was changed.", router.Name);
            string given = SshOnly.FirstOrDefault(MyInvocation.BoundParameters.ContainsKey);
            if (given != null)
                throw new BypassNatException("BypassNat.ParameterNotIKuai", FailureKind.InvalidData,
                    $"-{given} is for routers reached over SSH; -Backend IKuai uses the router's web API (-Credential or -ApiToken, -CertificateFingerprint or -AcceptNewCertificate). Nothing was changed.", given);
            if ((Credential == null) == (ApiToken == null))
                throw new BypassNatException("BypassNat.NoCredentials", FailureKind.InvalidData,
                    "-Backend IKuai needs exactly one of -Credential (iKuai 3.x: a web UI user) or -ApiToken (iKuai 4.x: a token made under System -> Auth -> API Token). Nothing was changed.", router.Name);
            if (wanInterface != null) MainHop.RequireInterface(wanInterface, "-WanInterface");

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
                WanInterface = wanInterface,
                Timeout = TimeSpan.FromSeconds(ConnectTimeout),
            };
            foreach (string fingerprint in settings.CertificateFingerprints) CertificateTrust.Normalize(fingerprint);
            return settings;
        }

        /// <summary>Said each time a command talks to iKuai over plain HTTP, a session's command too.</summary>
        internal static string PlainHttpWarning(string router, string endpoint) =>
            $"{router}: talking to iKuai over plain HTTP ({endpoint}): the login and the session cookie cross the LAN unencrypted. " +
            "Use -UseSsl with -CertificateFingerprint (or -AcceptNewCertificate) where its web UI serves HTTPS.";
    }
}
