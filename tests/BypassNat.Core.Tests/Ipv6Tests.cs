using System.Collections.Generic;
using System.Linq;
using BypassNat.Backends.Iptables;
using Xunit;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    public class Ipv6Tests
    {
        private static ForwardInput Row(string ipv6, string external = "80", string internalPort = "80", string protocol = "Tcp", string sources = null, string sources6 = null) => new ForwardInput
        {
            Name = "web6", Protocol = protocol, ExternalPort = external, BypassAddress = "192.0.2.2", InternalAddress = "192.0.2.20",
            InternalPort = internalPort, InternalIPv6 = ipv6, AllowedSource = sources, AllowedSourceIPv6 = sources6,
        };

        private static BypassForward Parse(ForwardInput input)
        {
            BypassForward forward = ForwardParser.Parse(input, 3, out IReadOnlyList<ForwardIssue> issues);
            Assert.Empty(issues);
            return forward;
        }

        private static ForwardIssue Refused(ForwardInput input)
        {
            BypassForward forward = ForwardParser.Parse(input, 3, out IReadOnlyList<ForwardIssue> issues);
            Assert.Null(forward);
            return Assert.Single(issues);
        }

        [Theory]
        [InlineData("::20", true, "::20/::ffff:ffff:ffff:ffff", "::20/-64")]
        [InlineData(" ::a:b:c:d ", true, "::a:b:c:d/::ffff:ffff:ffff:ffff", "::a:b:c:d/-64")]
        [InlineData("2001:db8:1::20", false, "2001:db8:1::20/128", "2001:db8:1::20")]
        [InlineData("2001:DB8:1:0:0:0:0:20", false, "2001:db8:1::20/128", "2001:db8:1::20")]
        public void ReadsAnInterfaceIdentifierOrAFullAddress(string text, bool identifier, string iptables, string uci)
        {
            Ipv6Host host = Parse(Row(text)).InternalIPv6;
            Assert.Equal(identifier, host.IsInterfaceIdentifier);
            Assert.Equal(iptables, host.IptablesMatch);
            Assert.Equal(uci, host.UciAddress);
        }

        [Fact]
        public void AnIdentifierMatchesTheLow64BitsInNftables()
        {
            Assert.Equal("ip6 daddr & ::ffff:ffff:ffff:ffff == ::20", Parse(Row("::20")).InternalIPv6.NftMatch("daddr"));
            Assert.Equal("ip6 saddr 2001:db8:1::20", Parse(Row("2001:db8:1::20")).InternalIPv6.NftMatch("saddr"));
        }

        [Fact]
        public void AnEmptyCellIsAnIpv4OnlyForward()
        {
            Assert.Null(Parse(Row("")).InternalIPv6);
            Assert.Null(Parse(Row(null)).InternalIPv6);
        }

        [Theory]
        [InlineData("192.0.2.20", "an IPv6 interface identifier such as ::20")]
        [InlineData("::20/64", "without a prefix length")]
        [InlineData("fe80::20%eth0", "without a prefix length or zone")]
        [InlineData("::", "the unspecified address")]
        [InlineData("2001:db8:1::", "subnet-router anycast")]
        [InlineData("ff02::1", "multicast")]
        [InlineData("fe80::20", "link-local")]
        [InlineData("::ffff:192.0.2.20", "IPv4-mapped")]
        [InlineData("::20::1", "an IPv6 interface identifier")]
        public void RefusesWhatIsNoDevice(string text, string why)
        {
            ForwardIssue issue = Refused(Row(text));
            Assert.Equal("BypassNat.InvalidAddress", issue.ErrorId);
            Assert.Equal(3, issue.Row);
            Assert.Equal("InternalIPv6", issue.Field);
            Assert.Equal(text.Trim(), issue.Value);
            Assert.Contains(why, issue.Reason);
        }

        [Fact]
        public void RefusesPortTranslationOnIpv6()
        {
            ForwardIssue issue = Refused(Row("::20", external: "8080", internalPort: "80"));
            Assert.Equal("BypassNat.Ipv6PortTranslation", issue.ErrorId);
            Assert.Equal("InternalIPv6", issue.Field);
            Assert.Contains("ExternalPort 8080", issue.Reason);
            Assert.Contains("InternalPort (80) must be the same", issue.Reason);
        }

        [Fact]
        public void AllowedSourceSplitsTheFamilies()
        {
            BypassForward forward = Parse(Row("::20", sources: "198.51.100.0/24 2001:db8:100::/48; 2001:db8:200::7"));
            Assert.Equal("198.51.100.0/24", forward.AllowedSource.ToString());
            Assert.Equal("2001:db8:100::/48 2001:db8:200::7", forward.AllowedSourceIPv6.ToString());
            forward = Parse(Row("::20", sources: "198.51.100.0/24", sources6: "2001:db8:100::/48"));
            Assert.Equal("2001:db8:100::/48", forward.AllowedSourceIPv6.ToString());
        }

        [Theory]
        [InlineData("198.51.100.0/24", null, "no IPv6 entries, so its IPv6 pinhole would admit every client")]
        [InlineData("2001:db8:100::/48", null, "no IPv4 entries, so its IPv4 forward would admit every client")]
        [InlineData("198.51.100.0/24 2001:db8:100::1/48", null, "bits set beyond the /48")]
        [InlineData("198.51.100.0/24 2001:db8:100::/129", null, "a number from 1 to 128")]
        [InlineData("198.51.100.0/24", "198.51.100.7", "an IPv6 entry is an address")]
        public void RefusesSourcesThatWouldWidenOrCannotBeRead(string sources, string sources6, string why)
        {
            ForwardIssue issue = Refused(Row("::20", sources: sources, sources6: sources6));
            Assert.Equal("BypassNat.InvalidSource", issue.ErrorId);
            Assert.Contains(why, issue.Reason);
        }

        [Fact]
        public void Ipv6SourcesNeedInternalIpv6()
        {
            ForwardIssue issue = Refused(Row(null, sources: "198.51.100.0/24 2001:db8:100::/48"));
            Assert.Equal("AllowedSource", issue.Field);
            Assert.Contains("need the device's IPv6 address in InternalIPv6", issue.Reason);
        }

        [Fact]
        public void TheMainRouterOpensOnlyThatPortAndProtocolToTheIdentifier()
        {
            var forwards = new[] { Parse(Row("::20", protocol: "TcpUdp")), Parse(Row(null)) };
            IReadOnlyList<string> rules = Ipv6Pinholes.MainRules(forwards.Where(f => f.InternalIPv6 != null));
            Assert.Equal(new[]
            {
                "-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --dport 80 -m comment --comment \"bypassnat;name=web6;ext=80;role=pinhole\" -j ACCEPT",
                "-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp -m udp --dport 80 -m comment --comment \"bypassnat;name=web6;ext=80;role=pinhole\" -j ACCEPT",
            }, rules);
        }

        [Fact]
        public void AllowedSourceNarrowsBothHops()
        {
            BypassForward forward = Parse(Row("2001:db8:1::20", external: "9001-9003", internalPort: "9001-9003", sources: "198.51.100.0/24 2001:db8:100::/48 2001:db8:200::7"));
            Assert.Equal(new[]
            {
                "-A BYPASSNAT6_FORWARD -s 2001:db8:100::/48 -d 2001:db8:1::20/128 -p tcp -m tcp --dport 9001:9003 -m comment --comment \"bypassnat;name=web6;ext=9001-9003;role=pinhole\" -j ACCEPT",
                "-A BYPASSNAT6_FORWARD -s 2001:db8:200::7/128 -d 2001:db8:1::20/128 -p tcp -m tcp --dport 9001:9003 -m comment --comment \"bypassnat;name=web6;ext=9001-9003;role=pinhole\" -j ACCEPT",
            }, Ipv6Pinholes.MainRules(new[] { forward }));
            Assert.Equal(
                "-A BYPASSNAT6_RAW -s 2001:db8:1::20/128 -d 2001:db8:100::/48 -p tcp -m tcp --sport 9001:9003 -m comment --comment \"bypassnat;name=web6;ext=9001-9003;role=reply6\" -j CT --notrack",
                Ipv6Pinholes.BypassRules(new[] { forward }, raw: true)[0]);
            Assert.Equal(
                "-A BYPASSNAT6_PROXY -s 2001:db8:1::20/128 -d 2001:db8:200::7/128 -p tcp -m tcp --sport 9001:9003 -m conntrack --ctstate UNTRACKED -m comment --comment \"bypassnat;name=web6;ext=9001-9003;role=reply6\" -j ACCEPT",
                Ipv6Pinholes.BypassRules(new[] { forward }, raw: false)[1]);
        }

        private const string BypassRead = "@raw\n*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:BYPASSNAT6_RAW - [0:0]\n-A PREROUTING -j BYPASSNAT6_RAW\n{0}COMMIT\n" +
                                          "@mangle\n*mangle\n:PREROUTING ACCEPT [0:0]\n:BYPASSNAT6_PROXY - [0:0]\n:V2RAY - [0:0]\n{1}-A PREROUTING -j V2RAY\n{2}COMMIT\n";

        [Fact]
        public void ABypassRouterThatHoldsTheRulesNeedsNoWrite()
        {
            var forwards = new[] { Parse(Row("::20")) };
            string raw = string.Concat(Ipv6Pinholes.BypassRules(forwards, true).Select(r => r + "\n"));
            string mangle = string.Concat(Ipv6Pinholes.BypassRules(forwards, false).Select(r => r + "\n"));
            Ipv6State state = Ipv6State.Parse(string.Format(BypassRead, raw, "-A PREROUTING -j BYPASSNAT6_PROXY\n", mangle));
            Ipv6Pinholes plan = Ipv6Pinholes.For(RouterRole.Bypass, state, forwards, "192.0.2.2");
            Assert.True(plan.InPlace);
            Assert.False(plan.NeedsWrite);
            Assert.Equal("::20", Assert.Single(state.Forwards()).Value.Host.ToString());

            // The proxy put its jump first (a restart): the jump moves back to first, in one transaction.
            state = Ipv6State.Parse(string.Format(BypassRead, raw, string.Empty, "-A PREROUTING -j BYPASSNAT6_PROXY\n" + mangle));
            plan = Ipv6Pinholes.For(RouterRole.Bypass, state, forwards, "192.0.2.2");
            Assert.True(plan.NeedsWrite);
            string script = plan.Script("");
            Assert.Contains("*mangle\n-D PREROUTING -j BYPASSNAT6_PROXY\n:BYPASSNAT6_PROXY - [0:0]\n-F BYPASSNAT6_PROXY\n", script);
            Assert.Contains("-I PREROUTING 1 -j BYPASSNAT6_PROXY\nCOMMIT\n", script);
            Assert.Equal("the jump to BYPASSNAT6_PROXY is not the first rule of mangle PREROUTING (1 jump(s))", plan.Verify(string.Format(BypassRead, raw, string.Empty, "-A PREROUTING -j BYPASSNAT6_PROXY\n" + mangle)));
        }

        [Fact]
        public void ReadsEachForwardsIpv6PartBackFromEitherHop()
        {
            BypassForward forward = Parse(Row("::20", sources: "198.51.100.0/24 2001:db8:100::/48 2001:db8:200::7"));
            string main = "@filter\n*filter\n:FORWARD DROP [0:0]\n:BYPASSNAT6_FORWARD - [0:0]\n-A FORWARD -j BYPASSNAT6_FORWARD\n" +
                          string.Concat(Ipv6Pinholes.MainRules(new[] { forward }).Select(r => r + "\n")) + "COMMIT\n";
            string bypass = string.Format(BypassRead, string.Concat(Ipv6Pinholes.BypassRules(new[] { forward }, true).Select(r => r + "\n")), string.Empty, string.Empty);
            foreach (string read in new[] { main, bypass })
            {
                var (host, sources) = Assert.Single(Ipv6State.Parse(read).Forwards()).Value;
                Assert.Equal(forward.InternalIPv6, host);
                Assert.Equal("2001:db8:100::/48 2001:db8:200::7", sources.ToString());
            }
        }

        [Fact]
        public void NoIpv6ForwardsLeftRemovesTheChains()
        {
            var forwards = new[] { Parse(Row("::20")) };
            string raw = string.Concat(Ipv6Pinholes.BypassRules(forwards, true).Select(r => r + "\n"));
            Ipv6State state = Ipv6State.Parse(string.Format(BypassRead, raw, "-A PREROUTING -j BYPASSNAT6_PROXY\n", string.Empty));
            Ipv6Pinholes plan = Ipv6Pinholes.For(RouterRole.Bypass, state, new[] { Parse(Row(null)) }, "192.0.2.2");
            Assert.True(plan.NeedsWrite);
            Assert.Equal("ip6tables-restore --noflush --wait 10 <<'BYPASSNAT_RULES' || exit 3\n" +
                         "*raw\n-D PREROUTING -j BYPASSNAT6_RAW\n-F BYPASSNAT6_RAW\n-X BYPASSNAT6_RAW\nCOMMIT\n" +
                         "*mangle\n-D PREROUTING -j BYPASSNAT6_PROXY\n-F BYPASSNAT6_PROXY\n-X BYPASSNAT6_PROXY\nCOMMIT\nBYPASSNAT_RULES\n", plan.Script(""));
            Assert.False(Ipv6Pinholes.For(RouterRole.Bypass, Ipv6State.Parse("@raw\n*raw\nCOMMIT\n@mangle\n*mangle\nCOMMIT\n"), new[] { Parse(Row(null)) }, "r").Relevant);
        }

        [Fact]
        public void ThePlanHasAnIpv6FirewallEntryForTheMainRouter()
        {
            var forwards = new[] { Parse(Row("::20", protocol: "TcpUdp", sources: "198.51.100.0/24 2001:db8:100::/48")), Parse(Row(null)) };
            var plan = Plan.ForwardPlanEntry.For(forwards, new[] { RouterRole.Main, RouterRole.Bypass }, "main router");
            Plan.ForwardPlanEntry entry = Assert.Single(plan, e => e.Hop == "MainIPv6");
            Assert.Equal("main router", entry.Router);
            Assert.Equal("TCP+UDP", entry.Protocol);
            Assert.Equal("80", entry.ExternalPort);
            Assert.Equal("::20", entry.InternalAddress);
            Assert.Equal("2001:db8:100::/48", entry.AllowedSource);
            Assert.Equal(5, plan.Count);
            Assert.DoesNotContain(Plan.ForwardPlanEntry.For(forwards, new[] { RouterRole.Bypass }, "m"), e => e.Hop == "MainIPv6");
        }

        [Fact]
        public void WarnsWhereTheMainRoutersIpv6PolicyDropsInANativeNftablesTable()
        {
            var forwards = new[] { Parse(Row("::20")) };
            const string Filter = "@filter\n*filter\n:FORWARD DROP [0:0]\nCOMMIT\n";
            // iptables-nft's own ip6 filter table is where the pinholes go: no warning.
            string own = Filter + "@nftchains\ntable ip6 filter {\n\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n";
            Assert.Null(Ipv6Pinholes.For(RouterRole.Main, Ipv6State.Parse(own), forwards, "192.0.2.1").Warning("192.0.2.1"));
            string fw4 = own + "table inet fw4 {\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n" +
                         "table ip nat4 {\n\tchain fwd {\n\t\ttype filter hook forward priority filter; policy drop;\n\t}\n}\n";
            string warning = Ipv6Pinholes.For(RouterRole.Main, Ipv6State.Parse(fw4), forwards, "192.0.2.1").Warning("192.0.2.1");
            Assert.StartsWith("On 192.0.2.1 the IPv6 forward policy also drops in the nftables table(s) 'inet fw4': ", warning);
            Assert.Contains("dest_ip '::ID/-64'", warning);
            // Nothing to open, or the bypass hop: nothing to warn of.
            Assert.Null(Ipv6Pinholes.For(RouterRole.Main, Ipv6State.Parse(fw4), new[] { Parse(Row(null)) }, "r").Warning("r"));
            Assert.Null(Ipv6Pinholes.For(RouterRole.Bypass, Ipv6State.Parse(fw4), forwards, "r").Warning("r"));
        }

        [Fact]
        public void ARouterWithoutIp6tablesIsRefusedBeforeAnythingChanges()
        {
            var e = Assert.Throws<BypassNatException>(() => Ipv6Pinholes.For(RouterRole.Main, Ipv6State.Parse("ip6tables=missing\n"), new[] { Parse(Row("::20")) }, "192.0.2.1"));
            Assert.Equal("BypassNat.Ipv6NotSupported", e.ErrorId);
            Assert.Contains("Nothing was changed", e.Message);
            // A listing the login may not run (sudo) refuses them too, saying why; IPv4-only forwards go on.
            e = Assert.Throws<BypassNatException>(() => Ipv6Pinholes.For(RouterRole.Bypass, Ipv6State.Unreadable("sudo: a password is required\n"), new[] { Parse(Row("::20")) }, "192.0.2.2"));
            Assert.Contains("could not list ip6tables on 192.0.2.2 (sudo: a password is required)", e.Message);
            Assert.False(Ipv6Pinholes.For(RouterRole.Bypass, Ipv6State.Unreadable("x"), new[] { Parse(Row(null)) }, "192.0.2.2").Relevant);
            // IPv4-only forwards do not need it.
            Assert.False(Ipv6Pinholes.For(RouterRole.Main, Ipv6State.Parse("ip6tables=missing\n"), new[] { Parse(Row(null)) }, "192.0.2.1").Relevant);
        }
    
        private static ForwardInput Ipv6Only(string ipv6 = "::20", string sources = null) => new ForwardInput
        {
            Name = "nas6", Protocol = "TcpUdp", ExternalPort = "5001", BypassAddress = "192.0.2.2", InternalIPv6 = ipv6, AllowedSource = sources, Comment = "NAS",
        };

        [Fact]
        public void AnIpv6OnlyRowHasNoIpv4HalfAndItsRulesCarryTheBypassAddress()
        {
            BypassForward forward = Parse(Ipv6Only());
            Assert.Null(forward.InternalAddress);
            Assert.False(forward.HasIpv4);
            Assert.Equal(new[]
            {
                "-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p tcp -m tcp --dport 5001 -m comment --comment \"bypassnat;name=nas6;ext=5001;role=pinhole;via=192.0.2.2;note=NAS\" -j ACCEPT",
                "-A BYPASSNAT6_FORWARD -d ::20/::ffff:ffff:ffff:ffff -p udp -m udp --dport 5001 -m comment --comment \"bypassnat;name=nas6;ext=5001;role=pinhole;via=192.0.2.2;note=NAS\" -j ACCEPT",
            }, Ipv6Pinholes.MainRules(new[] { forward }));
            // No IPv4 rule: the nat rules and the IPv4 plan leave it out.
            Assert.DoesNotContain("nas6", Registry.RulesetRenderer.Render(new[] { forward, Parse(Row("::20")) }, Registry.RulesetFormat.IptablesRestore).Split('\n').Where(l => !l.StartsWith("#")));
            Assert.Equal(new[] { "MainIPv6" }, Plan.ForwardPlanEntry.For(new[] { forward }, new[] { RouterRole.Main, RouterRole.Bypass }, "main").Select(e => e.Hop));
        }

        [Fact]
        public void AnIpv6OnlyForwardIsReadBackWholeFromEitherHop()
        {
            BypassForward forward = Parse(Ipv6Only(sources: "2001:db8:100::/48"));
            string main = "@filter\n*filter\n:FORWARD DROP [0:0]\n:BYPASSNAT6_FORWARD - [0:0]\n-A FORWARD -j BYPASSNAT6_FORWARD\n" +
                          string.Concat(Ipv6Pinholes.MainRules(new[] { forward }).Select(r => r + "\n")) + "COMMIT\n";
            string bypass = string.Format(BypassRead, string.Empty, string.Empty, string.Concat(Ipv6Pinholes.BypassRules(new[] { forward }, false).Select(r => r + "\n")));
            foreach (string read in new[] { main, bypass })
            {
                BypassForward back = Assert.Single(Ipv6State.Parse(read).Ipv6OnlyForwards());
                Assert.Empty(forward.DifferingFields(back));
                Assert.Equal(forward.InternalIPv6, back.InternalIPv6);
                Assert.Equal("2001:db8:100::/48", back.AllowedSourceIPv6.ToString());
            }
        }

        [Theory]
        [InlineData(null, "::20", null)]
        [InlineData("198.51.100.0/24 2001:db8:100::/48", "::20", "the forward is IPv6 only (no InternalAddress), so IPv4 clients cannot reach it")]
        [InlineData(null, "", "the device's address is required: InternalAddress (IPv4, such as 192.0.2.20), InternalIPv6 (such as ::20), or both")]
        public void AnIpv6OnlyRowTakesIpv6ClientsOnlyAndARowNeedsOneAddress(string sources, string ipv6, string reason)
        {
            ForwardParser.Parse(Ipv6Only(ipv6, sources), 3, out IReadOnlyList<ForwardIssue> issues);
            if (reason == null) Assert.Empty(issues);
            else Assert.StartsWith(reason, Assert.Single(issues).Reason);
        }

        [Fact]
        public void DriftNamesTheForwardWhoseIpv6RulesAreMissingOrChanged()
        {
            var forwards = new[] { Parse(Row("::20")), Parse(Ipv6Only()) };
            List<string> raw = Ipv6Pinholes.BypassRules(forwards, true).ToList();
            raw[0] = raw[0].Replace("--sport 80", "--sport 81");
            string mangle = string.Concat(Ipv6Pinholes.BypassRules(forwards.Take(1), false).Select(r => r + "\n"));
            Ipv6State state = Ipv6State.Parse(string.Format(BypassRead, string.Concat(raw.Select(r => r + "\n")), string.Empty, "-A PREROUTING -j BYPASSNAT6_PROXY\n" + mangle));
            var drift = Ipv6Pinholes.For(RouterRole.Bypass, state, forwards, "r").Drift();
            Assert.Equal(new[] { "web6", "nas6", null }, drift.Select(d => d.Key));
            Assert.StartsWith("the IPv6 reply exemption (BYPASSNAT6_RAW) differs: ", drift[0].Value);
            Assert.Equal("the IPv6 reply exemption (BYPASSNAT6_PROXY) is missing", drift[1].Value);
            Assert.Equal("the jump to BYPASSNAT6_PROXY is not the first rule of ip6tables mangle PREROUTING (1 jump(s)), so its IPv6 rules may not take effect", drift[2].Value);
            Assert.DoesNotContain(Ipv6Pinholes.For(RouterRole.Bypass, state, new BypassForward[0], "r").Drift(), d => d.Key == null);
        }

        [Fact]
        public void AViaThatIsNoIpv4AddressIsNotOurs()
        {
            Assert.Equal("192.0.2.2", RuleComment.TryDecode("bypassnat;name=a;ext=80;role=pinhole;via=192.0.2.2").Via.ToString());
            Assert.Null(RuleComment.TryDecode("bypassnat;name=a;ext=80;via=2001:db8::1"));
            Assert.Null(RuleComment.TryDecode("bypassnat;name=a;ext=80;via=192.0.2.02"));
            Assert.Null(RuleComment.TryDecode("bypassnat;name=a;ext=80").Via);
        }
}
}
