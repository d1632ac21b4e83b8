using System;
using System.Security.Cryptography;
using System.Text;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    public class KnownHostsTests
    {
        private static readonly byte[] KeyA = Encoding.ASCII.GetBytes("key-a-blob");
        private static readonly byte[] KeyB = Encoding.ASCII.GetBytes("key-b-blob");
        private static string B64(byte[] key) => Convert.ToBase64String(key);

        private static string Hashed(string host, byte[] salt)
        {
            using (var hmac = new HMACSHA1(salt))
                return "|1|" + Convert.ToBase64String(salt) + "|" + Convert.ToBase64String(hmac.ComputeHash(Encoding.UTF8.GetBytes(host)));
        }

        [Fact]
        public void TrustsAListedKeyAndCallsAnotherKeyForTheSameHostChanged()
        {
            KnownHosts file = KnownHosts.Parse($"# comment\n192.0.2.2,router.example ssh-ed25519 {B64(KeyA)} admin@ws\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.2", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("ROUTER.example", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Changed, file.Check("192.0.2.2", 22, KeyB));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.3", 22, KeyA));
        }

        [Fact]
        public void ANonStandardPortIsWrittenInBrackets()
        {
            KnownHosts file = KnownHosts.Parse($"[192.0.2.2]:2222 ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.2", 2222, KeyA));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.2", 22, KeyA));
        }

        [Fact]
        public void ReadsHashedHostNames()
        {
            byte[] salt = Encoding.ASCII.GetBytes("0123456789abcdefghij");
            KnownHosts file = KnownHosts.Parse($"{Hashed("[192.0.2.2]:2222", salt)} ssh-ed25519 {B64(KeyA)}\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.2", 2222, KeyA));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.2", 22, KeyA));
        }

        [Fact]
        public void HonoursWildcardsNegationAndRevocation()
        {
            KnownHosts file = KnownHosts.Parse(
                $"192.0.2.*,!192.0.2.9 ssh-ed25519 {B64(KeyA)}\n" +
                $"@revoked * ssh-ed25519 {B64(KeyB)}\n");
            Assert.Equal(KnownHostVerdict.Trusted, file.Check("192.0.2.4", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Unknown, file.Check("192.0.2.9", 22, KeyA));
            Assert.Equal(KnownHostVerdict.Revoked, file.Check("192.0.2.4", 22, KeyB));
        }

        [Fact]
        public void ListsTheKeyTypesOnFileForAHost()
        {
            KnownHosts file = KnownHosts.Parse($"192.0.2.2 ssh-rsa {B64(KeyA)}\n192.0.2.2 ssh-ed25519 {B64(KeyB)}\nother ecdsa-sha2-nistp256 {B64(KeyB)}\n");
            Assert.Equal(new[] { "ssh-rsa", "ssh-ed25519" }, file.KeyTypesFor("192.0.2.2", 22));
        }
    }
}
