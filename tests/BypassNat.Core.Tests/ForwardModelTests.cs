using System;
using System.Linq;
using System.Net;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// The forward model on its own: which fields make two forwards differ (what the diff and the
    /// plan report), port ranges and prefixes that cannot exist, and the canonical form of a source set.
    /// </summary>
    public class ForwardModelTests
    {
        private static readonly BypassForward Web = Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "blog");

        private static BypassForward With(string field)
        {
            BypassForward f = Web;
            switch (field)
            {
                case "Name": return Forwards.Make("web2", "Tcp", "8080", internalPort: "80", comment: "blog");
                case "Protocol": return Forwards.Make("web", "Udp", "8080", internalPort: "80", comment: "blog");
                case "ExternalPort": return Forwards.Make("web", "Tcp", "8081", internalPort: "80", bypassPort: "8080", comment: "blog");
                case "BypassAddress": return Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "blog", bypassAddress: "192.0.2.3");
                case "BypassPort": return Forwards.Make("web", "Tcp", "8080", internalPort: "80", bypassPort: "18080", comment: "blog");
                case "InternalAddress": return Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "blog", internalAddress: "192.0.2.21");
                case "InternalPort": return Forwards.Make("web", "Tcp", "8080", internalPort: "81", comment: "blog");
                case "SourceNat": return Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "blog", sourceNat: "true");
                case "Comment": return Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "Blog");
                case "Enabled": return Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "blog", enabled: "false");
                case "PublicAddress": return f.WithPublicAddress(IPAddress.Parse("203.0.113.1"));
                case "AllowedSource": return f.WithAllowedSource(SourceSet.Of(new[] { new Ipv4Prefix(IPAddress.Parse("198.51.100.0"), 24) }));
                default: throw new ArgumentException(field);
            }
        }

        [Theory]
        [InlineData("Name")]
        [InlineData("Protocol")]
        [InlineData("ExternalPort")]
        [InlineData("BypassAddress")]
        [InlineData("BypassPort")]
        [InlineData("InternalAddress")]
        [InlineData("InternalPort")]
        [InlineData("SourceNat")]
        [InlineData("Comment")]
        [InlineData("Enabled")]
        [InlineData("PublicAddress")]
        [InlineData("AllowedSource")]
        public void A_forward_differs_from_another_in_exactly_the_field_that_changed(string field)
        {
            BypassForward other = With(field);
            Assert.Equal(new[] { field }, Web.DifferingFields(other));
            Assert.Equal(new[] { field }, other.DifferingFields(Web));
        }

        [Fact]
        public void The_same_forward_made_twice_differs_in_nothing_and_every_field_is_named_when_all_differ()
        {
            Assert.Empty(Web.DifferingFields(Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: "blog")));
            BypassForward all = new BypassForward("x", ForwardProtocol.Udp, new PortRange(1, 2), IPAddress.Parse("192.0.2.9"), new PortRange(3, 4),
                IPAddress.Parse("192.0.2.8"), new PortRange(5, 6), true, "c", false, IPAddress.Parse("203.0.113.5"),
                SourceSet.Of(new[] { new Ipv4Prefix(IPAddress.Parse("198.51.100.7"), 32) }));
            Assert.Equal(new[] { "Name", "Protocol", "ExternalPort", "BypassAddress", "BypassPort", "InternalAddress", "InternalPort", "SourceNat", "Comment", "Enabled", "PublicAddress", "AllowedSource" },
                Web.DifferingFields(all));
        }

        [Fact]
        public void A_forward_made_without_comment_or_sources_has_an_empty_comment_and_admits_everyone()
        {
            var f = new BypassForward("x", ForwardProtocol.Tcp, new PortRange(80, 80), IPAddress.Parse("192.0.2.2"), new PortRange(80, 80),
                IPAddress.Parse("192.0.2.20"), new PortRange(80, 80), false, null, true, null, null);
            Assert.Equal(string.Empty, f.Comment);
            Assert.True(f.AllowedSource.IsAny);
            Assert.Throws<ArgumentNullException>(() => new BypassForward("x", ForwardProtocol.Tcp, new PortRange(80, 80), null, new PortRange(80, 80),
                IPAddress.Parse("192.0.2.20"), new PortRange(80, 80), false, null, true, null, null));
            Assert.Throws<ArgumentNullException>(() => new BypassForward("x", ForwardProtocol.Tcp, new PortRange(80, 80), IPAddress.Parse("192.0.2.2"), new PortRange(80, 80),
                null, new PortRange(80, 80), false, null, true, null, null));
        }

        [Theory]
        [InlineData(0, 1)]
        [InlineData(65536, 65536)]
        [InlineData(10, 9)]
        [InlineData(1, 65536)]
        public void A_port_range_outside_1_to_65535_or_backwards_cannot_be_made(int start, int end)
        {
            Assert.Throws<ArgumentOutOfRangeException>(() => new PortRange(start, end));
        }

        [Fact]
        public void A_port_range_at_the_limits_is_made_and_parse_failures_say_why()
        {
            Assert.Equal(65535, new PortRange(1, 65535).Count);
            Assert.Equal("65535", new PortRange(65535, 65535).ToString());
            FormatException e = Assert.Throws<FormatException>(() => PortRange.Parse("0"));
            Assert.Equal("'0' is not a port or port range: a port must be between 1 and 65535.", e.Message);
            Assert.Equal(new PortRange(6000, 6010), PortRange.Parse("6000-6010"));
            Assert.True(new PortRange(6000, 6010) == PortRange.Parse("6000-6010"));
            Assert.True(new PortRange(6000, 6010) != new PortRange(6000, 6011));
            Assert.False(new PortRange(6000, 6010).Equals((object)"6000-6010"));
        }

        [Fact]
        public void A_prefix_is_ipv4_with_a_length_of_0_to_32()
        {
            Assert.Throws<ArgumentException>(() => new Ipv4Prefix(IPAddress.Parse("2001:db8::1"), 64));
            Assert.Throws<ArgumentException>(() => new Ipv4Prefix(null, 24));
            Assert.Throws<ArgumentOutOfRangeException>(() => new Ipv4Prefix(IPAddress.Parse("192.0.2.0"), 33));
            Assert.Throws<ArgumentOutOfRangeException>(() => new Ipv4Prefix(IPAddress.Parse("192.0.2.0"), -1));
            var any = new Ipv4Prefix(IPAddress.Parse("192.0.2.7"), 0);
            Assert.Equal("0.0.0.0/0", any.ToString());
            Assert.True(any.Contains(IPAddress.Parse("203.0.113.1")));
            var lan = new Ipv4Prefix(IPAddress.Parse("192.0.2.77"), 25);
            Assert.Equal("192.0.2.0/25", lan.ToString());
            Assert.True(lan.Contains(IPAddress.Parse("192.0.2.127")));
            Assert.False(lan.Contains(IPAddress.Parse("192.0.2.128")));
            Assert.False(lan.Contains(IPAddress.Parse("2001:db8::1")));
            Assert.False(lan.Contains(null));
        }

        [Theory]
        [InlineData("192.0.2.0/24", "192.0.2.0/24")]
        [InlineData(" 192.0.2.9/24 ", "192.0.2.0/24")]
        [InlineData("198.51.100.7/32", "198.51.100.7/32")]
        [InlineData("0.0.0.0/0", "0.0.0.0/0")]
        [InlineData("192.0.2.7", "192.0.2.7/32")]
        public void A_lan_prefix_is_read_as_its_network(string text, string expected)
        {
            Assert.True(Ipv4Prefix.TryParse(text, out Ipv4Prefix prefix));
            Assert.Equal(expected, prefix.ToString());
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        [InlineData("192.0.2.0/33")]
        [InlineData("192.0.2/24")]
        [InlineData("192.0.2.010/24")]
        [InlineData("192.0.2.0/024")]
        [InlineData("192.0.2.0/-1")]
        [InlineData("192.0.2.0/x")]
        [InlineData("2001:db8::/32")]
        [InlineData("192.0.2.0/24/8")]
        public void Anything_else_is_no_lan_prefix(string text)
        {
            Assert.False(Ipv4Prefix.TryParse(text, out Ipv4Prefix prefix));
            Assert.Equal(default(Ipv4Prefix), prefix);
        }

        [Theory]
        [InlineData("192.0.2/24", "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.0")]
        [InlineData("192.0.2.010/24", "a number with a leading zero (such as 010) is octal to some tools and decimal to others: write it without the zero")]
        [InlineData("192.0.2.0/33", "a prefix length is a number from 0 to 32 after the '/'")]
        [InlineData("192.0.2.0/24", null)]
        public void A_refused_lan_prefix_says_why(string text, string why) => Assert.Equal(why, Ipv4Prefix.Why(text));

        private static Ipv4Prefix P(string text) => Ipv4Prefix.TryParse(text, out Ipv4Prefix p) ? p : throw new ArgumentException(text);

        [Fact]
        public void A_source_set_keeps_the_wider_of_two_nested_prefixes_whatever_their_order()
        {
            Assert.Equal("198.51.100.0/24", SourceSet.Of(new[] { P("198.51.100.0/25"), P("198.51.100.0/24") }).ToString());
            Assert.Equal("198.51.100.0/24", SourceSet.Of(new[] { P("198.51.100.0/24"), P("198.51.100.128/25"), P("198.51.100.7/32") }).ToString());
            Assert.Equal("192.0.2.1 198.51.100.0/24", SourceSet.Of(new[] { P("198.51.100.0/24"), P("192.0.2.1/32") }).ToString());
            Assert.True(SourceSet.Of(null).IsAny);
            Assert.True(SourceSet.Of(new Ipv4Prefix[0]).IsAny);
        }

        [Fact]
        public void A_set_read_from_a_router_with_an_entry_twice_or_nested_is_no_set_BypassNat_wrote()
        {
            Assert.Null(SourceSet.FromRouter(new[] { P("198.51.100.0/24"), P("198.51.100.0/24") }));
            Assert.Null(SourceSet.FromRouter(new[] { P("198.51.100.0/24"), P("198.51.100.9/32") }));
            Assert.Equal("192.0.2.1 198.51.100.0/24", SourceSet.FromRouter(new[] { P("198.51.100.0/24"), P("192.0.2.1/32") }).ToString());
        }

        [Fact]
        public void A_source_set_admits_exactly_its_prefixes_and_an_empty_one_everybody()
        {
            SourceSet set = SourceSet.Of(new[] { P("198.51.100.0/24"), P("203.0.113.9/32") });
            Assert.True(set.Admits(IPAddress.Parse("198.51.100.200")));
            Assert.True(set.Admits(IPAddress.Parse("203.0.113.9")));
            Assert.False(set.Admits(IPAddress.Parse("203.0.113.10")));
            Assert.False(set.Admits(IPAddress.Parse("192.0.2.1")));
            Assert.True(SourceSet.Any.Admits(IPAddress.Parse("192.0.2.1")));
            Assert.Equal(2, set.Count);
            Assert.Equal("203.0.113.9/32", set[1].ToString());
            Assert.Equal(new[] { "198.51.100.0/24", "203.0.113.9/32" }, set.Select(p => p.ToString()));
            Assert.True(set.Equals((object)SourceSet.Of(new[] { P("203.0.113.9/32"), P("198.51.100.0/24") })));
            Assert.False(set.Equals(null));
            Assert.Equal(set.GetHashCode(), SourceSet.Of(new[] { P("203.0.113.9/32"), P("198.51.100.0/24") }).GetHashCode());
        }

        [Fact]
        public void Characters_are_counted_as_typed_and_half_a_character_counts_as_one()
        {
            Assert.Equal(0, RuleComment.CountCharacters(null));
            Assert.Equal(1, RuleComment.CountCharacters("\U0001F600"));
            Assert.Equal(2, RuleComment.CountCharacters("\U0001F600x"));
            Assert.Equal(3, RuleComment.CountCharacters("a\U0001F600b"));
            Assert.Equal(2, RuleComment.CountCharacters("x\uD83D"));
            Assert.Equal(2, RuleComment.CountCharacters("a\uDC00"));
            Assert.Equal(2, RuleComment.CountCharacters("\uD83Dx"));
        }

        [Fact]
        public void Only_ascii_that_a_quote_separator_or_shell_trips_over_is_percent_encoded()
        {
            Assert.Equal("caf\u00e9%20%22x%22%3B", RuleComment.EncodeNote("caf\u00e9 \"x\";"));
            Assert.Equal("\u0080\u00a0", RuleComment.EncodeNote("\u0080\u00a0"));
            Assert.Equal("%7F", RuleComment.EncodeNote("\u007f"));
            Assert.Equal("\U0001F600", RuleComment.EncodeNote("\U0001F600"));
        }
    }
}
