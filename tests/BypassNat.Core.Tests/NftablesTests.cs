using System.Linq;
using System.Net;
using BypassNat.Backends.Nftables;
using Xunit;

namespace BypassNat.Tests
{
    public class NftablesTests
    {
        private static BypassForward[] ExampleSet() => Golden.ExampleSet();

        [Fact]
        public void RendersOneFileThatReplacesTheTableWhole() =>
            Assert.Equal(Golden.Read("example.nft"), NftablesRenderer.Render(ExampleSet(), Golden.Lan()));

        [Fact]
        public void TheSameSetRendersTheSameFileInAnyOrder()
        {
            // A saved set written back from what the router listed must be the file written from the CSV.
            BypassForward[] set = ExampleSet();
            Assert.Equal(NftablesRenderer.Render(set, Golden.Lan()), NftablesRenderer.Render(set.Reverse(), Golden.Lan()));
        }

        [Fact]
        public void APacketMeetsTheSameRulesHoweverManyForwardsThereAre()
        {
            // The per-packet work is the chains' rules (each one map or set lookup); only the maps grow.
            string Chains(string text) => text.Substring(text.IndexOf("\tchain prerouting", System.StringComparison.Ordinal));
            var one = new[] { Forwards.Make("f0", "tcp", "10000") };
            var many = Enumerable.Range(0, 300).Select(i => Forwards.Make("f" + i, "tcpudp", (10000 + i).ToString())).ToArray();
            Assert.Equal(Chains(NftablesRenderer.Render(one, Golden.Lan())), Chains(NftablesRenderer.Render(many, Golden.Lan())));
        }

        [Fact]
        public void TwoForwardsToOneDevicePortShareItsElements()
        {
            string text = NftablesRenderer.Render(new[] { Forwards.Make("a", "tcp", "80"), Forwards.Make("b", "tcp", "8080", internalPort: "80") }, Golden.Lan());
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, @"tcp \. 192\.0\.2\.20 \. 80 comment ""[^""]*role=keep"));
            Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, @"tcp \. 192\.0\.2\.20 \. 80 comment ""[^""]*role=reflect"));
            Assert.Equal(2, NftablesReader.Read(text).Forwards.Count);
        }

        [Fact]
        public void AnEmptySetStillDefinesTheTableWithEmptyMaps()
        {
            string text = NftablesRenderer.Render(new BypassForward[0]);
            Assert.DoesNotContain("elements", text);
            Assert.Contains("chain prerouting", text);
        }

        // As nft 1.0.6 lists it with -nn: numeric protocols, priorities and ct status, and elements
        // in hash order, several sharing a line with the braces.
        private static readonly string Listed = Golden.Read("example.nft-list");

        [Fact]
        public void ReadsForwardsBackFromTheListing()
        {
            NftablesState state = NftablesReader.Read(Listed);
            Assert.True(state.InPlace);
            Assert.Empty(state.Problems);
            BypassForward[] enabled = ExampleSet().Where(f => f.Enabled).ToArray();
            Assert.Equal(enabled.Length, state.Forwards.Count);
            foreach (BypassForward forward in enabled)
                Assert.Empty(forward.DifferingFields(state.Forwards.Single(f => f.Name == forward.Name)));
        }

        [Fact]
        public void WhatTheRendererWritesTheReaderReadsBack()
        {
            BypassForward[] set =
            {
                Forwards.Make("a", "udp", "1-3", bypassPort: "65533-65535", internalPort: "100-102", comment: "ü \"q\" ,;=%"),
                Forwards.Make("b", "tcpudp", "443", internalAddress: "203.0.113.9", internalPort: "8443", sourceNat: "yes"),
                Forwards.Make("c", "tcpudp", "6000-6001", internalPort: "7000-7001").WithPublicAddress(IPAddress.Parse("198.51.100.1")),
            };
            NftablesState state = NftablesReader.Read(NftablesRenderer.Render(set, Golden.Lan()));
            Assert.Empty(state.Problems);
            Assert.True(state.InPlace);
            foreach (BypassForward forward in set)
                Assert.Empty(forward.DifferingFields(state.Forwards.Single(f => f.Name == forward.Name)));
        }

        [Fact]
        public void AForwardMissingAnElementIsAProblemNotAForward()
        {
            string broken = Listed.Replace(
                "\t\t\t     17 . 192.0.2.2 . 19001 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9001,\n", string.Empty);
            Assert.NotEqual(Listed, broken);
            NftablesState state = NftablesReader.Read(broken);
            Assert.DoesNotContain(state.Forwards, f => f.Name == "voip");
            Assert.Contains(state.Problems, p => p.Contains("'voip'"));
        }

        [Fact]
        public void NoTableMeansNothingPresent()
        {
            NftablesState state = NftablesReader.Read(string.Empty);
            Assert.False(state.Present);
            Assert.False(state.InPlace);
            Assert.Empty(state.Forwards);
        }

        [Fact]
        public void AnUnhookedTableIsPresentButNotInPlace()
        {
            NftablesState state = NftablesReader.Read(Listed.Replace("dnat ip to", "accept #"));
            Assert.True(state.Present);
            Assert.False(state.InPlace);
            Assert.NotNull(state.Repair);
        }
    }
}
