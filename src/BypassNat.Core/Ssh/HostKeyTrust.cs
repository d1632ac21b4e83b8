using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace BypassNat.Ssh
{
    /// <summary>
    /// Decides whether the key a router presents is the one the admin expects: a pinned SHA256
    /// fingerprint, or an entry in an OpenSSH known_hosts file. Anything else is refused, and the
    /// refusal shows the presented fingerprint so the admin can check it on the router's console.
    /// </summary>
    public sealed class HostKeyTrust
    {
        private readonly SshSettings _settings;
        private readonly HashSet<string> _fingerprints;
        private readonly KnownHosts _knownHosts;
        private readonly string _knownHostsPath;

        private HostKeyTrust(SshSettings settings, HashSet<string> fingerprints, KnownHosts knownHosts, string knownHostsPath)
        {
            _settings = settings;
            _fingerprints = fingerprints;
            _knownHosts = knownHosts;
            _knownHostsPath = knownHostsPath;
        }

        public string PresentedFingerprint { get; private set; }

        /// <summary>True when -AcceptNewHostKey added the presented key to the known_hosts file.</summary>
        public bool AddedToKnownHosts { get; private set; }

        /// <summary>The known_hosts file consulted (given, or ssh's default), or null when only fingerprints count.</summary>
        public string KnownHostsPath => _knownHostsPath;
        public string Refusal { get; private set; }
        public string RefusalId { get; private set; }

        public static HostKeyTrust For(SshSettings settings)
        {
            var fingerprints = new HashSet<string>(StringComparer.Ordinal);
            foreach (string given in settings.HostKeyFingerprints ?? new List<string>())
            {
                // A fingerprint in another form (ssh's old MD5 "aa:bb:...", a typo) could never match,
                // and would be reported as a changed key, as if someone were intercepting: say what it is.
                if (!IsSha256(given))
                    throw new BypassNatException("BypassNat.InvalidFingerprint", FailureKind.InvalidData,
                        $"-HostKeyFingerprint '{given}' is not a SHA256 fingerprint. Give it as ssh-keygen -l prints it by default: SHA256: and 43 characters of base64 " +
                        "(on the router: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub; Dropbear: dropbearkey -y -f KEYFILE). MD5 fingerprints (aa:bb:cc:...) are not accepted. Nothing was done.",
                        given);
                fingerprints.Add(Normalize(given));
            }

            string path = settings.KnownHostsFile;
            if (!string.IsNullOrEmpty(path) && !File.Exists(path) && !settings.AcceptNewHostKey)
                throw new BypassNatException("BypassNat.KnownHostsFileNotFound", FailureKind.InvalidData,
                    $"The known hosts file '{path}' does not exist.", path);
            if (string.IsNullOrEmpty(path) && fingerprints.Count == 0)
            {
                path = DefaultIdentities.KnownHostsFile;
            }

            KnownHosts knownHosts = !string.IsNullOrEmpty(path) && File.Exists(path) ? KnownHosts.Load(path) : null;
            return new HostKeyTrust(settings, fingerprints, knownHosts, path);
        }

        /// <summary>A SHA256 fingerprint: 32 bytes as base64, with or without "SHA256:" and padding.</summary>
        public static bool IsSha256(string fingerprint)
        {
            string text = Normalize(fingerprint);
            return text.Length == 43 && text.All(c => (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/');
        }

        /// <summary>"SHA256:abc=" and "abc" name the same key; ssh-keygen prints base64 without padding.</summary>
        public static string Normalize(string fingerprint)
        {
            string text = (fingerprint ?? string.Empty).Trim();
            if (text.StartsWith("SHA256:", StringComparison.OrdinalIgnoreCase)) text = text.Substring(7);
            return text.TrimEnd('=');
        }

        /// <summary>
        /// With only known_hosts to go by, the key types the file lists for this router, which are the
        /// only ones to offer it, as OpenSSH does; otherwise a router with an RSA key on file could
        /// present its ed25519 key and be refused as unknown. Empty when any type will do.
        /// </summary>
        public IReadOnlyCollection<string> KnownKeyTypes()
        {
            if (_fingerprints.Count > 0 || _knownHosts == null) return new string[0];
            var types = new HashSet<string>(_knownHosts.KeyTypesFor(_settings.ComputerName, _settings.Port));
            if (types.Contains("ssh-rsa")) { types.Add("rsa-sha2-512"); types.Add("rsa-sha2-256"); }
            return types;
        }

        public bool Accept(string keyType, byte[] key, string sha256)
        {
            PresentedFingerprint = "SHA256:" + Normalize(sha256);
            if (_settings.PinnedFingerprint != null && Normalize(_settings.PinnedFingerprint) != Normalize(sha256))
                return Refuse("BypassNat.HostKeyMismatch",
                    $"The host key of {_settings.Endpoint} changed since this session was opened: it presented {keyType} {PresentedFingerprint}, " +
                    $"the session was opened with {_settings.PinnedFingerprint}. The session was not reopened and nothing was changed. " +
                    "Check the key on the router's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub).");
            KnownHostVerdict verdict = _knownHosts?.Check(_settings.ComputerName, _settings.Port, key) ?? KnownHostVerdict.Unknown;
            if (verdict == KnownHostVerdict.Revoked)
                return Refuse("BypassNat.HostKeyRevoked",
                    $"The {keyType} host key of {_settings.Endpoint} ({PresentedFingerprint}) is marked @revoked in '{_knownHostsPath}'. Nothing was changed.");
            if (_fingerprints.Contains(Normalize(sha256)) || verdict == KnownHostVerdict.Trusted) return true;

            if (verdict == KnownHostVerdict.Changed || _fingerprints.Count > 0)
                return Refuse("BypassNat.HostKeyMismatch",
                    $"The host key of {_settings.Endpoint} does not match the one expected: it presented {keyType} {PresentedFingerprint}" +
                    (_fingerprints.Count > 0
                        ? $", expected {string.Join(" or ", _fingerprints.Select(f => "SHA256:" + f))}"
                        : $", and '{_knownHostsPath}' lists {string.Join(" and ", _knownHosts.FingerprintsFor(_settings.ComputerName, _settings.Port))}") +
                    ". The router may have been reinstalled, or someone may be intercepting the connection. Nothing was changed. " +
                    "Check the key on the router's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before trusting it.");

            if (_settings.AcceptNewHostKey && _knownHostsPath != null)
            {
                // accept-new: trust on first use, and remember the key, so that from now on a change is caught.
                try
                {
                    KnownHosts.Append(_knownHostsPath, _settings.ComputerName, _settings.Port, keyType, key);
                }
                catch (BypassNatException e)
                {
                    return Refuse(e.ErrorId, e.Message + " The key was not trusted; nothing was changed.");
                }

                AddedToKnownHosts = true;
                return true;
            }

            string lookedIn = _knownHostsPath == null ? "" :
                File.Exists(_knownHostsPath) ? $" (looked in '{_knownHostsPath}')" : $" (no known_hosts file at '{_knownHostsPath}')";
            return Refuse("BypassNat.HostKeyUnknown",
                $"The host key of {_settings.Endpoint} is not known{lookedIn}: it presented {keyType} {PresentedFingerprint}. Nothing was changed. " +
                "Check that fingerprint on the router's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then pass " +
                $"-HostKeyFingerprint {PresentedFingerprint} or add the key to a known_hosts file (-KnownHostsFile).");
        }

        private bool Refuse(string id, string message)
        {
            RefusalId = id;
            Refusal = message;
            return false;
        }
    }
}
