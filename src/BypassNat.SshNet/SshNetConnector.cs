using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using BypassNat.Ssh;
using Renci.SshNet;
using Renci.SshNet.Common;

namespace BypassNat.SshNet
{
    /// <summary>
    /// Opens SSH.NET connections with strict host-key checking, and turns SSH.NET's failures into
    /// BypassNat's errors (a stable id, a kind, a message that says what to do).
    /// </summary>
    public sealed class SshNetConnector : IRouterConnector
    {
        public IRouterConnection Connect(SshSettings settings, HostKeyTrust trust)
        {
            var connection = new ConnectionInfo(settings.ComputerName, settings.Port, settings.UserName, AuthenticationMethods(settings))
            {
                Timeout = settings.ConnectTimeout,
            };
            LimitHostKeyAlgorithms(connection, trust.KnownKeyTypes());

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

            return new SshNetConnection(client, settings);
        }

        // Offer only the listed key types, unless that would leave none.
        private static void LimitHostKeyAlgorithms(ConnectionInfo connection, IReadOnlyCollection<string> known)
        {
            if (known.Count == 0) return;
            List<string> unlisted = connection.HostKeyAlgorithms.Keys.Where(a => !known.Contains(a)).ToList();
            if (unlisted.Count == connection.HostKeyAlgorithms.Count) return;
            foreach (string algorithm in unlisted) connection.HostKeyAlgorithms.Remove(algorithm);
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
    }
}
