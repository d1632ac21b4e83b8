using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace BypassNat.Ssh
{
    /// <summary>
    /// One SSH connection to a router, with strict host-key checking. Scripts are sent on the
    /// command's standard input to a fixed <c>sh -s</c>, so no user text ever reaches a command line.
    /// </summary>
    public sealed class RouterSession : IDisposable
    {
        private readonly SshClient _client;

        private RouterSession(SshClient client, SshSettings settings, IReadOnlyList<IPAddress> addresses, string fingerprint, string login, string knownHosts)
        {
            _client = client;
            Settings = settings;
            Addresses = addresses;
            HostKeyFingerprint = fingerprint;
            Login = login;
            KnownHostsFile = knownHosts;
        }

        /// <summary>How the login went, for the verbose stream: "key /root/.ssh/id_ecdsa (default identity)", "password".</summary>
        public string Login { get; }

        /// <summary>The known_hosts file that was consulted, or null when only pinned fingerprints counted.</summary>
        public string KnownHostsFile { get; }

        /// <summary>True when the host was new and -AcceptNewHostKey added its key to the known_hosts file.</summary>
        public bool HostKeyAdded { get; private set; }

        /// <summary>False once the connection dropped (the router rebooted, sshd restarted, the network went away).</summary>
        public bool IsConnected => _client.IsConnected;

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

        public static RouterSession Open(SshSettings settings)
        {
            if (string.IsNullOrWhiteSpace(settings.ComputerName))
                throw new BypassNatException("BypassNat.MissingComputerName", FailureKind.InvalidData, "A router name or address is required (-ComputerName).");
            IReadOnlyList<IPAddress> addresses = Resolve(settings.ComputerName);

            var trust = HostKeyTrust.For(settings);
            AuthenticationMethod[] methods = AuthenticationMethods(settings, out IReadOnlyList<string> skipped);
            var connection = new ConnectionInfo(settings.ComputerName, settings.Port, settings.UserName, methods)
            {
                Timeout = settings.ConnectTimeout,
            };
            trust.LimitAlgorithms(connection);

            var client = new SshClient(connection);
            client.HostKeyReceived += (sender, e) => e.CanTrust = trust.Accept(e.HostKeyName, e.HostKey, e.FingerPrintSHA256);
            try
            {
                client.Connect();
            }
            catch (Exception e) when (trust.Refusal != null)
            {
                client.Dispose();
                throw new BypassNatException(trust.RefusalId, FailureKind.SecurityError, trust.Refusal, settings.Endpoint, e);
            }
            catch (SshAuthenticationException e)
            {
                client.Dispose();
                string tried = methods.OfType<IdentityMethod>().Any(m => m.IsDefault)
                    ? $" It tried the default identities {string.Join(", ", methods.OfType<IdentityMethod>().Select(m => m.Path))}" +
                      (skipped.Count > 0 ? $" (skipped: {string.Join("; ", skipped)})" : "") + ", as ssh does without -KeyFile."
                    : "";
                throw new BypassNatException("BypassNat.AuthenticationFailed", FailureKind.AuthenticationError,
                    $"The router {settings.Endpoint} refused the login of user '{settings.UserName}': {e.Message}{tried} Check -UserName and -KeyFile or -Credential.",
                    settings.Endpoint, e);
            }
            catch (Exception e) when (e is SocketException || e is SshException || e is TimeoutException || e is IOException)
            {
                client.Dispose();
                throw new BypassNatException("BypassNat.ConnectionFailed", FailureKind.ConnectionError,
                    $"Cannot connect to the router {settings.Endpoint} over SSH: {e.Message}", settings.Endpoint, e);
            }

            IdentityMethod used = methods.OfType<IdentityMethod>().FirstOrDefault(m => m.Accepted);
            string login = used != null ? $"key {used.Path}" + (used.IsDefault ? " (default identity, as ssh would use)" : "") : "password";
            return new RouterSession(client, settings, addresses, trust.PresentedFingerprint, login, trust.KnownHostsPath) { HostKeyAdded = trust.AddedToKnownHosts };
        }

        /// <summary>
        /// Checks what can be checked without the router: the key file (or the default identities)
        /// loads, the known_hosts file exists. A mistake there is the same for every router, so the
        /// cmdlets report it once, before connecting anywhere.
        /// </summary>
        public static void CheckLogin(SshSettings settings)
        {
            HostKeyTrust.For(settings);
            foreach (AuthenticationMethod method in AuthenticationMethods(settings, out _))
                (method as IDisposable)?.Dispose();
        }

        private static AuthenticationMethod[] AuthenticationMethods(SshSettings settings, out IReadOnlyList<string> skipped)
        {
            var methods = new List<AuthenticationMethod>();
            var notUsable = new List<string>();
            skipped = notUsable;
            if (!string.IsNullOrEmpty(settings.KeyFile))
            {
                methods.Add(new IdentityMethod(settings.UserName, settings.KeyFile, LoadKey(settings.KeyFile, settings.KeyPassphrase), isDefault: false));
            }
            else if (!string.IsNullOrEmpty(settings.Password))
            {
                methods.Add(new PasswordAuthenticationMethod(settings.UserName, settings.Password));
            }
            else
            {
                // Like ssh without -i: every default identity that exists, in ssh's order. One that
                // needs a passphrase cannot be asked for here, so it is skipped and named.
                foreach (string path in DefaultIdentities.Existing())
                {
                    try
                    {
                        methods.Add(new IdentityMethod(settings.UserName, path, LoadKey(path, null), isDefault: true));
                    }
                    catch (BypassNatException e)
                    {
                        notUsable.Add($"{path}: {(e.ErrorId == "BypassNat.KeyFileInvalid" ? "needs a passphrase or is not a supported key" : "unreadable")}");
                    }
                }

                if (methods.Count == 0)
                    throw new BypassNatException("BypassNat.NoCredentials", FailureKind.InvalidData,
                        "Say how to log in to the router: -KeyFile with a private key, or -Credential with a password. " +
                        (notUsable.Count > 0
                            ? $"The default identities cannot be used without a passphrase ({string.Join("; ", notUsable)}): pass -KeyFile with -Credential for the passphrase."
                            : $"None of ssh's default identities exists ({DefaultIdentities.Describe()})."),
                        settings.Endpoint);
            }

            return methods.ToArray();
        }

        private static PrivateKeyFile LoadKey(string path, string passphrase)
        {
            try
            {
                return string.IsNullOrEmpty(passphrase) ? new PrivateKeyFile(path) : new PrivateKeyFile(path, passphrase);
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new BypassNatException("BypassNat.KeyFileUnreadable", FailureKind.InvalidData,
                    $"Cannot read the key file '{path}': {e.Message}", path, e);
            }
            catch (Exception e) when (e is SshException || e is ArgumentException || e is InvalidOperationException || e is NotSupportedException)
            {
                // The message never includes the passphrase; SSH.NET only names the problem.
                throw new BypassNatException("BypassNat.KeyFileInvalid", FailureKind.InvalidData,
                    $"The key file '{path}' is not a usable private key (OpenSSH ed25519, ECDSA or RSA; a wrong or missing passphrase also ends here): {e.Message}",
                    path, e);
            }
        }

        /// <summary>A key login that remembers whether the router accepted it, so the cmdlets can say which key was used.</summary>
        private sealed class IdentityMethod : PrivateKeyAuthenticationMethod
        {
            public IdentityMethod(string userName, string path, PrivateKeyFile key, bool isDefault)
                : base(userName, key)
            {
                Path = path;
                IsDefault = isDefault;
            }

            public string Path { get; }
            public bool IsDefault { get; }
            public bool Accepted { get; private set; }

            public override AuthenticationResult Authenticate(Session session)
            {
                AuthenticationResult result = base.Authenticate(session);
                if (result == AuthenticationResult.Success) Accepted = true;
                return result;
            }
        }

        /// <summary>
        /// Runs a POSIX shell script on the router. The script travels on standard input; the command
        /// line is always the same two words.
        /// </summary>
        public CommandResult Run(string script)
        {
            CommandsRun++;
            using (SshCommand command = _client.CreateCommand("sh -s"))
            {
                command.CommandTimeout = Settings.CommandTimeout;
                try
                {
                    IAsyncResult pending = command.BeginExecute();
                    using (Stream input = command.CreateInputStream())
                    {
                        byte[] bytes = new UTF8Encoding(false).GetBytes(script.Replace("\r\n", "\n"));
                        input.Write(bytes, 0, bytes.Length);
                    }

                    command.EndExecute(pending);
                }
                catch (Exception e) when (e is SshException || e is IOException || e is SocketException || e is ObjectDisposedException)
                {
                    throw new BypassNatException("BypassNat.ConnectionLost", FailureKind.ConnectionError,
                        $"The SSH connection to {Settings.Endpoint} failed while running a command: {e.Message}", Settings.Endpoint, e);
                }

                // No exit status means the channel closed before the command ended: the script may have
                // stopped anywhere, which is not the same as a script that failed.
                if (command.ExitStatus == null)
                    throw new BypassNatException("BypassNat.ConnectionLost", FailureKind.ConnectionError,
                        $"The SSH connection to {Settings.Endpoint} closed before a command finished.", Settings.Endpoint);
                return new CommandResult(command.ExitStatus.Value, command.Result, command.Error);
            }
        }

        /// <summary>How many commands (SSH round trips) this session has run; an apply keeps it a small constant.</summary>
        public int CommandsRun { get; private set; }

        /// <summary>How long a writing script waits for the router-side lock (<see cref="Backends.RouterLock"/>).</summary>
        public int LockTimeoutSeconds { get; set; } = Backends.RouterLock.DefaultTimeoutSeconds;

        /// <summary>The shell prefix for privileged commands: empty for root, <c>sudo -n</c> (never prompt) otherwise.</summary>
        public string Privileged => Settings.UseSudo ? "sudo -n " : string.Empty;

        public void Dispose()
        {
            if (_client.IsConnected) _client.Disconnect();
            _client.Dispose();
        }
    }
}
