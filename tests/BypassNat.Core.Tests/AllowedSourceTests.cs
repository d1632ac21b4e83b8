using System.Collections.Generic;
using System.Linq;
using System.Net;
using BypassNat.Apply;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Plan;
using BypassNat.Backends.Uci;
using Xunit;
using BypassNat.Validation;
using BypassNat.Backends;

namespace BypassNat.Tests
{
    /// <summary>
    /// AllowedSource: what the parser accepts and refuses, the one canonical form, and the rules each
    /// backend writes for it and reads back. The real kernel's side is KernelRoundTripTests (random
    /// sets) and tests/pester/AllowedSource.Tests.ps1 (packets in the lab).
    /// </summary>
    public class AllowedSourceTests
    {
        private static BypassForward Parse(string allowedSource, out IReadOnlyList<ForwardIssue> issues, string publicAddress = null, string protocol = "Tcp") =>
            ForwardParser.Parse(new ForwardInput
            {
                Name = "web", Protocol = protocol, ExternalPort = "8080", BypassAddress = "192.0.2.2", InternalAddress = "192.0.2.20", InternalPort = "80",
                AllowedSource = allowedSource, PublicAddress = publicAddress,
            }, 3, out issues);

        private static BypassForward Restricted(string allowedSource, string publicAddress = null, string protocol = "Tcp")
        {
            BypassForward forward = Parse(allowedSource, out IReadOnlyList<ForwardIssue> issues, publicAddress, protocol);
            Assert.Empty(issues);
            return forward;
        }

        [Theory]
        [InlineData(null, "")]
        [InlineData("", "")]
        [InlineData("  ", "")]
        [InlineData("198.51.100.7", "198.51.100.7")]
        [InlineData("198.51.100.7/32", "198.51.100.7")]
        [InlineData("203.0.113.0/24 198.51.100.7;192.0.2.9", "192.0.2.9 198.51.100.7 203.0.113.0/24")]
        [InlineData("198.51.100.7, 198.51.100.7 ;; 198.51.100.7", "198.51.100.7")]
        // Nested entries keep the wider one: the kernel's interval sets refuse overlapping elements.
        [InlineData("198.51.100.7 198.51.100.0/24 198.51.100.128/25", "198.51.100.0/24")]
        [InlineData("198.51.100.0/25\t198.51.100.128/25", "198.51.100.0/25 198.51.100.128/25")]
        public void KeepsOneCanonicalForm(string text, string expected)
        {
            BypassForward forward = Restricted(text);
            Assert.Equal(expected, forward.AllowedSource.ToString());
            Assert.Equal(expected.Length == 0, forward.AllowedSource.IsAny);
            // What Export-Csv writes parses to the same set.
            Assert.Equal(forward.AllowedSource, Restricted(forward.AllowedSource.ToString()).AllowedSource);
        }

        [Theory]
        [InlineData("198.51.100.300", "an entry is an IPv4 address")]
        [InlineData("198.51.100", "an entry is an IPv4 address")]
        [InlineData("example.com", "an entry is an IPv4 address")]
        [InlineData("2001:db8::1", "IPv6 sources need the device's IPv6 address in InternalIPv6")]
        [InlineData("198.51.100.0/33", "a prefix length is a number from 1 to 32")]
        [InlineData("198.51.100.0/", "a prefix length is a number from 1 to 32")]
        [InlineData("198.51.100.7/24", "write 198.51.100.0/24 for the network, or 198.51.100.7 for the one address")]
        [InlineData("0.0.0.0/0", "leave AllowedSource empty")]
        [InlineData("127.0.0.1", "loopback")]
        [InlineData("224.0.0.1", "multicast")]
        [InlineData("198.51.100.010", "leading zero")]
        public void ABadEntryIsNamedWithItsRowFieldAndReason(string entry, string reason)
        {
            BadEntry(entry, reason);
        }

        [Theory]
        [InlineData("\n")]
        [InlineData("\u00a0")]
        public void AValueOfOtherBlanksIsRefusedNotTakenAsEveryClient(string blank)
        {
            // Only an empty cell (or separators alone) admits every client: this is a cell gone wrong.
            Assert.Null(Parse(blank, out IReadOnlyList<ForwardIssue> issues));
            Assert.Equal("BypassNat.InvalidSource", Assert.Single(issues).ErrorId);
            Assert.True(Parse(" ; ", out _).AllowedSource.IsAny);
        }

        private static void BadEntry(string entry, string reason)
        {
            BypassForward forward = Parse("198.51.100.7 " + entry + ";203.0.113.0/24", out IReadOnlyList<ForwardIssue> issues);
            Assert.Null(forward);
            ForwardIssue issue = Assert.Single(issues);
            Assert.Equal("BypassNat.InvalidSource", issue.ErrorId);
            Assert.Equal(3, issue.Row);
            Assert.Equal("AllowedSource", issue.Field);
            Assert.Equal(entry, issue.Value);
            Assert.Contains(reason, issue.Reason);
            Assert.StartsWith($"Row 3: AllowedSource '{entry}' is not valid: ", issue.Message);
        }

        [Fact]
        public void EveryBadEntryIsReportedAndAHostileOneIsShownOnOneLine()
        {
            Parse("x\ny 198.51.100.1/24 $(reboot)", out IReadOnlyList<ForwardIssue> issues);
            Assert.Equal(new[] { "x\ny", "198.51.100.1/24", "$(reboot)" }, issues.Select(i => i.Value));
            Assert.Contains(@"AllowedSource 'x\ny'", issues[0].Message);
        }

        [Fact]
        public void TooManyEntriesAreRefusedOnce()
        {
            string many = string.Join(" ", Enumerable.Range(0, SourceSet.MaxEntries + 1).Select(i => "198.51.100." + i));
            Parse(many, out IReadOnlyList<ForwardIssue> issues);
            Assert.Contains($"at most {SourceSet.MaxEntries}", Assert.Single(issues).Reason);
        }

        [Fact]
        public void AChangedRestrictionIsAModification()
        {
            RulesetDiff diff = RulesetDiff.Compute(new[] { Restricted("198.51.100.0/24") }, new[] { Restricted("198.51.100.7") });
            Assert.Equal(new[] { "AllowedSource" }, diff.Changed.Single().Fields);
            Assert.Equal(new[] { "AllowedSource" }, RulesetDiff.Compute(new[] { Restricted("") }, new[] { Restricted("198.51.100.7") }).Changed.Single().Fields);
            Assert.Empty(RulesetDiff.Compute(new[] { Restricted("198.51.100.7 203.0.113.0/24") }, new[] { Restricted("203.0.113.0/24;198.51.100.7") }).Changed);
        }

        [Fact]
        public void NftablesBypassHopGuardsTheDnatAndAnUnrestrictedTableHasNoTrace()
        {
            BypassForward forward = Restricted("198.51.100.7 203.0.113.0/24", "203.0.113.1", "TcpUdp");
            string nft = NftablesRenderer.Render(new[] { forward }, Golden.Lan());
            Assert.Contains("tcp . 192.0.2.2 . 8080 . 198.51.100.7 comment", nft);
            Assert.Contains("udp . 203.0.113.1 . 8080 . 203.0.113.0/24 comment", nft);
            string[] prerouting = nft.Substring(nft.IndexOf("chain prerouting")).Split('\n');
            Assert.Equal("\t\t" + NftablesSources.Rule(withAddress: true), prerouting[2]);
            Assert.Contains("dnat ip to", prerouting[3]);

            string plain = NftablesRenderer.Render(new[] { Restricted("") }, Golden.Lan());
            Assert.DoesNotContain(NftablesSources.RestrictedSet, plain);
            Assert.DoesNotContain("ip saddr !=", plain);
        }

        [Fact]
        public void IptablesWritesOneDnatRulePerPrefixAndReadsThemAsOneForward()
        {
            BypassForward forward = Restricted("198.51.100.7 203.0.113.0/24", "203.0.113.1", "TcpUdp");
            IReadOnlyList<string> rules = IptablesRenderer.RenderRules(new[] { forward }, Golden.Lan());
            Assert.Equal(8, rules.Count(r => r.Contains("-j DNAT")));
            Assert.All(rules.Where(r => r.Contains("-j DNAT")), r => Assert.Matches(" -s (198.51.100.7/32|203.0.113.0/24) ", r));
            // The source-NAT decisions follow the DNAT (ctstate DNAT) and need no source match.
            Assert.All(rules.Where(r => !r.Contains("-j DNAT")), r => Assert.DoesNotContain("198.51.100.7", r));

            string save = "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:BYPASSNAT_PREROUTING - [0:0]\n:BYPASSNAT_POSTROUTING - [0:0]\n" +
                          "-A PREROUTING -j BYPASSNAT_PREROUTING\n-A POSTROUTING -j BYPASSNAT_POSTROUTING\n" +
                          string.Join("\n", rules.Select(r => r.Replace("\"", ""))) + "\nCOMMIT\n";
            IptablesState state = IptablesReader.Read(save);
            Assert.Empty(state.Problems);
            Assert.Empty(forward.DifferingFields(Assert.Single(state.Forwards)));

            // One prefix's rule gone: the rest no longer says what the forward admits on every key.
            IptablesState partial = IptablesReader.Read(string.Join("\n", save.Split('\n').Where(l => !(l.Contains("-p udp") && l.Contains("role=public") && l.Contains("198.51.100.7")))));
            Assert.NotEmpty(partial.Problems);
            Assert.DoesNotContain(partial.Forwards, f => f.DifferingFields(forward).Count == 0);
        }

        [Fact]
        public void NftablesReaderRefusesRestrictedElementsWithoutTheirGuard()
        {
            BypassForward forward = Restricted("198.51.100.0/24");
            string listing = NftablesRenderer.Render(new[] { forward }, Golden.Lan());
            // Written by the renderer, read as nft lists it (it drops the declare and delete lines).
            string table = listing.Substring(listing.IndexOf("table ip bypassnat {"));
            NftablesState whole = NftablesReader.Read(table);
            Assert.True(whole.InPlace, whole.Repair);
            Assert.Empty(whole.Problems);
            Assert.Empty(forward.DifferingFields(Assert.Single(whole.Forwards)));

            NftablesState unguarded = NftablesReader.Read(table.Replace("\t\t" + NftablesSources.Rule(withAddress: true) + "\n", string.Empty));
            Assert.False(unguarded.InPlace);

            NftablesState widened = NftablesReader.Read(table.Replace("8080 . 198.51.100.0/24 comment", "8081 . 198.51.100.0/24 comment"));
            Assert.NotEmpty(widened.Problems);
            Assert.Empty(widened.Forwards);
        }

        [Fact]
        public void TheMainHopRestrictsTheExternalPortOnBothBackends()
        {
            var context = new RenderContext(new[] { new Ipv4Prefix(IPAddress.Parse("192.0.2.0"), 24) }, "wan0");
            BypassForward forward = Restricted("198.51.100.7 203.0.113.0/24", "203.0.113.1", "TcpUdp");
            string nft = MainNftablesRenderer.Render(new[] { forward }, context);
            Assert.Contains("tcp . 8080 . 203.0.113.0/24 comment", nft);
            Assert.Contains(NftablesSources.Rule(withAddress: false), nft);
            MainState read = MainNftablesReader.Read(nft.Substring(nft.IndexOf("table ip bypassnat_main {")), "wan0");
            Assert.Empty(read.Problems);
            Assert.True(read.InPlace, read.Repair);
            Assert.Empty(MainHop.Project(forward).DifferingFields(Assert.Single(read.Forwards)));

            IReadOnlyList<string> rules = MainIptablesRenderer.RenderRules(new[] { forward }, context);
            Assert.Equal(8, rules.Count(r => r.Contains("-j DNAT")));
            Assert.All(rules.Where(r => r.Contains("-j DNAT")), r => Assert.Matches("^-A BYPASSNAT_MAIN_PREROUTING -s (198.51.100.7/32|203.0.113.0/24) ", r));
        }

        [Fact]
        public void UciHoldsOnePrefixAsSrcIpAndRefusesWhatItCannotHoldExactly()
        {
            UciRedirect one = UciRedirect.From(Restricted("198.51.100.0/24"));
            Assert.Equal("198.51.100.0/24", one.Options["src_ip"]);
            Assert.Contains("set firewall.bypassnat_web.src_ip='198.51.100.0/24'", UciBatch.RenderAll(new[] { one }));
            Assert.False(UciRedirect.From(Restricted("")).Options.ContainsKey("src_ip"));

            var backend = new UciBackend();
            var state = backend.Read(new UciState(new[] { one }, new string[0]));
            Assert.Empty(state.Problems);
            Assert.Equal("198.51.100.0/24", Assert.Single(state.Forwards).AllowedSource.ToString());

            var two = Assert.Throws<BypassNatException>(() => UciRedirect.From(Restricted("198.51.100.7 203.0.113.0/24")));
            Assert.Equal("BypassNat.SourceNotUci", two.ErrorId);
            Assert.Contains("Nothing was changed", two.Message);
            var reflected = Assert.Throws<BypassNatException>(() => UciRedirect.From(Restricted("198.51.100.7", "203.0.113.1")));
            Assert.Contains("reflection", reflected.Message);
        }

        [Fact]
        public void ThePlanNamesTheAllowedSourcesAtBothHops()
        {
            IReadOnlyList<ForwardPlanEntry> plan = ForwardPlanEntry.For(new[] { Restricted("203.0.113.0/24 198.51.100.7") }, new[] { RouterRole.Main, RouterRole.Bypass }, "main router");
            Assert.Equal(2, plan.Count);
            Assert.All(plan, e => Assert.Equal("198.51.100.7 203.0.113.0/24", e.AllowedSource));
        }

        [Fact]
        public void DriftShowsAnyForAnUnrestrictedSide()
        {
            var state = new NftablesState { TableExists = true, PreroutingHooked = true, PostroutingHooked = true };
            state.Forwards.Add(Restricted(""));
            var drift = ForwardDrift.Compare("r", new[] { Restricted("198.51.100.7") }, state);
            Assert.Contains("AllowedSource: any -> 198.51.100.7", drift.Single().Detail);
        }
    }
}
