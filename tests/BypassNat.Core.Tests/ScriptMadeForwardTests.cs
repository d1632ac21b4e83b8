using System.Collections.Generic;
using System.Linq;
using BypassNat.Validation;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Forwards made in a script (BypassForward objects, not New-BypassForward's text) get the checks
    /// of the text that ends up in rules and scripts when the set is checked: each problem at its row.
    /// </summary>
    public class ScriptMadeForwardTests
    {
        [Fact]
        public void ACommentMadeInAScriptIsCheckedAtItsRow()
        {
            var set = new[]
            {
                Forwards.Make("web", "tcp", "8080", internalPort: "80"),
                Forwards.Make("game", "udp", "9000").WithComment("line one\nline two"),
                Forwards.Make("long", "tcp", "9001").WithComment(new string('x', 300)),
            };

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(set);

            Assert.Equal(new[] { ("BypassNat.InvalidComment", 2, "Comment"), ("BypassNat.InvalidComment", 3, "Comment") }, issues.Select(i => (i.ErrorId, i.Row, i.Field)));
            Assert.Equal("a comment is one line of printable text", issues[0].Reason);
            Assert.StartsWith("a comment has at most", issues[1].Reason);
        }

        [Fact]
        public void AForwardsOwnProblemsComeBeforeItsConflicts()
        {
            var set = new[]
            {
                Forwards.Make("web", "tcp", "8080"),
                Forwards.Make("web2", "tcp", "8080").WithComment("bad\u2028comment"),
            };

            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.Check(set);

            Assert.Equal(new[] { "BypassNat.InvalidComment", "BypassNat.PortConflict" }, issues.Select(i => i.ErrorId));
            Assert.All(issues, i => Assert.Equal(2, i.Row));
        }
    }
}
