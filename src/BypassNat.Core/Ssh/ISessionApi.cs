using System;

namespace BypassNat.Ssh
{
    /// <summary>
    /// A router's web API that a <see cref="BypassSession"/> keeps instead of an SSH connection (an
    /// iKuai main router's): opened and proven by its backend, which the cmdlets ask for it again;
    /// closed with the session. What it tells the session carries no secret.
    /// </summary>
    public interface ISessionApi : IDisposable
    {
        string ComputerName { get; }
        int Port { get; }

        /// <summary>The login name; null where a token logs in.</summary>
        string UserName { get; }

        string Endpoint { get; }

        /// <summary>Whether the requests go over TLS.</summary>
        bool Encrypted { get; }

        /// <summary>The SHA-256 fingerprint of the certificate accepted, as openssl prints it; null without TLS.</summary>
        string CertificateFingerprint { get; }

        string Describe { get; }
    }
}
