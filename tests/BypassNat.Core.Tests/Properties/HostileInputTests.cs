using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using CsCheck;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests.Properties
{
    /// <summary>
    /// Whatever text a CSV holds, parsing it never throws: a row is either refused with errors that
    /// name the row and field in one short printable line, or becomes a forward whose every field is
    /// safe to render. Nothing a user typed reaches a router script unchecked.
    /// </summary>
    public class HostileInputTests
    {
        private static readonly string[] Fields =
            { "Name", "Protocol", "ExternalPort", "BypassAddress", "BypassPort", "InternalAddress", "InternalPort", "SourceNat", "Comment", "Enabled", "PublicAddress", "AllowedSource" };

        private static readonly string[] Hostile =
        {
            "", " ", "\"", "'", "`", "$(reboot)", "`reboot`", "; rm -rf /", "a\nb", "a\r\nb", "\0", "a\0b", "x'; nft flush ruleset; '",
            "BYPASSNAT_RULES", "\nBYPASSNAT_RULES\nnft flush ruleset\n", "%0A", "${IFS}", "\\", "旁路由", "😀", "\uD800", "\u202Etxt", "\t", "80;22",
            "80-", "-80", "0", "65536", "99999999999999999999", "1-65535", "192.0.2.2 ", "192.0.2", "192.0.2.256", "::1", "0x7f.1", "1e3",
            "true\n", "yes", "$true", "TCP UDP", "tcp\0", "203.0.113.0/24 198.51.100.7;192.0.2.9", "198.51.100.7/24", "0.0.0.0/0", "198.51.100.0/24\n;", new string('a', 200), new string('9', 5000),
        };

        private static readonly Dictionary<string, string> Valid = new Dictionary<string, string>
        {
            ["Name"] = "web", ["Protocol"] = "tcp", ["ExternalPort"] = "8080", ["BypassAddress"] = "192.0.2.2", ["BypassPort"] = "8080",
            ["InternalAddress"] = "192.0.2.20", ["InternalPort"] = "80", ["SourceNat"] = "false", ["Comment"] = "NAS", ["Enabled"] = "true",
            ["PublicAddress"] = "", ["AllowedSource"] = "",
        };

        private static readonly Gen<ForwardInput> Input =
            Gen.OneOf(Hostile).Array[Fields.Length].SelectMany(values =>
                // Mostly one or two hostile fields a row, so many rows also get through to rendering.
                Gen.Frequency((1, Gen.Const(true)), (6, Gen.Const(false))).Array[Fields.Length].Select(useHostile => Make(i => useHostile[i] ? values[i] : Valid[Fields[i]])));

        private static ForwardInput Make(Func<int, string> value) => new ForwardInput
        {
            Name = value(0), Protocol = value(1), ExternalPort = value(2), BypassAddress = value(3), BypassPort = value(4),
            InternalAddress = value(5), InternalPort = value(6), SourceNat = value(7), Comment = value(8), Enabled = value(9), PublicAddress = value(10),
            AllowedSource = value(11),
        };

        [Fact]
        public void ParsingAnyTextRefusesItClearlyOrYieldsASafeForward()
        {
            int refused = 0, accepted = 0;
            Input.Sample(input =>
            {
                BypassForward forward = ForwardParser.Parse(input, 7, out IReadOnlyList<ForwardIssue> issues);
                if (forward == null)
                {
                    Assert.NotEmpty(issues);
                    foreach (ForwardIssue issue in issues) AssertClear(issue, 7);
                    refused++;
                    return;
                }

                Assert.Empty(issues);
                Assert.True(ForwardParser.IsSafeName(forward.Name));
                Assert.DoesNotContain(forward.Comment, c => char.IsControl(c));
                // The set check may still refuse it (a public address equal to the bypass address), as clearly.
                IReadOnlyList<ForwardIssue> setIssues = ForwardSetValidator.Check(new[] { forward });
                foreach (ForwardIssue issue in setIssues) AssertClear(issue, 1);
                if (setIssues.Count > 0) { refused++; return; }
                // What reaches a router script: no line of it may carry the user's raw text.
                string[] rendered = { NftablesRenderer.Render(new[] { forward }), IptablesRenderer.RenderRestore(new[] { forward }, new IptablesJumpRepair()) };
                foreach (string text in rendered)
                {
                    // The rules travel in a here-document: no line may end it early.
                    Assert.DoesNotContain(text.Split('\n'), line => line.Trim() == "BYPASSNAT_RULES");
                    Assert.DoesNotContain('\0', text);
                    // The user's text is stored inside a quoted comment: nothing in it may end the
                    // quotes, start an expansion or a new line, whatever the comment held.
                    foreach (System.Text.RegularExpressions.Match comment in System.Text.RegularExpressions.Regex.Matches(text, "comment \"([^\"\n]*)\""))
                        Assert.DoesNotContain(comment.Groups[1].Value, c => "\"'`$\\".IndexOf(c) >= 0 || char.IsWhiteSpace(c) || char.IsControl(c));
                    Assert.Equal(text.Split('\n').Count(l => l.Contains("comment ")), System.Text.RegularExpressions.Regex.Matches(text, "comment \"[^\"\n]*\"").Count);
                }

                accepted++;
            }, iter: 5000, print: Describe);
            TestCounts.Record($"hostile CSV text: {refused + accepted} random rows tried, {refused} refused with clear errors, {accepted} parsed to safe forwards");
            Assert.True(refused > 0 && accepted > 0, "the generator should produce both kinds of rows");
        }

        [Fact]
        public void AHugeFieldIsRefusedWithAShortMessage()
        {
            string huge = new string('x', 10 * 1024 * 1024);
            foreach (string field in Fields)
            {
                var values = Fields.Select(f => f == field ? huge : Valid[f]).ToArray();
                BypassForward forward = ForwardParser.Parse(Make(i => values[i]), 3, out IReadOnlyList<ForwardIssue> issues);
                Assert.Null(forward);
                ForwardIssue issue = Assert.Single(issues);
                Assert.Equal(field, issue.Field);
                AssertClear(issue, 3);
            }

            TestCounts.Record($"hostile CSV text: a 10 MB value in each of {Fields.Length} fields refused with a short message");
        }

        [Fact]
        public void AHundredThousandRowsOfJunkAreEachReportedWithTheirRow()
        {
            var random = new Random(12345);
            int reported = 0;
            for (int row = 1; row <= 100_000; row++)
            {
                string junk = Hostile[random.Next(Hostile.Length)] + "#" + row;
                BypassForward forward = ForwardParser.Parse(Make(i => i == 2 ? junk : Valid[Fields[i]]), row, out IReadOnlyList<ForwardIssue> issues);
                Assert.Null(forward);
                Assert.All(issues, issue => Assert.Equal(row, issue.Row));
                reported += issues.Count;
            }

            Assert.True(reported >= 100_000);
            TestCounts.Record("hostile CSV text: 100,000 bad rows, each reported with its own row number");
        }

        private static void AssertClear(ForwardIssue issue, int row)
        {
            Assert.Equal(row, issue.Row);
            Assert.Contains(issue.Field, Fields);
            Assert.StartsWith("BypassNat.", issue.ErrorId);
            Assert.False(string.IsNullOrWhiteSpace(issue.Reason));
            Assert.True(issue.Message.Length <= 600, $"a message of {issue.Message.Length} characters: {issue.Message.Substring(0, Math.Min(200, issue.Message.Length))}");
            Assert.DoesNotContain(issue.Message, c => char.IsControl(c));
            Assert.Contains($"Row {row}", issue.Message);
            Assert.Contains(issue.Field, issue.Message);
        }

        private static string Describe(ForwardInput input) =>
            string.Join(", ", Fields.Select((f, i) => f + "=" + Escape(typeof(ForwardInput).GetProperty(f).GetValue(input) as string)));

        private static string Escape(string text) =>
            text == null ? "null" : string.Concat(text.Take(40).Select(c => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString()));
    }
}
