using System.Collections.Generic;
using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Registry;
using BypassNat.Ssh;
using BypassNat.Validation;
using BypassNat.Backends.Uci;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>A forward's IPv6 half on an OpenWrt main router: a UCI traffic rule beside its redirect.</summary>
    public class UciRuleTests
    {
        private static BypassForward Forward(string name, string ipv6, string protocol = "Tcp", string port = "80", string sources = null, string bypassPort = null, string enabled = null)
        {
            BypassForward forward = ForwardParser.Parse(new ForwardInput
            {
                Name = name, Protocol = protocol, ExternalPort = port, BypassAddress = "192.0.2.2", BypassPort = bypassPort, InternalAddress = "192.0.2.20",
                InternalPort = port, InternalIPv6 = ipv6, AllowedSource = sources, Enabled = enabled,
            }, 1, out IReadOnlyList<ForwardIssue> issues);
            Assert.Empty(issues);
            return forward;
        }

        // `uci show firewall` as uci prints it: a list of several entries as quoted words on one line.
        private static string Show(params BypassForward[] forwards)
        {
            var text = new System.Text.StringBuilder();
            foreach (IUciSection section in forwards.Select(f => (IUciSection)UciRedirect.From(f)).Concat(forwards.Select(f => UciRule.From(f)).Where(r => r != null)))
            {
                text.Append($"firewall.{section.Section}={section.Type}\n");
                foreach (string option in section.OptionNames.Where(section.Options.ContainsKey))
                    text.Append($"firewall.{section.Section}.{option}=")
                        .Append(section.IsList(option) ? string.Join(" ", section.Options[option].Split(' ').Select(v => $"'{v}'")) : $"'{section.Options[option]}'").Append('\n');
            }

            return text.ToString();
        }

        [Fact]
        public void AnIpv6ForwardIsANamedTrafficRuleByInterfaceIdentifierAsLuciShowsIt()
        {
            BypassForward web = Forward("web6", "::20", sources: "198.51.100.0/24 2001:db8:100::/48 2001:db8:200::7");
            string batch = RulesetRenderer.Render(new[] { web, Forward("plain", null, port: "8080") }, RulesetFormat.Uci);
            Assert.Equal(
                "set firewall.bypassnat_web6=redirect\n" +
                "set firewall.bypassnat_web6.name='web6'\n" +
                "set firewall.bypassnat_web6.target='DNAT'\n" +
                "set firewall.bypassnat_web6.src='wan'\n" +
                "set firewall.bypassnat_web6.src_ip='198.51.100.0/24'\n" +
                "set firewall.bypassnat_web6.dest='lan'\n" +
                "set firewall.bypassnat_web6.proto='tcp'\n" +
                "set firewall.bypassnat_web6.src_dport='80'\n" +
                "set firewall.bypassnat_web6.dest_ip='192.0.2.2'\n" +
                "set firewall.bypassnat_web6.dest_port='80'\n" +
                "set firewall.bypassnat_web6.reflection='0'\n" +
                "set firewall.bypassnat_web6.enabled='1'\n" +
                "set firewall.bypassnat_plain=redirect\n" +
                "set firewall.bypassnat_plain.name='plain'\n" +
                "set firewall.bypassnat_plain.target='DNAT'\n" +
                "set firewall.bypassnat_plain.src='wan'\n" +
                "set firewall.bypassnat_plain.dest='lan'\n" +
                "set firewall.bypassnat_plain.proto='tcp'\n" +
                "set firewall.bypassnat_plain.src_dport='8080'\n" +
                "set firewall.bypassnat_plain.dest_ip='192.0.2.2'\n" +
                "set firewall.bypassnat_plain.dest_port='8080'\n" +
                "set firewall.bypassnat_plain.reflection='0'\n" +
                "set firewall.bypassnat_plain.enabled='1'\n" +
                "set firewall.bypassnat6_web6=rule\n" +
                "set firewall.bypassnat6_web6.name='web6 (IPv6)'\n" +
                "set firewall.bypassnat6_web6.family='ipv6'\n" +
                "set firewall.bypassnat6_web6.src='wan'\n" +
                "set firewall.bypassnat6_web6.src_ip='2001:db8:100::/48'\n" +
                "add_list firewall.bypassnat6_web6.src_ip='2001:db8:200::7'\n" +
                "set firewall.bypassnat6_web6.dest='lan'\n" +
                "set firewall.bypassnat6_web6.dest_ip='::20/-64'\n" +
                "set firewall.bypassnat6_web6.proto='tcp'\n" +
                "set firewall.bypassnat6_web6.dest_port='80'\n" +
                "set firewall.bypassnat6_web6.target='ACCEPT'\n" +
                "set firewall.bypassnat6_web6.enabled='1'\n" +
                "commit firewall\n", batch);
        }

        [Fact]
        public void AFullAddressIsWrittenInFullAndTheRulesPortIsTheDevicesNotTheBypassRouters()
        {
            UciRule rule = UciRule.From(MainHop.Project(Forward("nas", "2001:db8:1::20", "TcpUdp", "5001", bypassPort: "15001")).WithIpv6(Forward("nas", "2001:db8:1::20", "TcpUdp", "5001").InternalIPv6, Ipv6SourceSet.Any), "wan6", "guest");
            Assert.Equal("2001:db8:1::20", rule.Options["dest_ip"]);
            Assert.Equal("5001", rule.Options["dest_port"]);
            Assert.Equal("tcp udp", rule.Options["proto"]);
            Assert.Equal("wan6", rule.Options["src"]);
            Assert.Equal("guest", rule.Options["dest"]);
            Assert.False(rule.Options.ContainsKey("src_ip"));
            Assert.Null(UciRule.From(Forward("plain", null)));
        }

        [Fact]
        public void ReadsTheRuleBackIntoItsForwardAndARouterThatHoldsTheSetNeedsNoChange()
        {
            BypassForward web = Forward("web6", "::20", sources: "198.51.100.0/24 2001:db8:100::/48 2001:db8:200::7");
            BypassForward nas = Forward("nas", "2001:db8:1::20", "TcpUdp", "5001");
            BypassForward plain = Forward("plain", null, port: "8080");
            UciState held = UciReader.Parse(Show(web, nas, plain));
            Assert.Equal(2, held.Rules.Count);
            Assert.Equal("2001:db8:100::/48 2001:db8:200::7", held.Rules.Single(r => r.ForwardName == "web6").Options["src_ip"]);

            var backend = new UciBackend();
            RouterState state = backend.Read(held);
            Assert.Empty(state.Problems);
            Assert.True(state.HoldsIpv6);
            BypassForward read = state.Forwards.Single(f => f.Name == "web6");
            Assert.True(read.InternalIPv6.IsInterfaceIdentifier);
            Assert.Equal("::20", read.InternalIPv6.ToString());
            Assert.Equal("2001:db8:100::/48 2001:db8:200::7", read.AllowedSourceIPv6.ToString());
            Assert.False(state.Forwards.Single(f => f.Name == "nas").InternalIPv6.IsInterfaceIdentifier);
            Assert.Null(state.Forwards.Single(f => f.Name == "plain").InternalIPv6);

            List<BypassForward> desired = new[] { web, nas, plain }.Select(f => backend.Shape(MainHop.Project(f).WithIpv6(f.InternalIPv6, f.AllowedSourceIPv6))).ToList();
            Assert.True(RulesetDiff.Compute(desired, state.Forwards, state.HoldsIpv6).IsEmpty);
            Assert.Equal(string.Empty, UciBatch.Render(new[] { web, nas, plain }.Select(f => UciRedirect.From(f)), new[] { web, nas }.Select(f => UciRule.From(f)), held));
        }

        [Fact]
        public void ANewIdentifierChangesOnlyTheRuleAndIsADifferenceOfTheForward()
        {
            BypassForward before = Forward("web6", "::20");
            BypassForward after = Forward("web6", "::21");
            UciState held = UciReader.Parse(Show(before));
            var backend = new UciBackend();
            RouterState state = backend.Read(held);

            RulesetDiff diff = RulesetDiff.Compute(new[] { backend.Shape(MainHop.Project(after).WithIpv6(after.InternalIPv6, after.AllowedSourceIPv6)) }, state.Forwards, state.HoldsIpv6);
            Assert.Equal(new[] { "InternalIPv6" }, Assert.Single(diff.Changed).Fields);
            Assert.Equal("  ipv6     traffic rule bypassnat6_web6 ('web6 (IPv6)'): accept tcp 80 from the WAN to ::21/-64",
                state.DescribeIpv6(diff.Changed.Select(c => c.Desired)));
            Assert.Null(state.DescribeIpv6(state.Forwards));
            Assert.Equal("  ipv6     delete traffic rule bypassnat6_web6 ('web6 (IPv6)')", state.DescribeIpv6(state.Forwards.Select(f => f.WithIpv6(null, null))));
            // Without the IPv6 fields (a backend whose rules do not carry them) the forwards are the same.
            Assert.True(RulesetDiff.Compute(new[] { backend.Shape(MainHop.Project(after)) }, state.Forwards.Select(f => f.WithIpv6(null, null)), false).IsEmpty);

            string batch = UciBatch.Render(new[] { UciRedirect.From(after) }, new[] { UciRule.From(after) }, held);
            Assert.StartsWith("delete firewall.bypassnat6_web6\nset firewall.bypassnat6_web6=rule\n", batch);
            Assert.Contains("set firewall.bypassnat6_web6.dest_ip='::21/-64'\n", batch);
            Assert.DoesNotContain("bypassnat_web6", batch);

            // And the forward without its InternalIPv6 deletes the rule alone.
            Assert.Equal("delete firewall.bypassnat6_web6\n", UciBatch.Render(new[] { UciRedirect.From(after) }, new UciRule[0], held));
        }

        [Theory]
        [InlineData("firewall.bypassnat6_web6.dest_ip='::20/-64'", "firewall.bypassnat6_web6.dest_ip='::20'", "not one BypassNat writes")]
        [InlineData("firewall.bypassnat6_web6.dest_ip='::20/-64'", "firewall.bypassnat6_web6.dest_ip='2001:db8::/-64'", "not one BypassNat writes")]
        [InlineData("firewall.bypassnat6_web6.src='wan'", "firewall.bypassnat6_web6.src='guest'", "changed outside BypassNat")]
        [InlineData("firewall.bypassnat6_web6.dest_port='80'", "firewall.bypassnat6_web6.dest_port='81'", "changed outside BypassNat")]
        public void ARuleNotAsBypassNatWroteItIsAProblemTheNextApplyRewrites(string line, string edited, string why)
        {
            BypassForward web = Forward("web6", "::20");
            string show = Show(web);
            Assert.Contains(line, show);
            UciState held = UciReader.Parse(show.Replace(line, edited));
            RouterState state = new UciBackend().Read(held);

            Assert.Contains(why, Assert.Single(state.Problems));
            Assert.Contains("firewall.bypassnat6_web6", state.Problems[0]);
            Assert.StartsWith("delete firewall.bypassnat6_web6\nset firewall.bypassnat6_web6=rule\n", UciBatch.Render(new[] { UciRedirect.From(web) }, new[] { UciRule.From(web) }, held));
        }

        [Fact]
        public void ARuleWithoutItsRedirectIsAProblemAndDeletedAndAnotherTypeUnderItsNameIsAStray()
        {
            string show = Show(Forward("web6", "::20")).Split('\n').Where(l => !l.StartsWith("firewall.bypassnat_web6")).Aggregate((a, b) => a + "\n" + b) +
                "firewall.bypassnat6_x=redirect\nfirewall.bypassnat6_x.name='x'\n";
            UciState held = UciReader.Parse(show);
            RouterState state = new UciBackend().Read(held);

            Assert.Empty(state.Forwards);
            Assert.Equal(2, state.Problems.Count);
            Assert.Contains(state.Problems, p => p.StartsWith("IPv6 rule firewall.bypassnat6_web6 (web6 (IPv6) tcp wan -> ::20/-64 port 80 ACCEPT) belongs to no forward BypassNat holds"));
            Assert.Equal(new[] { "bypassnat6_x" }, held.Strays);
            Assert.Equal("delete firewall.bypassnat6_web6\ndelete firewall.bypassnat6_x\n", UciBatch.Render(new UciRedirect[0], new UciRule[0], held));
        }

        [Theory]
        [InlineData("'2001:db8:100::/48' '2001:db8:200::7'", "2001:db8:100::/48 2001:db8:200::7")]
        [InlineData("2001:db8:100::/48", "2001:db8:100::/48")]
        [InlineData("'a b' 'c'", "'a b' 'c'")]
        public void AListIsItsEntriesAndAnythingElseStaysAsRead(string shown, string held) => Assert.Equal(held, UciReader.ListEntries(shown));

        [Fact]
        public void AnApplyOnAnOpenWrtMainRouterWritesTheRuleWithTheRedirectAndASecondApplyWritesNothing()
        {
            var router = new FakeRouter { Hop = RouterHop.Main, Holding = BackendKind.Uci, ProbeOutput = "nft=nftables v1.0.6 (Lester Gooch #5)\nnft-usable=yes\nopenwrt-uci=yes\n" };
            BypassForward web = Forward("web6", "::20", sources: "198.51.100.0/24 2001:db8:100::/48");
            ApplyResult first = Apply(router, new[] { web }, out string plan);
            Assert.True(first.Changed);
            Assert.Contains("ipv6     traffic rule bypassnat6_web6 ('web6 (IPv6)'): accept tcp 80 from the WAN to ::20/-64 from 2001:db8:100::/48", plan);
            Assert.Null(first.Ipv6);
            Dictionary<string, string> rule = router.Uci.Single(s => s.Key == "bypassnat6_web6").Value;
            Assert.Equal("rule", rule[".type"]);
            Assert.Equal("::20/-64", rule["dest_ip"]);
            Assert.Equal("2001:db8:100::/48", rule["src_ip"]);

            Assert.False(Apply(router, new[] { web }, out _).Changed);

            // Another identifier is a change of the forward, written.
            ApplyResult moved = Apply(router, new[] { Forward("web6", "::21", sources: "198.51.100.0/24 2001:db8:100::/48") }, out _);
            Assert.True(moved.Changed);
            Assert.Equal(new[] { "web6" }, moved.Modified);
            Assert.Equal("::21/-64", router.Uci.Single(s => s.Key == "bypassnat6_web6").Value["dest_ip"]);

            // Without InternalIPv6 the rule goes, the redirect stays.
            Assert.True(Apply(router, new[] { Forward("web6", null, sources: "198.51.100.0/24") }, out _).Changed);
            Assert.DoesNotContain(router.Uci, s => s.Key == "bypassnat6_web6");
            Assert.Contains(router.Uci, s => s.Key == "bypassnat_web6");
            Assert.Empty(router.UnknownScripts);
        }

        [Fact]
        public void DriftOfTheRuleIsReportedAsADifferenceOfTheForward()
        {
            BypassForward web = Forward("web6", "::20");
            var backend = new UciBackend();
            RouterState state = backend.Read(UciReader.Parse(Show(web)));
            BypassForward wanted = backend.Shape(MainHop.Project(Forward("web6", "::21")).WithIpv6(Forward("web6", "::21").InternalIPv6, Ipv6SourceSet.Any));

            ForwardDrift drift = Assert.Single(ForwardDrift.Compare("192.0.2.1", new[] { wanted }, state));
            Assert.Equal(DriftKind.Different, drift.Kind);
            Assert.Equal("InternalIPv6: ::20 -> ::21", drift.Detail);

            BypassForward none = backend.Shape(MainHop.Project(Forward("web6", null)));
            Assert.Equal("InternalIPv6: ::20 -> none", Assert.Single(ForwardDrift.Compare("192.0.2.1", new[] { none }, state)).Detail);
        }

        private static ApplyResult Apply(FakeRouter router, IReadOnlyList<BypassForward> desired, out string plan)
        {
            var settings = new SshSettings { ComputerName = "192.0.2.1", HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint } };
            using (RouterSession session = RouterSession.Open(settings, router))
            {
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Uci, RouterHop.Main, null);
                ApplyPlan made = applier.Plan(desired);
                plan = made.Describe();
                return applier.Apply(made, false, _ => { });
            }
        }
    }
}
