using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Which host key a connection accepts (a pinned fingerprint, a known_hosts file, a session's key,
    /// accept-new) and what each refusal says: its id, the key presented and where it looked.
    /// </summary>
    public sealed class HostKeyTrustTests : IDisposable
    {
        private static readonly byte[] KeyA = Encoding.ASCII.GetBytes("key-a-blob");
        private static readonly byte[] KeyB = Encoding.ASCII.GetBytes("key-b-blob");
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "bypassnat-hostkey-" + Guid.NewGuid().ToString("N"));

        public HostKeyTrustTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, true);

        private static string Sha(byte[] key)
        {
            using (var sha = SHA256.Create()) return Convert.ToBase64String(sha.ComputeHash(key)).TrimEnd('=');
        }

        private string KnownHosts(string text)
        {
            string path = Path.Combine(_dir, "known_hosts");
            File.WriteAllText(path, text);
            return path;
        }

        private static SshSettings Router(int port = 22) => new SshSettings { ComputerName = "192.0.2.2", Port = port };

        [Theory]
        [InlineData("SHA256:abc=", "abc")]
        [InlineData("  sha256:abc  ", "abc")]
        [InlineData("abc==", "abc")]
        [InlineData(null, "")]
        public void Fingerprints_are_compared_without_prefix_padding_or_blanks(string given, string normalized) =>
            Assert.Equal(normalized, HostKeyTrust.Normalize(given));

        [Fact]
        public void A_pinned_fingerprint_is_the_only_key_accepted_and_no_known_hosts_file_is_consulted()
        {
            SshSettings settings = Router();
            settings.HostKeyFingerprints.Add("SHA256:" + Sha(KeyA) + "=");
            HostKeyTrust trust = HostKeyTrust.For(settings);
            Assert.Null(trust.KnownHostsPath);
            Assert.Empty(trust.KnownKeyTypes());
            Assert.True(trust.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.Equal("SHA256:" + Sha(KeyA), trust.PresentedFingerprint);
            Assert.Null(trust.RefusalId);

            Assert.False(trust.Accept("ssh-ed25519", KeyB, Sha(KeyB)));
            Assert.Equal("BypassNat.HostKeyMismatch", trust.RefusalId);
            Assert.Equal($"The host key of 192.0.2.2 does not match the one expected: it presented ssh-ed25519 SHA256:{Sha(KeyB)}, expected SHA256:{Sha(KeyA)}. " +
                "The router may have been reinstalled, or someone may be intercepting the connection. Nothing was changed. " +
                "Check the key on the router's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before trusting it.", trust.Refusal);
        }

        [Fact]
        public void Several_pinned_fingerprints_are_all_named_in_the_refusal()
        {
            SshSettings settings = Router(2222);
            // Two well-formed SHA256 fingerprints (43 characters of base64), neither of the key presented.
            string one = new string('1', 43), two = new string('2', 43);
            settings.HostKeyFingerprints.Add("SHA256:" + one);
            settings.HostKeyFingerprints.Add(two);
            HostKeyTrust trust = HostKeyTrust.For(settings);
            Assert.True(trust.Accept("ssh-ed25519", KeyA, two));
            Assert.False(trust.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.Contains("The host key of 192.0.2.2:2222 does not match", trust.Refusal);
            Assert.Contains($", expected SHA256:{one} or SHA256:{two}.", trust.Refusal);
        }

        [Fact]
        public void A_known_hosts_file_trusts_its_key_and_names_the_listed_key_when_another_is_presented()
        {
            string path = KnownHosts($"192.0.2.2 ssh-ed25519 {Convert.ToBase64String(KeyA)}\n");
            HostKeyTrust trust = HostKeyTrust.For(new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = path });
            Assert.Equal(path, trust.KnownHostsPath);
            Assert.True(trust.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.False(trust.Accept("ssh-ed25519", KeyB, Sha(KeyB)));
            Assert.Equal("BypassNat.HostKeyMismatch", trust.RefusalId);
            Assert.Contains($"it presented ssh-ed25519 SHA256:{Sha(KeyB)}, and '{path}' lists ssh-ed25519 SHA256:{Sha(KeyA)}. The router may have been reinstalled", trust.Refusal);
        }

        [Fact]
        public void A_revoked_key_is_refused_even_when_its_fingerprint_is_pinned()
        {
            string path = KnownHosts($"@revoked * ssh-ed25519 {Convert.ToBase64String(KeyA)}\n");
            SshSettings settings = new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = path };
            settings.HostKeyFingerprints.Add(Sha(KeyA));
            HostKeyTrust trust = HostKeyTrust.For(settings);
            Assert.False(trust.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.Equal("BypassNat.HostKeyRevoked", trust.RefusalId);
            Assert.Equal($"The ssh-ed25519 host key of 192.0.2.2 (SHA256:{Sha(KeyA)}) is marked @revoked in '{path}'. Nothing was changed.", trust.Refusal);
        }

        [Fact]
        public void A_host_the_file_does_not_list_is_unknown_and_the_refusal_says_where_it_looked_and_what_to_pass()
        {
            string path = KnownHosts($"192.0.2.3 ssh-ed25519 {Convert.ToBase64String(KeyA)}\n");
            HostKeyTrust trust = HostKeyTrust.For(new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = path });
            Assert.False(trust.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.Equal("BypassNat.HostKeyUnknown", trust.RefusalId);
            Assert.Equal($"The host key of 192.0.2.2 is not known (looked in '{path}'): it presented ssh-ed25519 SHA256:{Sha(KeyA)}. Nothing was changed. " +
                "Check that fingerprint on the router's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then pass " +
                $"-HostKeyFingerprint SHA256:{Sha(KeyA)} or add the key to a known_hosts file (-KnownHostsFile).", trust.Refusal);
            Assert.False(trust.AddedToKnownHosts);
        }

        [Fact]
        public void A_known_hosts_file_that_does_not_exist_is_an_error_before_connecting()
        {
            string path = Path.Combine(_dir, "missing");
            BypassNatException e = Assert.Throws<BypassNatException>(() => HostKeyTrust.For(new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = path }));
            Assert.Equal("BypassNat.KnownHostsFileNotFound", e.ErrorId);
            Assert.Equal($"The known hosts file '{path}' does not exist.", e.Message);
        }

        [Fact]
        public void Accept_new_trusts_a_first_key_writes_it_to_the_file_and_then_catches_a_change()
        {
            string path = Path.Combine(_dir, "new", "known_hosts");
            var settings = new SshSettings { ComputerName = "192.0.2.2", Port = 2222, KnownHostsFile = path, AcceptNewHostKey = true };
            HostKeyTrust first = HostKeyTrust.For(settings);
            Assert.True(first.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.True(first.AddedToKnownHosts);
            Assert.Equal($"[192.0.2.2]:2222 ssh-ed25519 {Convert.ToBase64String(KeyA)}\n", File.ReadAllText(path));

            HostKeyTrust again = HostKeyTrust.For(settings);
            Assert.Equal(new[] { "ssh-ed25519" }, again.KnownKeyTypes());
            Assert.True(again.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.False(again.AddedToKnownHosts);
            Assert.False(again.Accept("ssh-ed25519", KeyB, Sha(KeyB)));
            Assert.Equal("BypassNat.HostKeyMismatch", again.RefusalId);
            Assert.Single(File.ReadAllLines(path));
        }

        [Fact]
        public void Accept_new_that_cannot_write_the_file_does_not_trust_the_key()
        {
            string blocker = Path.Combine(_dir, "file");
            File.WriteAllText(blocker, "");
            // A known_hosts path under a file: its folder cannot be made.
            var settings = new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = Path.Combine(blocker, "known_hosts"), AcceptNewHostKey = true };
            HostKeyTrust trust = HostKeyTrust.For(settings);
            Assert.False(trust.Accept("ssh-ed25519", KeyA, Sha(KeyA)));
            Assert.Equal("BypassNat.KnownHostsUnwritable", trust.RefusalId);
            Assert.EndsWith(" The key was not trusted; nothing was changed.", trust.Refusal);
            Assert.False(trust.AddedToKnownHosts);
        }

        [Fact]
        public void A_reopened_session_accepts_only_the_key_it_was_opened_with()
        {
            string path = KnownHosts($"192.0.2.2 ssh-ed25519 {Convert.ToBase64String(KeyB)}\n");
            var settings = new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = path, PinnedFingerprint = "SHA256:" + Sha(KeyA) };
            HostKeyTrust trust = HostKeyTrust.For(settings);
            Assert.False(trust.Accept("ssh-ed25519", KeyB, Sha(KeyB)));
            Assert.Equal("BypassNat.HostKeyMismatch", trust.RefusalId);
            Assert.StartsWith($"The host key of 192.0.2.2 changed since this session was opened: it presented ssh-ed25519 SHA256:{Sha(KeyB)}, " +
                $"the session was opened with SHA256:{Sha(KeyA)}. The session was not reopened and nothing was changed.", trust.Refusal);
        }

        [Fact]
        public void An_rsa_key_on_file_also_offers_the_sha2_rsa_signatures()
        {
            string path = KnownHosts($"192.0.2.2 ssh-rsa {Convert.ToBase64String(KeyA)}\n");
            HostKeyTrust trust = HostKeyTrust.For(new SshSettings { ComputerName = "192.0.2.2", KnownHostsFile = path });
            Assert.Equal(new[] { "rsa-sha2-256", "rsa-sha2-512", "ssh-rsa" }, new System.Collections.Generic.SortedSet<string>(trust.KnownKeyTypes()));
        }
    }
}
