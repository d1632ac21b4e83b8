using System.Net;
using BypassNat.Validation;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// -PublicAddress at apply time (<see cref="PublicAddressResolver"/>): text that reads as an address
    /// is checked as one, a name is resolved, and what cannot be used is refused before anything changes.
    /// </summary>
    public class PublicAddressResolverTests
    {
        [Fact]
        public void AnAddressIsTakenAsGivenTrimmed()
        {
            Assert.Equal(IPAddress.Parse("203.0.113.5"), PublicAddressResolver.Resolve("203.0.113.5"));
            Assert.Equal(IPAddress.Parse("198.51.100.7"), PublicAddressResolver.Resolve("  198.51.100.7 "));
        }

        [Theory]
        // Three numbers are no shorthand for 203.0.0.113; a leading zero is octal to some tools.
        [InlineData("203.0.113", "four numbers 0-255")]
        [InlineData("203.0.113.300", "four numbers 0-255")]
        [InlineData("203.0.113.05", "leading zero")]
        [InlineData("127.0.0.1", "loopback")]
        [InlineData("0.1.2.3", "not a host address")]
        [InlineData("", "is required")]
        public void TextThatReadsAsAnAddressIsCheckedAsOneAndRefusedWithTheReason(string given, string reason)
        {
            BypassNatException failure = Assert.Throws<BypassNatException>(() => PublicAddressResolver.Resolve(given));

            Assert.Equal("BypassNat.InvalidAddress", failure.ErrorId);
            Assert.Equal(FailureKind.InvalidData, failure.Kind);
            Assert.StartsWith($"-PublicAddress '{given}' is not usable: ", failure.Message);
            Assert.Contains(reason, failure.Message);
            Assert.EndsWith("Nothing was changed.", failure.Message);
        }

        [Fact]
        public void AnIPv6AddressIsRefusedNotLookedUp()
        {
            BypassNatException failure = Assert.Throws<BypassNatException>(() => PublicAddressResolver.Resolve("2001:db8::1"));

            Assert.Equal("BypassNat.InvalidAddress", failure.ErrorId);
            Assert.Contains("'2001:db8::1'", failure.Message);
        }

        [Fact]
        public void ANameIsResolvedAndWhatItResolvesToIsCheckedToo()
        {
            // "localhost" resolves on every machine, without a DNS server, to the loopback address:
            // resolved, and then refused as no public address.
            BypassNatException failure = Assert.Throws<BypassNatException>(() => PublicAddressResolver.Resolve("localhost"));

            Assert.Equal("BypassNat.InvalidAddress", failure.ErrorId);
            Assert.StartsWith("-PublicAddress 'localhost' is not usable: a loopback address", failure.Message);
            Assert.Equal("localhost", failure.Target);
        }
    }
}
