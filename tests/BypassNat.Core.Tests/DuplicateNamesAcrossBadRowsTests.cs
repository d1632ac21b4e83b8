using System.Collections.Generic;
using System.Linq;
using BypassNat.Validation;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Duplicate names where a row did not parse (<see cref="ForwardSetValidator.DuplicateNames"/>): the
    /// set check sees only good rows, so a later row is still told its name is taken when the row it
    /// clashes with is bad, and no clash is reported twice.
    /// </summary>
    public class DuplicateNamesAcrossBadRowsTests
    {
        private static List<KeyValuePair<int, string>> Rows(params string[] names) =>
            names.Select((n, i) => new KeyValuePair<int, string>(i + 1, n)).ToList();

        private static string Report(IReadOnlyList<ForwardIssue> issues) =>
            string.Join("; ", issues.Select(i => $"{i.ErrorId} row {i.Row} {i.Field}={i.Value}: {i.Reason}"));

        [Fact]
        public void ABadRowWithAGoodRowsNameIsReportedNamingTheGoodRow()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.DuplicateNames(Rows("web", "web"), new HashSet<int> { 2 });

            Assert.Equal("BypassNat.DuplicateName row 2 Name=web: the name is already used by row 1; names must be unique", Report(issues));
        }

        [Fact]
        public void AGoodRowAfterABadRowOfTheSameNameIsReportedIgnoringCaseAndBlanks()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.DuplicateNames(Rows("web", " WEB "), new HashSet<int> { 1 });

            Assert.Equal("BypassNat.DuplicateName row 2 Name=WEB: the name is already used by row 1; names must be unique", Report(issues));
        }

        [Fact]
        public void TwoGoodRowsAreLeftToTheSetCheckSoTheClashIsReportedOnce()
        {
            Assert.Empty(ForwardSetValidator.DuplicateNames(Rows("web", "web", "game"), new HashSet<int> { 3 }));
            // Nor a good row after the first good row of a name that a bad row had before both.
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.DuplicateNames(Rows("web", "web", "web"), new HashSet<int> { 1 });
            Assert.Equal("BypassNat.DuplicateName row 2 Name=web: the name is already used by row 1; names must be unique", Report(issues));
        }

        [Fact]
        public void EveryLaterBadRowIsReportedNamingTheFirstRowOfTheName()
        {
            IReadOnlyList<ForwardIssue> issues = ForwardSetValidator.DuplicateNames(Rows("web", "game", "web", "web"), new HashSet<int> { 3, 4 });

            Assert.Equal(new[] { 3, 4 }, issues.Select(i => i.Row));
            Assert.All(issues, i => Assert.Contains("already used by row 1;", i.Reason));
        }

        [Fact]
        public void RowsWithoutANameAreNoDuplicatesOfEachOther()
        {
            Assert.Empty(ForwardSetValidator.DuplicateNames(Rows("", null, "  ", ""), new HashSet<int> { 1, 2, 3, 4 }));
        }
    }
}
