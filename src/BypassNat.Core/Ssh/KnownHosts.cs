using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace BypassNat.Ssh
{
    public enum KnownHostVerdict
    {
        /// <summary>The file lists this exact key for the host.</summary>
        Trusted,
        /// <summary>The file has no key for the host.</summary>
        Unknown,
        /// <summary>The file lists other keys for the host: the key changed, or someone is in the middle.</summary>
        Changed,
        /// <summary>The file marks this key @revoked.</summary>
        Revoked,
    }

    /// <summary>
    /// OpenSSH known_hosts, read-only: plain and hashed (|1|salt|hash) host names, [host]:port,
    /// wildcards and negations, and the @revoked marker. SSH.NET has no such support of its own.
    /// </summary>
    public sealed class KnownHosts
    {
        private sealed class Entry
        {
            public string Marker;
            public string[] Patterns;
            public string KeyType;
            public byte[] Key;
        }

        private readonly List<Entry> _entries;

        private KnownHosts(List<Entry> entries) => _entries = entries;

        public static KnownHosts Load(string path)
        {
            try
            {
                return Parse(File.ReadAllText(path));
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new BypassNatException("BypassNat.KnownHostsUnreadable", FailureKind.InvalidData,
                    $"Cannot read the known hosts file '{path}': {e.Message}", path, e);
            }
        }

        public static KnownHosts Parse(string text)
        {
            var entries = new List<Entry>();
            foreach (string raw in text.Split('\n'))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] == '#') continue;
                string[] fields = Regex.Split(line, "\\s+");
                int i = 0;
                string marker = null;
                if (fields[0].StartsWith("@", StringComparison.Ordinal)) marker = fields[i++];
                if (fields.Length < i + 3) continue;
                byte[] key;
                try { key = Convert.FromBase64String(fields[i + 2]); }
                catch (FormatException) { continue; }
                entries.Add(new Entry { Marker = marker, Patterns = fields[i].Split(','), KeyType = fields[i + 1], Key = key });
            }

            return new KnownHosts(entries);
        }

        /// <summary>The key types the file lists for the host, to offer only those in the key exchange.</summary>
        public IReadOnlyCollection<string> KeyTypesFor(string host, int port) =>
            _entries.Where(e => e.Marker == null && Matches(e.Patterns, HostToken(host, port))).Select(e => e.KeyType).Distinct().ToList();

        public KnownHostVerdict Check(string host, int port, byte[] key)
        {
            string token = HostToken(host, port);
            bool listed = false, trusted = false;
            // A revoked key is refused wherever its @revoked line stands, as OpenSSH does: a line that
            // lists the same key earlier in the file must not win.
            foreach (Entry entry in _entries)
            {
                if (!Matches(entry.Patterns, token)) continue;
                bool sameKey = entry.Key.SequenceEqual(key);
                if (entry.Marker == "@revoked" && sameKey) return KnownHostVerdict.Revoked;
                if (entry.Marker != null) continue;
                if (sameKey) trusted = true;
                listed = true;
            }

            return trusted ? KnownHostVerdict.Trusted : listed ? KnownHostVerdict.Changed : KnownHostVerdict.Unknown;
        }

        /// <summary>The SHA256 fingerprints of the keys the file lists for the host (not the @revoked ones), as ssh-keygen -l prints them.</summary>
        public IReadOnlyList<string> FingerprintsFor(string host, int port)
        {
            string token = HostToken(host, port);
            using (var sha = SHA256.Create())
                return _entries.Where(e => e.Marker == null && Matches(e.Patterns, token))
                    .Select(e => $"{e.KeyType} SHA256:" + Convert.ToBase64String(sha.ComputeHash(e.Key)).TrimEnd('=')).Distinct().ToList();
        }

        private static readonly object AppendGate = new object();

        /// <summary>Adds a host's key to a known_hosts file as OpenSSH writes it ("host type base64"), creating the file if needed.</summary>
        public static void Append(string path, string host, int port, string keyType, byte[] key)
        {
            string line = $"{HostToken(host, port)} {keyType} {Convert.ToBase64String(key)}\n";
            try
            {
                lock (AppendGate)
                {
                    string directory = Path.GetDirectoryName(path);
                    if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
                    bool needsNewline = File.Exists(path) && new FileInfo(path).Length > 0 && !File.ReadAllText(path).EndsWith("\n", StringComparison.Ordinal);
                    File.AppendAllText(path, (needsNewline ? "\n" : "") + line);
                }
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw new BypassNatException("BypassNat.KnownHostsUnwritable", FailureKind.InvalidData,
                    $"Cannot add the host key of {host} to the known hosts file '{path}': {e.Message}", path, e);
            }
        }

        /// <summary>How OpenSSH names a host in the file: the bare name on port 22, [name]:port otherwise.</summary>
        public static string HostToken(string host, int port) => port == 22 ? host : $"[{host}]:{port}";

        private static bool Matches(string[] patterns, string token)
        {
            bool matched = false;
            foreach (string pattern in patterns)
            {
                if (pattern.StartsWith("|1|", StringComparison.Ordinal))
                {
                    if (HashedMatches(pattern, token)) matched = true;
                    continue;
                }

                bool negated = pattern.StartsWith("!", StringComparison.Ordinal);
                string glob = negated ? pattern.Substring(1) : pattern;
                if (!GlobMatches(glob, token)) continue;
                if (negated) return false;
                matched = true;
            }

            return matched;
        }

        private static bool HashedMatches(string pattern, string token)
        {
            string[] parts = pattern.Split('|');
            if (parts.Length != 4) return false;
            try
            {
                byte[] salt = Convert.FromBase64String(parts[2]);
                byte[] expected = Convert.FromBase64String(parts[3]);
                using (var hmac = new HMACSHA1(salt))
                    return hmac.ComputeHash(Encoding.UTF8.GetBytes(token)).SequenceEqual(expected);
            }
            catch (FormatException)
            {
                return false;
            }
        }

        private static bool GlobMatches(string glob, string token)
        {
            string regex = "^" + Regex.Escape(glob).Replace("\\*", ".*").Replace("\\?", ".") + "$";
            return Regex.IsMatch(token, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        }
    }
}
