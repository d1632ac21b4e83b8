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

        private RouterSession(SshClient client, SshSettings settings, IReadOnlyList<IPAddress> addresses, string fingerprint)
        {
            _client = client;
            Settings = settings;
            Addresses = addresses;
            HostKeyFingerprint = fingerprint;
        }

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
            var connection = new ConnectionInfo(settings.ComputerName, settings.Port, settings.UserName, AuthenticationMethods(settings))
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
                throw new BypassNatException("BypassNat.AuthenticationFailed", FailureKind.AuthenticationError,
                    $"The router {settings.Endpoint} refused the login of user '{settings.UserName}': {e.Message} Check -UserName and -KeyFile or -Credential.",
                    settings.Endpoint, e);
            }
            catch (Exception e) when (e is SocketException || e is SshException || e is TimeoutException || e is IOException)
            {
                client.Dispose();
                throw new BypassNatException("BypassNat.ConnectionFailed", FailureKind.ConnectionError,
                    $"Cannot connect to the router {settings.Endpoint} over SSH: {e.Message}", settings.Endpoint, e);
            }

            return new RouterSession(client, settings, addresses, trust.PresentedFingerprint);
        }

        private static AuthenticationMethod[] AuthenticationMethods(SshSettings settings)
        {
            var methods = new List<AuthenticationMethod>();
            if (!string.IsNullOrEmpty(settings.KeyFile))
            {
                PrivateKeyFile key;
                try
                {
                    key = string.IsNullOrEmpty(settings.KeyPassphrase)
                        ? new PrivateKeyFile(settings.KeyFile)
                        : new PrivateKeyFile(settings.KeyFile, settings.KeyPassphrase);
                }
                catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
                {
                    throw new BypassNatException("BypassNat.KeyFileUnreadable", FailureKind.InvalidData,
                        $"Cannot read the key file '{settings.KeyFile}': {e.Message}", settings.KeyFile, e);
                }
                catch (Exception e) when (e is SshException || e is ArgumentException || e is InvalidOperationException || e is NotSupportedException)
                {
                    // The message never includes the passphrase; SSH.NET only names the problem.
                    throw new BypassNatException("BypassNat.KeyFileInvalid", FailureKind.InvalidData,
                        $"The key file '{settings.KeyFile}' is not a usable private key (OpenSSH ed25519, ECDSA or RSA; a wrong or missing passphrase also ends here): {e.Message}",
                        settings.KeyFile, e);
                }

                methods.Add(new PrivateKeyAuthenticationMethod(settings.UserName, key));
            }

            if (!string.IsNullOrEmpty(settings.Password) && string.IsNullOrEmpty(settings.KeyFile))
                methods.Add(new PasswordAuthenticationMethod(settings.UserName, settings.Password));

            if (methods.Count == 0)
                throw new BypassNatException("BypassNat.NoCredentials", FailureKind.InvalidData,
                    "Say how to log in to the router: -KeyFile with a private key, or -Credential with a password.", settings.Endpoint);
            return methods.ToArray();
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

        /// <summary>The shell prefix for privileged commands: empty for root, <c>sudo -n</c> (never prompt) otherwise.</summary>
        public string Privileged => Settings.UseSudo ? "sudo -n " : string.Empty;

        public void Dispose()
        {
            if (_client.IsConnected) _client.Disconnect();
            _client.Dispose();
        }
    }
}
