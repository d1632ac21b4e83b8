using System.Linq;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>A prefix of either family: the arithmetic an IPv4 prefix uses holds for IPv6 too.</summary>
    public class IpPrefixTests
    {
        private static IpPrefix P(string address, int length) => new IpPrefix(IPAddress.Parse(address), length);

        [Theory]
        [InlineData("192.0.2.77", 24, "192.0.2.0/24")]
        [InlineData("198.51.100.7", 32, "198.51.100.7/32")]
        [InlineData("203.0.113.255", 0, "0.0.0.0/0")]
        [InlineData("2001:db8:100:7::20", 48, "2001:db8:100::/48")]
        [InlineData("2001:db8::ff", 121, "2001:db8::80/121")]
        public void A_prefix_keeps_only_its_network_bits(string address, int length, string expected) =>
            Assert.Equal(expected, P(address, length).ToString());

        [Theory]
        [InlineData("192.0.2.0", 24, "192.0.2.200", true)]
        [InlineData("192.0.2.0", 24, "192.0.3.1", false)]
        [InlineData("192.0.2.0", 24, "::ffff:192.0.2.1", false)]
        [InlineData("2001:db8:100::", 48, "2001:db8:100:ffff::1", true)]
        [InlineData("2001:db8:100::", 48, "2001:db8:101::1", false)]
        [InlineData("2001:db8::", 32, "192.0.2.1", false)]
        public void A_prefix_contains_only_addresses_of_its_family_inside_it(string network, int length, string address, bool inside) =>
            Assert.Equal(inside, P(network, length).Contains(IPAddress.Parse(address)));

        [Fact]
        public void Prefixes_order_by_family_then_address_as_a_number_then_length()
        {
            IpPrefix[] sorted = new[] { P("2001:db8::", 32), P("198.51.100.0", 24), P("192.0.2.128", 25), P("192.0.2.0", 24), P("192.0.2.0", 25), P("10.0.0.0", 8) }
                .OrderBy(p => p).ToArray();

            Assert.Equal(new[] { "10.0.0.0/8", "192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25", "198.51.100.0/24", "2001:db8::/32" }, sorted.Select(p => p.ToString()));
            Assert.Equal(AddressFamily.InterNetworkV6, sorted.Last().Family);
        }

        [Fact]
        public void An_ipv4_prefix_is_the_same_network_as_a_prefix_of_either_family()
        {
            var v4 = new Ipv4Prefix(IPAddress.Parse("192.0.2.9"), 24);

            Assert.Equal(P("192.0.2.0", 24), v4.Prefix);
            Assert.Equal("192.0.2.0/24", v4.ToString());
            Assert.Equal(default(Ipv4Prefix), new Ipv4Prefix(IPAddress.Any, 0));
        }
    }
}
