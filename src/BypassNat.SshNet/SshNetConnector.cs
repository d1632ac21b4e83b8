using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using BypassNat.Ssh;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace BypassNat.SshNet
{
    /// <summary>
    /// Opens SSH.NET connections with strict host-key checking, logs in as ssh would (the key file,
    /// the password, or ssh's default identities in its order), and turns SSH.NET's failures into
    /// BypassNat's errors (a stable id, a kind, a message that says what to do).
    /// </summary>
    public sealed class SshNetConnector : IRouterConnector
    {
        public IRouterConnection Connect(SshSettings settings, HostKeyTrust trust, CancellationToken cancel)
        {
            AuthenticationMethod[] methods = AuthenticationMethods(settings, out IReadOnlyList<string> skipped);
            var connection = new ConnectionInfo(settings.ComputerName, settings.Port, settings.UserName, methods)
            {
                Timeout = settings.ConnectTimeout,
            };
            LimitHostKeyAlgorithms(connection, trust.KnownKeyTypes());

            // Keep-alives keep a NAT or firewall on the way from dropping an idle connection (a session
            // a script holds between steps), and let a dead link show as a lost connection.
            var client = new SshClient(connection) { KeepAliveInterval = settings.KeepAliveInterval };
            client.HostKeyReceived += (sender, e) => e.CanTrust = trust.Accept(e.HostKeyName, e.HostKey, e.FingerPrintSHA256);
            try
            {
                Connect(client, settings, cancel);
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
                throw ConnectionFailure(settings, e);
            }

            IdentityMethod used = methods.OfType<IdentityMethod>().FirstOrDefault(m => m.Accepted);
            string login = used != null ? $"key {used.Path}" + (used.IsDefault ? " (default identity, as ssh would use)" : "") : "password";
            return new SshNetConnection(client, settings, login);
        }

        /// <summary>
        /// Connects on a thread of its own, so Ctrl-C need not wait for -ConnectTimeout: on
        /// <paramref name="cancel"/> the caller goes at once, and the abandoned attempt ends (within the
        /// timeout) and is disposed in the background. Failures are rethrown as SSH.NET threw them.
        /// </summary>
        private static void Connect(SshClient client, SshSettings settings, CancellationToken cancel)
        {
            if (!cancel.CanBeCanceled)
            {
                client.Connect();
                return;
            }

            Task connecting = Task.Factory.StartNew(client.Connect, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (WaitHandle.WaitAny(new[] { ((IAsyncResult)connecting).AsyncWaitHandle, cancel.WaitHandle }) == 1 && !connecting.IsCompleted)
            {
                connecting.ContinueWith(_ => client.Dispose(), TaskScheduler.Default);
                throw new BypassNatException("BypassNat.Stopped", FailureKind.InvalidOperation,
                    $"Stopped (Ctrl-C) while connecting to {settings.Endpoint}; nothing was sent to it.", settings.Endpoint);
            }

            connecting.GetAwaiter().GetResult();
        }

        public void CheckLogin(SshSettings settings)
        {
            foreach (AuthenticationMethod method in AuthenticationMethods(settings, out _))
                (method as IDisposable)?.Dispose();
        }

        // Offer only the listed key types, unless that would leave none.
        /// <summary>
        /// A failed connection as the error that says what to check: nothing listening (refused),
        /// nothing answering (unreachable), or something else on the way.
        /// </summary>
        private static BypassNatException ConnectionFailure(SshSettings settings, Exception e)
        {
            SocketException socket = e as SocketException ?? e.InnerException as SocketException;
            SocketError code = socket?.SocketErrorCode ?? SocketError.Success;
            if (code == SocketError.ConnectionRefused)
                return new BypassNatException("BypassNat.ConnectionRefused", FailureKind.ConnectionError,
                    $"The router {settings.Endpoint} refused the SSH connection: nothing accepts connections on port {settings.Port} there. " +
                    "Check that its SSH server (sshd or Dropbear) is running and that -Port is right. Nothing was changed.", settings.Endpoint, e);
            if (code == SocketError.TimedOut || code == SocketError.HostUnreachable || code == SocketError.NetworkUnreachable || code == SocketError.HostDown
                || e is SshOperationTimeoutException || e is TimeoutException)
                return new BypassNatException("BypassNat.RouterUnreachable", FailureKind.ConnectionError,
                    $"The router {settings.Endpoint} did not answer ({e.Message}). Check the address, that the router is up, and that nothing drops SSH on the way " +
                    "(-ConnectTimeout sets how long to wait). Nothing was changed.", settings.Endpoint, e);
            return new BypassNatException("BypassNat.ConnectionFailed", FailureKind.ConnectionError,
                $"Cannot connect to the router {settings.Endpoint} over SSH: {e.Message}", settings.Endpoint, e);
        }

        private static void LimitHostKeyAlgorithms(ConnectionInfo connection, IReadOnlyCollection<string> known)
        {
            if (known.Count == 0) return;
            List<string> unlisted = connection.HostKeyAlgorithms.Keys.Where(a => !known.Contains(a)).ToList();
            if (unlisted.Count == connection.HostKeyAlgorithms.Count) return;
            foreach (string algorithm in unlisted) connection.HostKeyAlgorithms.Remove(algorithm);
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
    }
}
