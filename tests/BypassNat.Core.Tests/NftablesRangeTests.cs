using System.Linq;
using System.Net;
using System.Text.RegularExpressions;
using BypassNat.Backends.Nftables;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// Port ranges in the nftables backend: a range kept as it is is one interval element, so a
    /// 60,000-port forward costs a few elements, not 120,000, and still reads back whole.
    /// </summary>
    public class NftablesRangeTests
    {
        // What nft 1.0.6 listed (-nn) after loading the rendering of: wide (TcpUdp 2000-61999 kept as
        // it is, source NAT, public address), web (tcp 80) and alt (tcp 62080 to device port 2500,
        // inside wide's device ports, so its keep and reflect elements are left to wide).
        private static readonly string Listed = Golden.Read("range.nft-list");

        private static BypassForward[] RangeSet() => new[]
        {
            Forwards.Make("wide", "tcpudp", "2000-61999", sourceNat: "true", comment: "the whole range").WithPublicAddress(IPAddress.Parse("203.0.113.1")),
            Forwards.Make("web", "tcp", "80"),
            Forwards.Make("alt", "tcp", "62080", internalPort: "2500"),
        };

        [Fact]
        public void ReadsARangeBackFromTheKernelListing()
        {
            NftablesState state = NftablesReader.Read(Listed);
            Assert.Empty(state.Problems);
            Assert.True(state.InPlace);
            foreach (BypassForward forward in RangeSet())
                Assert.Empty(forward.DifferingFields(state.Forwards.Single(f => f.Name == forward.Name)));
        }

        [Fact]
        public void ASixtyThousandPortRangeIsOneIntervalElementPerProtocolInEachCollection()
        {
            string text = NftablesRenderer.Render(new[] { Forwards.Make("wide", "tcpudp", "2000-61999") }, Golden.Lan());
            // ranges, targets and reflect: one element each for tcp and udp.
            Assert.Equal(6, Regex.Matches(text, @"\. 2000-61999 comment").Count);
            Assert.Equal(6, Regex.Matches(text, @"comment """).Count);
            Assert.Empty(NftablesReader.Read(text).Problems);
        }

        [Fact]
        public void SingleDevicePortsAreInHashCollectionsAndOnlyRangesInIntervalOnes()
        {
            // A new connection is looked up in each; an interval lookup grows with its elements, a hash lookup does not.
            string text = NftablesRenderer.Render(new[]
            {
                Forwards.Make("wide", "tcp", "2000-2999", sourceNat: "true"),
                Forwards.Make("web", "tcp", "80", sourceNat: "true"),
            }, Golden.Lan());
            string Collection(string name) => Regex.Match(text, @"(map|set) " + name + @" \{[^}]*\}[^}]*\}").Value;
            foreach (string hashed in new[] { NftablesTable.SourceNatMap, NftablesTable.ReflectMap, NftablesTable.TargetsSet })
            {
                Assert.DoesNotContain("flags interval", Collection(hashed));
                Assert.Contains("192.0.2.20 . 80 comment", Collection(hashed));
                Assert.DoesNotContain("2000-2999", Collection(hashed));
            }

            foreach (string interval in new[] { NftablesTable.SourceNatRangesMap, NftablesTable.ReflectRangesMap, NftablesTable.TargetRangesSet })
            {
                Assert.Contains("flags interval", Collection(interval));
                Assert.Contains("192.0.2.20 . 2000-2999 comment", Collection(interval));
                Assert.DoesNotContain(". 80 comment", Collection(interval));
            }

            Assert.Equal(2, NftablesReader.Read(text).Forwards.Count(f => f.SourceNat));
        }

        [Fact]
        public void AShiftedRangeStillMapsEachPortToItsOwnDevicePort()
        {
            BypassForward shifted = Forwards.Make("shift", "udp", "3000-3004", internalPort: "4000-4004");
            string text = NftablesRenderer.Render(new[] { shifted });
            Assert.Contains("udp . 192.0.2.2 . 3004 comment \"bypassnat;name=shift;ext=3000-3004\" : 192.0.2.20 . 4004", text);
            Assert.Contains("udp . 192.0.2.20 . 4000-4004 comment", text);
            NftablesState state = NftablesReader.Read(text);
            Assert.Empty(shifted.DifferingFields(Assert.Single(state.Forwards)));
        }

        [Fact]
        public void ARangeThatNoLongerCoversTheForwardsPortsIsAProblem()
        {
            string shrunk = Listed.Replace("17 . 192.0.2.2 . 2000-61999", "17 . 192.0.2.2 . 2000-60999");
            Assert.NotEqual(Listed, shrunk);
            NftablesState state = NftablesReader.Read(shrunk);
            Assert.DoesNotContain(state.Forwards, f => f.Name == "wide");
            Assert.Contains(state.Problems, p => p.Contains("'wide'"));
        }

        [Fact]
        public void ASourceNatThatCoversOnlyPartOfTheDevicePortsIsAProblem()
        {
            string partial = Listed.Replace("17 . 192.0.2.20 . 2000-61999 comment \"bypassnat;name=wide;ext=2000-61999\" : 192.0.2.2 }",
                "17 . 192.0.2.20 . 2000-3000 comment \"bypassnat;name=wide;ext=2000-61999\" : 192.0.2.2 }");
            Assert.NotEqual(Listed, partial);
            Assert.DoesNotContain(NftablesReader.Read(partial).Forwards, f => f.Name == "wide");
        }

        [Fact]
        public void WithoutTheRangesRuleTheTableIsNotInPlace()
        {
            string old = Listed.Replace("\t\tmeta l4proto { 6, 17 } dnat to meta l4proto . ip daddr . th dport map @ranges\n", string.Empty);
            Assert.NotEqual(Listed, old);
            Assert.False(NftablesReader.Read(old).InPlace);
        }
    }
}
