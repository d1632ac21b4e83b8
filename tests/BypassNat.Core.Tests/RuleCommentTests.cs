using Xunit;

namespace BypassNat.Tests
{
    public class RuleCommentTests
    {
        [Theory]
        [InlineData("")]
        [InlineData("NAS web UI")]
        [InlineData("a;b=c \"quoted\" 100% ok")]
        [InlineData("ゲームサーバー")]
        public void RoundTripsAnyComment(string comment)
        {
            var original = new RuleComment("web-1", PortRange.Parse("6000-6010"), comment);
            string encoded = original.Encode();
            Assert.DoesNotContain(" ", encoded);
            Assert.DoesNotContain("\"", encoded);
            RuleComment decoded = RuleComment.TryDecode(encoded);
            Assert.Equal("web-1", decoded.Name);
            Assert.Equal("6000-6010", decoded.ExternalPort.ToString());
            Assert.Equal(comment, decoded.Comment);
        }

        [Theory]
        [InlineData(null)]
        [InlineData("proxy rule")]
        [InlineData("bypassnat;ext=80")]
        [InlineData("bypassnat;name=x;ext=0")]
        [InlineData("bypassnat;name=a'$(reboot)';ext=80")]
        [InlineData("bypassnat;name=;ext=80")]
        public void IgnoresCommentsItDidNotWrite(string text) => Assert.Null(RuleComment.TryDecode(text));
    }
}
