using System.Collections.Generic;
using System.Linq;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    public class ForwardParserTests
    {
        private static IReadOnlyList<ForwardIssue> Issues(ForwardInput input, int row = 7)
        {
            BypassForward forward = ForwardParser.Parse(input, row, out IReadOnlyList<ForwardIssue> issues);
            Assert.Null(forward);
            return issues;
        }

        private static ForwardInput Good() => new ForwardInput
        {
            Name = "web", ExternalPort = "8080", BypassAddress = "192.0.2.2", InternalAddress = "192.0.2.20", InternalPort = "80",
        };

        [Fact]
        public void RefusesTextThatWasReadInTheWrongEncoding()
        {
            // "名称NAS" saved as GBK and read as UTF-8.
            ForwardInput comment = Good();
            comment.Comment = "\uFFFD\uFFFD\uFFFD\uFFFDNAS";
            ForwardIssue issue = Assert.Single(Issues(comment));
            Assert.Equal("BypassNat.InvalidEncoding", issue.ErrorId);
            Assert.Equal("Comment", issue.Field);
            Assert.Equal(7, issue.Row);
            Assert.Contains("Import-Csv -Encoding 936", issue.Message);
            Assert.Contains("CSV UTF-8", issue.Message);

            // A garbled name is that one problem, not also an invalid name.
            ForwardInput name = Good();
            name.Name = "nas\uFFFD";
            Assert.Equal(new[] { "BypassNat.InvalidEncoding:Name" }, Issues(name).Select(i => i.ErrorId + ":" + i.Field));

            ForwardInput clean = Good();
            clean.Comment = "名称NAS";
            Assert.NotNull(ForwardParser.Parse(clean, 1, out _));
        }

        [Fact]
        public void FillsInTheDefaults()
        {
            BypassForward forward = Forwards.Make("web", null, "8080");
            Assert.Equal(ForwardProtocol.Tcp, forward.Protocol);
            Assert.Equal("8080", forward.BypassPort.ToString());
            Assert.Equal("8080", forward.InternalPort.ToString());
            Assert.False(forward.SourceNat);
            Assert.True(forward.Enabled);
            Assert.Equal(string.Empty, forward.Comment);
        }

        [Theory]
        [InlineData("tcp", ForwardProtocol.Tcp)]
        [InlineData("UDP", ForwardProtocol.Udp)]
        [InlineData("TcpUdp", ForwardProtocol.TcpUdp)]
        [InlineData("tcp+udp", ForwardProtocol.TcpUdp)]
        [InlineData(" Both ", ForwardProtocol.TcpUdp)]
        public void ReadsProtocolsCaseInsensitively(string text, ForwardProtocol expected) =>
            Assert.Equal(expected, Forwards.Make("x", text, "80").Protocol);

        [Fact]
        public void ReportsEveryProblemOfARowAtOnce()
        {
            var input = new ForwardInput
            {
                Name = "bad name", Protocol = "icmp", ExternalPort = "0", BypassAddress = "192.0.2", InternalAddress = "127.0.0.1",
                SourceNat = "maybe", Enabled = "sure",
            };
            IReadOnlyList<ForwardIssue> issues = Issues(input);
            Assert.Equal(new[] { "Name", "Protocol", "ExternalPort", "BypassAddress", "InternalAddress", "SourceNat", "Enabled" },
                issues.Select(i => i.Field).ToArray());
            Assert.All(issues, i => Assert.Equal(7, i.Row));
            Assert.Equal("Row 7: ExternalPort '0' is not valid: a port must be between 1 and 65535.", issues[2].Message);
            Assert.Equal("BypassNat.InvalidAddress", issues[3].ErrorId);
        }

        [Theory]
        [InlineData("10")]
        [InlineData("10.1")]
        [InlineData("256.1.1.1")]
        [InlineData("2001:db8::1")]
        [InlineData("192.0.2.1/24")]
        [InlineData("0.0.0.0")]
        [InlineData("224.0.0.1")]
        [InlineData("255.255.255.255")]
        [InlineData("192.0.2.1.")]
        [InlineData(".192.0.2.1")]
        [InlineData("192..2.1")]
        [InlineData("192.0.2.1.5")]
        [InlineData("192.0.2.0x1")]
        [InlineData("192.0.2.1000")]
        [InlineData("192.0.2.-1")]
        [InlineData("192.0.2.020")]
        [InlineData("192.0.2.00")]
        public void RejectsAddressesThatAreNotAHostsIPv4Address(string address)
        {
            ForwardInput input = Good();
            input.InternalAddress = address;
            ForwardIssue issue = Assert.Single(Issues(input));
            Assert.Equal("InternalAddress", issue.Field);
            Assert.Equal(address, issue.Value);
        }

        [Fact]
        public void RangesMustMapOneToOne()
        {
            ForwardInput input = Good();
            input.ExternalPort = "6000-6010";
            input.BypassPort = "16000-16005";
            input.InternalPort = "7000-7010";
            IReadOnlyList<ForwardIssue> issues = Issues(input);
            ForwardIssue bypass = Assert.Single(issues, i => i.Field == "BypassPort");
            Assert.Contains("needs 11 port(s)", bypass.Reason);
            Assert.Equal("BypassNat.PortRangeMismatch", bypass.ErrorId);
            // The internal range is compared with the bypass range as written, and that has 6 ports.
            Assert.Contains(issues, i => i.Field == "InternalPort" && i.Reason.Contains("needs 6 port(s)"));
        }

        [Fact]
        public void InternalPortDefaultsToTheBypassRange()
        {
            BypassForward forward = Forwards.Make("r", "udp", "6000-6002", bypassPort: "16000-16002");
            Assert.Equal("16000-16002", forward.InternalPort.ToString());
        }

        [Fact]
        public void RejectsACommentTooLongToStoreOnTheRouter()
        {
            ForwardInput input = Good();
            input.Comment = new string('é', RuleComment.MaxCommentCharacters + 1);
            ForwardIssue issue = Assert.Single(Issues(input));
            Assert.Equal("Comment", issue.Field);
            Assert.Equal("a comment has at most 40 characters, and this one has 41", issue.Reason);
        }

        [Fact]
        public void CountsACommentInChineseAsTypedNotAsEncoded()
        {
            ForwardInput input = Good();
            input.Comment = "家里的NAS服务器：照片和文件同步，还有每天晚上的备份任务都在这里运行，谢谢！";
            Assert.Equal(39, RuleComment.CountCharacters(input.Comment));
            BypassForward forward = ForwardParser.Parse(input, 1, out IReadOnlyList<ForwardIssue> issues);
            Assert.Empty(issues);
            Assert.Equal(input.Comment, forward.Comment);
            input.Comment = "xx" + string.Concat(Enumerable.Repeat("🎉", 39));
            Assert.Equal(41, RuleComment.CountCharacters(input.Comment));
            Assert.Single(Issues(input));
        }

        [Fact]
        public void HalfASurrogatePairIsNotText()
        {
            ForwardInput input = Good();
            input.Comment = "broken \ud83c here";
            Assert.StartsWith("it holds half of a character (an unpaired UTF-16 surrogate)", Assert.Single(Issues(input)).Reason);
        }

        [Theory]
        [InlineData("203.0.113")]
        [InlineData("203.0.113.256")]
        [InlineData("127.0.0.1")]
        public void APublicAddressThatReadsAsAnAddressMustBeOne(string text)
        {
            var failure = Assert.Throws<BypassNatException>(() => PublicAddressResolver.Resolve(text));
            Assert.Equal("BypassNat.InvalidAddress", failure.ErrorId);
            Assert.Contains(text, failure.Message);
        }

        [Fact]
        public void RejectsAMultiLineComment()
        {
            ForwardInput input = Good();
            input.Comment = "one\ntwo";
            Assert.Equal("BypassNat.InvalidComment", Assert.Single(Issues(input)).ErrorId);
        }

        [Theory]
        [InlineData("web;x")]
        [InlineData("-web")]
        [InlineData("we b")]
        [InlineData("web\"")]
        [InlineData("a23456789012345678901234567890123")]
        [InlineData("web\u00e9")]
        [InlineData("_web")]
        public void NamesAreSafeEverywhere(string name)
        {
            ForwardInput input = Good();
            input.Name = name;
            Assert.Equal("Name", Assert.Single(Issues(input)).Field);
        }

        [Theory]
        [InlineData("web\n")]
        [InlineData("web\r\n")]
        [InlineData("-web")]
        public void ANameMadeInAScriptIsCheckedWhole(string name)
        {
            // A regex's "$" also matches before a final line break; a name from a script is not trimmed.
            Assert.False(ForwardParser.IsSafeName(name));
            Assert.True(ForwardParser.IsSafeName("a-b_c.9"));
        }

        [Fact]
        public void AnAddressWithALeadingZeroIsRefusedNotReadAsOctal()
        {
            // IPAddress.Parse reads 192.0.2.010 as 192.0.2.8: the user meant .10 or made a typo.
            ForwardInput input = Good();
            input.InternalAddress = "192.0.2.010";
            ForwardIssue issue = Assert.Single(Issues(input));
            Assert.Equal("BypassNat.InvalidAddress", issue.ErrorId);
            Assert.Contains("leading zero", issue.Message);
            input.InternalAddress = "192.0.2.10";
            Assert.Equal("192.0.2.10", ForwardParser.Parse(input, 1, out _).InternalAddress.ToString());
        }
    }
}
