using System.Linq;
using System.Text;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>
    /// Every comment the parser accepts fits on the router, whatever its script: the longest name,
    /// an external range, every role, and 40 characters of the widest kind.
    /// </summary>
    public class CommentStorageTests
    {
        private static readonly string LongestName = new string('n', ForwardParser.MaxNameLength);

        private static BypassForward Widest(string comment) =>
            Forwards.Make(LongestName, "tcpudp", "60000-60002", comment: comment, bypassPort: "60000-60002", internalPort: "60000-60002")
                .WithPublicAddress(System.Net.IPAddress.Parse("203.0.113.1"));

        public static TheoryData<string> WidestComments() => new TheoryData<string>
        {
            string.Concat(Enumerable.Repeat("🎉", RuleComment.MaxCommentCharacters)),   // 4 bytes each
            new string('家', RuleComment.MaxCommentCharacters),                          // 3 bytes each
            new string('%', RuleComment.MaxCommentCharacters),                           // escaped: 3 bytes each
            "家里的NAS服务器：照片和文件同步，还有每天晚上的备份任务都在这里运行，谢谢！",
        };

        [Theory]
        [MemberData(nameof(WidestComments))]
        public void FitsInEveryIptablesRuleComment(string comment)
        {
            string rules = string.Join("\n", IptablesRenderer.RenderRules(new[] { Widest(comment) }, Golden.Lan()));
            var comments = rules.Split('\n').Where(l => l.Contains("--comment")).Select(l => IptablesReader.Tokenize(l).SkipWhile(t => t != "--comment").ElementAt(1)).ToList();
            Assert.NotEmpty(comments);
            Assert.All(comments, c => Assert.True(Encoding.UTF8.GetByteCount(c) <= RuleComment.IptablesMaxBytes, $"{Encoding.UTF8.GetByteCount(c)} bytes: {c}"));
        }

        [Theory]
        [MemberData(nameof(WidestComments))]
        public void FitsInNftablesElementCommentsAndReadsBackWhole(string comment)
        {
            BypassForward forward = Widest(comment);
            string file = NftablesRenderer.Render(new[] { forward }, Golden.Lan());
            var comments = System.Text.RegularExpressions.Regex.Matches(file, "comment \"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
            Assert.All(comments, c => Assert.True(Encoding.UTF8.GetByteCount(c) <= RuleComment.NftablesMaxBytes, $"{Encoding.UTF8.GetByteCount(c)} bytes: {c}"));
            BypassForward read = Assert.Single(NftablesReader.Read(file).Forwards);
            Assert.Equal(comment, read.Comment);
        }

        [Fact]
        public void ReadsACommentWrittenFullyPercentEncodedByAnEarlierRelease()
        {
            RuleComment old = RuleComment.TryDecode("bypassnat;name=web;ext=8080;note=%E5%AE%B6%20NAS");
            Assert.Equal("家 NAS", old.Comment);
        }
    }
}
