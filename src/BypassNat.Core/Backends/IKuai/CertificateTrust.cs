using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace BypassNat.Backends.IKuai
{
    /// <summary>
    /// Whether a router's TLS certificate is the one we expect. An iKuai router's certificate is
    /// self-signed, so no CA can vouch for it: it is pinned by its SHA-256 fingerprint, given
    /// (-CertificateFingerprint) or remembered on first use (-AcceptNewCertificate) in a file kept
    /// beside known_hosts, and a changed one is refused as a changed SSH host key is. The decision is
    /// made in the TLS handshake, before any request (and so any password or token) is sent.
    /// </summary>
    public sealed class CertificateTrust
    {
        public const string FileName = "bypassnat_known_certificates";

        private readonly IKuaiSettings _settings;
        private readonly List<string> _pins;

        public CertificateTrust(IKuaiSettings settings)
        {
            _settings = settings;
            _pins = settings.CertificateFingerprints.Select(Normalize).ToList();
        }

        /// <summary>The fingerprint the router presented in the last handshake, as openssl prints it.</summary>
        public string Presented { get; private set; }

        /// <summary>Why the last certificate was refused; null when none was.</summary>
        public BypassNatException Refusal { get; private set; }

        /// <summary>Set when this connection remembered the router's certificate for the first time.</summary>
        public bool Added { get; private set; }

        /// <summary>How the certificate was accepted, for -Verbose.</summary>
        public string AcceptedBy { get; private set; }

        /// <summary>
        /// A fingerprint as users paste it: openssl's "sha256 Fingerprint=AB:CD:..." line or its part after
        /// '=', with or without colons, any case. Anything that is not 32 bytes of hex is refused.
        /// </summary>
        public static string Normalize(string fingerprint)
        {
            string text = (fingerprint ?? string.Empty).Trim();
            int eq = text.IndexOf('=');
            if (eq >= 0) text = text.Substring(eq + 1);
            text = text.Replace(":", "").Replace(" ", "").ToUpperInvariant();
            if (text.Length != 64 || text.Any(c => !Uri.IsHexDigit(c)))
                throw new BypassNatException("BypassNat.InvalidFingerprint", FailureKind.InvalidData,
                    $"-CertificateFingerprint '{fingerprint}' is not a SHA-256 fingerprint: give it as 'openssl x509 -noout -fingerprint -sha256' prints it (64 hex digits, colons optional). Nothing was sent to the router.",
                    fingerprint);
            return text;
        }

        /// <summary>openssl's form: upper-case hex pairs joined by colons.</summary>
        public static string Show(string hex) =>
            string.Join(":", Enumerable.Range(0, hex.Length / 2).Select(i => hex.Substring(i * 2, 2)));

        public static string Of(byte[] certificate)
        {
            using (SHA256 sha = SHA256.Create())
                return string.Concat(sha.ComputeHash(certificate).Select(b => b.ToString("X2")));
        }

        /// <summary>
        /// Decides on the certificate the router presented (its DER bytes): it must match a pin or the
        /// remembered one; with -AcceptNewCertificate an unknown one is remembered (pinned from then on);
        /// otherwise only a certificate that a CA the system trusts vouches for, for this name, is
        /// accepted, as any HTTPS client would. Never unchecked.
        /// </summary>
        public bool Check(byte[] certificate, bool systemTrusted)
        {
            string actual = Of(certificate);
            Presented = Show(actual);
            Refusal = null;
            if (_pins.Count > 0)
            {
                if (_pins.Contains(actual))
                {
                    AcceptedBy = "pinned (-CertificateFingerprint)";
                    return true;
                }

                return Refuse("BypassNat.CertificateMismatch",
                    $"The router {_settings.Endpoint} presented a TLS certificate with SHA-256 fingerprint {Presented}, which is not the one given in -CertificateFingerprint ({string.Join(", ", _pins.Select(Show))}). " +
                    "Nothing was sent to it (no password, no token); its port mappings are as they were. If the router's certificate really changed, check it on the router and give the new fingerprint.");
            }

            string file = _settings.KnownCertificatesFile;
            string known = Known(file);
            if (known != null)
            {
                if (known == actual)
                {
                    AcceptedBy = $"known ({file})";
                    return true;
                }

                return Refuse("BypassNat.CertificateMismatch",
                    $"The router {_settings.Endpoint} presented a TLS certificate with SHA-256 fingerprint {Presented}, but {file} remembers {Show(known)} for it. " +
                    "Someone may be intercepting the connection, or the router's certificate was replaced. Nothing was sent to it (no password, no token); its port mappings are as they were. " +
                    $"If the change is expected, remove the line for {_settings.CertificateKey} from {file}, or pin the new one with -CertificateFingerprint.");
            }

            if (_settings.AcceptNewCertificate && file != null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file)));
                File.AppendAllText(file, $"{_settings.CertificateKey} {actual}\n", new UTF8Encoding(false));
                Added = true;
                AcceptedBy = $"new, and added to {file} (-AcceptNewCertificate)";
                return true;
            }

            // A certificate a CA the system trusts vouches for (for this name) is checked as any HTTPS
            // client checks it. Trust on first use pins even that one (above), so a later change is caught.
            if (systemTrusted)
            {
                AcceptedBy = "trusted by the system's certificate authorities";
                return true;
            }

            return Refuse("BypassNat.CertificateUnknown",
                $"The router {_settings.Endpoint} presented a TLS certificate BypassNat does not know (self-signed, SHA-256 fingerprint {Presented}). " +
                "Nothing was sent to it (no password, no token). Check the fingerprint on the router (iKuai's web UI, or openssl x509 -noout -fingerprint -sha256 on its certificate) and give it as -CertificateFingerprint, " +
                $"or trust it on first use with -AcceptNewCertificate (remembered in {file ?? FileName + " beside known_hosts"}).");
        }

        private bool Refuse(string id, string message)
        {
            Refusal = new BypassNatException(id, FailureKind.SecurityError, message, _settings.Endpoint);
            return false;
        }

        /// <summary>The remembered fingerprint of this router, or null. Lines are "host:port HEX"; '#' starts a comment.</summary>
        private string Known(string file)
        {
            if (file == null || !File.Exists(file)) return null;
            string found = null;
            foreach (string raw in File.ReadAllLines(file))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line.StartsWith("#", StringComparison.Ordinal)) continue;
                string[] parts = line.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && string.Equals(parts[0], _settings.CertificateKey, StringComparison.OrdinalIgnoreCase)) found = parts[1].ToUpperInvariant();
            }

            return found;
        }
    }
}
