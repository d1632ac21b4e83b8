using System.Collections.Generic;
using System.Linq;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>
    /// Each field of a CSV row on its own: the value it becomes, or the one problem it is, with its
    /// error id, field, value and reason as the user reads them.
    /// </summary>
    public class ForwardFieldTests
    {
        private static ForwardInput Row(string name = "web", string protocol = null, string external = "8080", string bypassAddress = "192.0.2.2",
            string internalAddress = "192.0.2.20", string bypassPort = null, string internalPort = null, string sourceNat = null, string enabled = null,
            string comment = null, string publicAddress = null, string allowedSource = null) =>
            new ForwardInput
            {
                Name = name, Protocol = protocol, ExternalPort = external, BypassAddress = bypassAddress, InternalAddress = internalAddress,
                BypassPort = bypassPort, InternalPort = internalPort, SourceNat = sourceNat, Enabled = enabled, Comment = comment,
                PublicAddress = publicAddress, AllowedSource = allowedSource,
            };

        private static ForwardIssue Only(ForwardInput input)
        {
            Assert.Null(ForwardParser.Parse(input, 3, out IReadOnlyList<ForwardIssue> issues));
            return Assert.Single(issues);
        }

        private static BypassForward Valid(ForwardInput input)
        {
            BypassForward forward = ForwardParser.Parse(input, 3, out IReadOnlyList<ForwardIssue> issues);
            Assert.Empty(issues);
            return forward;
        }

        [Theory]
        [InlineData("", "BypassNat.MissingField", "every forward needs a name")]
        [InlineData("   ", "BypassNat.MissingField", "every forward needs a name")]
        [InlineData("abcdefghijklmnopqrstuvwxyz0123456", "BypassNat.InvalidName", "a name has at most 32 characters")]
        [InlineData("-web", "BypassNat.InvalidName", "a name uses only letters, digits, '.', '_' and '-', and starts with a letter or digit")]
        [InlineData("we b", "BypassNat.InvalidName", "a name uses only letters, digits, '.', '_' and '-', and starts with a letter or digit")]
        public void A_bad_name_is_one_problem_with_its_reason(string name, string id, string reason)
        {
            ForwardIssue issue = Only(Row(name: name));
            Assert.Equal((id, "Name", 3, reason), (issue.ErrorId, issue.Field, issue.Row, issue.Reason));
        }

        [Theory]
        [InlineData("a")]
        [InlineData("Z9")]
        [InlineData("web.1_b-c")]
        [InlineData("abcdefghijklmnopqrstuvwxyz012345")]
        public void Names_of_letters_digits_dots_underscores_and_dashes_up_to_32_are_taken_trimmed(string name)
        {
            Assert.Equal(name, Valid(Row(name: " " + name + " ")).Name);
            Assert.True(ForwardParser.IsSafeName(name));
        }

        [Theory]
        [InlineData(null)]
        [InlineData("")]
        [InlineData("_a")]
        [InlineData("a b")]
        [InlineData("a\n")]
        [InlineData("abcdefghijklmnopqrstuvwxyz0123456")]
        public void Unsafe_names_read_back_from_a_router_are_refused(string name) => Assert.False(ForwardParser.IsSafeName(name));

        [Fact]
        public void An_unknown_protocol_names_the_three_that_work()
        {
            ForwardIssue issue = Only(Row(protocol: "sctp"));
            Assert.Equal(("BypassNat.InvalidProtocol", "Protocol", "sctp", "use Tcp, Udp or TcpUdp"), (issue.ErrorId, issue.Field, issue.Value, issue.Reason));
            Assert.Equal(ForwardProtocol.Tcp, Valid(Row(protocol: "  ")).Protocol);
        }

        [Theory]
        [InlineData("tcp/udp")]
        [InlineData("TCP+UDP")]
        [InlineData(" both ")]
        [InlineData("TcpUdp")]
        public void Both_protocols_have_several_spellings(string text)
        {
            Assert.True(ForwardParser.TryParseProtocol(text, out ForwardProtocol protocol));
            Assert.Equal(ForwardProtocol.TcpUdp, protocol);
        }

        [Fact]
        public void A_missing_external_port_is_a_missing_field_and_a_bad_one_an_invalid_port()
        {
            Assert.Equal(("BypassNat.MissingField", "ExternalPort"), (Only(Row(external: " ")).ErrorId, Only(Row(external: " ")).Field));
            Assert.Equal("BypassNat.InvalidPort", Only(Row(external: "http")).ErrorId);
        }

        [Fact]
        public void Bypass_and_internal_ports_default_along_the_chain_and_must_map_one_to_one()
        {
            BypassForward forward = Valid(Row(external: "6000-6002", bypassPort: "16000-16002"));
            Assert.Equal("16000-16002", forward.BypassPort.ToString());
            Assert.Equal("16000-16002", forward.InternalPort.ToString());
            ForwardIssue bypass = Only(Row(external: "6000-6002", bypassPort: "16000"));
            Assert.Equal(("BypassNat.PortRangeMismatch", "BypassPort", "16000", "ports map one to one, so it needs 3 port(s) like ExternalPort '6000-6002', not 1"),
                (bypass.ErrorId, bypass.Field, bypass.Value, bypass.Reason));
            ForwardIssue inside = Only(Row(external: "6000-6002", bypassPort: "16000-16002", internalPort: "80-81"));
            Assert.Equal(("BypassNat.PortRangeMismatch", "InternalPort", "ports map one to one, so it needs 3 port(s) like BypassPort '16000-16002', not 2"),
                (inside.ErrorId, inside.Field, inside.Reason));
            Assert.Equal(("BypassNat.InvalidPort", "BypassPort"), (Only(Row(bypassPort: "70000")).ErrorId, Only(Row(bypassPort: "70000")).Field));
            Assert.Equal(("BypassNat.InvalidPort", "InternalPort"), (Only(Row(internalPort: "x")).ErrorId, Only(Row(internalPort: "x")).Field));
        }

        [Fact]
        public void A_bad_port_upstream_does_not_also_report_a_mismatch_downstream()
        {
            // Only the bad port itself: its count is unknown, so no mapping can be judged against it.
            Assert.Equal("ExternalPort", Only(Row(external: "x", bypassPort: "1-2")).Field);
            Assert.Equal("BypassPort", Only(Row(external: "1-3", bypassPort: "x", internalPort: "1-2")).Field);
        }

        [Theory]
        [InlineData("", "BypassNat.MissingField", "an IPv4 address such as 192.0.2.20 is required")]
        [InlineData("192.0.2", "BypassNat.InvalidAddress", "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.20")]
        [InlineData("192.0.2.256", "BypassNat.InvalidAddress", "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.20")]
        [InlineData("192.0.2.1234", "BypassNat.InvalidAddress", "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.20")]
        [InlineData("192.0.2.x", "BypassNat.InvalidAddress", "an IPv4 address is four numbers 0-255 separated by dots, such as 192.0.2.20")]
        [InlineData("192.0.02.1", "BypassNat.InvalidAddress", "a number with a leading zero (such as 010) is octal to some tools and decimal to others: write it without the zero")]
        [InlineData("0.1.2.3", "BypassNat.InvalidAddress", "0.0.0.0/8 is not a host address")]
        [InlineData("127.0.0.1", "BypassNat.InvalidAddress", "a loopback address is not reachable from another host")]
        [InlineData("224.0.0.1", "BypassNat.InvalidAddress", "a multicast address cannot be forwarded to")]
        [InlineData("239.255.255.255", "BypassNat.InvalidAddress", "a multicast address cannot be forwarded to")]
        [InlineData("240.0.0.1", "BypassNat.InvalidAddress", "a reserved or broadcast address cannot be forwarded to")]
        public void Each_address_problem_has_its_own_reason(string address, string id, string reason)
        {
            ForwardIssue issue = Only(Row(internalAddress: address));
            // An empty InternalAddress is fine beside InternalIPv6 (an IPv6-only row), so its reason names both.
            string internalReason = address.Length == 0 ? "the device's address is required: InternalAddress (IPv4, such as 192.0.2.20), InternalIPv6 (such as ::20), or both" : reason;
            Assert.Equal((id, "InternalAddress", address, internalReason), (issue.ErrorId, issue.Field, issue.Value, issue.Reason));
            Assert.Null(ForwardParser.ParseAddressField(address, "PublicAddress", out ForwardIssue alone));
            Assert.Equal((id, "PublicAddress", reason), (alone.ErrorId, alone.Field, alone.Reason));
        }

        [Theory]
        [InlineData("1.0.0.0")]
        [InlineData("126.255.255.255")]
        [InlineData("128.0.0.1")]
        [InlineData("223.255.255.254")]
        [InlineData("192.0.2.0")]
        [InlineData("198.51.100.10")]
        public void Host_addresses_at_the_edges_of_the_refused_blocks_are_taken(string address)
        {
            Assert.Equal(address, Valid(Row(internalAddress: address)).InternalAddress.ToString());
            Assert.Equal(address, ForwardParser.ParseAddressField(address, "X", out ForwardIssue issue).ToString());
            Assert.Null(issue);
        }

        [Fact]
        public void A_public_address_is_optional_and_checked_when_given()
        {
            Assert.Null(Valid(Row(publicAddress: " ")).PublicAddress);
            Assert.Equal("203.0.113.1", Valid(Row(publicAddress: "203.0.113.1")).PublicAddress.ToString());
            Assert.Equal(("BypassNat.InvalidAddress", "PublicAddress"), (Only(Row(publicAddress: "127.0.0.2")).ErrorId, Only(Row(publicAddress: "127.0.0.2")).Field));
        }

        [Theory]
        [InlineData("true", true)]
        [InlineData("YES", true)]
        [InlineData("1", true)]
        [InlineData(" on ", true)]
        [InlineData("$true", true)]
        [InlineData("False", false)]
        [InlineData("no", false)]
        [InlineData("0", false)]
        [InlineData("off", false)]
        [InlineData("$false", false)]
        public void Switches_take_the_usual_spellings(string text, bool expected)
        {
            Assert.Equal(expected, Valid(Row(sourceNat: text)).SourceNat);
            Assert.Equal(expected, Valid(Row(enabled: text)).Enabled);
        }

        [Fact]
        public void Switches_default_to_no_source_nat_and_enabled_and_refuse_other_words()
        {
            BypassForward forward = Valid(Row());
            Assert.False(forward.SourceNat);
            Assert.True(forward.Enabled);
            ForwardIssue issue = Only(Row(enabled: "maybe"));
            Assert.Equal(("BypassNat.InvalidBoolean", "Enabled", "maybe", "use true or false (yes/no, 1/0 and on/off work too)"),
                (issue.ErrorId, issue.Field, issue.Value, issue.Reason));
        }

        [Fact]
        public void A_comment_is_trimmed_and_kept()
        {
            Assert.Equal("the blog", Valid(Row(comment: "  the blog ")).Comment);
            Assert.Equal(string.Empty, Valid(Row()).Comment);
            Assert.Null(ForwardParser.CommentProblem("ok"));
            Assert.Equal("a comment is one line of printable text", ForwardParser.CommentProblem("a\u2028b"));
            Assert.Equal("a comment is one line of printable text", ForwardParser.CommentProblem("a\tb"));
            Assert.Null(ForwardParser.CommentProblem("emoji \U0001F600 ok"));
            Assert.Equal("a comment has at most 40 characters, and this one has 41", ForwardParser.CommentProblem(new string('x', 41)));
            Assert.Null(ForwardParser.CommentProblem(new string('x', 40)));
        }

        [Theory]
        [InlineData("198.51.100.7", "198.51.100.7/32")]
        [InlineData("198.51.100.0/24", "198.51.100.0/24")]
        [InlineData("198.51.100.0/24;203.0.113.9", "198.51.100.0/24 203.0.113.9/32")]
        [InlineData("203.0.113.9, 198.51.100.0/24\t192.0.2.0/25", "192.0.2.0/25 198.51.100.0/24 203.0.113.9/32")]
        [InlineData("128.0.0.0/1 128.1.0.0/16", "128.0.0.0/1")]
        public void Allowed_sources_are_read_into_their_prefixes(string text, string prefixes)
        {
            SourceSet set = Valid(Row(allowedSource: text)).AllowedSource;
            Assert.Equal(prefixes, string.Join(" ", set.Select(p => p.ToString())));
        }

        [Theory]
        [InlineData("198.51.100.7/24", "the address has bits set beyond the /24 prefix: write 198.51.100.0/24 for the network, or 198.51.100.7 for the one address")]
        [InlineData("198.51.100.0/", "a prefix length is a number from 1 to 32 after the '/'")]
        [InlineData("198.51.100.0/33", "a prefix length is a number from 1 to 32 after the '/'")]
        [InlineData("198.51.100.0/100", "a prefix length is a number from 1 to 32 after the '/'")]
        [InlineData("198.51.100.0/+8", "a prefix length is a number from 1 to 32 after the '/'")]
        [InlineData("0.0.0.0/0", "0.0.0.0/0 admits every client: leave AllowedSource empty for that")]
        [InlineData("0.0.0.1", "0.0.0.0/8 is never a client's source address")]
        [InlineData("127.0.0.1", "a loopback address is never a client's source on the network")]
        [InlineData("224.0.0.0/4", "a multicast or reserved address is never a client's source address")]
        [InlineData("250.0.0.1", "a multicast or reserved address is never a client's source address")]
        [InlineData("198.51.100", "an entry is an IPv4 address (198.51.100.7) or a prefix (198.51.100.0/24), or for an IPv6 forward an IPv6 one; separate entries with spaces or ';'")]
        [InlineData("198.51.100.07", "a number with a leading zero (such as 010) is octal to some tools and decimal to others: write it without the zero")]
        public void Each_bad_source_is_its_own_problem_naming_the_entry(string entry, string reason)
        {
            IReadOnlyList<ForwardIssue> issues;
            Assert.Null(ForwardParser.Parse(Row(allowedSource: "203.0.113.9 " + entry), 3, out issues));
            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal(("BypassNat.InvalidSource", "AllowedSource", entry, reason), (issue.ErrorId, issue.Field, issue.Value, issue.Reason));
        }

        [Fact]
        public void Too_many_sources_is_one_problem_with_the_count()
        {
            string text = string.Join(" ", Enumerable.Range(1, SourceSet.MaxEntries + 1).Select(i => $"198.51.{i / 250}.{i % 250 + 1}"));
            ForwardIssue issue = Only(Row(allowedSource: text));
            Assert.Equal("BypassNat.InvalidSource", issue.ErrorId);
            Assert.Equal($"a forward admits at most {SourceSet.MaxEntries} addresses or prefixes, and this one lists {SourceSet.MaxEntries + 1}; use a shorter prefix that covers them", issue.Reason);
            Assert.True(Valid(Row(allowedSource: string.Join(";", text.Split(' ').Take(SourceSet.MaxEntries)))).AllowedSource.Count == SourceSet.MaxEntries);
            Assert.True(Valid(Row(allowedSource: "")).AllowedSource.IsAny);
        }
    }
}
