using System;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// The corners of OpenSSH's known_hosts format BypassNat reads and writes: lines it skips, markers,
    /// hashed names that do not decode, '?' globs, fingerprints as ssh-keygen prints them, appending.
    /// </summary>
    public sealed class KnownHostsFileTests : IDisposable
    {
        private static readonly byte[] KeyA = Encoding.ASCII.GetBytes("key-a-blob");
        private static readonly byte[] KeyB = Encoding.ASCII.GetBytes("key-b-blob");
        private static string B64(byte[] key) => Convert.ToBase64String(key);
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "bypassnat-knownhosts-" + Guid.NewGuid().ToString("N"));

        public KnownHostsFileTests() => Directory.CreateDirectory(_dir);

        public void Dispose() => Directory.Delete(_dir, true);

        [Fact]
        public void Lines_without_a_key_or_with_a_key_that_is_no_base64_are_skipped()
        {
            KnownHosts file = KnownHosts.Parse(
                "\n   \n# 192.0.2.2 ssh-ed25519 " + B64(KeyB) + "\n" +
                "192.0.2.2 ssh-ed25519\n" +
                "192.0.2.2 ssh-ed25519 not*base64\n" +
                "@revoked 192.0.2.2 ssh-ed25519\n" +
                "\t192.0.2.2   ssh-ed25519\t" + B64(KeyA) + "  comment words\r\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.2", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Changed, file.Check("192.0.2.2", 22, KeyB));
            Assert.Equal(new[] { "ssh-ed25519" }, file.KeyTypesFor("192.0.2.2", 22));
        }

        [Fact]
        public void A_cert_authority_line_neither_trusts_nor_changes_a_key()
        {
            KnownHosts file = KnownHosts.Parse($"@cert-authority 192.0.2.2 ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.2", 22, KeyA));
            Assert.Empty(file.KeyTypesFor("192.0.2.2", 22));
            Assert.Empty(file.FingerprintsFor("192.0.2.2", 22));
        }

        [Fact]
        public void A_revoked_key_stays_revoked_whatever_line_trusts_it()
        {
            KnownHosts file = KnownHosts.Parse($"192.0.2.2 ssh-ed25519 {B64(KeyA)}\n@revoked 192.0.2.2 ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Revoked, file.Check("192.0.2.2", 22, KeyA));
            KnownHosts first = KnownHosts.Parse($"@revoked 192.0.2.2 ssh-ed25519 {B64(KeyA)}\n192.0.2.2 ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Revoked, first.Check("192.0.2.2", 22, KeyA));
            // A revoked line for another key does not make the host's own key changed.
            KnownHosts other = KnownHosts.Parse($"@revoked * ssh-ed25519 {B64(KeyB)}\n");
            Assert.Equal(KnownHostVerdict.Unknown, other.Check("192.0.2.2", 22, KeyA));
        }

        [Theory]
        [InlineData("|1|bad|")]
        [InlineData("|1|!!!|!!!")]
        [InlineData("|1|c2FsdA==|!!!")]
        [InlineData("|1|c2FsdA==|aGFzaA==")]
        [InlineData("|2|c2FsdA==|aGFzaA==")]
        public void A_hashed_name_that_does_not_decode_or_match_matches_nothing(string pattern)
        {
            KnownHosts file = KnownHosts.Parse($"{pattern} ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.2", 22, KeyA));
        }

        [Fact]
        public void A_hashed_name_among_plain_ones_on_one_line_matches_its_host()
        {
            byte[] salt = Encoding.ASCII.GetBytes("salt-of-twenty-bytes");
            string hashed;
            using (var hmac = new HMACSHA1(salt))
                hashed = "|1|" + B64(salt) + "|" + B64(hmac.ComputeHash(Encoding.UTF8.GetBytes("192.0.2.2")));
            KnownHosts file = KnownHosts.Parse($"router.example,{hashed} ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.2", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("router.example", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.3", 22, KeyA));
        }

        [Fact]
        public void Question_marks_match_one_character_and_dots_are_literal()
        {
            KnownHosts file = KnownHosts.Parse($"192.0.2.? ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.7", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.17", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192x0.2.7", 22, KeyA));
        }

        [Fact]
        public void Fingerprints_are_listed_as_ssh_keygen_prints_them_once_each()
        {
            KnownHosts file = KnownHosts.Parse($"192.0.2.2 ssh-ed25519 {B64(KeyA)}\n192.0.2.* ssh-ed25519 {B64(KeyA)}\n192.0.2.2 ssh-rsa {B64(KeyB)}\n");
            string a, b;
            using (var sha = SHA256.Create())
            {
                a = Convert.ToBase64String(sha.ComputeHash(KeyA)).TrimEnd('=');
                b = Convert.ToBase64String(sha.ComputeHash(KeyB)).TrimEnd('=');
            }

            Assert.Equal(new[] { "ssh-ed25519 SHA256:" + a, "ssh-rsa SHA256:" + b }, file.FingerprintsFor("192.0.2.2", 22));
            Assert.Empty(file.FingerprintsFor("192.0.2.2", 2222));
        }

        [Fact]
        public void Appending_adds_a_line_break_only_where_the_file_lacks_one_and_brackets_other_ports()
        {
            string path = Path.Combine(_dir, "known_hosts");
            File.WriteAllText(path, $"other ssh-ed25519 {B64(KeyB)}");
            KnownHosts.Append(path, "192.0.2.2", 22, "ssh-ed25519", KeyA);
            KnownHosts.Append(path, "192.0.2.2", 2222, "ssh-rsa", KeyB);
            Assert.Equal($"other ssh-ed25519 {B64(KeyB)}\n192.0.2.2 ssh-ed25519 {B64(KeyA)}\n[192.0.2.2]:2222 ssh-rsa {B64(KeyB)}\n", File.ReadAllText(path));
            KnownHosts file = KnownHosts.Load(path);
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.2", 2222, KeyB));

            string empty = Path.Combine(_dir, "empty");
            File.WriteAllText(empty, "");
            KnownHosts.Append(empty, "192.0.2.2", 22, "ssh-ed25519", KeyA);
            Assert.Equal($"192.0.2.2 ssh-ed25519 {B64(KeyA)}\n", File.ReadAllText(empty));
        }

        [Fact]
        public void A_file_that_cannot_be_read_is_an_error_naming_it()
        {
            BypassNatException e = Assert.Throws<BypassNatException>(() => KnownHosts.Load(_dir));
            Assert.Equal("BypassNat.KnownHostsUnreadable", e.ErrorId);
            Assert.StartsWith($"Cannot read the known hosts file '{_dir}': ", e.Message);
        }

        [Theory]
        [InlineData("192.0.2.2", 22, "192.0.2.2")]
        [InlineData("192.0.2.2", 2222, "[192.0.2.2]:2222")]
        public void A_host_is_named_as_openssh_names_it(string host, int port, string token) => Assert.Equal(token, KnownHosts.HostToken(host, port));
    }
}
