using System.Linq;
using BypassNat.Apply;
using Xunit;

namespace BypassNat.Tests
{
    public class RulesetDiffTests
    {
        [Fact]
        public void MatchesForwardsByNameAndNamesTheChangedFields()
        {
            var current = new[]
            {
                Forwards.Make("web", "tcp", "8080", internalPort: "80"),
                Forwards.Make("game", "udp", "9000"),
                Forwards.Make("voip", "tcpudp", "9001-9003"),
            };
            var desired = new[]
            {
                Forwards.Make("web", "tcp", "8080", internalPort: "80"),
                Forwards.Make("voip", "tcp", "9001-9003"),
                Forwards.Make("admin", "tcp", "8443"),
                Forwards.Make("old", "tcp", "8444", enabled: "false"),
            };
            RulesetDiff diff = RulesetDiff.Compute(desired, current);
            Assert.Equal(new[] { "admin" }, diff.Added.Select(f => f.Name));
            Assert.Equal(new[] { "game" }, diff.Removed.Select(f => f.Name));
            Assert.Equal(new[] { "web" }, diff.Unchanged.Select(f => f.Name));
            ChangedForward changed = Assert.Single(diff.Changed);
            Assert.Equal(new[] { "Protocol" }, changed.Fields);
            Assert.False(diff.IsEmpty);
            Assert.Equal(new[] { "admin", "game", "voip", "voip" }, diff.Touched().Select(f => f.Name).OrderBy(n => n));
        }

        [Fact]
        public void DescribesAThousandUnchangedForwardsInOneShortLine()
        {
            var set = Enumerable.Range(1, 1000).Select(i => Forwards.Make("f" + i, "tcp", (10000 + i).ToString())).ToList();
            string described = RulesetDiff.Compute(set, set).Describe();
            Assert.Equal("  unchanged: f1, f2, f3, f4, f5, f6, f7, f8, f9, f10 and 990 more", described);
            Assert.Equal("  unchanged: f1, f2", RulesetDiff.Compute(set.Take(2).ToList(), set.Take(2).ToList()).Describe());
        }

        [Fact]
        public void TheSameSetIsEmpty()
        {
            var set = new[] { Forwards.Make("web", "tcp", "8080") };
            Assert.True(RulesetDiff.Compute(set, new[] { Forwards.Make("web", "tcp", "8080") }).IsEmpty);
        }

        [Fact]
        public void ADisabledForwardIsRemovedFromTheRouter()
        {
            RulesetDiff diff = RulesetDiff.Compute(new[] { Forwards.Make("web", "tcp", "8080", enabled: "no") }, new[] { Forwards.Make("web", "tcp", "8080") });
            Assert.Equal("web", Assert.Single(diff.Removed).Name);
        }
    }
}
