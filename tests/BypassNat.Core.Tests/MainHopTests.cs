using System.Linq;
using System.Net;
using BypassNat.Backends;
using BypassNat.Plan;
using Xunit;
using BypassNat.Backends.Iptables;
using BypassNat.Backends.Nftables;
using BypassNat.Validation;

namespace BypassNat.Tests
{
    /// <summary>
    /// The main router's hop. main.nft and main.iptables-restore were loaded into a scratch network
    /// namespace by the kernel (nft -f, iptables-restore --noflush); main.nft-list and
    /// main.iptables-save are what nft -nn and iptables-save listed afterwards.
    /// </summary>
    public class MainHopTests
    {
        private static RenderContext MainRouterContext() =>
            new RenderContext(new[] { new Ipv4Prefix(IPAddress.Parse("192.0.2.0"), 24) }, "wan0", new[] { IPAddress.Parse("203.0.113.1") });

        private static BypassForward[] Expected() => Golden.ExampleSet().Where(f => f.Enabled).Select(MainHop.Project).ToArray();

        private static void AssertSameForwards(RouterState state)
        {
            Assert.Empty(state.Problems);
            BypassForward[] expected = Expected();
            Assert.Equal(expected.Length, state.Forwards.Count);
            foreach (BypassForward forward in expected)
                Assert.Empty(forward.DifferingFields(state.Forwards.Single(f => f.Name == forward.Name)));
        }

        [Fact]
        public void RendersTheNftFileGolden() =>
            Assert.Equal(Golden.Read("main.nft"), MainNftablesRenderer.Render(Golden.ExampleSet(), MainRouterContext()));

        [Fact]
        public void RendersTheIptablesTransactionGolden() =>
            Assert.Equal(Golden.Read("main.iptables-restore"), MainIptablesRenderer.RenderRestore(Golden.ExampleSet(), new IptablesJumpRepair(), MainRouterContext()));

        [Fact]
        public void NeverWritesTheWanAddressIntoARule()
        {
            // 203.0.113.1 is the example's public address too: only the public and reflection rules may name it.
            foreach (string line in (MainNftablesRenderer.Render(Golden.ExampleSet(), MainRouterContext()) + MainIptablesRenderer.RenderRestore(Golden.ExampleSet(), new IptablesJumpRepair(), MainRouterContext())).Split('\n'))
                if (line.Contains("203.0.113.1")) Assert.Contains("role=public", line);
        }

        [Fact]
        public void ReadsTheForwardsBackFromTheNftListing()
        {
            MainState state = MainNftablesReader.Read(Golden.Read("main.nft-list"), "wan0");
            Assert.True(state.InPlace);
            Assert.Equal("wan0", state.WanInterface);
            AssertSameForwards(state);
        }

        [Fact]
        public void ReadsTheForwardsBackFromIptablesSave()
        {
            MainState state = MainIptablesReader.Read(Golden.Read("main.iptables-save"), "wan0");
            Assert.True(state.InPlace);
            Assert.Equal("wan0", state.WanInterface);
            AssertSameForwards(state);
        }

        [Fact]
        public void TheBypassHopsReadersSeeNoneOfTheMainHopsRules()
        {
            Assert.Empty(IptablesReader.Read(Golden.Read("main.iptables-save")).Forwards);
            Assert.False(IptablesReader.Read(Golden.Read("main.iptables-save")).Present);
            Assert.Empty(MainIptablesReader.Read(Golden.Read("example.iptables-restore")).Forwards);
        }

        [Fact]
        public void RulesOnAnotherInterfaceAreRepairedNotTrusted()
        {
            MainState state = MainNftablesReader.Read(Golden.Read("main.nft-list"), "ppp0");
            Assert.False(state.InPlace);
            Assert.Contains("from interface wan0 to the WAN interface ppp0", state.Repair);
            Assert.False(MainIptablesReader.Read(Golden.Read("main.iptables-save"), "ppp0").InPlace);
        }

        [Fact]
        public void AnEditedElementIsAProblemNotAForward()
        {
            string listing = Golden.Read("main.nft-list").Replace("6 . 9002 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.2 . 19002", "6 . 9002 comment \"bypassnat;name=voip;ext=9001-9002\" : 192.0.2.2 . 19005");
            MainState state = MainNftablesReader.Read(listing, "wan0");
            Assert.DoesNotContain(state.Forwards, f => f.Name == "voip");
            Assert.Contains(state.Problems, p => p.Contains("'voip'"));
        }

        [Fact]
        public void FindsTheWanSideByTheDefaultRoute()
        {
            RouterAddresses router = RouterAddresses.Parse(
                "1: lo    inet 127.0.0.1/8 scope host lo\\\n" +
                "2: lan0    inet 192.0.2.1/24 brd 192.0.2.255 scope global lan0\\\n" +
                "7: pppoe-wan    inet 100.64.3.9 peer 10.0.0.1/32 scope global pppoe-wan\\\n" +
                "--routes--\ndefault via 10.0.0.1 dev pppoe-wan proto static\n");
            Assert.True(router.Owns(IPAddress.Parse("192.0.2.1")));
            Assert.False(router.Owns(IPAddress.Parse("127.0.0.1")));
            RenderContext context = router.MainContext(null, "r");
            Assert.Equal("pppoe-wan", context.WanInterface);
            Assert.Equal(new[] { IPAddress.Parse("100.64.3.9") }, context.WanAddresses);
            Assert.Equal(new[] { "192.0.2.0/24" }, context.LanPrefixes.Select(p => p.ToString()));
        }

        [Fact]
        public void WithoutADefaultRouteTheWanInterfaceMustBeNamed()
        {
            RouterAddresses router = RouterAddresses.Parse("2: lan0    inet 192.0.2.1/24 scope global lan0\\\n--routes--\n");
            Assert.Equal("BypassNat.WanInterfaceNotFound", Assert.Throws<BypassNatException>(() => router.MainContext(null, "r")).ErrorId);
            Assert.Equal("BypassNat.InvalidInterface", Assert.Throws<BypassNatException>(() => router.MainContext("wan0\"; drop", "r")).ErrorId);
        }

        [Fact]
        public void RefusesAForwardForAnAddressTheBypassRouterDoesNotHave()
        {
            RouterAddresses router = RouterAddresses.Parse("2: lan0    inet 192.0.2.2/24 scope global lan0\\\n--routes--\ndefault via 192.0.2.1 dev lan0\n");
            var set = new[] { Forwards.Make("web", "tcp", "8080"), Forwards.Make("stray", "tcp", "8081", bypassAddress: "192.0.2.3") };
            ForwardIssue issue = Assert.Single(ForwardPlacement.Check(set, RouterRole.Bypass, router, new RenderContext(router.Addresses.Select(a => a.Prefix)), "192.0.2.2"));
            Assert.Equal("BypassNat.AddressNotOnRouter", issue.ErrorId);
            Assert.Equal(2, issue.Row);
            Assert.Contains("'stray'", issue.Message);
            Assert.Contains("192.0.2.2 (lan0)", issue.Message);
        }

        [Fact]
        public void OnTheMainRouterTheBypassAddressMustBeOnALanAndSshFromTheWanIsGuarded()
        {
            RouterAddresses router = RouterAddresses.Parse(
                "2: lan0    inet 192.0.2.1/24 scope global lan0\\\n3: wan0    inet 203.0.113.1/24 scope global wan0\\\n--routes--\ndefault via 203.0.113.254 dev wan0\n");
            RenderContext context = router.MainContext(null, "main");
            var set = new[] { Forwards.Make("ssh", "tcp", "22", bypassPort: "2222"), Forwards.Make("far", "tcp", "8081", bypassAddress: "198.51.100.7") };
            var fromLan = ForwardPlacement.Check(set, RouterRole.Main, router, context, "main", new[] { IPAddress.Parse("192.0.2.1") });
            Assert.Equal(new[] { "BypassNat.BypassAddressNotOnLan" }, fromLan.Select(i => i.ErrorId));
            var fromWan = ForwardPlacement.Check(set, RouterRole.Main, router, context, "main", new[] { IPAddress.Parse("203.0.113.1") });
            Assert.Contains(fromWan, i => i.ErrorId == "BypassNat.SshPortCapture" && i.Row == 1 && i.Field == "ExternalPort");
        }

        [Fact]
        public void TwoForwardsCannotShareAnExternalPortOnTheMainRouter()
        {
            // Checked where the set is made (the set is for both hops), even to two bypass routers.
            var set = new[] { Forwards.Make("a", "tcpudp", "8080"), Forwards.Make("b", "udp", "8080", bypassAddress: "192.0.2.3", bypassPort: "9000", internalAddress: "192.0.2.21") };
            ForwardIssue issue = Assert.Single(ForwardSetValidator.Check(set));
            Assert.Equal(("BypassNat.PortConflict", 2, "ExternalPort"), (issue.ErrorId, issue.Row, issue.Field));
            Assert.StartsWith("UDP port 8080 on the main router's WAN is already forwarded by 'a' (row 1)", issue.Reason);
            Assert.Empty(ForwardSetValidator.Check(new[] { Forwards.Make("a", "tcp", "8080"), Forwards.Make("b", "udp", "8080") }));
        }

        [Fact]
        public void ThePlanListsEachHopWithItsOwnInternalSide()
        {
            var plan = ForwardPlanEntry.For(Golden.ExampleSet(), new[] { RouterRole.Main, RouterRole.Bypass }, "main router");
            Assert.Equal(6, plan.Count);
            Assert.Equal(new[] { "Main", "Main", "Main", "Bypass", "Bypass", "Bypass" }, plan.Select(e => e.Hop));
            ForwardPlanEntry voip = plan.Single(e => e.Hop == "Main" && e.Name == "voip");
            Assert.Equal(("TCP+UDP", "9001-9002", "192.0.2.2", "19001-19002"), (voip.Protocol, voip.ExternalPort, voip.InternalAddress, voip.InternalPort));
            ForwardPlanEntry web = plan.Single(e => e.Hop == "Bypass" && e.Name == "web");
            Assert.Equal(("192.0.2.2", "8080", "192.0.2.20", "80"), (web.Router, web.ExternalPort, web.InternalAddress, web.InternalPort));
        }
    }
}
