using System.Linq;
using System.Net;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Backends.Uci;
using Xunit;
using BypassNat.Registry;

namespace BypassNat.Tests
{
    public class UciBackendTests
    {
        private static readonly IPAddress Wan = IPAddress.Parse("203.0.113.1");

        // The sections an apply of these forwards writes, as `uci show firewall` lists them (only the options set: src_ip is optional).
        private static string Show(params BypassForward[] forwards) => string.Concat(forwards.Select(f => UciRedirect.From(f)).Select(r =>
            $"firewall.{r.Section}=redirect\n" + string.Concat(UciRedirect.OptionNames.Where(r.Options.ContainsKey).Select(o => $"firewall.{r.Section}.{o}='{r.Options[o]}'\n"))));

        private static BypassForward Web(string comment = null) => Forwards.Make("web", "Tcp", "8080", internalPort: "80", comment: comment);
        private static BypassForward Game() => Forwards.Make("game", "Udp", "9000-9001");

        [Fact]
        public void ReadsItsRedirectsBackAsTheMainHopsForwardsAndFindsNoDifference()
        {
            var backend = new UciBackend { ReflectionAddress = Wan };
            BypassForward reflected = Web("a comment a redirect cannot hold").WithPublicAddress(IPAddress.Parse("198.51.100.7"));
            RouterState state = backend.Read(UciReader.Parse(Show(reflected, Game())));

            Assert.Empty(state.Problems);
            Assert.True(state.Present);
            BypassForward web = state.Forwards.Single(f => f.Name == "web");
            Assert.Equal("web Tcp 8080 -> 192.0.2.2:8080 -> 192.0.2.2:8080", web.ToString());
            // firewall4 reflects on the WAN zone's own address: that is the public address it holds.
            Assert.Equal(Wan, web.PublicAddress);
            Assert.Null(state.Forwards.Single(f => f.Name == "game").PublicAddress);
            var desired = new[] { reflected, Game() }.Select(MainHop.Project).Select(backend.Shape).ToList();
            Assert.True(RulesetDiff.Compute(desired, state.Forwards).IsEmpty);
        }

        [Fact]
        public void ASectionChangedOutsideBypassNatIsAProblemTheNextApplyRewrites()
        {
            string show = Show(Web(), Game()).Replace("bypassnat_web.dest='lan'", "bypassnat_web.dest='guest'") +
                "firewall.bypassnat_game.family='ipv4'\n";
            RouterState state = new UciBackend().Read(UciReader.Parse(show));

            Assert.Equal(2, state.Problems.Count);
            Assert.Contains(state.Problems, p => p.Contains("firewall.bypassnat_web"));
            Assert.Contains(state.Problems, p => p.Contains("firewall.bypassnat_game"));
        }

        [Fact]
        public void ADisabledSectionHoldsNoForwardAndAnUnreadableOneIsAProblem()
        {
            string show = Show(Web(), Game()).Replace("bypassnat_game.enabled='1'", "bypassnat_game.enabled='0'")
                .Replace("bypassnat_web.proto='tcp'", "bypassnat_web.proto='icmp'");
            RouterState state = new UciBackend().Read(UciReader.Parse(show));

            Assert.Empty(state.Forwards);
            Assert.Contains("not one BypassNat writes", Assert.Single(state.Problems));
        }

        [Fact]
        public void TheMainHopsPersistIncludeIsNotTakenForAStrayRedirect()
        {
            UciState held = UciReader.Parse(Show(Web()) + $"firewall.{RouterHop.Main.UciSection}=include\nfirewall.{RouterHop.Main.UciSection}.path='/etc/bypassnat-main/ruleset.nft'\n");

            Assert.Empty(held.Strays);
            Assert.Empty(new UciBackend().Read(held).Problems);
            Assert.DoesNotContain(RouterHop.Main.UciSection, UciBatch.Render(new UciRedirect[0], held));
        }

        [Fact]
        public void OnlyTheMainHopTakesTheUciBackend()
        {
            Assert.IsType<UciBackend>(BackendRegistry.Create(BackendKind.Uci, new BackendSite(RouterHop.Main, null)));
            Assert.DoesNotContain(RouterRole.Bypass, BackendRegistry.Find(BackendKind.Uci).Roles);
            Assert.Contains("openwrt-uci=yes", BackendSelector.ProbeScript("", RouterHop.Main));
            Assert.DoesNotContain("openwrt", BackendSelector.ProbeScript("", RouterHop.Bypass));
        }
    }
}
