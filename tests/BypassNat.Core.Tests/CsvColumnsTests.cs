using System.Collections.Generic;
using System.Linq;
using BypassNat.Validation;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// A CSV's header is checked before its rows (<see cref="CsvColumns"/>): a misspelt column is named
    /// with the column it was meant to be, a column like none is ignored, and a ';'-separated file read
    /// with ',' is one problem instead of every row's.
    /// </summary>
    public class CsvColumnsTests
    {
        // The columns New-BypassForward takes from a CSV (a few of them, as the cmdlet lists its parameters).
        private static readonly string[] Known = { "Name", "Protocol", "ExternalPort", "BypassAddress", "BypassPort", "InternalAddress", "InternalPort", "Comment" };

        [Fact]
        public void TheKnownColumnsInAnyCaseAreNoProblem()
        {
            CsvColumns columns = CsvColumns.Check(new[] { "name", "PROTOCOL", "ExternalPort", "InternalAddress" }, Known);

            Assert.Empty(columns.Issues);
            Assert.Empty(columns.Ignored);
            Assert.Empty(columns.Misspelt);
            Assert.False(columns.WrongDelimiter);
        }

        [Fact]
        public void AMisspeltColumnIsNamedWithTheColumnItWasMeantToBe()
        {
            CsvColumns columns = CsvColumns.Check(new[] { "Name", "InternalAdress", "ExternalPort" }, Known);

            ForwardIssue issue = Assert.Single(columns.Issues);
            Assert.Equal("BypassNat.UnknownColumn", issue.ErrorId);
            Assert.Equal(0, issue.Row);
            Assert.Equal("Column", issue.Field);
            Assert.Equal("InternalAdress", issue.Value);
            Assert.Contains("did you mean 'InternalAddress'?", issue.Reason);
            // Its rows' "InternalAddress is missing" would say nothing new: the cmdlet leaves those out.
            Assert.Equal(new[] { "InternalAddress" }, columns.Misspelt.ToArray());
            Assert.Empty(columns.Ignored);
            Assert.False(columns.WrongDelimiter);
        }

        [Fact]
        public void BlanksUnderscoresAndCaseDoNotMakeAnotherColumn()
        {
            Assert.Equal("InternalAddress", CsvColumns.Closest("internal_address", Known));
            Assert.Equal("InternalAddress", CsvColumns.Closest("Internal Address", Known));
            Assert.Equal("ExternalPort", CsvColumns.Closest("EXTERNAL-PORT", Known));
        }

        [Fact]
        public void AColumnLikeNoKnownOneIsIgnoredAsExtraData()
        {
            CsvColumns columns = CsvColumns.Check(new[] { "Name", "Notes", "Owner", "ExternalPort" }, Known);

            Assert.Empty(columns.Issues);
            Assert.Equal(new[] { "Notes", "Owner" }, columns.Ignored);
            Assert.Empty(columns.Misspelt);
        }

        [Theory]
        // One slip per four letters, and at least two: the edges of what is taken for a typo.
        [InlineData("Prtocol", "Protocol")]        // 1 slip in 7 letters
        [InlineData("Protcl", "Protocol")]         // 2 slips in 6 letters: two are allowed however short
        [InlineData("Prtcl", null)]                // 3 slips in 5 letters
        [InlineData("IntrnalAdres", "InternalAddress")]  // 3 slips in 12 letters: 12 / 4 = 3
        [InlineData("IntrnlAdres", null)]          // 4 slips in 11 letters: 11 / 4 = 2
        [InlineData("ExtrnalPrt", "ExternalPort")] // 2 slips: the nearest column, not InternalPort
        public void AColumnIsATypoOfTheNearestKnownOneOnlyWhenCloseEnough(string column, string meant)
        {
            Assert.Equal(meant, CsvColumns.Closest(column, Known));
        }

        [Fact]
        public void TheNearestOfTwoCloseColumnsWins()
        {
            // "BypasPort" is one slip from BypassPort and more from every other column.
            Assert.Equal("BypassPort", CsvColumns.Closest("BypasPort", Known));
            Assert.Equal("InternalPort", CsvColumns.Closest("InternalPrt", Known));
            Assert.Null(CsvColumns.Closest("Name", new string[0]));
        }

        [Fact]
        public void ASemicolonSeparatedFileReadWithCommasIsOneProblemNamingTheDelimiter()
        {
            string header = "Name;Protocol;ExternalPort;InternalAddress";
            CsvColumns columns = CsvColumns.Check(new[] { header }, Known);

            ForwardIssue issue = Assert.Single(columns.Issues);
            Assert.Equal("BypassNat.WrongDelimiter", issue.ErrorId);
            Assert.Equal(0, issue.Row);
            Assert.Equal("Columns", issue.Field);
            Assert.Equal(header, issue.Value);
            Assert.Contains("Import-Csv -Delimiter ';'", issue.Reason);
            Assert.True(columns.WrongDelimiter);
            // Not also "no column 'Name;Protocol;...'": that would only repeat it.
            Assert.Empty(columns.Ignored);
            Assert.Empty(columns.Misspelt);
        }

        [Fact]
        public void OnlyASingleColumnWithASemicolonIsTakenForTheWrongDelimiter()
        {
            // One known column alone is a CSV with one column, not a ';'-separated one.
            Assert.False(CsvColumns.Check(new[] { "Name" }, Known).WrongDelimiter);
            // Two columns were split, so ',' was the delimiter: a ';' in one is part of its name.
            CsvColumns two = CsvColumns.Check(new[] { "Name", "Notes;More" }, Known);
            Assert.False(two.WrongDelimiter);
            Assert.Equal(new[] { "Notes;More" }, two.Ignored);
        }
    }
}
