using Xunit;

namespace BypassNat.Tests
{
    public class PortRangeTests
    {
        [Theory]
        [InlineData("80", 80, 80)]
        [InlineData(" 6000-6010 ", 6000, 6010)]
        [InlineData("6000 - 6010", 6000, 6010)]
        [InlineData("1", 1, 1)]
        [InlineData("65535", 65535, 65535)]
        [InlineData("7-7", 7, 7)]
        public void ParsesPortsAndRanges(string text, int start, int end)
        {
            Assert.True(PortRange.TryParse(text, out PortRange range, out string reason), reason);
            Assert.Equal(start, range.Start);
            Assert.Equal(end, range.End);
        }

        [Theory]
        [InlineData("", "required")]
        [InlineData("0", "between 1 and 65535")]
        [InlineData("65536", "between 1 and 65535")]
        [InlineData("-5", "whole number")]
        [InlineData("80a", "whole number")]
        [InlineData("8080-80", "lower port to the higher")]
        [InlineData("1-2-3", "exactly one dash")]
        [InlineData("+80", "whole number")]
        public void RejectsWithAReason(string text, string why)
        {
            Assert.False(PortRange.TryParse(text, out _, out string reason));
            Assert.Contains(why, reason);
        }

        [Fact]
        public void PrintsAsUsersWriteIt()
        {
            Assert.Equal("80", PortRange.Parse("80").ToString());
            Assert.Equal("6000-6010", PortRange.Parse("6000 - 6010").ToString());
        }

        [Fact]
        public void OverlapsAndContains()
        {
            PortRange range = PortRange.Parse("100-200");
            Assert.True(range.Overlaps(PortRange.Parse("200-300")));
            Assert.False(range.Overlaps(PortRange.Parse("201-300")));
            Assert.True(range.Contains(150));
            Assert.False(range.Contains(99));
            Assert.Equal(101, range.Count);
        }
    }
}
