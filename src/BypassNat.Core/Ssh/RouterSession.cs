using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace BypassNat.Ssh
{
    /// <summary>
    /// One SSH connection to a router, with strict host-key checking. Scripts are sent on the
    /// command's standard input to a fixed <c>sh -s</c>, so no user text ever reaches a command line.
    /// </summary>
    public sealed class RouterSession : IDisposable
    {
        private IRouterConnection _connection;

        private RouterSession(IRouterConnection connection, SshSettings settings, IReadOnlyList<IPAddress> addresses, string fingerprint, string knownHosts)
        {
            _connection = connection;
            Settings = settings;
            Addresses = addresses;
            HostKeyFingerprint = fingerprint;
            KnownHostsFile = knownHosts;
        }

        /// <summary>How the login went, for the verbose stream: "key /root/.ssh/id_ecdsa (default identity)", "password".</summary>
        public string Login => _connection.Login;

        /// <summary>The known_hosts file that was consulted, or null when only pinned fingerprints counted.</summary>
        public string KnownHostsFile { get; }

        /// <summary>True when the host was new and -AcceptNewHostKey added its key to the known_hosts file.</summary>
        public bool HostKeyAdded { get; private set; }

        /// <summary>False once the connection dropped (the router rebooted, sshd restarted, the network went away).</summary>
        public bool IsConnected => _connection.IsConnected;

        public SshSettings Settings { get; }

        /// <summary>The addresses the router's name resolved to; a forward must not capture SSH on any of them.</summary>
        public IReadOnlyList<IPAddress> Addresses { get; }

        public string HostKeyFingerprint { get; }

        public static IReadOnlyList<IPAddress> Resolve(string computerName)
        {
            if (IPAddress.TryParse(computerName, out IPAddress literal)) return new[] { literal };
            try
            {
                return Dns.GetHostAddresses(computerName);
            }
            catch (Exception e) when (e is SocketException || e is ArgumentException)
            {
                throw new BypassNatException("BypassNat.HostNotFound", FailureKind.ConnectionError,
                    $"Cannot resolve the router name '{computerName}': {e.Message}.", computerName, e);
            }
        }

        /// <summary>
        /// The SSH implementation. The module sets it when it is imported, from the assembly it loaded
        /// in BypassNat's own load context (see ModuleInitializer in src/BypassNat).
        /// </summary>
        public static IRouterConnector Connector { get; set; }

        /// <summary>Told the name of each script as it starts (for a progress bar on long steps).</summary>
        public Action<string> Starting { get; set; }

        /// <summary>Told what each script was and how long it took (the -Verbose stream).</summary>
        public Action<string> Trace { get; set; }

        /// <summary>Shown each script whole, rules included (the -Debug stream). Scripts never hold a secret: passwords and passphrases stay in the SSH login.</summary>
        public Action<string> TraceScript { get; set; }

        private static IRouterConnector LoadedConnector =>
            Connector ?? throw new InvalidOperationException("No SSH implementation is loaded: import the BypassNat module, which loads it.");

        public static RouterSession Open(SshSettings settings, CancellationToken cancel = default(CancellationToken)) => Open(settings, LoadedConnector, cancel);

        /// <summary>Opens a session through <paramref name="connector"/> (the tests' fake router; the module's SSH.NET otherwise).</summary>
        public static RouterSession Open(SshSettings settings, IRouterConnector connector, CancellationToken cancel = default(CancellationToken))
        {
            if (string.IsNullOrWhiteSpace(settings.ComputerName))
                throw new BypassNatException("BypassNat.MissingComputerName", FailureKind.InvalidData, "A router name or address is required (-ComputerName).");
            IReadOnlyList<IPAddress> addresses = Resolve(settings.ComputerName);

            var trust = HostKeyTrust.For(settings);
            IRouterConnection connection = connector.Connect(settings, trust, cancel);
            return new RouterSession(connection, settings, addresses, trust.PresentedFingerprint, trust.KnownHostsPath) { HostKeyAdded = trust.AddedToKnownHosts };
        }

        /// <summary>
        /// Makes a new connection for a session that lost its own (<see cref="BypassSession"/>): the
        /// reason in, the new connection out, or a BypassNatException when the router cannot be
        /// reached. Without it a lost connection is an error of the command.
        /// </summary>
        internal Func<string, IRouterConnection> Reconnect { get; set; }

        /// <summary>A new connection with the same settings and the same host-key check, for <see cref="Reconnect"/>.</summary>
        internal static IRouterConnection ConnectAgain(SshSettings settings, IRouterConnector connector) =>
            (connector ?? LoadedConnector).Connect(settings, HostKeyTrust.For(settings), CancellationToken.None);

        /// <summary>
        /// Checks what can be checked without the router: the key file (or the default identities)
        /// loads, the known_hosts file exists. A mistake there is the same for every router, so the
        /// cmdlets report it once, before connecting anywhere.
        /// </summary>
        public static void CheckLogin(SshSettings settings)
        {
            HostKeyTrust.For(settings);
            LoadedConnector.CheckLogin(settings);
        }

        /// <summary>
        /// Runs a POSIX shell script on the router. The script travels on standard input; the command
        /// line is always the same two words.
        /// </summary>
        /// <param name="step">What the script does, as a person would say it ("reading the router"); by default taken from the script.</param>
        public CommandResult Run(string script, string step = null)
        {
            CommandsRun++;
            step = step ?? StepName(script);
            Starting?.Invoke(step);
            TraceScript?.Invoke($"Script for {Settings.Endpoint} ({step}):\n{script}");
            var clock = Stopwatch.StartNew();
            CommandResult result;
            try
            {
                result = _connection.Run(script);
            }
            catch (CommandNotSentException lost) when (Reconnect != null)
            {
                // Nothing ran: a session's connection that died unnoticed is replaced, and the script sent again.
                IRouterConnection dead = _connection;
                _connection = Reconnect(lost.Message);
                dead.Dispose();
                result = _connection.Run(script);
            }


            Trace?.Invoke($"SSH {Settings.Endpoint}: {step}: exit {result.ExitCode} in {clock.Elapsed.TotalSeconds:0.00} s.");
            return result;
        }

        /// <summary>
        /// What a script does, for the progress bar and the verbose stream: a sectioned script by its
        /// sections (the survey is "reading the router"), another by its first command (a script's
        /// own comments never reach the log).
        /// </summary>
        internal static string StepName(string script)
        {
            var sections = new List<string>();
            foreach (System.Text.RegularExpressions.Match m in SectionBegin.Matches(script)) sections.Add(m.Groups[1].Value);
            if (sections.Count > 0) return SectionsStep(sections);
            foreach (string raw in script.Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line == "{" || line.StartsWith("#", StringComparison.Ordinal) || line.StartsWith("PATH=", StringComparison.Ordinal)) continue;
                return line.Length > 70 ? line.Substring(0, 67) + "..." : line;
            }

            return "empty script";
        }

        private static readonly System.Text.RegularExpressions.Regex SectionBegin =
            new System.Text.RegularExpressions.Regex("'@@bypassnat-[0-9a-f]+ begin ([A-Za-z0-9_-]+)'", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

        private static string SectionsStep(List<string> sections)
        {
            bool Has(string prefix) => sections.Exists(n => n.StartsWith(prefix, StringComparison.Ordinal));
            if (Has("load")) return "writing the forwards" + (Has("read-back") ? " and verifying" : string.Empty);
            if (Has("remove")) return "removing BypassNat's rules" + (Has("read") ? " and verifying" : string.Empty);
            var reads = new[] { "probe", "addresses", "persisted", "generation", "proxy", "read", "ipv6" };
            if (sections.TrueForAll(n => Array.Exists(reads, r => n.StartsWith(r, StringComparison.Ordinal)))) return "reading the router";
            return string.Join(", ", sections);
        }

        /// <summary>How many commands (SSH round trips) this session has run; an apply keeps it a small constant.</summary>
        public int CommandsRun { get; private set; }

        /// <summary>How long a writing script waits for the router-side lock (<see cref="Backends.RouterLock"/>).</summary>
        public int LockTimeoutSeconds { get; set; } = DefaultLockTimeoutSeconds;

        public const int DefaultLockTimeoutSeconds = 30;

        /// <summary>The shell prefix for privileged commands: empty for root, <c>sudo -n</c> (never prompt) otherwise.</summary>
        public string Privileged => Settings.UseSudo ? "sudo -n " : string.Empty;

        /// <summary>
        /// Abandons the command under way and closes the connection, from any thread (Ctrl-C). The
        /// router finishes or drops the write it was given as for a cut connection: its kernel takes
        /// a ruleset whole, so it holds the old set or the new one.
        /// </summary>
        public void Abort() => _connection.Abort();

        public void Dispose() => _connection.Dispose();
    }
}
