using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Net;
using BypassNat.Ssh;

namespace BypassNat.Commands
{
    /// <summary>
    /// What every cmdlet that logs in to routers shares: the SSH parameters, the routers named in
    /// -ComputerName or piped in by property name, and each router's work with its own errors. Work
    /// writes through <see cref="Emit"/>, <see cref="Verbose"/>, <see cref="Warn"/>,
    /// <see cref="Report"/> and <see cref="Confirm"/>, which are safe on the worker threads of
    /// <see cref="RouterFanOut"/>.
    /// </summary>
    public abstract partial class ConnectionCommand : PSCmdlet
    {
        protected const string ComputerNameSet = "ComputerName";

        /// <summary>One or more routers (names or addresses); several are worked on in parallel.</summary>
        [Parameter(Mandatory = true, ParameterSetName = ComputerNameSet, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        [Alias("Router", "HostName")]
        public virtual string[] ComputerName { get; set; }

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

        /// <summary>Like ssh's StrictHostKeyChecking=accept-new: trust a host with no key on file and add its key to known_hosts.</summary>
        [Parameter]
        public SwitchParameter AcceptNewHostKey { get; set; }

        /// <summary>Seconds to wait for a router to answer the connection (and its SSH handshake).</summary>
        [Parameter]
        [ValidateRange(1, 600)]
        public int ConnectTimeout { get; set; } = 15;

        /// <summary>
        /// Seconds one script may run on a router before it is abandoned (BypassNat.CommandTimeout); the
        /// router then holds what a cut connection leaves: the old set or the new one.
        /// </summary>
        [Parameter]
        [ValidateRange(1, 86400)]
        public int CommandTimeout { get; set; } = 300;

        /// <summary>How many routers are worked on at the same time.</summary>
        [Parameter]
        [ValidateRange(1, 256)]
        public int ThrottleLimit { get; set; } = 8;

        private readonly List<RouterTarget> _routers = new List<RouterTarget>();
        private readonly HashSet<string> _seen = new HashSet<string>(StringComparer.Ordinal);
        private readonly RouterFanOut _fanOut;

        protected ConnectionCommand() => _fanOut = new RouterFanOut(this);

        /// <summary>The routers given so far, each once, in the order given.</summary>
        internal IReadOnlyList<RouterTarget> Routers => _routers;

        /// <summary>All routers, for messages about the whole command.</summary>
        protected string RouterNames => string.Join(", ", _routers.Select(r => r.Name));

        /// <summary>
        /// Remembers the routers of this pipeline record. Only ComputerName binds by property name: a
        /// session piped in has Port and UserName too, and they must not look like settings given beside it.
        /// </summary>
        protected virtual void CaptureRouters()
        {
            foreach (string name in ComputerName ?? new string[0])
            {
                SshSettings settings = Settings(name);
                var target = new RouterTarget(name, settings);
                if (!_seen.Add(target.Key)) continue;
                try
                {
                    RouterSession.CheckLogin(settings);
                }
                catch (BypassNatException failure)
                {
                    // A bad key file or known_hosts file is the same for every router: say it once and stop.
                    ThrowTerminatingError(ErrorRecords.From(failure));
                }

                _routers.Add(target);
            }
        }

        internal void AddRouter(RouterTarget target)
        {
            if (_seen.Add(target.Key)) _routers.Add(target);
        }

        protected SshSettings Settings(string computerName)
        {
            try
            {
                NetworkCredential secret = Credential?.GetNetworkCredential();
                var settings = new SshSettings
                {
                    ComputerName = computerName,
                    Port = Port,
                    UserName = UserName ?? (Credential != null ? Credential.UserName : "root"),
                    KeyFile = KeyFile == null ? null : GetUnresolvedProviderPathFromPSPath(KeyFile),
                    KnownHostsFile = KnownHostsFile == null ? null : GetUnresolvedProviderPathFromPSPath(KnownHostsFile),
                    HostKeyFingerprints = new List<string>(HostKeyFingerprint ?? new string[0]),
                    UseSudo = Sudo.IsPresent,
                    AcceptNewHostKey = AcceptNewHostKey.IsPresent,
                    ConnectTimeout = TimeSpan.FromSeconds(ConnectTimeout),
                    CommandTimeout = TimeSpan.FromSeconds(CommandTimeout),
                };
                if (settings.KeyFile != null) settings.KeyPassphrase = secret?.Password;
                else settings.Password = secret?.Password;
                return settings;
            }
            catch (Exception e) when (e is ProviderNotFoundException || e is DriveNotFoundException || e is NotSupportedException || e is ArgumentException)
            {
                ThrowTerminatingError(ErrorRecords.From(new BypassNatException("BypassNat.InvalidPath", FailureKind.InvalidData,
                    $"-KeyFile or -KnownHostsFile is not a file system path: {e.Message}", KeyFile ?? KnownHostsFile, e)));
                return null;
            }
        }

        /// <summary>
        /// Runs <paramref name="work"/> once per router: on this thread for one router, on up to
        /// -ThrottleLimit threads for several, with Write-Progress meanwhile (<see cref="RouterFanOut"/>).
        /// A router whose work fails gets one non-terminating error (target: the router) and the others
        /// go on. Returns the routers whose work succeeded.
        /// </summary>
        internal IReadOnlyList<RouterTarget> ForEachTarget(IReadOnlyList<RouterTarget> targets, Action<RouterTarget> work)
        {
            var succeeded = new ConcurrentDictionary<RouterTarget, bool>();
            if (targets.Count <= 1)
                foreach (RouterTarget target in targets) RunOne(target, work, succeeded);
            else
                _fanOut.Run(targets, ThrottleLimit, MyInvocation.MyCommand.Name, target => RunOne(target, work, succeeded));
            return targets.Where(succeeded.ContainsKey).ToList();
        }

        private void RunOne(RouterTarget target, Action<RouterTarget> work, ConcurrentDictionary<RouterTarget, bool> succeeded)
        {
            bool onWorker = _fanOut.OnWorker;
            try
            {
                work(target);
                succeeded[target] = true;
            }
            catch (BypassNatException failure)
            {
                Report(RouterError(failure, target));
            }
            catch (OperationCanceledException) when (onWorker)
            {
            }
            catch (Exception e) when (onWorker && !(e is PipelineStoppedException))
            {
                // A fault in one router's work must not take the others down with it.
                Report(new ErrorRecord(e, "BypassNat.RouterFailed", ErrorCategory.NotSpecified, target.Name));
            }
        }

        /// <summary>A router's failure as its error: the router is the target, whatever the core named.</summary>
        internal static ErrorRecord RouterError(BypassNatException failure, RouterTarget target)
        {
            ErrorRecord record = ErrorRecords.From(failure);
            return new ErrorRecord(record.Exception, failure.ErrorId, record.CategoryInfo.Category, target.Name);
        }

        /// <summary>
        /// Ctrl-C: no further router is started, and the SSH commands under way are abandoned at once
        /// (<see cref="AbandonRouters"/>), so the command returns within a second instead of when the
        /// router answers.
        /// </summary>
        protected override void StopProcessing()
        {
            _fanOut.Stop();
            AbandonRouters();
            base.StopProcessing();
        }

        /// <summary>
        /// Called on PowerShell's stopping thread: closes the connections of the routers under way,
        /// so the command blocked on one returns. Must return at once and never throw.
        /// </summary>
        protected virtual void AbandonRouters()
        {
        }

        /// <summary>Runs <paramref name="action"/> on the cmdlet's thread (directly when already there) and waits for it.</summary>
        protected void OnCmdletThread(Action action) => _fanOut.OnCmdletThread(action);

        protected void Emit(object item) => OnCmdletThread(() => WriteObject(item));
        protected void Verbose(string message) => OnCmdletThread(() => WriteVerboseLine(message));

        /// <summary>
        /// A verbose line. PowerShell turns a compiled cmdlet's verbose stream to Inquire when -Debug
        /// is given without -Verbose (MshCommandRuntime.VerbosePreference), which asks "Continue with
        /// this operation?" at every line and fails in a non-interactive session; so under -Debug alone
        /// the line goes to the debug stream, which -Debug shows without asking.
        /// </summary>
        protected void WriteVerboseLine(string message)
        {
            bool debugOnly = MyInvocation.BoundParameters.TryGetValue("Debug", out object debug) && debug is SwitchParameter on && on.IsPresent
                && !MyInvocation.BoundParameters.ContainsKey("Verbose");
            if (debugOnly) WriteDebug(message);
            else WriteVerbose(message);
        }
        protected void Warn(string message) => OnCmdletThread(() => WriteWarning(message));
        protected void Report(ErrorRecord record) => OnCmdletThread(() => WriteError(record));

        /// <summary>ShouldProcess, asked on the cmdlet's thread (-WhatIf and -Confirm work per router).</summary>
        protected bool Confirm(string target, string action)
        {
            bool answer = false;
            OnCmdletThread(() => answer = ShouldProcess(target, action));
            return answer;
        }
    }
}
