using System;
using System.Collections.Generic;
using System.Linq;
using BypassNat.Apply;
using BypassNat.Backends;
using BypassNat.Proxy;
using BypassNat.Registry;
using BypassNat.Ssh;
using Xunit;

namespace BypassNat.Tests
{
    /// <summary>
    /// An apply on a bypass router whose TPROXY proxy captures the LAN (a Clash box, as the survey reads
    /// it): the forwards' replies are exempted in the mangle table in the same command as the forwards,
    /// checked on the way back, and removed with them; each failure says what the router holds.
    /// </summary>
    public class ProxyApplyTests
    {
        private const string ClashMangle =
            "*mangle\n" +
            ":CLASH_TPROXY - [0:0]\n" +
            "-A PREROUTING -j CLASH_TPROXY\n" +
            "-A CLASH_TPROXY -d 192.0.2.0/24 -j RETURN\n" +
            "-A CLASH_TPROXY -p tcp -j TPROXY --on-port 7893 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1\n" +
            "-A CLASH_TPROXY -p udp -j TPROXY --on-port 7893 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1\n" +
            "COMMIT\n";

        private const string ClashRouting =
            "@rules\n" +
            "0:\tfrom all lookup local\n" +
            "32765:\tfrom all fwmark 0x1/0x1 lookup 100\n" +
            "32766:\tfrom all lookup main\n" +
            "@routes\n" +
            "local default dev lo table 100 scope host \n";

        private static readonly BypassForward Web = Forwards.Make("web", "tcp", "8080", internalPort: "80");
        private static readonly BypassForward Game = Forwards.Make("game", "udp", "9000");

        private static FakeRouter ClashRouter()
        {
            var router = new FakeRouter { ProxyRouting = ClashRouting };
            Assert.Null(router.Mangle.Restore(ClashMangle));
            return router;
        }

        private static SshSettings Settings() => new SshSettings
        {
            ComputerName = "192.0.2.2",
            HostKeyFingerprints = new List<string> { "SHA256:" + FakeRouter.FakeFingerprint },
        };

        private static ApplyResult Apply(FakeRouter router, IReadOnlyList<BypassForward> desired)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
            {
                ForwardApplier applier = ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null);
                return applier.Apply(applier.Plan(desired), false, _ => { });
            }
        }

        private static IReadOnlyList<BypassForward> RemoveAll(FakeRouter router)
        {
            using (RouterSession session = RouterSession.Open(Settings(), router))
                return ForwardApplier.For(session, BackendKind.Auto, RouterHop.Bypass, null).RemoveAll();
        }

        private static string Names(IEnumerable<BypassForward> forwards) => string.Join(",", forwards.Select(f => f.Name).OrderBy(n => n, StringComparer.Ordinal));

        // The exemption's rules in the mangle table, as the router lists them.
        private static string[] Exemption(FakeRouter router) =>
            router.Mangle.Save().Split('\n').Where(l => l.StartsWith("-A " + ProxyExemption.Chain + " ", StringComparison.Ordinal)).ToArray();

        private static bool JumpFirst(FakeRouter router) =>
            router.Mangle.Save().Split('\n').FirstOrDefault(l => l.StartsWith("-A PREROUTING ", StringComparison.Ordinal)) == "-A PREROUTING -j " + ProxyExemption.Chain;

        [Fact]
        public void TheForwardsRepliesAreExemptedFirstInPreroutingAndTheProxysRulesStay()
        {
            FakeRouter router = ClashRouter();

            ApplyResult result = Apply(router, new[] { Web, Game });

            Assert.True(result.Changed);
            Assert.NotNull(result.Proxy);
            Assert.Equal("game,web", Names(router.LiveForwards));
            Assert.NotEmpty(Exemption(router));
            Assert.True(JumpFirst(router));
            Assert.Contains("-A CLASH_TPROXY -p tcp -j TPROXY --on-port 7893 --on-ip 0.0.0.0 --tproxy-mark 0x1/0x1", router.Mangle.Save());
            Assert.Contains(RouterStep.ProxyLoad, router.Steps);
            Assert.Empty(router.UnknownScripts);

            // Nothing to do the second time: the exemption is read back as in place.
            router.Steps.Clear();
            Assert.False(Apply(router, new[] { Web, Game }).Changed);
            Assert.DoesNotContain(RouterStep.ProxyLoad, router.Steps);
        }

        [Fact]
        public void ARefusedExemptionStopsTheWriteBeforeTheForwards()
        {
            FakeRouter router = ClashRouter();
            Apply(router, new[] { Web });
            string mangle = router.Mangle.Save();
            router.Steps.Clear();
            router.Faults[RouterStep.ProxyLoad] = Fault.Refuse("iptables-restore: line 4 failed", 3);

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web, Game }));

            Assert.Contains("exempt the forwards' replies from the proxy", failure.Message);
            Assert.Contains("the kernel refused it, so the router keeps its previous forwards", failure.Message);
            Assert.DoesNotContain(RouterStep.Load, router.Steps);
            Assert.Equal("web", Names(router.LiveForwards));
            Assert.Equal(mangle, router.Mangle.Save());
        }

        [Fact]
        public void AnExemptionThatReadsBackWrongFailsTheApply()
        {
            FakeRouter router = ClashRouter();
            // The proxy restarts in between and flushes the mangle table: the read-back shows its rules only.
            router.Faults[RouterStep.ProxyProbe] = Fault.Lie(r => "@mangle\n" + ClashMangle).After(1);

            BypassNatException failure = Assert.Throws<BypassNatException>(() => Apply(router, new[] { Web }));

            Assert.Equal("BypassNat.VerificationFailed", failure.ErrorId);
            Assert.Contains("are applied, but the exemption of their replies from the proxy read back wrong: ", failure.Message);
            Assert.Equal("web", Names(router.LiveForwards));
        }

        [Fact]
        public void RemovingEverythingTakesTheExemptionOutAndLeavesTheProxy()
        {
            FakeRouter router = ClashRouter();
            Apply(router, new[] { Web, Game });

            Assert.Equal("game,web", Names(RemoveAll(router)));

            Assert.Empty(router.LiveForwards);
            Assert.DoesNotContain(ProxyExemption.Chain, router.Mangle.Save());
            Assert.Contains("-A PREROUTING -j CLASH_TPROXY", router.Mangle.Save());
        }

        [Fact]
        public void ARefusedRemovalOfTheExemptionSaysTheForwardsAreGoneAndItIsNot()
        {
            FakeRouter router = ClashRouter();
            Apply(router, new[] { Web });
            router.Faults[RouterStep.ProxyLoad] = Fault.Refuse("iptables-restore: line 2 failed", 3);

            BypassNatException failure = Assert.Throws<BypassNatException>(() => RemoveAll(router));

            Assert.Contains("the forwards are removed, the exemption is not", failure.Message);
            Assert.Empty(router.LiveForwards);
            Assert.NotEmpty(Exemption(router));
        }
    }
}
