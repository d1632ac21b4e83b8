using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Net;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>The SSH session parameters every cmdlet that talks to a router shares.</summary>
    public abstract class RouterCommand : PSCmdlet
    {
        private const int ProgressId = 7;

        [Parameter(Mandatory = true)]
        [ValidateNotNullOrEmpty]
        [Alias("Router", "HostName")]
        public string ComputerName { get; set; }

        [Parameter]
        [ValidateRange(1, 65535)]
        public int Port { get; set; } = 22;

        /// <summary>Login name; defaults to the credential's user name, else root.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string UserName { get; set; }

        /// <summary>An OpenSSH private key (ed25519, ECDSA or RSA). With -Credential, its password is the key's passphrase.</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        [Alias("IdentityFile")]
        public string KeyFile { get; set; }

        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        /// <summary>Accepted host key fingerprints as ssh-keygen -l prints them, e.g. SHA256:abc...</summary>
        [Parameter]
        [ValidateNotNullOrEmpty]
        public string[] HostKeyFingerprint { get; set; }

        [Parameter]
        [ValidateNotNullOrEmpty]
        public string KnownHostsFile { get; set; }

        /// <summary>Run iptables and conntrack through sudo -n, for a login that is not root.</summary>
        [Parameter]
        public SwitchParameter Sudo { get; set; }

        /// <summary>
        /// Which kernel interface holds the forwards. Auto keeps the backend that already holds
        /// BypassNat's rules, and otherwise takes nftables where nft works, iptables elsewhere.
        /// </summary>
        [Parameter]
        public BackendKind Backend { get; set; } = BackendKind.Auto;

        /// <summary>
        /// Gives the forwards that name no public address the one from -PublicAddress (an IPv4
        /// address, or a DNS name resolved now), for the cmdlets that take it.
        /// </summary>
        protected void ResolvePublicAddress(string publicAddress, List<BypassForward> forwards)
        {
            if (publicAddress == null) return;
            IPAddress resolved = PublicAddressResolver.Resolve(publicAddress);
            WriteVerbose($"Public address {publicAddress}: {resolved}.");
            for (int i = 0; i < forwards.Count; i++)
                if (forwards[i].PublicAddress == null) forwards[i] = forwards[i].WithPublicAddress(resolved);
        }

        /// <summary>
        /// Selects the forwards whose names match the patterns (wildcards, any case). Like Get-Item and
        /// Remove-Item, a plain name that matches nothing is a non-terminating error; a wildcard is not.
        /// </summary>
        protected List<BypassForward> SelectByName(IEnumerable<BypassForward> forwards, IReadOnlyCollection<string> names)
        {
            var patterns = names.Select(n => new WildcardPattern(n, WildcardOptions.IgnoreCase)).ToList();
            List<BypassForward> selected = forwards.Where(f => patterns.Any(p => p.IsMatch(f.Name))).ToList();
            foreach (string name in names.Where(n => !WildcardPattern.ContainsWildcardCharacters(n)))
                if (!selected.Any(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)))
                    WriteError(new ErrorRecord(new ItemNotFoundException($"{ComputerName} has no BypassNat forward named '{name}'."),
                        "BypassNat.ForwardNotFound", ErrorCategory.ObjectNotFound, name));
            return selected;
        }

        /// <summary>Writes each problem of a set as an error, then stops: a bad set changes nothing.</summary>
        protected void StopOnIssues(IReadOnlyList<ForwardIssue> issues, IReadOnlyList<BypassForward> forwards)
        {
            if (issues.Count == 0) return;
            IssueReport.Stop(this, issues.Select(i => new KeyValuePair<ForwardIssue, object>(i, forwards[i.Row - 1])).ToList(),
                $"{issues.Count} problem(s) in the forwards piped in; nothing was changed on {ComputerName}.", ComputerName);
        }

        protected SshSettings Settings()
        {
            NetworkCredential secret = Credential?.GetNetworkCredential();
            string user = UserName ?? (Credential != null ? Credential.UserName : "root");
            var settings = new SshSettings
            {
                ComputerName = ComputerName,
                Port = Port,
                UserName = user,
                KeyFile = KeyFile == null ? null : GetUnresolvedProviderPathFromPSPath(KeyFile),
                KnownHostsFile = KnownHostsFile == null ? null : GetUnresolvedProviderPathFromPSPath(KnownHostsFile),
                HostKeyFingerprints = new List<string>(HostKeyFingerprint ?? new string[0]),
                UseSudo = Sudo.IsPresent,
            };
            if (settings.KeyFile != null) settings.KeyPassphrase = secret?.Password;
            else settings.Password = secret?.Password;
            return settings;
        }

        protected RouterSession Connect()
        {
            WriteVerbose($"Connecting to {ComputerName}:{Port} over SSH.");
            SshSettings settings;
            try
            {
                settings = Settings();
            }
            catch (Exception e) when (e is ProviderNotFoundException || e is DriveNotFoundException || e is NotSupportedException || e is ArgumentException)
            {
                throw new BypassNatException("BypassNat.InvalidPath", FailureKind.InvalidData,
                    $"-KeyFile or -KnownHostsFile is not a file system path: {e.Message}", KeyFile ?? KnownHostsFile, e);
            }

            var clock = Stopwatch.StartNew();
            RouterSession session = RouterSession.Open(settings);
            WriteVerbose($"Connected in {clock.Elapsed.TotalSeconds:0.00} s; host key {session.HostKeyFingerprint} accepted.");
            var progress = new ProgressRecord(ProgressId, $"BypassNat: {ComputerName}", "Connected");
            session.Starting = step => { progress.StatusDescription = step; WriteProgress(progress); };
            session.Trace = WriteVerbose;
            session.TraceScript = WriteDebug;
            return session;
        }

        /// <summary>Picks the backend on the router and says which one and why.</summary>
        protected ForwardApplier Applier(RouterSession session)
        {
            BackendChoice choice = BackendSelector.Choose(session, Backend);
            WriteVerbose($"Backend on {ComputerName}: {choice.Reason}.");
            return new ForwardApplier(session, choice) { Observed = state => RecentForwards.Remember(ComputerName, state.Forwards) };
        }
    }
}
