using System.Linq;
using BypassNat.Nftables;
using Xunit;

namespace BypassNat.Tests
{
    public class NftablesTests
    {
        private static BypassForward[] ExampleSet() => new[]
        {
            Forwards.Make("web", "tcp", "8080", internalPort: "80", comment: "NAS web UI"),
            Forwards.Make("voip", "tcpudp", "9001-9002", bypassPort: "19001-19002", internalPort: "9001-9002"),
            Forwards.Make("far", "tcp", "2222", internalAddress: "198.51.100.7", internalPort: "22", sourceNat: "true"),
            Forwards.Make("off", "udp", "5000", enabled: "false"),
        };

        [Fact]
        public void RendersOneFileThatReplacesTheTableWhole()
        {
            string expected =
                "table ip bypassnat\n" +
                "delete table ip bypassnat\n" +
                "table ip bypassnat {\n" +
                "\tmap forwards {\n" +
                "\t\ttype inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service\n" +
                "\t\telements = {\n" +
                "\t\t\ttcp . 192.0.2.2 . 8080 comment \"bypassnat;name=web;ext=8080;note=NAS%20web%20UI\" : 192.0.2.20 . 80,\n" +
                "\t\t\ttcp . 192.0.2.2 . 19001 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9001,\n" +
                "\t\t\ttcp . 192.0.2.2 . 19002 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9002,\n" +
                "\t\t\tudp . 192.0.2.2 . 19001 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9001,\n" +
                "\t\t\tudp . 192.0.2.2 . 19002 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9002,\n" +
                "\t\t\ttcp . 192.0.2.2 . 2222 comment \"bypassnat;name=far;ext=2222\" : 198.51.100.7 . 22\n" +
                "\t\t}\n" +
                "\t}\n\n" +
                "\tmap sourcenat {\n" +
                "\t\ttype inet_proto . ipv4_addr . inet_service : ipv4_addr\n" +
                "\t\telements = {\n" +
                "\t\t\ttcp . 198.51.100.7 . 22 comment \"bypassnat;name=far;ext=2222\" : 192.0.2.2\n" +
                "\t\t}\n" +
                "\t}\n\n" +
                "\tchain prerouting {\n" +
                "\t\ttype nat hook prerouting priority dstnat - 10; policy accept;\n" +
                "\t\tmeta l4proto { tcp, udp } dnat ip to meta l4proto . ip daddr . th dport map @forwards\n" +
                "\t}\n\n" +
                "\tchain postrouting {\n" +
                "\t\ttype nat hook postrouting priority srcnat - 10; policy accept;\n" +
                "\t\tct status dnat meta l4proto { tcp, udp } snat ip to meta l4proto . ip daddr . th dport map @sourcenat\n" +
                "\t}\n" +
                "}\n";
            Assert.Equal(expected, NftablesRenderer.Render(ExampleSet()));
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
        private const string Listed =
            "table ip bypassnat {\n" +
            "\tmap forwards {\n" +
            "\t\ttype inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service\n" +
            "\t\telements = { 17 . 192.0.2.2 . 19002 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9002,\n" +
            "\t\t\t     6 . 192.0.2.2 . 8080 comment \"bypassnat;name=web;ext=8080;note=NAS%20web%20UI\" : 192.0.2.20 . 80,\n" +
            "\t\t\t     6 . 192.0.2.2 . 19001 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9001,\n" +
            "\t\t\t     6 . 192.0.2.2 . 2222 comment \"bypassnat;name=far;ext=2222\" : 198.51.100.7 . 22,\n" +
            "\t\t\t     17 . 192.0.2.2 . 19001 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9001,\n" +
            "\t\t\t     6 . 192.0.2.2 . 19002 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.20 . 9002 }\n" +
            "\t}\n\n" +
            "\tmap sourcenat {\n" +
            "\t\ttype inet_proto . ipv4_addr . inet_service : ipv4_addr\n" +
            "\t\telements = { 6 . 198.51.100.7 . 22 comment \"bypassnat;name=far;ext=2222\" : 192.0.2.2 }\n" +
            "\t}\n\n" +
            "\tchain prerouting {\n" +
            "\t\ttype nat hook prerouting priority -110; policy accept;\n" +
            "\t\tmeta l4proto { 6, 17 } dnat ip to meta l4proto . ip daddr . th dport map @forwards\n" +
            "\t}\n\n" +
            "\tchain postrouting {\n" +
            "\t\ttype nat hook postrouting priority 90; policy accept;\n" +
            "\t\tct status 0x20 meta l4proto { 6, 17 } snat to meta l4proto . ip daddr . th dport map @sourcenat\n" +
            "\t}\n" +
            "}\n";

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
            };
            NftablesState state = NftablesReader.Read(NftablesRenderer.Render(set));
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
